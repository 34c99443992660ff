"""Tools: train the hybrid model, impute profiles, baselines, evaluation."""

from ._baselines import impute_neighbors
from ._evaluate import evaluate
from ._metrics import regression_metrics
from ._train import impute_expression, train

__all__ = ["evaluate", "impute_expression", "impute_neighbors", "regression_metrics", "train"]

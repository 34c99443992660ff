"""Tools: train the hybrid model, impute profiles, baselines, evaluation."""

from .._core.metrics import regression_metrics
from ._attribution import attribute_promoters
from ._baselines import impute_neighbors
from ._donors import impute_donors
from ._evaluate import evaluate
from ._impute import impute_expression
from ._predict import predict_profiles
from ._regulators import impute_from_regulators, regulator_attribution, train_regulators
from ._samples import impute_samples
from ._train import train
from ._tune import tune

__all__ = [
    "attribute_promoters",
    "evaluate",
    "impute_donors",
    "impute_expression",
    "impute_from_regulators",
    "impute_neighbors",
    "impute_samples",
    "predict_profiles",
    "regression_metrics",
    "regulator_attribution",
    "train",
    "train_regulators",
    "tune",
]

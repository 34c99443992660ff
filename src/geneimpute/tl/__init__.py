"""Tools: train the hybrid model, impute profiles, baselines, evaluation.

``tune`` (and optuna with it) is imported on first access, so ``import geneimpute.tl`` does not
load optuna.
"""

from typing import Any

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


def __getattr__(name: str) -> Any:
    if name == "tune":
        from ._tune import tune

        return tune
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(__all__)

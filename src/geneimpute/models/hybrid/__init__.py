"""The hybrid: promoter CNN + neighbour transformer + tissue correlations + XGBoost."""

from ._config import FEATURES, HybridConfig, ModelSetup
from ._estimator import HybridImputer
from ._features import GeneInputs

__all__ = ["FEATURES", "GeneInputs", "HybridConfig", "HybridImputer", "ModelSetup"]

"""Regulator-driven imputation (the DeepSF design with a context ridge)."""

from ._context import ContextRidge
from ._estimator import RegulatorConfig, RegulatorImputer, RegulatorSetup

__all__ = ["ContextRidge", "RegulatorConfig", "RegulatorImputer", "RegulatorSetup"]

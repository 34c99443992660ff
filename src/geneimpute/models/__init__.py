"""Models on arrays (no AnnData), one subpackage per family: hybrid, donor, regulators.

The torch modules and the donor models load on first access (torch is imported only then).
"""

from __future__ import annotations

import importlib
from typing import Any

from .._core.neighbors import idw_profiles, idw_weights
from ._conditioning import ObservedTissueConditioner
from ._conformal import TissueConformal
from ._persistence import DamagedModelError
from ._pretrained import list_pretrained, pretrained, pretrained_card
from .hybrid._config import COMPONENTS, FEATURES, HybridConfig, ModelSetup
from .hybrid._estimator import HybridImputer
from .hybrid._features import GeneInputs
from .regulators._context import ContextRidge
from .regulators._estimator import RegulatorConfig, RegulatorImputer, RegulatorSetup

#: Module of each name loaded on first access.
_LAZY = {
    name: module
    for module, names in {
        ".hybrid._networks": ("HybridNet", "NetworkEnsemble", "NeighborTransformer", "PromoterCNN"),
        ".regulators._networks": ("RegulatorNet", "SampleAutoencoder"),
        ".donor._models": ("DonorHybrid", "DonorTransformer", "KNNDonor", "TEEBoT", "TissueMean"),
    }.items()
    for name in names
}

__all__ = [
    "COMPONENTS",
    "FEATURES",
    "ContextRidge",
    "DamagedModelError",
    "GeneInputs",
    "HybridConfig",
    "HybridImputer",
    "ModelSetup",
    "ObservedTissueConditioner",
    "RegulatorConfig",
    "RegulatorImputer",
    "RegulatorSetup",
    "TissueConformal",
    "idw_profiles",
    "idw_weights",
    "list_pretrained",
    "pretrained",
    "pretrained_card",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(__all__)

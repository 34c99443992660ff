"""Models on arrays (no AnnData), one subpackage per family.

- :mod:`~geneimpute.models.hybrid`: the hybrid (promoter CNN, neighbour transformer, tissue
  correlations, XGBoost; :class:`HybridImputer`, :class:`HybridConfig`, :class:`HybridNet`);
- :mod:`~geneimpute.models.donor`: donor x tissue completion (:class:`DonorHybrid` and
  baselines);
- :mod:`~geneimpute.models.regulators`: regulator-driven imputation (:class:`RegulatorImputer`).

Every family saves and loads through one persistence module (a versioned ``config.json``,
torch ``state_dict`` files, XGBoost UBJ, ``.npz``; no pickle). torch is imported only when a
network is built, fitted or loaded: the classes that are torch modules (and the donor models)
are loaded on first access.
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

_LAZY = {
    "HybridNet": ".hybrid._networks",
    "NetworkEnsemble": ".hybrid._networks",
    "NeighborTransformer": ".hybrid._networks",
    "PromoterCNN": ".hybrid._networks",
    "RegulatorNet": ".regulators._networks",
    "SampleAutoencoder": ".regulators._networks",
    "DonorHybrid": ".donor._models",
    "DonorTransformer": ".donor._models",
    "KNNDonor": ".donor._models",
    "TEEBoT": ".donor._models",
    "TissueMean": ".donor._models",
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

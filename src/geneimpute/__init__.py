"""geneimpute: impute genotype-tissue specific gene expression (scverse plugin).

A hybrid of a promoter CNN, a transformer over genomic neighbour genes, tissue correlations
and an XGBoost regressor (Brown, Dong & Truong, Communications Biology 2026,
doi:10.1038/s42003-026-10251-7).

``import geneimpute`` stays light: the subpackages (``pp``, ``tl``, ``pl``, ``models``,
``datasets``) load on first access, and torch, xgboost, captum and matplotlib.pyplot are
imported by the functions that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from ._logging import DataWarning
from ._settings import settings

_SUBMODULES = ("datasets", "models", "pl", "pp", "tl")
__all__ = ["DataWarning", "datasets", "models", "pl", "pp", "settings", "tl", "__version__"]

if TYPE_CHECKING:
    from . import datasets, models, pl, pp, tl


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    msg = f"module 'geneimpute' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(__all__)

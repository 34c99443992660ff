"""geneimpute: impute genotype-tissue specific gene expression (scverse plugin).

A hybrid of a promoter CNN, a transformer over genomic neighbour genes, tissue correlations
and an XGBoost regressor (Brown, Dong & Truong, Communications Biology 2026).

``import geneimpute`` stays light: torch, xgboost, captum and matplotlib.pyplot are imported by
the functions that need them.
"""

__version__ = "0.1.0"

from . import datasets, models, pl, pp, tl
from ._logging import DataWarning
from ._settings import settings

__all__ = ["DataWarning", "datasets", "models", "pl", "pp", "tl", "settings", "__version__"]

"""Plotting (matplotlib): accuracy, profiles, tissue correlations, distance effect, promoters.

``pl`` only draws: it reads what ``pp`` and ``tl`` wrote (neighbours, correlations, imputed
layers and their units, attributions) and computes nothing they own. Every function takes
``show`` and ``save`` and returns its Axes or Figure unless shown. ``matplotlib.pyplot`` is
imported on the first plot, not with the package.
"""

from ._correlation import tissue_correlation
from ._imputation import gene_profile, imputed_vs_observed, tissue_accuracy
from ._neighbors import distance_similarity
from ._promoters import promoter_attribution
from ._regulators import regulator_heatmap
from ._uncertainty import calibration

__all__ = [
    "calibration",
    "distance_similarity",
    "gene_profile",
    "imputed_vs_observed",
    "promoter_attribution",
    "regulator_heatmap",
    "tissue_accuracy",
    "tissue_correlation",
]

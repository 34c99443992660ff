"""Plotting (matplotlib): draws what ``pp`` and ``tl`` wrote; returns Axes or Figure, or None."""

from ._heatmaps import regulator_heatmap, tissue_correlation
from ._imputation import calibration, gene_profile, imputed_vs_observed, tissue_accuracy
from ._neighbors import distance_similarity
from ._promoters import promoter_attribution

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

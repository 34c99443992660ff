"""Plotting (matplotlib): accuracy, profiles, tissue correlations, distance effect, promoters."""

from ._plots import (
    distance_similarity,
    gene_profile,
    imputed_vs_observed,
    promoter_attribution,
    tissue_accuracy,
    tissue_correlation,
)

__all__ = [
    "distance_similarity",
    "gene_profile",
    "imputed_vs_observed",
    "promoter_attribution",
    "tissue_accuracy",
    "tissue_correlation",
]

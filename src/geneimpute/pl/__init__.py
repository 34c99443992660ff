"""Plotting (matplotlib): observed vs imputed, per-tissue accuracy, tissue correlations."""

from ._plots import imputed_vs_observed, tissue_accuracy, tissue_correlation

__all__ = ["imputed_vs_observed", "tissue_accuracy", "tissue_correlation"]

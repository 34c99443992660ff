"""Bundled real datasets."""

from ._gtex import gtex_donors, gtex_tissues
from ._regulators import gtex_tf_samples, tcga_cohorts

__all__ = ["gtex_donors", "gtex_tf_samples", "gtex_tissues", "tcga_cohorts"]

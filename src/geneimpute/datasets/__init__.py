"""Bundled real datasets."""

from ._gtex import gtex_donors, gtex_tissues

__all__ = ["gtex_donors", "gtex_tissues"]

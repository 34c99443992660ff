"""Bundled real datasets."""

from ._gtex import gtex_tissues

__all__ = ["gtex_tissues"]

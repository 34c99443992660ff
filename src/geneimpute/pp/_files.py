"""Opening the files the readers read: existence, gzip/BGZF, Ensembl IDs."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd


def existing_file(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        msg = f"file not found: {p}"
        raise FileNotFoundError(msg)
    return p


def is_gzip(p: Path) -> bool:
    with open(p, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def is_bgzip(p: Path) -> bool:
    """Whether ``p`` is BGZF (``bgzip``): gzip with the ``BC`` extra subfield."""
    with open(p, "rb") as fh:
        head = fh.read(14)
    return head[:2] == b"\x1f\x8b" and head[12:14] == b"BC" and bool(head[3] & 4)  # FEXTRA flag


def open_text(p: Path):
    """Open a plain or gzip-compressed text file for reading."""
    return gzip.open(p, "rt") if is_gzip(p) else open(p)  # noqa: SIM115


def few(items, n: int = 5) -> list:
    return [str(x) for x in list(items)[:n]]


def strip_version(ids: pd.Index | pd.Series) -> pd.Index:
    """Drop Ensembl version suffixes: ``ENSG00000117118.9`` -> ``ENSG00000117118``."""
    return pd.Index(pd.Series(ids, dtype=str).str.split(".").str[0])

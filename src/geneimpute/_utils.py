"""Validation and small helpers shared by ``pp`` and ``tl``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

COORD_COLUMNS = ("chrom", "start", "end", "strand")


def normalize_chrom(names: pd.Series | Sequence[str]) -> pd.Series:
    """Return chromosome names with a ``chr`` prefix (``1`` -> ``chr1``, ``MT`` -> ``chrM``)."""
    s = pd.Series(names, dtype="string").str.strip()
    s = s.where(s.str.startswith("chr"), "chr" + s)
    return s.replace({"chrMT": "chrM"}).astype(str)


def check_unique_var_names(adata: AnnData) -> None:
    """Raise if gene IDs (``adata.var_names``) are duplicated."""
    dup = adata.var_names[adata.var_names.duplicated()]
    if len(dup):
        msg = (
            f"adata.var_names has {len(dup)} duplicated gene IDs (e.g. {list(dup[:3])}); "
            "make them unique first, e.g. adata.var_names_make_unique()"
        )
        raise ValueError(msg)


def check_coordinates(var: pd.DataFrame, *, require_tss: bool = False) -> None:
    """Raise a clear error if gene coordinates are missing or malformed."""
    missing = [c for c in COORD_COLUMNS if c not in var.columns]
    if missing:
        msg = (
            f"adata.var lacks gene coordinate column(s) {missing}; add them with "
            "geneimpute.pp.annotate_genes(adata, annotation) (columns chrom, start, end, strand)"
        )
        raise KeyError(msg)
    bad = var[list(COORD_COLUMNS)].isna().any(axis=1)
    if require_tss and "tss" in var.columns:
        bad |= var["tss"].isna()
    if bad.any():
        names = list(var.index[bad][:5])
        msg = (
            f"{int(bad.sum())} genes have no coordinates (NaN in chrom/start/end/strand), "
            f"e.g. {names}; annotate them or subset them out"
        )
        raise ValueError(msg)
    strands = set(pd.unique(var["strand"].astype(str)))
    if not strands <= {"+", "-"}:
        msg = f"adata.var['strand'] must be '+' or '-', found {sorted(strands - {'+', '-'})}"
        raise ValueError(msg)


def tss_of(var: pd.DataFrame) -> np.ndarray:
    """TSS per gene in bp (0-based): ``var['tss']`` if present, else start/end by strand."""
    if "tss" in var.columns and not var["tss"].isna().any():
        return var["tss"].to_numpy(dtype=np.int64)
    plus = var["strand"].astype(str).to_numpy() == "+"
    return np.where(plus, var["start"].to_numpy(np.int64), var["end"].to_numpy(np.int64) - 1)


def expression_source(adata: AnnData, layer: str | None):
    """``X`` or ``layers[layer]`` as stored (dense or sparse, no copy), with clear errors."""
    if layer is None:
        X = adata.X
    else:
        if layer not in adata.layers:
            msg = f"layer {layer!r} not in adata.layers (available: {list(adata.layers)})"
            raise KeyError(msg)
        X = adata.layers[layer]
    if X is None:
        msg = "adata.X is None; pass layer= naming the expression layer"
        raise ValueError(msg)
    return X


def dense_rows(X, rows: np.ndarray) -> np.ndarray:
    """Dense float32 copy of rows ``rows`` of a dense or sparse matrix, ``(len(rows), n_vars)``.

    ``X[rows]`` with an index array already copies, so the block is only converted, not copied
    again.
    """
    block = X[rows]
    block = block.toarray() if sparse.issparse(block) else block
    return np.asarray(block, dtype=np.float32)


def get_expression(adata: AnnData, layer: str | None) -> np.ndarray:
    """Dense float64 copy of ``X`` or a layer, shape ``(n_obs, n_vars)``."""
    X = expression_source(adata, layer)
    X = X.toarray() if sparse.issparse(X) else np.asarray(X)
    return np.array(X, dtype=np.float64)


def to_log1p(X: np.ndarray, log1p: bool) -> np.ndarray:
    """``log1p(X)`` if ``X`` is in TPM (``log1p=False`` means it already is log1p TPM)."""
    if not log1p:
        return X
    finite = X[np.isfinite(X)]
    if finite.size and finite.min() < 0:
        msg = (
            "expression has negative values, so it is not TPM; pass is_log1p=True if it is "
            "already log1p(TPM)"
        )
        raise ValueError(msg)
    return np.log1p(X)


def gene_mask(
    adata: AnnData, mask: str | Sequence[bool] | np.ndarray | None, default: np.ndarray, name: str
) -> np.ndarray:
    """Resolve a boolean gene mask from a ``var`` column name, an array, or a default."""
    if mask is None:
        return np.asarray(default, dtype=bool)
    if isinstance(mask, str):
        if mask not in adata.var.columns:
            msg = f"{name}={mask!r} is not a column of adata.var"
            raise KeyError(msg)
        col = adata.var[mask]
        if col.dtype != bool:
            msg = f"adata.var[{mask!r}] must be boolean, got dtype {col.dtype}"
            raise TypeError(msg)
        return col.to_numpy(dtype=bool)
    arr = np.asarray(mask)
    if arr.dtype != bool or arr.shape != (adata.n_vars,):
        msg = (
            f"{name} must be a boolean array of shape ({adata.n_vars},), "
            f"got {arr.dtype} {arr.shape}"
        )
        raise ValueError(msg)
    return arr


def tissue_frame(C: np.ndarray, tissues: Sequence[str]) -> pd.DataFrame:
    """Tissue x tissue DataFrame with unnamed axes (so it round-trips through ``.h5ad``)."""
    names = [str(t) for t in tissues]
    return pd.DataFrame(np.asarray(C, dtype=np.float64), index=names, columns=names)

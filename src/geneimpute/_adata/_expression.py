"""Reading expression from an AnnData: its matrix, units and gene / sample labels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .._dask import as_dense


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
    """Dense float32 copy of rows ``rows`` of a dense/sparse/dask matrix (a dask one computed)."""
    block = X[rows]
    return as_dense(block.compute() if hasattr(block, "compute") else block)


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


def gene_set(
    adata: AnnData,
    genes: str | Sequence[str] | Sequence[bool] | np.ndarray | None,
    default: np.ndarray,
    name: str,
) -> np.ndarray:
    """Boolean mask from None (``default``), a ``var`` column, a bool mask or gene names."""
    if genes is None:
        return default
    if isinstance(genes, str):
        if genes not in adata.var.columns:
            msg = f"{name}={genes!r} is not a column of adata.var (pass a list of gene names)"
            raise KeyError(msg)
        return adata.var[genes].to_numpy(dtype=bool)
    arr = np.asarray(genes)
    if arr.dtype == bool:
        if arr.shape != (adata.n_vars,):
            msg = f"{name} must be a boolean mask of shape ({adata.n_vars},), got {arr.shape}"
            raise ValueError(msg)
        return arr
    names = [str(g) for g in arr]
    missing = [g for g in names if g not in adata.var_names]
    if missing:
        msg = f"{len(missing)} {name} are not in adata.var_names: {missing[:5]}"
        raise KeyError(msg)
    return adata.var_names.isin(names)


def sample_tissues(sdata: AnnData, tissue_key: str) -> pd.Categorical:
    """Return the tissue label of every sample; raise if the column is missing or has gaps."""
    if tissue_key not in sdata.obs.columns:
        msg = (
            f"adata.obs has no tissue column {tissue_key!r} (columns: {list(sdata.obs.columns)}); "
            "add one, e.g. with geneimpute.pp.label_samples"
        )
        raise KeyError(msg)
    labels = sdata.obs[tissue_key]
    if labels.isna().any():
        names = list(sdata.obs_names[labels.isna().to_numpy()][:3])
        msg = (
            f"{int(labels.isna().sum())} samples have no tissue in obs[{tissue_key!r}] "
            f"(e.g. {names}); subset them out first"
        )
        raise ValueError(msg)
    return pd.Categorical(labels.astype(str))

"""Writing imputation results into an AnnData: values, masks, intervals, reliability."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from anndata import AnnData

from .._adata import ExpressionTask, read_tissue_correlation, tissue_frame

if TYPE_CHECKING:
    from ..models import HybridImputer


def check_interval(interval: float | None) -> None:
    """Raise ``ValueError`` unless ``interval`` is None or a confidence strictly in (0, 1)."""
    if interval is not None and not (
        isinstance(interval, float | int) and not isinstance(interval, bool) and 0 < interval < 1
    ):
        msg = f"interval must be a confidence in (0, 1) such as 0.9, or None; got {interval!r}"
        raise ValueError(msg)


def write_imputed(
    adata: AnnData,
    task: ExpressionTask,
    pred_log1p: np.ndarray,
    *,
    key_added: str,
    overwrite: bool,
) -> int:
    """Write ``layers[key_added]`` and ``layers[f"{key_added}_mask"]``; return #values filled.

    Observed values (of ``task.layer``) are copied unchanged (bit-identical); for target
    genes, missing entries (or every entry with ``overwrite``) receive the prediction, in the
    input's units (``task.is_log1p``).
    """
    is_log1p = task.is_log1p
    src = adata.X if task.layer is None else adata.layers[task.layer]
    src = src.toarray() if hasattr(src, "toarray") else np.asarray(src)
    dtype = src.dtype if np.issubdtype(src.dtype, np.floating) else np.float32
    out = np.array(src, dtype=dtype, copy=True)
    rows = np.flatnonzero(task.target)
    values = pred_log1p.T if is_log1p else np.expm1(np.clip(pred_log1p, 0, None)).T
    fill = np.zeros(out.shape, dtype=bool)
    block = out[:, rows]
    sel = np.ones(block.shape, bool) if overwrite else ~np.isfinite(block)
    sel &= np.isfinite(values)
    block[sel] = values[sel].astype(dtype)
    out[:, rows] = block
    fill[:, rows] = sel
    adata.layers[key_added] = out
    adata.layers[f"{key_added}_mask"] = fill
    return int(fill.sum())


def interval_layers(
    lower: np.ndarray, upper: np.ndarray, order: np.ndarray, n_obs: int, is_log1p: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``(n_rows, n_obs)`` bounds in the data's tissue order and units (NaN off the model)."""
    out = []
    for b in (lower, upper):
        full = np.full((len(b), n_obs), np.nan)
        full[:, order] = b if is_log1p else np.expm1(np.clip(b, 0, None))
        out.append(full)
    return out[0], out[1]


def gene_reliability(
    pred: np.ndarray, lower: np.ndarray, upper: np.ndarray, tissue_mean: np.ndarray
) -> np.ndarray:
    """Per gene: sd over tissues of the tissue-centred prediction / mean interval half-width."""
    pattern = np.std(pred - tissue_mean, axis=1)
    half = np.mean((upper - lower) / 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(half > 0, pattern / half, np.nan)


def write_intervals(
    adata: AnnData,
    key_added: str,
    rows: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray],
    reliability: np.ndarray,
) -> None:
    """Write ``layers[f"{key}_lower|_upper"]`` (imputed entries only) and the reliability."""
    mask = np.asarray(adata.layers[f"{key_added}_mask"])
    dtype = adata.layers[key_added].dtype
    for name, b in zip(("lower", "upper"), bounds, strict=True):
        full = np.full(adata.shape, np.nan, dtype=dtype)
        full[:, rows] = b.T
        full[~mask] = np.nan
        adata.layers[f"{key_added}_{name}"] = full
    rel = np.full(adata.n_vars, np.nan)
    rel[rows] = reliability
    adata.var[f"{key_added}_reliability"] = rel


def model_correlation_entry(
    adata: AnnData, key: str | None, model: HybridImputer, source: str
) -> dict | None:
    """Build the ``uns[key]`` entry an imputer writes when ``key`` holds no tissue correlation.

    The model's tissue x tissue correlation in :func:`~geneimpute.pp.tissue_correlation`'s
    format, ``{"correlation": DataFrame, "params": {"source": source}}``; None when ``key``
    is None or already holds a correlation (a user's key is never overwritten). Call it
    before the first write.
    """
    if key is None or read_tissue_correlation(adata, key) is not None:
        return None
    return {
        "correlation": tissue_frame(model.tissue_correlation_, model.tissues_),
        "params": {"source": source},
    }

"""Tissue level: per-tissue medians of samples, tissue x tissue correlation of log1p expression."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .._adata import (
    check_expression,
    check_key,
    expression_source,
    gene_mask,
    get_expression,
    sample_tissues,
    tissue_frame,
    to_log1p,
)
from .._core.correlation import correlation_matrix
from .._dask import column_pass, is_dask
from .._docs import doc_params
from .._logging import warn_data


@doc_params("layer")
def tissue_medians(
    adata: AnnData,
    tissue_key: str = "tissue",
    *,
    layer: str | None = None,
    min_samples: int = 1,
    key_added: str = "tissue_medians",
) -> AnnData:
    """Median expression of every gene in every tissue, ignoring NaN (GTEx's median TPM table).

    One tissue at a time (never copying the matrix); a dask ``X`` is read once, by columns.

    Parameters
    ----------
    adata
        Samples x genes, ``X`` (or ``layer``) in any unit (TPM); NaN = not measured.
    tissue_key
        ``obs`` column with each sample's tissue.
    {layer}
    min_samples
        Tissues with fewer samples are left out (in a :class:`~geneimpute.DataWarning`).
    key_added
        ``uns`` key of the returned AnnData that holds the parameters.

    Returns
    -------
    A new tissues x genes AnnData: ``X`` float32 medians (NaN where unmeasured),
    ``obs["n_samples"]``, ``var`` copied, ``uns[key_added]["params"]`` (``tissue_key``,
    ``layer``, ``n_samples``, ``min_samples``, ``dropped_tissues``).

    Raises
    ------
    KeyError
        If ``tissue_key`` or ``layer`` is missing.
    ValueError
        If a sample has no tissue, ``X`` is None, or no tissue has ``min_samples >= 1`` samples.

    Examples
    --------
    >>> tdata = ge.pp.tissue_medians(sdata, "tissue", min_samples=5)  # doctest: +SKIP
    """
    key_added = check_key(key_added)
    if min_samples < 1:
        msg = f"min_samples must be >= 1, got {min_samples}"
        raise ValueError(msg)
    tissues = sample_tissues(adata, tissue_key)
    X = expression_source(adata, layer)
    counts = pd.Series(tissues).value_counts().reindex(tissues.categories)
    keep = [t for t in tissues.categories if counts[t] >= min_samples]
    dropped = [t for t in tissues.categories if counts[t] < min_samples]
    if not keep:
        msg = (
            f"no tissue has at least min_samples={min_samples} samples (largest: "
            f"{int(counts.max()) if len(counts) else 0})"
        )
        raise ValueError(msg)
    if dropped:
        warn_data(
            f"tissue_medians: {len(dropped)} of {len(counts)} tissues have fewer than "
            f"min_samples={min_samples} samples and are left out: {dropped[:5]}"
            + (" ..." if len(dropped) > 5 else "")
        )
    codes = np.asarray(tissues.codes)
    if is_dask(X):
        group = np.full(len(tissues.categories), -1)
        group[[tissues.categories.get_loc(t) for t in keep]] = np.arange(len(keep))
        out = column_pass(X, group[codes], len(keep))[0]
    else:
        groups = [np.flatnonzero(codes == tissues.categories.get_loc(t)) for t in keep]
        out = reduce_groups(X, groups, np.nanmedian)
    obs = pd.DataFrame({"n_samples": counts[keep].to_numpy()}, index=pd.Index(keep))
    tdata = AnnData(X=out, obs=obs, var=adata.var.copy())
    params: dict[str, Any] = dict(tissue_key=tissue_key, layer=layer, n_samples=int(adata.n_obs))
    params.update(min_samples=int(min_samples), dropped_tissues=[str(t) for t in dropped])
    tdata.uns[key_added] = {"params": params}
    return tdata


def reduce_groups(X, groups: list[np.ndarray], reduce, *, dtype=np.float32, work=np.float32):
    """``reduce(rows, axis=0)`` per group of rows of ``X`` densified as ``work``; all-NaN: NaN."""
    out = np.empty((len(groups), X.shape[1]), dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN genes -> NaN
        for i, rows in enumerate(groups):
            block = X[rows]
            block = block.toarray() if sparse.issparse(block) else block
            out[i] = reduce(np.asarray(block, dtype=work), axis=0)
    return out


@doc_params("layer", "is_log1p")
def tissue_correlation(
    adata: AnnData,
    genes: str | Sequence[bool] | np.ndarray | None = None,
    *,
    layer: str | None = None,
    is_log1p: bool = False,
    key_added: str = "tissue_correlation",
    inplace: bool = True,
) -> pd.DataFrame | None:
    """Pearson correlation between tissues of log1p(TPM) over reference genes.

    The hybrid model shares signal between related tissues through it (Brown, Dong & Truong,
    Communications Biology 2026, doi:10.1038/s42003-026-10251-7).

    Parameters
    ----------
    adata
        Tissues x genes (``obs`` = tissues), TPM in ``X`` or ``layer``.
    genes
        Boolean mask or ``var`` column of reference genes; default: those without NaN.
    {layer}
    {is_log1p}
    key_added
        ``uns`` key.
    inplace
        If False, return the matrix and leave ``adata`` untouched.

    Returns
    -------
    ``None``, or the tissue x tissue :class:`pandas.DataFrame` with ``inplace=False``.
    Writes ``adata.uns[key_added]``: ``"correlation"`` (that DataFrame) and ``"params"``
    (``n_genes``, ``is_log1p``, ``layer``).

    Raises
    ------
    ValueError
        If the selected genes contain NaN, values are infinite or negative, or fewer than 3
        genes are selected.
    """
    key_added = check_key(key_added)
    X = get_expression(adata, layer)
    check_expression(X, is_log1p=is_log1p, names=(adata.obs_names, adata.var_names))
    Y = to_log1p(X, not is_log1p).T
    complete = np.isfinite(Y).all(axis=1)
    mask = gene_mask(adata, genes, complete, "genes")
    if mask.sum() < 3:
        msg = f"tissue_correlation needs at least 3 reference genes, got {int(mask.sum())}"
        raise ValueError(msg)
    if not np.isfinite(Y[mask]).all():
        bad = adata.var_names[mask & ~complete]
        msg = f"{len(bad)} selected genes have NaN expression, e.g. {list(bad[:3])}"
        raise ValueError(msg)
    C = tissue_frame(correlation_matrix(Y[mask]), adata.obs_names)
    if not inplace:
        return C
    params = {"n_genes": int(mask.sum()), "is_log1p": bool(is_log1p), "layer": layer or "X"}
    adata.uns[key_added] = {"correlation": C, "params": params}
    return None

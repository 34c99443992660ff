"""Tissue x tissue correlation of log1p expression over reference genes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .._core.correlation import correlation_matrix
from .._utils import check_expression, gene_mask, get_expression, tissue_frame, to_log1p


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

    Related tissues (brain regions, the two skins, GI tract) have correlated profiles; the
    hybrid model uses this matrix to share signal between them (Brown, Dong & Truong,
    Communications Biology 2026, doi:10.1038/s42003-026-10251-7).
    :func:`~geneimpute.tl.train` and :func:`~geneimpute.tl.impute_expression` read it through
    ``tissue_correlation_key``, :func:`~geneimpute.pl.tissue_correlation` through ``key``.

    Parameters
    ----------
    adata
        Tissues x genes (``obs`` = tissues), TPM in ``X`` or ``layer``.
    genes
        Boolean mask or ``var`` column of reference genes; default: every gene whose profile is
        fully observed (no NaN).
    layer
        Layer with expression instead of ``X``.
    is_log1p
        Set if the values are already log1p(TPM).
    key_added
        ``uns`` key.
    inplace
        If False, return the matrix and leave ``adata`` untouched.

    Returns
    -------
    ``None``, or the tissue x tissue :class:`pandas.DataFrame` with ``inplace=False``.
    Writes ``adata.uns[key_added]``, a dict with ``"correlation"`` (the tissue x tissue
    DataFrame, float64, diagonal 1) and ``"params"`` (``n_genes``, ``is_log1p``, ``layer``).

    Raises
    ------
    ValueError
        If the selected genes contain NaN, values are infinite or negative, or fewer than 3
        genes are selected.
    """
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
    adata.uns[key_added] = {
        "correlation": C,
        "params": {"n_genes": int(mask.sum()), "is_log1p": bool(is_log1p), "layer": layer or "X"},
    }
    return None

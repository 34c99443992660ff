"""Tissue x tissue correlation of log1p expression over reference genes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .._utils import gene_mask, get_expression, tissue_frame, to_log1p


def correlation_matrix(Y: np.ndarray) -> np.ndarray:
    """Pearson correlation between the columns (tissues) of ``Y`` ``(n_genes, n_tissues)``."""
    Z = Y - Y.mean(axis=0)
    sd = np.sqrt((Z**2).sum(axis=0))
    sd[sd == 0] = np.inf
    C = (Z.T @ Z) / np.outer(sd, sd)
    np.fill_diagonal(C, 1.0)
    return C


def tissue_correlation(
    adata: AnnData,
    genes: str | Sequence[bool] | np.ndarray | None = None,
    *,
    layer: str | None = None,
    is_log1p: bool = False,
    key_added: str = "tissue_correlation",
    inplace: bool = True,
    copy: bool = False,
) -> AnnData | pd.DataFrame | None:
    """Pearson correlation between tissues of log1p(TPM) over reference genes.

    Related tissues (brain regions, the two skins, GI tract) have correlated profiles; the
    hybrid model uses this matrix to share signal between them (Brown, Dong & Truong 2026).

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
    copy
        Return a modified copy instead of writing in place.

    Returns
    -------
    Writes ``adata.uns[key_added]``: tissue x tissue :class:`pandas.DataFrame` (float64,
    diagonal 1), and ``adata.uns[f"{key_added}_params"]``.

    Raises
    ------
    ValueError
        If the selected genes contain NaN, or fewer than 3 genes are selected.
    """
    Y = to_log1p(get_expression(adata, layer), not is_log1p).T
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
    adata = adata.copy() if copy else adata
    adata.uns[key_added] = C
    adata.uns[f"{key_added}_params"] = {"n_genes": int(mask.sum()), "is_log1p": bool(is_log1p)}
    return adata if copy else None

"""Heatmap of the tissue x tissue correlation stored by ``pp.tissue_correlation`` (or a user)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._anndata import read_tissue_correlation
from ._utils import doc_params, finish, pyplot

if TYPE_CHECKING:
    from pathlib import Path

    from anndata import AnnData
    from matplotlib.figure import Figure


@doc_params("show_save")
def tissue_correlation(
    adata: AnnData,
    *,
    key: str = "tissue_correlation",
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Clustered heatmap of the tissue x tissue correlation in ``adata.uns[key]``.

    Tissues are ordered by average-linkage hierarchical clustering on ``1 - r`` (only the
    order is computed here; the correlations are read as stored).

    Parameters
    ----------
    adata
        With ``uns[key]``: the output of :func:`~geneimpute.pp.tissue_correlation` (a dict
        with ``"correlation"``, Pearson r of log1p(TPM)) or a user's tissue x tissue
        :class:`pandas.DataFrame`.
    key
        ``uns`` key of the correlation.
    {show_save}

    Returns
    -------
    The Figure, or None when shown.

    Raises
    ------
    KeyError
        If ``adata.uns[key]`` is missing.
    TypeError
        If ``adata.uns[key]`` is neither pp output nor a DataFrame.
    ValueError
        If the correlation is not square, its rows and columns name different tissues, or it
        has NaN or infinite values.

    Examples
    --------
    >>> ge.pp.tissue_correlation(adata)
    >>> ge.pl.tissue_correlation(adata)
    """
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    C = read_tissue_correlation(adata, key)
    if C is None:
        msg = f"adata.uns has no {key!r}; run ge.pp.tissue_correlation(adata) first"
        raise KeyError(msg)
    values = C.to_numpy(dtype=float)
    if values.ndim != 2 or values.shape[0] != values.shape[1] or not len(values):
        msg = f"adata.uns[{key!r}] must be a square tissue x tissue table, got {values.shape}"
        raise ValueError(msg)
    if not C.index.equals(C.columns):
        msg = f"adata.uns[{key!r}] has rows and columns naming different tissues"
        raise ValueError(msg)
    if not np.isfinite(values).all():
        msg = f"adata.uns[{key!r}] has {int((~np.isfinite(values)).sum())} NaN/infinite values"
        raise ValueError(msg)
    if len(C) > 1:
        dist = squareform(np.clip(1 - values, 0, None), checks=False)
        order = leaves_list(linkage(dist, "average"))
        C = C.iloc[order, order]
    n = len(C)
    fig, ax = pyplot().subplots(figsize=(0.22 * n + 2.5, 0.22 * n + 1.5))
    im = ax.imshow(C.to_numpy(dtype=float), cmap="viridis", vmin=float(values.min()), vmax=1)
    ax.set_xticks(range(n), C.columns, rotation=90, fontsize=7)
    ax.set_yticks(range(n), C.index, fontsize=7)
    from_pp = isinstance(adata.uns[key], dict) and "params" in adata.uns[key]
    fig.colorbar(im, ax=ax, label="Pearson r of log1p(TPM)" if from_pp else "r", shrink=0.7)
    return finish(fig, show=show, save=save)

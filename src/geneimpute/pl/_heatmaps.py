"""Heatmaps: tissue correlations (``pp.tissue_correlation``), regulator attributions (``tl``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._adata import read_tissue_correlation
from .._docs import doc_params
from ._utils import axes_or_new, finish, pyplot, uns_params

if TYPE_CHECKING:
    from pathlib import Path

    from anndata import AnnData
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


@doc_params("show_save")
def tissue_correlation(
    adata: AnnData,
    *,
    key: str = "tissue_correlation",
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Clustered heatmap (average linkage on ``1 - r``) of the correlation in ``uns[key]``.

    Parameters
    ----------
    adata
        With ``uns[key]``: :func:`~geneimpute.pp.tissue_correlation`'s output or a tissue x
        tissue :class:`pandas.DataFrame`.
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
        If the correlation is not square, names different rows and columns, or is not finite.

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
    if values.shape[0] != values.shape[1] or not len(values):
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


@doc_params("plot_axes")
def regulator_heatmap(
    adata: AnnData,
    *,
    key: str = "regulator_attribution",
    targets: Sequence[str] | None = None,
    n_regulators: int = 15,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Axes | None:
    """Heatmap of the signed attributions of the top regulators (rows) of the targets (columns).

    Parameters
    ----------
    adata
        With ``uns[key]["scores"]`` from :func:`~geneimpute.tl.regulator_attribution`.
    key
        ``uns`` key of the attribution.
    targets
        Target genes to show; None: up to 40 with the largest total absolute score.
    n_regulators
        Regulators (rows) shown.
    {plot_axes}

    Raises
    ------
    KeyError
        If ``adata.uns[key]`` holds no scores, or a target was not explained.
    ValueError
        If ``n_regulators < 1``, or every attribution shown is zero.

    Examples
    --------
    >>> ge.tl.regulator_attribution(adata, model, model.setup_.targets[:10])
    >>> ge.pl.regulator_heatmap(adata)
    """
    info = adata.uns.get(key)
    if not isinstance(info, dict) or not isinstance(info.get("scores"), pd.DataFrame):
        msg = f"adata.uns[{key!r}] has no attribution scores; run ge.tl.regulator_attribution"
        raise KeyError(msg)
    if isinstance(n_regulators, bool) or not isinstance(n_regulators, int) or n_regulators < 1:
        msg = f"n_regulators must be an integer >= 1, got {n_regulators!r}"
        raise ValueError(msg)
    S: pd.DataFrame = info["scores"]
    if targets is None:
        cols = S.abs().sum(axis=0).sort_values(ascending=False).index[:40]
    else:
        cols = pd.Index([str(t) for t in targets])
        if missing := [t for t in cols if t not in S.columns]:
            msg = f"targets {missing[:5]} were not explained in adata.uns[{key!r}]"
            raise KeyError(msg)
    sub = S[cols]
    if not sub.to_numpy(dtype=float).any():
        msg = (
            f"every attribution is zero in adata.uns[{key!r}]: nothing to draw (the model "
            "predicts these targets without the regulators; see regulator_attribution's warning)"
        )
        raise ValueError(msg)
    rows = sub.abs().mean(axis=1).sort_values(ascending=False).index[:n_regulators]
    M = sub.loc[rows].to_numpy(dtype=float)
    lim = float(np.abs(M).max()) or 1.0
    ax, own = axes_or_new(ax, (max(4.0, 0.35 * len(cols) + 2.5), max(3.0, 0.3 * len(rows) + 1.5)))
    im = ax.imshow(M, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(cols)), [str(c) for c in cols], rotation=90, fontsize=8)
    ax.set_yticks(range(len(rows)), [str(r) for r in rows], fontsize=8)
    method = uns_params(adata, key).get("method", "attribution")
    title = f"{method}: mean attribution (target sd per regulator sd)"
    ax.set(xlabel="target", ylabel="regulator", title=title)
    ax.figure.colorbar(im, ax=ax, shrink=0.8)
    return finish(ax, show=show, save=save, own_figure=own)

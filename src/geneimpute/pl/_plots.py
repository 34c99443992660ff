"""Matplotlib plots of imputation results. Each returns its Axes (or Figure)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes

from .._utils import get_expression


def _finish(ax: Axes, show: bool, save: str | Path | None) -> Axes | None:
    fig = ax.figure
    fig.tight_layout()
    if save is not None:
        fig.savefig(save, dpi=150, bbox_inches="tight")
    if show:
        plt.show()
        return None
    return ax


def imputed_vs_observed(
    adata: AnnData,
    truth: AnnData,
    tissue: str,
    *,
    key: str = "imputed",
    ax: Axes | None = None,
    show: bool = False,
    save: str | Path | None = None,
) -> Axes | None:
    """Scatter of true vs imputed log1p(TPM) of the imputed genes in one tissue.

    Parameters
    ----------
    adata
        With ``layers[key]`` and ``layers[f"{key}_mask"]``.
    truth
        Same shape, true TPM in ``X``.
    tissue
        An ``obs_name``.
    key
        Imputation layer.
    ax, show, save
        Axes to draw on; show the figure; save it to this path.

    Returns
    -------
    The Axes, unless ``show``.

    Raises
    ------
    KeyError
        If ``tissue`` or ``layers[key]`` is missing.
    """
    if tissue not in adata.obs_names:
        msg = f"tissue {tissue!r} not in adata.obs_names"
        raise KeyError(msg)
    if key not in adata.layers:
        msg = f"adata.layers has no {key!r}"
        raise KeyError(msg)
    i = adata.obs_names.get_loc(tissue)
    sel = np.asarray(adata.layers[f"{key}_mask"])[i]
    x = np.log1p(get_expression(truth, None)[i, sel])
    y = np.log1p(get_expression(adata, key)[i, sel])
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(x, y, s=4, alpha=0.4, color="tab:blue", rasterized=True)
    lim = [0, max(x.max(initial=1), y.max(initial=1))]
    ax.plot(lim, lim, color="grey", lw=0.8, ls="--")
    r = np.corrcoef(x, y)[0, 1] if sel.sum() > 2 else np.nan
    ax.set(
        xlabel="observed log1p(TPM)",
        ylabel="imputed log1p(TPM)",
        title=f"{tissue} (n={int(sel.sum())}, r={r:.2f})",
    )
    return _finish(ax, show, save)


def tissue_accuracy(
    scores: pd.DataFrame,
    *,
    ax: Axes | None = None,
    show: bool = False,
    save: str | Path | None = None,
) -> Axes | None:
    """Horizontal bars of per-tissue Pearson r, one colour per method.

    Parameters
    ----------
    scores
        Tissues x methods (e.g. ``{"hybrid": evaluate(..., per_tissue=True), "distance": ...}``).
    ax, show, save
        As :func:`imputed_vs_observed`.
    """
    scores = pd.DataFrame(scores).sort_values(scores.columns[0])
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.22 * len(scores) + 1.2))
    h = 0.8 / scores.shape[1]
    y = np.arange(len(scores))
    for j, col in enumerate(scores.columns):
        ax.barh(y + j * h, scores[col].to_numpy(), height=h, label=col)
    ax.set_yticks(y + h * (scores.shape[1] - 1) / 2, scores.index, fontsize=7)
    ax.set(xlabel="Pearson r across held-out genes", ylabel="tissue")
    ax.legend(loc="lower right", fontsize=8)
    return _finish(ax, show, save)


def tissue_correlation(
    adata: AnnData,
    *,
    key: str = "tissue_correlation",
    show: bool = False,
    save: str | Path | None = None,
):
    """Clustered heatmap of the tissue x tissue correlation in ``adata.uns[key]``.

    Returns
    -------
    The Figure, unless ``show``.

    Raises
    ------
    KeyError
        If ``adata.uns[key]`` is missing.
    """
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    if key not in adata.uns:
        msg = f"adata.uns has no {key!r}; run ge.pp.tissue_correlation first"
        raise KeyError(msg)
    C = pd.DataFrame(adata.uns[key])
    order = leaves_list(linkage(squareform(1 - C.to_numpy(), checks=False), "average"))
    C = C.iloc[order, order]
    fig, ax = plt.subplots(figsize=(0.22 * len(C) + 2.5, 0.22 * len(C) + 1.5))
    im = ax.imshow(C.to_numpy(), cmap="viridis", vmin=float(C.to_numpy().min()), vmax=1)
    ax.set_xticks(range(len(C)), C.columns, rotation=90, fontsize=7)
    ax.set_yticks(range(len(C)), C.index, fontsize=7)
    fig.colorbar(im, ax=ax, label="Pearson r of log1p(TPM)", shrink=0.7)
    _finish(ax, False, save)
    if show:
        plt.show()
        return None
    return fig

"""Matplotlib plots of imputation results. Each returns its Axes (or Figure)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes

from .._utils import get_expression


def _finish(obj, show: bool, save: str | Path | None):
    """Lay out, optionally save and show the figure of ``obj`` (Axes or Figure).

    Returns ``obj``, or None when shown (scanpy's convention).
    """
    fig = obj.figure if isinstance(obj, Axes) else obj
    fig.tight_layout()
    if save is not None:
        fig.savefig(save, dpi=150, bbox_inches="tight")
    if show:
        plt.show()
        return None
    return obj


def _imputed_layer(adata: AnnData, key: str) -> np.ndarray:
    """log1p of ``layers[key]`` (KeyError naming the layer if absent)."""
    if key not in adata.layers:
        msg = f"adata.layers has no {key!r}"
        raise KeyError(msg)
    return np.log1p(get_expression(adata, key))


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
    imputed = _imputed_layer(adata, key)
    i = adata.obs_names.get_loc(tissue)
    sel = np.asarray(adata.layers[f"{key}_mask"])[i]
    x = np.log1p(get_expression(truth, None)[i, sel])
    y = imputed[i, sel]
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
    return _finish(fig, show, save)


def gene_profile(
    adata: AnnData,
    gene: str,
    *,
    truth: AnnData | None = None,
    key: str = "imputed",
    ax: Axes | None = None,
    show: bool = False,
    save: str | Path | None = None,
) -> Axes | None:
    """Plot a gene's imputed (and, if given, true) log1p(TPM) across tissues.

    Parameters
    ----------
    adata
        With ``layers[key]`` and ``layers[f"{key}_mask"]``.
    gene
        A ``var_name`` (Ensembl ID) or a ``var['gene_name']`` symbol.
    truth
        Optional AnnData of the same shape with the true TPM in ``X``.
    key
        Imputation layer.
    ax, show, save
        As :func:`imputed_vs_observed`.

    Raises
    ------
    KeyError
        If ``gene`` or ``layers[key]`` is missing.
    """
    j = _gene_index(adata, gene)
    imp = _imputed_layer(adata, key)[:, j]
    mask = np.asarray(adata.layers.get(f"{key}_mask", np.zeros(adata.shape, bool)))[:, j]
    order = np.argsort(-imp)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 0.22 * adata.n_obs + 1), 3.5))
    x = np.arange(adata.n_obs)
    colors = np.where(mask[order], "tab:orange", "tab:blue")
    from matplotlib.patches import Patch

    ax.bar(x, imp[order], color=colors, width=0.8)
    handles = [
        Patch(color="tab:blue", label="observed"),
        Patch(color="tab:orange", label="imputed"),
    ]
    if truth is not None:
        tv = np.log1p(get_expression(truth, None)[:, j])
        (line,) = ax.plot(x, tv[order], "k_", ms=10, mew=2, label="true (held out)")
        handles.append(line)
    ax.set_xticks(x, adata.obs_names[order], rotation=90, fontsize=7)
    ax.set_xlim(-0.6, adata.n_obs - 0.4)
    name = adata.var["gene_name"].iloc[j] if "gene_name" in adata.var else adata.var_names[j]
    ax.set(ylabel="log1p(TPM)", title=f"{name} ({adata.var_names[j]})")
    ax.legend(handles=handles, fontsize=8, loc="upper right")
    return _finish(ax, show, save)


def _gene_index(adata: AnnData, gene: str) -> int:
    if gene in adata.var_names:
        return int(adata.var_names.get_loc(gene))
    if "gene_name" in adata.var.columns:
        hits = np.flatnonzero(adata.var["gene_name"].astype(str).to_numpy() == gene)
        if len(hits):
            return int(hits[0])
    msg = f"gene {gene!r} is neither a var_name nor a var['gene_name']"
    raise KeyError(msg)


def distance_similarity(
    adata: AnnData,
    *,
    layer: str | None = None,
    k: int = 10,
    bins_kb: tuple[float, ...] = (0, 10, 20, 40, 60, 100, 200, 500, 1000),
    random_state: int = 0,
    ax: Axes | None = None,
    show: bool = False,
    save: str | Path | None = None,
) -> Axes | None:
    """Expression similarity of neighbouring genes vs their intergene (TSS) distance.

    For each gene and its ``k`` nearest genes (same chromosome), the Pearson r of their
    log1p(TPM) tissue profiles is binned by TSS distance (kb) and the median per bin plotted
    with its interquartile range, next to randomly paired genes. Nearby genes (< ~20-60 kb)
    share tissue expression (Brown, Dong & Truong, PLoS One 19:e0307360, 2024).

    Parameters
    ----------
    adata
        Tissues x genes, TPM, with gene coordinates in ``var`` (no NaN in the genes used;
        genes with NaN are skipped).
    layer
        Expression layer instead of ``X``.
    k
        Neighbours per gene.
    bins_kb
        Distance bin edges in kb.
    random_state
        Seed of the random pairs.
    ax, show, save
        As :func:`imputed_vs_observed`.
    """
    from .._core.metrics import rowwise_pearson as _rowwise_pearson
    from .._core.neighbors import find_genomic_neighbors

    Y = np.log1p(get_expression(adata, layer)).T
    ok = np.isfinite(Y).all(axis=1)
    nb = find_genomic_neighbors(adata.var, ok, k=k)
    gi = np.repeat(np.arange(adata.n_vars), k)
    ni = nb.index.ravel()
    d = nb.distance.ravel() / 1000
    keep = ok[gi] & (ni >= 0) & (gi < np.where(ni >= 0, ni, 0))  # each pair once
    gi, ni, d = gi[keep], ni[keep], d[keep]
    r = _rowwise_pearson(Y[gi], Y[ni])
    edges = np.asarray(bins_kb, dtype=float)
    which = np.digitize(d, edges) - 1
    med, q1, q3, mid = [], [], [], []
    for b in range(len(edges) - 1):
        v = r[(which == b) & np.isfinite(r)]
        if len(v) < 5:
            continue
        med.append(np.median(v))
        q1.append(np.percentile(v, 25))
        q3.append(np.percentile(v, 75))
        mid.append(np.sqrt(max(edges[b], 1) * edges[b + 1]))
    rng = np.random.default_rng(random_state)
    okg = np.flatnonzero(ok)
    a_, b_ = rng.choice(okg, 5000), rng.choice(okg, 5000)
    rand = np.nanmedian(_rowwise_pearson(Y[a_], Y[b_]))
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    ax.fill_between(mid, q1, q3, alpha=0.25, color="tab:blue", label="interquartile range")
    ax.plot(mid, med, "o-", color="tab:blue", label="neighbouring genes (median)")
    ax.axhline(rand, color="grey", ls="--", label="random gene pairs (median)")
    ax.axvspan(20, 60, color="tab:orange", alpha=0.12, label="20-60 kb")
    ax.set_xscale("log")
    ax.set(
        xlabel="TSS-to-TSS distance (kb)",
        ylabel="Pearson r of log1p(TPM) profiles",
        title="Expression similarity vs intergene distance",
    )
    ax.legend(fontsize=7, loc="upper right")
    return _finish(ax, show, save)


def promoter_attribution(
    adata: AnnData,
    gene: str,
    *,
    key: str = "promoter_attribution",
    zoom: tuple[int, int] | None = (-60, 20),
    show: bool = False,
    save: str | Path | None = None,
):
    """Per-base promoter attribution track of one gene, with the sequence in a zoom window.

    Parameters
    ----------
    adata
        With ``varm[key]`` from :func:`~geneimpute.tl.attribute_promoters` and
        ``var['promoter_seq']``.
    gene
        A ``var_name`` or ``var['gene_name']`` symbol.
    key
        ``varm`` key of the attributions.
    zoom
        Window (bp relative to the TSS) drawn with base letters underneath the full track;
        None for the full track only.
    show, save
        As :func:`imputed_vs_observed`.

    Returns
    -------
    The Figure, unless ``show``.

    Raises
    ------
    KeyError
        If ``gene`` or ``varm[key]`` is missing.
    """
    from .._anndata import promoter_onehot
    from .._core.sequence import DEFAULT_UPSTREAM
    from .._core.sequence import window_sequences as _window_sequences

    if key not in adata.varm:
        msg = f"adata.varm has no {key!r}; run ge.tl.attribute_promoters first"
        raise KeyError(msg)
    j = _gene_index(adata, gene)
    attr = np.asarray(adata.varm[key])[j]
    pos = np.arange(len(attr)) - DEFAULT_UPSTREAM
    seq = _window_sequences(promoter_onehot(adata.var.iloc[[j]], "promoter_seq"))[0]
    n = 2 if zoom else 1
    fig, axes = plt.subplots(n, 1, figsize=(9, 2.4 * n), squeeze=False)
    ax = axes[0, 0]
    colors = np.where(np.nan_to_num(attr) >= 0, "tab:red", "tab:blue")
    ax.bar(pos, np.nan_to_num(attr), width=1.0, color=colors)
    ax.axvline(0, color="k", lw=0.8, ls="--")
    name = adata.var["gene_name"].iloc[j] if "gene_name" in adata.var else adata.var_names[j]
    ax.set(
        xlabel="position relative to TSS (bp)",
        ylabel="attribution\n(log1p TPM)",
        title=f"{name}: promoter CNN attribution (Integrated Gradients)",
    )
    if zoom:
        lo, hi = zoom
        ax.axvspan(lo, hi, color="grey", alpha=0.15)
        zx = axes[1, 0]
        sel = (pos >= lo) & (pos < hi)
        zx.bar(pos[sel], np.nan_to_num(attr[sel]), width=0.9, color=colors[sel])
        ymin = min(0.0, float(np.nanmin(attr[sel])) if np.isfinite(attr[sel]).any() else 0.0)
        for p, letter in zip(pos[sel], np.array(list(seq))[sel], strict=True):
            zx.text(p, ymin, letter, ha="center", va="top", fontsize=7, family="monospace")
        zx.axvline(0, color="k", lw=0.8, ls="--")
        zx.set(xlabel="position relative to TSS (bp)", ylabel="attribution", xlim=(lo - 1, hi))
        zx.margins(y=0.25)
    return _finish(fig, show, save)

"""Expression similarity of genomic neighbours (read from ``pp.neighbor_features``) vs distance."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._adata import check_expression, get_expression, stored_neighbors
from .._core.metrics import rowwise_pearson
from .._docs import doc_params
from .._logging import warn_data
from ._utils import axes_or_new, finish

if TYPE_CHECKING:
    from pathlib import Path

    from anndata import AnnData
    from matplotlib.axes import Axes

    from .._core.neighbors import GenomicNeighbors

#: Gene pairs correlated at a time (bounds memory on whole genomes).
CHUNK = 50_000
#: Fewest gene pairs for a distance bin to be drawn.
MIN_PAIRS_PER_BIN = 5


@doc_params("layer", "is_log1p", "plot_axes")
def distance_similarity(
    adata: AnnData,
    *,
    layer: str | None = None,
    is_log1p: bool = False,
    neighbors_key: str = "genomic_neighbors",
    k: int | None = None,
    bins_kb: tuple[float, ...] = (0, 10, 20, 40, 60, 100, 200, 500, 1000),
    n_random: int = 5000,
    random_state: int = 0,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Axes | None:
    """Expression similarity of neighbouring genes vs their intergene (TSS) distance.

    Binned Pearson r of stored neighbour pairs next to random pairs (Brown, Dong & Truong,
    PLoS One 2024, doi:10.1371/journal.pone.0307360).

    Parameters
    ----------
    adata
        Tissues x genes with neighbours under ``uns[neighbors_key]`` and TPM in ``X`` (or
        ``layer``); genes with a NaN are skipped.
    {layer}
    {is_log1p}
    neighbors_key
        ``uns`` key written by ``ge.pp.neighbor_features(adata, key_added=...)``.
    k
        Use each gene's ``k`` nearest stored neighbours (default: all stored).
    bins_kb
        Increasing distance bin edges in kb; bins with fewer than 5 gene pairs are not drawn.
    n_random
        Number of random gene pairs for the baseline line.
    random_state
        Seed of the random pairs.
    {plot_axes}

    Raises
    ------
    KeyError
        If ``uns[neighbors_key]``, its ``varp`` graph or ``layer`` is missing.
    ValueError
        If ``k`` or ``n_random`` is out of range, ``bins_kb`` is not increasing, fewer than two
        genes are complete, or the expression cannot be in its units.

    Examples
    --------
    >>> ge.pp.neighbor_features(adata)
    >>> ge.pl.distance_similarity(adata)
    """
    if neighbors_key not in adata.uns:
        msg = (
            f"adata.uns has no {neighbors_key!r}: run ge.pp.neighbor_features(adata) first "
            f"(with key_added={neighbors_key!r} if you chose another key)"
        )
        raise KeyError(msg)
    nb, _ = stored_neighbors(adata, neighbors_key)
    k = nb.k if k is None else k
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= nb.k:
        msg = f"k must be an integer in [1, {nb.k}] (neighbours stored), got {k!r}"
        raise ValueError(msg)
    if isinstance(n_random, bool) or not isinstance(n_random, int | np.integer) or n_random < 1:
        msg = f"n_random must be an integer >= 1, got {n_random!r}"
        raise ValueError(msg)
    edges = np.asarray(bins_kb, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or not (np.diff(edges) > 0).all():
        msg = f"bins_kb must be at least two increasing edges, got {tuple(bins_kb)}"
        raise ValueError(msg)
    X = get_expression(adata, layer)
    what = f"adata.layers[{layer!r}]" if layer else "adata.X"
    names = (adata.obs_names, adata.var_names)
    check_expression(X, is_log1p=bool(is_log1p), what=what, names=names)
    Y = (X if is_log1p else np.log1p(X)).T
    okg = np.flatnonzero(ok := np.isfinite(Y).all(axis=1))
    if len(okg) < 2:
        msg = f"only {len(okg)} genes have complete expression profiles; need at least 2"
        raise ValueError(msg)
    r, d_kb = _neighbour_correlations(Y, ok, nb, int(k))
    mid, med, q1, q3 = _binned(r, d_kb, edges)
    rng = np.random.default_rng(random_state)
    a_, b_ = rng.choice(okg, n_random), rng.choice(okg, n_random)
    rand = np.nanmedian(rowwise_pearson(Y[a_[a_ != b_]], Y[b_[a_ != b_]]))

    ax, own = axes_or_new(ax, (5, 3.5))
    ax.fill_between(mid, q1, q3, alpha=0.25, color="tab:blue", label="interquartile range")
    ax.plot(mid, med, "o-", color="tab:blue", label="neighbouring genes (median)")
    ax.axhline(rand, color="grey", ls="--", label="random gene pairs (median)")
    ax.axvspan(20, 60, color="tab:orange", alpha=0.12, label="20-60 kb")
    ax.set_xscale("log")
    ylabel = "Pearson r of log1p(TPM) profiles"
    title = "Expression similarity vs intergene distance"
    ax.set(xlabel="TSS-to-TSS distance (kb)", ylabel=ylabel, title=title)
    ax.legend(fontsize=7, loc="upper right")
    return finish(ax, show=show, save=save, own_figure=own)


def _neighbour_correlations(
    Y: np.ndarray, ok: np.ndarray, nb: GenomicNeighbors, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r and distance (kb) of each stored gene pair once, both profiles complete."""
    n = len(Y)
    gi = np.repeat(np.arange(n), k)
    ni = nb.index[:, :k].ravel()
    d_kb = nb.distance[:, :k].ravel() / 1000
    nis = np.where(ni >= 0, ni, 0)
    keep = (ni >= 0) & ok[gi] & ok[nis] & (gi != nis)
    lo, hi, d_kb = np.minimum(gi, nis)[keep], np.maximum(gi, nis)[keep], d_kb[keep]
    _, first = np.unique(lo * n + hi, return_index=True)
    lo, hi, d_kb = lo[first], hi[first], d_kb[first]
    chunks = range(0, len(lo), CHUNK)
    r = [rowwise_pearson(Y[lo[s : s + CHUNK]], Y[hi[s : s + CHUNK]]) for s in chunks]
    return np.concatenate(r or [np.empty(0)]), d_kb


def _binned(r: np.ndarray, d_kb: np.ndarray, edges: np.ndarray) -> tuple[list, ...]:
    """Geometric bin centre, median, 25th and 75th percentile of ``r`` per distance bin."""
    which = np.digitize(d_kb, edges) - 1
    stats = []
    for b in range(len(edges) - 1):
        v = r[(which == b) & np.isfinite(r)]
        if len(v) >= MIN_PAIRS_PER_BIN:
            centre = np.sqrt(max(edges[b], 1) * edges[b + 1])
            stats.append((centre, np.median(v), *np.percentile(v, [25, 75])))
    if not stats:
        warn_data(
            f"distance_similarity: no distance bin has {MIN_PAIRS_PER_BIN} neighbour pairs "
            f"with complete profiles ({len(r)} pairs in all); only random pairs are drawn",
            stacklevel=4,
        )
    return tuple(list(c) for c in zip(*stats, strict=True)) if stats else ([], [], [], [])

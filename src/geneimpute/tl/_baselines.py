"""Distance-based baseline: a gene's profile from its nearest reference genes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal

import numpy as np
from anndata import AnnData

from .._adata import DefaultKey, InputSources, check_key, prepare_task, resolve_neighbors
from .._core.neighbors import GenomicNeighbors, idw_profiles, idw_weights
from .._docs import doc_params
from .._logging import warn_data
from ..models._conformal import TissueConformal, floor_sigmas
from ._model import (
    check_interval,
    gene_reliability,
    interval_layers,
    units_of,
    write_imputed,
    write_intervals,
)


def idw_spread(
    Y: np.ndarray, nb: GenomicNeighbors, k: int, use_distance: bool, profiles: np.ndarray
) -> np.ndarray:
    """Weighted sd of the ``k`` neighbours' values around ``profiles`` (the interval difficulty)."""
    idx, w = idw_weights(nb, k, use_distance)
    valid = idx >= 0
    vals = np.where(valid[:, :, None], Y[np.where(valid, idx, 0)], 0.0)
    dev2 = (vals - np.nan_to_num(profiles)[:, None, :]) ** 2
    denom = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.einsum("nk,nkt->nt", w, dev2) / denom[:, None]
    out = np.sqrt(var)
    out[denom == 0] = np.nan
    return out


@doc_params()
def impute_neighbors(
    adata: AnnData,
    genes: str | Sequence[bool] | np.ndarray | None = None,
    *,
    k: int = 10,
    weighting: Literal["inverse_distance", "uniform"] = "inverse_distance",
    layer: str | None = None,
    is_log1p: bool = False,
    overwrite: bool = False,
    neighbors_key: str | None = "genomic_neighbors",
    key_added: str = DefaultKey("imputed_distance"),
    interval: float | None = 0.9,
    copy: bool = False,
) -> AnnData | None:
    """Distance-based imputation: weighted mean of the ``k`` nearest reference genes' profiles.

    The reference method the hybrid is compared with (Brown, Dong & Truong, PLoS One
    19:e0307360, 2024, doi:10.1371/journal.pone.0307360): a target gene's log1p(TPM) profile
    is the mean of its ``k`` nearest reference genes on the same chromosome (by TSS), weighted
    by ``1 / (distance_bp + 1000)``.

    Parameters
    ----------
    adata
        As :func:`~geneimpute.tl.impute_expression`.
    genes
        Genes to impute (boolean mask or ``var`` column); default: every gene with a NaN value
        (fully and partly missing; measured values are kept, not used).
    k
        Number of nearest reference genes (>= 1).
    weighting
        ``"inverse_distance"`` or ``"uniform"``.
    layer, is_log1p, overwrite, copy
        As :func:`~geneimpute.tl.impute_expression`.
    {neighbors_key}
        It must hold at least ``k`` neighbours.
    {key_added}
    {interval}
        The residuals are those of the reference genes' own distance-based profiles (a gene is
        never its own neighbour), the difficulty the weighted sd of the neighbours' values, so
        the hybrid's and this method's intervals can be compared at equal coverage.

    Returns
    -------
    ``None``, or the modified copy with ``copy=True``. Writes ``adata.layers[key_added]``
    (units, dtype and clipping as :func:`~geneimpute.tl.impute_expression`),
    ``adata.layers[f"{key_added}_mask"]`` (bool) and ``adata.uns[key_added]["params"]``.
    Genes on a chromosome with no reference gene stay NaN (a warning gives their number,
    recorded as ``n_genes_without_neighbors``). With
    ``interval``: ``layers[f"{key_added}_lower"]``/``[f"{key_added}_upper"]`` (same units,
    NaN where observed) and ``var[f"{key_added}_reliability"]`` as in
    :func:`~geneimpute.tl.impute_expression`.

    Raises
    ------
    ValueError
        As :func:`~geneimpute.tl.impute_expression`, for an unknown ``weighting`` or ``k < 1``.
    """
    key_added = check_key(key_added, adata)
    if weighting not in ("inverse_distance", "uniform"):
        msg = f"weighting must be 'inverse_distance' or 'uniform', got {weighting!r}"
        raise ValueError(msg)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        msg = f"k must be an integer >= 1, got {k!r}"
        raise ValueError(msg)
    check_interval(interval)
    task = prepare_task(adata, genes, layer=layer, is_log1p=is_log1p)
    t0 = time.perf_counter()
    sources = InputSources()
    nb = resolve_neighbors(adata, task.reference, int(k), neighbors_key, sources)
    rows = np.flatnonzero(task.target)
    use_d = weighting == "inverse_distance"
    profiles = idw_profiles(task.Y, nb, int(k), use_d)
    pred = profiles[rows]
    bounds = None
    if interval is not None:
        sigma_all = idw_spread(task.Y, nb, int(k), use_d, profiles)
        ref = np.flatnonzero(task.reference & np.isfinite(profiles).all(axis=1))
        sigmas, floor = floor_sigmas(sigma_all[ref])
        cal = TissueConformal().fit(task.Y[ref] - profiles[ref], sigmas)
        ok = np.isfinite(pred).all(axis=1)
        s_t, _ = floor_sigmas(sigma_all[rows], floor)
        lo, hi = cal.interval(np.nan_to_num(pred), s_t, float(interval))
        lo[~ok], hi[~ok] = np.nan, np.nan
        bounds = interval_layers(lo, hi, np.arange(adata.n_obs), adata.n_obs, is_log1p)
        reliability = gene_reliability(pred, lo, hi, np.nanmean(task.Y[task.reference], axis=0))
    none = np.isnan(pred).all(axis=1)
    n_none = int(none.sum())
    if n_none:
        warn_data(
            f"impute_neighbors: {n_none} genes have no reference neighbour and are left NaN, "
            f"e.g. {list(adata.var_names[rows[none]][:3])}",
            stacklevel=3,
        )
    seconds = time.perf_counter() - t0
    adata = adata.copy() if copy else adata
    n_filled = write_imputed(adata, task, pred, key_added=key_added, overwrite=overwrite)
    if bounds is not None:
        write_intervals(adata, key_added, rows, bounds, reliability)
    adata.uns[key_added] = {
        "params": {
            "method": "distance",
            "interval": float(interval) if bounds is not None and interval is not None else None,
            "k": int(k),
            "weighting": weighting,
            "is_log1p": bool(is_log1p),
            "units": units_of(is_log1p),
            "n_genes_imputed": int(len(rows)),
            "n_values_imputed": n_filled,
            "n_genes_without_neighbors": n_none,
            "n_reference_genes": int(task.reference.sum()),
            "inputs": {"neighbors": sources.neighbors},
        },
        "timings": {"impute": seconds},
    }
    return adata if copy else None

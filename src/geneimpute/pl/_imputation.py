"""Plots of imputation results: imputed vs observed, a gene's profile, accuracy, calibration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._core.metrics import rowwise_pearson
from .._docs import doc_params
from ._utils import (
    axes_or_new,
    finish,
    gene_index,
    gene_label,
    interval_bounds,
    layer_log1p,
    truth_log1p,
    uns_params,
)

if TYPE_CHECKING:
    from pathlib import Path

    from anndata import AnnData
    from matplotlib.axes import Axes

COLOURS = (("blue", "observed"), ("orange", "imputed"))


@doc_params("truth", "layer_is_log1p", "truth_is_log1p", "plot_axes")
def imputed_vs_observed(
    adata: AnnData,
    truth: AnnData,
    tissue: str,
    *,
    key: str = "imputed",
    is_log1p: bool | None = None,
    truth_is_log1p: bool = False,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Axes | None:
    """Scatter of true vs imputed log1p(TPM) of the imputed genes in one tissue, with r.

    Parameters
    ----------
    adata
        Tissues x genes with ``layers[key]`` and ``layers[f"{key}_mask"]`` from ``tl``.
    {truth}
    tissue
        An ``obs_name`` of ``adata``.
    key
        Imputation layer.
    {layer_is_log1p}
    {truth_is_log1p}
    {plot_axes}

    Raises
    ------
    KeyError
        If ``tissue``, ``layers[key]``, its mask or ``truth``'s obs/var names are missing.
    ValueError
        If ``is_log1p`` contradicts the recorded units, or values cannot be in their units.

    Examples
    --------
    >>> ge.tl.impute_neighbors(adata)
    >>> ge.pl.imputed_vs_observed(adata, truth, "liver", key="imputed_distance")
    """
    if tissue not in adata.obs_names:
        msg = f"tissue {tissue!r} not in adata.obs_names"
        raise KeyError(msg)
    mask_key = f"{key}_mask"
    if key in adata.layers and mask_key not in adata.layers:
        msg = f"adata.layers has no {mask_key!r} marking which entries of {key!r} were imputed"
        raise KeyError(msg)
    imputed = layer_log1p(adata, key, is_log1p)
    true = truth_log1p(truth, adata, truth_is_log1p)
    i = adata.obs_names.get_loc(tissue)
    sel = np.asarray(adata.layers[mask_key], dtype=bool)[i]
    sel &= np.isfinite(true[i]) & np.isfinite(imputed[i])
    x, y = true[i, sel], imputed[i, sel]
    r = float(rowwise_pearson(x[None], y[None])[0]) if sel.sum() > 2 else np.nan
    ax, own = axes_or_new(ax, (4, 4))
    ax.scatter(x, y, s=4, alpha=0.4, color="tab:blue", rasterized=True)
    lim = [0, max(np.nanmax(x, initial=1), np.nanmax(y, initial=1))]
    ax.plot(lim, lim, color="grey", lw=0.8, ls="--")
    title = f"{tissue} (n={int(sel.sum())}, r={r:.2f})"
    ax.set(xlabel="observed log1p(TPM)", ylabel="imputed log1p(TPM)", title=title)
    return finish(ax, show=show, save=save, own_figure=own)


@doc_params("layer_is_log1p", "truth_is_log1p", "plot_axes")
def gene_profile(
    adata: AnnData,
    gene: str,
    *,
    truth: AnnData | None = None,
    key: str = "imputed",
    is_log1p: bool | None = None,
    truth_is_log1p: bool = False,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Axes | None:
    """Bars of a gene's log1p(TPM) in ``layers[key]`` across tissues, imputed ones coloured.

    Intervals (``layers[f"{key}_lower"]``, ``_upper``) are error bars, ``truth`` ticks.

    Parameters
    ----------
    adata
        Tissues x genes with ``layers[key]`` (and ``layers[f"{key}_mask"]``).
    gene
        A ``var_name`` (Ensembl ID) or a ``var['gene_name']`` symbol.
    truth
        Optional held-out values, as in :func:`imputed_vs_observed`.
    key
        Imputation layer.
    {layer_is_log1p}
    {truth_is_log1p}
    {plot_axes}

    Raises
    ------
    KeyError
        If ``gene``, ``layers[key]`` or ``truth``'s obs/var names are missing.
    ValueError
        If ``is_log1p`` contradicts the recorded units, or values cannot be in their units.

    Examples
    --------
    >>> ge.pl.gene_profile(adata, "APP", truth=truth)
    """
    from matplotlib.patches import Patch

    j = gene_index(adata, gene)
    values = layer_log1p(adata, key, is_log1p)[:, j]
    tv = truth_log1p(truth, adata, truth_is_log1p)[:, j] if truth is not None else None
    mask = np.zeros(adata.n_obs, bool)
    if f"{key}_mask" in adata.layers:
        mask = np.asarray(adata.layers[f"{key}_mask"], dtype=bool)[:, j]
    order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")
    values = values[order]
    ax, own = axes_or_new(ax, (max(6, 0.22 * adata.n_obs + 1), 3.5))
    x = np.arange(adata.n_obs)
    mask = mask[order]
    ax.bar(x, values, color=np.where(mask, "tab:orange", "tab:blue"), width=0.8)
    drawn = {"observed": (~mask & np.isfinite(values)).any(), "imputed": mask.any()}
    handles: list[Any] = [Patch(color=f"tab:{c}", label=n) for c, n in COLOURS if drawn[n]]
    if tv is not None:  # above the bars and error bars, so values near 0 show
        handles += ax.plot(x, tv[order], "k_", ms=10, mew=2, zorder=4, label="true (held out)")
    if f"{key}_lower" in adata.layers and f"{key}_upper" in adata.layers:
        lo, hi, level = interval_bounds(adata, key, is_log1p)
        lo, hi = lo[order, j], hi[order, j]
        if (has := np.isfinite(lo) & np.isfinite(hi)).any():
            v = values[has]
            yerr = [v - lo[has], hi[has] - v]
            kw: dict[str, Any] = {"fmt": "none", "ecolor": "0.25", "elinewidth": 1, "capsize": 2}
            handles.append(ax.errorbar(x[has], v, yerr=yerr, label=f"{level} interval", **kw))
    ax.set_xticks(x, adata.obs_names[order], rotation=90, fontsize=7)
    ax.set(xlim=(-0.6, adata.n_obs - 0.4), ylabel="log1p(TPM)", title=gene_label(adata, j))
    bottom, top = ax.get_ylim()
    ax.set_ylim(min(bottom, -0.04 * top), top)  # a true value of 0 sits above the x axis
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return finish(ax, show=show, save=save, own_figure=own)


@doc_params("plot_axes")
def tissue_accuracy(
    scores: pd.DataFrame,
    *,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Axes | None:
    """Horizontal bars of per-tissue Pearson r, one colour per method, sorted by the first.

    Parameters
    ----------
    scores
        Tissues x methods of Pearson r (e.g. of ``ge.tl.evaluate(..., per_tissue=True)``).
    {plot_axes}

    Raises
    ------
    ValueError
        If ``scores`` has no rows or no columns.

    Examples
    --------
    >>> ge.pl.tissue_accuracy(pd.DataFrame({"hybrid": ge.tl.evaluate(a, t, h, per_tissue=True)}))
    """
    scores = pd.DataFrame(scores)
    if scores.empty:
        msg = f"scores must have at least one tissue and one method, got shape {scores.shape}"
        raise ValueError(msg)
    scores = scores.sort_values(scores.columns[0])
    ax, own = axes_or_new(ax, (6, 0.22 * len(scores) + 1.2))
    h = 0.8 / scores.shape[1]
    y = np.arange(len(scores))
    for j, col in enumerate(scores.columns):
        ax.barh(y + j * h, scores[col].to_numpy(dtype=float), height=h, label=str(col))
    ax.set_yticks(y + h * (scores.shape[1] - 1) / 2, scores.index, fontsize=7)
    ax.set(xlabel="Pearson r across held-out genes", ylabel="tissue")
    ax.legend(loc="lower right", fontsize=8)
    return finish(ax, show=show, save=save, own_figure=own)


@doc_params("truth", "truth_is_log1p", "plot_axes")
def calibration(
    adata: AnnData,
    truth: AnnData,
    *,
    key: str = "imputed",
    truth_is_log1p: bool = False,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Axes | None:
    """Empirical coverage of the prediction intervals per tissue, against their nominal level.

    Parameters
    ----------
    adata
        Tissues x genes with ``layers[key]``, its mask, lower and upper bounds.
    {truth}
    key
        Imputation layer.
    {truth_is_log1p}
    {plot_axes}

    Raises
    ------
    KeyError
        If the interval layers or the mask are missing, or ``truth`` lacks names.
    ValueError
        If nothing was imputed.

    Examples
    --------
    >>> ge.pl.calibration(adata, truth)  # doctest: +SKIP
    """
    need = [f"{key}_lower", f"{key}_upper", f"{key}_mask"]
    if missing := [k for k in need if k not in adata.layers]:
        msg = (
            f"adata.layers lacks {missing}; run ge.tl.impute_expression(adata, model, "
            "interval=0.9) (or impute_neighbors) first, or pass key="
        )
        raise KeyError(msg)
    mask = np.asarray(adata.layers[f"{key}_mask"], dtype=bool)
    if not mask.any():
        msg = f"layers[{key!r}_mask] marks no imputed value"
        raise ValueError(msg)
    lo, hi, level = interval_bounds(adata, key)
    tv = truth_log1p(truth, adata, truth_is_log1p)
    inside = (tv >= lo - 1e-6) & (tv <= hi + 1e-6) & mask
    has = mask.any(axis=1)
    per = inside[has].sum(axis=1) / mask[has].sum(axis=1)
    order = np.argsort(per)
    nominal = uns_params(adata, key).get("interval")
    ax, own = axes_or_new(ax, (5, 0.22 * len(per) + 1.2))
    y = np.arange(len(order))
    ax.barh(y, per[order], color="tab:blue", height=0.7)
    if nominal is not None:
        ax.axvline(float(nominal), color="k", ls="--", lw=1, label=f"nominal {nominal:.0%}")
        ax.legend(loc="lower right", fontsize=8)  # the shortest bars are at the bottom
    ax.set_yticks(y, adata.obs_names[has][order], fontsize=7)
    covered = f"{inside.sum() / mask.sum():.1%} covered overall"
    title = f"{level} intervals: {covered}"
    left = max(0.0, min(float(per.min()), float(nominal or 1)) - 0.05)  # show the spread
    ax.set(xlim=(left, 1), xlabel="empirical coverage of held-out values", title=title)
    return finish(ax, show=show, save=save, own_figure=own)

"""Plots of imputation results: imputed vs observed, a gene's profile, per-tissue accuracy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._core.metrics import rowwise_pearson
from .._utils import get_expression
from ._utils import (
    axes_or_new,
    doc_params,
    finish,
    gene_index,
    gene_label,
    interval_label,
    layer_log1p,
    recorded_is_log1p,
    truth_log1p,
)

if TYPE_CHECKING:
    from pathlib import Path

    from anndata import AnnData
    from matplotlib.axes import Axes


@doc_params("show_save_ax", "returns_axes")
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
    """Scatter of true vs imputed log1p(TPM) of the imputed genes in one tissue.

    Draws the entries of ``layers[key]`` that ``layers[f"{key}_mask"]`` marks as imputed in
    row ``tissue`` against the same entries of ``truth`` (entries NaN in either are skipped),
    with the identity line and their Pearson r in the title. Both axes are log1p(TPM),
    whatever units the inputs are in.

    Parameters
    ----------
    adata
        Tissues x genes with ``layers[key]`` and ``layers[f"{key}_mask"]`` (bool), as written
        by :func:`~geneimpute.tl.impute_expression` or :func:`~geneimpute.tl.impute_neighbors`.
    truth
        The held-out values: an AnnData with ``adata``'s obs and var names (any order, more
        allowed), TPM in ``X`` (log1p(TPM) with ``truth_is_log1p``).
    tissue
        An ``obs_name`` of ``adata``.
    key
        Imputation layer.
    is_log1p
        Units of ``layers[key]`` when ``uns[key]["params"]`` does not record them (the ``tl``
        imputers record ``is_log1p``): True for log1p(TPM), False or None for TPM. When the
        units are recorded, None uses them and a contradicting value raises.
    truth_is_log1p
        Set if ``truth.X`` is already log1p(TPM) (default: TPM).
    ax
        Axes to draw on (default: a new 4 x 4 in figure).
    {show_save_ax}

    {returns_axes}

    Raises
    ------
    KeyError
        If ``tissue``, ``layers[key]``, ``layers[f"{key}_mask"]`` or ``truth``'s obs/var
        names are missing.
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
    ax.set(
        xlabel="observed log1p(TPM)",
        ylabel="imputed log1p(TPM)",
        title=f"{tissue} (n={int(sel.sum())}, r={r:.2f})",
    )
    return finish(ax, show=show, save=save, own_figure=own)


@doc_params("returns_axes")
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

    One bar per tissue (highest first): blue where the value was observed, orange where
    ``layers[f"{key}_mask"]`` marks it imputed, with the prediction interval of each imputed
    value as an error bar when ``layers[f"{key}_lower"]``/``[f"{key}_upper"]`` exist (written by
    ``tl.impute_expression(..., interval=...)``); with ``truth``, the held-out true values as
    black ticks. Bar heights are log1p(TPM): TPM layers are log-transformed, log1p layers drawn
    as they are.

    Parameters
    ----------
    adata
        Tissues x genes with ``layers[key]`` (and ``layers[f"{key}_mask"]``; without it every
        bar counts as observed).
    gene
        A ``var_name`` (Ensembl ID) or a ``var['gene_name']`` symbol.
    truth
        Optional AnnData with ``adata``'s obs and var names and the true TPM in ``X``
        (log1p(TPM) with ``truth_is_log1p``).
    key
        Imputation layer.
    is_log1p
        Units of ``layers[key]`` when ``uns[key]["params"]`` does not record them: True for
        log1p(TPM), False or None for TPM. When recorded, None uses them and a contradicting
        value raises.
    truth_is_log1p
        Set if ``truth.X`` is already log1p(TPM).
    ax, show, save
        As :func:`imputed_vs_observed` (default figure width grows with the tissues).

    {returns_axes}

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
    j = gene_index(adata, gene)
    values = layer_log1p(adata, key, is_log1p)[:, j]
    tv = truth_log1p(truth, adata, truth_is_log1p)[:, j] if truth is not None else None
    mask_key = f"{key}_mask"
    if mask_key in adata.layers:
        mask = np.asarray(adata.layers[mask_key], dtype=bool)[:, j]
    else:
        mask = np.zeros(adata.n_obs, bool)
    from matplotlib.patches import Patch

    order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")
    ax, own = axes_or_new(ax, (max(6, 0.22 * adata.n_obs + 1), 3.5))
    x = np.arange(adata.n_obs)
    colors = np.where(mask[order], "tab:orange", "tab:blue")
    ax.bar(x, values[order], color=colors, width=0.8)
    handles: list[Any] = [
        Patch(color="tab:blue", label="observed"),
        Patch(color="tab:orange", label="imputed"),
    ]
    if tv is not None:
        (line,) = ax.plot(x, tv[order], "k_", ms=10, mew=2, label="true (held out)")
        handles.append(line)
    lo_key, hi_key = f"{key}_lower", f"{key}_upper"
    if lo_key in adata.layers and hi_key in adata.layers:
        log1p = recorded_is_log1p(adata, key)
        log1p = bool(is_log1p) if log1p is None else log1p
        lo, hi = (get_expression(adata, k)[:, j] for k in (lo_key, hi_key))
        if not log1p:
            lo, hi = np.log1p(lo), np.log1p(hi)
        lo, hi = lo[order], hi[order]
        has = np.isfinite(lo) & np.isfinite(hi)
        if has.any():
            band = ax.errorbar(
                x[has],
                values[order][has],
                yerr=[values[order][has] - lo[has], hi[has] - values[order][has]],
                fmt="none",
                ecolor="0.25",
                elinewidth=1,
                capsize=2,
                label=f"{interval_label(adata, key)} interval",
            )
            handles.append(band)
    ax.set_xticks(x, adata.obs_names[order], rotation=90, fontsize=7)
    ax.set_xlim(-0.6, adata.n_obs - 0.4)
    ax.set(ylabel="log1p(TPM)", title=gene_label(adata, j))
    ax.legend(handles=handles, fontsize=8, loc="upper right")
    return finish(ax, show=show, save=save, own_figure=own)


@doc_params("returns_axes")
def tissue_accuracy(
    scores: pd.DataFrame,
    *,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
) -> Axes | None:
    """Horizontal bars of per-tissue Pearson r, one colour per method.

    Draws what :func:`~geneimpute.tl.evaluate` computed (``per_tissue=True``); nothing is
    computed here. Tissues are sorted by the first method's r.

    Parameters
    ----------
    scores
        Tissues x methods of Pearson r, e.g.
        ``pd.DataFrame({"hybrid": ge.tl.evaluate(..., per_tissue=True), "distance": ...})``
        (a dict of Series is accepted).
    ax, show, save
        As :func:`imputed_vs_observed`.

    {returns_axes}

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

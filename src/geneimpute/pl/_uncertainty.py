"""Calibration of prediction intervals: empirical vs nominal coverage per tissue."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._utils import get_expression
from ._utils import (
    axes_or_new,
    doc_params,
    finish,
    interval_label,
    recorded_is_log1p,
    truth_log1p,
)

if TYPE_CHECKING:
    from pathlib import Path

    from anndata import AnnData
    from matplotlib.axes import Axes


@doc_params("show_save_ax", "returns_axes")
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

    For every tissue, the fraction of imputed values (``layers[f"{key}_mask"]``) whose true
    value (``truth``) lies inside ``[layers[f"{key}_lower"], layers[f"{key}_upper"]]``, as
    horizontal bars with the nominal level (``uns[key]["params"]["interval"]``) as a dashed
    line and the overall coverage in the title. Written by
    :func:`~geneimpute.tl.impute_expression` / :func:`~geneimpute.tl.impute_neighbors` with
    ``interval=``; a calibrated method has bars around the line in every tissue.

    Parameters
    ----------
    adata
        Tissues x genes with ``layers[key]``, its mask, lower and upper bounds.
    truth
        The true values, AnnData with ``adata``'s obs and var names, TPM in ``X`` (log1p TPM
        with ``truth_is_log1p``).
    key
        Imputation layer.
    truth_is_log1p
        Set if ``truth.X`` is log1p(TPM).
    ax
        Axes to draw on (default: a new figure).
    {show_save_ax}

    {returns_axes}

    Raises
    ------
    KeyError
        If the interval layers or the mask are missing, or ``truth`` lacks names of ``adata``.
    ValueError
        If nothing was imputed.

    Examples
    --------
    >>> ge.pl.calibration(adata, truth)  # doctest: +SKIP
    """
    need = [f"{key}_lower", f"{key}_upper", f"{key}_mask"]
    missing = [k for k in need if k not in adata.layers]
    if missing:
        msg = (
            f"adata.layers lacks {missing}; run ge.tl.impute_expression(adata, model, "
            "interval=0.9) (or impute_neighbors) first, or pass key="
        )
        raise KeyError(msg)
    mask = np.asarray(adata.layers[f"{key}_mask"], dtype=bool)
    if not mask.any():
        msg = f"layers[{key!r}_mask] marks no imputed value"
        raise ValueError(msg)
    log1p = bool(recorded_is_log1p(adata, key))
    lo, hi = (get_expression(adata, k) for k in need[:2])
    tv = truth_log1p(truth, adata, truth_is_log1p)
    if not log1p:
        lo, hi = np.log1p(lo), np.log1p(hi)
    inside = (tv >= lo - 1e-6) & (tv <= hi + 1e-6) & mask
    per = inside.sum(axis=1) / np.maximum(mask.sum(axis=1), 1)
    has = mask.any(axis=1)
    params = (
        adata.uns.get(key, {}).get("params", {}) if isinstance(adata.uns.get(key), dict) else {}
    )
    nominal = params.get("interval")
    names = np.asarray(adata.obs_names)[has]
    order = np.argsort(per[has])
    ax, own = axes_or_new(ax, (5, 0.22 * int(has.sum()) + 1.2))
    y = np.arange(len(order))
    ax.barh(y, per[has][order], color="tab:blue", height=0.7)
    if nominal is not None:
        ax.axvline(float(nominal), color="k", ls="--", lw=1, label=f"nominal {nominal:.0%}")
        ax.legend(loc="lower left", fontsize=8)
    ax.set_yticks(y, names[order], fontsize=7)
    ax.set_xlim(0, 1)
    overall = inside.sum() / mask.sum()
    ax.set(
        xlabel="empirical coverage of held-out values",
        title=f"{interval_label(adata, key)} intervals: {overall:.1%} covered overall",
    )
    return finish(ax, show=show, save=save, own_figure=own)

"""Heatmap of regulator -> target attributions stored by ``tl.regulator_attribution``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._utils import axes_or_new, doc_params, finish

if TYPE_CHECKING:
    from pathlib import Path

    from anndata import AnnData
    from matplotlib.axes import Axes


@doc_params("show_save_ax", "returns_axes")
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
    """Heatmap of the regulators that drive the chosen targets (DeepLIFT / IG scores).

    Rows are the ``n_regulators`` regulators with the largest mean absolute score over the
    shown targets, columns the targets; colour is the signed mean attribution (target sd per
    regulator sd; red: more regulator, more target), on a scale symmetric around 0.

    Parameters
    ----------
    adata
        With ``uns[key]["scores"]`` from :func:`~geneimpute.tl.regulator_attribution`.
    key
        ``uns`` key of the attribution.
    targets
        Target genes (columns of the scores) to show; None: all of them (up to 40, those with
        the largest total absolute score).
    n_regulators
        Regulators (rows) shown.
    ax
        Axes to draw into; None: a new figure.
    {show_save_ax}

    {returns_axes}

    Raises
    ------
    KeyError
        If ``adata.uns[key]`` holds no scores, or a target was not explained.
    ValueError
        If ``n_regulators < 1``.

    Examples
    --------
    >>> ge.tl.regulator_attribution(adata, model, targets=["MKI67", "TOP2A"])
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
        missing = [t for t in cols if t not in S.columns]
        if missing:
            msg = f"targets {missing[:5]} were not explained in adata.uns[{key!r}]"
            raise KeyError(msg)
    sub = S[cols]
    rows = sub.abs().mean(axis=1).sort_values(ascending=False).index[:n_regulators]
    M = sub.loc[rows].to_numpy(dtype=float)
    lim = float(np.abs(M).max()) or 1.0
    ax, own = axes_or_new(ax, (max(4.0, 0.35 * len(cols) + 2.5), max(3.0, 0.3 * len(rows) + 1.5)))
    im = ax.imshow(M, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(cols)), [str(c) for c in cols], rotation=90, fontsize=8)
    ax.set_yticks(range(len(rows)), [str(r) for r in rows], fontsize=8)
    ax.set_xlabel("target")
    ax.set_ylabel("regulator")
    method = info.get("params", {}).get("method", "attribution")
    ax.set_title(f"{method}: mean attribution (target sd per regulator sd)")
    ax.figure.colorbar(im, ax=ax, shrink=0.8)
    return finish(ax, show=show, save=save, own_figure=own)

"""What every plot shares: the units of what it draws, gene lookup, show / save."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .._adata import check_expression, get_expression

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_Drawn = TypeVar("_Drawn", "Axes", "Figure")


def pyplot():
    """``matplotlib.pyplot``, imported on first use."""
    import matplotlib.pyplot as plt

    return plt


def axes_or_new(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Axes, bool]:
    """``ax``, or the Axes of a new ``figsize`` figure; and whether the figure is new."""
    if ax is not None:
        return ax, False
    _, ax = pyplot().subplots(figsize=figsize)
    return ax, True


def finish(
    obj: _Drawn, *, show: bool | None, save: str | Path | None, own_figure: bool = True
) -> _Drawn | None:
    """Lay out, save and show (``None``: if interactive and ``own_figure``); ``obj`` or None."""
    plt = pyplot()
    fig: Any = obj.figure.figure  # the root Figure (of a Figure, or of Axes in a SubFigure)
    if own_figure:
        fig.tight_layout()
    if save is not None:
        fig.savefig(Path(save), dpi=150, bbox_inches="tight")
    if show is None:
        show = own_figure and plt.isinteractive()
    if show:
        plt.show()
        return None
    return obj


def uns_params(adata: AnnData, key: str) -> Mapping:
    """``uns[key]["params"]`` as written by ``pp`` / ``tl``, or ``{}``."""
    info = adata.uns.get(key)
    params = info.get("params") if isinstance(info, Mapping) else None
    return params if isinstance(params, Mapping) else {}


def recorded_is_log1p(adata: AnnData, key: str) -> bool | None:
    """Units recorded in ``uns[key]["params"]`` (``is_log1p`` or ``units``) by ``tl``; or None."""
    params = uns_params(adata, key)
    units = {"TPM": False, "log1p_TPM": True}.get(str(params.get("units")))
    return bool(params["is_log1p"]) if "is_log1p" in params else units


def layer_log1p(adata: AnnData, key: str, is_log1p: bool | None) -> np.ndarray:
    """``layers[key]`` as dense float64 log1p(TPM), in the recorded units, else ``is_log1p``'s."""
    if key not in adata.layers:
        msg = (
            f"adata.layers has no {key!r} (available: {list(adata.layers)}); run "
            "ge.tl.impute_expression / ge.tl.impute_neighbors first, or pass key="
        )
        raise KeyError(msg)
    recorded = recorded_is_log1p(adata, key)
    if recorded is not None and is_log1p is not None and bool(is_log1p) != recorded:
        units = "log1p(TPM)" if recorded else "TPM"
        msg = (
            f"is_log1p={is_log1p} contradicts adata.uns[{key!r}]['params'], which records "
            f"that layers[{key!r}] holds {units}; leave is_log1p=None to use the recorded units"
        )
        raise ValueError(msg)
    X = get_expression(adata, key)
    log1p = bool(is_log1p) if recorded is None else recorded
    if recorded is None:
        names = (adata.obs_names, adata.var_names)
        check_expression(X, is_log1p=log1p, what=f"adata.layers[{key!r}]", names=names)
    return X if log1p else np.log1p(X)


def truth_log1p(truth: AnnData, adata: AnnData, truth_is_log1p: bool) -> np.ndarray:
    """``truth.X`` as log1p(TPM), aligned by name to ``adata``'s obs and var."""
    for axis in ("obs_names", "var_names"):
        need = getattr(adata, axis)
        if len(missing := need[~need.isin(getattr(truth, axis))]):
            msg = (
                f"truth lacks {len(missing)} of adata's {axis} (e.g. {list(missing[:3])}); "
                "pass the AnnData the held-out values were taken from"
            )
            raise KeyError(msg)
    X = get_expression(truth, None)
    names = (truth.obs_names, truth.var_names)
    check_expression(X, is_log1p=bool(truth_is_log1p), what="truth.X", names=names)
    X = X[np.ix_(names[0].get_indexer(adata.obs_names), names[1].get_indexer(adata.var_names))]
    return X if truth_is_log1p else np.log1p(X)


def gene_index(adata: AnnData, gene: str) -> int:
    """Position of ``gene`` (a ``var_name``, else the first ``var['gene_name']`` match)."""
    if gene in adata.var_names:
        return int(adata.var_names.get_loc(gene))
    if "gene_name" in adata.var.columns:
        if len(hits := np.flatnonzero(adata.var["gene_name"].astype(str).to_numpy() == gene)):
            return int(hits[0])
    msg = f"gene {gene!r} is neither a var_name nor a var['gene_name']"
    raise KeyError(msg)


def gene_label(adata: AnnData, j: int) -> str:
    """``"SYMBOL (ID)"`` of gene ``j`` (the ID alone without ``var['gene_name']``)."""
    gid = str(adata.var_names[j])
    if "gene_name" in adata.var.columns:
        return f"{adata.var['gene_name'].iloc[j]} ({gid})"
    return gid


def interval_bounds(
    adata: AnnData, key: str, is_log1p: bool | None = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """``{key}_lower`` and ``_upper`` layers as log1p(TPM), and their level (``"90%"``)."""
    recorded = recorded_is_log1p(adata, key)
    log1p = bool(is_log1p) if recorded is None else recorded
    lo, hi = (get_expression(adata, f"{key}_{b}") for b in ("lower", "upper"))
    level = uns_params(adata, key).get("interval")
    label = f"{float(level):.0%}" if level is not None else "prediction"
    return (lo, hi, label) if log1p else (np.log1p(lo), np.log1p(hi), label)

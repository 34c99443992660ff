"""What every plot shares: the units of what it draws, gene lookup, show / save.

Nothing here computes results that :mod:`geneimpute.tl` owns; ``matplotlib.pyplot`` is
imported inside the functions that draw, so ``import geneimpute`` stays light.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .._utils import check_expression, get_expression

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_Drawn = TypeVar("_Drawn", "Axes", "Figure")

#: Figure resolution of ``save``.
SAVE_DPI = 150


_SHOW_SAVE = """\
show
        Show the figure (``plt.show()``). None: show when matplotlib is interactive
        (Jupyter, IPython){when}.
    save
        Path (with extension) to save the figure to, at 150 dpi; relative paths are relative
        to the working directory."""

#: Docstring fragments shared by the plots, filled in by :func:`doc_params`.
DOC_FRAGMENTS = {
    "show_save": _SHOW_SAVE.replace("{when}", ""),
    "show_save_ax": _SHOW_SAVE.replace("{when}", " and no ``ax`` was passed"),
    "returns_axes": "Returns\n    -------\n    The Axes, or None when shown.",
}

_F = TypeVar("_F", bound=Callable[..., Any])


def doc_params(*names: str) -> Callable[[_F], _F]:
    """Fill ``{name}`` in the decorated function's docstring with ``DOC_FRAGMENTS[name]``.

    Plain replacement (not :meth:`str.format`), so other braces in the docstring stay.
    """

    def decorate(func: _F) -> _F:
        doc = func.__doc__ or ""
        for name in names:
            mark = "{" + name + "}"
            if mark not in doc:
                msg = f"{func.__qualname__}'s docstring has no {mark}"
                raise ValueError(msg)
            doc = doc.replace(mark, DOC_FRAGMENTS[name])
        func.__doc__ = doc
        return func

    return decorate


def pyplot():
    """``matplotlib.pyplot``, imported on first use."""
    import matplotlib.pyplot as plt

    return plt


def axes_or_new(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Axes, bool]:
    """``ax``, or the Axes of a new ``figsize`` figure; and whether the figure is new.

    The flag is :func:`finish`'s ``own_figure``.
    """
    if ax is not None:
        return ax, False
    _, ax = pyplot().subplots(figsize=figsize)
    return ax, True


def finish(
    obj: _Drawn,
    *,
    show: bool | None,
    save: str | Path | None,
    own_figure: bool = True,
) -> _Drawn | None:
    """Lay out, save and show the figure of ``obj`` (scanpy's ``show`` / ``save`` convention).

    ``show=None`` shows the figure when matplotlib is interactive (Jupyter, IPython) and the
    plot made its own figure (``own_figure``: no ``ax`` was passed), so panels drawn into a
    caller's Axes are not shown half-finished. Returns ``obj``, or None when shown.
    """
    from matplotlib.axes import Axes

    plt = pyplot()
    fig: Any = obj.figure if isinstance(obj, Axes) else obj
    fig = fig.figure  # the root Figure (an Axes may sit in a SubFigure)
    if own_figure:
        fig.tight_layout()
    if save is not None:
        fig.savefig(Path(save), dpi=SAVE_DPI, bbox_inches="tight")
    if show is None:
        show = own_figure and plt.isinteractive()
    if show:
        plt.show()
        return None
    return obj


def recorded_is_log1p(adata: AnnData, key: str) -> bool | None:
    """Units recorded by the function that wrote ``layers[key]``: ``uns[key]["params"]``.

    :func:`~geneimpute.tl.impute_expression`, :func:`~geneimpute.tl.impute_neighbors` and
    :func:`~geneimpute.tl.impute_samples` record ``is_log1p`` (and ``units``, ``"TPM"`` or
    ``"log1p_TPM"``). Returns None when nothing is recorded.
    """
    info = adata.uns.get(key)
    params = info.get("params") if isinstance(info, Mapping) else None
    if not isinstance(params, Mapping):
        return None
    if "is_log1p" in params:
        return bool(params["is_log1p"])
    units = params.get("units")
    if units in ("TPM", "log1p_TPM"):
        return units == "log1p_TPM"
    return None


def layer_log1p(adata: AnnData, key: str, is_log1p: bool | None) -> np.ndarray:
    """``layers[key]`` as log1p(TPM), dense float64 ``(n_obs, n_vars)``.

    Units come from ``uns[key]["params"]`` when the writer recorded them; otherwise from
    ``is_log1p`` (None: TPM), and the values are then checked against the declared units.

    Raises
    ------
    KeyError
        If ``layers[key]`` is missing.
    ValueError
        If ``is_log1p`` contradicts the recorded units, or the values cannot be in the
        declared units (negative, infinite, too large).
    """
    if key not in adata.layers:
        msg = (
            f"adata.layers has no {key!r} (available: {list(adata.layers)}); run "
            "ge.tl.impute_expression / ge.tl.impute_neighbors first, or pass key="
        )
        raise KeyError(msg)
    recorded = recorded_is_log1p(adata, key)
    X = get_expression(adata, key)
    if recorded is None:
        log1p = bool(is_log1p)
        check_expression(
            X,
            is_log1p=log1p,
            what=f"adata.layers[{key!r}]",
            names=(adata.obs_names, adata.var_names),
        )
    else:
        if is_log1p is not None and bool(is_log1p) != recorded:
            units = "log1p(TPM)" if recorded else "TPM"
            msg = (
                f"is_log1p={is_log1p} contradicts adata.uns[{key!r}]['params'], which records "
                f"that layers[{key!r}] holds {units}; leave is_log1p=None to use the "
                "recorded units"
            )
            raise ValueError(msg)
        log1p = recorded
    return X if log1p else np.log1p(X)


def truth_log1p(truth: AnnData, adata: AnnData, truth_is_log1p: bool) -> np.ndarray:
    """``truth.X`` as log1p(TPM), aligned by name to ``adata``'s obs and var, ``(n_obs, n_vars)``.

    Raises
    ------
    KeyError
        If ``truth`` lacks some of ``adata``'s obs or var names.
    ValueError
        If ``truth.X`` cannot be in the declared units.
    """
    for axis, have, need in (
        ("obs_names", truth.obs_names, adata.obs_names),
        ("var_names", truth.var_names, adata.var_names),
    ):
        missing = need[~need.isin(have)]
        if len(missing):
            msg = (
                f"truth lacks {len(missing)} of adata's {axis} (e.g. {list(missing[:3])}); "
                "pass the AnnData the held-out values were taken from"
            )
            raise KeyError(msg)
    X = get_expression(truth, None)
    check_expression(
        X,
        is_log1p=bool(truth_is_log1p),
        what="truth.X",
        names=(truth.obs_names, truth.var_names),
    )
    rows = truth.obs_names.get_indexer(adata.obs_names)
    cols = truth.var_names.get_indexer(adata.var_names)
    X = X[np.ix_(rows, cols)]
    return X if truth_is_log1p else np.log1p(X)


def gene_index(adata: AnnData, gene: str) -> int:
    """Position of ``gene`` (a ``var_name``, else the first ``var['gene_name']`` match).

    Raises
    ------
    KeyError
        If ``gene`` is neither.
    """
    if gene in adata.var_names:
        return int(adata.var_names.get_loc(gene))
    if "gene_name" in adata.var.columns:
        hits = np.flatnonzero(adata.var["gene_name"].astype(str).to_numpy() == gene)
        if len(hits):
            return int(hits[0])
    msg = f"gene {gene!r} is neither a var_name nor a var['gene_name']"
    raise KeyError(msg)


def gene_label(adata: AnnData, j: int) -> str:
    """``"SYMBOL (ID)"`` of gene ``j`` (the ID alone without ``var['gene_name']``)."""
    gid = str(adata.var_names[j])
    if "gene_name" in adata.var.columns:
        return f"{adata.var['gene_name'].iloc[j]} ({gid})"
    return gid


def interval_label(adata: AnnData, key: str) -> str:
    """``"90%"`` from ``uns[key]["params"]["interval"]`` (``"prediction"`` when unknown)."""
    entry = adata.uns.get(key)
    level = entry.get("params", {}).get("interval") if isinstance(entry, dict) else None
    return f"{float(level):.0%}" if level is not None else "prediction"

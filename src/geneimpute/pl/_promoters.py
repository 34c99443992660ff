"""Per-base promoter attribution track (from ``tl.attribute_promoters``) with its sequence."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._adata import promoter_onehot
from .._core.sequence import DEFAULT_UPSTREAM, window_sequences
from .._docs import doc_params
from ._utils import finish, gene_index, gene_label, pyplot, uns_params

if TYPE_CHECKING:
    from pathlib import Path

    from anndata import AnnData
    from matplotlib.figure import Figure

_XLABEL = "position relative to TSS (bp)"


@doc_params("show_save")
def promoter_attribution(
    adata: AnnData,
    gene: str,
    *,
    key: str = "promoter_attribution",
    promoter_key: str = "promoter_seq",
    zoom: tuple[int, int] | None = (-60, 20),
    show: bool | None = None,
    save: str | Path | None = None,
) -> Figure | None:
    """Per-base promoter attribution track of one gene, with the sequence in a zoom window.

    ``varm[key]`` as bars against the position to the TSS; ``zoom`` adds the window with its
    bases (``N`` where unobserved) from ``var[promoter_key]``.

    Parameters
    ----------
    adata
        With ``varm[key]`` from :func:`~geneimpute.tl.attribute_promoters` and, for ``zoom``,
        ``var[promoter_key]`` from :func:`~geneimpute.pp.extract_promoters`.
    gene
        A ``var_name`` or ``var['gene_name']`` symbol.
    key
        ``varm`` key of the attributions.
    promoter_key
        ``var`` column of the promoter sequences the attributions were computed on.
    zoom
        Window ``(start, end)`` in bp to the TSS (end excluded) drawn with its bases, or None.
    {show_save}

    Returns
    -------
    The Figure (one Axes, two with ``zoom``), or None when shown.

    Raises
    ------
    KeyError
        If ``gene``, ``varm[key]`` or (with ``zoom``) ``var[promoter_key]`` is missing.
    ValueError
        If the gene has no attribution or ``zoom`` is empty.

    Examples
    --------
    >>> ge.tl.attribute_promoters(adata, model, genes)
    >>> ge.pl.promoter_attribution(adata, "APP")
    """
    if key not in adata.varm:
        msg = f"adata.varm has no {key!r}; run ge.tl.attribute_promoters first"
        raise KeyError(msg)
    j = gene_index(adata, gene)
    attr = np.asarray(adata.varm[key], dtype=float)[j]
    if not np.isfinite(attr).any():
        msg = (
            f"gene {gene!r} has no attribution in varm[{key!r}]; pass it in the genes of "
            "ge.tl.attribute_promoters"
        )
        raise ValueError(msg)
    tss = int(uns_params(adata, key).get("tss_index", DEFAULT_UPSTREAM))
    pos = np.arange(len(attr)) - tss
    if zoom:
        lo, hi = (int(v) for v in zoom)
        if hi <= lo:
            msg = f"zoom must be (start, end) with start < end, got {zoom}"
            raise ValueError(msg)
        if promoter_key not in adata.var.columns:
            msg = (
                f"adata.var has no {promoter_key!r} to write the bases under the zoom; pass "
                "promoter_key= (the column ge.pp.extract_promoters wrote) or zoom=None"
            )
            raise KeyError(msg)
        down = len(attr) - tss - 1  # the window has len(attr) positions, as varm[key]
        seq = window_sequences(
            promoter_onehot(adata.var.iloc[[j]], promoter_key, upstream=tss, downstream=down)
        )[0]

    n = 2 if zoom else 1
    fig, axes = pyplot().subplots(n, 1, figsize=(9, 2.4 * n), squeeze=False)
    ax = axes[0, 0]
    colors = np.where((height := np.nan_to_num(attr)) >= 0, "tab:red", "tab:blue")
    ax.bar(pos, height, width=1.0, color=colors)
    ax.axvline(0, color="k", lw=0.8, ls="--")
    title = f"{gene_label(adata, j)}: promoter CNN attribution (Integrated Gradients)"
    ax.set(xlabel=_XLABEL, ylabel="attribution\n(log1p TPM)", title=title)
    if zoom:
        ax.axvspan(lo, hi, color="grey", alpha=0.15)
        zx = axes[1, 0]
        sel = (pos >= lo) & (pos < hi)
        zx.bar(pos[sel], height[sel], width=0.9, color=colors[sel])
        ymin = float(height[sel].min(initial=0.0))
        for p, letter in zip(pos[sel], np.array(list(seq))[sel], strict=True):
            zx.text(p, ymin, letter, ha="center", va="top", fontsize=7, family="monospace")
        zx.axvline(0, color="k", lw=0.8, ls="--")
        zx.set(xlabel=_XLABEL, ylabel="attribution", xlim=(lo - 1, hi))
        zx.margins(y=0.25)
    return finish(fig, show=show, save=save)

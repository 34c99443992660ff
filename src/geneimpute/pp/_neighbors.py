"""Genomic neighbour reference genes: k nearest by TSS, intergene distance, orientation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .._adata import check_coordinates, check_key, check_unique_var_names, gene_mask, get_expression
from .._core.neighbors import ORIENTATION_NAMES, find_genomic_neighbors, neighbors_to_sparse


def neighbor_features(
    adata: AnnData,
    reference: str | Sequence[bool] | np.ndarray | None = None,
    *,
    k: int = 20,
    layer: str | None = None,
    key_added: str = "genomic_neighbors",
    inplace: bool = True,
) -> pd.DataFrame | None:
    """Find each gene's ``k`` nearest reference genes and their distance and orientation.

    Genes within ~20-60 kb tend to share tissue expression (Brown, Dong & Truong, PLoS One
    2024, doi:10.1371/journal.pone.0307360); ``tl`` and ``pl`` read it via ``neighbors_key``.

    Parameters
    ----------
    adata
        Genes in ``var`` with ``chrom``, ``start``, ``end`` (0-based half-open bp), ``strand``
        (``tss`` optional).
    reference
        Boolean mask or ``var`` column of genes allowed as neighbours; default: every gene
        without NaN in ``X`` (or ``layer``), or all without ``X``.
    k
        Number of neighbours per gene (>= 1).
    layer
        Expression layer used for the default ``reference``.
    key_added
        ``uns`` key and prefix of the ``varp`` keys written.
    inplace
        If False, return a long :class:`pandas.DataFrame` (a row per gene and neighbour).

    Returns
    -------
    ``None`` (or the DataFrame). Writes CSR graphs (row = gene) ``varp[f"{key_added}_distances"]``
    (bp), ``_orientation`` (1 same strand, 2 divergent, 3 convergent), ``_overlap`` (1
    overlapping, 2 nested) and ``uns[key_added]``: their ``*_key`` names and ``params``.

    Raises
    ------
    KeyError
        If coordinate columns (or ``layer``) are missing.
    ValueError
        If coordinates are malformed, gene IDs are duplicated or ``k < 1``.

    Examples
    --------
    >>> import geneimpute as ge
    >>> adata = ge.datasets.gtex_tissues()
    >>> ge.pp.neighbor_features(adata, k=20)
    >>> adata.uns["genomic_neighbors"]["params"]["k"]
    20
    """
    key_added = check_key(key_added)
    check_unique_var_names(adata)
    check_coordinates(adata.var)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        msg = f"k must be an integer >= 1, got {k!r}"
        raise ValueError(msg)
    if reference is None and (adata.X is not None or layer is not None):
        default = np.isfinite(get_expression(adata, layer)).all(axis=0)
        rule = "complete_profiles"
    else:
        default = np.ones(adata.n_vars, bool)
        rule = "all_genes" if reference is None else "user_mask"
    ref = gene_mask(adata, reference, default, "reference")
    nb = find_genomic_neighbors(adata.var, ref, k=int(k))
    if not inplace:
        valid, names = nb.valid, adata.var_names.to_numpy()
        rows, slot = np.nonzero(valid)
        return pd.DataFrame(
            {
                "gene": names[rows],
                "neighbor": names[nb.index[valid]],
                "rank": slot + 1,
                "distance_bp": nb.distance[valid].astype(np.int64),
                "upstream": nb.upstream[valid],
                "orientation": ORIENTATION_NAMES[nb.orientation[valid]],
                "overlap": nb.overlap[valid],
                "nested": nb.nested[valid],
                "gap_bp": nb.gap[valid].astype(np.int64),
            }
        )
    graphs = neighbors_to_sparse(nb)
    keys = {name: f"{key_added}_{name}" for name in graphs}
    for name, m in graphs.items():
        adata.varp[keys[name]] = m
    params = {"k": int(k), "n_reference": int(ref.sum()), "reference": rule}
    adata.uns[key_added] = {f"{name}_key": key for name, key in keys.items()} | {"params": params}
    return None

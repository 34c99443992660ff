"""Readers of what ``pp`` (or a user) stored in an AnnData: promoters, neighbours, correlations."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .._core.neighbors import GenomicNeighbors, neighbors_from_distances
from .._core.sequence import DEFAULT_DOWNSTREAM, DEFAULT_UPSTREAM, encode_promoters


def has_promoters(var: pd.DataFrame, promoter_key: str | None) -> bool:
    """Whether ``var[promoter_key]`` exists and holds at least one non-empty sequence."""
    if promoter_key is None or promoter_key not in var.columns:
        return False
    return bool((var[promoter_key].fillna("").astype(str).str.len() > 0).any())


def promoter_onehot(
    var: pd.DataFrame,
    promoter_key: str | None,
    *,
    upstream: int = DEFAULT_UPSTREAM,
    downstream: int = DEFAULT_DOWNSTREAM,
) -> np.ndarray:
    """``(n_genes, upstream + downstream + 1, 5)`` one-hot promoters, TSS-aligned (or zeros)."""
    if promoter_key is None or promoter_key not in var.columns:
        return np.zeros((len(var), upstream + downstream + 1, 5), np.float32)
    tss_col = f"{promoter_key}_tss_index"
    tss_index = var[tss_col].to_numpy() if tss_col in var.columns else None
    return encode_promoters(
        var[promoter_key],
        tss_index,
        what=f"var[{promoter_key!r}]",
        upstream=upstream,
        downstream=downstream,
    )


def stored_neighbors(adata: AnnData, key: str) -> tuple[GenomicNeighbors, dict]:
    """Read :func:`~geneimpute.pp.neighbor_features` output under ``uns[key]`` / ``varp``."""
    info = adata.uns[key]
    if not isinstance(info, dict) or "distances_key" not in info or "params" not in info:
        msg = (
            f"adata.uns[{key!r}] is not the output of geneimpute.pp.neighbor_features "
            "(it lacks 'distances_key' and 'params')"
        )
        raise KeyError(msg)
    dkey = str(info["distances_key"])
    if dkey not in adata.varp:
        msg = f"adata.varp[{dkey!r}] (named by uns[{key!r}]) is missing"
        raise KeyError(msg)
    k = int(info["params"]["k"])
    return neighbors_from_distances(adata.var, adata.varp[dkey], k), dict(info["params"])


def read_tissue_correlation(adata: AnnData, key: str) -> pd.DataFrame | None:
    """Return the tissue x tissue DataFrame under ``uns[key]`` (pp's dict or a user's), or None."""
    if key not in adata.uns:
        return None
    C = adata.uns[key]
    if isinstance(C, dict) and "correlation" in C:
        C = C["correlation"]
    if not isinstance(C, pd.DataFrame):
        msg = f"adata.uns[{key!r}] is not a tissue x tissue DataFrame"
        raise TypeError(msg)
    return C


def tissue_frame(C: np.ndarray, tissues: Sequence[str]) -> pd.DataFrame:
    """Tissue x tissue DataFrame with unnamed axes (so it round-trips through ``.h5ad``)."""
    names = [str(t) for t in tissues]
    return pd.DataFrame(np.asarray(C, dtype=np.float64), index=names, columns=names)

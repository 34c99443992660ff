"""Array-level genomic neighbour search (no AnnData): k nearest reference genes by TSS.

This is the one neighbour search of the package: :func:`geneimpute.pp.neighbor_features`
writes its result to ``varp``, and :mod:`geneimpute.tl`, :mod:`geneimpute.pl` and the models
read it back through :func:`neighbors_from_distances`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

#: Relative orientation of a neighbour to the target gene, coded once for the whole package:
#: ``0`` no neighbour (padding / sparse zero), then these codes (also the ``varp`` values).
ORIENTATION_CODES = {"same_strand": 1, "divergent": 2, "convergent": 3}
#: Names by code (index 0 = no neighbour).
ORIENTATION_NAMES = np.array(["", "same_strand", "divergent", "convergent"], dtype=object)
#: Overlap codes written to ``varp``: 0 neither, 1 overlapping gene bodies, 2 nested.
OVERLAP_CODES = {"overlap": 1, "nested": 2}


def tss_of(var: pd.DataFrame) -> np.ndarray:
    """TSS per gene in bp (0-based): ``var['tss']`` if present, else start/end by strand."""
    if "tss" in var.columns and not var["tss"].isna().any():
        return var["tss"].to_numpy(dtype=np.int64)
    plus = var["strand"].astype(str).to_numpy() == "+"
    return np.where(plus, var["start"].to_numpy(np.int64), var["end"].to_numpy(np.int64) - 1)


@dataclass
class GenomicNeighbors:
    """k nearest reference genes of every gene, as ``(n_genes, k)`` arrays.

    Neighbours are sorted by TSS distance, ties broken by gene position. Missing neighbours
    (fewer than ``k`` reference genes on a chromosome) have ``index == -1`` and
    ``distance == inf``.

    Attributes
    ----------
    index
        Position (in the gene order used to build it) of each neighbour, int64.
    distance
        Absolute TSS-to-TSS distance in bp, float64.
    upstream
        True where the neighbour's TSS lies upstream of the target's TSS (target strand).
    orientation
        :data:`ORIENTATION_CODES` (1 same strand, 2 divergent, 3 convergent), 0 missing; int8.
    overlap
        True where the gene bodies overlap.
    nested
        True where one gene body lies entirely within the other.
    gap
        Gene-body gap in bp (0 when bodies overlap), float64.
    """

    index: np.ndarray
    distance: np.ndarray
    upstream: np.ndarray
    orientation: np.ndarray
    overlap: np.ndarray
    nested: np.ndarray
    gap: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        """Boolean ``(n_genes, k)``: which neighbour slots are filled."""
        return self.index >= 0

    @property
    def k(self) -> int:
        """Neighbour slots per gene."""
        return int(self.index.shape[1])


def no_neighbors(n_genes: int, k: int) -> GenomicNeighbors:
    """``GenomicNeighbors`` of ``n_genes`` genes with all ``k`` slots empty (no coordinates)."""
    shape = (n_genes, k)
    return GenomicNeighbors(
        index=np.full(shape, -1, dtype=np.int64),
        distance=np.full(shape, np.inf),
        upstream=np.zeros(shape, dtype=bool),
        orientation=np.zeros(shape, dtype=np.int8),
        overlap=np.zeros(shape, dtype=bool),
        nested=np.zeros(shape, dtype=bool),
        gap=np.full(shape, np.inf),
    )


def _search(
    chrom: np.ndarray, tss: np.ndarray, reference: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-chromosome k nearest reference TSS, ties by gene position; ``(n, k)`` each."""
    n = len(chrom)
    index = np.full((n, k), -1, dtype=np.int64)
    distance = np.full((n, k), np.inf)
    for c in np.unique(chrom):
        genes = np.flatnonzero(chrom == c)
        refs = genes[reference[genes]]
        if len(refs) == 0:
            continue
        refs = refs[np.argsort(tss[refs], kind="stable")]
        r_tss = tss[refs].astype(np.float64)
        pos = np.searchsorted(r_tss, tss[genes])
        offsets = np.arange(-(k + 1), k + 1)
        cand = pos[:, None] + offsets[None, :]
        inside = (cand >= 0) & (cand < len(refs))
        cand_c = np.clip(cand, 0, len(refs) - 1)
        d = np.abs(r_tss[cand_c] - tss[genes][:, None])
        d[~inside] = np.inf  # clipped duplicates are out of range
        d[refs[cand_c] == genes[:, None]] = np.inf  # never the gene itself
        kk = min(k, d.shape[1])
        order = np.lexsort((refs[cand_c], d), axis=1)[:, :kk]
        dd = np.take_along_axis(d, order, axis=1)
        ii = refs[np.take_along_axis(cand_c, order, axis=1)]
        ii[~np.isfinite(dd)] = -1
        index[genes, :kk] = ii
        distance[genes, :kk] = dd
    return index, distance


def _relations(var: pd.DataFrame, index: np.ndarray, distance: np.ndarray) -> GenomicNeighbors:
    """Orientation, upstream, overlap, nesting and gap of given neighbours from coordinates."""
    tss = tss_of(var)
    start = var["start"].to_numpy(np.int64)
    end = var["end"].to_numpy(np.int64)
    plus = var["strand"].astype(str).to_numpy() == "+"
    valid = index >= 0
    j = np.where(valid, index, 0)
    g_tss = tss[:, None]
    n_tss = tss[j]
    g_plus = plus[:, None]
    n_plus = plus[j]
    signed = np.where(g_plus, n_tss - g_tss, g_tss - n_tss)
    upstream = (signed < 0) & valid
    same = g_plus == n_plus
    # opposite strands: divergent (head-to-head) when the 5' ends face away from each other
    divergent = ~same & np.where(g_plus, n_tss <= g_tss, n_tss >= g_tss)
    orientation = np.where(
        same,
        ORIENTATION_CODES["same_strand"],
        np.where(divergent, ORIENTATION_CODES["divergent"], ORIENTATION_CODES["convergent"]),
    ).astype(np.int8)
    orientation[~valid] = 0
    s1, e1 = start[:, None], end[:, None]
    s2, e2 = start[j], end[j]
    overlap = (np.maximum(s1, s2) < np.minimum(e1, e2)) & valid
    nested = (((s2 >= s1) & (e2 <= e1)) | ((s1 >= s2) & (e1 <= e2))) & valid
    gap = np.maximum(0, np.maximum(s1, s2) - np.minimum(e1, e2)).astype(np.float64)
    gap[~valid] = np.inf
    return GenomicNeighbors(index, distance, upstream, orientation, overlap, nested, gap)


def find_genomic_neighbors(
    var: pd.DataFrame, reference: np.ndarray, k: int = 20
) -> GenomicNeighbors:
    """K nearest reference genes of every gene in ``var`` by TSS distance (vectorised).

    Works per chromosome on sorted reference TSS with :func:`numpy.searchsorted`; a gene is
    never its own neighbour. ``var`` needs ``chrom``, ``start``, ``end``, ``strand`` (and
    optionally ``tss``), 0-based bp; ``reference`` is a boolean ``(n_genes,)`` mask.

    Raises
    ------
    ValueError
        If ``k < 1``.
    """
    if int(k) < 1:
        msg = f"k must be >= 1, got {k}"
        raise ValueError(msg)
    chrom = var["chrom"].astype(str).to_numpy()
    index, distance = _search(chrom, tss_of(var), np.asarray(reference, dtype=bool), int(k))
    return _relations(var, index, distance)


def neighbors_to_sparse(nb: GenomicNeighbors) -> dict[str, sparse.csr_matrix]:
    """``(n_genes, n_genes)`` CSR graphs (row = gene, column = neighbour) of a search.

    Returns ``{"distances": bp (explicit zeros kept for genes sharing a TSS),
    "orientation": ORIENTATION_CODES, "overlap": OVERLAP_CODES}``.
    """
    n, k = nb.index.shape
    valid = nb.valid
    rows = np.repeat(np.arange(n), k).reshape(n, k)[valid]
    cols = nb.index[valid]

    def csr(values: np.ndarray) -> sparse.csr_matrix:
        m = sparse.csr_matrix((values, (rows, cols)), shape=(n, n))
        m.sort_indices()
        return m

    overlap = np.where(
        nb.nested[valid], OVERLAP_CODES["nested"], nb.overlap[valid] * OVERLAP_CODES["overlap"]
    )
    return {
        "distances": csr(nb.distance[valid].astype(np.float64)),
        "orientation": csr(nb.orientation[valid].astype(np.int8)),
        "overlap": csr(overlap.astype(np.int8)),
    }


def neighbors_from_distances(
    var: pd.DataFrame, distances: sparse.spmatrix, k: int
) -> GenomicNeighbors:
    """Rebuild a :class:`GenomicNeighbors` from a stored distance graph (no new search).

    ``distances`` is the ``(n_genes, n_genes)`` CSR written by :func:`neighbors_to_sparse`
    (stored entries are neighbours, zeros included); the ``k`` nearest per row are kept,
    ties broken by gene position as in :func:`find_genomic_neighbors`, and orientation,
    overlap and gap are derived from the coordinates in ``var``.

    Raises
    ------
    ValueError
        If the graph's shape does not match ``var`` or it has negative distances.
    """
    D = sparse.csr_matrix(distances)
    n = len(var)
    if D.shape != (n, n):
        msg = f"neighbour graph has shape {D.shape}, expected ({n}, {n})"
        raise ValueError(msg)
    if D.nnz and (D.data < 0).any():
        msg = "neighbour graph has negative distances"
        raise ValueError(msg)
    index = np.full((n, k), -1, dtype=np.int64)
    distance = np.full((n, k), np.inf)
    counts = np.diff(D.indptr)
    if D.nnz:
        row = np.repeat(np.arange(n), counts)
        order = np.lexsort((D.indices, D.data, row))
        rank = np.arange(D.nnz) - np.repeat(D.indptr[:-1], counts)
        keep = rank < k
        sel = order[keep]
        index[row[sel], rank[keep]] = D.indices[sel]
        distance[row[sel], rank[keep]] = D.data[sel]
    return _relations(var, index, distance)


def idw_weights(
    neighbors: GenomicNeighbors, k: int, use_distance: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour indices and unnormalised weights ``1 / (distance_bp + 1000)``, ``(n, k)`` each.

    Missing neighbours have index -1 and weight 0; weights are uniform without ``use_distance``.
    """
    idx = neighbors.index[:, :k]
    valid = idx >= 0
    w = 1.0 / (neighbors.distance[:, :k] + 1000.0) if use_distance else np.ones(idx.shape)
    return idx, np.where(valid, w, 0.0)


def idw_profiles(
    Y: np.ndarray, neighbors: GenomicNeighbors, k: int, use_distance: bool = True
) -> np.ndarray:
    """Distance-based profile: inverse-distance-weighted mean of the ``k`` nearest references.

    The method of Brown, Dong & Truong (PLoS One 19:e0307360, 2024,
    doi:10.1371/journal.pone.0307360). Weights are ``1 / (distance_bp + 1000)`` (uniform when
    ``use_distance`` is False). ``Y`` is ``(n_genes, n_tissues)``; genes with no neighbour get
    NaN. A neighbour's NaN value in a tissue leaves it out of that tissue's mean (NaN when no
    neighbour is measured there). Returns ``(n_genes, n_tissues)``.
    """
    idx, w = idw_weights(neighbors, k, use_distance)
    valid = idx >= 0
    vals = Y[np.where(valid, idx, 0)]
    vals = np.where(valid[:, :, None], vals, 0.0)
    if not np.isfinite(vals).all():  # partly measured neighbours: per-tissue weights
        seen = np.isfinite(vals)
        W = w[:, :, None] * seen
        den = W.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (W * np.where(seen, vals, 0.0)).sum(axis=1) / den
        out[den == 0] = np.nan
        return out
    denom = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.einsum("nk,nkt->nt", w, vals) / denom[:, None]
    out[denom == 0] = np.nan
    return out

"""The one genomic neighbour search (k nearest reference genes by TSS), on arrays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from .._logging import warn_data

#: Relative orientation of a neighbour to the target gene, coded once for the whole package:
#: ``0`` no neighbour (padding / sparse zero), then these codes (also the ``varp`` values).
ORIENTATION_CODES = {"same_strand": 1, "divergent": 2, "convergent": 3}
#: Names by code (index 0 = no neighbour).
ORIENTATION_NAMES = np.array(["", "same_strand", "divergent", "convergent"], dtype=object)
#: Overlap codes written to ``varp``: 0 neither, 1 overlapping gene bodies, 2 nested.
OVERLAP_CODES = {"overlap": 1, "nested": 2}


def normalize_chrom(names: pd.Series | Sequence[str]) -> pd.Series:
    """Chromosome names with a ``chr`` prefix (``1`` -> ``chr1``; ``MT``, ``M`` -> ``chrM``)."""
    s = pd.Series(names, dtype="string").str.strip()
    s = s.where(s.str.startswith("chr"), "chr" + s)
    return s.replace({"chrMT": "chrM"}).astype(str)


def tss_of(var: pd.DataFrame) -> np.ndarray:
    """TSS per gene in bp (0-based): ``var['tss']`` if present, else start/end by strand."""
    if "tss" in var.columns and not var["tss"].isna().any():
        return var["tss"].to_numpy(dtype=np.int64)
    plus = var["strand"].astype(str).to_numpy() == "+"
    return np.where(plus, var["start"].to_numpy(np.int64), var["end"].to_numpy(np.int64) - 1)


@dataclass
class GenomicNeighbors:
    """k nearest reference genes of every gene, as ``(n_genes, k)`` arrays.

    Sorted by TSS distance, ties by gene position; missing neighbours have ``index == -1``
    and ``distance == inf``. ``index``: gene position; ``distance``: TSS-to-TSS bp;
    ``upstream``: the neighbour's TSS is upstream (target strand); ``orientation``:
    :data:`ORIENTATION_CODES`, 0 missing; ``overlap`` / ``nested``: gene bodies overlap / one
    lies within the other; ``gap``: gene-body gap in bp (0 when overlapping).
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
    g_tss, n_tss, g_plus, n_plus = tss[:, None], tss[j], plus[:, None], plus[j]
    signed = np.where(g_plus, n_tss - g_tss, g_tss - n_tss)
    upstream = (signed < 0) & valid
    same = g_plus == n_plus
    # opposite strands: divergent (head-to-head) when the 5' ends face away from each other
    divergent = ~same & np.where(g_plus, n_tss <= g_tss, n_tss >= g_tss)
    opposite = np.where(divergent, ORIENTATION_CODES["divergent"], ORIENTATION_CODES["convergent"])
    orientation = np.where(same, ORIENTATION_CODES["same_strand"], opposite).astype(np.int8)
    orientation[~valid] = 0
    s1, e1, s2, e2 = start[:, None], end[:, None], start[j], end[j]
    overlap = (np.maximum(s1, s2) < np.minimum(e1, e2)) & valid
    nested = (((s2 >= s1) & (e2 <= e1)) | ((s1 >= s2) & (e1 <= e2))) & valid
    gap = np.maximum(0, np.maximum(s1, s2) - np.minimum(e1, e2)).astype(np.float64)
    gap[~valid] = np.inf
    return GenomicNeighbors(index, distance, upstream, orientation, overlap, nested, gap)


def find_genomic_neighbors(
    var: pd.DataFrame, reference: np.ndarray, k: int = 20
) -> GenomicNeighbors:
    """K nearest ``reference`` genes (bool mask, never the gene itself) of each gene by TSS."""
    if int(k) < 1:
        msg = f"k must be >= 1, got {k}"
        raise ValueError(msg)
    raw = var["chrom"].astype(str).to_numpy()
    chrom = normalize_chrom(raw).to_numpy()
    spellings = pd.Series(raw).groupby(chrom).unique()
    if len(mixed := spellings[spellings.str.len() > 1]):
        warn_data(
            f"var['chrom'] names {len(mixed)} chromosomes in more than one way (e.g. "
            f"{sorted(mixed.iloc[0])}, read as {mixed.index[0]!r}); write them consistently "
            "(geneimpute.pp.annotate_genes does)",
            stacklevel=5,
        )
    index, distance = _search(chrom, tss_of(var), np.asarray(reference, dtype=bool), int(k))
    return _relations(var, index, distance)


def neighbors_to_sparse(nb: GenomicNeighbors) -> dict[str, sparse.csr_matrix]:
    """CSR graphs ``distances`` (bp, zeros kept), ``orientation`` and ``overlap`` of a search."""
    n, valid = len(nb.index), nb.valid
    rows, cols = np.nonzero(valid)[0], nb.index[valid]

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
    """:class:`GenomicNeighbors`: the ``k`` nearest entries per row of a ``distances`` CSR."""
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
    """Neighbour indices (-1 missing) and weights ``1 / (distance_bp + 1000)`` (0 missing)."""
    idx = neighbors.index[:, :k]
    valid = idx >= 0
    w = 1.0 / (neighbors.distance[:, :k] + 1000.0) if use_distance else np.ones(idx.shape)
    return idx, np.where(valid, w, 0.0)


def idw_profiles(
    Y: np.ndarray, neighbors: GenomicNeighbors, k: int, use_distance: bool = True
) -> np.ndarray:
    """Inverse-distance-weighted mean of the ``k`` nearest references' rows of ``Y``, NaN-aware.

    Brown, Dong & Truong (PLoS One 2024, doi:10.1371/journal.pone.0307360).
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

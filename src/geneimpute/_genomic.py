"""Array-level genomic neighbour search (no AnnData): k nearest reference genes by TSS."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._utils import tss_of

#: Relative orientation codes of a neighbour to the target gene.
ORIENTATIONS = ("same_strand", "divergent", "convergent")


@dataclass
class GenomicNeighbors:
    """k nearest reference genes of every gene, as ``(n_genes, k)`` arrays.

    Missing neighbours (fewer than ``k`` reference genes on a chromosome) have ``index == -1``
    and ``distance == inf``.

    Attributes
    ----------
    index
        Position (in the gene order used to build it) of each neighbour, int64.
    distance
        Absolute TSS-to-TSS distance in bp, float64.
    upstream
        True where the neighbour's TSS lies upstream of the target's TSS (target strand).
    orientation
        0 same strand, 1 divergent (head-to-head), 2 convergent (tail-to-tail); -1 missing.
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


def find_genomic_neighbors(
    var: pd.DataFrame, reference: np.ndarray, k: int = 20
) -> GenomicNeighbors:
    """K nearest reference genes of every gene in ``var`` by TSS distance (vectorised).

    Works per chromosome on sorted reference TSS with :func:`numpy.searchsorted`; a gene is
    never its own neighbour. ``var`` needs ``chrom``, ``start``, ``end``, ``strand`` (and
    optionally ``tss``), 0-based bp.
    """
    n = len(var)
    if k < 1:
        msg = f"k must be >= 1, got {k}"
        raise ValueError(msg)
    chrom = var["chrom"].astype(str).to_numpy()
    tss = tss_of(var)
    start = var["start"].to_numpy(np.int64)
    end = var["end"].to_numpy(np.int64)
    plus = var["strand"].astype(str).to_numpy() == "+"
    reference = np.asarray(reference, dtype=bool)

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
        d[~inside] = np.inf
        d[refs[cand_c] == genes[:, None]] = np.inf  # never the gene itself
        # de-duplicate clipped candidates: keep only in-range ones (already inf otherwise)
        kk = min(k, d.shape[1])
        order = np.argsort(d, axis=1, kind="stable")[:, :kk]
        dd = np.take_along_axis(d, order, axis=1)
        ii = refs[np.take_along_axis(cand_c, order, axis=1)]
        ii[~np.isfinite(dd)] = -1
        index[genes, :kk] = ii
        distance[genes, :kk] = dd

    valid = index >= 0
    j = np.where(valid, index, 0)
    g_tss = tss[:, None]
    n_tss = tss[j]
    g_plus = plus[:, None]
    n_plus = plus[j]
    signed = np.where(g_plus, n_tss - g_tss, g_tss - n_tss)
    upstream = (signed < 0) & valid
    same = g_plus == n_plus
    divergent = ~same & upstream_of_each_other(g_plus, g_tss, n_tss)
    orientation = np.where(same, 0, np.where(divergent, 1, 2)).astype(np.int8)
    orientation[~valid] = -1
    s1, e1 = start[:, None], end[:, None]
    s2, e2 = start[j], end[j]
    overlap = (np.maximum(s1, s2) < np.minimum(e1, e2)) & valid
    nested = (((s2 >= s1) & (e2 <= e1)) | ((s1 >= s2) & (e1 <= e2))) & valid
    gap = np.maximum(0, np.maximum(s1, s2) - np.minimum(e1, e2)).astype(np.float64)
    gap[~valid] = np.inf
    return GenomicNeighbors(index, distance, upstream, orientation, overlap, nested, gap)


def upstream_of_each_other(g_plus: np.ndarray, g_tss: np.ndarray, n_tss: np.ndarray) -> np.ndarray:
    """For opposite-strand pairs: True when the 5' ends face away from each other (divergent)."""
    return np.where(g_plus, n_tss <= g_tss, n_tss >= g_tss)

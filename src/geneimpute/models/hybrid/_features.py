"""Per-gene inputs of the hybrid and the neighbour-derived features (arrays only)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..._core.neighbors import ORIENTATION_CODES, GenomicNeighbors

#: Number of per-token distance / orientation features (:func:`distance_features`).
N_DISTANCE_FEATURES = 8


@dataclass
class GeneInputs:
    """Per-gene model inputs (rows aligned with the expression matrix).

    Attributes
    ----------
    promoter
        ``(n_genes, length, 5)`` float32 one-hot promoters with an "observed" channel.
    gene_features
        ``(n_genes, n_features)`` float hand-made features (NaN allowed).
    neighbors
        k nearest *reference* genes of each gene (indices into the same rows).
    feature_names
        Names of the ``gene_features`` columns.

    Raises
    ------
    ValueError
        If the arrays disagree on the number of genes or shapes are wrong.
    """

    promoter: np.ndarray
    gene_features: np.ndarray
    neighbors: GenomicNeighbors
    feature_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = self.promoter.shape[0]
        if self.gene_features.shape[0] != n or self.neighbors.index.shape[0] != n:
            msg = (
                f"inputs disagree on the number of genes: promoter {n}, gene_features "
                f"{self.gene_features.shape[0]}, neighbors {self.neighbors.index.shape[0]}"
            )
            raise ValueError(msg)
        if self.promoter.ndim != 3 or self.promoter.shape[2] != 5:
            msg = f"promoter must be (n_genes, length, 5), got {self.promoter.shape}"
            raise ValueError(msg)
        if self.feature_names and len(self.feature_names) != self.gene_features.shape[1]:
            msg = (
                f"{len(self.feature_names)} feature names for "
                f"{self.gene_features.shape[1]} gene-feature columns"
            )
            raise ValueError(msg)


def distance_features(neighbors: GenomicNeighbors) -> np.ndarray:
    """Per-token distance/orientation features ``(n_genes, k, 8)``, float32.

    log10 TSS distance / 6, log10 gene-body gap / 6, upstream, same strand, divergent,
    convergent, overlapping, nested; zeros for missing neighbours.
    """
    valid = neighbors.valid
    d = np.where(valid, neighbors.distance, 0.0)
    gap = np.where(valid, neighbors.gap, 0.0)
    o = neighbors.orientation
    feats = np.stack(
        [
            np.log10(d + 1) / 6,
            np.log10(gap + 1) / 6,
            neighbors.upstream,
            o == ORIENTATION_CODES["same_strand"],
            o == ORIENTATION_CODES["divergent"],
            o == ORIENTATION_CODES["convergent"],
            neighbors.overlap,
            neighbors.nested,
        ],
        axis=-1,
    ).astype(np.float32)
    feats[~valid] = 0
    return feats


def density_features(neighbors: GenomicNeighbors) -> np.ndarray:
    """Gene-level neighbourhood features ``(n_genes, 4)`` (:data:`~._config.DENSITY_NAMES`).

    Log10 distance to the nearest reference gene, counts of reference genes within 20 kb and
    60 kb, and the fraction of those within 20 kb that are divergent partners.
    """
    d = neighbors.distance
    near20 = (d < 20_000).sum(axis=1)
    near60 = (d < 60_000).sum(axis=1)
    div20 = ((d < 20_000) & (neighbors.orientation == ORIENTATION_CODES["divergent"])).sum(axis=1)
    nearest = np.where(np.isfinite(d[:, 0]), np.log10(d[:, 0] + 1), np.nan)
    return np.column_stack([nearest, near20, near60, div20 / np.maximum(near20, 1)])

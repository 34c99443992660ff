"""Per-gene inputs of the hybrid and the neighbour-derived features (arrays only)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..._core.neighbors import ORIENTATION_CODES, GenomicNeighbors, idw_profiles
from ._config import HybridConfig

#: Orientations of a neighbour flagged in its token, in order.
ORIENTATIONS = ("same_strand", "divergent", "convergent")


@dataclass
class GeneInputs:
    """Per-gene inputs of :class:`HybridImputer` (rows aligned with the expression matrix).

    Attributes
    ----------
    promoter
        ``(n_genes, length, 5)`` float32 one-hot promoters with an "observed" channel.
    gene_features
        ``(n_genes, n_features)`` hand-made features (NaN allowed), named ``feature_names``.
    neighbors
        k nearest *reference* genes of each gene (indices into the same rows).

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
    """Per-token features ``(n_genes, k, 8)``: log10 distance and gap / 6, orientation flags."""
    valid = neighbors.valid
    d = np.where(valid, neighbors.distance, 0.0)
    gap = np.where(valid, neighbors.gap, 0.0)
    kinds = [neighbors.orientation == ORIENTATION_CODES[k] for k in ORIENTATIONS]
    place = [np.log10(d + 1) / 6, np.log10(gap + 1) / 6, neighbors.upstream]
    feats = np.stack([*place, *kinds, neighbors.overlap, neighbors.nested], axis=-1)
    feats = feats.astype(np.float32)
    feats[~valid] = 0
    return feats


def density_features(neighbors: GenomicNeighbors) -> np.ndarray:
    """Gene-level neighbourhood density ``(n_genes, 4)``, named by ``DENSITY_NAMES``."""
    d = neighbors.distance
    near20 = (d < 20_000).sum(axis=1)
    near60 = (d < 60_000).sum(axis=1)
    div20 = ((d < 20_000) & (neighbors.orientation == ORIENTATION_CODES["divergent"])).sum(axis=1)
    nearest = np.where(np.isfinite(d[:, 0]), np.log10(d[:, 0] + 1), np.nan)
    return np.column_stack([nearest, near20, near60, div20 / np.maximum(near20, 1)])


def reference_rows(Y: np.ndarray, inputs: GeneInputs, n_tissues: int, n_folds: int) -> np.ndarray:
    """Validate training arrays; return the reference rows (genes measured in some tissue)."""
    if Y.ndim != 2 or Y.shape[1] != n_tissues or Y.shape[0] != len(inputs.promoter):
        msg = (
            f"Y has shape {Y.shape}; expected ({len(inputs.promoter)}, {n_tissues}) "
            "(genes x tissues)"
        )
        raise ValueError(msg)
    if np.isinf(Y).any():
        msg = "Y has infinite values"
        raise ValueError(msg)
    ref = np.isfinite(Y).any(axis=1)
    rows = np.flatnonzero(ref)
    if len(rows) < max(20, 2 * n_folds):
        msg = f"need at least 20 reference genes (measured in some tissue), got {len(rows)}"
        raise ValueError(msg)
    nb_idx = inputs.neighbors.index
    if (nb_idx >= 0).any() and not ref[nb_idx[nb_idx >= 0]].all():
        msg = "inputs.neighbors points at genes without any measured value"
        raise ValueError(msg)
    measured = np.isfinite(Y[rows])
    if not measured.all() and (measured.sum(axis=0) < 20).any():
        msg = "every tissue needs at least 20 reference genes measured in it"
        raise ValueError(msg)
    return rows


def neighbor_arrays(
    Y: np.ndarray,
    inputs: GeneInputs,
    scale: tuple[np.ndarray, np.ndarray],
    W: np.ndarray,
    config: HybridConfig,
) -> dict[str, np.ndarray]:
    """Derive ``profile_tokens``, ``dist``, ``idw`` and ``genef`` from the log1p profiles ``Y``."""
    mu, sd = scale
    Yz = (Y - mu) / sd
    Yz = np.where(np.isfinite(Yz), Yz, 0.0)
    tok = [Yz]
    if config.uses("tissue_correlation"):
        tok.append(Yz @ W.T)
    prof = np.concatenate(tok, axis=1).astype(np.float32)
    use_distance = config.uses("distance")
    dist = distance_features(inputs.neighbors)
    if not use_distance:
        dist[:] = 0
    idw = idw_profiles(Y, inputs.neighbors, config.k_idw, use_distance)
    genef = inputs.gene_features.astype(np.float64)
    if use_distance and config.uses("neighbor_profile"):
        genef = np.column_stack([genef, density_features(inputs.neighbors)])
    return {"profile_tokens": prof, "dist": dist, "idw": idw, "genef": genef}

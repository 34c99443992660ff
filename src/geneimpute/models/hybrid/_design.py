"""The stage-2 (XGBoost) design matrix of the hybrid: one row per (gene, tissue)."""

from __future__ import annotations

import warnings

import numpy as np

#: bytes of the stage-2 design matrix written per block (fits in a core's L2 cache)
DESIGN_BLOCK_BYTES = 1 << 20


def design_names(
    blocks: list[str], n_components: int, gene_feature_names: list[str], *, related: bool
) -> list[str]:
    """Column names of :func:`build_design` for the given blocks and switches."""
    names = ["tissue_code"] + [f"tissue_pc{c + 1}" for c in range(n_components)]
    for key in blocks:
        names += [key, f"{key}_mean", f"{key}_specificity"]
        names += [f"{key}_related_tissues"] if related else []
    return names + list(gene_feature_names)


def build_design(
    blocks: dict[str, np.ndarray],
    rows: np.ndarray,
    gene_features: np.ndarray,
    components: np.ndarray,
    weights: np.ndarray | None,
    *,
    row_indexed: tuple[str, ...] = ("idw",),
) -> np.ndarray:
    """Stage-2 design ``(len(rows) * n_tissues, n_features)`` float32, gene-major rows.

    Parameters
    ----------
    blocks
        Per-gene tissue profiles ``(len(rows), T)`` (network read-outs), or ``(n_genes, T)`` for
        the keys in ``row_indexed`` (indexed by ``rows``). Each gives four columns: the value,
        the gene's mean over tissues, value - mean (specificity) and, with ``weights``, the
        tissue-correlation weighted value of related tissues.
    rows
        Gene rows the design is built for.
    gene_features
        ``(n_genes, F)`` per-gene features (indexed by ``rows``), repeated over tissues.
    components
        ``(T, C)`` tissue descriptors (eigenvectors of the tissue correlation).
    weights
        ``(T, T)`` tissue weights (:func:`~geneimpute._core.correlation.tissue_weights`) or None.

    Built block by block of genes small enough that a block's derived columns and its rows of
    the design stay in cache: memory is written once and no ``n_rows``-long temporary is made.
    """
    T = components.shape[0]
    n = len(rows)
    related = weights is not None
    F = 1 + components.shape[1] + len(blocks) * (4 if related else 3) + gene_features.shape[1]
    X = np.empty((n * T, F), dtype=np.float32)
    X3 = X.reshape(n, T, F)
    step = max(1, DESIGN_BLOCK_BYTES // (4 * T * F))
    with warnings.catch_warnings():  # genes with no neighbour: NaN, kept as missing
        warnings.simplefilter("ignore", RuntimeWarning)
        for s in range(0, n, step):
            sl = slice(s, s + step)
            out = X3[sl]  # (b, T, F) view
            out[:, :, 0] = np.arange(T)
            out[:, :, 1 : 1 + components.shape[1]] = components
            j = 1 + components.shape[1]
            for key, P in blocks.items():
                Pb = P[rows[sl]] if key in row_indexed else P[sl]
                mean = np.nanmean(Pb, axis=1, keepdims=True) if Pb.size else Pb[:, :1]
                out[:, :, j] = Pb
                out[:, :, j + 1] = mean
                out[:, :, j + 2] = Pb - mean
                j += 3
                if related and weights is not None:
                    out[:, :, j] = np.nan_to_num(Pb) @ weights.T
                    j += 1
            out[:, :, j:] = gene_features[rows[sl]][:, None, :]
    return X

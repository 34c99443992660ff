"""The sample step of :func:`~geneimpute.tl.impute_samples` on blocks of rows (any matrix)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import sparse

from .._adata import dense_rows
from .._core.neighbors import GenomicNeighbors, idw_weights
from .._dask import is_dask, map_rows
from .._timing import timed
from ._model import in_units


def all_nan_columns(X, chunk_size: int) -> np.ndarray:
    """Genes (columns) with no finite value in any sample, computed in row chunks."""
    seen = np.zeros(X.shape[1], dtype=bool)
    for s in range(0, X.shape[0], chunk_size):
        rows = np.arange(s, min(s + chunk_size, X.shape[0]))
        seen |= np.isfinite(dense_rows(X, rows)).any(axis=0)
    return ~seen


def neighbor_operator(
    nb: GenomicNeighbors, target: np.ndarray, k: int
) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Columns used and a sparse ``(n_columns, n_target)`` inverse-distance averaging matrix."""
    idx, w = idw_weights(nb, k)
    idx, w = idx[target], w[target]
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
    valid = idx >= 0
    cols, inv = np.unique(idx[valid], return_inverse=True)
    tgt = np.repeat(np.arange(len(idx)), valid.sum(axis=1))
    W = sparse.csr_matrix((w[valid], (inv, tgt)), shape=(len(cols), len(idx)))
    return cols, W


def residual(V: np.ndarray, codes: np.ndarray, cols, M: np.ndarray, log1p: bool) -> np.ndarray:
    """Log1p deviation of rows ``V`` (tissue ``codes``) from the medians ``M``, NaN -> 0."""
    R = V[:, cols]
    if log1p:
        np.log1p(R, out=R)
    R -= M[np.ix_(codes, cols)]
    return np.nan_to_num(R, copy=False, nan=0.0, posinf=0.0, neginf=0.0)


#: samples (and reference genes) used to fit ``beta``
N_FIT = 2000


def fit_samples(n_obs: int, random_state: int) -> np.ndarray:
    """Sorted samples whose rows fit ``beta``, drawn before any data is read (any engine)."""
    rng = np.random.default_rng([random_state, 1])
    return np.sort(rng.choice(n_obs, size=min(N_FIT, n_obs), replace=False))


def fit_residual_gain(
    V: np.ndarray,
    codes: np.ndarray,
    M: np.ndarray,
    reference: np.ndarray,
    nb: GenomicNeighbors,
    k: int,
    log1p: bool,
    rng,
) -> tuple[float, float]:
    """``(beta, r2)`` of ``residual ~ beta * idw_mean(neighbour residuals)``, beta in [0, 1]."""
    ref_idx = np.flatnonzero(reference)
    genes = np.sort(rng.choice(ref_idx, size=min(N_FIT, len(ref_idx)), replace=False))
    probe = np.zeros(len(reference), dtype=bool)
    probe[genes] = True
    cols, W = neighbor_operator(nb, probe, k)
    R_g = residual(V, codes, genes, M, log1p)
    Q = np.asarray(residual(V, codes, cols, M, log1p) @ W)
    num, den = float((R_g * Q).sum()), float((Q * Q).sum())
    beta = float(np.clip(num / den, 0.0, 1.0)) if den > 0 else 0.0
    ss = float((R_g**2).sum())
    r2 = 1.0 - float(((R_g - beta * Q) ** 2).sum()) / ss if ss > 0 else 0.0
    return beta, r2


@dataclass(eq=False)
class RowFiller:
    """Fill the targets of a float32 block of rows: return it (or, ``mask``, the cells filled)."""

    codes: np.ndarray  # each sample's tissue code
    pred: np.ndarray  # tissue-level prediction, tissues x genes, log1p
    med: np.ndarray  # tissue medians, tissues x genes, log1p
    tidx: np.ndarray  # target genes
    cols: np.ndarray  # their neighbour columns
    W: sparse.csr_matrix  # the averaging matrix of :func:`neighbor_operator`
    beta: float
    log1p: bool
    overwrite: bool
    mask: bool = False

    def fill(self, V: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(values of the target columns after filling, cells filled)``, both ``(rows, T)``."""
        c = self.codes[rows]
        P = self.pred[c][:, self.tidx]
        if self.beta > 0 and len(self.cols):
            P += self.beta * np.asarray(
                residual(V, c, self.cols, self.med, not self.log1p) @ self.W
            )
        values = in_units(P, self.log1p)
        block = V[:, self.tidx]
        sel = np.ones(block.shape, bool) if self.overwrite else ~np.isfinite(block)
        sel &= np.isfinite(values)
        block[sel] = values[sel]
        return block, sel

    def __call__(self, V: np.ndarray, rows: np.ndarray) -> np.ndarray:
        block, sel = self.fill(V, rows)
        if self.mask:
            out = np.zeros(V.shape, dtype=bool)
            out[:, self.tidx] = sel
            return out
        out = V.copy()  # never write into the caller's (or dask's) chunk
        out[:, self.tidx] = block
        return out


def fill_samples(
    X: Any, filler: RowFiller, chunk_size: int, timings: dict[str, float]
) -> tuple[Any, Any]:
    """Build the output layer and its mask: lazy for dask input, else chunk by chunk."""
    if is_dask(X):  # lazy layers: computed when written (write_zarr) or .compute()d
        out = map_rows(X, filler, np.float32, max_rows=chunk_size)
        fill = map_rows(X, replace(filler, mask=True), np.bool_, max_rows=chunk_size)
        return out, fill
    with timed("sample_impute", timings):
        out = np.empty(X.shape, dtype=np.float32)
        fill = np.zeros(X.shape, dtype=bool)
        for s in range(0, X.shape[0], chunk_size):
            rows = np.arange(s, min(s + chunk_size, X.shape[0]))
            V = dense_rows(X, rows)  # each chunk is read once
            out[rows] = V
            block, sel = filler.fill(V, rows)
            out[np.ix_(rows, filler.tidx)] = block
            fill[np.ix_(rows, filler.tidx)] = sel
    return out, fill


def count_filled(
    fill: Any, target: np.ndarray, n_finite: np.ndarray | None, overwrite: bool
) -> int:
    """Count the cells filled: from the mask, or (lazy mask) from the finite values per gene."""
    if n_finite is None:
        return int(fill.sum())
    n_cells = int(target.sum()) * fill.shape[0]
    return n_cells if overwrite else n_cells - int(n_finite[target].sum())

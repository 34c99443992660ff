"""Tissue x tissue correlations and the weights derived from them (arrays only)."""

from __future__ import annotations

import numpy as np


def correlation_matrix(Y: np.ndarray) -> np.ndarray:
    """Pearson correlation between the columns (tissues) of ``Y`` ``(n_genes, n_tissues)``.

    Constant columns get 0, the diagonal 1. With NaN, each pair uses the genes measured in
    both (pairwise-complete; 0 below 3 such genes). Infinite values raise ``ValueError``.
    """
    Y = np.asarray(Y, dtype=np.float64)
    if np.isinf(Y).any():
        msg = "tissue correlation needs finite expression (inf found)"
        raise ValueError(msg)
    if np.isnan(Y).any():  # partly measured genes: pairwise-complete correlation
        import pandas as pd

        P = pd.DataFrame(Y).corr(min_periods=3).to_numpy()
        P = np.nan_to_num(np.clip(P, -1.0, 1.0))
        np.fill_diagonal(P, 1.0)
        return P
    Z = Y - Y.mean(axis=0)
    sd = np.sqrt((Z**2).sum(axis=0))
    sd[sd == 0] = np.inf
    C = (Z.T @ Z) / np.outer(sd, sd)
    np.fill_diagonal(C, 1.0)
    return C


def check_correlation(C: np.ndarray, n_tissues: int, *, what: str = "tissue correlation") -> None:
    """Raise if ``C`` is not a finite symmetric ``(n_tissues, n_tissues)`` matrix in [-1, 1]."""
    C = np.asarray(C, dtype=np.float64)
    if C.shape != (n_tissues, n_tissues):
        msg = f"{what} has shape {C.shape}, expected ({n_tissues}, {n_tissues})"
        raise ValueError(msg)
    if not np.isfinite(C).all():
        msg = f"{what} has {int((~np.isfinite(C)).sum())} NaN/inf entries"
        raise ValueError(msg)
    if (np.abs(C) > 1 + 1e-6).any() or not np.allclose(C, C.T, atol=1e-6):
        msg = f"{what} must be symmetric with values in [-1, 1]"
        raise ValueError(msg)


def tissue_weights(C: np.ndarray) -> np.ndarray:
    """Row-normalised squared positive tissue correlations, zero diagonal, ``(T, T)``."""
    W = np.clip(C, 0, None) ** 2
    np.fill_diagonal(W, 0)
    s = W.sum(axis=1, keepdims=True)
    s[s == 0] = 1
    return W / s

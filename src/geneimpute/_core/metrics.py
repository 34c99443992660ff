"""Accuracy metrics on log1p(TPM) profiles of held-out genes."""

from __future__ import annotations

import numpy as np


def rowwise_pearson(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Pearson r between matching rows of A and B; NaN where a row is constant."""
    A = A - A.mean(axis=1, keepdims=True)
    B = B - B.mean(axis=1, keepdims=True)
    den = np.sqrt((A**2).sum(axis=1) * (B**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (A * B).sum(axis=1) / den, np.nan)


def per_tissue_pearson(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Pearson r across genes within each tissue.

    Inputs are ``(n_genes, n_tissues)``; returns ``(n_tissues,)``.
    """
    return rowwise_pearson(pred.T, true.T)


def per_gene_centered_pearson(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Pearson r across tissues per gene after centring each tissue, ``(n_genes,)``.

    Each matrix is centred by its own per-tissue mean over the evaluated genes, so the score
    measures tissue *specificity* rather than overall expression level.
    """
    return rowwise_pearson(pred - pred.mean(axis=0), true - true.mean(axis=0))


def regression_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Pearson r per tissue (mean), centred per-gene r (mean), R^2 and MSE on log1p(TPM).

    Parameters
    ----------
    pred, true
        ``(n_genes, n_tissues)`` log1p(TPM), no NaN.

    Returns
    -------
    ``{"pearson_tissue", "pearson_gene_centered", "r2", "mse"}``; R^2 is
    :func:`sklearn.metrics.r2_score` over all (gene, tissue) values.
    """
    from sklearn.metrics import mean_squared_error, r2_score

    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape:
        msg = f"pred {pred.shape} and true {true.shape} differ in shape"
        raise ValueError(msg)
    if not (np.isfinite(pred).all() and np.isfinite(true).all()):
        msg = "pred and true must not contain NaN"
        raise ValueError(msg)
    return {
        "pearson_tissue": float(np.nanmean(per_tissue_pearson(pred, true))),
        "pearson_gene_centered": float(np.nanmean(per_gene_centered_pearson(pred, true))),
        "r2": float(r2_score(true.ravel(), pred.ravel())),
        "mse": float(mean_squared_error(true.ravel(), pred.ravel())),
    }

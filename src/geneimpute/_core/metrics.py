"""Accuracy metrics on log1p(TPM) profiles of held-out genes."""

from __future__ import annotations

import warnings

import numpy as np


def rowwise_pearson(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Pearson r between matching rows of A and B; NaN where a row is constant."""
    A = A - A.mean(axis=1, keepdims=True)
    B = B - B.mean(axis=1, keepdims=True)
    den = np.sqrt((A**2).sum(axis=1) * (B**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (A * B).sum(axis=1) / den, np.nan)


def per_tissue_pearson(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Pearson r across genes within each tissue of ``(n_genes, n_tissues)``, ``(n_tissues,)``."""
    return rowwise_pearson(pred.T, true.T)


def per_gene_centered_pearson(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Pearson r across tissues per gene after centring each tissue (tissue specificity)."""
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

    Raises
    ------
    ValueError
        If the shapes differ or a value is NaN or infinite.
    """
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape:
        msg = f"pred {pred.shape} and true {true.shape} differ in shape"
        raise ValueError(msg)
    if not (np.isfinite(pred).all() and np.isfinite(true).all()):
        msg = "pred and true must not contain NaN"
        raise ValueError(msg)
    per_tissue, per_gene = per_tissue_pearson(pred, true), per_gene_centered_pearson(pred, true)
    return _summary(per_tissue, per_gene, true.ravel(), pred.ravel())


def _summary(per_tissue, per_gene, true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import mean_squared_error, r2_score

    return {
        "pearson_tissue": float(np.nanmean(per_tissue)),
        "pearson_gene_centered": float(np.nanmean(per_gene)),
        "r2": float(r2_score(true, pred)),
        "mse": float(mean_squared_error(true, pred)),
    }


def masked_per_tissue_pearson(pred: np.ndarray, true: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pearson r across the genes masked in each tissue, ``(n_tissues,)``; NaN below 3 genes."""
    out = np.full(mask.shape[1], np.nan)
    for t in np.flatnonzero(mask.sum(axis=0) >= 3):
        m = mask[:, t]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[t] = np.corrcoef(pred[m, t], true[m, t])[0, 1]
    return out


def masked_metrics(pred: np.ndarray, true: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """:func:`regression_metrics` over the hidden cells (``mask``), r needing 3 cells each."""
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if not (pred.shape == true.shape == mask.shape):
        msg = f"pred {pred.shape}, true {true.shape} and mask {mask.shape} differ in shape"
        raise ValueError(msg)
    if not (np.isfinite(pred[mask]).all() and np.isfinite(true[mask]).all()):
        msg = "pred and true must not contain NaN where mask is True"
        raise ValueError(msg)
    per_tissue = masked_per_tissue_pearson(pred, true, mask)
    P, Y = np.where(mask, pred, np.nan), np.where(mask, true, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # tissues never hidden: all-NaN column
        Pc, Yc = (A - np.nanmean(A, axis=0) for A in (P, Y))
        Pc, Yc = (A - np.nanmean(A, axis=1, keepdims=True) for A in (Pc, Yc))
        num = np.nansum(Pc * Yc, axis=1)
        den = np.sqrt(np.nansum(Pc**2, axis=1) * np.nansum(Yc**2, axis=1))
        per_gene = np.where((mask.sum(axis=1) >= 3) & (den > 0), num / den, np.nan)
        return _summary(per_tissue, per_gene, true[mask], pred[mask])

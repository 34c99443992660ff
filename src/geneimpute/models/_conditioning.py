"""Completing partly observed profiles: condition the hybrid's errors on the observed tissues."""

from __future__ import annotations

import numpy as np


class ObservedTissueConditioner:
    """Conditional-Gaussian completion of the hybrid's errors over tissues (arrays only).

    A gene's errors ``e = y - f`` in its measured tissues ``O`` predict those in the hidden
    ones ``H`` (simple kriging): ``y_H = f_H + m_H + S_HO (S_OO + a I)^{-1} (e_O - m_O)``,
    with ``S`` and ``m`` the covariance and mean of the reference genes' out-of-fold errors.

    Parameters
    ----------
    ridge
        ``a``: added to the diagonal of ``S_OO`` (in log1p(TPM)^2) for a stable solve.

    Attributes
    ----------
    covariance_
        ``(n_tissues, n_tissues)`` shrunk covariance of the out-of-fold errors (log1p^2).
    mean_
        ``(n_tissues,)`` mean out-of-fold error (log1p).
    """

    def __init__(self, ridge: float = 1e-3) -> None:
        self.ridge = float(ridge)
        self.covariance_: np.ndarray | None = None
        self.mean_: np.ndarray | None = None

    def fit(self, residuals: np.ndarray) -> ObservedTissueConditioner:
        """Estimate the error covariance from ``(n_genes, n_tissues)`` out-of-fold residuals.

        With NaN residuals (unmeasured cells) the covariance is pairwise-complete, shrunk 10%
        towards its diagonal and made positive semi-definite.

        Raises
        ------
        ValueError
            If ``residuals`` is not 2-D with at least 2 genes, or has infinite values.
        """
        from sklearn.covariance import LedoitWolf

        R = np.asarray(residuals, dtype=np.float64)
        if R.ndim != 2 or R.shape[0] < 2 or np.isinf(R).any():
            msg = f"residuals must be a (n_genes >= 2, n_tissues) array without inf, got {R.shape}"
            raise ValueError(msg)
        if np.isfinite(R).all():
            lw = LedoitWolf().fit(R)
            return self.set_state(lw.covariance_, lw.location_)
        return self.set_state(*pairwise_covariance(R))

    def set_state(self, covariance: np.ndarray, mean: np.ndarray) -> ObservedTissueConditioner:
        """Set the fitted state (as saved); ``ValueError`` on a shape mismatch or NaN."""
        S = np.asarray(covariance, dtype=np.float64)
        m = np.asarray(mean, dtype=np.float64).reshape(-1)
        if S.shape != (len(m), len(m)) or not (np.isfinite(S).all() and np.isfinite(m).all()):
            msg = f"covariance {S.shape} and mean {m.shape} do not match or are not finite"
            raise ValueError(msg)
        self.covariance_, self.mean_ = S, m
        return self

    def complete(self, pred: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """Condition ``pred`` on the finite cells of ``observed``; return the completed profiles.

        Parameters
        ----------
        pred
            ``(n_genes, n_tissues)`` hybrid predictions, log1p(TPM).
        observed
            ``(n_genes, n_tissues)`` measured log1p(TPM), NaN where missing.

        Returns
        -------
        The conditioned prediction where missing, ``observed`` where observed.
        """
        if self.covariance_ is None or self.mean_ is None:
            msg = "ObservedTissueConditioner is not fitted"
            raise RuntimeError(msg)
        pred = np.asarray(pred, dtype=np.float64)
        observed = np.asarray(observed, dtype=np.float64)
        T = len(self.mean_)
        if pred.shape != observed.shape or pred.ndim != 2 or pred.shape[1] != T:
            msg = f"pred {pred.shape} and observed {observed.shape} must both be (n_genes, {T})"
            raise ValueError(msg)
        seen = np.isfinite(observed)
        out = pred.copy()
        S, m = self.covariance_, self.mean_
        err = np.where(seen, observed - pred - m, 0.0)
        for genes, obs, H in observation_patterns(seen):
            if len(H):
                A = S[np.ix_(obs, obs)] + self.ridge * np.eye(len(obs))
                coef = np.linalg.solve(A, S[np.ix_(obs, H)])  # (|O|, |H|)
                out[np.ix_(genes, H)] += m[H] + err[np.ix_(genes, obs)] @ coef
            out[np.ix_(genes, obs)] = observed[np.ix_(genes, obs)]
        return out


def observation_patterns(seen: np.ndarray):
    """Yield ``(rows, measured, missing)`` index arrays per pattern of ``seen`` (none: skipped)."""
    partly = np.flatnonzero(seen.any(axis=1))
    if not len(partly):
        return
    patterns, which = np.unique(seen[partly], axis=0, return_inverse=True)
    for p, pattern in enumerate(patterns):
        yield partly[which.ravel() == p], np.flatnonzero(pattern), np.flatnonzero(~pattern)


def pairwise_covariance(R: np.ndarray, shrinkage: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Return the pairwise-complete covariance (shrunk, made PSD) and the mean of ``R``."""
    import pandas as pd

    S = np.nan_to_num(pd.DataFrame(R).cov(min_periods=3).to_numpy())
    S = (1 - shrinkage) * S + shrinkage * np.diag(np.diag(S))
    w, V = np.linalg.eigh((S + S.T) / 2)
    S = (V * np.clip(w, 1e-9, None)) @ V.T
    return S, np.nan_to_num(np.nanmean(R, axis=0))

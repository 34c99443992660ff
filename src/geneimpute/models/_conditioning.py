"""Completing partly observed profiles: condition the hybrid's errors on the observed tissues.

A gene measured in some tissues and missing in others: the hybrid predicts its whole profile
from promoter and neighbours, and where the gene *was* measured its errors are known. Errors of
the hybrid are strongly correlated across tissues (a gene whose level the model misjudges in
one tissue is misjudged in related tissues), so the known errors predict the unknown ones. With
``e = y - f`` the hybrid's error in log1p(TPM), modelled as Gaussian with covariance ``S`` over
tissues (Ledoit-Wolf shrinkage estimate from the out-of-fold errors of the reference genes), the
completed value in the hidden tissues ``H`` given the observed ones ``O`` is the conditional
mean (simple kriging of the error)::

    y_H = f_H + m_H + S_HO (S_OO + a I)^{-1} (e_O - m_O)

with ``m`` the mean out-of-fold error. A gene with no observed tissue keeps the hybrid's
prediction (``m`` is not added), so one model serves fully and partly missing genes. This is
where the tissue correlation enters the prediction of a partly observed gene: through the
covariance of the errors, learned on the reference genes.
"""

from __future__ import annotations

import numpy as np


class ObservedTissueConditioner:
    """Conditional-Gaussian completion of the hybrid's errors over tissues (arrays only).

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

        Raises
        ------
        ValueError
            If ``residuals`` is not 2-D with at least 2 genes, or has infinite values.

        NaN residuals (cells a reference gene was not measured in) are left out: the
        covariance is then pairwise-complete, shrunk 10% towards its diagonal and projected
        onto the positive semi-definite matrices; without NaN it is the Ledoit-Wolf estimate.
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
        """Set the fitted state (as saved); raises ValueError on a shape mismatch or NaN."""
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
        ``(n_genes, n_tissues)``: the conditioned prediction in the missing cells, the observed
        value in the observed cells; rows with no observed cell are ``pred`` unchanged.
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
    """Group rows by their pattern of measured columns.

    Yields ``(rows, measured, missing)`` index arrays for each distinct pattern of the boolean
    ``(n_rows, n_columns)`` ``seen`` that has at least one measured column; rows with none
    are skipped.
    """
    partly = np.flatnonzero(seen.any(axis=1))
    if not len(partly):
        return
    patterns, which = np.unique(seen[partly], axis=0, return_inverse=True)
    for p, pattern in enumerate(patterns):
        yield partly[which.ravel() == p], np.flatnonzero(pattern), np.flatnonzero(~pattern)


def pairwise_covariance(R: np.ndarray, shrinkage: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise-complete covariance of NaN-holding columns, shrunk and made PSD; and the mean."""
    import pandas as pd

    S = np.nan_to_num(pd.DataFrame(R).cov(min_periods=3).to_numpy())
    S = (1 - shrinkage) * S + shrinkage * np.diag(np.diag(S))
    w, V = np.linalg.eigh((S + S.T) / 2)
    S = (V * np.clip(w, 1e-9, None)) @ V.T
    return S, np.nan_to_num(np.nanmean(R, axis=0))

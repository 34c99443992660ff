"""Calibrated intervals on arrays: Mondrian (per tissue), normalised split-conformal regression."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

#: Smallest difficulty estimate, as a fraction of the median one (keeps residual / sigma finite).
SIGMA_FLOOR = 0.05


class TissueConformal:
    """Per-tissue normalised conformal intervals around predicted log1p values.

    Residuals of reference genes the model did not see, per tissue (Mondrian) and scaled by a
    difficulty estimate (normalised conformal regression; :class:`crepes.ConformalRegressor`).

    Attributes
    ----------
    residuals_
        ``(n_cal_genes, n_tissues)`` calibration residuals ``y - y_hat`` (log1p TPM).
    sigmas_
        ``(n_cal_genes, n_tissues)`` difficulty estimates of the same entries (> 0).
    """

    def __init__(self) -> None:
        self.residuals_: np.ndarray | None = None
        self.sigmas_: np.ndarray | None = None
        self._cr: Any = None

    def fit(self, residuals: np.ndarray, sigmas: np.ndarray) -> TissueConformal:
        """Calibrate on ``(n_genes, n_tissues)`` residuals (NaN: left out) and difficulties.

        Raises
        ------
        ValueError
            On shape mismatches, infinite values, non-positive sigmas, fewer than 20
            calibration genes or a tissue with fewer than 20 residuals.
        """
        with warnings.catch_warnings():  # crepes sets simplefilter("always") on import
            from crepes import ConformalRegressor

        R = np.asarray(residuals, dtype=np.float64)
        S = np.asarray(sigmas, dtype=np.float64)
        if R.ndim != 2 or R.shape != S.shape:
            msg = f"residuals {R.shape} and sigmas {S.shape} must be equal 2-D shapes"
            raise ValueError(msg)
        if np.isinf(R).any() or not np.isfinite(S).all() or (S <= 0).any():
            msg = "calibration residuals must be finite or NaN and sigmas finite and > 0"
            raise ValueError(msg)
        if R.shape[0] < 20:
            msg = f"need at least 20 calibration genes, got {R.shape[0]}"
            raise ValueError(msg)
        if (np.isfinite(R).sum(axis=0) < 20).any():
            msg = "every tissue needs at least 20 calibration residuals"
            raise ValueError(msg)
        self.residuals_, self.sigmas_ = R, S
        bins = np.broadcast_to(np.arange(R.shape[1]), R.shape).ravel()
        seen = np.isfinite(R).ravel()  # NaN: a cell the gene was not measured in
        self._cr = ConformalRegressor().fit(
            residuals=R.ravel()[seen], sigmas=S.ravel()[seen], bins=bins[seen]
        )
        return self

    @property
    def n_tissues(self) -> int:
        """Number of tissues (Mondrian categories) calibrated."""
        return 0 if self.residuals_ is None else int(self.residuals_.shape[1])

    def subset(self, n_genes: int, random_state: int = 0) -> TissueConformal:
        """Calibrate on a seeded random subset of ``n_genes`` genes (``self`` if it has fewer).

        Raises
        ------
        ValueError
            If ``n_genes`` is not an integer >= 20, or the calibration is not fitted.
        """
        if isinstance(n_genes, bool) or not isinstance(n_genes, int) or n_genes < 20:
            msg = f"n_genes must be an integer >= 20, got {n_genes!r}"
            raise ValueError(msg)
        R, S = self.residuals_, self.sigmas_
        if R is None or S is None:
            msg = "this TissueConformal is not fitted"
            raise ValueError(msg)
        if n_genes >= len(R):
            return self
        keep = np.sort(np.random.default_rng(random_state).choice(len(R), n_genes, replace=False))
        return TissueConformal().fit(R[keep], S[keep])

    def interval(
        self, pred: np.ndarray, sigmas: np.ndarray, confidence: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds ``(n_genes, n_tissues)`` at ``confidence`` (e.g. 0.9).

        Raises
        ------
        RuntimeError
            If not calibrated.
        ValueError
            If ``confidence`` is not in (0, 1) or shapes do not match the calibration.
        """
        if self._cr is None:
            msg = "the conformal calibration is not fitted"
            raise RuntimeError(msg)
        if not 0 < float(confidence) < 1:
            msg = f"interval (confidence) must be in (0, 1), got {confidence!r}"
            raise ValueError(msg)
        P = np.asarray(pred, dtype=np.float64)
        S = np.asarray(sigmas, dtype=np.float64)
        if P.ndim != 2 or P.shape != S.shape or P.shape[1] != self.n_tissues:
            msg = f"pred {P.shape} and sigmas {S.shape} must be (n_genes, {self.n_tissues})"
            raise ValueError(msg)
        if not P.size:
            return P.copy(), P.copy()
        bins = np.broadcast_to(np.arange(P.shape[1]), P.shape).ravel()
        iv = self._cr.predict_int(
            y_hat=P.ravel(), sigmas=S.ravel(), bins=bins, confidence=float(confidence)
        )
        return iv[:, 0].reshape(P.shape), iv[:, 1].reshape(P.shape)


def floor_sigmas(raw: np.ndarray, floor: float | None = None) -> tuple[np.ndarray, float]:
    """Return ``raw`` clipped at ``floor`` (default ``SIGMA_FLOOR`` x its median) and ``floor``."""
    raw = np.asarray(raw, dtype=np.float64)
    if floor is None:
        finite = raw[np.isfinite(raw) & (raw > 0)]
        reference = float(np.median(finite)) if finite.size else 1.0
        floor = max(SIGMA_FLOOR * reference, 1e-6)
    return np.where(np.isfinite(raw), np.maximum(raw, floor), floor), float(floor)

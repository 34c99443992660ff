"""Donor-level baselines on ``(donors, tissues, genes)`` arrays: tissue mean, kNN, TEEBoT."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .._persistence import SavedModel, damaged, need


def _standardise(V: np.ndarray, donors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per (tissue, gene) mean and sd over ``donors`` that have the tissue; ``(T, G)`` each."""
    with warnings.catch_warnings(action="ignore", category=RuntimeWarning):  # a tissue no donor has
        mu = np.nanmean(V[donors], axis=0)
        sd = np.nanstd(V[donors], axis=0)
    glob_mu = np.nanmean(V[donors], axis=(0, 1))
    mu = np.asarray(np.where(np.isfinite(mu), mu, glob_mu), dtype=np.float64)
    return mu, np.where(np.isfinite(sd) & (sd > 1e-3), sd, 1.0)


class TissueMean(SavedModel):
    """Baseline: a tissue's mean profile over training donors (saved: ``mu`` in ``arrays.npz``)."""

    FORMAT = "geneimpute.TissueMean"
    FITTED = "mu_"

    def fit(self, V: np.ndarray, donors: np.ndarray) -> TissueMean:
        """Learn per-tissue means from ``donors`` of ``V`` ``(D, T, G)``."""
        self.mu_, _ = _standardise(V, donors)
        return self

    def predict(self, V: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """Predict ``(n, G)`` for ``pairs`` ``(n, 2)`` of (donor, target tissue)."""
        return self.mu_[pairs[:, 1]]

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"mu": self.mu_}

    def _restore(self, path, shape, state, arrays, map_location) -> None:
        self.mu_ = need(arrays, "mu", path, shape)


class KNNDonor(SavedModel):
    """Baseline: scikit-learn ``KNNImputer`` on the donors x (tissue, gene) matrix.

    Saved: the training donors' flattened ``profiles`` (NaN = not sampled) in ``arrays.npz``;
    :meth:`load` refits the imputer on them (it only stores them).
    """

    FORMAT = "geneimpute.KNNDonor"
    FITTED = "knn_"

    def __init__(self, n_neighbors: int = 10) -> None:
        self.n_neighbors = n_neighbors

    def fit(self, V: np.ndarray, donors: np.ndarray) -> KNNDonor:
        """Fit on the flattened profiles of ``donors``."""
        self.shape_ = V.shape[1:]
        self._fit_profiles(V[donors].reshape(len(donors), -1))
        return self

    def _fit_profiles(self, W: np.ndarray) -> None:
        from sklearn.impute import KNNImputer

        self.profiles_ = W
        self.knn_ = KNNImputer(n_neighbors=self.n_neighbors, keep_empty_features=True)
        self.knn_.fit(W)

    def predict(self, V: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """Mask each target tissue, impute the donor's row, read the target back."""
        n = np.arange(len(pairs))
        rows = V[pairs[:, 0]].copy()
        rows[n, pairs[:, 1]] = np.nan
        filled = self.knn_.transform(rows.reshape(len(pairs), -1)).reshape(len(pairs), *self.shape_)
        return filled[n, pairs[:, 1]].astype(np.float64)

    def _shape(self) -> tuple[int, int]:
        return self.shape_

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"profiles": self.profiles_}

    def _restore(self, path, shape, state, arrays, map_location) -> None:
        W = need(arrays, "profiles", path, (None, shape[0] * shape[1]), finite=False)
        if np.isinf(W).any() or len(W) < 1:
            raise damaged(path, "arrays.npz: profiles must hold training donors, no infinity")
        self.shape_ = shape
        self._fit_profiles(W)


class TEEBoT(SavedModel):
    """Baseline after TEEBoT (Basu et al. 2021): truncated SVD + linear regression.

    A source tissue's standardised profile is reduced by truncated SVD and regressed onto the
    target tissue's; a donor's observed sources are averaged, weighted by their training donors.
    Saved in ``arrays.npz``: ``mu``, ``sd``, the tissue ``pairs`` with a model, their
    ``n_donors`` and per pair ``components_{i}``, ``coef_{i}``, ``intercept_{i}``.
    """

    FORMAT = "geneimpute.TEEBoT"
    FITTED = "models_"

    def __init__(self, n_components: int = 10, min_pairs: int = 15) -> None:
        self.n_components, self.min_pairs = n_components, min_pairs

    def fit(self, V: np.ndarray, donors: np.ndarray) -> TEEBoT:
        """Fit one SVD + regression per (source, target) tissue pair with enough donors."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.linear_model import Ridge

        self.mu_, self.sd_ = _standardise(V, donors)
        Z = (V - self.mu_) / self.sd_
        seen = np.isfinite(V[donors]).all(axis=2)
        T = V.shape[1]
        self.models_: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray, int]] = {}
        for s in range(T):
            for t in range(T):
                both = donors[seen[:, s] & seen[:, t]] if s != t else donors[:0]
                if len(both) < self.min_pairs:
                    continue
                k = min(self.n_components, len(both) - 1, V.shape[2] - 1)
                svd = TruncatedSVD(k, random_state=0).fit(Z[both, s])
                reg = Ridge(alpha=1.0).fit(svd.transform(Z[both, s]), Z[both, t])
                self.models_[(s, t)] = (svd.components_, reg.coef_, reg.intercept_, len(both))
        return self

    def predict(self, V: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """Average the per-source predictions (tissue mean where no source model exists)."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        Z = (V - self.mu_) / self.sd_
        seen = np.isfinite(V).all(axis=2)
        acc = np.zeros((len(pairs), V.shape[2]))
        wsum = np.zeros(len(pairs))
        # one batched call per (source, target) model; rows accumulate in ascending source order
        for (s, t), (axes, coef, intercept, n) in sorted(self.models_.items()):
            rows = np.flatnonzero((pairs[:, 1] == t) & seen[pairs[:, 0], s])
            if not len(rows):
                continue
            acc[rows] += n * ((Z[pairs[rows, 0], s] @ axes.T) @ coef.T + intercept)
            wsum[rows] += n
        z = np.divide(acc, wsum[:, None], out=np.zeros_like(acc), where=wsum[:, None] > 0)
        target = pairs[:, 1]
        return self.mu_[target] + self.sd_[target] * z

    def _arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Return the fitted arrays, names prefixed with ``prefix``."""
        keys = sorted(self.models_)
        out = {
            "mu": self.mu_,
            "sd": self.sd_,
            "pairs": np.asarray(keys, dtype=np.int64).reshape(-1, 2),
            "n_donors": np.asarray([self.models_[k][3] for k in keys], dtype=np.int64),
        }
        for i, k in enumerate(keys):
            axes, coef, intercept, _ = self.models_[k]
            out.update({f"components_{i}": axes, f"coef_{i}": coef, f"intercept_{i}": intercept})
        return {prefix + name: a for name, a in out.items()}

    def _restore(self, path, shape, state, arrays, map_location) -> None:
        self.set_arrays(path, shape, arrays)

    def set_arrays(
        self, path: Path, shape: tuple[int, int], arrays: dict[str, np.ndarray], prefix: str = ""
    ) -> None:
        """Restore the arrays of :meth:`_arrays` (``DamagedModelError`` if damaged)."""
        T, G = shape

        def get(name: str, dims: tuple[int | None, ...]) -> np.ndarray:
            return need(arrays, prefix + name, path, dims)

        self.mu_, self.sd_ = get("mu", shape), get("sd", shape)
        pairs = get("pairs", (None, 2)).astype(np.int64)
        n_donors = get("n_donors", (len(pairs),))
        if pairs.size and (pairs.min() < 0 or pairs.max() >= T):
            raise damaged(path, f"arrays.npz: {prefix}pairs must be tissue indices below {T}")
        self.models_ = {}
        for i, (s, t) in enumerate(pairs.tolist()):
            axes = get(f"components_{i}", (None, G))
            coef = get(f"coef_{i}", (G, len(axes)))
            self.models_[(s, t)] = (axes, coef, get(f"intercept_{i}", (G,)), int(n_donors[i]))

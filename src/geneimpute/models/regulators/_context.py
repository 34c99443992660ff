"""Context ridge: a sample's unmeasured genes from the genes it measured, on arrays."""

from __future__ import annotations

import numpy as np

from .._conditioning import observation_patterns

ALPHAS = np.logspace(-1, 5, 13)
MIN_ROWS = 10
MIN_GROUP = 20


def _ridge_coefficients(F: np.ndarray, Y: np.ndarray, measured: np.ndarray, alphas: np.ndarray):
    """Return ridge ``coef``, ``intercept`` of each ``Y`` column on ``F`` over its measured rows."""
    from sklearn.linear_model import RidgeCV

    n, p = F.shape
    t = Y.shape[1]
    coef = np.zeros((p, t))
    intercept = np.zeros(t)
    groups: dict[bytes, list[int]] = {}
    for j in range(t):
        groups.setdefault(measured[:, j].tobytes(), []).append(j)
    order = [np.asarray(js) for js in sorted(groups.values(), key=len, reverse=True)]
    alpha = float(np.median(alphas))
    Ainv: np.ndarray | None = None
    for i, js in enumerate(order):
        rows = measured[:, js[0]]
        if rows.sum() < MIN_ROWS:
            ys = Y[np.ix_(rows, js)]
            intercept[js] = np.nanmean(ys, axis=0) if len(ys) else 0.0
            continue
        if i == 0:
            fit = RidgeCV(alphas=alphas, alpha_per_target=True).fit(F[rows], Y[np.ix_(rows, js)])
            coef[:, js] = np.atleast_2d(fit.coef_).T
            intercept[js] = fit.intercept_
            alpha = float(np.median(np.atleast_1d(fit.alpha_)))
            continue
        if Ainv is None:
            A = F @ F.T
            A[np.diag_indices_from(A)] += alpha
            Ainv = np.linalg.inv(A)
        V = np.zeros((n, len(js) + 1))
        V[rows, :-1] = Y[np.ix_(rows, js)]
        V[rows, -1] = 1.0
        X = Ainv @ V
        D = np.flatnonzero(~rows)
        if len(D):
            X -= Ainv[:, D] @ np.linalg.solve(Ainv[np.ix_(D, D)], X[D])
        X[~rows] = 0.0  # now A_SS^-1 [y, 1] on the rows S
        b = X[:, :-1].sum(axis=0) / X[:, -1].sum()
        dual = X[:, :-1] - np.outer(X[:, -1], b)
        coef[:, js] = F.T @ dual
        intercept[js] = b
    return coef, intercept


class ContextRidge:
    """Predict unmeasured genes of samples from the genes they measured.

    Each unmeasured target is regressed (ridge, a penalty per target by generalised
    cross-validation) on every gene the samples measured, over the training samples that
    measured it (as TEEBoT, Basu et al. 2021). Fits are cached per pattern of measured genes.

    Parameters
    ----------
    Z
        ``(n_train, n_genes)`` training expression, z-scored per gene, NaN = unmeasured; the
        first columns are the regulators (always measured), then the targets.
    n_regulators
        Number of regulator columns.
    alphas
        Ridge penalties searched per target.
    """

    def __init__(self, Z: np.ndarray, n_regulators: int, alphas: np.ndarray = ALPHAS) -> None:
        self.Z = np.asarray(Z, dtype=np.float32)
        self.n_regulators = int(n_regulators)
        self.alphas = np.asarray(alphas, dtype=float)
        self._cache: dict[tuple[bytes, bytes, bytes], tuple] = {}
        # fits use the samples whose pattern of measured genes is common
        finite = np.isfinite(self.Z)
        _, which, counts = np.unique(finite, axis=0, return_inverse=True, return_counts=True)
        common = counts[which.ravel()] >= MIN_GROUP
        self.fit_rows = common if common.sum() >= len(common) / 2 else np.ones_like(common)

    def clear_cache(self) -> None:
        """Forget the cached fits (e.g. those of cross-fitting, never reused)."""
        self._cache.clear()

    def coefficients(self, visible: np.ndarray, want: np.ndarray, rows: np.ndarray | None = None):
        """Return the cached ridge ``(coef, intercept)`` of targets ``want`` on ``visible``."""
        rows = self.fit_rows if rows is None else rows & self.fit_rows
        key = (visible.tobytes(), want.tobytes(), np.packbits(rows).tobytes())
        if key not in self._cache:
            Zr = self.Z[rows]
            F = np.nan_to_num(Zr[:, visible].astype(np.float64))  # unmeasured -> gene mean
            Y = Zr[:, self.n_regulators :][:, want].astype(np.float64)
            self._cache[key] = _ridge_coefficients(F, Y, np.isfinite(Y), self.alphas)
        return self._cache[key]

    def groups(self, vis: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Return ``[(rows, visible genes), ...]``, rare patterns pooled with the nearest common."""
        nR = self.n_regulators
        todo = np.flatnonzero((~vis[:, nR:]).any(axis=1))
        # exact patterns in order of their first sample
        exact = sorted((todo[rows] for rows, _, _ in observation_patterns(vis[todo])), key=min)
        if not exact:
            return []
        is_big = [len(idx) >= MIN_GROUP for idx in exact]
        if not any(is_big):  # no common pattern: the most frequent one
            is_big[int(np.argmax([len(idx) for idx in exact]))] = True
        big = [idx for idx, b in zip(exact, is_big, strict=True) if b]
        rest = [idx for idx, b in zip(exact, is_big, strict=True) if not b]
        out = [(idx, vis[idx[0]]) for idx in big]
        if rest:
            small = np.concatenate(rest)
            V = np.array([vis[idx[0]] for idx in big], dtype=np.float64)
            nearest = np.argmax(vis[small].astype(np.float64) @ V.T, axis=1)
            for b in np.unique(nearest):
                idx = small[nearest == b]
                out.append((idx, vis[idx].all(axis=0) & vis[big[b][0]]))
        return out

    def _fits(self, vis: np.ndarray, rows: np.ndarray | None = None, pooled: bool = False):
        """Yield ``(samples, visible genes, wanted targets, coef, intercept)`` per group."""
        nR = self.n_regulators
        if pooled:
            todo = np.flatnonzero((~vis[:, nR:]).any(axis=1))
            groups = [(todo, np.asarray(vis[todo].all(axis=0)))] if len(todo) else []
        else:
            groups = self.groups(vis)
        for idx, v in groups:
            want = ~v[nR:]
            yield (idx, v, want, *self.coefficients(v, want, rows))

    def predict(
        self,
        Zq: np.ndarray,
        hidden: np.ndarray | None = None,
        rows: np.ndarray | None = None,
        *,
        pooled: bool = False,
    ) -> np.ndarray:
        """Return ``(m, n_targets)`` z-scored targets of query samples ``Zq`` (``Z``'s layout).

        ``hidden`` ``(m, n_targets)`` marks measured targets to treat as unmeasured (measured
        ones are returned as they are); ``rows`` restricts the training samples; ``pooled``:
        one fit for all queries, on the genes all of them measured.
        """
        nR = self.n_regulators
        vis = np.isfinite(Zq)
        if hidden is not None:
            vis[:, nR:] &= ~hidden
        out = np.where(vis[:, nR:], Zq[:, nR:], np.nan).astype(np.float64)
        for idx, v, want, coef, intercept in self._fits(vis, rows, pooled):
            F = np.nan_to_num(Zq[np.ix_(idx, np.flatnonzero(v))].astype(np.float64))
            pred = F @ coef + intercept
            cols = np.flatnonzero(want)
            keep = vis[np.ix_(idx, nR + cols)]
            out[np.ix_(idx, cols)] = np.where(keep, out[np.ix_(idx, cols)], pred)
        return out

    def regulator_contribution(self, Zq: np.ndarray) -> np.ndarray:
        """Return the exact linear attribution ``(n_regulators, n_targets)``, mean over queries."""
        nR = self.n_regulators
        vis = np.isfinite(Zq)
        total = np.zeros((nR, vis.shape[1] - nR))
        for idx, _, want, coef, _ in self._fits(vis):
            # regulators are always measured: the first rows of coef
            total[:, want] += Zq[idx, :nR].astype(np.float64).sum(axis=0)[:, None] * coef[:nR]
        return total / max(len(Zq), 1)


def regulator_ridge(Rz: np.ndarray, Yz: np.ndarray) -> np.ndarray:
    """Return ridge coefficients ``(n_regulators, n_targets)`` of targets on regulators (GCV)."""
    from sklearn.linear_model import RidgeCV

    observed = np.isfinite(Yz)
    complete = observed.all(axis=0)
    G = Rz.T.astype(np.float64) @ Rz
    eye = np.eye(G.shape[0])
    if complete.sum() >= 10:
        fit = RidgeCV(alphas=np.logspace(0, 5, 16), fit_intercept=False)
        alpha = float(fit.fit(Rz, Yz[:, complete]).alpha_)
    else:
        alpha = float(len(Rz))
    B = np.zeros((Rz.shape[1], Yz.shape[1]))
    if complete.any():
        B[:, complete] = np.linalg.solve(G + alpha * eye, Rz.T @ Yz[:, complete])
    partial = np.flatnonzero(~complete)
    # one solve per set of samples that measured the targets (the Gram matrix downdated)
    for cols, ok, missing in observation_patterns(observed[:, partial].T):
        js = partial[cols]
        Gs = G - Rz[missing].T @ Rz[missing]
        B[:, js] = np.linalg.solve(Gs + alpha * eye, Rz[ok].T @ Yz[np.ix_(ok, js)])
    return B

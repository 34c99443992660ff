"""Donor-level completion on arrays: hybrid transformer + XGBoost, and baselines.

The data are a donors x tissues x genes array ``V`` (log expression) with NaN where a donor
gave no sample of a tissue. Every model predicts a target tissue's gene profile of a donor from
the donor's other (observed) tissues. Nothing here touches AnnData.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..._core.correlation import correlation_matrix, tissue_weights
from ..._core.training import fit_early_stopping
from ..._settings import Accelerator, resolve_device, settings


def _standardise(V: np.ndarray, donors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per (tissue, gene) mean and sd over ``donors`` that have the tissue; ``(T, G)`` each."""
    with np.errstate(invalid="ignore"):
        mu = np.nanmean(V[donors], axis=0)
        sd = np.nanstd(V[donors], axis=0)
    glob_mu = np.nanmean(V[donors], axis=(0, 1))
    mu_out = np.array(mu, dtype=np.float64)
    bad = ~np.isfinite(mu_out)
    mu_out[bad] = np.broadcast_to(glob_mu, mu_out.shape)[bad]
    sd_out: np.ndarray = np.where(np.isfinite(sd) & (sd > 1e-3), sd, 1.0)
    return mu_out, sd_out


class TissueMean:
    """Baseline: a tissue's mean profile over training donors."""

    def fit(self, V: np.ndarray, donors: np.ndarray) -> TissueMean:
        """Learn per-tissue means from ``donors`` of ``V`` ``(D, T, G)``."""
        self.mu_, _ = _standardise(V, donors)
        return self

    def predict(self, V: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """Predict ``(n, G)`` for ``pairs`` ``(n, 2)`` of (donor, target tissue)."""
        return self.mu_[pairs[:, 1]]


class KNNDonor:
    """Baseline: scikit-learn ``KNNImputer`` on the donors x (tissue, gene) matrix."""

    def __init__(self, n_neighbors: int = 10) -> None:
        self.n_neighbors = n_neighbors

    def fit(self, V: np.ndarray, donors: np.ndarray) -> KNNDonor:
        """Fit on the flattened profiles of ``donors``."""
        from sklearn.impute import KNNImputer

        self.shape_ = V.shape[1:]
        W = V[donors].reshape(len(donors), -1)
        self.keep_ = np.isfinite(W).any(axis=0)
        self.knn_ = KNNImputer(n_neighbors=self.n_neighbors, keep_empty_features=True)
        self.knn_.fit(W)
        return self

    def predict(self, V: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """Mask each target tissue, impute the donor's row, read the target back."""
        T, G = self.shape_
        out = np.zeros((len(pairs), G))
        rows = V[pairs[:, 0]].copy()
        rows[np.arange(len(pairs)), pairs[:, 1]] = np.nan
        filled = self.knn_.transform(rows.reshape(len(pairs), -1)).reshape(len(pairs), T, G)
        out[:] = filled[np.arange(len(pairs)), pairs[:, 1]]
        return out


class TEEBoT:
    """Baseline after TEEBoT (Basu et al. 2021): truncated SVD + linear regression.

    A source tissue's standardised profile is reduced by truncated SVD and regressed onto the
    target tissue's; predictions from all of a donor's observed source tissues are averaged,
    weighted by the number of training donors that have both.
    """

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
        self.models_: dict[tuple[int, int], tuple] = {}
        for s in range(T):
            for t in range(T):
                both = donors[seen[:, s] & seen[:, t]] if s != t else donors[:0]
                if len(both) < self.min_pairs:
                    continue
                k = min(self.n_components, len(both) - 1, V.shape[2] - 1)
                svd = TruncatedSVD(k, random_state=0).fit(Z[both, s])
                reg = Ridge(alpha=1.0).fit(svd.transform(Z[both, s]), Z[both, t])
                self.models_[(s, t)] = (svd, reg, len(both))
        return self

    def predict(self, V: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """Average the per-source predictions (tissue mean where no source model exists)."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        Z = (V - self.mu_) / self.sd_
        seen = np.isfinite(V).all(axis=2)
        acc = np.zeros((len(pairs), V.shape[2]))
        wsum = np.zeros(len(pairs))
        # one batched call per (source, target) model; rows accumulate in ascending source order
        for (s, t), (svd, reg, n) in sorted(self.models_.items()):
            rows = np.flatnonzero((pairs[:, 1] == t) & seen[pairs[:, 0], s])
            if not len(rows):
                continue
            acc[rows] += n * reg.predict(svd.transform(Z[pairs[rows, 0], s]))
            wsum[rows] += n
        z = np.divide(acc, wsum[:, None], out=np.zeros_like(acc), where=wsum[:, None] > 0)
        target = pairs[:, 1]
        return self.mu_[target] + self.sd_[target] * z


class DonorTransformer(nn.Module):
    """Transformer over a donor's observed tissues (tokens) with a query token for the target.

    Token = standardised gene profile + learned tissue embedding + projected tissue-correlation
    row; the query token carries only the target tissue's identity and correlation row.
    """

    def __init__(self, n_genes: int, n_tissues: int, d_model: int = 64, n_layers: int = 2) -> None:
        super().__init__()
        self.profile = nn.Linear(n_genes, d_model)
        self.tissue = nn.Embedding(n_tissues, d_model)
        self.corr = nn.Linear(n_tissues, d_model)
        self.query = nn.Parameter(torch.zeros(1, 1, d_model))
        layer = nn.TransformerEncoderLayer(d_model, 4, 2 * d_model, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.out = nn.Linear(d_model, n_genes)

    def forward(self, z, src, pad, target, C):  # noqa: D102
        tok = self.profile(z) + self.tissue(src) + self.corr(C[src])
        q = (
            self.query.expand(len(target), -1, -1)
            + (self.tissue(target) + self.corr(C[target]))[:, None]
        )
        h = torch.cat([q, tok], dim=1)
        mask = torch.cat([torch.zeros(len(target), 1, dtype=torch.bool, device=pad.device), pad], 1)
        return self.out(self.encoder(h, src_key_padding_mask=mask)[:, 0])


class DonorHybrid:
    """Hybrid donor-tissue imputer: transformer over observed tissues, XGBoost on top.

    Stage 1 (:class:`DonorTransformer`) is trained on 75% of the training donors to predict a
    masked tissue's standardised profile from the donor's other tissues (random source-tissue
    dropout as augmentation). Stage 2 is an XGBoost regressor on (donor, target tissue, gene)
    rows of the remaining 25% donors: the stage-1 prediction, the tissue-correlation weighted
    average of the donor's observed values of that gene, the best-correlated observed tissue's
    value, the number of observed tissues, tissue and gene identity, the tissue x gene mean and
    sd, and per-gene features (e.g. promoter GC / CpG). Predictions are de-standardised.
    """

    def __init__(
        self,
        *,
        max_epochs: int = 20,
        patience: int = 4,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        xgb_n_estimators: int = 300,
        random_state: int = 0,
    ) -> None:
        self.max_epochs, self.patience, self.batch_size = max_epochs, patience, batch_size
        self.learning_rate, self.xgb_n_estimators = learning_rate, xgb_n_estimators
        self.random_state = random_state

    # -- helpers -------------------------------------------------------------------------
    def _pairs(self, V: np.ndarray, donors: np.ndarray) -> np.ndarray:
        seen = np.isfinite(V).all(axis=2)
        pairs = [(d, t) for d in donors for t in np.flatnonzero(seen[d]) if seen[d].sum() > 1]
        return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)

    def _tokens(self, Z: np.ndarray, seen: np.ndarray, pairs: np.ndarray, drop: float, rng):
        T = Z.shape[1]
        n = len(pairs)
        src = np.zeros((n, T), dtype=np.int64)
        pad = np.ones((n, T), dtype=bool)
        for i, (d, t) in enumerate(pairs):
            s = np.flatnonzero(seen[d])
            s = s[s != t]
            if drop > 0 and len(s) > 1:
                keep = rng.random(len(s)) >= rng.uniform(0, drop)
                if not keep.any():
                    keep[rng.integers(len(s))] = True
                s = s[keep]
            src[i, : len(s)] = s
            pad[i, : len(s)] = False
        z = Z[pairs[:, 0][:, None], src]
        z[pad] = 0
        return torch.from_numpy(z.astype(np.float32)), torch.from_numpy(src), torch.from_numpy(pad)

    @torch.no_grad()
    def _predict_z(self, Z, seen, pairs, device) -> np.ndarray:
        self.net_.eval()
        out = []
        for s in range(0, len(pairs), 1024):
            p = pairs[s : s + 1024]
            z, src, pad = self._tokens(Z, seen, p, 0.0, None)
            tgt = torch.from_numpy(p[:, 1])
            out.append(
                self.net_(
                    z.to(device),
                    src.to(device),
                    pad.to(device),
                    tgt.to(device),
                    self.C_t_.to(device),
                )
                .cpu()
                .numpy()
            )
        return np.concatenate(out) if out else np.zeros((0, Z.shape[2]))

    def _design(self, V, Z, seen, pairs, zhat) -> np.ndarray:
        G = Z.shape[2]
        n = len(pairs)
        W = self.W_
        d, t = pairs[:, 0], pairs[:, 1]
        obs = seen[d].copy()
        obs[np.arange(n), t] = False
        w = W[t] * obs  # (n, T)
        wsum = w.sum(axis=1, keepdims=True)
        zobs = np.where(obs[:, :, None], Z[d], 0.0)  # (n, T, G)
        ctx = np.einsum("nt,ntg->ng", w, zobs) / np.where(wsum > 0, wsum, 1)
        corr_t = np.where(obs, self.C_[t], -np.inf)
        best = corr_t.argmax(axis=1)
        best_val = np.where(obs.any(axis=1)[:, None], Z[d, best], 0.0)
        lin = (self.linear_.predict(V, pairs) - self.mu_[t]) / self.sd_[t]
        cols = [
            zhat.ravel(),
            lin.ravel(),
            ctx.ravel(),
            best_val.ravel(),
            np.repeat(self.C_[t, best], G),
            np.repeat(obs.sum(axis=1), G),
            np.repeat(t, G),
            np.tile(np.arange(G), n),
            self.mu_[t].ravel(),
            self.sd_[t].ravel(),
        ]
        cols += [np.tile(self.gene_features_[:, j], n) for j in range(self.gene_features_.shape[1])]
        return np.column_stack(cols).astype(np.float32)

    # -- API -----------------------------------------------------------------------------
    def fit(
        self,
        V: np.ndarray,
        donors: np.ndarray,
        *,
        gene_features: np.ndarray | None = None,
        accelerator: Accelerator | None = None,
    ) -> DonorHybrid:
        """Fit on ``donors`` of ``V`` ``(D, T, G)`` (NaN = tissue not sampled).

        The transformer trains through the package's one loop,
        :func:`geneimpute._core.training.fit_early_stopping` (AdamW, early stopping on the
        standardised MSE of the validation donors' profiles); its history is kept in
        ``training_``.

        Parameters
        ----------
        V
            ``(n_donors, n_tissues, n_genes)`` log-scale expression, NaN rows = not sampled.
        donors
            Indices of the donors to learn from.
        gene_features
            ``(n_genes, n_features)`` per-gene features given to XGBoost (NaN allowed), e.g.
            promoter GC / CpG o/e / length; None for none.
        accelerator
            ``"auto"``, ``"cpu"`` or ``"cuda"``; None follows ``geneimpute.settings``.

        Raises
        ------
        ValueError
            If ``V`` is not 3-D or ``gene_features`` has another number of rows than genes.
        """
        import xgboost as xgb

        V = np.asarray(V, dtype=np.float64)
        if V.ndim != 3:
            msg = f"V must be (n_donors, n_tissues, n_genes), got shape {V.shape}"
            raise ValueError(msg)
        if gene_features is not None:
            gene_features = np.asarray(gene_features, dtype=float)
            if gene_features.ndim != 2 or len(gene_features) != V.shape[2]:
                msg = (
                    f"gene_features must be (n_genes={V.shape[2]}, n_features), got shape "
                    f"{gene_features.shape}"
                )
                raise ValueError(msg)

        device = resolve_device(accelerator)
        rng = np.random.default_rng(self.random_state)
        torch.manual_seed(self.random_state)
        D, T, G = V.shape
        self.mu_, self.sd_ = _standardise(V, donors)
        C = correlation_matrix(self.mu_.T)
        self.C_, self.W_ = C, tissue_weights(C)
        self.C_t_ = torch.from_numpy(C.astype(np.float32))
        self.gene_features_ = (
            np.zeros((G, 0)) if gene_features is None else np.asarray(gene_features, float)
        )
        Z = np.where(np.isfinite(V), (V - self.mu_) / self.sd_, 0.0)
        seen = np.isfinite(V).all(axis=2)
        donors = rng.permutation(donors)
        n_stack = max(1, len(donors) // 4)
        stack_donors, nn_donors = donors[:n_stack], donors[n_stack:]
        # linear source -> target maps (TEEBoT-style), fitted on the stage-1 donors only
        self.linear_ = TEEBoT().fit(V, nn_donors)
        n_val = max(1, len(nn_donors) // 10)
        val_pairs = self._pairs(V, nn_donors[:n_val])
        tr_pairs = self._pairs(V, nn_donors[n_val:])
        self.net_ = DonorTransformer(G, T).to(device)
        Zt = torch.from_numpy(Z.astype(np.float32))
        C_dev = self.C_t_.to(device)
        z_val = Z[val_pairs[:, 0], val_pairs[:, 1]]

        def loss_fn(batch: np.ndarray) -> torch.Tensor:
            p = tr_pairs[batch]
            z, src, pad = self._tokens(Z, seen, p, 0.5, rng)
            tgt = torch.from_numpy(p[:, 1])
            pred = self.net_(z.to(device), src.to(device), pad.to(device), tgt.to(device), C_dev)
            return ((pred - Zt[p[:, 0], p[:, 1]].to(device)) ** 2).mean()

        def val_fn() -> float:
            zv = self._predict_z(Z, seen, val_pairs, device)
            return float(((zv - z_val) ** 2).mean())

        self.training_ = fit_early_stopping(
            self.net_,
            np.arange(len(tr_pairs)),
            loss_fn,
            val_fn,
            rng=rng,
            max_epochs=self.max_epochs,
            patience=self.patience,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            weight_decay=1e-4,
            desc="donor transformer",
            progress=settings.progress,
        )
        st_pairs = self._pairs(V, stack_donors)
        zhat = self._predict_z(Z, seen, st_pairs, device)
        X = self._design(V, Z, seen, st_pairs, zhat)
        y = Z[st_pairs[:, 0], st_pairs[:, 1]].ravel()
        self.xgb_ = xgb.XGBRegressor(
            n_estimators=self.xgb_n_estimators,
            learning_rate=0.05,
            max_depth=6,
            min_child_weight=20,
            subsample=0.8,
            colsample_bytree=0.8,
            tree_method="hist",
            device="cuda" if device == "cuda" else "cpu",
            n_jobs=settings.n_jobs,
            random_state=self.random_state,
        ).fit(X, y)
        self.device_ = device
        return self

    def predict(self, V: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """Predict ``(n, G)`` profiles for (donor, target tissue) ``pairs`` ``(n, 2)``.

        The target tissue itself is never used as input, observed or not.
        """
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        Z = np.where(np.isfinite(V), (V - self.mu_) / self.sd_, 0.0)
        seen = np.isfinite(V).all(axis=2)
        zhat = self._predict_z(Z, seen, pairs, self.device_)
        zx = self.xgb_.predict(self._design(V, Z, seen, pairs, zhat)).reshape(len(pairs), -1)
        t = pairs[:, 1]
        return self.mu_[t] + self.sd_[t] * zx

"""The donor hybrid (transformer + XGBoost) on a donors x tissues x genes array."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import numpy as np
import torch
from torch import nn

from ..._core.correlation import correlation_matrix, tissue_weights
from ..._core.training import TrainingResult, fit_early_stopping
from ..._docs import doc_params
from ..._settings import Accelerator, resolve_device, settings
from .._base import loop_options
from .._persistence import SavedModel, damaged, fields_of, load_booster, load_weights, need
from ._baselines import KNNDonor, TEEBoT, TissueMean, _standardise

__all__ = ["DonorHybrid", "DonorTransformer", "KNNDonor", "TEEBoT", "TissueMean"]

#: Features of the stage-2 design before the per-gene features (see ``DonorHybrid._design``).
N_DESIGN = 10


def _check_inputs(V: np.ndarray, gene_features: np.ndarray | None):
    """Return ``V`` as float64 ``(D, T, G)`` and the gene features ``(G, F)`` (F = 0 for None)."""
    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 3:
        msg = f"V must be (n_donors, n_tissues, n_genes), got shape {V.shape}"
        raise ValueError(msg)
    if gene_features is None:
        return V, np.zeros((V.shape[2], 0))
    gene_features = np.asarray(gene_features, dtype=float)
    if gene_features.ndim != 2 or len(gene_features) != V.shape[2]:
        msg = (
            f"gene_features must be (n_genes={V.shape[2]}, n_features), got shape "
            f"{gene_features.shape}"
        )
        raise ValueError(msg)
    return V, gene_features


class DonorTransformer(SavedModel, nn.Module):
    """Transformer over a donor's observed tissues (tokens) with a query token for the target.

    Token = standardised gene profile + tissue embedding + projected tissue-correlation row; the
    query carries only the target's. Saved as ``config.json`` and ``network.pt``; :meth:`load`
    rebuilds it on ``map_location`` in eval mode.
    """

    FORMAT = "geneimpute.DonorTransformer"
    ARRAYS = False

    def __init__(self, n_genes: int, n_tissues: int, d_model: int = 64, n_layers: int = 2) -> None:
        super().__init__()
        self.init_args = {
            "n_genes": int(n_genes),
            "n_tissues": int(n_tissues),
            "d_model": int(d_model),
            "n_layers": int(n_layers),
        }
        self.profile = nn.Linear(n_genes, d_model)
        self.tissue = nn.Embedding(n_tissues, d_model)
        self.corr = nn.Linear(n_tissues, d_model)
        self.query = nn.Parameter(torch.zeros(1, 1, d_model))
        layer = nn.TransformerEncoderLayer(d_model, 4, 2 * d_model, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.out = nn.Linear(d_model, n_genes)

    def forward(self, z, src, pad, target, C):  # noqa: D102
        tok = self.profile(z) + self.tissue(src) + self.corr(C[src])
        q = (self.tissue(target) + self.corr(C[target]))[:, None]
        h = torch.cat([self.query.expand(len(target), -1, -1) + q, tok], dim=1)
        mask = torch.cat([torch.zeros(len(target), 1, dtype=torch.bool, device=pad.device), pad], 1)
        return self.out(self.encoder(h, src_key_padding_mask=mask)[:, 0])

    def _shape(self) -> tuple[int, int]:
        return self.init_args["n_tissues"], self.init_args["n_genes"]

    def _header(self) -> dict[str, Any]:
        return {"config": dict(self.init_args), "network": dict(self.init_args)}

    def _write_files(self, tmp: Path) -> None:
        torch.save({k: v.detach().cpu() for k, v in self.state_dict().items()}, tmp / "network.pt")

    @classmethod
    def _new(cls, state: dict[str, Any]) -> Self:
        return cls(**state["network"])

    def _restore(self, path, shape, state, arrays, map_location) -> None:
        if shape != self._shape():
            raise damaged(path, "network sizes differ from setup.n_tissues / setup.n_genes")
        load_weights(self, path, "network.pt", map_location)
        self.to(map_location).eval()


DonorTransformer.NETWORK = fields_of(DonorTransformer.__init__)


class DonorHybrid(SavedModel):
    """Hybrid donor-tissue imputer: transformer over observed tissues, XGBoost on top.

    Stage 1 (:class:`DonorTransformer`, 75% of the training donors) predicts a masked tissue's
    standardised profile from the donor's other tissues; stage 2 is XGBoost on (donor, tissue,
    gene) rows of the other 25% (stage-1 and TEEBoT predictions, correlation-weighted observed
    values, tissue and gene identity and statistics, per-gene features). Saved: ``config.json``,
    ``network.pt``, ``xgboost.ubj``, ``arrays.npz`` (not the history ``training_``).
    """

    FORMAT = "geneimpute.DonorHybrid"
    FITTED = "xgb_"
    NETWORK = DonorTransformer.NETWORK

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

    def _forward(self, Z, seen, pairs, device, drop: float = 0.0, rng=None) -> torch.Tensor:
        z, src, pad = self._tokens(Z, seen, pairs, drop, rng)
        tgt = torch.from_numpy(pairs[:, 1])
        return self.net_(*(x.to(device) for x in (z, src, pad, tgt, self.C_t_)))

    @torch.no_grad()
    def _predict_z(self, Z, seen, pairs, device) -> np.ndarray:
        self.net_.eval()
        out = [
            self._forward(Z, seen, pairs[s : s + 1024], device).cpu().numpy()
            for s in range(0, len(pairs), 1024)
        ]
        return np.concatenate(out) if out else np.zeros((0, Z.shape[2]))

    def _design(self, V, Z, seen, pairs, zhat) -> np.ndarray:
        n, G = len(pairs), Z.shape[2]
        d, t = pairs[:, 0], pairs[:, 1]
        obs = seen[d].copy()
        obs[np.arange(n), t] = False
        w = self.W_[t] * obs  # (n, T)
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

    @doc_params("accelerator")
    def fit(
        self,
        V: np.ndarray,
        donors: np.ndarray,
        *,
        gene_features: np.ndarray | None = None,
        accelerator: Accelerator | None = None,
    ) -> DonorHybrid:
        """Fit on ``donors`` of ``V`` (the transformer's history goes to ``training_``).

        Parameters
        ----------
        V
            ``(n_donors, n_tissues, n_genes)`` log-scale expression, NaN rows = not sampled.
        donors
            Indices of the donors to learn from.
        gene_features
            ``(n_genes, n_features)`` per-gene features given to XGBoost (NaN allowed), e.g.
            promoter GC / CpG o/e / length; None for none.
        {accelerator}

        Raises
        ------
        ValueError
            If ``V`` is not 3-D or ``gene_features`` has another number of rows than genes.
        """
        import xgboost as xgb

        V, self.gene_features_ = _check_inputs(V, gene_features)
        device = resolve_device(accelerator)
        rng = np.random.default_rng(self.random_state)
        torch.manual_seed(self.random_state)
        D, T, G = V.shape
        self.mu_, self.sd_ = _standardise(V, donors)
        C = correlation_matrix(self.mu_.T)
        self.C_, self.W_ = C, tissue_weights(C)
        self.C_t_ = torch.from_numpy(C.astype(np.float32))
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
        z_val = Z[val_pairs[:, 0], val_pairs[:, 1]]

        def loss_fn(batch: np.ndarray) -> torch.Tensor:
            p = tr_pairs[batch]
            pred = self._forward(Z, seen, p, device, 0.5, rng)
            return ((pred - Zt[p[:, 0], p[:, 1]].to(device)) ** 2).mean()

        def val_fn() -> float:
            zv = self._predict_z(Z, seen, val_pairs, device)
            return float(((zv - z_val) ** 2).mean())

        items = np.arange(len(tr_pairs))
        options = loop_options(self, desc="donor transformer")  # weight decay 1e-4
        self.training_: TrainingResult | None = fit_early_stopping(
            self.net_, items, loss_fn, val_fn, rng=rng, **options
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
        """Predict ``(n, n_genes)`` profiles of (donor, target tissue) ``pairs`` ``(n, 2)``.

        The target tissue itself is never used as input, observed or not.
        """
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        Z = np.where(np.isfinite(V), (V - self.mu_) / self.sd_, 0.0)
        seen = np.isfinite(V).all(axis=2)
        zhat = self._predict_z(Z, seen, pairs, self.device_)
        zx = self.xgb_.predict(self._design(V, Z, seen, pairs, zhat)).reshape(len(pairs), -1)
        t = pairs[:, 1]
        return self.mu_[t] + self.sd_[t] * zx

    def _header(self) -> dict[str, Any]:
        return {**super()._header(), "network": dict(self.net_.init_args)}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "mu": self.mu_,
            "sd": self.sd_,
            "tissue_correlation": self.C_,
            "tissue_weights": self.W_,
            "gene_features": self.gene_features_,
            **self.linear_._arrays(prefix="linear_"),
        }

    def _write_files(self, tmp: Path) -> None:
        self.net_._write_files(tmp)
        self.xgb_.save_model(tmp / "xgboost.ubj")

    def _restore(self, path, shape, state, arrays, map_location) -> None:
        T, G = shape
        self.mu_ = need(arrays, "mu", path, shape)
        self.sd_ = need(arrays, "sd", path, shape)
        self.C_ = need(arrays, "tissue_correlation", path, (T, T))
        self.W_ = need(arrays, "tissue_weights", path, (T, T))
        self.C_t_ = torch.from_numpy(self.C_.astype(np.float32))
        self.gene_features_ = need(arrays, "gene_features", path, (G, None), finite=False)
        self.linear_ = TEEBoT()
        self.linear_.set_arrays(path, shape, arrays, prefix="linear_")
        self.net_ = DonorTransformer._new(state)
        self.net_._restore(path, shape, state, {}, map_location)
        self.xgb_ = load_booster(path, "xgboost.ubj")
        n_features = N_DESIGN + self.gene_features_.shape[1]
        if self.xgb_.get_booster().num_features() != n_features:
            raise damaged(path, f"xgboost.ubj does not take the {n_features} design columns")
        self.device_ = str(map_location)
        self.xgb_.set_params(device="cuda" if self.device_.startswith("cuda") else "cpu")
        self.training_ = None

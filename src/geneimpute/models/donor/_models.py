"""Donor-level completion on arrays: hybrid transformer + XGBoost, and baselines.

The data are a donors x tissues x genes array ``V`` (log expression) with NaN where a donor
gave no sample of a tissue. Every model predicts a target tissue's gene profile of a donor from
the donor's other (observed) tissues. Nothing here touches AnnData. The baselines live in
:mod:`._baselines`, the transformer in :mod:`._networks`; all save through :mod:`._saving`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..._core.correlation import correlation_matrix, tissue_weights
from ..._core.training import TrainingResult, fit_early_stopping
from ..._settings import Accelerator, resolve_device, settings
from .._persistence import damaged, load_booster
from ._baselines import KNNDonor, TEEBoT, TissueMean, _standardise
from ._networks import DonorTransformer
from ._saving import SavedModel, need

__all__ = ["DonorHybrid", "DonorTransformer", "KNNDonor", "TEEBoT", "TissueMean"]

#: Features of the stage-2 design before the per-gene features (see ``DonorHybrid._design``).
N_DESIGN = 10


def _check_inputs(V: np.ndarray, gene_features: np.ndarray | None):
    """``V`` as float64 ``(D, T, G)`` and the gene features ``(G, F)`` (``F = 0`` for None)."""
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


class DonorHybrid(SavedModel):
    """Hybrid donor-tissue imputer: transformer over observed tissues, XGBoost on top.

    Stage 1 (:class:`DonorTransformer`) is trained on 75% of the training donors to predict a
    masked tissue's standardised profile from the donor's other tissues (random source-tissue
    dropout as augmentation). Stage 2 is an XGBoost regressor on (donor, target tissue, gene)
    rows of the remaining 25% donors: the stage-1 prediction, the tissue-correlation weighted
    average of the donor's observed values of that gene, the best-correlated observed tissue's
    value, the number of observed tissues, tissue and gene identity, the tissue x gene mean and
    sd, and per-gene features (e.g. promoter GC / CpG). Predictions are de-standardised.

    Saved by :meth:`save` as a directory: ``config.json`` (format ``"geneimpute.DonorHybrid"``,
    ``config``: the constructor's arguments, ``setup``: ``n_tissues``/``n_genes``,
    ``network``: the :class:`DonorTransformer`'s constructor arguments), ``network.pt`` (its
    ``state_dict``), ``xgboost.ubj`` (the stage-2 regressor) and ``arrays.npz``: ``mu``,
    ``sd`` ``(n_tissues, n_genes)`` (the standardisation), ``tissue_correlation`` and
    ``tissue_weights`` ``(n_tissues, n_tissues)``, ``gene_features`` ``(n_genes,
    n_features)`` (NaN kept) and the linear stage-1 maps as ``linear_*`` (the
    :class:`TEEBoT` arrays). :meth:`load` reads it back; the training history ``training_``
    is not saved (None after loading).
    """

    FORMAT = "geneimpute.DonorHybrid"
    FITTED = "xgb_"

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

        self.training_: TrainingResult | None = fit_early_stopping(
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

    # -- saving --------------------------------------------------------------------------
    def _shape(self) -> tuple[int, int]:
        return self.mu_.shape

    def _header(self) -> dict[str, Any]:
        config = {
            "max_epochs": self.max_epochs,
            "patience": self.patience,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "xgb_n_estimators": self.xgb_n_estimators,
            "random_state": self.random_state,
        }
        return {"config": config, "network": dict(self.net_.init_args), "state": {}}

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

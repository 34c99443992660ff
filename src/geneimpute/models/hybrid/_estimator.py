"""The hybrid imputer on arrays: CNN + neighbour transformer + tissue correlations + XGBoost.

Nothing here touches AnnData; :mod:`geneimpute.tl` translates. Follows Brown, Dong & Truong,
"Estimating genotype-tissue specific gene expression using hybrid deep learning",
Communications Biology (2026), doi:10.1038/s42003-026-10251-7. torch and xgboost are imported
when a model is fitted, applied or loaded.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..._core.correlation import check_correlation, tissue_weights
from ..._core.neighbors import idw_profiles
from ..._core.training import fit_early_stopping
from ..._settings import Accelerator, resolve_device, settings, torch_threads
from ..._timing import timed
from .._conditioning import ObservedTissueConditioner
from .._conformal import TissueConformal, floor_sigmas
from ._boosting import fit_regressor, fit_stage2, measured_rows, predict_stage2
from ._config import DENSITY_NAMES, HybridConfig, ModelSetup
from ._design import build_design, design_names
from ._features import GeneInputs, density_features, distance_features

if TYPE_CHECKING:
    import torch

    from ._networks import HybridNet, NetworkEnsemble


class HybridImputer:
    """Hybrid estimator of log1p(TPM) tissue profiles from promoters and genomic neighbours.

    Stage 1 is a torch network (:class:`~geneimpute.models.HybridNet`): a CNN over the one-hot
    promoter and a transformer encoder over the gene's neighbour reference genes (their
    tissue-correlation smoothed profiles, intergene distances, orientation), each read out to
    a tissue profile. Stage 2 is an XGBoost regressor on (gene, tissue) rows: the branch
    read-outs, the distance-based profile, tissue-correlation context, tissue descriptors (top
    eigenvectors of the tissue correlation matrix) and the hand-made gene features. Stage-2
    training rows use out-of-fold stage-1 outputs (``n_folds`` networks) so XGBoost sees the
    network as it behaves on unseen genes, and new genes get the mean read-outs of those same
    networks (``network_ensemble``; with ``network_ensemble=False``, a network refitted on all
    reference genes).

    Parameters
    ----------
    config
        :class:`HybridConfig`; keyword arguments override its fields.

    Raises
    ------
    TypeError
        On unknown options.
    ValueError
        On out-of-range options (see :class:`HybridConfig`).

    Attributes
    ----------
    setup_
        :class:`ModelSetup`: tissues, features, units, keys it was trained with.
    net_args_
        Constructor arguments of the stage-1 network (None without one).
    net_
        The network that reads out new genes: a :class:`NetworkEnsemble` of the ``n_folds``
        out-of-fold :class:`HybridNet` s (``network_ensemble=True``), one refitted
        :class:`HybridNet`, or None without a network.
    """

    def __init__(self, config: HybridConfig | None = None, **kwargs: Any) -> None:
        self.config = HybridConfig.from_dict(asdict(config or HybridConfig()), **kwargs)
        self.setup_ = ModelSetup()
        self.genef_names_: list[str] = []
        self.timings_: dict[str, float] = {}
        self.history_: list[dict] = []
        self.net_: HybridNet | NetworkEnsemble | None = None
        self.net_args_: dict[str, Any] | None = None
        self.xgb_: Any = None
        self.pattern_xgb_: Any = None
        self.sigma_xgb_: Any = None
        self.conditioner_: ObservedTissueConditioner | None = None
        self.oof_prediction_: np.ndarray | None = None
        self.oof_rows_: np.ndarray | None = None
        self.conformal_: TissueConformal | None = None
        self.sigma_floor_: float = 0.0

    # ------------------------------------------------------------------ setup views
    @property
    def tissues_(self) -> list[str]:
        """Tissue names in the order of the model's outputs."""
        return list(self.setup_.tissues)

    @property
    def feature_names_(self) -> list[str]:
        """Hand-made gene-feature columns the model reads (before density features)."""
        return list(self.setup_.gene_feature_names)

    @property
    def features_(self) -> list[str]:
        """Input groups used (``"promoter"``, ``"neighbors"``, ``"structure"``)."""
        return list(self.setup_.features)

    @property
    def uses_network(self) -> bool:
        """Whether stage 1 exists (False: XGBoost on hand-made features alone)."""
        return self.config.use_cnn or self.config.use_transformer

    # ------------------------------------------------------------------ preparation
    def _set_tissue_correlation(self, C: np.ndarray) -> None:
        """Store the tissue correlation and what derives from it (weights, eigenvectors)."""
        C = np.asarray(C, dtype=np.float64)
        check_correlation(C, len(self.setup_.tissues))
        self.tissue_correlation_ = C
        self.W_ = tissue_weights(C)
        evecs = np.linalg.eigh(C)[1]
        self.tissue_components_ = evecs[:, ::-1][:, : self.config.n_tissue_components]

    def _prepare(self, Y: np.ndarray, inputs: GeneInputs) -> dict[str, np.ndarray]:
        """Arrays derived from the reference profiles, shared by fit and predict."""
        cfg = self.config
        Yz = (Y - self.mu_) / self.sd_
        Yz = np.where(np.isfinite(Yz), Yz, 0.0)
        tok = [Yz]
        if cfg.use_tissue_correlation:
            tok.append(Yz @ self.W_.T)
        prof = np.concatenate(tok, axis=1).astype(np.float32)
        dist = distance_features(inputs.neighbors)
        if not cfg.use_distance:
            dist[:] = 0
        idw = idw_profiles(Y, inputs.neighbors, cfg.k_idw, cfg.use_distance)
        genef = inputs.gene_features.astype(np.float64)
        if cfg.use_distance and cfg.use_neighbor_features:
            genef = np.column_stack([genef, density_features(inputs.neighbors)])
        return {"profile_tokens": prof, "dist": dist, "idw": idw, "genef": genef}

    def _net_inputs(self, prep: dict, inputs: GeneInputs) -> dict[str, torch.Tensor]:
        import torch

        g = prep["genef"]
        gz = (g - self.gmu_) / self.gsd_
        miss = ~np.isfinite(gz)
        gz = np.where(miss, 0.0, gz)
        g_all = np.column_stack([gz, miss[:, self.gmiss_cols_]]).astype(np.float32)
        return {
            "promoter": torch.from_numpy(inputs.promoter),
            "profile": torch.from_numpy(prep["profile_tokens"]),
            "dist": torch.from_numpy(prep["dist"]),
            "index": torch.from_numpy(inputs.neighbors.index[:, : self.config.k_neighbors]),
            "genef": torch.from_numpy(g_all),
        }

    @staticmethod
    def _batch(t: dict, rows: np.ndarray, device: str):
        import torch

        r = torch.from_numpy(rows)
        idx = t["index"][r]
        pad = idx < 0
        tokens = t["profile"][idx.clamp(min=0)]
        tokens = torch.cat([tokens, t["dist"][r][:, : idx.shape[1]]], dim=2)
        tokens[pad] = 0
        # a gene with no neighbour at all keeps one (zero) token so attention is defined
        empty = pad.all(dim=1)
        pad[empty, 0] = False
        return (
            t["promoter"][r].to(device),
            tokens.to(device),
            pad.to(device),
            t["genef"][r].to(device),
        )

    # ------------------------------------------------------------------ stage 1
    def _new_member(self) -> HybridNet:
        """Build an untrained :class:`HybridNet` with the model's network arguments."""
        from ._networks import HybridNet

        if self.net_args_ is None:
            msg = "network arguments are not set"
            raise RuntimeError(msg)
        return HybridNet(**self.net_args_)

    def _new_net(self) -> HybridNet | NetworkEnsemble:
        """Build an untrained ``net_``: one network, or the ``n_folds`` out-of-fold ones."""
        from ._networks import NetworkEnsemble

        if self.config.network_ensemble:
            return NetworkEnsemble([self._new_member() for _ in range(self.config.n_folds)])
        return self._new_member()

    def _fit_net(
        self, t: dict, Y: np.ndarray, rows: np.ndarray, device: str, seed: int, desc: str
    ) -> HybridNet:
        import torch

        cfg = self.config
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        rows = rng.permutation(rows)
        n_val = max(1, len(rows) // 10)
        val, tr = rows[:n_val], rows[n_val:]
        net = self._new_member().to(device)
        # "level_pattern" heads learn z-scores; the "joint" head learns log1p, from the mean
        z = net.heads == "level_pattern"
        if not z:
            with torch.no_grad():
                mu = torch.from_numpy(self.mu_.astype(np.float32))
                for h in (net.head[-1], net.cnn_head, net.transformer_head):
                    if h is not None:
                        cast("torch.nn.Linear", h).bias.copy_(mu)
        target = (Y - self.mu_) / self.sd_ if z else Y
        Yt = torch.from_numpy(np.nan_to_num(target).astype(np.float32))
        seen = np.isfinite(Y)
        # partly measured genes: the loss is the mean over measured cells only
        Mt = None if seen[rows].all() else torch.from_numpy(seen.astype(np.float32))
        w = float(cfg.pattern_weight) if z else 1.0

        def loss_of(out: torch.Tensor, y: torch.Tensor, m: torch.Tensor | None) -> torch.Tensor:
            if w == 1.0:  # plain MSE over the measured cells
                if m is None:
                    return ((out - y) ** 2).mean()
                return (((out - y) ** 2) * m).sum() / m.sum().clamp(min=1.0)
            # MSE = level error + pattern error (orthogonal over a gene's measured tissues);
            # the pattern part is weighted by ``pattern_weight``
            m = torch.ones_like(y) if m is None else m
            n_t = m.sum(dim=1, keepdim=True).clamp(min=1.0)
            o_m = (out * m).sum(dim=1, keepdim=True) / n_t
            y_m = (y * m).sum(dim=1, keepdim=True) / n_t
            level = ((o_m - y_m) ** 2 * n_t).sum()
            pattern = ((((out - o_m) - (y - y_m)) ** 2) * m).sum()
            return (level + w * pattern) / m.sum().clamp(min=1.0)

        def loss_fn(b: np.ndarray) -> torch.Tensor:
            out = net(*self._batch(t, b, device))
            bt = torch.from_numpy(b)
            y = Yt[bt].to(device)
            m = None if Mt is None else Mt[bt].to(device)
            loss = loss_of(out["joint"], y, m)
            for key in ("cnn", "transformer"):
                if key in out:
                    loss = loss + 0.5 * loss_of(out[key], y, m)
            return loss

        def val_fn() -> float:
            if not z:  # log1p MSE of the joint head
                err = (self._predict_net(net, t, val, device)["joint"] - Y[val]) ** 2
                return float(err.mean() if Mt is None else np.nanmean(err))
            P = self._predict_net(net, t, val, device, scale=False)["joint"]
            m = None if Mt is None else Mt[val]
            with torch.no_grad():
                return float(loss_of(torch.from_numpy(P), Yt[val], m))

        result = fit_early_stopping(
            net,
            tr,
            loss_fn,
            val_fn,
            rng=rng,
            max_epochs=cfg.max_epochs,
            patience=cfg.patience,
            batch_size=cfg.batch_size,
            learning_rate=cfg.learning_rate,
            weight_decay=cfg.weight_decay,
            min_batch=2,
            desc=desc,
            progress=settings.progress,
            schedule=cfg.lr_schedule,
        )
        self.history_ += [{"net": desc, **h} for h in result.history]
        return net

    def _predict_net(
        self,
        net: HybridNet | NetworkEnsemble,
        t: dict,
        rows: np.ndarray,
        device: str,
        batch_size: int = 1024,
        scale: bool = True,
    ) -> dict[str, np.ndarray]:
        """Network outputs for ``rows``: profiles in log1p (z-scores with ``scale=False``)."""
        import torch

        net.eval()
        outs: dict[str, list] = {}
        with torch_threads(), torch.no_grad():
            for s in range(0, len(rows), batch_size):
                o = net(*self._batch(t, rows[s : s + batch_size], device))
                for k, v in o.items():
                    outs.setdefault(k, []).append(v.float().cpu().numpy())
        if not len(rows):
            return {"joint": np.zeros((0, len(self.setup_.tissues)))}
        res = {k: np.concatenate(v) for k, v in outs.items()}
        if scale and net.heads == "level_pattern":  # z-scores -> log1p
            for k in ("joint", "cnn", "transformer"):
                if k in res:
                    res[k] = self.mu_ + self.sd_ * res[k]
        return res

    def _promoter_embeddings(
        self,
        net: HybridNet | NetworkEnsemble,
        promoter: np.ndarray,
        device: str,
        batch_size: int = 1024,
    ) -> np.ndarray:
        """CNN embeddings ``(n_genes, dim)`` of every promoter; genes without one share one."""
        import torch

        net.eval()
        assert net.cnn is not None
        observed = promoter[:, :, 4].any(axis=1)
        todo = np.flatnonzero(observed)
        if not observed.all():  # every gene without a promoter has the same (empty) input
            todo = np.append(todo, np.flatnonzero(~observed)[0])
        parts = []
        with torch_threads(), torch.inference_mode():
            for s in range(0, len(todo), batch_size):
                x = torch.from_numpy(promoter[todo[s : s + batch_size]]).to(device)
                parts.append(net.cnn(x).float().cpu().numpy())
        emb = np.concatenate(parts) if parts else np.zeros((0, self.config.embedding_dim))
        out = np.empty((len(promoter), emb.shape[1]), dtype=emb.dtype)
        out[todo] = emb
        if not observed.all():
            out[~observed] = emb[-1]
        return out

    # ------------------------------------------------------------------ stage 2
    def _design(self, nn_out: dict[str, np.ndarray], prep: dict, rows: np.ndarray) -> np.ndarray:
        cfg = self.config
        T = len(self.setup_.tissues)
        blocks = {k: v for k, v in nn_out.items() if k in ("joint", "cnn", "transformer")}
        if cfg.use_neighbor_features:
            blocks["idw"] = prep["idw"]  # all genes: indexed by rows in build_design
        g = prep["genef"]
        if g.shape[1] != len(self.genef_names_):
            msg = f"{g.shape[1]} gene features, expected {len(self.genef_names_)}"
            raise ValueError(msg)
        corr = cfg.use_tissue_correlation
        pcs = self.tissue_components_ if corr else np.zeros((T, 0))
        self.design_names_ = design_names(
            list(blocks), pcs.shape[1], self.genef_names_, related=corr
        )
        return build_design(blocks, rows, g, pcs, self.W_ if corr else None)

    def _xgb_params(self, device: str) -> dict:
        cfg = self.config
        return {
            "n_estimators": cfg.xgb_n_estimators,
            "learning_rate": cfg.xgb_learning_rate,
            "max_depth": cfg.xgb_max_depth,
            "subsample": cfg.xgb_subsample,
            "colsample_bytree": 0.8,
            "min_child_weight": cfg.xgb_min_child_weight,
            "reg_lambda": cfg.xgb_reg_lambda,
            "tree_method": "hist",
            "device": "cuda" if device == "cuda" else "cpu",
            "n_jobs": settings.n_jobs,
            "random_state": cfg.random_state,
        }

    # ------------------------------------------------------------------ public API
    def fit(
        self,
        Y: np.ndarray,
        inputs: GeneInputs,
        tissues: list[str],
        tissue_correlation: np.ndarray,
        *,
        setup: ModelSetup | None = None,
        accelerator: Accelerator | None = None,
        client: Any = None,
    ) -> HybridImputer:
        """Fit on the genes measured in ``Y`` (reference genes), using every measured cell.

        Parameters
        ----------
        Y
            ``(n_genes, n_tissues)`` log1p(TPM). Rows with at least one finite value are
            reference genes; their NaN cells (tissues a gene was not measured in) are left out
            of every loss and fit, and of the neighbour inputs of other genes. All-NaN rows are
            not used for training (but may be predicted).
        inputs
            :class:`GeneInputs` for the same rows; ``inputs.neighbors`` must only point at
            reference rows.
        tissues
            Tissue names, length ``n_tissues``.
        tissue_correlation
            ``(n_tissues, n_tissues)`` Pearson correlation of log1p expression (finite).
        setup
            What the caller read from its data (:class:`ModelSetup`); stored in ``setup_``
            with ``tissues`` and the gene-feature names filled in.
        accelerator
            ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``; ``None`` (default)
            follows ``geneimpute.settings.accelerator`` (``"auto"`` unless changed).
        client
            A ``dask.distributed.Client``: every XGBoost model (the regressor and the
            cross-fitted calibration models) is fitted with ``xgboost.dask`` on the cluster
            (:func:`~geneimpute.models.hybrid._boosting.fit_regressor`); the network trains here.

        Raises
        ------
        ValueError
            On shape mismatches, infinite values, too few reference genes (or a tissue
            measured in fewer than 20 of them), neighbours that point at all-NaN rows, or a
            non-finite tissue correlation.

        After fitting, ``oof_prediction_`` ``(n_reference, n_tissues)`` holds the out-of-fold
        predictions of the reference genes (rows ``oof_rows_``; not saved), and
        ``conditioner_`` the covariance of their errors over tissues
        (:class:`ObservedTissueConditioner`).
        """
        cfg = self.config
        device = resolve_device(accelerator)
        Y = np.asarray(Y, dtype=np.float64)
        if Y.ndim != 2 or Y.shape[1] != len(tissues) or Y.shape[0] != len(inputs.promoter):
            msg = (
                f"Y has shape {Y.shape}; expected ({len(inputs.promoter)}, {len(tissues)}) "
                "(genes x tissues)"
            )
            raise ValueError(msg)
        if np.isinf(Y).any():
            msg = "Y has infinite values"
            raise ValueError(msg)
        ref = np.isfinite(Y).any(axis=1)
        rows = np.flatnonzero(ref)
        if len(rows) < max(20, 2 * cfg.n_folds):
            msg = f"need at least 20 reference genes (measured in some tissue), got {len(rows)}"
            raise ValueError(msg)
        nb_idx = inputs.neighbors.index
        if (nb_idx >= 0).any() and not ref[nb_idx[nb_idx >= 0]].all():
            msg = "inputs.neighbors points at genes without any measured value"
            raise ValueError(msg)
        measured = np.isfinite(Y[rows])
        complete = bool(measured.all())
        if not complete and (measured.sum(axis=0) < 20).any():
            msg = "every tissue needs at least 20 reference genes measured in it"
            raise ValueError(msg)
        base = setup or ModelSetup()
        self.setup_ = ModelSetup.from_dict(
            {
                **base.to_dict(),
                "tissues": [str(t) for t in tissues],
                "gene_feature_names": list(inputs.feature_names),
                "n_reference_genes": int(len(rows)),
            }
        )
        if complete:
            self.mu_ = Y[rows].mean(axis=0)
            self.sd_ = Y[rows].std(axis=0) + 1e-6
        else:  # partly measured reference genes: every measured cell counts
            self.mu_ = np.nanmean(Y[rows], axis=0)
            self.sd_ = np.nanstd(Y[rows], axis=0) + 1e-6
        self._set_tissue_correlation(tissue_correlation)
        use_extra = cfg.use_distance and cfg.use_neighbor_features
        self.genef_names_ = self.feature_names_ + (list(DENSITY_NAMES) if use_extra else [])
        self.timings_ = {}
        self.history_ = []
        with timed("prepare", self.timings_):
            prep = self._prepare(Y, inputs)
            g = prep["genef"][rows]
            self.gmu_ = np.nan_to_num(np.nanmean(g, axis=0)) if len(g) else np.zeros(g.shape[1])
            self.gsd_ = np.nan_to_num(np.nanstd(g, axis=0)) + 1e-6
            self.gmiss_cols_ = np.flatnonzero(~np.isfinite(prep["genef"]).all(axis=0))
            t = self._net_inputs(prep, inputs)
        T = len(self.setup_.tissues)
        self.net_args_ = (
            {
                "n_tissues": T,
                "n_gene_features": int(t["genef"].shape[1]),
                "token_dim": int(t["profile"].shape[1] + t["dist"].shape[2]),
                "use_cnn": bool(cfg.use_cnn),
                "use_transformer": bool(cfg.use_transformer),
                "dim": int(cfg.embedding_dim),
                "pooled_profile": bool(cfg.pooled_profile),
                "heads": cfg.network_heads,
            }
            if self.uses_network
            else None
        )

        with timed("network_out_of_fold", self.timings_):
            rng = np.random.default_rng(cfg.random_state)
            folds = np.array_split(rng.permutation(rows), cfg.n_folds)
            oof: dict[str, np.ndarray] = {}
            fold_nets = []
            for f, held in enumerate(folds if self.uses_network else []):
                train_rows = np.setdiff1d(rows, held)
                net = self._fit_net(
                    t,
                    Y,
                    train_rows,
                    device,
                    cfg.random_state + 1 + f,
                    f"network fold {f + 1}/{cfg.n_folds}",
                )
                fold_nets.append(net)
                out = self._predict_net(net, t, np.sort(held), device)
                for k, v in out.items():
                    if k == "promoter_embedding":
                        continue
                    oof.setdefault(k, np.zeros((len(Y), T)))[np.sort(held)] = v
        with timed("network_final", self.timings_):
            if not self.uses_network:
                self.net_ = None
            elif cfg.network_ensemble:  # new genes: the networks XGBoost learned from
                from ._networks import NetworkEnsemble

                self.net_ = NetworkEnsemble(fold_nets)
            else:
                self.net_ = self._fit_net(
                    t, Y, rows, device, cfg.random_state, "network (all genes)"
                )

        with timed("xgboost_design", self.timings_):
            self.oof_ = {k: v[rows] for k, v in oof.items()}
            X3 = self._design(self.oof_, prep, rows).reshape(len(rows), T, -1)
        with timed("xgboost_fit", self.timings_):
            self.xgb_, self.pattern_xgb_ = fit_stage2(
                self._xgb_params(device), X3, Y[rows], client, pattern=cfg.xgb_pattern_model
            )
        with timed("out_of_fold_errors", self.timings_):
            where = [np.searchsorted(rows, np.sort(h)) for h in folds]
            #: out-of-fold hybrid predictions of the reference genes (not saved)
            self.oof_prediction_ = self._cross_fit(
                X3, Y[rows], where, device, client, pattern=cfg.xgb_pattern_model
            )
            self.oof_rows_ = rows
            residuals = Y[rows] - self.oof_prediction_
            self.conditioner_ = ObservedTissueConditioner().fit(residuals)
        if cfg.calibrate:
            with timed("calibration", self.timings_):
                self._calibrate(X3, residuals, where, device, client)
        self.device_ = device
        return self

    def _sigma_params(self, device: str) -> dict:
        return {**self._xgb_params(device), "n_estimators": 100, "max_depth": 3}

    def _cross_fit(
        self,
        X3: np.ndarray,
        target: np.ndarray,
        where: list[np.ndarray],
        device: str,
        client: Any = None,
        params: dict | None = None,
        *,
        pattern: bool = False,
    ) -> np.ndarray:
        """Out-of-fold predictions ``(n_rows, T)`` of an XGBoost model of ``target``.

        ``X3`` is the design as ``(n_rows, T, F)``; for each gene fold in ``where`` (positions
        in the rows), the model (with ``pattern``, the level and pattern models of
        :func:`~geneimpute.models.hybrid._boosting.fit_stage2`) is refitted on the other folds'
        genes and predicts the fold, so every prediction comes from a model that did not see
        its gene.
        """
        n, T, _ = X3.shape
        params = params or self._xgb_params(device)
        out = np.empty((n, T))
        for hi in where:
            tr = np.setdiff1d(np.arange(n), hi)
            models = fit_stage2(params, X3[tr], target[tr], client, pattern=pattern)
            out[hi] = predict_stage2(*models, X3[hi])
        return out

    def _calibrate(
        self,
        X3: np.ndarray,
        residuals: np.ndarray,
        where: list[np.ndarray],
        device: str,
        client: Any = None,
    ) -> None:
        """Cross-fitted residuals and difficulty estimates of the reference genes -> conformal.

        ``residuals`` are the reference genes' out-of-fold errors (:meth:`_cross_fit`). A
        difficulty model (XGBoost on the same design, target ``|residual|``) is cross-fitted
        the same way for the calibration genes and fitted on all of them for new genes.
        """
        absres = np.abs(residuals)
        params = self._sigma_params(device)
        raw = self._cross_fit(X3, absres, where, device, client, params)
        X, target = measured_rows(X3.reshape(-1, X3.shape[2]), absres.ravel())
        self.sigma_xgb_ = fit_regressor(params, X, target, client)
        sigmas, self.sigma_floor_ = floor_sigmas(raw)
        self.conformal_ = TissueConformal().fit(residuals, sigmas)

    @property
    def calibrated(self) -> bool:
        """Whether the model can give calibrated intervals."""
        return self.conformal_ is not None and self.sigma_xgb_ is not None

    def interval(
        self, pred: np.ndarray, sigma: np.ndarray, confidence: float = 0.9
    ) -> tuple[np.ndarray, np.ndarray]:
        """Conformal ``(lower, upper)`` log1p bounds around ``pred`` with difficulty ``sigma``.

        Both ``(n_genes, n_tissues)`` as returned by :meth:`predict` with ``return_sigma``.

        Raises
        ------
        RuntimeError
            If the model was fitted with ``calibrate=False``.
        """
        return self._calibration().interval(pred, sigma, confidence)

    def thin_calibration(self, n_genes: int, random_state: int = 0) -> None:
        """Keep a seeded random subset of ``n_genes`` calibration genes (smaller saved models).

        Split-conformal coverage holds for any calibration set exchangeable with new genes, so
        a random subset keeps the guarantee; the interval quantiles become coarser (steps of
        ``1 / (n_genes + 1)``) and vary a little more between subsets. Used to keep the
        shipped pretrained models small (``calibration.npz`` holds two
        ``(n_genes, n_tissues)`` float64 arrays).

        Raises
        ------
        RuntimeError
            If the model has no calibration.
        ValueError
            If ``n_genes < 20``.
        """
        cal = self._calibration()
        if isinstance(n_genes, bool) or not isinstance(n_genes, int) or n_genes < 20:
            msg = f"n_genes must be an integer >= 20, got {n_genes!r}"
            raise ValueError(msg)
        R, S = cal.residuals_, cal.sigmas_
        assert R is not None and S is not None
        if n_genes >= len(R):
            return
        keep = np.sort(np.random.default_rng(random_state).choice(len(R), n_genes, replace=False))
        self.conformal_ = TissueConformal().fit(R[keep], S[keep])

    def _calibration(self) -> TissueConformal:
        """Return the conformal calibration; ``RuntimeError`` for a model without one."""
        if self.conformal_ is None or self.sigma_xgb_ is None:
            msg = "this model has no interval calibration (fitted with calibrate=False)"
            raise RuntimeError(msg)
        return self.conformal_

    def check_fitted(self) -> None:
        """Raise ``RuntimeError`` if the model has not been fitted or loaded."""
        if self.xgb_ is None or (self.uses_network and self.net_ is None):
            msg = "this HybridImputer is not fitted yet; call fit() or geneimpute.tl.train()"
            raise RuntimeError(msg)

    def predict(
        self,
        Y: np.ndarray,
        inputs: GeneInputs,
        rows: np.ndarray,
        *,
        accelerator: Accelerator | None = None,
        return_embedding: bool = False,
        return_sigma: bool = False,
    ) -> Any:
        """Predict log1p(TPM) profiles ``(len(rows), n_tissues)`` for ``rows`` of ``Y``.

        ``Y`` ``(n_genes, n_tissues)`` supplies the reference profiles that
        ``inputs.neighbors`` points at, tissues in the order of ``tissues_``. With
        ``return_embedding``, also return the promoter CNN embeddings of every gene
        ``(n_genes, embedding_dim)`` (None without a CNN). With ``return_sigma``, also return
        the difficulty estimates ``(len(rows), n_tissues)`` for :meth:`interval` (the result is
        then ``(pred, embedding, sigma)``).

        Raises
        ------
        RuntimeError
            If the model is not fitted (or ``return_sigma`` without a calibration).
        ValueError
            If ``Y`` has another number of tissues, or gene features differ from training.
        """
        self.check_fitted()
        device = resolve_device(accelerator)
        if self.net_ is not None:
            self.net_.to(device)
        T = len(self.setup_.tissues)
        if Y.ndim != 2 or Y.shape[1] != T:
            msg = f"Y has {Y.shape[1] if Y.ndim == 2 else '?'} tissues, the model has {T}"
            raise ValueError(msg)
        if list(inputs.feature_names) != self.feature_names_:
            msg = (
                f"gene features {list(inputs.feature_names)} differ from the model's "
                f"{self.feature_names_}"
            )
            raise ValueError(msg)
        rows = np.asarray(rows, dtype=np.int64)
        emb = None
        with timed("network_inference"):
            prep = self._prepare(Y, inputs)
            t = self._net_inputs(prep, inputs)
            if self.net_ is None:
                out = {}
            else:
                out = self._predict_net(self.net_, t, rows, device)
                out.pop("promoter_embedding", None)
                if return_embedding and self.config.use_cnn:
                    emb = self._promoter_embeddings(self.net_, inputs.promoter, device)
        with timed("xgboost_predict"):
            X = self._design(out, prep, rows)
            for m in (self.xgb_, self.pattern_xgb_, self.sigma_xgb_):
                if m is not None:  # a model fitted on a GPU predicts where it is asked to
                    m.set_params(device="cuda" if device == "cuda" else "cpu")
            X3 = X.reshape(len(rows), T, X.shape[1])
            pred = predict_stage2(self.xgb_, self.pattern_xgb_, X3)
        if return_sigma:
            self._calibration()
            raw = self.sigma_xgb_.predict(X).reshape(len(rows), T) if len(rows) else pred.copy()
            sigma, _ = floor_sigmas(raw, self.sigma_floor_)
            return pred, emb, sigma
        return (pred, emb) if return_embedding else pred

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, *, overwrite: bool = False) -> None:
        """Write the model to a directory, atomically (see :mod:`geneimpute.models`).

        Files: ``config.json`` (schema version, package version, hyperparameters, network
        constructor arguments, the :class:`ModelSetup` and the fitted scalers),
        ``network.pt`` (torch ``state_dict``, when there is a network) and ``xgboost.ubj``.

        Raises
        ------
        FileExistsError
            If ``path`` exists and ``overwrite`` is False.
        FileNotFoundError
            If the parent directory of ``path`` does not exist.
        RuntimeError
            If the model is not fitted.
        """
        from .._persistence import save_hybrid

        self.check_fitted()
        save_hybrid(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path, *, map_location: str = "cpu") -> HybridImputer:
        """Load a model written by :meth:`save` (torch weights with ``weights_only=True``).

        Raises
        ------
        FileNotFoundError
            If ``path`` is not a saved model directory.
        ValueError
            If the directory is damaged or from another geneimpute version, naming what is
            wrong.
        """
        from .._persistence import load_hybrid

        return load_hybrid(cls, path, map_location=map_location)

"""The hybrid imputer on arrays (torch and xgboost are imported when it fits, predicts, loads)."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._core.correlation import check_correlation, tissue_weights
from ..._docs import doc_params
from ..._settings import Accelerator, resolve_device
from ..._timing import timed
from .._conditioning import ObservedTissueConditioner
from .._conformal import TissueConformal, floor_sigmas
from ._boosting import build_design, cross_fit, fit_stage2, predict_stage2, xgb_params
from ._config import DENSITY_NAMES, HybridConfig, ModelSetup
from ._features import GeneInputs, neighbor_arrays, reference_rows
from ._stage1 import READ_OUTS, fit_network, network_tensors, promoter_embeddings, read_out

if TYPE_CHECKING:
    import torch

    from ._networks import HybridNet, NetworkEnsemble


class HybridImputer:
    """Hybrid estimator of log1p(TPM) tissue profiles from promoters and genomic neighbours.

    Stage 1 (:class:`~geneimpute.models.HybridNet`): a promoter CNN and a transformer over the
    neighbour reference genes, each read out to a tissue profile. Stage 2: XGBoost on (gene,
    tissue) rows of the out-of-fold read-outs, the distance-based profile, tissue context and
    gene features (a level and a pattern model); the ``n_folds`` networks' mean serves new
    genes. Brown, Dong & Truong, Communications Biology (2026), doi:10.1038/s42003-026-10251-7.

    Parameters
    ----------
    config
        :class:`HybridConfig`; keyword arguments override its fields (``TypeError`` on unknown
        names, ``ValueError`` on out-of-range values).

    Attributes
    ----------
    setup_
        :class:`ModelSetup`: tissues, features, units, keys it was trained with.
    net_, net_args_
        The :class:`NetworkEnsemble` that reads out new genes and its members' arguments.
    timings_
        Seconds per fitting stage.
    oof_prediction_, oof_rows_, conditioner_
        Out-of-fold predictions of the reference genes, their rows (not saved) and the
        :class:`ObservedTissueConditioner` of their errors.
    """

    def __init__(self, config: HybridConfig | None = None, **kwargs: Any) -> None:
        self.config = HybridConfig.from_dict(asdict(config or HybridConfig()), **kwargs)
        self.setup_ = ModelSetup()
        self.genef_names_: list[str] = []
        self.timings_: dict[str, float] = {}
        self.history_: list[dict] = []
        self.net_: NetworkEnsemble | None = None
        self.net_args_: dict[str, Any] | None = None
        self.xgb_: Any = None
        self.pattern_xgb_: Any = None
        self.sigma_xgb_: Any = None
        self.conditioner_: ObservedTissueConditioner | None = None
        self.oof_prediction_: np.ndarray | None = None
        self.oof_rows_: np.ndarray | None = None
        self.conformal_: TissueConformal | None = None
        self.sigma_floor_: float = 0.0

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
        return self.config.uses("cnn") or self.config.uses("transformer")

    def _set_tissue_correlation(self, C: np.ndarray) -> None:
        """Store the tissue correlation, its weights and eigenvectors."""
        C = np.asarray(C, dtype=np.float64)
        check_correlation(C, len(self.setup_.tissues))
        self.tissue_correlation_ = C
        self.W_ = tissue_weights(C)
        evecs = np.linalg.eigh(C)[1]
        self.tissue_components_ = evecs[:, ::-1][:, : self.config.n_tissue_components]

    def _prepare(self, Y: np.ndarray, inputs: GeneInputs) -> dict[str, np.ndarray]:
        """Arrays derived from the reference profiles (fit and predict)."""
        return neighbor_arrays(Y, inputs, (self.mu_, self.sd_), self.W_, self.config)

    def _net_inputs(self, prep: dict, inputs: GeneInputs) -> dict[str, torch.Tensor]:
        """Tensors of every gene the networks read."""
        index = inputs.neighbors.index[:, : self.config.k_neighbors]
        scaler = (self.gmu_, self.gsd_, self.gmiss_cols_)
        return network_tensors(prep, inputs.promoter, index, scaler)

    def _new_member(self) -> HybridNet:
        """Build an untrained :class:`HybridNet` from ``net_args_``."""
        from ._networks import HybridNet

        return HybridNet(**self.net_args_)  # type: ignore[arg-type]

    def _design(self, nn_out: dict[str, np.ndarray], prep: dict, rows: np.ndarray) -> np.ndarray:
        cfg = self.config
        blocks = {k: v for k, v in nn_out.items() if k in READ_OUTS}
        if cfg.uses("neighbor_profile"):
            blocks["idw"] = prep["idw"]  # all genes: indexed by rows in build_design
        g = prep["genef"]
        if g.shape[1] != len(self.genef_names_):
            msg = f"{g.shape[1]} gene features, expected {len(self.genef_names_)}"
            raise ValueError(msg)
        corr = cfg.uses("tissue_correlation")
        pcs = self.tissue_components_ if corr else np.zeros((len(self.setup_.tissues), 0))
        return build_design(blocks, rows, g, pcs, self.W_ if corr else None)

    @doc_params("accelerator")
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
            ``(n_genes, n_tissues)`` log1p(TPM); rows with a finite value are reference genes
            (NaN cells left out), all-NaN rows are not trained on.
        inputs
            :class:`GeneInputs` of the same rows (neighbours among the reference rows).
        tissues
            Tissue names, length ``n_tissues``.
        tissue_correlation
            ``(n_tissues, n_tissues)`` Pearson correlation of log1p expression (finite).
        setup
            What the caller read from its data, stored in ``setup_``.
        {accelerator}
        client
            A ``dask.distributed.Client`` to fit every XGBoost model on (``xgboost.dask``).

        Raises
        ------
        ValueError
            On shape mismatches, infinite values, fewer than 20 reference genes (or in a
            tissue), neighbours at all-NaN rows, or a non-finite tissue correlation.
        """
        device = resolve_device(accelerator)
        Y = np.asarray(Y, dtype=np.float64)
        rows = reference_rows(Y, inputs, len(tissues), self.config.n_folds)
        self.setup_ = replace(
            setup or ModelSetup(),
            tissues=[str(t) for t in tissues],
            gene_feature_names=list(inputs.feature_names),
            n_reference_genes=int(len(rows)),
        )
        if np.isfinite(Y[rows]).all():
            self.mu_, self.sd_ = Y[rows].mean(axis=0), Y[rows].std(axis=0) + 1e-6
        else:  # partly measured reference genes: every measured cell counts
            self.mu_, self.sd_ = np.nanmean(Y[rows], axis=0), np.nanstd(Y[rows], axis=0) + 1e-6
        self._set_tissue_correlation(tissue_correlation)
        density = self.config.uses("distance") and self.config.uses("neighbor_profile")
        self.genef_names_ = self.feature_names_ + (list(DENSITY_NAMES) if density else [])
        self.timings_, self.history_ = {}, []
        with timed("prepare", self.timings_):
            prep = self._prepare(Y, inputs)
            g = prep["genef"][rows]
            self.gmu_ = np.nan_to_num(np.nanmean(g, axis=0)) if len(g) else np.zeros(g.shape[1])
            self.gsd_ = np.nan_to_num(np.nanstd(g, axis=0)) + 1e-6
            self.gmiss_cols_ = np.flatnonzero(~np.isfinite(prep["genef"]).all(axis=0))
            t = self._net_inputs(prep, inputs)
        rng = np.random.default_rng(self.config.random_state)
        folds = np.array_split(rng.permutation(rows), self.config.n_folds)
        with timed("network_out_of_fold", self.timings_):
            oof = self._fit_networks(t, Y, folds, rows, device)
        with timed("xgboost_design", self.timings_):
            oof = {k: v[rows] for k, v in oof.items()}
            X3 = self._design(oof, prep, rows).reshape(len(rows), len(tissues), -1)
        self._fit_stage2(X3, Y[rows], rows, folds, device, client)
        self.device_ = device
        return self

    def _fit_networks(
        self, t: dict, Y: np.ndarray, folds: list[np.ndarray], rows: np.ndarray, device: str
    ) -> dict[str, np.ndarray]:
        """Fit one network per fold on the other folds; return the out-of-fold read-outs."""
        cfg = self.config
        self.net_args_ = self.net_ = None
        if not self.uses_network:
            return {}
        self.net_args_ = {
            "n_tissues": len(self.setup_.tissues),
            "n_gene_features": int(t["genef"].shape[1]),
            "token_dim": int(t["profile"].shape[1] + t["dist"].shape[2]),
            "use_cnn": cfg.uses("cnn"),
            "use_transformer": cfg.uses("transformer"),
            "dim": int(cfg.embedding_dim),
        }
        from ._networks import NetworkEnsemble

        Z = (Y - self.mu_) / self.sd_
        oof: dict[str, np.ndarray] = {}
        nets = []
        for f, held in enumerate(folds):
            desc, train = f"network fold {f + 1}/{cfg.n_folds}", np.setdiff1d(rows, held)
            seed = cfg.random_state + 1 + f
            net, history = fit_network(self._new_member, t, Z, train, cfg, device, seed, desc)
            self.history_ += history
            nets.append(net)
            held = np.sort(held)
            out = read_out(net, t, held, device, scale=(self.mu_, self.sd_))
            for k in READ_OUTS:
                if k in out:
                    oof.setdefault(k, np.zeros(Y.shape))[held] = out[k]
        self.net_ = NetworkEnsemble(nets)  # new genes: the networks XGBoost learned from
        return oof

    def _fit_stage2(self, X3, Y, rows, folds, device: str, client) -> None:
        """Fit XGBoost on the reference genes' design ``X3``, their errors and intervals."""
        params = xgb_params(self.config, device)
        with timed("xgboost_fit", self.timings_, progress=True):
            self.xgb_, self.pattern_xgb_ = fit_stage2(params, X3, Y, client)
        with timed("out_of_fold_errors", self.timings_, progress=True):
            where = [np.searchsorted(rows, np.sort(h)) for h in folds]
            self.oof_prediction_ = cross_fit(params, X3, Y, where, client)
            self.oof_rows_ = rows
            residuals = Y - self.oof_prediction_
            self.conditioner_ = ObservedTissueConditioner().fit(residuals)
        self.sigma_xgb_, self.conformal_, self.sigma_floor_ = None, None, 0.0
        if self.config.calibrate:  # a smaller difficulty model of |residual|, cross-fitted
            with timed("calibration", self.timings_, progress=True):
                small = {**params, "n_estimators": 100, "max_depth": 3}
                absres = np.abs(residuals)
                raw = cross_fit(small, X3, absres, where, client, pattern=False)
                self.sigma_xgb_ = fit_stage2(small, X3, absres, client, pattern=False)[0]
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
        """Keep a seeded random subset of ``n_genes`` calibration genes (coverage holds).

        Raises
        ------
        RuntimeError
            If the model has no calibration.
        ValueError
            If ``n_genes < 20``.
        """
        self.conformal_ = self._calibration().subset(n_genes, random_state)

    def _calibration(self) -> TissueConformal:
        """Return the conformal calibration (``RuntimeError`` without one)."""
        if self.conformal_ is None or self.sigma_xgb_ is None:
            msg = "this model has no interval calibration (fitted with calibrate=False)"
            raise RuntimeError(msg)
        return self.conformal_

    def check_fitted(self) -> None:
        """Raise ``RuntimeError`` if the model has not been fitted or loaded."""
        if self.xgb_ is None or (self.uses_network and self.net_ is None):
            msg = "this HybridImputer is not fitted yet; call fit() or geneimpute.tl.train()"
            raise RuntimeError(msg)

    @doc_params("accelerator")
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

        Parameters
        ----------
        Y
            ``(n_genes, n_tissues)`` reference profiles (``inputs.neighbors`` points at them).
        inputs
            :class:`GeneInputs` of the same rows.
        rows
            Rows to predict.
        {accelerator}
        return_embedding
            Also return the CNN embeddings ``(n_genes, embedding_dim)`` (None without a CNN).
        return_sigma
            Also return difficulties ``(len(rows), n_tissues)`` for :meth:`interval`.

        Returns
        -------
        ``pred``, ``(pred, embedding)`` or ``(pred, embedding, sigma)``.

        Raises
        ------
        RuntimeError
            If the model is not fitted (or ``return_sigma`` without a calibration).
        ValueError
            If ``Y``'s tissues or the gene features differ from training.
        """
        self.check_fitted()
        device = resolve_device(accelerator)
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
        with timed("network_inference", progress=True):
            prep = self._prepare(Y, inputs)
            t = self._net_inputs(prep, inputs)
            out: dict[str, np.ndarray] = {}
            if self.net_ is not None:
                out = read_out(self.net_.to(device), t, rows, device, scale=(self.mu_, self.sd_))
                if return_embedding and self.config.uses("cnn"):
                    emb = promoter_embeddings(self.net_, inputs.promoter, device)
        with timed("xgboost_predict", progress=True):
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

    @doc_params("model_save")
    def save(self, path: str | Path, *, overwrite: bool = False) -> None:
        """Write ``config.json``, ``network.pt``, ``xgboost*.ubj`` (and ``calibration.npz``).

        {model_save}
        """
        from ._saving import save_hybrid

        self.check_fitted()
        save_hybrid(self, path, overwrite=overwrite)

    @classmethod
    @doc_params("model_load_device")
    def load(cls, path: str | Path, *, map_location: str = "cpu") -> HybridImputer:
        """Load a model written by :meth:`save`.

        {model_load_device}
        """
        from ._saving import load_hybrid

        return load_hybrid(cls, path, map_location=map_location)

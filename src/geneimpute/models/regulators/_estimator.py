"""Regulator-driven imputation of samples on arrays (the DeepSF design), no AnnData.

A sample's target genes are predicted from the expression of its regulators (RNA-binding
proteins / splicing factors, transcription factors) by dense layers with batch norm, joined
before the output layer with the encoder of an autoencoder pretrained, unsupervised, on the
sample's measured transcriptome (its cellular context), as in DeepSF (Jiménez-Santos et al.,
"A deep neural network to predict cell transcriptome from genome", DeepRBP/DeepSF project).
Training hides a random fraction of each training sample's observed targets from the context
and scores the network on them, so it learns to infer a gene the sample lacks rather than to
copy it. Attribution of targets to regulators uses DeepLIFT (Shrikumar et al., ICML 2017,
arXiv:1704.02685) or Integrated Gradients (Sundararajan et al., ICML 2017) from captum.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import __version__
from ..._core.io import atomic_directory
from ..._core.training import fit_early_stopping
from ..._settings import Accelerator, resolve_device, settings
from .._conditioning import observation_patterns
from .._persistence import DamagedModelError, _damaged
from ..hybrid._config import config_from_dict

if TYPE_CHECKING:
    import torch

    from ._context import ContextRidge
    from ._networks import RegulatorNet

FORMAT = "geneimpute.RegulatorImputer"
SCHEMA_VERSION = 1


@dataclass
class RegulatorConfig:
    """Hyperparameters of :class:`RegulatorImputer`.

    Attributes
    ----------
    hidden
        Units of the regulator network's dense layers (DeepSF: 183, 82).
    use_autoencoder
        Join the encoder of a sample-context autoencoder before the output layer (False: the
        regulator network alone, the ablation).
    context_ridge
        With the autoencoder: add the network's output to a context ridge
        (:class:`~geneimpute.models.ContextRidge`): each target a sample did not measure
        regressed on every gene it measured (regulators and targets), a penalty per target by
        generalised cross-validation, over the training samples. The network learns its
        residual, trained on ``context_folds`` fixed folds of targets hidden from cross-fitted
        context ridges (each sample's fold of targets hidden, the ridge fitted on the other
        samples). The model keeps its z-scored training matrix for it (``context.npy``).
    context_folds
        Folds of targets and of samples for the context ridge's cross-fitting (>= 2).
    ridge_base
        Without the context ridge: add the network's output to a ridge regression of the
        targets on the regulators (one penalty for all targets, chosen by generalised
        cross-validation on the fully measured targets; each target fitted on the samples
        that measured it), so the layers learn
        the residual: what the linear model misses.
    autoencoder_width
        Units of the autoencoder's three hidden layers (DeepSF: 512).
    hide_fraction
        Fraction of each training sample's observed targets hidden from the context (and
        scored) in every batch; also the denoising fraction of the autoencoder.
    max_epochs, patience, autoencoder_epochs
        Epoch limits (early stopping on ``val_fraction`` of the samples).
    batch_size, learning_rate, weight_decay, dropout
        Training settings (AdamW).
    val_fraction
        Fraction of samples used for early stopping.
    random_state
        Seed of numpy and torch (global RNG state untouched).

    Raises
    ------
    ValueError
        On out-of-range values, naming the field.
    """

    hidden: list[int] = field(default_factory=lambda: [183, 82])
    use_autoencoder: bool = True
    context_ridge: bool = True
    context_folds: int = 5
    ridge_base: bool = True
    autoencoder_width: int = 512
    hide_fraction: float = 0.5
    max_epochs: int = 200
    autoencoder_epochs: int = 100
    patience: int = 20
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    dropout: float = 0.1
    val_fraction: float = 0.1
    random_state: int = 0

    def __post_init__(self) -> None:
        self.hidden = [int(h) for h in self.hidden]
        if not self.hidden or min(self.hidden) < 1:
            msg = f"RegulatorConfig.hidden must be positive layer sizes, got {self.hidden}"
            raise ValueError(msg)
        for name in ("max_epochs", "autoencoder_epochs", "patience", "autoencoder_width"):
            if int(getattr(self, name)) < 1:
                msg = f"RegulatorConfig.{name} must be >= 1, got {getattr(self, name)!r}"
                raise ValueError(msg)
        if int(self.context_folds) < 2:
            msg = f"RegulatorConfig.context_folds must be >= 2, got {self.context_folds!r}"
            raise ValueError(msg)
        if self.batch_size < 2:
            msg = f"RegulatorConfig.batch_size must be >= 2 (batch norm), got {self.batch_size}"
            raise ValueError(msg)
        for name in ("hide_fraction", "val_fraction"):
            if not 0 < float(getattr(self, name)) < 1:
                msg = f"RegulatorConfig.{name} must be in (0, 1), got {getattr(self, name)!r}"
                raise ValueError(msg)

    @classmethod
    def from_dict(cls, values: dict[str, Any], **overrides: Any) -> RegulatorConfig:
        """Build from a dict plus overrides; unknown names raise ``TypeError``."""
        return config_from_dict(cls, values, overrides)


@dataclass
class RegulatorSetup:
    """What a :class:`RegulatorImputer` was trained on (stored, checked when applied).

    Attributes
    ----------
    regulators, targets
        Gene names (``var_names``) of the inputs and outputs, in model order.
    units
        Units of the expression it was trained on (e.g. ``"log2 normalised"``).
    layer
        Layer read (None = ``X``).
    n_samples
        Training samples.
    """

    regulators: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    units: str = ""
    layer: str | None = None
    n_samples: int = 0


def _zscore(A: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    return ((A - mu) / sd).astype(np.float32)


class RegulatorImputer:
    """Predict target genes of samples from regulator expression and sample context.

    Arrays only: ``R`` is ``(n_samples, n_regulators)`` (no NaN), ``Y`` is
    ``(n_samples, n_targets)`` with NaN where a sample lacks a target. Values in any one
    (log-scale) unit; each gene is z-scored with its training mean and sd.

    Parameters
    ----------
    config
        :class:`RegulatorConfig`; keyword arguments override its fields.

    Attributes
    ----------
    setup_
        :class:`RegulatorSetup` (set by the ``tl`` layer, or by the caller).
    history_
        Per-epoch training records of the autoencoder and the network.
    """

    def __init__(self, config: RegulatorConfig | None = None, **kwargs: Any) -> None:
        self.config = RegulatorConfig.from_dict(asdict(config or RegulatorConfig()), **kwargs)
        self.setup_ = RegulatorSetup()
        self.net_: RegulatorNet | None = None
        self.context_: ContextRidge | None = None
        self.history_: dict[str, list] = {}
        self.r_mu_ = self.r_sd_ = self.y_mu_ = self.y_sd_ = np.zeros(0)

    # ------------------------------------------------------------------ inputs
    def _context(self, Rz: np.ndarray, Yz: np.ndarray, hide: np.ndarray | None = None):
        """``(n, 2 (nR + nT))`` context: z-values (0 where unmeasured/hidden) + indicators."""
        observed = np.isfinite(Yz)
        if hide is not None:
            observed &= ~hide
        vals = np.where(observed, Yz, 0.0)
        ones = np.ones_like(Rz, dtype=bool)
        return np.concatenate([Rz, vals, ones, observed], axis=1, dtype=np.float32)

    def _check(self, R: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        R = np.asarray(R, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        if R.ndim != 2 or Y.ndim != 2 or len(R) != len(Y):
            msg = f"R {R.shape} and Y {Y.shape} must be 2-D with the same number of samples"
            raise ValueError(msg)
        if not np.isfinite(R).all():
            msg = "regulator expression R must not contain NaN or infinite values"
            raise ValueError(msg)
        if np.isinf(Y).any():
            msg = "target expression Y must not contain infinite values (NaN = unmeasured)"
            raise ValueError(msg)
        return R, Y

    # ------------------------------------------------------------------ training
    def fit(
        self, R: np.ndarray, Y: np.ndarray, *, accelerator: Accelerator | None = None
    ) -> RegulatorImputer:
        """Pretrain the autoencoder (if used) and train the regulator network.

        Raises
        ------
        ValueError
            On NaN in ``R``, shape mismatches, fewer than 20 samples, or a target never
            observed.
        """
        import torch

        R, Y = self._check(R, Y)
        n = len(R)
        if n < 20:
            msg = f"need at least 20 samples to train, got {n}"
            raise ValueError(msg)
        never = np.flatnonzero(~np.isfinite(Y).any(axis=0))
        if len(never):
            msg = f"{len(never)} targets are not measured in any sample (columns {never[:5]})"
            raise ValueError(msg)
        cfg = self.config
        rng = np.random.default_rng(cfg.random_state)
        device = resolve_device(accelerator)
        self.r_mu_, self.r_sd_ = R.mean(axis=0), R.std(axis=0)
        self.r_sd_ = np.where(self.r_sd_ > 1e-8, self.r_sd_, 1.0)
        self.y_mu_, self.y_sd_ = np.nanmean(Y, axis=0), np.nanstd(Y, axis=0)
        self.y_sd_ = np.where(np.isfinite(self.y_sd_) & (self.y_sd_ > 1e-8), self.y_sd_, 1.0)
        Rz, Yz = _zscore(R, self.r_mu_, self.r_sd_), _zscore(Y, self.y_mu_, self.y_sd_)
        order = rng.permutation(n)
        n_val = max(2, int(round(cfg.val_fraction * n)))
        val, train = order[:n_val], order[n_val:]
        observed = np.isfinite(Yz)
        # a fixed hidden set for validation: the same score every epoch
        val_hide = (rng.random(Yz.shape) < cfg.hide_fraction) & observed
        nR, nT = R.shape[1], Y.shape[1]
        self.context_ = None
        context_base = None
        if self.uses_context_ridge:
            context_base, net_hide = self._context_folds(Rz, Yz, rng)
        base = self._ridge_base(Rz, Yz) if cfg.ridge_base and context_base is None else None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.random_state)
            encoder = None
            if cfg.use_autoencoder:
                ae = self._new_autoencoder(nR + nT).to(device)
                self._pretrain(ae, Rz, Yz, train, val, val_hide, rng, device)
                encoder = ae.encoder
            net = self._new_net(nR, nT, encoder)
            if base is not None:
                net.base.copy_(torch.from_numpy(base.astype(np.float32)))  # type: ignore[operator]
            net = net.to(device)
            if context_base is not None:
                self._train_residual(net, Rz, Yz, context_base, net_hide, train, val, device)
            else:
                self._train_net(net, Rz, Yz, train, val, val_hide, rng, device)
        self.net_ = net.cpu().eval()
        return self

    @property
    def uses_context_ridge(self) -> bool:
        """Whether the network is added to a context ridge (autoencoder + ``context_ridge``)."""
        return bool(self.config.use_autoencoder and self.config.context_ridge)

    def _context_folds(self, Rz: np.ndarray, Yz: np.ndarray, rng: np.random.Generator):
        """Cross-fitted context-ridge predictions on the training samples.

        Targets and samples are split into ``context_folds`` folds; the samples of fold ``k``
        have the targets of fold ``k`` hidden and predicted by a context ridge fitted on the
        other samples (one pooled fit per fold, on the genes all its samples measured).
        Returns the ``(n, n_targets)`` z-scored predictions (0 where not hidden) and the
        hidden mask, the cells the residual network is trained on.
        """
        from ._context import ContextRidge

        K = int(self.config.context_folds)
        n, nT = Yz.shape
        Z = np.concatenate([Rz, Yz], axis=1)
        self.context_ = ContextRidge(Z, Rz.shape[1])
        gene_fold = rng.permutation(nT) % K
        sample_fold = rng.permutation(n) % K
        hide = (gene_fold[None, :] == sample_fold[:, None]) & np.isfinite(Yz)
        base = np.zeros((n, nT), dtype=np.float32)
        for k in range(K):
            rows = sample_fold == k
            pred = self.context_.predict(Z[rows], hidden=hide[rows], rows=~rows, pooled=True)
            base[rows] = np.where(hide[rows], np.nan_to_num(pred), 0.0)
        self.context_.clear_cache()  # cross-fitting fits are not reused
        return base, hide

    def _context_base(self, Rz: np.ndarray, Yz: np.ndarray) -> np.ndarray:
        """``(n, n_targets)`` context-ridge predictions (z units) of the unmeasured targets."""
        if self.context_ is None:
            return np.zeros_like(Yz, dtype=np.float32)
        pred = self.context_.predict(np.concatenate([Rz, Yz], axis=1))
        return np.where(np.isfinite(Yz), 0.0, np.nan_to_num(pred)).astype(np.float32)

    def _train_residual(self, net, Rz, Yz, base, hide, train, val, device) -> None:
        """Train the network on the residual of the cross-fitted context ridge (fixed folds)."""
        import torch

        t_R = torch.from_numpy(Rz)
        t_target = torch.from_numpy(np.where(hide, Yz - base, 0.0).astype(np.float32))

        def run(rows: np.ndarray, hide_y: np.ndarray) -> torch.Tensor:
            ctx = torch.from_numpy(self._context(Rz[rows], Yz[rows], hide_y)).to(device)
            out = net(t_R[rows].to(device), ctx)
            w = torch.from_numpy(hide_y).float().to(device)
            err = (out - t_target[rows].to(device)) ** 2 * w
            return err.sum() / w.sum().clamp(min=1.0)

        self.history_["network"] = self._fit_loop(
            net,
            run,
            train,
            val,
            hide,
            lambda b: hide[b],  # the fixed folds the ridge was cross-fitted on
            np.random.default_rng(self.config.random_state + 1),
            self.config.max_epochs,
            "regulator network (context-ridge residual)",
            validate_start=True,
        )

    def _new_autoencoder(self, n_genes: int):
        from ._networks import SampleAutoencoder

        return SampleAutoencoder(n_genes, self.config.autoencoder_width, self.config.dropout)

    def _new_net(self, n_regulators: int, n_targets: int, encoder) -> RegulatorNet:
        """Build the regulator network of this config (``encoder``: the autoencoder's, or None)."""
        from ._networks import RegulatorNet

        cfg = self.config
        return RegulatorNet(
            n_regulators,
            n_targets,
            cfg.hidden,
            encoder=encoder,
            code_dim=cfg.autoencoder_width,
            dropout=cfg.dropout,
        )

    @staticmethod
    def _ridge_base(Rz: np.ndarray, Yz: np.ndarray) -> np.ndarray:
        """``(n_regulators, n_targets)`` ridge coefficients of z-scored targets on regulators.

        One penalty for all targets, chosen by generalised cross-validation
        (:class:`sklearn.linear_model.RidgeCV`) on the targets every sample measured; a target
        with NaN is fitted on the samples that measured it (the Gram matrix downdated by the
        others), one solve per pattern of missing samples.
        """
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

    def _random_hiding(self, Yz: np.ndarray, rng: np.random.Generator):
        """``rows -> mask``: a fresh random ``hide_fraction`` of the rows' observed targets."""

        def hide(rows: np.ndarray) -> np.ndarray:
            observed = np.isfinite(Yz[rows])
            return (rng.random(observed.shape) < self.config.hide_fraction) & observed

        return hide

    def _pretrain(self, ae, Rz, Yz, train, val, val_hide, rng, device) -> None:
        import torch

        cfg = self.config
        full = np.concatenate([Rz, np.where(np.isfinite(Yz), Yz, 0.0)], axis=1)
        known = np.concatenate([np.ones_like(Rz, bool), np.isfinite(Yz)], axis=1)
        t_full = torch.from_numpy(full.astype(np.float32))
        t_known = torch.from_numpy(known)

        def run(rows: np.ndarray, hide_y: np.ndarray) -> torch.Tensor:
            ctx = torch.from_numpy(self._context(Rz[rows], Yz[rows], hide_y)).to(device)
            out = ae(ctx)
            hidden = np.concatenate([np.zeros_like(Rz[rows], bool), hide_y], axis=1)
            # reconstruct every measured gene, the hidden ones (denoising) counted twice
            w = t_known[rows].float() + torch.from_numpy(hidden).float()
            err = (out - t_full[rows].to(device)) ** 2 * w.to(device)
            return err.sum() / w.sum().clamp(min=1.0)

        self.history_["autoencoder"] = self._fit_loop(
            ae,
            run,
            train,
            val,
            val_hide,
            self._random_hiding(Yz, rng),
            rng,
            cfg.autoencoder_epochs,
            "sample autoencoder",
        )

    def _train_net(self, net, Rz, Yz, train, val, val_hide, rng, device) -> None:
        import torch

        cfg = self.config
        t_R = torch.from_numpy(Rz)
        t_Y = torch.from_numpy(np.where(np.isfinite(Yz), Yz, 0.0).astype(np.float32))
        use_ctx = cfg.use_autoencoder

        def run(rows: np.ndarray, hide_y: np.ndarray) -> torch.Tensor:
            ctx = None
            if use_ctx:
                ctx = torch.from_numpy(self._context(Rz[rows], Yz[rows], hide_y)).to(device)
                w = torch.from_numpy(hide_y).float().to(device)  # score what was hidden
            else:
                w = torch.from_numpy(np.isfinite(Yz[rows])).float().to(device)
            out = net(t_R[rows].to(device), ctx)
            err = (out - t_Y[rows].to(device)) ** 2 * w
            return err.sum() / w.sum().clamp(min=1.0)

        self.history_["network"] = self._fit_loop(
            net,
            run,
            train,
            val,
            val_hide,
            self._random_hiding(Yz, rng),
            rng,
            cfg.max_epochs,
            "regulator network",
        )

    def _fit_loop(
        self,
        module,
        run,
        train,
        val,
        val_hide,
        batch_hide,
        rng,
        epochs: int,
        desc: str,
        *,
        validate_start: bool = False,
    ):
        """Train ``module`` with the package's loop; ``run(rows, hidden)`` gives the loss.

        Training batches hide ``batch_hide(rows)`` of the targets (a fresh random part, or
        fixed folds), validation ``val_hide``. ``rng`` shuffles the batches.
        """
        import torch

        cfg = self.config

        def loss_fn(b: np.ndarray) -> torch.Tensor:
            return run(b, batch_hide(b))

        def val_fn() -> float:
            module.eval()
            with torch.no_grad():
                return float(run(val, val_hide[val]))

        res = fit_early_stopping(
            module,
            train,
            loss_fn,
            val_fn,
            rng=rng,
            max_epochs=epochs,
            patience=cfg.patience,
            batch_size=cfg.batch_size,
            learning_rate=cfg.learning_rate,
            weight_decay=cfg.weight_decay,
            min_batch=2,
            desc=desc,
            progress=settings.progress,
            validate_start=validate_start,
        )
        return res.history

    # ------------------------------------------------------------------ prediction
    def check_fitted(self) -> None:
        """Raise ``RuntimeError`` if the model is not fitted or loaded."""
        if self.net_ is None:
            msg = "this RegulatorImputer is not fitted; call fit() or tl.train_regulators()"
            raise RuntimeError(msg)

    def _inputs(self, R: np.ndarray, Y: np.ndarray):
        import torch

        R, Y = self._check(R, Y)
        if R.shape[1] != len(self.r_mu_) or Y.shape[1] != len(self.y_mu_):
            msg = (
                f"R has {R.shape[1]} regulators and Y {Y.shape[1]} targets; the model has "
                f"{len(self.r_mu_)} and {len(self.y_mu_)}"
            )
            raise ValueError(msg)
        Rz, Yz = _zscore(R, self.r_mu_, self.r_sd_), _zscore(Y, self.y_mu_, self.y_sd_)
        ctx = torch.from_numpy(self._context(Rz, Yz)) if self.config.use_autoencoder else None
        return Rz, Yz, torch.from_numpy(Rz), ctx

    def predict(self, R: np.ndarray, Y: np.ndarray, *, batch_size: int = 512) -> np.ndarray:
        """Predict every target of every sample, ``(n_samples, n_targets)``, in ``Y``'s units.

        ``Y`` gives the sample context: its NaN cells are the unmeasured genes the model
        infers (observed cells are seen by the context encoder).
        """
        import torch

        self.check_fitted()
        assert self.net_ is not None
        Rz, Yz, t_R, ctx = self._inputs(R, Y)
        self.net_.eval()
        out = []
        with torch.no_grad():
            for s in range(0, len(t_R), batch_size):
                c = ctx[s : s + batch_size] if ctx is not None else None
                out.append(self.net_(t_R[s : s + batch_size], c).numpy())
        Z = np.concatenate(out) if out else np.zeros((0, len(self.y_mu_)), np.float32)
        Z = Z.astype(np.float64)
        if self.context_ is not None and len(Z):
            Z += self._context_base(Rz, Yz)
        return Z * self.y_sd_ + self.y_mu_

    def attribute(
        self,
        R: np.ndarray,
        Y: np.ndarray,
        targets: np.ndarray | None = None,
        *,
        method: str = "deeplift",
    ) -> np.ndarray:
        """Attribution of each target to each regulator, averaged over samples.

        DeepLIFT (captum ``DeepLift``, rescale rule) or Integrated Gradients (captum
        ``IntegratedGradients``, 32 steps) of the z-scored target output with respect to the
        z-scored regulator inputs, against the regulators' training mean (all zeros); the
        sample context is held fixed. With the context ridge, its exact linear attribution
        (coefficient x regulator z-value, over the targets each sample did not measure) is
        added. Returns ``(n_regulators, len(targets))``: the mean over samples of the signed
        attribution, in target sd units.

        Raises
        ------
        ImportError
            Without captum (``pip install "geneimpute[interpret]"``).
        ValueError
            On an unknown ``method``.
        """
        import torch

        try:
            from captum.attr import DeepLift, IntegratedGradients
        except ImportError as err:  # pragma: no cover - depends on the environment
            msg = 'regulator attribution needs captum: pip install "geneimpute[interpret]"'
            raise ImportError(msg) from err
        if method not in ("deeplift", "integrated_gradients"):
            msg = f"method must be 'deeplift' or 'integrated_gradients', got {method!r}"
            raise ValueError(msg)
        self.check_fitted()
        assert self.net_ is not None
        Rz, Yz, t_R, ctx = self._inputs(R, Y)
        targets = np.arange(len(self.y_mu_)) if targets is None else np.asarray(targets)
        net = self.net_.eval()
        explainer = DeepLift(net) if method == "deeplift" else IntegratedGradients(net)
        extra = (ctx,) if ctx is not None else None
        out = np.zeros((t_R.shape[1], len(targets)))
        kwargs = {} if method == "deeplift" else {"n_steps": 32}
        for j, t in enumerate(targets):
            attr = explainer.attribute(
                t_R.clone().requires_grad_(),
                baselines=torch.zeros_like(t_R),
                target=int(t),
                additional_forward_args=extra,
                **kwargs,
            )
            out[:, j] = attr.detach().mean(dim=0).numpy()
        if self.context_ is not None:  # the context ridge is linear: coefficient x input
            Zq = np.concatenate([Rz, Yz], axis=1)
            out += self.context_.regulator_contribution(Zq)[:, targets]
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, *, overwrite: bool = False) -> None:
        """Write the model directory atomically.

        ``config.json`` (schema, setup, config, scalers), ``network.pt`` and, with the context
        ridge, ``context.npy`` (the z-scored training matrix it regresses on).

        Raises
        ------
        FileExistsError
            If ``path`` exists and ``overwrite`` is False.
        RuntimeError
            If the model is not fitted.
        """
        import torch

        self.check_fitted()
        assert self.net_ is not None
        state = {
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "geneimpute_version": __version__,
            "config": asdict(self.config),
            "setup": asdict(self.setup_),
            "state": {
                "r_mu": self.r_mu_.tolist(),
                "r_sd": self.r_sd_.tolist(),
                "y_mu": self.y_mu_.tolist(),
                "y_sd": self.y_sd_.tolist(),
            },
        }
        with atomic_directory(path, overwrite=overwrite) as tmp:
            (tmp / "config.json").write_text(json.dumps(state, indent=2, allow_nan=False))
            torch.save(self.net_.state_dict(), tmp / "network.pt")
            if self.context_ is not None:
                np.save(tmp / "context.npy", self.context_.Z, allow_pickle=False)

    @classmethod
    def load(cls, path: str | Path) -> RegulatorImputer:
        """Load a directory written by :meth:`save` (torch weights with ``weights_only=True``).

        Raises
        ------
        FileNotFoundError
            If ``path`` has no ``config.json``.
        DamagedModelError
            If the directory is damaged, edited or from another version.
        """
        import torch

        p = Path(path)
        if not (p / "config.json").exists():
            msg = f"{p} is not a saved RegulatorImputer: config.json is missing"
            raise FileNotFoundError(msg)

        try:
            state = json.loads((p / "config.json").read_text())
            if state.get("format") != FORMAT or state.get("schema_version") != SCHEMA_VERSION:
                raise _damaged(p, f"not a {FORMAT} schema {SCHEMA_VERSION} directory")
            values = dict(state["config"])
            values.setdefault("context_ridge", False)  # saved before the context ridge existed
            model = cls(RegulatorConfig.from_dict(values))
            model.setup_ = RegulatorSetup(**state["setup"])
            s = state["state"]
            model.r_mu_, model.r_sd_ = np.asarray(s["r_mu"]), np.asarray(s["r_sd"])
            model.y_mu_, model.y_sd_ = np.asarray(s["y_mu"]), np.asarray(s["y_sd"])
            nR, nT = len(model.r_mu_), len(model.y_mu_)
            if nR != len(model.setup_.regulators) or nT != len(model.setup_.targets):
                raise _damaged(p, "scalers do not match the regulators / targets of the setup")
            enc = model._new_autoencoder(nR + nT).encoder if model.config.use_autoencoder else None
            net = model._new_net(nR, nT, enc)
            net.load_state_dict(torch.load(p / "network.pt", map_location="cpu", weights_only=True))
            if model.uses_context_ridge:
                from ._context import ContextRidge

                Z = np.load(p / "context.npy", allow_pickle=False)
                if Z.ndim != 2 or Z.shape[1] != nR + nT:
                    raise _damaged(p, f"context.npy has shape {Z.shape}, expected (n, {nR + nT})")
                model.context_ = ContextRidge(Z, nR)
        except DamagedModelError:
            raise
        except Exception as err:  # noqa: BLE001 - any failure here means a bad directory
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise _damaged(p, f"{type(err).__name__}: {first[:300]}") from None
        model.net_ = net.eval()
        return model

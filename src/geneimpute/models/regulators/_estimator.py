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

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..._core.training import fit_early_stopping
from ..._settings import Accelerator, resolve_device, settings
from ._config import RegulatorConfig, RegulatorSetup
from ._context import ContextRidge, regulator_ridge

if TYPE_CHECKING:
    import torch

    from ._networks import RegulatorNet


class _Split(NamedTuple):
    """Training and validation samples, and the fixed targets hidden for validation."""

    train: np.ndarray
    val: np.ndarray
    val_hide: np.ndarray


def _zscore(A: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    return ((A - mu) / sd).astype(np.float32)


def _masked_mse(out: torch.Tensor, target: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Mean squared error of ``out`` against ``target`` weighted by ``w`` (0 = not scored)."""
    err = (out - target) ** 2 * w
    return err.sum() / w.sum().clamp(min=1.0)


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
        observed = np.isfinite(Yz)
        # a fixed hidden set for validation: the same score every epoch
        val_hide = (rng.random(Yz.shape) < cfg.hide_fraction) & observed
        split = _Split(order[n_val:], order[:n_val], val_hide)
        nR, nT = R.shape[1], Y.shape[1]
        self.context_ = None
        context_base = None
        if self.uses_context_ridge:
            context_base, net_hide = self._context_folds(Rz, Yz, rng)
        base = regulator_ridge(Rz, Yz) if cfg.ridge_base and context_base is None else None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.random_state)
            encoder = None
            if cfg.use_autoencoder:
                ae = self._new_autoencoder(nR + nT).to(device)
                self._pretrain(ae, Rz, Yz, split, rng, device)
                encoder = ae.encoder
            net = self._new_net(nR, nT, encoder)
            if base is not None:
                net.base.copy_(torch.from_numpy(base.astype(np.float32)))  # type: ignore[operator]
            net = net.to(device)
            if context_base is not None:
                fixed = split._replace(val_hide=net_hide)
                self._train_residual(net, Rz, Yz, context_base, fixed, device)
            else:
                self._train_net(net, Rz, Yz, split, rng, device)
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

    def _train_residual(self, net, Rz, Yz, base, split: _Split, device) -> None:
        """Train the network on the residual of the cross-fitted context ridge.

        ``split.val_hide`` holds the fixed folds the ridge was cross-fitted on: training
        batches and validation hide (and score) those cells.
        """
        import torch

        hide = split.val_hide
        t_R = torch.from_numpy(Rz)
        t_target = torch.from_numpy(np.where(hide, Yz - base, 0.0).astype(np.float32))

        def run(rows: np.ndarray, hide_y: np.ndarray) -> torch.Tensor:
            ctx = torch.from_numpy(self._context(Rz[rows], Yz[rows], hide_y)).to(device)
            out = net(t_R[rows].to(device), ctx)
            w = torch.from_numpy(hide_y).float().to(device)
            return _masked_mse(out, t_target[rows].to(device), w)

        rng = np.random.default_rng(self.config.random_state + 1)
        desc = "regulator network (context-ridge residual)"
        self.history_["network"] = self._fit_loop(
            net, run, split, lambda b: hide[b], rng, self.config.max_epochs, desc, True
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

    def _random_hiding(self, Yz: np.ndarray, rng: np.random.Generator):
        """``rows -> mask``: a fresh random ``hide_fraction`` of the rows' observed targets."""

        def hide(rows: np.ndarray) -> np.ndarray:
            observed = np.isfinite(Yz[rows])
            return (rng.random(observed.shape) < self.config.hide_fraction) & observed

        return hide

    def _pretrain(self, ae, Rz, Yz, split: _Split, rng, device) -> None:
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
            return _masked_mse(out, t_full[rows].to(device), w.to(device))

        hiding = self._random_hiding(Yz, rng)
        self.history_["autoencoder"] = self._fit_loop(
            ae, run, split, hiding, rng, cfg.autoencoder_epochs, "sample autoencoder"
        )

    def _train_net(self, net, Rz, Yz, split: _Split, rng, device) -> None:
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
            return _masked_mse(net(t_R[rows].to(device), ctx), t_Y[rows].to(device), w)

        hiding = self._random_hiding(Yz, rng)
        self.history_["network"] = self._fit_loop(
            net, run, split, hiding, rng, cfg.max_epochs, "regulator network"
        )

    def _fit_loop(
        self, module, run, split: _Split, batch_hide, rng, epochs: int, desc: str, start=False
    ) -> list[dict]:
        """Train ``module`` with the package's loop; ``run(rows, hidden)`` gives the loss.

        Training batches of ``split.train`` hide ``batch_hide(rows)`` of the targets (a fresh
        random part, or fixed folds), validation (``split.val``) ``split.val_hide``. ``rng``
        shuffles the batches; ``start``: score the untrained module first (it is kept unless
        training improves on it).
        """
        import torch

        cfg = self.config

        def loss_fn(b: np.ndarray) -> torch.Tensor:
            return run(b, batch_hide(b))

        def val_fn() -> float:
            module.eval()
            with torch.no_grad():
                return float(run(split.val, split.val_hide[split.val]))

        res = fit_early_stopping(
            module,
            split.train,
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
            validate_start=start,
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

        ``config.json`` (schema version, config, setup, network sizes, scalers),
        ``network.pt`` and, with the context ridge, ``context.npy`` (the z-scored training
        matrix it regresses on); see :mod:`geneimpute.models.regulators._saving`.

        Raises
        ------
        RuntimeError
            If the model is not fitted (nothing is written).
        FileExistsError
            If ``path`` exists and ``overwrite`` is False.
        FileNotFoundError
            If the parent directory of ``path`` does not exist.
        """
        from ._saving import save_regulators

        self.check_fitted()
        save_regulators(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path) -> RegulatorImputer:
        """Load a directory written by :meth:`save` (torch weights with ``weights_only=True``).

        Raises
        ------
        FileNotFoundError
            If ``path`` has no ``config.json``.
        DamagedModelError
            (a ``ValueError``) If the directory is damaged or edited, naming what is wrong, or
            of another model schema (one line naming its version and how to retrain).
        """
        from ._saving import load_regulators

        return load_regulators(cls, path)

"""Regulator-driven imputation of samples on arrays (the DeepSF design), no AnnData."""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..._core.training import fit_early_stopping
from ..._docs import doc_params
from ..._settings import Accelerator, resolve_device
from .._base import loop_options
from .._persistence import (
    damaged,
    load_file,
    load_weights,
    read_model,
    read_vector,
    reading,
    write_model,
)
from ._config import RegulatorConfig, RegulatorSetup
from ._context import ContextRidge, regulator_ridge

if TYPE_CHECKING:
    import torch

    from ._networks import RegulatorNet

FORMAT = "geneimpute.RegulatorImputer"
#: Typed schema of ``config.json`` (:func:`~.._persistence.check_json`).
SCHEMA = {
    "config": RegulatorConfig,
    "setup": RegulatorSetup,
    "network": {"n_regulators": int, "n_targets": int},
    "state": dict.fromkeys(("r_mu", "r_sd", "y_mu", "y_sd"), [float]),
}


class _Split(NamedTuple):
    """Training and validation samples, and the targets hidden for validation."""

    train: np.ndarray
    val: np.ndarray
    val_hide: np.ndarray


def _zscore(A: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    return ((A - mu) / sd).astype(np.float32)


def _masked_mse(out: torch.Tensor, target: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return ((out - target) ** 2 * w).sum() / w.sum().clamp(min=1.0)


class RegulatorImputer:
    """Predict target genes of samples from regulator expression and sample context.

    Dense layers on the regulators, joined with the encoder of an autoencoder of the sample's
    measured transcriptome (DeepSF, Jiménez-Santos et al.); training hides part of each
    sample's observed targets from the context and scores them. Arrays only: ``R``
    ``(n_samples, n_regulators)`` (no NaN), ``Y`` ``(n_samples, n_targets)`` (NaN: not
    measured), one log-scale unit, z-scored per gene.

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

    def _context(self, Rz: np.ndarray, Yz: np.ndarray, hide: np.ndarray | None = None):
        """``(n, 2 (nR + nT))`` context: z-values (0 where unmeasured/hidden) + indicators."""
        observed = np.isfinite(Yz)
        if hide is not None:
            observed &= ~hide
        vals = np.where(observed, Yz, 0.0)
        ones = np.ones_like(Rz, dtype=bool)
        return np.concatenate([Rz, vals, ones, observed], axis=1, dtype=np.float32)

    def _check(self, R: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        R, Y = np.asarray(R, dtype=np.float64), np.asarray(Y, dtype=np.float64)
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

    @doc_params("accelerator")
    def fit(
        self, R: np.ndarray, Y: np.ndarray, *, accelerator: Accelerator | None = None
    ) -> RegulatorImputer:
        """Pretrain the autoencoder (if used) and train the regulator network.

        Parameters
        ----------
        R, Y
            Regulators ``(n_samples, n_regulators)`` and targets ``(n_samples, n_targets)``.
        {accelerator}

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
        self.context_ = context_base = None
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
                net_rng = np.random.default_rng(cfg.random_state + 1)
                self._train_net(net, Rz, Yz, fixed, net_rng, device, context_base)
            else:
                self._train_net(net, Rz, Yz, split, rng, device)
        self.net_ = net.cpu().eval()
        return self

    @property
    def uses_context_ridge(self) -> bool:
        """Whether the network is added to a context ridge (autoencoder + ``context_ridge``)."""
        return bool(self.config.use_autoencoder and self.config.context_ridge)

    def _context_folds(self, Rz: np.ndarray, Yz: np.ndarray, rng: np.random.Generator):
        """Return cross-fitted context-ridge predictions of hidden target folds, and the mask."""
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

    def _new_autoencoder(self, n_genes: int):
        from ._networks import SampleAutoencoder

        return SampleAutoencoder(n_genes, self.config.autoencoder_width, self.config.dropout)

    def _new_net(self, nR: int, nT: int, encoder) -> RegulatorNet:
        """Build the regulator network (``encoder``: the autoencoder's, or None)."""
        from ._networks import RegulatorNet

        cfg = self.config
        return RegulatorNet(nR, nT, cfg.hidden, encoder, cfg.autoencoder_width, cfg.dropout)

    def _pretrain(self, ae, Rz, Yz, split: _Split, rng, device) -> None:
        import torch

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

        self.history_["autoencoder"] = self._fit_loop(
            ae, run, Yz, split, rng, self.config.autoencoder_epochs, "sample autoencoder"
        )

    def _train_net(self, net, Rz, Yz, split: _Split, rng, device, base=None) -> None:
        """Train ``net``; with the cross-fitted ridge ``base``, on its residual in its folds."""
        fixed = None if base is None else split.val_hide  # the ridge's folds, hidden throughout
        import torch

        observed = np.isfinite(Yz)
        if base is None:
            target = np.where(observed, Yz, 0.0)
        else:
            target = np.where(split.val_hide, Yz - base, 0.0)
        t_R, t_Y = torch.from_numpy(Rz), torch.from_numpy(target.astype(np.float32))
        use_ctx = self.config.use_autoencoder

        def run(rows: np.ndarray, hide_y: np.ndarray) -> torch.Tensor:
            ctx = None
            if use_ctx:
                ctx = torch.from_numpy(self._context(Rz[rows], Yz[rows], hide_y)).to(device)
            w = torch.from_numpy(hide_y if use_ctx else observed[rows]).float().to(device)
            return _masked_mse(net(t_R[rows].to(device), ctx), t_Y[rows].to(device), w)

        desc = "regulator network" + ("" if base is None else " (context-ridge residual)")
        self.history_["network"] = self._fit_loop(
            net, run, Yz, split, rng, self.config.max_epochs, desc, fixed
        )

    def _fit_loop(self, module, run, Yz, split: _Split, rng, epochs: int, desc: str, fixed=None):
        """Train ``module`` on ``run(rows, hidden)``: batches hide ``fixed``, or at random."""
        import torch

        cfg = self.config

        def loss_fn(b: np.ndarray) -> torch.Tensor:
            if fixed is not None:
                return run(b, fixed[b])
            observed = np.isfinite(Yz[b])
            return run(b, (rng.random(observed.shape) < cfg.hide_fraction) & observed)

        def val_fn() -> float:
            module.eval()
            with torch.no_grad():
                return float(run(split.val, split.val_hide[split.val]))

        start = fixed is not None
        options = loop_options(cfg, max_epochs=epochs, min_batch=2, validate_start=start, desc=desc)
        return fit_early_stopping(module, split.train, loss_fn, val_fn, rng=rng, **options).history

    def check_fitted(self) -> None:
        """Raise ``RuntimeError`` if the model is not fitted or loaded."""
        if self.net_ is None:
            msg = "this RegulatorImputer is not fitted; call fit() or tl.train_regulators()"
            raise RuntimeError(msg)

    def _inputs(self, R: np.ndarray, Y: np.ndarray):
        """Return the network (eval mode), ``Rz``, ``Yz`` and the regulator and context tensors."""
        import torch

        self.check_fitted()
        R, Y = self._check(R, Y)
        if R.shape[1] != len(self.r_mu_) or Y.shape[1] != len(self.y_mu_):
            msg = (
                f"R has {R.shape[1]} regulators and Y {Y.shape[1]} targets; the model has "
                f"{len(self.r_mu_)} and {len(self.y_mu_)}"
            )
            raise ValueError(msg)
        Rz, Yz = _zscore(R, self.r_mu_, self.r_sd_), _zscore(Y, self.y_mu_, self.y_sd_)
        ctx = torch.from_numpy(self._context(Rz, Yz)) if self.config.use_autoencoder else None
        return self.net_.eval(), Rz, Yz, torch.from_numpy(Rz), ctx  # type: ignore[union-attr]

    def predict(self, R: np.ndarray, Y: np.ndarray, *, batch_size: int = 512) -> np.ndarray:
        """Predict every target of every sample.

        Parameters
        ----------
        R, Y
            Regulators and targets as in :meth:`fit`; NaN cells of ``Y`` are inferred.
        batch_size
            Samples per forward pass.

        Returns
        -------
        ``(n_samples, n_targets)`` in ``Y``'s units.
        """
        import torch

        net, Rz, Yz, t_R, ctx = self._inputs(R, Y)
        out = []
        with torch.no_grad():
            for s in range(0, len(t_R), batch_size):
                c = ctx[s : s + batch_size] if ctx is not None else None
                out.append(net(t_R[s : s + batch_size], c).numpy())
        Z = (np.concatenate(out) if out else np.zeros((0, len(self.y_mu_)))).astype(np.float64)
        if self.context_ is not None and len(Z):  # the ridge's predictions of unmeasured cells
            pred = self.context_.predict(np.concatenate([Rz, Yz], axis=1))
            Z += np.where(np.isfinite(Yz), 0.0, np.nan_to_num(pred)).astype(np.float32)
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

        DeepLIFT or Integrated Gradients (captum, 32 steps) of the z-scored targets with respect
        to the regulators against their training mean, the context fixed; plus the context
        ridge's exact linear attribution.

        Parameters
        ----------
        R, Y
            As in :meth:`predict`.
        targets
            Target columns to explain (None: all).
        method
            ``"deeplift"`` or ``"integrated_gradients"``.

        Returns
        -------
        ``(n_regulators, len(targets))`` mean signed attribution, in target sd units.

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
        net, Rz, Yz, t_R, ctx = self._inputs(R, Y)
        targets = np.arange(len(self.y_mu_)) if targets is None else np.asarray(targets)
        explainer = DeepLift(net) if method == "deeplift" else IntegratedGradients(net)
        extra = (ctx,) if ctx is not None else None
        steps: dict[str, Any] = {} if method == "deeplift" else {"n_steps": 32}
        kwargs = {"baselines": torch.zeros_like(t_R), "additional_forward_args": extra, **steps}
        out = np.zeros((t_R.shape[1], len(targets)))
        for j, t in enumerate(targets):
            attr = explainer.attribute(t_R.clone().requires_grad_(), target=int(t), **kwargs)
            out[:, j] = attr.detach().mean(dim=0).numpy()
        if self.context_ is not None:  # the context ridge is linear: coefficient x input
            Zq = np.concatenate([Rz, Yz], axis=1)
            out += self.context_.regulator_contribution(Zq)[:, targets]
        return out

    @doc_params("model_save")
    def save(self, path: str | Path, *, overwrite: bool = False) -> None:
        """Write ``config.json``, ``network.pt`` and, with the context ridge, ``context.npy``.

        ``config.json`` holds the config, the setup, the network sizes and the training means
        and sds; ``context.npy`` the z-scored training matrix (NaN where unmeasured).

        {model_save}
        """
        import torch

        self.check_fitted()
        net, context = self.net_, self.context_
        assert net is not None
        header = {
            "config": asdict(self.config),
            "setup": asdict(self.setup_),
            "network": {"n_regulators": len(self.r_mu_), "n_targets": len(self.y_mu_)},
            "state": {k: getattr(self, f"{k}_").tolist() for k in ("r_mu", "r_sd", "y_mu", "y_sd")},
        }

        def write_files(tmp: Path) -> None:
            torch.save(net.state_dict(), tmp / "network.pt")
            if context is not None:
                np.save(tmp / "context.npy", context.Z, allow_pickle=False)

        write_model(path, FORMAT, header, write_files, overwrite=overwrite)

    @classmethod
    @doc_params("model_load")
    def load(cls, path: str | Path) -> RegulatorImputer:
        """Load a directory written by :meth:`save`.

        {model_load}
        """
        p, state = read_model(path, FORMAT, SCHEMA)
        with reading(p):
            model = cls(RegulatorConfig.from_dict(state["config"]))
            model.setup_ = RegulatorSetup(**state["setup"])
            nR, nT = int(state["network"]["n_regulators"]), int(state["network"]["n_targets"])
            names = model.setup_.regulators, model.setup_.targets
            if (names[0] and len(names[0]) != nR) or (names[1] and len(names[1]) != nT):
                raise damaged(p, "network sizes do not match the regulators / targets of the setup")
            s = state["state"]
            model.r_mu_, model.r_sd_ = (read_vector(s, k, nR, p) for k in ("r_mu", "r_sd"))
            model.y_mu_, model.y_sd_ = (read_vector(s, k, nT, p) for k in ("y_mu", "y_sd"))
        with reading(p, "network.pt does not load"):
            enc = model._new_autoencoder(nR + nT).encoder if model.config.use_autoencoder else None
            net = model._new_net(nR, nT, enc)
        model.net_ = load_weights(net, p, "network.pt").eval()
        if model.uses_context_ridge:
            Z = load_file(p, "context.npy", partial(np.load, allow_pickle=False))
            if Z.ndim != 2 or Z.shape[1] != nR + nT:
                raise damaged(p, f"context.npy has shape {Z.shape}, expected (n, {nR + nT})")
            with reading(p, "context.npy does not load"):
                model.context_ = ContextRidge(Z, nR)
        return model

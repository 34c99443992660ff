"""Hyperparameters of the regulator imputer and what it was trained on (no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..hybrid._config import config_from_dict


@dataclass
class RegulatorConfig:
    """Hyperparameters of :class:`~geneimpute.models.RegulatorImputer`.

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
    """What a :class:`~geneimpute.models.RegulatorImputer` was trained on (stored, checked).

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

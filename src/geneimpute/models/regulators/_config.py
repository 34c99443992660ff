"""Hyperparameters of the regulator imputer and what it was trained on (no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._base import FromDict, require


@dataclass
class RegulatorConfig(FromDict):
    """Hyperparameters of :class:`~geneimpute.models.RegulatorImputer`.

    Attributes
    ----------
    hidden
        Units of the regulator network's dense layers (DeepSF: 183, 82).
    use_autoencoder
        Join a sample-context autoencoder's encoder before the output layer.
    context_ridge
        With the autoencoder: the network learns the residual of a context ridge
        (:class:`~geneimpute.models.ContextRidge`) on ``context_folds`` cross-fitted folds of
        hidden targets; the model keeps its z-scored training matrix (``context.npy``).
    context_folds
        Folds of targets and samples for the context ridge's cross-fitting (>= 2).
    ridge_base
        Without the context ridge: the network learns the residual of a ridge of the targets
        on the regulators.
    autoencoder_width
        Units of the autoencoder's three hidden layers (DeepSF: 512).
    hide_fraction
        Fraction of a sample's observed targets hidden from the context (and scored) per
        batch; also the autoencoder's denoising fraction.
    max_epochs, patience, autoencoder_epochs, batch_size, learning_rate, weight_decay, dropout
        Training (AdamW, early stopping on ``val_fraction`` of the samples).
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
        require(self, "hidden", lambda h: bool(h) and min(h) >= 1, "positive layer sizes")
        for name in ("max_epochs", "autoencoder_epochs", "patience", "autoencoder_width"):
            require(self, name, lambda v: int(v) >= 1, ">= 1")
        require(self, "context_folds", lambda v: int(v) >= 2, ">= 2")
        require(self, "batch_size", lambda v: v >= 2, ">= 2 (batch norm)")
        for name in ("hide_fraction", "val_fraction"):
            require(self, name, lambda v: 0 < float(v) < 1, "in (0, 1)")
        require(self, "learning_rate", lambda v: v > 0, "> 0")
        require(self, "weight_decay", lambda v: v >= 0, ">= 0")
        require(self, "dropout", lambda v: 0 <= v < 1, "in [0, 1)")


@dataclass
class RegulatorSetup:
    """What a :class:`~geneimpute.models.RegulatorImputer` was trained on (stored, checked).

    Attributes
    ----------
    regulators, targets
        Gene names (``var_names``) of the inputs and outputs, in model order.
    units, layer
        Units of the training expression and the layer read (None = ``X``).
    n_samples
        Training samples.
    """

    regulators: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    units: str = ""
    layer: str | None = None
    n_samples: int = 0

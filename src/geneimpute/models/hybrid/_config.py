"""Hyperparameters of the hybrid and the setup a fitted model was trained with."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .._base import FromDict, require

#: Input groups a hybrid can use (``features=``), see :func:`geneimpute.tl.train`.
FEATURES = ("promoter", "neighbors", "structure")
#: Components of the hybrid (``components=``): each can be left out for an ablation.
COMPONENTS = ("cnn", "transformer", "tissue_correlation", "distance", "neighbor_profile")
#: Components that need each input group of ``features=``.
FEATURE_COMPONENTS = {
    "promoter": ("cnn",),
    "neighbors": ("transformer", "distance", "neighbor_profile"),
    "structure": (),
}
#: Units a hybrid can be trained on, and the ways its reference genes can be chosen.
UNITS = ("TPM", "log1p_TPM")
REFERENCE_RULES = ("complete_profiles", "measured_in_half_the_tissues", "user_mask")
#: Gene-level neighbourhood features appended when distances are used.
DENSITY_NAMES = (
    "log10_nearest_reference_bp",
    "n_reference_within_20kb",
    "n_reference_within_60kb",
    "divergent_fraction_20kb",
)
#: Smallest value of each integer field of :class:`HybridConfig`.
_MINIMUM = {
    "k_neighbors": 1,
    "k_idw": 1,
    "n_folds": 2,
    "max_epochs": 1,
    "patience": 1,
    "batch_size": 2,
    "embedding_dim": 1,
    "xgb_n_estimators": 1,
    "xgb_max_depth": 1,
    "n_tissue_components": 0,
    "promoter_upstream": 0,
    "promoter_downstream": 0,
}


def _integer_from(lo: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= lo


def _is_names(c: Any) -> bool:
    return not isinstance(c, str) and all(isinstance(x, str) for x in c)


@dataclass
class HybridConfig(FromDict):
    """Hyperparameters and components of :class:`HybridImputer`.

    The defaults are trial 4 of the GTEx tuning run (``experiments/results/tune_gtex.csv``):
    0.4211 on held-out reference genes against 0.4160 untuned (``experiments/README.md``).

    Attributes
    ----------
    components
        A subset of :data:`COMPONENTS` (leaving one out is an ablation): ``"cnn"``,
        ``"transformer"``, ``"tissue_correlation"`` (smoothed tokens, tissue context),
        ``"distance"`` (distance features and weights), ``"neighbor_profile"`` (for XGBoost).
    k_neighbors, k_idw
        Neighbours per gene for the transformer (>= 1) and the distance-based profile.
    n_folds
        Out-of-fold networks (>= 2); their mean read-out serves new genes.
    max_epochs, patience, batch_size, learning_rate, weight_decay, embedding_dim
        Network training (AdamW, one-cycle schedule, early stopping) and embedding size.
    pattern_weight
        Weight (> 0) of the tissue-pattern part of the loss against the level part (1: MSE).
    promoter_upstream, promoter_downstream
        The CNN's window in bp around the TSS (``7000``, ``3499``: Xpresso's 10.5 kb).
    xgb_*
        XGBoost (``hist``) settings on (gene, tissue) rows.
    n_tissue_components
        Eigenvectors of the tissue correlation used as tissue descriptors.
    calibrate
        Calibrate prediction intervals (:class:`~geneimpute.models.TissueConformal`).
    random_state
        Seed of numpy, torch and xgboost.

    Raises
    ------
    ValueError
        On out-of-range values or unknown components, naming the field.
    """

    components: list[str] = field(default_factory=lambda: list(COMPONENTS))
    k_neighbors: int = 20
    k_idw: int = 7
    n_folds: int = 2
    max_epochs: int = 7
    patience: int = 5
    batch_size: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    embedding_dim: int = 32
    pattern_weight: float = 2.9
    promoter_upstream: int = 249
    promoter_downstream: int = 50
    xgb_n_estimators: int = 330
    xgb_learning_rate: float = 0.06
    xgb_max_depth: int = 4
    xgb_min_child_weight: float = 115.0
    xgb_reg_lambda: float = 10.0
    xgb_subsample: float = 0.8
    n_tissue_components: int = 6
    calibrate: bool = True
    random_state: int = 0

    def __post_init__(self) -> None:
        for name, lo in _MINIMUM.items():
            require(self, name, _integer_from(lo), f"an integer >= {lo}")
        if self.k_idw > self.k_neighbors:
            msg = f"HybridConfig.k_idw ({self.k_idw}) must not exceed k_neighbors"
            msg += f" ({self.k_neighbors})"
            raise ValueError(msg)
        for name in ("learning_rate", "xgb_learning_rate", "pattern_weight"):
            require(self, name, lambda v: v > 0, "> 0")
        for name in ("weight_decay", "xgb_min_child_weight", "xgb_reg_lambda"):
            require(self, name, lambda v: v >= 0, ">= 0")
        require(self, "components", _is_names, "a sequence of names")
        unknown = sorted(set(self.components) - set(COMPONENTS))
        if unknown:
            msg = f"HybridConfig.components: unknown {unknown}; known: {list(COMPONENTS)}"
            raise ValueError(msg)
        # canonical order, no repeats; a list, so it survives JSON and .h5ad round trips
        self.components = [c for c in COMPONENTS if c in self.components]
        require(self, "xgb_subsample", lambda v: 0 < v <= 1, "in (0, 1]")

    def uses(self, component: str) -> bool:
        """Whether ``component`` (one of :data:`COMPONENTS`) is part of the model."""
        return component in self.components

    @property
    def promoter_window(self) -> tuple[int, int]:
        """The CNN's promoter window ``(promoter_upstream, promoter_downstream)`` in bp."""
        return self.promoter_upstream, self.promoter_downstream


def components_for(features: Sequence[str], components: Sequence[str] = COMPONENTS) -> list[str]:
    """Return ``components`` without those of input groups not in ``features`` (checked)."""
    features = list(features)
    if set(features) - set(FEATURES) or not features:
        msg = f"features must be a non-empty subset of {list(FEATURES)}, got {features}"
        raise ValueError(msg)
    dropped = {c for f in FEATURES if f not in features for c in FEATURE_COMPONENTS[f]}
    return [c for c in components if c not in dropped]


@dataclass
class ModelSetup(FromDict):
    """What a model read from the AnnData it was trained on (stored, checked when applied).

    Attributes
    ----------
    tissues
        Tissue names (``obs_names``) in the order of the model's outputs.
    features
        Input groups used (subset of :data:`FEATURES`).
    units
        ``"TPM"`` or ``"log1p_TPM"`` (:data:`UNITS`).
    layer
        Layer the expression was read from (``None`` = ``X``).
    promoter_key, neighbors_key, tissue_correlation_key
        ``var`` / ``uns`` keys it read (``None``: not used, or computed itself).
    gene_feature_names
        Hand-made gene-feature columns, in order.
    reference
        How reference genes were chosen (one of :data:`REFERENCE_RULES`).
    n_reference_genes
        Number of reference genes it was trained on.

    Raises
    ------
    ValueError
        On unknown features, units or reference rule, naming the field.
    """

    tissues: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=lambda: list(FEATURES))
    units: str = "TPM"
    layer: str | None = None
    promoter_key: str | None = "promoter_seq"
    neighbors_key: str | None = None
    tissue_correlation_key: str | None = None
    gene_feature_names: list[str] = field(default_factory=list)
    reference: str = "complete_profiles"
    n_reference_genes: int = 0

    def __post_init__(self) -> None:
        require(self, "features", lambda f: set(f) <= set(FEATURES), f"a subset of {FEATURES}")
        require(self, "units", lambda u: u in UNITS, f"one of {UNITS}")
        require(self, "reference", lambda r: r in REFERENCE_RULES, f"one of {REFERENCE_RULES}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (:meth:`from_dict` reads it back)."""
        return asdict(self)

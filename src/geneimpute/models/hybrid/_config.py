"""Hyperparameters of the hybrid and the setup a fitted model was trained with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

_C = TypeVar("_C")

#: Input groups a hybrid can use (``features=``), see :func:`geneimpute.tl.train`.
FEATURES = ("promoter", "neighbors", "structure")
#: Gene-level neighbourhood features appended when distances are used.
DENSITY_NAMES = (
    "log10_nearest_reference_bp",
    "n_reference_within_20kb",
    "n_reference_within_60kb",
    "divergent_fraction_20kb",
)


#: Components of the hybrid (``components=``): each can be left out for an ablation.
COMPONENTS = ("cnn", "transformer", "tissue_correlation", "distance", "neighbor_profile")


@dataclass
class HybridConfig:
    """Hyperparameters and components of :class:`HybridImputer`.

    The defaults are trial 4 of the GTEx tuning run (``experiments/results/tune_gtex.csv``,
    ``python experiments/tune_gtex.py --design stage2``; its values rounded): it scored 0.4211
    on held-out reference genes, tied with the best trial (0.4212, which used three folds and
    took 1.6x as long), against 0.4160 for the untuned stage-2 settings.

    The architecture is fixed (see :class:`~geneimpute.models.HybridNet`): separate level and
    tissue-pattern heads, an attention-pooled neighbour profile, a one-cycle learning rate
    (Smith & Topin 2019, doi:10.1117/12.2520589), the ``n_folds`` out-of-fold networks serving
    new genes, and an XGBoost stage of a profile model (a gene's level) and a tissue-centred
    pattern model. ``experiments/README.md`` lists the paired comparisons behind each choice.

    Attributes
    ----------
    components
        Parts of the hybrid to use, a subset of :data:`COMPONENTS`: ``"cnn"`` (the promoter
        CNN), ``"transformer"`` (the neighbour transformer), ``"tissue_correlation"``
        (neighbour tokens smoothed over correlated tissues, tissue-correlation context and
        eigenvector coordinates for XGBoost), ``"distance"`` (distances in bp and orientation
        for the transformer, inverse-distance weights and neighbourhood-density features),
        ``"neighbor_profile"`` (the distance-based profile as an XGBoost feature). Leaving
        one out is an ablation; :func:`geneimpute.tl.train`'s ``features=`` removes the
        components of input groups the data lacks.
    k_neighbors
        Neighbour reference genes per gene given to the transformer (>= 1).
    k_idw
        Neighbours averaged by the distance-based profile fed to XGBoost (1..``k_neighbors``).
    n_folds
        Out-of-fold networks for the XGBoost training rows (>= 2); their mean read-out serves
        new genes.
    max_epochs, patience, batch_size, learning_rate, weight_decay
        Network training (AdamW with a one-cycle schedule peaking at ``learning_rate``, early
        stopping on 10% of the training genes).
    embedding_dim
        Size of the promoter and neighbour embeddings.
    pattern_weight
        Weight of the tissue-pattern part of the network loss: the squared error of a gene's
        z-scored profile splits exactly into its level (mean over tissues) error and its
        pattern (profile minus mean) error; 1 is plain MSE, larger values favour the pattern
        (> 0).
    promoter_upstream, promoter_downstream
        The CNN's promoter window, bp upstream and downstream of the TSS (default
        -249..+50, 300 bp: the bundled promoters). With promoters extracted from a genome
        (:func:`~geneimpute.pp.extract_promoters`), ``7000`` and ``3499`` give Xpresso's
        10.5 kb window (Agarwal & Shendure 2020, doi:10.1016/j.celrep.2020.107663); shorter
        records are zero-padded with an "observed" channel of 0, longer ones cut.
    xgb_*
        XGBoost (``hist``) settings; rows are (gene, tissue) pairs, so ``min_child_weight`` is
        large to keep a leaf from fitting a handful of genes.
    n_tissue_components
        Eigenvectors of the tissue correlation matrix used as tissue descriptors.
    calibrate
        Calibrate prediction intervals: cross-fit the XGBoost stage over the gene folds to get
        residuals of reference genes it did not see, fit a difficulty model on them, and
        calibrate per tissue (see :class:`~geneimpute.models.TissueConformal`).
    random_state
        Seed of numpy, torch and xgboost.

    Raises
    ------
    ValueError
        On out-of-range values (e.g. ``n_folds < 2``, ``k_idw < 1``) or unknown components,
        naming the field.
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
        minimum = {
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
        for name, lo in minimum.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                msg = f"HybridConfig.{name} must be an integer >= {lo}, got {value!r}"
                raise ValueError(msg)
        if self.k_idw > self.k_neighbors:
            msg = (
                f"HybridConfig.k_idw ({self.k_idw}) must not exceed k_neighbors "
                f"({self.k_neighbors})"
            )
            raise ValueError(msg)
        for name in ("learning_rate", "xgb_learning_rate", "pattern_weight"):
            if not getattr(self, name) > 0:
                msg = f"HybridConfig.{name} must be > 0, got {getattr(self, name)!r}"
                raise ValueError(msg)
        comps = self.components
        if isinstance(comps, str) or not all(isinstance(c, str) for c in comps):
            msg = f"HybridConfig.components must be a sequence of names, got {comps!r}"
            raise ValueError(msg)
        unknown = sorted(set(comps) - set(COMPONENTS))
        if unknown:
            msg = f"HybridConfig.components: unknown {unknown}; known: {list(COMPONENTS)}"
            raise ValueError(msg)
        # canonical order, no repeats; a list, so it survives JSON and .h5ad round trips
        self.components = [c for c in COMPONENTS if c in comps]
        if not 0 < self.xgb_subsample <= 1:
            msg = f"HybridConfig.xgb_subsample must be in (0, 1], got {self.xgb_subsample!r}"
            raise ValueError(msg)

    def uses(self, component: str) -> bool:
        """Whether ``component`` (one of :data:`COMPONENTS`) is part of the model."""
        return component in self.components

    @property
    def promoter_window(self) -> tuple[int, int]:
        """The CNN's promoter window ``(promoter_upstream, promoter_downstream)`` in bp."""
        return self.promoter_upstream, self.promoter_downstream

    @classmethod
    def from_dict(cls, values: dict[str, Any], **overrides: Any) -> HybridConfig:
        """Build from a dict plus keyword overrides; unknown names raise ``TypeError``."""
        return config_from_dict(cls, values, overrides)


def config_from_dict(cls: type[_C], values: dict[str, Any], overrides: dict[str, Any]) -> _C:
    """Build the config dataclass ``cls`` from ``values`` plus ``overrides``.

    Raises
    ------
    TypeError
        On names that are not fields of ``cls``, listing the known ones.
    """
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted((set(values) | set(overrides)) - names)
    if unknown:
        msg = f"unknown {cls.__name__} option(s) {unknown}; known: {sorted(names)}"
        raise TypeError(msg)
    return cls(**{**values, **overrides})


#: Components that need each input group of ``features=``.
FEATURE_COMPONENTS = {
    "promoter": ("cnn",),
    "neighbors": ("transformer", "distance", "neighbor_profile"),
    "structure": (),
}


def check_features(features: Sequence[str]) -> list[str]:
    """Return ``features`` as a list after checking it is a non-empty subset of FEATURES.

    Raises
    ------
    ValueError
        If ``features`` is empty or names an unknown group.
    """
    features = list(features)
    unknown = set(features) - set(FEATURES)
    if unknown or not features:
        msg = f"features must be a non-empty subset of {list(FEATURES)}, got {features}"
        raise ValueError(msg)
    return features


def components_for(features: Sequence[str], components: Sequence[str] = COMPONENTS) -> list[str]:
    """``components`` without those whose input group is not in ``features``.

    Raises
    ------
    ValueError
        If ``features`` is empty or names an unknown group.
    """
    features = check_features(features)
    dropped = {c for f in FEATURES if f not in features for c in FEATURE_COMPONENTS[f]}
    return [c for c in components if c not in dropped]


@dataclass
class ModelSetup:
    """How a model was set up: what it read from the AnnData it was trained on.

    Stored in ``config.json`` and checked when the model is applied (as scvi-tools keeps the
    arguments of ``setup_anndata``).

    Attributes
    ----------
    tissues
        Tissue names (``obs_names``) in the order of the model's outputs.
    features
        Input groups used (subset of :data:`FEATURES`).
    units
        Units of the training values: ``"TPM"`` or ``"log1p_TPM"``.
    layer
        Layer the expression was read from (``None`` = ``X``).
    promoter_key
        ``var`` column with promoter sequences (``None`` when the CNN was not used).
    neighbors_key
        ``uns`` key of :func:`~geneimpute.pp.neighbor_features` output it read (``None`` if it
        searched neighbours itself).
    tissue_correlation_key
        ``uns`` key of the tissue correlation it read (``None`` if it computed one).
    gene_feature_names
        Hand-made gene-feature columns, in order.
    reference
        How reference genes were chosen (``"complete_profiles"`` or ``"user_mask"``).
    n_reference_genes
        Number of reference genes it was trained on.
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelSetup:
        """Inverse of :meth:`to_dict` (``TypeError`` on unknown keys)."""
        return cls(**values)


def feature_options(features: Sequence[str]) -> dict[str, Any]:  # TEMP-LEAD: call site moves
    """``{"components": ...}`` implied by the input groups ``features``."""
    return {"components": components_for(features)}

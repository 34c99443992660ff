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


#: Values of the fields added after the first saved models, for a saved ``config.json`` that
#: lacks them: the behaviour those models were trained with (not today's defaults).
SAVED_BEFORE_FIELD = {
    "network_heads": "joint",
    "pattern_weight": 1.0,
    "lr_schedule": "constant",
    "pooled_profile": False,
    "promoter_upstream": 249,
    "promoter_downstream": 50,
    "xgb_pattern_model": False,
    "network_ensemble": False,
}


@dataclass
class HybridConfig:
    """Hyperparameters and component switches of :class:`HybridImputer`.

    The ``use_*`` switches exist for ablations: each removes one component of the hybrid.

    The defaults are trial 4 of the committed GTEx tuning run
    (``benchmarks/results/tune_gtex.csv``, ``python benchmarks/tune_gtex.py --design stage2``;
    its values rounded): it scored 0.4211 on held-out reference genes, tied with the best trial
    (0.4212, which used three folds and took 1.6x as long), against 0.4160 for the untuned
    stage-2 settings.

    Attributes
    ----------
    k_neighbors
        Neighbour reference genes per gene given to the transformer (>= 1).
    k_idw
        Neighbours averaged by the distance-based profile fed to XGBoost (1..``k_neighbors``).
    use_cnn, use_transformer
        Include the promoter CNN / the neighbour transformer.
    use_tissue_correlation
        Smooth neighbour tokens over correlated tissues and give XGBoost tissue-correlation
        context and tissue eigenvector coordinates.
    use_distance
        Give distances (bp) and orientation to the transformer, weight the distance-based
        profile by inverse distance, and add neighbourhood-density features.
    use_neighbor_features
        Give XGBoost the distance-based profile (False for sequence-only models).
    n_folds
        Out-of-fold networks for the XGBoost training rows (>= 2).
    network_ensemble
        New genes get the mean read-outs of the ``n_folds`` out-of-fold networks, the
        networks whose read-outs XGBoost was trained on (no network refitted on all reference
        genes: about a third less training time). ``False``: a network refitted on all
        reference genes serves new genes (the behaviour before this field); its read-outs are
        distributed differently from the out-of-fold ones XGBoost learned from, and on GTEx
        it imputed less accurately (``benchmarks/results/network_ensemble.md``).
    max_epochs, patience, batch_size, learning_rate, weight_decay
        Network training (AdamW, early stopping on 10% of the training genes).
    embedding_dim
        Size of the promoter and neighbour embeddings.
    network_heads
        ``"joint"``: one head reads the joint embedding out to the log1p profile;
        ``"level_pattern"``: separate heads for a gene's level (mean over tissues) and its
        tissue pattern, in tissue z-score units.
    pattern_weight
        With ``network_heads="level_pattern"``, weight of the tissue-pattern part of the
        network loss: the squared error of a gene's z-scored profile splits exactly into its
        level (mean over tissues) error and its pattern (profile minus mean) error; 1 is
        plain MSE, larger values favour the pattern (> 0).
    lr_schedule
        ``"constant"`` (AdamW at ``learning_rate``) or ``"onecycle"`` (one cycle over
        ``max_epochs``, peak ``learning_rate``; Smith & Topin 2019,
        doi:10.1117/12.2520589).
    pooled_profile
        The transformer also pools its neighbours' profiles with learned attention weights
        (a learned distance decay starting at inverse-distance weighting); the pooled
        profile feeds the joint head and the transformer read-out.
    promoter_upstream, promoter_downstream
        The CNN's promoter window, bp upstream and downstream of the TSS (default
        -249..+50, 300 bp: the bundled promoters). With promoters extracted from a genome
        (:func:`~geneimpute.pp.extract_promoters`), ``7000`` and ``3499`` give Xpresso's
        10.5 kb window (Agarwal & Shendure 2020, doi:10.1016/j.celrep.2020.107663); shorter
        records are zero-padded with an "observed" channel of 0, longer ones cut.
    xgb_pattern_model
        Stage 2 as two XGBoost models on the same design: the (gene, tissue) model of the
        log1p profile gives a gene's level (its mean over tissues), and a second model fitted
        to the tissue-centred profile (log1p minus the gene's mean over its measured tissues)
        gives its tissue pattern. A model of the profile itself spends its squared error
        mostly on level differences between genes; the pattern model spends it on the
        differences between tissues (cf. ``network_heads``).
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
        On out-of-range values (e.g. ``n_folds < 2``, ``k_idw < 1``), naming the field.
    """

    k_neighbors: int = 20
    k_idw: int = 7
    use_cnn: bool = True
    use_transformer: bool = True
    use_tissue_correlation: bool = True
    use_distance: bool = True
    use_neighbor_features: bool = True
    n_folds: int = 2
    network_ensemble: bool = True
    max_epochs: int = 7
    patience: int = 5
    batch_size: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    embedding_dim: int = 32
    network_heads: str = "level_pattern"
    pattern_weight: float = 2.9
    lr_schedule: str = "onecycle"
    pooled_profile: bool = True
    promoter_upstream: int = 249
    promoter_downstream: int = 50
    xgb_pattern_model: bool = True
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
        choices = {
            "network_heads": ("joint", "level_pattern"),
            "lr_schedule": ("constant", "onecycle"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                options = " or ".join(repr(a) for a in allowed)
                msg = f"HybridConfig.{name} must be {options}, got {getattr(self, name)!r}"
                raise ValueError(msg)
        if not 0 < self.xgb_subsample <= 1:
            msg = f"HybridConfig.xgb_subsample must be in (0, 1], got {self.xgb_subsample!r}"
            raise ValueError(msg)

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


def feature_options(features: Sequence[str]) -> dict[str, bool]:
    """``use_*`` switches implied by the input groups ``features`` (subset of :data:`FEATURES`).

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
    opts = {
        "use_cnn": "promoter" in features,
        "use_transformer": "neighbors" in features,
        "use_neighbor_features": "neighbors" in features,
    }
    if "neighbors" not in features:
        opts["use_distance"] = False
    return opts


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

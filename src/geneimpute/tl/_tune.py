"""Hyperparameter search for the hybrid imputer on held-out reference genes (optuna)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from anndata import AnnData

from .._anndata import stored_neighbors
from .._core.metrics import masked_metrics, regression_metrics
from .._logging import logger, warn_data
from .._settings import Accelerator, resolve_device
from ..models import FEATURES, HybridConfig
from ..models.hybrid._config import feature_options
from ._common import ExpressionTask, prepare_task
from ._train import (
    DEFAULT_NEIGHBORS_KEY,
    DEFAULT_PROMOTER_KEY,
    fit_hybrid,
    units_of,
    usable_features,
)

if TYPE_CHECKING:
    import optuna

#: Search space used when ``search_space=None`` (see :func:`tune`).
DEFAULT_SEARCH_SPACE: dict[str, tuple] = {
    "learning_rate": ("float", 3e-4, 1e-2, True),
    "weight_decay": ("float", 1e-6, 1e-2, True),
    "max_epochs": ("int", 2, 8),
    "embedding_dim": ("categorical", [16, 32, 64]),
    "k_neighbors": ("int", 8, 32),
    "k_idw": ("int", 3, 20),
    "xgb_n_estimators": ("int", 100, 600, True),
    "xgb_max_depth": ("int", 3, 8),
    "xgb_learning_rate": ("float", 0.01, 0.2, True),
    "xgb_min_child_weight": ("float", 30.0, 1000.0, True),
}
#: HybridConfig fields that cannot be searched, and why.
NOT_SEARCHABLE = {
    "random_state": "it is tune's own random_state argument",
    "calibrate": (
        "interval calibration does not change the point predictions that are scored "
        "(trials always fit with calibrate=False; pass calibrate=... to keep it in the result)"
    ),
}
#: Default-space fields that only matter with a network / with neighbour inputs.
_NETWORK_FIELDS = ("learning_rate", "weight_decay", "max_epochs", "embedding_dim")
_NEIGHBOR_FIELDS = ("k_neighbors", "k_idw")
#: Fewest held-out genes per fold, and fewest training genes (HybridImputer.fit's minimum).
MIN_VALIDATION_GENES = 10
MIN_TRAINING_GENES = 20
#: MedianPruner: trials completed before pruning starts.
PRUNER_STARTUP_TRIALS = 3
METRIC = (
    "mean over validation folds of (pearson_tissue + pearson_gene_centered) / 2 on "
    "log1p(TPM) of the held-out reference genes"
)
_SPEC_FORMAT = (
    "('float', low, high[, log]), ('int', low, high[, log]) or ('categorical', [choices])"
)


def _plain(value: Any) -> Any:
    """Return a numpy scalar as the Python scalar (optuna and h5ad want plain values)."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class Dimension:
    """One searched :class:`~geneimpute.models.HybridConfig` field."""

    name: str
    kind: str  # "float", "int" or "categorical"
    low: Any = None
    high: Any = None
    log: bool = False
    choices: tuple = ()

    def extremes(self) -> list:
        """Return the values that bound the dimension (its choices, if categorical)."""
        return list(self.choices) if self.kind == "categorical" else [self.low, self.high]

    def clip(self, value: Any, high: Any = None) -> Any:
        """``value`` capped at ``high`` (None: no cap; categorical numbers are capped too)."""
        if high is None or isinstance(value, bool) or not isinstance(value, int | float):
            return value
        return min(value, high)

    def suggest(self, trial: optuna.Trial, high: Any = None) -> Any:
        """Sample from ``trial``; ``high`` lowers the upper bound of a numeric range."""
        if self.kind == "categorical":
            return self.clip(trial.suggest_categorical(self.name, list(self.choices)), high)
        hi = self.high if high is None else min(self.high, high)
        lo = min(self.low, hi)
        if self.kind == "int":
            return trial.suggest_int(self.name, int(lo), int(hi), log=self.log)
        return trial.suggest_float(self.name, float(lo), float(hi), log=self.log)

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a choice, or a number within the bounds (an int for "int")."""
        if self.kind == "categorical":
            return value in self.choices
        kinds = int if self.kind == "int" else int | float
        if isinstance(value, bool) or not isinstance(value, kinds):
            return False
        return bool(self.low <= value <= self.high)

    def describe(self) -> str:
        """E.g. ``"float [0.0003, 0.01] log"`` or ``"categorical [16, 32, 64]"``."""
        if self.kind == "categorical":
            return f"categorical {list(self.choices)}"
        return f"{self.kind} [{self.low}, {self.high}]" + (" log" if self.log else "")


def check_first_trial(
    first_trial: Mapping[str, Any] | None, dims: Mapping[str, Dimension]
) -> dict[str, Any] | None:
    """Validate ``tune(first_trial=...)`` against the searched dimensions.

    Raises
    ------
    TypeError
        If ``first_trial`` is not a dict.
    ValueError
        If it names a field that is not searched, or a value outside that field's range
        (not one of its choices, or not an integer for an integer field).
    """
    if first_trial is None:
        return None
    if not isinstance(first_trial, Mapping):
        msg = f"first_trial must be a dict of searched fields, got {type(first_trial).__name__}"
        raise TypeError(msg)
    unknown = sorted(set(first_trial) - set(dims))
    if unknown:
        msg = f"first_trial names fields that are not searched: {unknown}; searched: {sorted(dims)}"
        raise ValueError(msg)
    out = {}
    for name, value in first_trial.items():
        d, value = dims[name], _plain(value)
        if not d.contains(value):
            msg = f"first_trial[{name!r}] = {value!r} is outside the searched {d.describe()}"
            raise ValueError(msg)
        out[name] = value
    return out


def parse_dimension(name: str, spec: Any) -> Dimension:
    """Read one ``search_space`` entry.

    Raises
    ------
    ValueError
        If ``spec`` is not ``("float", low, high[, log])``, ``("int", low, high[, log])`` or
        ``("categorical", [choices])`` with valid bounds, naming the entry.
    """
    where = f"search_space[{name!r}] = {spec!r}"
    if isinstance(spec, str) or not isinstance(spec, Sequence) or len(spec) < 2:
        msg = f"{where}: expected {_SPEC_FORMAT}"
        raise ValueError(msg)
    kind, *args = spec
    if kind == "categorical":
        choices = args[0] if len(args) == 1 else None
        if isinstance(choices, str) or not isinstance(choices, Sequence) or not choices:
            msg = f"{where}: expected ('categorical', [choices]) with at least one choice"
            raise ValueError(msg)
        values = tuple(_plain(c) for c in choices)
        if not all(isinstance(c, bool | int | float | str) for c in values):
            msg = f"{where}: choices must be numbers, booleans or strings"
            raise ValueError(msg)
        return Dimension(name, "categorical", choices=values)
    if kind not in ("float", "int") or len(args) not in (2, 3):
        msg = f"{where}: expected {_SPEC_FORMAT}"
        raise ValueError(msg)
    low, high = (_plain(v) for v in args[:2])
    log = _plain(args[2]) if len(args) == 3 else False
    number: tuple[type, ...] = (int,) if kind == "int" else (int, float)
    if any(isinstance(v, bool) or not isinstance(v, number) for v in (low, high)) or not (
        math.isfinite(low) and math.isfinite(high)
    ):
        what = "integers" if kind == "int" else "finite numbers"
        msg = f"{where}: low and high must be {what}"
        raise ValueError(msg)
    if not isinstance(log, bool):
        msg = f"{where}: the fourth item (log scale) must be True or False"
        raise ValueError(msg)
    if low > high:
        msg = f"{where}: low ({low}) is above high ({high})"
        raise ValueError(msg)
    if log and low <= 0:
        msg = f"{where}: a log-scale range needs low > 0"
        raise ValueError(msg)
    return Dimension(name, kind, low, high, log)


def sample_config(
    dims: Mapping[str, Dimension],
    base: HybridConfig,
    fixed: Mapping[str, Any],
    pick: Callable[[Dimension, Any], Any],
) -> dict[str, Any]:
    """Draw the searched values of one trial, keeping ``k_idw <= k_neighbors``.

    ``pick(dim, high)`` gives a value of ``dim`` no higher than ``high`` (None: no cap).
    ``k_idw`` is drawn last, capped at the trial's ``k_neighbors``; when ``k_neighbors`` is
    searched and ``k_idw`` is neither searched nor fixed, ``k_idw`` is lowered to
    ``k_neighbors`` where the default would exceed it (and then recorded).
    """
    values = {n: _plain(pick(d, None)) for n, d in dims.items() if n != "k_idw"}
    k = values.get("k_neighbors", base.k_neighbors)
    cap = k if isinstance(k, int) and not isinstance(k, bool) else None
    if "k_idw" in dims:
        values["k_idw"] = _plain(pick(dims["k_idw"], cap))
    elif "k_neighbors" in values and "k_idw" not in fixed and cap is not None:
        if base.k_idw > cap:
            values["k_idw"] = cap
    return values


def resolve_search_space(
    search_space: Mapping[str, Any] | None,
    fixed: Mapping[str, Any],
    base: HybridConfig,
    stored_k: int | None,
    neighbors_key: str | None,
) -> dict[str, Dimension]:
    """Validate ``search_space`` against ``fixed`` and the stored neighbours; no training.

    With ``search_space=None``: :data:`DEFAULT_SEARCH_SPACE` less the fixed fields, the
    network fields without a network, the neighbour fields without neighbour inputs, and
    ``k_neighbors`` capped at the ``stored_k`` neighbours under ``uns[neighbors_key]``.

    Raises
    ------
    TypeError
        If ``search_space`` is not a mapping.
    ValueError
        On names that are not searchable HybridConfig fields, names also fixed, malformed
        entries, values HybridConfig rejects, or ``k_neighbors`` above ``stored_k``.
    """
    known = [f.name for f in fields(HybridConfig)]
    if search_space is None:
        network = base.use_cnn or base.use_transformer
        neighbors = base.use_transformer or base.use_neighbor_features
        skip = set(fixed)
        skip |= set() if network else set(_NETWORK_FIELDS)
        skip |= set() if neighbors else set(_NEIGHBOR_FIELDS)
        if not base.use_neighbor_features:
            skip.add("k_idw")
        spec: dict[str, Any] = {n: s for n, s in DEFAULT_SEARCH_SPACE.items() if n not in skip}
        what = "the default search space"
    else:
        if not isinstance(search_space, Mapping):
            msg = (
                f"search_space must be a dict {{field: {_SPEC_FORMAT}}} or None, got "
                f"{type(search_space).__name__}"
            )
            raise TypeError(msg)
        unknown = [n for n in search_space if n not in known]
        if unknown:
            searchable = sorted(set(known) - set(NOT_SEARCHABLE))
            msg = (
                f"search_space names {unknown}, which are not HybridConfig fields; "
                f"searchable fields: {searchable}"
            )
            raise ValueError(msg)
        special = [n for n in search_space if n in NOT_SEARCHABLE]
        if special:
            msg = f"search_space cannot search {special[0]!r}: {NOT_SEARCHABLE[special[0]]}"
            raise ValueError(msg)
        both = [n for n in search_space if n in fixed]
        if both:
            msg = (
                f"{both} are both fixed (keyword arguments of tune) and searched "
                "(search_space); drop them from one of the two"
            )
            raise ValueError(msg)
        if not search_space:
            msg = "search_space is empty; pass None for the default search space"
            raise ValueError(msg)
        spec = dict(search_space)
        what = "search_space"
    dims = {n: parse_dimension(n, s) for n, s in spec.items()}
    if stored_k is not None:
        dims = _fit_stored_neighbors(dims, base, stored_k, neighbors_key, search_space is None)
    if "k_neighbors" in dims and "k_idw" in fixed and search_space is None:
        d = dims["k_neighbors"]
        if d.kind == "int" and d.low < fixed["k_idw"]:
            dims["k_neighbors"] = replace(d, low=min(fixed["k_idw"], d.high))
    _check_extremes(dims, base, fixed, what)
    return dims


def _fit_stored_neighbors(
    dims: dict[str, Dimension],
    base: HybridConfig,
    stored_k: int,
    neighbors_key: str | None,
    cap: bool,
) -> dict[str, Dimension]:
    """Cap the default ``k_neighbors`` range at ``stored_k``; raise for a user's range above."""
    d = dims.get("k_neighbors")
    hint = (
        f"uns[{neighbors_key!r}] holds {stored_k} neighbours per gene and train reads them, so "
        f"k_neighbors cannot exceed {stored_k}; rerun geneimpute.pp.neighbor_features(adata, "
        "k=...) with more neighbours, or pass neighbors_key=None (train must then search too)"
    )
    if d is None:
        if base.k_neighbors > stored_k:
            msg = f"k_neighbors={base.k_neighbors}: {hint}"
            raise ValueError(msg)
        return dims
    top = max(v for v in d.extremes() if isinstance(v, int | float))
    if top <= stored_k:
        return dims
    if cap and d.kind == "int":
        return {**dims, "k_neighbors": replace(d, low=min(d.low, stored_k), high=stored_k)}
    msg = f"search_space['k_neighbors'] reaches {top}: {hint}"
    raise ValueError(msg)


def _check_extremes(
    dims: Mapping[str, Dimension], base: HybridConfig, fixed: Mapping[str, Any], what: str
) -> None:
    """Build a HybridConfig at each bound of each dimension (others at their first bound)."""
    opts = {k: v for k, v in vars(base).items() if k != "random_state"}
    for name, dim in dims.items():
        for value in dim.extremes():

            def pick(d: Dimension, high: Any, name: str = name, value: Any = value) -> Any:
                return d.clip(value if d.name == name else d.extremes()[0], high)

            try:
                HybridConfig(**{**opts, **sample_config(dims, base, fixed, pick)})
            except (TypeError, ValueError) as err:
                msg = (
                    f"{what}: {name}={value!r} ({dim.describe()}) is not a valid setting "
                    f"with the fixed options {dict(fixed)}: {err}"
                )
                raise ValueError(msg) from None


def validation_folds(
    reference: np.ndarray, n_folds: int, fraction: float, random_state: int
) -> list[np.ndarray]:
    """Row indices of the reference genes hidden in each fold (sorted).

    One seeded permutation of the reference genes, cut into consecutive blocks of
    ``round(fraction * n_reference)`` genes: disjoint while ``n_folds * fraction <= 1``,
    wrapping around otherwise.
    """
    rows = np.flatnonzero(reference)
    m = int(round(fraction * len(rows)))
    perm = np.random.default_rng(random_state).permutation(rows)
    return [np.sort(perm[(f * m + np.arange(m)) % len(rows)]) for f in range(n_folds)]


@dataclass
class _Setting:
    """Everything a validation fit needs besides the trial's configuration."""

    adata: AnnData
    task: ExpressionTask
    tissues: list[str]
    features: list[str]
    promoter_key: str
    is_log1p: bool
    layer: str | None
    random_state: int
    accelerator: Accelerator | None


def score_fold(setting: _Setting, held: np.ndarray, config: dict[str, Any]) -> dict[str, float]:
    """Fit a hybrid without the ``held`` reference genes and score its predictions of them.

    The held genes' values are hidden (NaN), neighbours are searched among the remaining
    reference genes and the tissue correlation is computed from them (stored ``uns`` inputs
    are not read: they were built with the held genes). Returns ``pearson_tissue`` and
    ``pearson_gene_centered`` on log1p(TPM) (:func:`regression_metrics`; over the measured
    cells, :func:`masked_metrics`, when some held gene has NaN tissues).
    """
    task = setting.task
    Y = task.Y.copy()
    Y[held] = np.nan
    train = task.reference.copy()
    train[held] = False
    model, inputs, _ = fit_hybrid(
        setting.adata,
        Y,
        train,
        setting.tissues,
        features=setting.features,
        promoter_key=setting.promoter_key,
        neighbors_key=None,
        tissue_correlation_key=None,
        is_log1p=setting.is_log1p,
        layer=setting.layer,
        reference_rule=task.reference_rule,
        random_state=setting.random_state,
        accelerator=setting.accelerator,
        model_kwargs={**config, "calibrate": False},
    )
    pred = model.predict(Y, inputs, held, accelerator=setting.accelerator)
    true = task.Y[held]
    measured = np.isfinite(true)
    m = (
        regression_metrics(pred, true)
        if measured.all()
        else masked_metrics(pred, np.where(measured, true, 0.0), measured)
    )
    return {k: m[k] for k in ("pearson_tissue", "pearson_gene_centered")}


def _check_settings(
    n_trials: int | None,
    timeout: float | None,
    n_validation_folds: int,
    validation_fraction: float,
    random_state: int,
) -> None:
    """Raise ``ValueError`` on out-of-range budget or fold settings."""
    if n_trials is None and timeout is None:
        msg = "n_trials=None needs a timeout (seconds); pass n_trials, timeout or both"
        raise ValueError(msg)
    if n_trials is not None and (
        isinstance(n_trials, bool) or not isinstance(n_trials, int | np.integer) or n_trials < 1
    ):
        msg = f"n_trials must be an integer >= 1 (or None with a timeout), got {n_trials!r}"
        raise ValueError(msg)
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0
    ):
        msg = f"timeout must be a positive number of seconds or None, got {timeout!r}"
        raise ValueError(msg)
    if (
        isinstance(n_validation_folds, bool)
        or not isinstance(n_validation_folds, int | np.integer)
        or n_validation_folds < 1
    ):
        msg = f"n_validation_folds must be an integer >= 1, got {n_validation_folds!r}"
        raise ValueError(msg)
    if (
        isinstance(validation_fraction, bool)
        or not isinstance(validation_fraction, int | float)
        or not 0 < validation_fraction <= 0.5
    ):
        msg = f"validation_fraction must be in (0, 0.5], got {validation_fraction!r}"
        raise ValueError(msg)
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        msg = f"random_state must be an integer, got {random_state!r}"
        raise ValueError(msg)


def trials_table(study: optuna.Study, dims: Mapping[str, Dimension]) -> pd.DataFrame:
    """One row per trial: number, state, value, fold means, duration, params, failure."""
    rows = []
    for t in study.trials:
        config = t.user_attrs.get("config", {})
        duration = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete is not None and t.datetime_start is not None
            else np.nan
        )
        row: dict[str, Any] = {
            "number": int(t.number),
            "state": t.state.name,
            # optuna keeps a pruned trial's last running score as its value: NaN here, the
            # running score is in the pearson_* columns
            "value": float(t.value)
            if t.state.name == "COMPLETE" and t.value is not None
            else np.nan,
            "pearson_tissue": float(t.user_attrs.get("pearson_tissue", np.nan)),
            "pearson_gene_centered": float(t.user_attrs.get("pearson_gene_centered", np.nan)),
            "n_folds_scored": int(t.user_attrs.get("n_folds_scored", 0)),
            "duration_s": float(duration),
        }
        for name in dims:
            row[f"params_{name}"] = config.get(name, np.nan)
        if "k_idw" in config and "k_idw" not in dims:  # lowered to k_neighbors
            row["params_k_idw"] = config["k_idw"]
        row["fail_reason"] = str(t.user_attrs.get("fail_reason", ""))
        rows.append(row)
    df = pd.DataFrame(rows)
    for col in df.columns:  # h5ad writes object columns of strings only
        if df[col].dtype == object and col not in ("state", "fail_reason"):
            if not all(isinstance(v, str) for v in df[col]):
                df[col] = df[col].astype(str)
    return df


def tune(
    adata: AnnData,
    reference: str | Sequence[bool] | np.ndarray | None = None,
    *,
    n_trials: int | None = 20,
    timeout: float | None = None,
    search_space: Mapping[str, Any] | None = None,
    first_trial: Mapping[str, Any] | None = None,
    n_validation_folds: int = 2,
    validation_fraction: float = 0.1,
    layer: str | None = None,
    is_log1p: bool = False,
    features: Sequence[str] = FEATURES,
    promoter_key: str = DEFAULT_PROMOTER_KEY,
    neighbors_key: str | None = DEFAULT_NEIGHBORS_KEY,
    key_added: str = "tune",
    random_state: int = 0,
    accelerator: Accelerator | None = None,
    **fixed: Any,
) -> dict[str, Any]:
    """Search the hybrid imputer's hyperparameters on held-out reference genes.

    As Xpresso's hyperparameters were searched with the Tree-structured Parzen Estimator of
    hyperopt (Agarwal & Shendure, Cell Reports 2020, doi:10.1016/j.celrep.2020.107663), the
    :class:`~geneimpute.models.HybridConfig` fields in ``search_space`` are searched with
    optuna (Akiba et al., KDD 2019, doi:10.1145/3292500.3330701): a seeded
    ``TPESampler(seed=random_state)`` (its first 10 trials are drawn at random, optuna's
    default) and a ``MedianPruner`` that stops a trial whose running score after a validation
    fold is below the median of earlier trials at that fold (once 3 trials have completed).

    Each trial is scored on the *reference* genes only, never on genes to be imputed: in
    each of ``n_validation_folds`` folds a seeded random ``validation_fraction`` of the
    reference genes is hidden (set to NaN), a hybrid with the trial's configuration is
    trained on the other reference genes exactly as :func:`train` would (neighbours searched
    among them, tissue correlation computed from them; neighbours or correlations stored in
    ``uns`` are not read, since they were built with the hidden genes) and predicts the
    hidden genes. The score is the mean over folds of (per-tissue Pearson r + per-gene
    tissue-centred Pearson r) / 2 of the hidden genes' log1p(TPM) profiles
    (:func:`~geneimpute.tl.regression_metrics`; for hidden genes with NaN tissues, over their
    measured cells). Folds are disjoint while ``n_validation_folds * validation_fraction <=
    1``. Every trial uses the same folds and seed, so differences between trials come from
    the configuration. Trials fit without interval calibration (``calibrate=False``), which
    does not change the point predictions scored. Each trial costs ``n_validation_folds``
    trainings. optuna's INFO messages are silenced while the search runs (its verbosity is
    raised to WARNING, then restored); a failed trial is reported by optuna's logger and
    recorded. Global numpy and torch random states are left as they were.

    Parameters
    ----------
    adata
        ``obs`` = tissues, ``var`` = genes with ``chrom``, ``start``, ``end``, ``strand``
        (``tss`` optional), ``X`` (or ``layer``) = TPM, shape ``(n_tissues, n_genes)``, as for
        :func:`train`.
    reference
        Boolean mask or ``var`` column of reference genes, as for :func:`train` (default:
        every gene measured in at least half of the tissues). Validation genes are drawn from
        them only; other genes are never used.
    n_trials
        Number of configurations tried (>= 1); None: as many as ``timeout`` allows.
    timeout
        Stop starting new trials after this many seconds (the running trial finishes);
        None: no limit.
    search_space
        ``{field: spec}`` over :class:`~geneimpute.models.HybridConfig` fields, each spec
        ``("float", low, high)``, ``("float", low, high, log)`` (``log=True``: log-uniform),
        ``("int", low, high)``, ``("int", low, high, log)`` (bounds inclusive) or
        ``("categorical", [choices])``. ``k_idw`` is kept at most the trial's ``k_neighbors``:
        its upper bound is lowered to it (a categorical value is capped), and when only
        ``k_neighbors`` is searched the default ``k_idw`` is lowered with it.
        ``random_state`` and ``calibrate`` cannot be searched. None: the default space
        :data:`DEFAULT_SEARCH_SPACE`: ``learning_rate`` log-uniform in [3e-4, 1e-2],
        ``weight_decay`` log-uniform in [1e-6, 1e-2], ``max_epochs`` in 2..8,
        ``embedding_dim`` in {16, 32, 64}, ``k_neighbors`` in 8..32, ``k_idw`` in 3..20,
        ``xgb_n_estimators`` log-uniform in 100..600, ``xgb_max_depth`` in 3..8,
        ``xgb_learning_rate`` log-uniform in [0.01, 0.2], ``xgb_min_child_weight``
        log-uniform in [30, 1000]; fields given in ``fixed`` are left out, so are the network
        fields for a model without network and the neighbour fields without
        ``"neighbors"`` in ``features``, and ``k_neighbors`` is capped at the neighbours
        stored under ``uns[neighbors_key]``.
    first_trial
        Values of searched fields for the first trial (optuna's ``Study.enqueue_trial``),
        e.g. the settings in use, so the trial table shows how far the search improves on
        them; searched fields it does not name are sampled. None: every trial is sampled.
    n_validation_folds
        Folds per trial (>= 1); the pruner sees the running mean after each.
    validation_fraction
        Fraction of the reference genes hidden in each fold, in (0, 0.5]; each fold must hide
        at least 10 genes and keep at least 20.
    layer
        Expression layer instead of ``X``.
    is_log1p
        Set if the values are log1p(TPM) already.
    features
        Input groups, as for :func:`train` (``"promoter"`` is dropped, with a warning, when
        ``var[promoter_key]`` holds no sequence).
    promoter_key
        ``var`` column with promoter sequences, as for :func:`train`.
    neighbors_key
        ``uns`` key of :func:`~geneimpute.pp.neighbor_features` output that the later
        :func:`train` call will read (the same default). Not read for validation; when
        present, ``k_neighbors`` may not exceed its number of neighbours per gene, so the
        best parameters train with it (the default range is capped, a larger range in
        ``search_space`` or a larger fixed value is an error). None: no such limit.
    key_added
        ``uns`` key of the trial record.
    random_state
        Seed of the validation folds, the sampler and every trial's training (numpy, torch,
        xgboost); the same seed gives the same folds and the same sampled configurations.
    accelerator
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``; ``None`` (default)
        follows ``geneimpute.settings.accelerator`` (``"auto"`` unless changed).
    **fixed
        :class:`~geneimpute.models.HybridConfig` overrides held fixed in every trial (e.g.
        ``max_epochs=2``, ``n_folds=2``); included in the returned parameters.

    Returns
    -------
    A dict with ``"params"``: the best trial's overrides, searched values plus ``fixed``
    (pass them on as ``ge.tl.train(adata, **best["params"])``); ``"value"``: its score;
    ``"trial"``: its number; ``"trials"``: the trial table below; ``"study"``: the
    ``optuna.Study``. Writes ``adata.uns[key_added]`` (nothing else changes), a dict with

    - ``"trials"``: :class:`pandas.DataFrame`, one row per trial: ``number``, ``state``
      (``COMPLETE``, ``PRUNED`` or ``FAIL``), ``value`` (score; NaN unless complete),
      ``pearson_tissue`` and ``pearson_gene_centered`` (means over the folds scored, also
      for a pruned trial), ``n_folds_scored``, ``duration_s`` (seconds), ``params_<field>``
      (values trained with) and ``fail_reason`` (``""`` unless failed);
    - ``"best_params"``: dict, as ``"params"`` returned; ``"best_value"``: float;
      ``"best_trial"``: int;
    - ``"params"``: the call's settings: ``n_trials``, ``timeout``, ``n_validation_folds``,
      ``validation_fraction``, ``n_validation_genes`` (per fold), ``n_reference_genes``,
      ``random_state``, ``metric``, ``sampler``, ``pruner``, ``search_space`` (field ->
      description), ``fixed``, ``first_trial`` (``{}`` without), ``features``,
      ``layer``, ``is_log1p``, ``units``, ``reference``, ``promoter_key``,
      ``k_neighbors_limit`` (neighbours stored under
      ``uns[neighbors_key]``; None without), ``device``, ``optuna_version``.

    Raises
    ------
    KeyError, ValueError
        As :func:`train` for the data; also if ``n_trials < 1`` (or None without
        ``timeout``), ``timeout <= 0``, ``n_validation_folds < 1``, ``validation_fraction``
        outside (0, 0.5], a fold would hide fewer than 10 or keep fewer than 20 reference
        genes, ``search_space`` names a field that is not a searchable HybridConfig field,
        is malformed or allows values HybridConfig rejects, a field
        is both fixed and searched, ``k_neighbors`` could exceed the stored neighbours, or
        ``first_trial`` names a field that is not searched or a value outside its range.
        All of these are raised before any training, and ``adata`` is unchanged.
    TypeError
        On unknown ``fixed`` names (as :func:`train`), or a ``search_space`` or
        ``first_trial`` that is not a dict.
    RuntimeError
        If no trial completed, with the first failure's message; ``adata`` is unchanged.

    Warns
    -----
    UserWarning
        When some trials failed but others completed, naming the first failure.

    Examples
    --------
    >>> import geneimpute as ge
    >>> adata = ge.datasets.gtex_tissues()
    >>> best = ge.tl.tune(adata, n_trials=30, n_folds=2)  # doctest: +SKIP
    >>> adata.uns["tune"]["trials"].sort_values("value").tail()  # doctest: +SKIP
    >>> model = ge.tl.train(adata, **best["params"])  # doctest: +SKIP
    """
    _check_settings(n_trials, timeout, n_validation_folds, validation_fraction, random_state)
    features = list(features)
    base = HybridConfig.from_dict(
        {}, **{**feature_options(features), **fixed}
    )  # TypeError on unknown names, ValueError on bad values
    device = resolve_device(accelerator)
    stored_k = None
    if neighbors_key is not None and neighbors_key in adata.uns:
        stored_k = stored_neighbors(adata, neighbors_key)[0].k
    dims = resolve_search_space(search_space, fixed, base, stored_k, neighbors_key)
    start = check_first_trial(first_trial, dims)
    task = prepare_task(
        adata, None, layer=layer, is_log1p=is_log1p, reference=reference, require_targets=False
    )
    n_ref = int(task.reference.sum())
    n_val = int(round(validation_fraction * n_ref))
    n_train = n_ref - n_val
    if n_val < MIN_VALIDATION_GENES or n_train < max(MIN_TRAINING_GENES, 2 * base.n_folds):
        msg = (
            f"validation_fraction={validation_fraction} of {n_ref} reference genes hides "
            f"{n_val} and keeps {n_train} per fold; need at least {MIN_VALIDATION_GENES} "
            f"hidden and {max(MIN_TRAINING_GENES, 2 * base.n_folds)} kept (use more reference "
            "genes or another validation_fraction)"
        )
        raise ValueError(msg)
    features = usable_features(adata, features, promoter_key, stacklevel=4)
    folds = validation_folds(task.reference, n_validation_folds, validation_fraction, random_state)
    setting = _Setting(
        adata=adata,
        task=task,
        tissues=[str(t) for t in adata.obs_names],
        features=features,
        promoter_key=promoter_key,
        is_log1p=is_log1p,
        layer=layer,
        random_state=int(random_state),
        accelerator=accelerator,
    )
    study = _optimize(setting, folds, dims, base, dict(fixed), n_trials, timeout, device, start)

    table = trials_table(study, dims)
    complete = table["state"] == "COMPLETE"
    failed = table[table["state"] == "FAIL"]
    if not complete.any():
        first = failed["fail_reason"].iloc[0] if len(failed) else "none completed"
        msg = (
            f"no trial of geneimpute.tl.tune completed ({len(failed)} failed, "
            f"{int((table['state'] == 'PRUNED').sum())} pruned); first failure: {first}"
        )
        raise RuntimeError(msg)
    if len(failed):
        msg = (
            f"{len(failed)} of {len(table)} tune trials failed (trial "
            f"{int(failed['number'].iloc[0])}: {failed['fail_reason'].iloc[0]}); see "
            f"uns[{key_added!r}]['trials']"
        )
        warn_data(msg, stacklevel=3)
    best = study.best_trial
    best_params = {**fixed, **best.user_attrs["config"]}
    best_value = float(best.value) if best.value is not None else math.nan
    import optuna

    adata.uns[key_added] = {
        "trials": table,
        "best_params": {k: _plain(v) for k, v in best_params.items()},
        "best_value": best_value,
        "best_trial": int(best.number),
        "params": {
            "n_trials": None if n_trials is None else int(n_trials),
            "timeout": None if timeout is None else float(timeout),
            "n_validation_folds": int(n_validation_folds),
            "validation_fraction": float(validation_fraction),
            "n_validation_genes": n_val,
            "n_reference_genes": n_ref,
            "random_state": int(random_state),
            "metric": METRIC,
            "sampler": f"TPESampler(seed={int(random_state)})",
            "pruner": f"MedianPruner(n_startup_trials={PRUNER_STARTUP_TRIALS})",
            "search_space": {n: d.describe() for n, d in dims.items()},
            "fixed": {k: _plain(v) for k, v in fixed.items()},
            "first_trial": start or {},
            "features": features,
            "layer": layer or "X",
            "is_log1p": bool(is_log1p),
            "units": units_of(is_log1p),
            "reference": task.reference_rule,
            "promoter_key": promoter_key if "promoter" in features else None,
            "k_neighbors_limit": stored_k,
            "device": device,
            "optuna_version": optuna.__version__,
        },
    }
    logger.info(
        "tune: best trial %d of %d, score %.4f, params %s",
        best.number,
        len(table),
        best_value,
        best_params,
    )
    return {
        "params": best_params,
        "value": best_value,
        "trial": int(best.number),
        "trials": table.copy(),
        "study": study,
    }


def _optimize(
    setting: _Setting,
    folds: list[np.ndarray],
    dims: Mapping[str, Dimension],
    base: HybridConfig,
    fixed: dict[str, Any],
    n_trials: int | None,
    timeout: float | None,
    device: str,
    first_trial: dict[str, Any] | None = None,
) -> optuna.Study:
    """Run the optuna study (optuna quiet, torch's global RNG restored afterwards)."""
    import optuna
    import torch

    def objective(trial: optuna.Trial) -> float:
        try:
            config = sample_config(dims, base, fixed, lambda d, high: d.suggest(trial, high))
            trial.set_user_attr("config", config)
            scores, tissue, gene = [], [], []
            for f, held in enumerate(folds):
                m = score_fold(setting, held, {**fixed, **config})
                score = (m["pearson_tissue"] + m["pearson_gene_centered"]) / 2
                if not math.isfinite(score):
                    msg = f"the validation score of fold {f} is not finite ({m})"
                    raise ValueError(msg)
                scores.append(score)
                tissue.append(m["pearson_tissue"])
                gene.append(m["pearson_gene_centered"])
                trial.set_user_attr("pearson_tissue", float(np.mean(tissue)))
                trial.set_user_attr("pearson_gene_centered", float(np.mean(gene)))
                trial.set_user_attr("n_folds_scored", f + 1)
                running = float(np.mean(scores))
                trial.report(running, f)
                if f < len(folds) - 1 and trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after fold {f} (running score {running})")
            return running
        except optuna.TrialPruned:
            raise
        except Exception as err:
            trial.set_user_attr("fail_reason", f"{type(err).__name__}: {err}")
            raise

    def log_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        logger.info(
            "tune: trial %d %s, value %s, params %s",
            trial.number,
            trial.state.name,
            trial.value,
            trial.user_attrs.get("config"),
        )

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(verbosity, optuna.logging.WARNING))
    devices = [torch.cuda.current_device()] if device == "cuda" else []
    t0 = time.perf_counter()
    try:
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=setting.random_state),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS),
        )
        if first_trial:
            study.enqueue_trial(first_trial)
        with torch.random.fork_rng(devices=devices):
            study.optimize(
                objective,
                n_trials=None if n_trials is None else int(n_trials),
                timeout=timeout,
                catch=(Exception,),
                callbacks=[log_trial],
            )
    finally:
        optuna.logging.set_verbosity(verbosity)
    logger.info("tune: %d trials in %.1f s", len(study.trials), time.perf_counter() - t0)
    return study

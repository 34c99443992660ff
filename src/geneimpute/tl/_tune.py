"""Hyperparameter search of the hybrid with optuna, scored on held-out reference genes."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from functools import partial
from numbers import Integral, Real
from typing import Any

import numpy as np
import optuna
import pandas as pd
from anndata import AnnData
from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from .._adata import DefaultKey, ExpressionTask, check_key, prepare_task, stored_neighbors
from .._core.metrics import masked_metrics, regression_metrics
from .._docs import doc_params
from .._logging import logger, warn_data
from .._settings import Accelerator, resolve_device
from ..models import FEATURES, HybridConfig
from ..models.hybrid._config import components_for
from ._model import units_of
from ._train import (
    DEFAULT_NEIGHBORS_KEY,
    DEFAULT_PROMOTER_KEY,
    HybridFitSpec,
    fit_hybrid,
    usable_features,
)

#: Search space used when ``search_space=None`` (see :func:`~geneimpute.tl.tune`).
DEFAULT_SEARCH_SPACE: dict[str, BaseDistribution] = {
    "learning_rate": FloatDistribution(3e-4, 1e-2, log=True),
    "weight_decay": FloatDistribution(1e-6, 1e-2, log=True),
    "max_epochs": IntDistribution(2, 8),
    "embedding_dim": optuna.distributions.CategoricalDistribution([16, 32, 64]),
    "pattern_weight": FloatDistribution(1.0, 5.0, log=True),
    "k_neighbors": IntDistribution(8, 32),
    "k_idw": IntDistribution(3, 20),
    "xgb_n_estimators": IntDistribution(100, 600, log=True),
    "xgb_max_depth": IntDistribution(3, 8),
    "xgb_learning_rate": FloatDistribution(0.01, 0.2, log=True),
    "xgb_min_child_weight": FloatDistribution(30.0, 1000.0, log=True),
}
#: HybridConfig fields that cannot be searched, and why.
NOT_SEARCHABLE = {
    "random_state": "it is tune's own random_state argument",
    "calibrate": "trials fit without it (same point predictions); pass calibrate=... to fix it",
    "components": "run one tune call per components=... (a fixed option) to compare ablations",
}
_NETWORK_FIELDS = ("learning_rate", "weight_decay", "max_epochs", "embedding_dim", "pattern_weight")
#: Default-space fields searched only with one of these components.
_NEEDS = {
    **dict.fromkeys(_NETWORK_FIELDS, ("cnn", "transformer")),
    "k_neighbors": ("transformer", "neighbor_profile"),
    "k_idw": ("neighbor_profile",),
}
MIN_VALIDATION_GENES, MIN_TRAINING_GENES = 10, 20  # per fold (HybridImputer.fit's minimum)
METRICS = ("pearson_tissue", "pearson_gene_centered")
METRIC = "mean over folds of (pearson_tissue + pearson_gene_centered) / 2 of held-out genes"
#: MedianPruner: trials completed before pruning starts.
PRUNER_STARTUP_TRIALS = 3


@doc_params()
def tune(
    adata: AnnData,
    reference: str | Sequence[bool] | np.ndarray | None = None,
    *,
    n_trials: int | None = 20,
    timeout: float | None = None,
    search_space: Mapping[str, BaseDistribution] | None = None,
    first_trial: Mapping[str, Any] | None = None,
    n_validation_folds: int = 2,
    validation_fraction: float = 0.1,
    layer: str | None = None,
    is_log1p: bool = False,
    features: Sequence[str] = FEATURES,
    promoter_key: str = DEFAULT_PROMOTER_KEY,
    neighbors_key: str | None = DEFAULT_NEIGHBORS_KEY,
    key_added: str = DefaultKey("tune"),
    random_state: int = 0,
    accelerator: Accelerator | None = None,
    **fixed: Any,
) -> dict[str, Any]:
    """Search the hybrid imputer's hyperparameters on held-out reference genes.

    The :class:`~geneimpute.models.HybridConfig` fields of ``search_space`` are searched with
    optuna (Akiba et al., KDD 2019, doi:10.1145/3292500.3330701), as Xpresso's were
    (Agarwal & Shendure 2020): ``Study.ask(search_space)`` with
    ``TPESampler(seed=random_state)``; a ``MedianPruner`` (after 3 complete trials) stops a
    trial below the median after a fold. Each fold hides a seeded ``validation_fraction`` of
    the reference genes, trains a hybrid with the trial's values (and ``calibrate=False``: same
    point predictions) on the others as :func:`train` would (neighbours and tissue correlation
    computed from them) and scores it on them: the mean over folds of (per-tissue Pearson r +
    per-gene tissue-centred Pearson r) / 2 on log1p(TPM). Every trial uses the same folds and
    seed; optuna logs at WARNING meanwhile; numpy and torch random states are kept.

    Parameters
    ----------
    {adata_tissues}
    {reference}
        Only these genes are used (hidden in turn).
    n_trials
        Configurations tried (>= 1); None: as many as ``timeout`` allows.
    timeout
        Start no trial after this many seconds (the running one finishes); None: no limit.
    search_space
        ``{field: optuna distribution}``, e.g. ``{"learning_rate": FloatDistribution(1e-3,
        1e-2, log=True)}``, not ``random_state``, ``calibrate`` or ``components``; a trial
        HybridConfig rejects fails before training, and a ``k_idw`` (not fixed) above its
        ``k_neighbors`` is lowered to it. None: log-uniform ``learning_rate`` [3e-4, 1e-2],
        ``weight_decay`` [1e-6, 1e-2], ``pattern_weight`` [1, 5], ``xgb_n_estimators``
        100..600, ``xgb_learning_rate`` [0.01, 0.2], ``xgb_min_child_weight`` [30, 1000];
        ``max_epochs`` 2..8, ``embedding_dim`` {16, 32, 64}, ``xgb_max_depth`` 3..8,
        ``k_neighbors`` 8..32 (at most the stored ones), ``k_idw`` 3..20 (at most
        ``k_neighbors``); less the fixed fields and those of unused components.
    first_trial
        Values of searched fields for the first trial (``Study.enqueue_trial``), checked
        against their distributions; None: every trial is sampled.
    n_validation_folds
        Folds per trial (>= 1); the pruner sees the running mean after each.
    validation_fraction
        Reference genes hidden per fold, in (0, 0.5]; at least 10 hidden and 20 kept.
    {layer}
    {is_log1p}
    {features}
    {promoter_key}
    neighbors_key
        ``uns`` key of :func:`~geneimpute.pp.neighbor_features` output that :func:`train`
        will read: ``k_neighbors`` may not exceed its neighbours per gene. None: no limit.
    key_added
        ``uns`` key of the trial record; the default never replaces an earlier one (an
        error), naming the key does.
    random_state
        Seed of the folds, the sampler and each trial's training.
    {accelerator}
    **fixed
        HybridConfig values of every trial, e.g. ``max_epochs=2``, ``components=[...]``.

    Returns
    -------
    ``{"params": best values and fixed, "value", "trial", "trials", "study"}`` (train with
    ``ge.tl.train(adata, **best["params"])``). Writes only ``adata.uns[key_added]``:
    ``"trials"`` (a row per trial: ``number``, ``state``, ``value`` (NaN unless complete), the
    two metrics, ``n_folds_scored``, ``duration_s``, ``params_<field>`` (the values trained
    with), ``fail_reason``), ``"best_params"``, ``"best_value"``, ``"best_trial"`` and
    ``"params"`` (arguments, space as ``distribution_to_json``, counts, metric, versions...).

    Raises
    ------
    KeyError, ValueError
        As :func:`train` for the data; on bad budget, fold or seed settings, too few reference
        genes, a ``search_space`` that is empty, names a field that cannot be searched or lets
        ``k_neighbors`` exceed the stored neighbours, or a ``first_trial`` outside it (all
        before any training).
    TypeError
        On unknown ``fixed`` names, or a ``search_space`` or ``first_trial`` not a dict (of
        optuna distributions).
    RuntimeError
        If no trial completed, naming the first failure; ``adata`` is unchanged.

    Warns
    -----
    UserWarning
        When some trials failed, naming the first.

    Examples
    --------
    >>> import geneimpute as ge
    >>> from optuna.distributions import FloatDistribution
    >>> adata = ge.datasets.gtex_tissues()
    >>> space = {"learning_rate": FloatDistribution(5e-4, 5e-3, log=True)}
    >>> best = ge.tl.tune(adata, n_trials=30, search_space=space)  # doctest: +SKIP
    >>> model = ge.tl.train(adata, **best["params"])  # doctest: +SKIP
    """
    key_added = check_key(key_added, adata)
    _check_settings(n_trials, timeout, n_validation_folds, validation_fraction, random_state)
    base = HybridConfig.from_dict({}, **fixed)  # TypeError on unknown names, ValueError on bad
    base = replace(base, components=components_for(features, base.components))
    stored_k = stored_neighbors(adata, neighbors_key)[0].k if neighbors_key in adata.uns else None  # type: ignore[arg-type]
    space = _search_space(search_space, fixed, base, stored_k, neighbors_key)
    start = _first_trial(first_trial, space)
    task = prepare_task(
        adata, None, layer=layer, is_log1p=is_log1p, reference=reference, require_targets=False
    )
    n_ref = int(task.reference.sum())
    n_val, need = int(round(validation_fraction * n_ref)), max(MIN_TRAINING_GENES, 2 * base.n_folds)
    if n_val < MIN_VALIDATION_GENES or n_ref - n_val < need:
        msg = (
            f"validation_fraction={validation_fraction} of {n_ref} reference genes hides "
            f"{n_val} and keeps {n_ref - n_val} per fold; need at least {MIN_VALIDATION_GENES} "
            f"hidden and {need} kept (use more reference genes or another validation_fraction)"
        )
        raise ValueError(msg)
    features = usable_features(adata, features, promoter_key, stacklevel=4)
    # the trials read no stored neighbours or correlation: those saw the held-out genes
    overrides = {"neighbors_key": None, "tissue_correlation_key": None, "model_kwargs": fixed}
    spec = HybridFitSpec.from_arguments(locals(), random_state=int(random_state), **overrides)
    device = resolve_device(accelerator)
    # the genes hidden in each fold: consecutive blocks of one permutation (disjoint, or wrapping)
    rows = np.random.default_rng(random_state).permutation(np.flatnonzero(task.reference))
    folds = [
        np.sort(rows[(f * n_val + np.arange(n_val)) % n_ref]) for f in range(n_validation_folds)
    ]
    setting = TrialSetting(adata, task, spec, folds)
    configure = partial(_trial_config, base=base, fixed=fixed)
    study = run_study(
        setting, space, configure, n_trials=n_trials, timeout=timeout, first_trial=start
    )
    table, best = results(study, key_added)
    best_params = {**fixed, **best.user_attrs["config"]}
    params = {
        "n_trials": n_trials,
        "timeout": None if timeout is None else float(timeout),
        "n_validation_folds": n_validation_folds,
        "validation_fraction": float(validation_fraction),
        "n_validation_genes": n_val,
        "n_reference_genes": n_ref,
        "random_state": random_state,
        "metric": METRIC,
        "sampler": f"TPESampler(seed={random_state})",
        "pruner": f"MedianPruner(n_startup_trials={PRUNER_STARTUP_TRIALS})",
        "search_space": {n: optuna.distributions.distribution_to_json(d) for n, d in space.items()},
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
    }
    adata.uns[key_added] = {
        "trials": table,
        "best_params": {k: _plain(v) for k, v in best_params.items()},
        "best_value": best.value,
        "best_trial": best.number,
        "params": {k: _plain(v) for k, v in params.items()},
    }
    result = {"params": best_params, "value": best.value, "trial": best.number, "study": study}
    return {**result, "trials": table.copy()}


def _check_settings(
    n_trials: int | None, timeout: float | None, folds: int, fraction: float, random_state: int
) -> None:
    """Raise ``ValueError`` on out-of-range budget, fold or seed settings."""

    def bad(value: Any, kind: type, ok: Any = lambda v: True) -> bool:
        return isinstance(value, bool) or not isinstance(value, kind) or not ok(value)

    if bad(n_trials, Integral, lambda v: v >= 1) and (n_trials is not None or timeout is None):
        msg = f"n_trials must be an integer >= 1, or None with a timeout, got {n_trials!r}"
        raise ValueError(msg)
    if bad(folds, Integral, lambda v: v >= 1):
        msg = f"n_validation_folds must be an integer >= 1, got {folds!r}"
        raise ValueError(msg)
    if timeout is not None and bad(timeout, Real, lambda v: v > 0):
        msg = f"timeout must be a positive number of seconds or None, got {timeout!r}"
        raise ValueError(msg)
    if bad(fraction, Real, lambda v: 0 < v <= 0.5):
        msg = f"validation_fraction must be in (0, 0.5], got {fraction!r}"
        raise ValueError(msg)
    if bad(random_state, Integral):
        msg = f"random_state must be an integer, got {random_state!r}"
        raise ValueError(msg)


def _plain(value: Any) -> Any:
    """Return a numpy scalar as a Python scalar, a tuple as a list (for optuna and h5ad)."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def _trial_config(
    params: Mapping[str, Any], base: HybridConfig, fixed: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the values a trial trains with: ``params``, ``k_idw`` <= ``k_neighbors``."""
    config = {name: _plain(value) for name, value in params.items()}
    if "k_idw" not in fixed and {"k_neighbors", "k_idw"} & set(config):
        k, k_idw = config.get("k_neighbors", base.k_neighbors), config.get("k_idw", base.k_idw)
        numbers = all(isinstance(v, int | float) for v in (k, k_idw))
        config["k_idw"] = min(k_idw, k) if numbers else k_idw
    return config


def _search_space(
    search_space: Mapping[str, BaseDistribution] | None,
    fixed: Mapping[str, Any],
    base: HybridConfig,
    stored_k: int | None,
    neighbors_key: str | None,
) -> dict[str, BaseDistribution]:
    """Return the space searched; raise on one that cannot be (its values: in each trial)."""
    if search_space is not None and (not isinstance(search_space, Mapping) or not search_space):
        msg = (
            "search_space must be a non-empty dict {HybridConfig field: optuna distribution} "
            f"or None (the default search space), got {search_space!r}"
        )
        raise ValueError(msg) if isinstance(search_space, Mapping) else TypeError(msg)
    space = _default_space(base, fixed, stored_k) if search_space is None else search_space
    searchable = sorted({f.name for f in fields(HybridConfig)} - set(NOT_SEARCHABLE) - set(fixed))
    for name, dist in space.items():
        if name not in searchable:
            why = "it is fixed (a keyword argument of tune); drop it from one of the two"
            why = NOT_SEARCHABLE.get(name, why if name in fixed else f"searchable: {searchable}")
            msg = f"search_space cannot search {name!r}: {why}"
            raise ValueError(msg)
        if not isinstance(dist, BaseDistribution):
            msg = (
                f"search_space[{name!r}] = {dist!r} is not an optuna distribution, such as "
                "optuna.distributions.FloatDistribution(1e-3, 1e-2, log=True)"
            )
            raise TypeError(msg)
    k = space.get("k_neighbors")
    values = (base.k_neighbors,) if k is None else getattr(k, "choices", (getattr(k, "high", 0),))
    top = max((v for v in values if isinstance(v, int | float)), default=0)
    if stored_k is not None and top > stored_k:
        what = "k_neighbors=" if k is None else "search_space['k_neighbors'] reaches "
        msg = (
            f"{what}{top}: uns[{neighbors_key!r}] holds {stored_k} neighbours per gene, which "
            "train reads; rerun geneimpute.pp.neighbor_features(adata, k=...) with more, or "
            "pass neighbors_key=None (train must then search too)"
        )
        raise ValueError(msg)
    return dict(space)


def _default_space(base: HybridConfig, fixed: Mapping[str, Any], stored_k: int | None) -> dict:
    """:data:`DEFAULT_SEARCH_SPACE` for ``base``'s components, ``fixed`` and ``stored_k``."""
    unused = {f for f, parts in _NEEDS.items() if not any(map(base.uses, parts))}
    space = {n: d for n, d in DEFAULT_SEARCH_SPACE.items() if n not in {*fixed, *unused}}
    k, top = space.get("k_neighbors"), base.k_neighbors
    if isinstance(k, IntDistribution):  # at least a fixed k_idw
        top = k.high if stored_k is None else min(k.high, stored_k)
        space["k_neighbors"] = IntDistribution(min(max(k.low, fixed.get("k_idw", 1)), top), top)
    k_idw = space.get("k_idw")
    if isinstance(k_idw, IntDistribution):
        space["k_idw"] = IntDistribution(min(k_idw.low, top), min(k_idw.high, top))
    return space


def _first_trial(first_trial: Mapping[str, Any] | None, space: Mapping[str, Any]) -> dict | None:
    """Check ``first_trial`` with optuna's ``create_trial``; values in their distribution's type."""
    if first_trial is None:
        return None
    if not isinstance(first_trial, Mapping):
        msg = f"first_trial must be a dict of searched fields, got {type(first_trial).__name__}"
        raise TypeError(msg)
    values = {name: _plain(value) for name, value in first_trial.items()}
    try:
        dists = {name: space[name] for name in values}  # KeyError: a field not searched
        optuna.trial.create_trial(params=values, distributions=dists, value=0.0)
    except (KeyError, ValueError) as err:
        msg = f"first_trial={values} does not fit the fields searched, {sorted(space)}: {err}"
        raise ValueError(msg) from None
    return {n: _plain(d.to_external_repr(d.to_internal_repr(values[n]))) for n, d in dists.items()}


@dataclass
class TrialSetting:
    """What the validation fits need besides the trial's configuration."""

    adata: AnnData
    task: ExpressionTask
    spec: HybridFitSpec  # reads no stored neighbours or correlation: they saw the held genes
    folds: list[np.ndarray]  # the reference genes held out in each fold


def score_fold(setting: TrialSetting, held: np.ndarray, config: dict[str, Any]) -> dict[str, float]:
    """Fit without the ``held`` reference genes; their Pearson metrics on log1p(TPM)."""
    task, adata = setting.task, setting.adata
    Y, train = task.Y.copy(), task.reference.copy()
    Y[held], train[held] = np.nan, False
    spec = replace(setting.spec, model_kwargs={**config, "calibrate": False})
    tissues, rule = [str(t) for t in adata.obs_names], task.reference_rule
    model, inputs, _ = fit_hybrid(adata, Y, train, tissues, spec, reference_rule=rule)
    pred = model.predict(Y, inputs, held, accelerator=spec.accelerator)
    true = task.Y[held]
    measured = np.isfinite(true)
    if measured.all():
        m = regression_metrics(pred, true)
    else:
        m = masked_metrics(pred, np.where(measured, true, 0.0), measured)
    return {k: m[k] for k in METRICS}


def run_study(
    setting: TrialSetting,
    space: Mapping[str, BaseDistribution],
    trial_config: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    n_trials: int | None,
    timeout: float | None,
    first_trial: dict[str, Any] | None = None,
) -> optuna.Study:
    """Ask, score and tell trials until ``n_trials`` or ``timeout`` (optuna quiet, RNG kept)."""
    import torch

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(verbosity, optuna.logging.WARNING))
    t0 = time.perf_counter()
    try:
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=setting.spec.random_state),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS),
        )
        if first_trial:
            study.enqueue_trial(first_trial)
        on_cuda = resolve_device(setting.spec.accelerator) == "cuda"
        cuda = [torch.cuda.current_device()] if on_cuda else []
        with torch.random.fork_rng(devices=cuda):
            while (n_trials is None or len(study.trials) < n_trials) and (
                timeout is None or time.perf_counter() - t0 < timeout
            ):
                trial = study.ask(dict(space))
                trial.set_user_attr("config", trial_config(trial.params))  # values trained with
                done = _run_trial(study, trial, setting)
                state = f"{done.state.name}, value {done.value}, params {done.user_attrs['config']}"
                logger.info("tune: trial %d %s", done.number, state)
    finally:
        optuna.logging.set_verbosity(verbosity)
    logger.info("tune: %d trials in %.1f s", len(study.trials), time.perf_counter() - t0)
    return study


def _run_trial(study: optuna.Study, trial: optuna.Trial, setting: TrialSetting) -> FrozenTrial:
    """Score fold by fold (the pruner sees the running mean); tell ``study`` how it ended."""
    config = {**setting.spec.model_kwargs, **trial.user_attrs["config"]}  # with the fixed ones
    scored: list[dict[str, float]] = []
    try:
        HybridConfig.from_dict({}, **config)  # a value HybridConfig rejects fails before training
        for f, held in enumerate(setting.folds):
            m = score_fold(setting, held, config)
            if not all(math.isfinite(m[k]) for k in METRICS):
                msg = f"the validation score of fold {f} is not finite ({m})"
                raise ValueError(msg)
            scored.append(m)
            means = {k: float(np.mean([s[k] for s in scored])) for k in METRICS}
            for k, v in {**means, "n_folds_scored": f + 1}.items():
                trial.set_user_attr(k, v)
            trial.report(sum(means.values()) / 2, f)
            if f < len(setting.folds) - 1 and trial.should_prune():
                return study.tell(trial, state=TrialState.PRUNED)
    except Exception as err:  # recorded; tune raises if no trial completes
        reason = f"{type(err).__name__}: {err}"
        trial.set_user_attr("fail_reason", reason)
        logger.warning("tune: trial %d failed: %s", trial.number, reason)
        return study.tell(trial, state=TrialState.FAIL)
    return study.tell(trial, sum(means.values()) / 2)


def results(study: optuna.Study, key_added: str) -> tuple[pd.DataFrame, FrozenTrial]:
    """Return the trial table and the best trial; raise if none completed, warn if some failed."""
    rows = [
        {
            "number": t.number,
            "state": t.state.name,
            "value": t.value if t.state == TrialState.COMPLETE else np.nan,  # not if pruned
            **{k: t.user_attrs.get(k, np.nan) for k in METRICS},
            "n_folds_scored": t.user_attrs.get("n_folds_scored", 0),
            "duration_s": t.duration.total_seconds() if t.duration is not None else np.nan,
            **{f"params_{k}": v for k, v in t.user_attrs["config"].items()},
            "fail_reason": t.user_attrs.get("fail_reason", ""),
        }
        for t in study.trials
    ]
    table = pd.DataFrame(rows)
    for col in table.columns.drop(["state", "fail_reason"]):  # h5ad writes objects as strings
        if table[col].dtype == object and not all(isinstance(v, str) for v in table[col]):
            table[col] = table[col].astype(str)
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    first = "none"
    if failed:
        t, attrs = failed[0], failed[0].user_attrs
        first = f"trial {t.number} with {attrs['config']}: {attrs['fail_reason']}"
    if not (table["state"] == "COMPLETE").any():
        msg = (
            f"no trial of geneimpute.tl.tune completed ({len(failed)} failed, "
            f"{(table['state'] == 'PRUNED').sum()} pruned); first failure: {first}"
        )
        raise RuntimeError(msg)
    if failed:
        where = f"uns[{key_added!r}]['trials']"
        msg = f"{len(failed)} of {len(table)} tune trials failed ({first}); see {where}"
        warn_data(msg, stacklevel=4)
    best = study.best_trial
    logger.info("tune: best trial %d of %d, score %.4f", best.number, len(table), best.value)
    return table, best

"""Hyperparameter search of the hybrid on held-out reference genes: the call, the space."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from numbers import Integral, Real
from typing import Any

import numpy as np
import optuna
from anndata import AnnData
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_to_json,
)

from .._adata import prepare_task, stored_neighbors
from .._docs import doc_params
from .._settings import Accelerator, resolve_device
from ..models import FEATURES, HybridConfig
from ..models.hybrid._config import components_for
from ._model import units_of
from ._train import DEFAULT_NEIGHBORS_KEY, DEFAULT_PROMOTER_KEY, HybridFitSpec, usable_features
from ._tune_score import PRUNER_STARTUP_TRIALS, TrialSetting, results, run_study

#: Search space used when ``search_space=None`` (see :func:`~geneimpute.tl.tune`).
DEFAULT_SEARCH_SPACE: dict[str, BaseDistribution] = {
    "learning_rate": FloatDistribution(3e-4, 1e-2, log=True),
    "weight_decay": FloatDistribution(1e-6, 1e-2, log=True),
    "max_epochs": IntDistribution(2, 8),
    "embedding_dim": CategoricalDistribution([16, 32, 64]),
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
METRIC = "mean over folds of (pearson_tissue + pearson_gene_centered) / 2 of held-out genes"


@doc_params("layer", "is_log1p", "accelerator")
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
    key_added: str = "tune",
    random_state: int = 0,
    accelerator: Accelerator | None = None,
    **fixed: Any,
) -> dict[str, Any]:
    """Search the hybrid imputer's hyperparameters on held-out reference genes.

    The :class:`~geneimpute.models.HybridConfig` fields of ``search_space`` are searched with
    optuna (Akiba et al., KDD 2019, doi:10.1145/3292500.3330701), as Xpresso's were with a
    Tree-structured Parzen Estimator (Agarwal & Shendure 2020): each trial is
    ``Study.ask(search_space)`` with ``TPESampler(seed=random_state)``, and a ``MedianPruner``
    (after 3 complete trials) stops a trial below the median after a fold. In each fold a
    seeded ``validation_fraction`` of the reference genes is hidden, a hybrid with the trial's
    values (and ``calibrate=False``: same point predictions) is trained on the others as
    :func:`train` would, with neighbours and tissue correlation computed from them, and
    predicts them. The score is the mean over folds of (per-tissue Pearson r + per-gene
    tissue-centred Pearson r) / 2 on log1p(TPM). Every trial uses the same folds and seed;
    optuna logs at WARNING meanwhile; numpy and torch random states are kept.

    Parameters
    ----------
    adata
        Tissues x genes, TPM, with gene coordinates, as for :func:`train`.
    reference
        Mask or ``var`` column of reference genes, as for :func:`train`: the only genes used.
    n_trials
        Configurations tried (>= 1); None: as many as ``timeout`` allows.
    timeout
        Start no trial after this many seconds (the running one finishes); None: no limit.
    search_space
        ``{field: distribution}``, each an optuna ``FloatDistribution``, ``IntDistribution``
        or ``CategoricalDistribution``, e.g. ``{"learning_rate": FloatDistribution(1e-3,
        1e-2, log=True)}``; a trial with values HybridConfig rejects fails before training.
        ``random_state``, ``calibrate`` and ``components`` cannot be searched; a ``k_idw``
        (not fixed) above the trial's ``k_neighbors`` is lowered to it. None: log-uniform
        ``learning_rate`` [3e-4, 1e-2], ``weight_decay`` [1e-6, 1e-2], ``pattern_weight``
        [1, 5], ``xgb_n_estimators`` 100..600, ``xgb_learning_rate`` [0.01, 0.2] and
        ``xgb_min_child_weight`` [30, 1000]; ``max_epochs`` 2..8, ``embedding_dim``
        {16, 32, 64}, ``xgb_max_depth`` 3..8, ``k_neighbors`` 8..32 (at most the stored
        neighbours), ``k_idw`` 3..20 (at most ``k_neighbors``); less the fixed fields and
        those of unused components.
    first_trial
        Values of searched fields for the first trial (``Study.enqueue_trial``), e.g. the
        defaults; checked against their distributions. None: every trial is sampled.
    n_validation_folds
        Folds per trial (>= 1); the pruner sees the running mean after each.
    validation_fraction
        Reference genes hidden per fold, in (0, 0.5]; at least 10 hidden and 20 kept.
    {layer}
    {is_log1p}
    features, promoter_key
        Input groups and promoter column, as for :func:`train`.
    neighbors_key
        ``uns`` key of :func:`~geneimpute.pp.neighbor_features` output that :func:`train`
        will read: ``k_neighbors`` may not exceed its neighbours per gene. None: no limit.
    key_added
        ``uns`` key of the trial record.
    random_state
        Seed of the folds, the sampler and each trial's training.
    {accelerator}
    **fixed
        HybridConfig values of every trial, e.g. ``max_epochs=2``, ``components=[...]``.

    Returns
    -------
    ``{"params": best values and fixed, "value", "trial", "trials", "study"}`` (train with
    ``ge.tl.train(adata, **best["params"])``). Writes only ``adata.uns[key_added]``:
    ``"trials"`` (a row per trial: ``number``, ``state``, ``value`` (NaN unless complete),
    ``pearson_tissue``, ``pearson_gene_centered``, ``n_folds_scored``, ``duration_s``,
    ``params_<field>`` (the values trained with), ``fail_reason``), ``"best_params"``,
    ``"best_value"``, ``"best_trial"`` and ``"params"``: the arguments, ``search_space`` as
    optuna's ``distribution_to_json``, ``n_validation_genes``, ``n_reference_genes``,
    ``metric``, ``sampler``, ``pruner``, ``units``, ``reference``, ``k_neighbors_limit``,
    ``device``, ``optuna_version``.

    Raises
    ------
    KeyError, ValueError
        As :func:`train` for the data; on bad budget, fold or seed settings, too few
        reference genes, a ``search_space`` that is empty, names a field that cannot be
        searched or lets ``k_neighbors`` exceed the stored neighbours, or a ``first_trial``
        outside it: all before any training, ``adata`` unchanged.
    TypeError
        On unknown ``fixed`` names, or a ``search_space`` or ``first_trial`` that is not a
        dict (of optuna distributions).
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
    spec = HybridFitSpec(
        features=features,
        promoter_key=promoter_key,
        neighbors_key=None,
        tissue_correlation_key=None,
        is_log1p=is_log1p,
        layer=layer,
        random_state=int(random_state),
        accelerator=accelerator,
        model_kwargs=fixed,
    )
    device = resolve_device(accelerator)
    # the genes hidden in each fold: consecutive blocks of one permutation (disjoint, or wrapping)
    rows = np.random.default_rng(random_state).permutation(np.flatnonzero(task.reference))
    folds = [
        np.sort(rows[(f * n_val + np.arange(n_val)) % n_ref]) for f in range(n_validation_folds)
    ]
    study = run_study(
        TrialSetting(adata, task, spec, folds),
        space,
        lambda params: _trial_config(params, base, fixed),
        n_trials=n_trials,
        timeout=timeout,
        device=device,
        first_trial=start,
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
        "search_space": {n: distribution_to_json(d) for n, d in space.items()},
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
    n_trials: int | None,
    timeout: float | None,
    n_validation_folds: int,
    validation_fraction: float,
    random_state: int,
) -> None:
    """Raise ``ValueError`` on out-of-range budget, fold or seed settings."""

    def bad(value: Any, kind: type, ok: Any = lambda v: True) -> bool:
        return isinstance(value, bool) or not isinstance(value, kind) or not ok(value)

    if bad(n_trials, Integral, lambda v: v >= 1) and (n_trials is not None or timeout is None):
        msg = f"n_trials must be an integer >= 1, or None with a timeout, got {n_trials!r}"
        raise ValueError(msg)
    if bad(n_validation_folds, Integral, lambda v: v >= 1):
        msg = f"n_validation_folds must be an integer >= 1, got {n_validation_folds!r}"
        raise ValueError(msg)
    if timeout is not None and bad(timeout, Real, lambda v: v > 0):
        msg = f"timeout must be a positive number of seconds or None, got {timeout!r}"
        raise ValueError(msg)
    if bad(validation_fraction, Real, lambda v: 0 < v <= 0.5):
        msg = f"validation_fraction must be in (0, 0.5], got {validation_fraction!r}"
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

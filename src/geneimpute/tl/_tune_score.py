"""Trials of :func:`geneimpute.tl.tune`: validation folds, scoring, the optuna study."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import optuna
import pandas as pd
from anndata import AnnData
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from .._adata import ExpressionTask
from .._core.metrics import masked_metrics, regression_metrics
from .._logging import logger, warn_data
from ..models import HybridConfig
from ._train import HybridFitSpec, fit_hybrid

#: MedianPruner: trials completed before pruning starts.
PRUNER_STARTUP_TRIALS = 3
METRICS = ("pearson_tissue", "pearson_gene_centered")


@dataclass
class TrialSetting:
    """What the validation fits need besides the trial's configuration."""

    adata: AnnData
    task: ExpressionTask
    spec: HybridFitSpec  # reads no stored neighbours or correlation: they saw the held genes
    folds: list[np.ndarray]  # the reference genes held out in each fold


def score_fold(setting: TrialSetting, held: np.ndarray, config: dict[str, Any]) -> dict[str, float]:
    """Fit without the ``held`` reference genes; their Pearson metrics on log1p(TPM)."""
    task = setting.task
    Y = task.Y.copy()
    Y[held] = np.nan
    train = task.reference.copy()
    train[held] = False
    spec = replace(setting.spec, model_kwargs={**config, "calibrate": False})
    tissues = [str(t) for t in setting.adata.obs_names]
    model, inputs, _ = fit_hybrid(
        setting.adata, Y, train, tissues, spec, reference_rule=task.reference_rule
    )
    pred = model.predict(Y, inputs, held, accelerator=spec.accelerator)
    true = task.Y[held]
    measured = np.isfinite(true)
    m = (
        regression_metrics(pred, true)
        if measured.all()
        else masked_metrics(pred, np.where(measured, true, 0.0), measured)
    )
    return {k: m[k] for k in METRICS}


def run_study(
    setting: TrialSetting,
    space: Mapping[str, BaseDistribution],
    trial_config: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    n_trials: int | None,
    timeout: float | None,
    device: str,
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
        cuda = [torch.cuda.current_device()] if device == "cuda" else []
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
    table = pd.DataFrame(
        [
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
    )
    for col in table.columns.drop(["state", "fail_reason"]):  # h5ad writes objects as strings
        if table[col].dtype == object and not all(isinstance(v, str) for v in table[col]):
            table[col] = table[col].astype(str)
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    first = "none"
    if failed:
        t = failed[0]
        first = f"trial {t.number} with {t.user_attrs['config']}: {t.user_attrs['fail_reason']}"
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

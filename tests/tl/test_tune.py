"""ge.tl.tune: optuna search of HybridConfig on held-out reference genes."""

from __future__ import annotations

import math
import warnings
from dataclasses import fields

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    json_to_distribution,
)

import geneimpute as ge
from geneimpute.models import HybridConfig
from geneimpute.tl import _tune

from ..conftest import assert_unchanged

#: tiny model settings: a trial fold trains in about a second on one CPU thread
TINY = {"max_epochs": 1, "n_folds": 2, "xgb_n_estimators": 10, "embedding_dim": 8}
SPACE = {
    "learning_rate": FloatDistribution(1e-3, 1e-2, log=True),
    "k_neighbors": IntDistribution(4, 8),
    "k_idw": IntDistribution(2, 6),
    "xgb_max_depth": CategoricalDistribution([2, 3]),
}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def sub():
    """Real GTEx v8 genes on chr21/22 (618 genes x 37 tissues), 40 of them not reference."""
    gtex = ge.datasets.gtex_tissues()
    a = gtex[:, gtex.var["chrom"].isin(["chr21", "chr22"]).to_numpy()].copy()
    rng = np.random.default_rng(1)
    ref = np.ones(a.n_vars, bool)
    ref[rng.choice(a.n_vars, 40, replace=False)] = False
    a.var["ref"] = ref
    ge.pp.neighbor_features(a, reference="ref", k=8)
    return a


@pytest.fixture(scope="module")
def tuned(sub):
    """One real search (3 trials x 2 folds), with every fit and fold recorded."""
    adata, before = sub.copy(), sub.copy()
    fits, held = [], []
    real_fit, real_score = _tune.fit_hybrid, _tune.score_fold

    def spy_fit(adata, Y, reference, tissues, spec, **kw):
        fits.append({"Y": Y.copy(), "reference": reference.copy(), "spec": spec, **kw})
        return real_fit(adata, Y, reference, tissues, spec, **kw)

    def spy_score(setting, rows, config):
        held.append(rows.copy())
        return real_score(setting, rows, config)

    np_state = np.random.get_state()[1].copy()  # noqa: NPY002 (the global state is the point)
    torch_state = torch.get_rng_state().clone()
    mp = pytest.MonkeyPatch()
    mp.setattr(_tune, "fit_hybrid", spy_fit)
    mp.setattr(_tune, "score_fold", spy_score)
    try:
        best = ge.tl.tune(adata, "ref", n_trials=3, search_space=SPACE, accelerator="cpu", **TINY)
    finally:
        mp.undo()
    rng_kept = np.array_equal(np_state, np.random.get_state()[1]) and torch.equal(  # noqa: NPY002
        torch_state, torch.get_rng_state()
    )
    return {"adata": adata, "before": before, "best": best, "fits": fits, "held": held,
            "rng_kept": rng_kept}  # fmt: skip


def _within(value, dist):
    if isinstance(dist, CategoricalDistribution):
        return value in dist.choices
    kind = int if isinstance(dist, IntDistribution) else float
    return dist.low <= value <= dist.high and isinstance(value, kind)


def test_best_params_are_in_the_space_and_the_argmax(tuned):
    best, rec = tuned["best"], tuned["adata"].uns["tune"]
    trials = rec["trials"]
    assert len(trials) == 3 and list(trials["number"]) == [0, 1, 2]
    assert set(trials["state"]) <= {"COMPLETE", "PRUNED", "FAIL"}
    assert (trials["state"] == "COMPLETE").all()  # the pruner waits for 3 complete trials
    for name, spec in SPACE.items():
        assert _within(best["params"][name], spec), (name, best["params"][name])
        assert trials[f"params_{name}"].notna().all()
    assert (trials["params_k_idw"] <= trials["params_k_neighbors"]).all()
    done = trials[trials["state"] == "COMPLETE"]
    top = done.loc[done["value"].idxmax()]
    assert best["value"] == top["value"] == rec["best_value"]
    assert best["trial"] == top["number"] == rec["best_trial"]
    for name in SPACE:
        assert best["params"][name] == top[f"params_{name}"]
    assert {k: best["params"][k] for k in TINY} == TINY  # fixed overrides are kept
    assert best["params"] == rec["best_params"]
    expected = (done["pearson_tissue"] + done["pearson_gene_centered"]) / 2
    np.testing.assert_allclose(done["value"], expected)  # two folds: mean of means
    assert (done["n_folds_scored"] == 2).all() and (done["fail_reason"] == "").all()
    assert 0 < best["value"] < 1
    p = rec["params"]
    assert p["n_trials"] == 3 and p["n_validation_folds"] == 2
    assert p["n_reference_genes"] == 578 and p["n_validation_genes"] == 58
    # the space is recorded as optuna's JSON of each distribution, and reads back equal
    assert {n: json_to_distribution(d) for n, d in p["search_space"].items()} == SPACE
    assert p["fixed"] == TINY and p["reference"] == "user_mask"
    assert p["k_neighbors_limit"] == 8 and p["promoter_key"] == "promoter_seq"
    study = best["study"]
    assert study.best_trial.number == best["trial"]
    # each trial is study.ask(SPACE): optuna sampled every field from the distribution given
    assert all(t.distributions == SPACE for t in study.trials)
    for t, (_, row) in zip(study.trials, trials.iterrows(), strict=True):
        assert row["params_k_idw"] == min(t.params["k_idw"], t.params["k_neighbors"])


def test_only_reference_genes_are_held_out_or_trained_on(tuned):
    ref = tuned["before"].var["ref"].to_numpy()
    fits, held = tuned["fits"], tuned["held"]
    assert len(fits) == len(held) == 6  # 3 trials x 2 folds
    folds = {tuple(h) for h in held}
    assert len(folds) == 2  # every trial uses the same two folds
    f0, f1 = (np.array(f) for f in sorted(folds))
    assert len(f0) == len(f1) == 58 and not set(f0) & set(f1)  # disjoint
    for fit, rows in zip(fits, held, strict=True):
        assert ref[rows].all()  # validation genes are reference genes
        train = fit["reference"]
        assert not train[rows].any() and not (train & ~ref).any()
        assert train.sum() == ref.sum() - len(rows)
        # hidden and non-reference genes are NaN: the model never sees them
        assert np.isnan(fit["Y"][~train]).all() and np.isfinite(fit["Y"][train]).all()
        # stored neighbours / correlation (built with the held genes) are not read
        spec = fit["spec"]
        assert spec.neighbors_key is None and spec.tissue_correlation_key is None
        assert spec.model_kwargs["calibrate"] is False
        assert spec.model_kwargs["max_epochs"] == 1


def test_adata_only_gains_the_record_and_rng_is_kept(tuned):
    adata, before = tuned["adata"], tuned["before"]
    assert set(adata.uns) - set(before.uns) == {"tune"}
    del_adata = adata.copy()
    del del_adata.uns["tune"]
    assert_unchanged(del_adata, before)
    assert tuned["rng_kept"]


def test_h5ad_round_trip_and_train_with_the_result(tuned, tmp_path):
    adata = tuned["adata"]
    adata.write_h5ad(tmp_path / "t.h5ad")
    back = ad.read_h5ad(tmp_path / "t.h5ad").uns["tune"]
    rec = adata.uns["tune"]
    pd.testing.assert_frame_equal(
        back["trials"].reset_index(drop=True), rec["trials"].reset_index(drop=True)
    )
    assert back["best_params"] == rec["best_params"]
    assert back["best_value"] == rec["best_value"]
    assert back["params"]["search_space"] == rec["params"]["search_space"]
    HybridConfig(**back["best_params"])  # ints come back as ints
    model = ge.tl.train(adata, "ref", accelerator="cpu", **tuned["best"]["params"])
    assert model.config.k_neighbors == tuned["best"]["params"]["k_neighbors"]
    assert model.config.learning_rate == tuned["best"]["params"]["learning_rate"]


def test_same_seed_same_trials_real_training(sub):
    kw = {"n_trials": 2, "n_validation_folds": 1, "search_space": SPACE, "accelerator": "cpu"}
    runs = [ge.tl.tune(sub.copy(), "ref", random_state=3, **kw, **TINY) for _ in range(2)]
    a, b = (r["trials"].drop(columns="duration_s") for r in runs)
    pd.testing.assert_frame_equal(a, b)
    assert runs[0]["params"] == runs[1]["params"]


# ------------------------------------------------ optuna plumbing, with a fake scorer (fast)
def fake_scorer(calls):
    """Score = a smooth function of the config; records (held rows, config)."""

    def score(setting, held, config):
        calls.append((held.copy(), dict(config)))
        lr = config.get("learning_rate", 2e-3)
        r = 0.5 - (math.log10(lr) + 2.5) ** 2 / 10
        return {"pearson_tissue": r, "pearson_gene_centered": r - 0.1}

    return score


def test_seeded_folds_and_sampling(sub, monkeypatch):
    runs = []
    for seed in (0, 0, 1):
        calls = []
        monkeypatch.setattr(_tune, "score_fold", fake_scorer(calls))
        out = ge.tl.tune(sub.copy(), "ref", n_trials=5, search_space=SPACE, random_state=seed)
        runs.append((calls, out["trials"].drop(columns="duration_s")))
    (c0, t0), (c1, t1), (c2, t2) = runs
    pd.testing.assert_frame_equal(t0, t1)
    assert all(np.array_equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(c0, c1, strict=True))
    assert not np.array_equal(c0[0][0], c2[0][0])  # another seed: other folds
    assert not t0["params_learning_rate"].equals(t2["params_learning_rate"])


def test_first_trial_is_the_given_settings(sub, monkeypatch):
    calls = []
    monkeypatch.setattr(_tune, "score_fold", fake_scorer(calls))
    adata = sub.copy()
    first = {"learning_rate": 1e-3, "k_neighbors": 5}
    out = ge.tl.tune(adata, "ref", n_trials=3, n_validation_folds=1, search_space=SPACE,
                     first_trial={**first, "k_neighbors": np.int64(5)})  # fmt: skip
    assert {k: calls[0][1][k] for k in first} == first  # trial 0 trains with them
    assert type(calls[0][1]["k_neighbors"]) is int  # in the distribution's own type
    assert out["study"].trials[0].params["learning_rate"] == 1e-3  # enqueued in optuna
    assert calls[1][1]["learning_rate"] != 1e-3  # later trials are sampled
    row = adata.uns["tune"]["trials"].iloc[0]
    assert row["params_learning_rate"] == 1e-3 and row["params_k_neighbors"] == 5
    assert adata.uns["tune"]["params"]["first_trial"] == first
    fits = r"does not fit the fields searched, \['k_idw', 'k_neighbors', 'learning_rate', .*\]: "
    for bad, err, match in (
        ({"max_epochs": 2}, ValueError, r"first_trial=\{'max_epochs': 2\} " + fits + "'max_"),
        ({"learning_rate": 1.0}, ValueError,
         r"first_trial=\{'learning_rate': 1.0\} " + fits + "The value 1.0 of parameter "
         r"'learning_rate' isn't contained in the distribution FloatDistribution"),
        ({"k_neighbors": 4.5}, ValueError, r"The value 4.5 of parameter 'k_neighbors' isn't"),
        ({"k_neighbors": 9}, ValueError, r"The value 9 of parameter 'k_neighbors' isn't"),
        ({"xgb_max_depth": 4}, ValueError, r"\{'xgb_max_depth': 4\} .*not in \(2, 3\)"),
        ({"learning_rate": "fast"}, ValueError,
         r"first_trial=\{'learning_rate': 'fast'\} does not fit .*'fast' is not a valid type"),
        ([("learning_rate", 1e-3)], TypeError, "first_trial must be a dict"),
    ):  # fmt: skip
        with pytest.raises(err, match=match):
            ge.tl.tune(sub.copy(), "ref", n_trials=1, search_space=SPACE, first_trial=bad)


def test_pruning_and_failures_are_recorded(sub, monkeypatch, tmp_path):
    calls = []
    score = fake_scorer(calls)

    def flaky(setting, held, config):
        if config["k_neighbors"] == 4:
            msg = "boom"
            raise ValueError(msg)
        return score(setting, held, config)

    monkeypatch.setattr(_tune, "score_fold", flaky)
    adata = sub.copy()
    with pytest.warns(UserWarning, match=r"trials failed \(trial \d+ with \{.*'k_neighbors': 4"
                      r".*\}: ValueError: boom\)"):  # fmt: skip
        best = ge.tl.tune(adata, "ref", n_trials=16, n_validation_folds=3, search_space=SPACE)
    trials = adata.uns["tune"]["trials"]
    assert len(trials) == 16
    states = trials["state"].value_counts()
    assert states.get("PRUNED", 0) >= 1 and states.get("FAIL", 0) >= 1
    pruned = trials[trials["state"] == "PRUNED"]
    assert (pruned["n_folds_scored"] < 3).all() and pruned["value"].isna().all()
    failed = trials[trials["state"] == "FAIL"]
    assert (failed["fail_reason"] == "ValueError: boom").all()
    assert (failed["params_k_neighbors"] == 4).all()
    done = trials[trials["state"] == "COMPLETE"]
    assert best["value"] == done["value"].max() and best["params"]["k_neighbors"] != 4
    adata.write_h5ad(tmp_path / "pruned.h5ad")  # NaN values and failure texts are writable
    back = ad.read_h5ad(tmp_path / "pruned.h5ad").uns["tune"]["trials"]
    assert list(back["state"]) == list(trials["state"])


def test_every_trial_failing_raises_and_leaves_adata(sub, monkeypatch):
    def broken(setting, held, config):
        msg = "the model exploded"
        raise ValueError(msg)

    monkeypatch.setattr(_tune, "score_fold", broken)
    adata = sub.copy()
    with pytest.raises(RuntimeError, match="no trial .* completed .*the model exploded"):
        ge.tl.tune(adata, "ref", n_trials=2, search_space=SPACE)
    assert "tune" not in adata.uns
    assert_unchanged(adata, sub)


def test_k_idw_stays_below_k_neighbors(sub, monkeypatch):
    calls = []
    monkeypatch.setattr(_tune, "score_fold", fake_scorer(calls))
    space = {"k_neighbors": IntDistribution(2, 6), "k_idw": IntDistribution(1, 10)}
    out = ge.tl.tune(sub.copy(), "ref", n_trials=8, n_validation_folds=1, search_space=space)
    assert all(1 <= c["k_idw"] <= c["k_neighbors"] <= 6 for _, c in calls)
    # a sampled k_idw above the trial's k_neighbors is lowered: the table holds what trained
    sampled = [t.params["k_idw"] for t in out["study"].trials]
    assert list(out["trials"]["params_k_idw"]) == [c["k_idw"] for _, c in calls]
    assert any(s > c["k_neighbors"] for s, (_, c) in zip(sampled, calls, strict=True))
    calls.clear()  # only k_neighbors searched: the default k_idw (7) is lowered with it
    only_k = {"k_neighbors": space["k_neighbors"]}
    best = ge.tl.tune(sub.copy(), "ref", n_trials=3, n_validation_folds=1, search_space=only_k)
    assert all(c["k_idw"] == c["k_neighbors"] for _, c in calls)
    HybridConfig(**best["params"])
    calls.clear()  # a fixed k_idw is never changed
    fixed = ge.tl.tune(sub.copy(), "ref", n_trials=2, n_validation_folds=1, k_idw=2,
                       search_space={"k_neighbors": IntDistribution(2, 6)})  # fmt: skip
    assert all(c["k_idw"] == 2 for _, c in calls) and fixed["params"]["k_idw"] == 2
    assert "params_k_idw" not in fixed["trials"]


def test_default_space(sub, monkeypatch):
    # optuna distributions over today's HybridConfig fields, none that cannot be searched
    default = _tune.DEFAULT_SEARCH_SPACE
    searchable = {f.name for f in fields(HybridConfig)} - set(_tune.NOT_SEARCHABLE)
    assert set(default) <= searchable
    assert all(
        isinstance(d, FloatDistribution | IntDistribution | CategoricalDistribution)
        for d in default.values()
    )
    calls = []
    monkeypatch.setattr(_tune, "score_fold", fake_scorer(calls))
    adata = sub.copy()  # stores 8 neighbours per gene under "genomic_neighbors"
    best = ge.tl.tune(adata, "ref", n_trials=4, n_validation_folds=1, max_epochs=1)
    space = adata.uns["tune"]["params"]["search_space"]
    assert set(space) == set(default) - {"max_epochs"}
    # k_neighbors and k_idw's upper bound are capped at the stored neighbours
    assert json_to_distribution(space["k_neighbors"]) == IntDistribution(8, 8)
    assert json_to_distribution(space["k_idw"]) == IntDistribution(3, 8)
    assert json_to_distribution(space["learning_rate"]) == default["learning_rate"]
    for _, config in calls:
        for name, dist in default.items():
            if name not in ("k_neighbors", "k_idw", "max_epochs"):  # capped or fixed
                assert _within(config[name], dist), (name, config[name])
        assert config["k_idw"] <= config["k_neighbors"] == 8 and config["max_epochs"] == 1
    HybridConfig(**best["params"])
    calls.clear()  # a fixed k_neighbors: k_idw's range stops at it
    adata = sub.copy()
    ge.tl.tune(adata, "ref", n_trials=1, n_validation_folds=1, k_neighbors=12, neighbors_key=None)
    space = adata.uns["tune"]["params"]["search_space"]
    assert "k_neighbors" not in space
    assert json_to_distribution(space["k_idw"]) == IntDistribution(3, 12)
    calls.clear()  # no neighbour inputs: no neighbour fields searched
    ge.tl.tune(
        sub.copy(),
        "ref",
        n_trials=2,
        n_validation_folds=1,
        features=["promoter"],
        neighbors_key=None,
    )
    assert not {"k_neighbors", "k_idw"} & set(calls[0][1])
    assert "learning_rate" in calls[0][1]
    calls.clear()  # no network and no neighbours: only the XGBoost fields
    adata = sub.copy()
    ge.tl.tune(adata, "ref", n_trials=2, n_validation_folds=1, features=["structure"],
               neighbors_key=None)  # fmt: skip
    assert set(adata.uns["tune"]["params"]["search_space"]) == {
        n for n in default if n.startswith("xgb_")
    }
    calls.clear()  # components without the neighbour profile: k_neighbors, but no k_idw
    comps = ["cnn", "transformer", "tissue_correlation", "distance"]
    adata = sub.copy()
    ge.tl.tune(adata, "ref", n_trials=1, n_validation_folds=1, components=comps)
    searched = adata.uns["tune"]["params"]["search_space"]
    assert "k_neighbors" in searched and "k_idw" not in searched
    assert list(adata.uns["tune"]["params"]["fixed"]["components"]) == comps


def test_optuna_verbosity_restored(sub, monkeypatch):
    import optuna

    monkeypatch.setattr(_tune, "score_fold", fake_scorer([]))
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        ge.tl.tune(sub.copy(), "ref", n_trials=1, n_validation_folds=1, search_space=SPACE)
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
    finally:
        optuna.logging.set_verbosity(before)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"search_space": {"learing_rate": FloatDistribution(1e-3, 1e-2)}}, ValueError,
         r"cannot search 'learing_rate': searchable: \[.*'learning_rate'"),
        ({"search_space": {"use_cnn": CategoricalDistribution([True, False])}}, ValueError,
         r"cannot search 'use_cnn': searchable: \["),  # a removed switch
        ({"search_space": {"random_state": IntDistribution(0, 3)}}, ValueError, "cannot search"),
        ({"search_space": {"calibrate": CategoricalDistribution([True, False])}}, ValueError,
         "cannot search 'calibrate'"),
        ({"search_space": {"components": CategoricalDistribution(["cnn", "transformer"])}},
         ValueError, "cannot search 'components'"),
        ({"max_epochs": 0}, ValueError, "max_epochs must be an integer >= 1"),
        ({"search_space": None, "k_neighbors": 20}, ValueError,
         r"k_neighbors=20: uns\['genomic_neighbors'\] holds 8"),
        ({"search_space": {"max_epochs": IntDistribution(1, 3)}, "max_epochs": 2}, ValueError,
         r"cannot search 'max_epochs': it is fixed \(a keyword argument of tune\); drop it"),
        # the old tuple language, and other values that are not optuna distributions
        ({"search_space": {"max_epochs": ("int", 1, 3)}}, TypeError,
         r"search_space\['max_epochs'\] = \('int', 1, 3\) is not an optuna distribution"),
        ({"search_space": {"max_epochs": 3}}, TypeError, "3 is not an optuna distribution"),
        ({"random_state": 1.5}, ValueError, "random_state must be an integer, got 1.5"),
        ({"search_space": {"k_neighbors": IntDistribution(4, 30)}}, ValueError,
         r"reaches 30: uns\['genomic_neighbors'\] holds 8 neighbours"),
        ({"search_space": {"k_neighbors": CategoricalDistribution([4, 16])}}, ValueError,
         r"search_space\['k_neighbors'\] reaches 16"),
        ({"search_space": ["learning_rate"]}, TypeError, "search_space must be a non-empty dict"),
        ({"search_space": {}}, ValueError, r"search_space must be a non-empty dict .*got \{\}"),
        ({"max_epoch": 2}, TypeError, r"unknown HybridConfig option\(s\) \['max_epoch'\]"),
        ({"n_trials": 0}, ValueError, "n_trials must be an integer >= 1"),
        ({"n_trials": 2.5}, ValueError, "n_trials must be an integer >= 1"),
        ({"n_trials": None}, ValueError, "or None with a timeout, got None"),
        ({"timeout": -1}, ValueError, "timeout must be a positive"),
        ({"validation_fraction": 0.0}, ValueError, r"validation_fraction must be in \(0, 0.5\]"),
        ({"validation_fraction": 0.6}, ValueError, r"validation_fraction must be in \(0, 0.5\]"),
        ({"n_validation_folds": 0}, ValueError, "n_validation_folds must be an integer >= 1"),
        ({"features": ["motifs"]}, ValueError, "features must be a non-empty subset"),
    ],
)  # fmt: skip
def test_bad_input_raises_before_training(sub, monkeypatch, kwargs, err, match):
    def never(*args, **kw):
        msg = "no training should happen"
        raise AssertionError(msg)

    monkeypatch.setattr(_tune, "score_fold", never)
    adata = sub.copy()
    with pytest.raises(err, match=match):
        ge.tl.tune(adata, "ref", **{"search_space": SPACE, "n_trials": 2, **kwargs})
    assert "tune" not in adata.uns
    assert_unchanged(adata, sub)


@pytest.mark.parametrize(
    ("space", "fixed", "match"),
    [
        ({"k_idw": FloatDistribution(1.0, 3.0)}, {}, r"HybridConfig.k_idw must be an integer"),
        ({"learning_rate": CategoricalDistribution([0.0])}, {},
         r"HybridConfig.learning_rate must be > 0, got 0.0"),
        ({"learning_rate": CategoricalDistribution(["fast"])}, {},
         r"trial 0 with \{'learning_rate': 'fast'\}: TypeError"),
        ({"k_neighbors": IntDistribution(0, 0)}, {}, r"HybridConfig.k_neighbors must be an int"),
        ({"k_neighbors": IntDistribution(2, 3)}, {"k_idw": 4},
         r"HybridConfig.k_idw \(4\) must not exceed k_neighbors \([23]\)"),
    ],
)  # fmt: skip
def test_values_hybridconfig_rejects_fail_before_training(sub, monkeypatch, space, fixed, match):
    """HybridConfig checks each trial's values before it trains; all rejected: one error."""

    def never(*args, **kw):
        msg = "no training should happen"
        raise AssertionError(msg)

    monkeypatch.setattr(_tune, "score_fold", never)
    adata = sub.copy()
    with pytest.raises(RuntimeError, match=r"no trial .* completed \(2 failed.*" + match):
        ge.tl.tune(adata, "ref", n_trials=2, search_space=space, neighbors_key=None, **fixed)
    assert_unchanged(adata, sub)


def test_trials_with_rejected_values_fail_and_the_search_goes_on(sub, monkeypatch):
    calls = []
    monkeypatch.setattr(_tune, "score_fold", fake_scorer(calls))
    space = {"k_neighbors": CategoricalDistribution([2, 5])}
    with pytest.warns(UserWarning, match=r"3 of 8 tune trials failed .*must not exceed k_neigh"):
        best = ge.tl.tune(sub.copy(), "ref", n_trials=8, n_validation_folds=1, search_space=space,
                          k_idw=4)  # fmt: skip
    trials = best["trials"]
    rejected = trials["params_k_neighbors"] < 4
    assert rejected.any() and (~rejected).any()
    assert (trials.loc[rejected, "state"] == "FAIL").all()
    assert trials.loc[rejected, "fail_reason"].str.contains("HybridConfig.k_idw").all()
    assert (trials.loc[~rejected, "state"] == "COMPLETE").all()
    assert all(c["k_neighbors"] >= 4 for _, c in calls)  # only accepted values are scored
    assert best["params"]["k_neighbors"] >= 4


def test_too_few_reference_genes(sub, monkeypatch):
    monkeypatch.setattr(_tune, "score_fold", fake_scorer([]))
    adata = sub.copy()
    few = np.zeros(adata.n_vars, bool)
    few[:60] = True
    with pytest.raises(ValueError, match="of 60 reference genes hides 6 and keeps 54"):
        ge.tl.tune(adata, few, n_trials=1, search_space=SPACE)
    assert_unchanged(adata, sub)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0.2 of 60 = 12 hidden: fine
        ge.tl.tune(adata, few, n_trials=1, validation_fraction=0.2, search_space=SPACE)
    assert adata.uns["tune"]["params"]["n_validation_genes"] == 12

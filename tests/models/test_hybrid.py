"""Model-level tests on arrays only (no AnnData): the hybrid estimator, its config, the one
torch training loop and the array-level neighbour search."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

import geneimpute as ge
from geneimpute._core.correlation import correlation_matrix
from geneimpute._core.neighbors import (
    ORIENTATION_CODES,
    find_genomic_neighbors,
    neighbors_from_distances,
    neighbors_to_sparse,
)
from geneimpute._core.sequence import promoter_matrix
from geneimpute._core.training import fit_early_stopping
from geneimpute.models import GeneInputs, HybridConfig, HybridImputer

#: small and quick: 12 tissues of chr22 genes, tiny networks
OPTS = {
    "max_epochs": 2,
    "n_folds": 2,
    "xgb_n_estimators": 20,
    "k_neighbors": 8,
    "k_idw": 4,
    "embedding_dim": 8,
}
N_TISSUES = 12


@pytest.fixture(scope="module")
def arrays():
    """Arrays of the bundled GTEx chr22 genes: Y (genes x tissues, log1p, NaN for 40 held-out
    genes), GeneInputs built with the array-level core, tissues, correlation, held mask."""
    gtex = ge.datasets.gtex_tissues()
    sub = gtex[:N_TISSUES, (gtex.var["chrom"] == "chr22").to_numpy()]
    var = sub.var
    Y = np.log1p(np.asarray(sub.X, dtype=np.float64).T)
    rng = np.random.default_rng(0)
    held = np.zeros(len(var), bool)
    held[rng.choice(len(var), 40, replace=False)] = True
    Y[held] = np.nan
    seqs = var["promoter_seq"].fillna("").astype(str).tolist()
    tss_index = var["promoter_seq_tss_index"].to_numpy(dtype=np.int64)
    length = np.log10((var["end"] - var["start"]).to_numpy(dtype=float))
    inputs = GeneInputs(
        promoter=promoter_matrix(seqs, tss_index),
        gene_features=np.column_stack([length, var["n_exons"].to_numpy(dtype=float)]),
        neighbors=find_genomic_neighbors(var, ~held, k=OPTS["k_neighbors"]),
        feature_names=["log10_length", "n_exons"],
    )
    tissues = [str(t) for t in sub.obs_names]
    C = correlation_matrix(Y[~held])
    return Y, inputs, tissues, C, held


@pytest.fixture(scope="module")
def fitted(arrays):
    Y, inputs, tissues, C, held = arrays
    model = HybridImputer(**OPTS).fit(Y, inputs, tissues, C, accelerator="cpu")
    return model, model.predict(Y, inputs, np.flatnonzero(held), accelerator="cpu")


def test_fit_predict_shapes(arrays, fitted):
    Y, inputs, tissues, C, held = arrays
    model, pred = fitted
    assert inputs.promoter.shape == (len(Y), 300, 5)
    assert pred.shape == (held.sum(), N_TISSUES) and np.isfinite(pred).all()
    assert model.tissues_ == tissues
    assert model.setup_.n_reference_genes == int((~held).sum())
    assert model.feature_names_ == ["log10_length", "n_exons"]
    assert model.net_args_["n_tissues"] == N_TISSUES and model.net_args_["dim"] == 8
    # predictions are on the log1p scale of the training data
    assert 0 <= pred.mean() < np.nanmax(Y)
    pred_all, emb = model.predict(Y, inputs, np.arange(5), return_embedding=True)
    assert pred_all.shape == (5, N_TISSUES) and emb.shape == (len(Y), 8)
    assert model.predict(Y, inputs, np.array([], dtype=int)).shape == (0, N_TISSUES)


def test_fit_is_seeded(arrays, fitted):
    Y, inputs, tissues, C, held = arrays
    again = HybridImputer(**OPTS).fit(Y, inputs, tissues, C, accelerator="cpu")
    np.testing.assert_array_equal(
        again.predict(Y, inputs, np.flatnonzero(held), accelerator="cpu"), fitted[1]
    )


def test_predict_moves_every_xgboost_model_to_the_requested_device(arrays, fitted):
    """A model fitted on a GPU (device "cuda" in its XGBoost models, as after loading one)
    predicts on the CPU when asked, the interval model included."""
    Y, inputs, _, _, held = arrays
    model = copy.deepcopy(fitted[0])
    boosters = [m for m in (model.xgb_, model.pattern_xgb_, model.sigma_xgb_) if m is not None]
    assert model.sigma_xgb_ is not None and len(boosters) >= 2
    for m in boosters:
        m.set_params(device="cuda")
    pred, _, sigma = model.predict(
        Y, inputs, np.flatnonzero(held), accelerator="cpu", return_sigma=True
    )
    assert [m.get_params()["device"] for m in boosters] == ["cpu"] * len(boosters)
    np.testing.assert_allclose(pred, fitted[1])
    assert sigma.shape == pred.shape and np.isfinite(sigma).all()


def test_predict_rejects_wrong_tissue_count(arrays, fitted):
    Y, inputs, _, _, held = arrays
    model = fitted[0]
    with pytest.raises(ValueError, match=f"Y has 5 tissues, the model has {N_TISSUES}"):
        model.predict(Y[:, :5], inputs, np.flatnonzero(held))
    other = GeneInputs(
        inputs.promoter, inputs.gene_features, inputs.neighbors, feature_names=["a", "b"]
    )
    with pytest.raises(ValueError, match="gene features .* differ from the model's"):
        model.predict(Y, other, np.flatnonzero(held))


def test_fit_rejects_bad_arrays(arrays):
    Y, inputs, tissues, C, held = arrays
    model = HybridImputer(**OPTS)
    with pytest.raises(ValueError, match=r"expected \(410, 12\)"):
        model.fit(Y[:, :5], inputs, tissues, C)
    Yinf = Y.copy()
    Yinf[np.flatnonzero(~held)[0], 0] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        model.fit(Yinf, inputs, tissues, C)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.predict(Y, inputs, np.flatnonzero(held))
    all_ref = find_genomic_neighbors(
        ge.datasets.gtex_tissues().var.query("chrom == 'chr22'"), np.ones(len(Y), bool), k=8
    )
    bad = GeneInputs(inputs.promoter, inputs.gene_features, all_ref, inputs.feature_names)
    with pytest.raises(ValueError, match="points at genes without any measured value"):
        model.fit(Y, bad, tissues, C)
    with pytest.raises(ValueError, match="disagree on the number of genes"):
        GeneInputs(inputs.promoter[:5], inputs.gene_features, inputs.neighbors)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"n_folds": 1}, r"n_folds must be an integer >= 2, got 1"),
        ({"k_idw": 0}, r"k_idw must be an integer >= 1, got 0"),
        ({"k_neighbors": 0}, r"k_neighbors must be an integer >= 1"),
        ({"k_idw": 30}, r"k_idw \(30\) must not exceed k_neighbors \(20\)"),
        ({"max_epochs": True}, r"max_epochs must be an integer >= 1, got True"),
        ({"batch_size": 2.5}, r"batch_size must be an integer >= 2"),
        ({"learning_rate": 0.0}, r"learning_rate must be > 0"),
        ({"xgb_subsample": 1.5}, r"xgb_subsample must be in \(0, 1\]"),
        ({"pattern_weight": 0}, r"pattern_weight must be > 0, got 0"),
        ({"components": ["cnn", "attention"]}, r"components: unknown \['attention'\]"),
        ({"components": "cnn"}, r"components must be a sequence of names"),
        ({"promoter_upstream": -1}, r"promoter_upstream must be an integer >= 0"),
    ],
)
def test_hybrid_config_validation(options, match):
    with pytest.raises(ValueError, match=match):
        HybridConfig(**options)
    with pytest.raises(ValueError, match=match):
        HybridImputer(**options)


def test_hybrid_config_unknown_option():
    with pytest.raises(TypeError, match=r"unknown HybridConfig option\(s\) \['n_fold'\]"):
        HybridImputer(n_fold=3)
    cfg = HybridConfig.from_dict({"n_folds": 3}, k_idw=5)
    assert (cfg.n_folds, cfg.k_idw, cfg.k_neighbors) == (3, 5, 20)


# ---------------------------------------------------------------- the one training loop


def _regression(seed=0):
    import torch

    torch.manual_seed(seed)
    x = torch.linspace(-1, 1, 64).reshape(-1, 1)
    y = 3 * x + 1
    net = torch.nn.Linear(1, 1)

    def loss_fn(b):
        i = torch.from_numpy(b)
        return ((net(x[i]) - y[i]) ** 2).mean()

    def val_fn():
        with torch.no_grad():
            return float(((net(x) - y) ** 2).mean())

    return net, loss_fn, val_fn


def _fit(net, n_items, loss_fn, val_fn, *, seed=0, **options):
    """``fit_early_stopping`` on items ``0..n_items-1`` in batches of 16 at lr 0.05, no bar."""
    return fit_early_stopping(
        net,
        np.arange(n_items),
        loss_fn,
        val_fn,
        rng=np.random.default_rng(seed),
        batch_size=16,
        learning_rate=0.05,
        progress=False,
        **options,
    )


def test_fit_early_stopping_learns_a_regression():
    net, loss_fn, val_fn = _regression()
    start = val_fn()
    res = _fit(net, 64, loss_fn, val_fn, max_epochs=60, patience=60, weight_decay=0.0)
    assert res.n_epochs == len(res.history) == 60
    best = min(h["val"] for h in res.history)
    assert best <= res.best_val < best + 1e-4  # later gains below min_delta do not count
    assert res.best_val < start / 100
    assert val_fn() == pytest.approx(res.best_val)  # the best weights are in place
    assert [h["epoch"] for h in res.history] == list(range(60))


def test_fit_early_stopping_stops_after_patience_and_restores_best():
    """A scripted validation curve: best at epoch 2, then 2 epochs without improvement."""
    import torch

    net, loss_fn, _ = _regression()
    curve = iter([3.0, 2.0, 1.0, 2.0, 1.5, 0.5, 0.1])
    snapshots = []

    def val_fn():
        snapshots.append({k: v.clone() for k, v in net.state_dict().items()})
        return next(curve)

    res = _fit(net, 64, loss_fn, val_fn, max_epochs=7, patience=2)
    assert res.n_epochs == len(res.history) == 5  # epochs 3 and 4 did not improve
    assert res.best_val == 1.0
    assert [h["val"] for h in res.history] == [3.0, 2.0, 1.0, 2.0, 1.5]
    best = snapshots[2]
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, best[k])
    assert not torch.equal(snapshots[4]["weight"], best["weight"])


def test_fit_early_stopping_is_seeded_and_skips_small_batches():
    results = []
    for _ in range(2):
        net, loss_fn, val_fn = _regression(seed=1)
        seen = []

        def counting(b, loss_fn=loss_fn, seen=seen):
            seen.append(len(b))
            return loss_fn(b)

        _fit(net, 33, counting, val_fn, seed=5, max_epochs=3, patience=3, min_batch=2)
        assert seen == [16, 16] * 3  # the batch of 1 is skipped
        results.append(net.weight.detach().clone())
    assert results[0].equal(results[1])


# ---------------------------------------------------------------- neighbour graphs


@pytest.fixture(scope="module")
def var22():
    gtex = ge.datasets.gtex_tissues()
    return gtex.var[(gtex.var["chrom"].isin(["chr21", "chr22"])).to_numpy()].copy()


@pytest.mark.parametrize("k_read", [10, 4])
def test_neighbors_sparse_round_trip(var22, k_read):
    rng = np.random.default_rng(1)
    ref = rng.random(len(var22)) > 0.2
    nb = find_genomic_neighbors(var22, ref, k=10)
    graphs = neighbors_to_sparse(nb)
    assert set(graphs) == {"distances", "orientation", "overlap"}
    assert graphs["distances"].shape == (len(var22), len(var22))
    assert graphs["distances"].nnz == int(nb.valid.sum())
    back = neighbors_from_distances(var22, graphs["distances"], k_read)
    expect = find_genomic_neighbors(var22, ref, k=k_read)
    for name in expect.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(back, name), getattr(expect, name), err_msg=name)
    # the stored orientation graph holds the same codes
    o = graphs["orientation"]
    rows = np.repeat(np.arange(len(var22)), 10).reshape(-1, 10)
    valid = nb.valid
    np.testing.assert_array_equal(
        np.asarray(o[rows[valid], nb.index[valid]]).ravel(), nb.orientation[valid]
    )
    # no gene is its own neighbour and only reference genes are neighbours
    assert not (nb.index == np.arange(len(var22))[:, None]).any()
    assert ref[nb.index[valid]].all()


def test_neighbors_from_distances_rejects_bad_graphs(var22):
    from scipy import sparse

    with pytest.raises(ValueError, match=r"shape \(3, 3\), expected"):
        neighbors_from_distances(var22, sparse.csr_matrix((3, 3)), 5)
    n = len(var22)
    bad = sparse.csr_matrix(([-5.0], ([0], [1])), shape=(n, n))
    with pytest.raises(ValueError, match="negative distances"):
        neighbors_from_distances(var22, bad, 5)
    with pytest.raises(ValueError, match="k must be >= 1"):
        find_genomic_neighbors(var22, np.ones(n, bool), k=0)


def test_orientation_of_a_real_divergent_pair(var22):
    """UFD1 (- strand, TSS 19,479,182) and CDC45 (+ strand, TSS 19,479,928) on chr22 share a
    bidirectional promoter: head to head, 746 bp apart, bodies 243 bp apart (GRCh38)."""
    ufd1, cdc45 = "ENSG00000070010", "ENSG00000093009"
    v = var22.loc[[ufd1, cdc45]]
    assert list(v["gene_name"]) == ["UFD1", "CDC45"] and list(v["strand"]) == ["-", "+"]
    assert list(v["tss"]) == [19_479_182, 19_479_928]
    pos = {g: i for i, g in enumerate(var22.index)}
    nb = find_genomic_neighbors(var22, np.ones(len(var22), bool), k=3)
    for gene, partner in ((ufd1, cdc45), (cdc45, ufd1)):
        slot = np.flatnonzero(nb.index[pos[gene]] == pos[partner])
        assert len(slot) == 1, gene
        s = (pos[gene], int(slot[0]))
        assert nb.orientation[s] == ORIENTATION_CODES["divergent"] == 2
        assert nb.distance[s] == 746
        assert nb.gap[s] == 19_479_458 - 19_479_215
        assert nb.upstream[s]  # each lies upstream of the other on the other's strand
        assert not nb.overlap[s] and not nb.nested[s]
    # TST (-) and MPST (+): divergent too, with overlapping (not nested) gene bodies
    tst, mpst = "ENSG00000128311", "ENSG00000128309"
    slot = np.flatnonzero(nb.index[pos[tst]] == pos[mpst])
    s = (pos[tst], int(slot[0]))
    assert nb.orientation[s] == 2 and nb.overlap[s] and not nb.nested[s] and nb.gap[s] == 0


# ---------------------------------------------------------------- redesigned stage 1

STAGE1 = {"pattern_weight": 3.0}


def test_fit_early_stopping_onecycle_schedule():
    """One cycle over max_epochs: the rate ends far below its peak; unknown names raise."""
    import torch

    net, loss_fn, val_fn = _regression()
    lrs = []

    def spy(b):
        lrs.append(opt_lr())
        return loss_fn(b)

    res = _fit(net, 64, spy, val_fn, max_epochs=10, patience=10, schedule="onecycle")
    assert res.n_epochs == 10 and len(lrs) == 40
    assert max(lrs) == pytest.approx(0.05, rel=0.05) and lrs[-1] < 0.05 / 100
    assert np.argmax(lrs) not in (0, len(lrs) - 1)  # warm-up, then annealing
    with pytest.raises(ValueError, match="schedule must be 'constant' or 'onecycle'"):
        _fit(torch.nn.Linear(1, 1), 64, loss_fn, val_fn, max_epochs=1, patience=1, schedule="x")


def opt_lr():
    """The learning rate of the optimiser fit_early_stopping is running (found on the stack)."""
    import inspect

    for frame in inspect.stack():
        opt = frame.frame.f_locals.get("opt")
        if opt is not None and hasattr(opt, "param_groups"):
            return opt.param_groups[0]["lr"]
    raise AssertionError("no optimiser on the stack")


def test_pooled_profile_starts_as_inverse_distance_weighting():
    """At initialisation the transformer's pooled profile is the 1/d-weighted neighbour mean."""
    import torch

    from geneimpute.models.hybrid._networks import NeighborTransformer

    torch.manual_seed(0)
    T, k = 5, 4
    profiles = torch.randn(3, k, T)
    d = torch.tensor([[1e3, 1e4, 1e5, 2e3], [5e2, 5e2, 1e6, 1e6], [1e4, 2e4, 3e4, 4e4]])
    dist = torch.zeros(3, k, 8)
    dist[:, :, 0] = torch.log10(d + 1) / 6
    tokens = torch.cat([profiles, dist], dim=2)
    pad = torch.tensor([[False] * 4, [False, False, True, True], [False] * 4])
    tr = NeighborTransformer(T + 8, n_pool=T, distance_col=T, dim=8).eval()
    with torch.no_grad():
        _, pooled = tr(tokens, pad)
    w = torch.where(pad, torch.zeros(()), 1 / (d + 1))
    expected = (w[:, :, None] * profiles).sum(1) / w.sum(1, keepdim=True)
    torch.testing.assert_close(pooled, expected, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def fitted_stage1(arrays):
    Y, inputs, tissues, C, held = arrays
    model = HybridImputer(**OPTS, **STAGE1).fit(Y, inputs, tissues, C, accelerator="cpu")
    return model, model.predict(Y, inputs, np.flatnonzero(held), accelerator="cpu")


def _read_out(model, net, Y, inputs, rows):
    """Log1p read-outs of ``net`` for ``rows`` (the estimator's own stage-1 path)."""
    from geneimpute.models.hybrid._stage1 import read_out

    t = model._net_inputs(model._prepare(Y, inputs), inputs)
    return read_out(net, t, rows, "cpu", scale=(model.mu_, model.sd_))


def test_stage1_fits_predicts_and_round_trips(arrays, fitted, fitted_stage1, tmp_path):
    """Level/pattern heads, pooled profile, one-cycle, another pattern weight: finite
    predictions, its own network (z-score read-outs scaled back to log1p), a round trip."""
    Y, inputs, tissues, C, held = arrays
    model, P = fitted_stage1
    assert P.shape == (held.sum(), len(tissues)) and np.isfinite(P).all()
    assert set(model.net_args_) == {
        "n_tissues", "n_gene_features", "token_dim", "use_cnn", "use_transformer", "dim"
    }  # fmt: skip
    net = model.net_.members[0]  # the out-of-fold networks serve new genes
    assert net.transformer.n_pool == len(tissues) and net.pattern.out_features == len(tissues)
    assert not np.allclose(P, fitted[1])  # another model than the default
    # read-outs come back in log1p units: their mean is near the tissue means
    out = _read_out(model, model.net_, Y, inputs, np.flatnonzero(~held))
    for key in ("joint", "cnn", "transformer"):
        assert np.abs(out[key].mean(0) - model.mu_).max() < 1.0, key
    model.save(tmp_path / "m")
    loaded = HybridImputer.load(tmp_path / "m")
    assert loaded.config.pattern_weight == 3.0
    np.testing.assert_allclose(
        loaded.predict(Y, inputs, np.flatnonzero(held), accelerator="cpu"), P, rtol=1e-5
    )


def test_xgb_pattern_model_round_trips(arrays, fitted, tmp_path):
    """The stage-2 profile model gives the level (mean over tissues) and the pattern model the
    tissue pattern; both are saved and loaded, and a directory without one is refused."""
    from geneimpute.models.hybrid._boosting import predict_stage2

    Y, inputs, tissues, C, held = arrays
    model, P = fitted
    assert model.pattern_xgb_ is not None
    rows = np.flatnonzero(held)
    out = _read_out(model, model.net_, Y, inputs, rows)
    out.pop("promoter_embedding")
    X3 = model._design(out, model._prepare(Y, inputs), rows).reshape(len(rows), len(tissues), -1)
    level_only = predict_stage2(model.xgb_, None, X3)
    np.testing.assert_allclose(P.mean(axis=1), level_only.mean(axis=1), rtol=1e-6, atol=1e-6)
    pattern = P - P.mean(1, keepdims=True)
    assert np.abs(pattern - (level_only - level_only.mean(1, keepdims=True))).max() > 0.05
    model.save(tmp_path / "m")
    loaded = HybridImputer.load(tmp_path / "m")
    assert loaded.pattern_xgb_ is not None
    np.testing.assert_allclose(loaded.predict(Y, inputs, rows, accelerator="cpu"), P, rtol=1e-6)
    (tmp_path / "m" / "xgboost_pattern.ubj").unlink()
    with pytest.raises(ge.models.DamagedModelError, match="xgboost_pattern.ubj is missing"):
        HybridImputer.load(tmp_path / "m")


def test_stage2_pattern_model_on_partly_measured_genes():
    """The pattern model learns each gene's profile minus its mean over the measured tissues:
    on a target that is level + a tissue pattern, with scattered NaN cells, it recovers the
    pattern (within 0.15: centring over the measured tissues only shifts a partly measured
    gene's target a little), and the joint model gives the level."""
    from geneimpute.models.hybrid._boosting import fit_stage2, predict_stage2

    rng = np.random.default_rng(0)
    n, T = 600, 5
    level = rng.normal(3, 1, n)
    kind = rng.integers(0, 2, n)  # two tissue patterns, told by a gene-level feature
    patterns = np.array([[1.0, -1, 0, 0, 0], [0, 0, 0, 1, -1]])
    Y = level[:, None] + patterns[kind]
    X3 = np.zeros((n, T, 3), dtype=np.float32)
    X3[:, :, 0] = np.arange(T)
    X3[:, :, 1] = kind[:, None]
    X3[:, :, 2] = level[:, None]
    Ytrain = Y.copy()
    Ytrain[rng.random(Y.shape) < 0.1] = np.nan
    params = {"n_estimators": 200, "max_depth": 3, "learning_rate": 0.1, "random_state": 0}
    joint, pattern = fit_stage2(params, X3, Ytrain, pattern=True)
    assert fit_stage2(params, X3, Ytrain, pattern=False)[1] is None
    P = predict_stage2(joint, pattern, X3)
    assert P.shape == (n, T)
    centred = P - P.mean(1, keepdims=True)
    np.testing.assert_allclose(centred, patterns[kind], atol=0.15)
    assert np.median(np.abs(P.mean(1) - level)) < 0.1
    assert predict_stage2(joint, pattern, X3[:0]).shape == (0, T)


def test_network_ensemble_serves_new_genes_with_the_out_of_fold_networks(arrays, fitted, tmp_path):
    """No network refitted on all reference genes: new genes get the mean read-outs of the
    n_folds out-of-fold networks XGBoost learned from; the ensemble round-trips."""
    from geneimpute.models import NetworkEnsemble

    Y, inputs, tissues, C, held = arrays
    model, P = fitted
    assert isinstance(model.net_, NetworkEnsemble) and len(model.net_.members) == OPTS["n_folds"]
    assert {h["net"] for h in model.history_} == {"network fold 1/2", "network fold 2/2"}
    rows = np.flatnonzero(held)
    each = [_read_out(model, n, Y, inputs, rows) for n in model.net_.members]
    mean = _read_out(model, model.net_, Y, inputs, rows)
    for key in ("joint", "cnn", "transformer"):
        np.testing.assert_allclose(mean[key], (each[0][key] + each[1][key]) / 2, rtol=1e-5)
        assert np.abs(each[0][key] - each[1][key]).max() > 1e-3  # two different networks
    np.testing.assert_array_equal(mean["promoter_embedding"], each[0]["promoter_embedding"])
    model.save(tmp_path / "m")
    loaded = HybridImputer.load(tmp_path / "m")
    assert isinstance(loaded.net_, NetworkEnsemble)
    np.testing.assert_allclose(loaded.predict(Y, inputs, rows, accelerator="cpu"), P, rtol=1e-6)


# ---------------------------------------------------------------- model schema fixtures

MODELS = Path(__file__).parents[1] / "data" / "models"


def test_saved_directory_of_this_schema_loads_and_predicts_as_saved(arrays):
    """tests/data/models/hybrid_schema4 (a tiny hybrid on these arrays, saved with schema 3 and
    given schema 4's version and manifest, the files unchanged) loads and predicts what it
    predicted when saved: a schema change must be deliberate."""
    Y, inputs, tissues, C, held = arrays
    model = HybridImputer.load(MODELS / "hybrid_schema4")
    assert model.tissues_ == tissues and model.config.components == HybridConfig().components
    P, _, S = model.predict(
        Y, inputs, np.flatnonzero(held), accelerator="cpu", return_embedding=True, return_sigma=True
    )
    expected = np.load(MODELS / "hybrid_schema4_predictions.npz")
    np.testing.assert_allclose(P, expected["pred"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(S, expected["sigma"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("version", [2, 3])
def test_older_schema_is_refused_with_one_line(tmp_path, version):
    """A directory saved by an older schema (2, 3: no manifest) is refused with one line that
    names its version and how to retrain, for every way of loading a model."""
    import shutil

    old = MODELS / f"hybrid_schema{version}"
    match = (
        rf"is a model of schema version {version} \(written by geneimpute 0\.1\.0\); this "
        r"geneimpute \(.*\) reads schema 4 only: train it again with this version"
    )
    with pytest.raises(ge.models.DamagedModelError, match=match) as err:
        HybridImputer.load(old)
    assert "\n" not in str(err.value)
    copy_ = tmp_path / "old"
    shutil.copytree(old, copy_)
    before = {p.name: p.read_bytes() for p in copy_.iterdir()}
    with pytest.raises(ValueError, match=match):
        ge.tl.impute_expression(ge.datasets.gtex_tissues()[:12, :50].copy(), str(copy_))
    assert {p.name: p.read_bytes() for p in copy_.iterdir()} == before

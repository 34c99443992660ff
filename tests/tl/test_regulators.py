"""Regulator-driven imputation (DeepSF design) on the bundled real sample-level data."""

from __future__ import annotations

import json

import anndata as ad
import matplotlib
import numpy as np
import pytest

import geneimpute as ge
from geneimpute.models import DamagedModelError, RegulatorImputer
from geneimpute.models._persistence import write_manifest

from ..conftest import assert_unchanged

matplotlib.use("Agg")

#: quick settings: trains in a few seconds on 2 CPU cores
QUICK = {"max_epochs": 40, "autoencoder_epochs": 15, "patience": 5}


@pytest.fixture(scope="module")
def gtex_masked():
    """GTEx TF samples with 10% of the non-regulator genes hidden in 20% of the samples."""
    truth = ge.datasets.gtex_tf_samples()
    X = np.asarray(truth.X, dtype=np.float64)
    reg = truth.var["regulator_type"].astype(str).isin(["RBP/SF", "TF"]).to_numpy()
    rng = np.random.default_rng(0)
    cols = rng.choice(np.flatnonzero(~reg), 36, replace=False)
    rows = rng.choice(truth.n_obs, 104, replace=False)
    M = np.zeros(truth.shape, bool)
    M[np.ix_(rows, cols)] = True
    adata = truth.copy()
    Xm = X.copy()
    Xm[M] = np.nan
    adata.X = Xm.astype(np.float32)
    return adata, truth, M


@pytest.fixture(scope="module")
def fitted(gtex_masked):
    adata, _, _ = gtex_masked
    return ge.tl.train_regulators(adata, random_state=0, **QUICK)


def _per_gene_r(P, T, M):
    rs = []
    for j in np.flatnonzero(M.any(axis=0)):
        m = M[:, j]
        rs.append(np.corrcoef(P[m, j], T[m, j])[0, 1])
    return float(np.mean(rs))


def test_impute_fills_only_nan_and_beats_tissue_mean(gtex_masked, fitted):
    adata, truth, M = gtex_masked
    a = adata.copy()
    ge.tl.impute_from_regulators(a, fitted)
    out = np.asarray(a.layers["imputed_regulators"])
    mask = np.asarray(a.layers["imputed_regulators_mask"])
    assert np.array_equal(mask, M)
    X = np.asarray(adata.X)
    assert np.array_equal(out[~M], X[~M])  # observed values bit-identical
    assert np.isfinite(out).all()
    params = a.uns["imputed_regulators"]["params"]
    assert params["n_values_imputed"] == int(M.sum()) and params["autoencoder"] is True
    assert params["n_regulators"] == 105 and params["n_targets"] == 362
    # relative guard computed here: better than the tissue mean of the observed samples
    T = np.asarray(truth.X, dtype=np.float64)
    tissue = adata.obs["tissue"].astype(str).to_numpy()
    P_mean = np.empty_like(T)
    for t in np.unique(tissue):
        rows = tissue == t
        P_mean[rows] = np.nanmean(np.asarray(adata.X, dtype=np.float64)[rows], axis=0)
    r_model, r_mean = _per_gene_r(out, T, M), _per_gene_r(P_mean, T, M)
    assert r_model > r_mean + 0.02, (r_model, r_mean)
    assert fitted.setup_.units.startswith("as given by SEPIRA")


def test_save_load_and_h5ad_round_trip(gtex_masked, fitted, tmp_path):
    adata, _, _ = gtex_masked
    fitted.save(tmp_path / "m")
    back = RegulatorImputer.load(tmp_path / "m")
    a, b = adata.copy(), adata.copy()
    ge.tl.impute_from_regulators(a, fitted)
    ge.tl.impute_from_regulators(b, str(tmp_path / "m"))
    assert np.array_equal(a.layers["imputed_regulators"], b.layers["imputed_regulators"])
    assert back.setup_.regulators == fitted.setup_.regulators
    a.write_h5ad(tmp_path / "a.h5ad")
    r = ad.read_h5ad(tmp_path / "a.h5ad")
    assert np.array_equal(r.layers["imputed_regulators"], a.layers["imputed_regulators"])
    assert r.uns["imputed_regulators"]["params"]["n_values_imputed"] == 3744
    (tmp_path / "m" / "config.json").write_text("{}")
    with pytest.raises(DamagedModelError, match="damaged or from another version"):
        RegulatorImputer.load(tmp_path / "m")


def test_bad_input_is_refused_and_adata_unchanged(gtex_masked, fitted):
    adata, truth, _ = gtex_masked
    none = adata.copy()
    none.var["regulator_type"] = ""
    before = none.copy()
    with pytest.raises(ValueError, match="no regulators present"):
        ge.tl.train_regulators(none, **QUICK)
    assert_unchanged(none, before)
    hole = adata.copy()
    reg = fitted.setup_.regulators[0]
    hole.X[0, hole.var_names.get_loc(reg)] = np.nan
    before = hole.copy()
    with pytest.raises(ValueError, match="regulators have NaN in adata"):
        ge.tl.impute_from_regulators(hole, fitted)
    assert_unchanged(hole, before)
    with pytest.raises(ValueError, match="regulators have NaN in some samples"):
        ge.tl.train_regulators(hole, regulators=[reg, fitted.setup_.regulators[1]], **QUICK)
    full = truth.copy()
    before = full.copy()
    with pytest.raises(ValueError, match="all targets observed"):
        ge.tl.impute_from_regulators(full, fitted)
    assert_unchanged(full, before)
    lacking = adata[:, adata.var_names != fitted.setup_.targets[0]].copy()
    with pytest.raises(KeyError, match="lacks 1 of the model's 362 targets"):
        ge.tl.impute_from_regulators(lacking, fitted)


def test_attribution_and_heatmap(gtex_masked, fitted, tmp_path):
    adata, _, _ = gtex_masked
    a = adata.copy()
    targets = fitted.setup_.targets[:4]
    ge.tl.regulator_attribution(a, fitted, targets, n_top=3)
    scores = a.uns["regulator_attribution"]["scores"]
    assert scores.shape == (105, 4) and list(scores.columns) == targets
    assert np.isfinite(scores.to_numpy()).all() and (scores.abs().to_numpy() > 0).any()
    top = a.varm["regulator_attribution_top"]
    j = a.var_names.get_loc(targets[0])
    assert top.iloc[j]["regulator_1"] == scores[targets[0]].abs().idxmax()
    assert (top["regulator_1"] == "").sum() == a.n_vars - 4
    ig = ge.tl.regulator_attribution(
        adata.copy(), fitted, targets, method="integrated_gradients", copy=True
    )
    s_ig = ig.uns["regulator_attribution"]["scores"]
    # DeepLIFT (rescale) and IG agree on which regulators matter for a ReLU network
    r = np.corrcoef(np.abs(s_ig.to_numpy()).ravel(), np.abs(scores.to_numpy()).ravel())[0, 1]
    assert r > 0.5, r
    ax = ge.pl.regulator_heatmap(a, n_regulators=8, show=False, save=tmp_path / "h.png")
    assert len(ax.get_yticklabels()) == 8 and (tmp_path / "h.png").exists()
    a.write_h5ad(tmp_path / "att.h5ad")
    back = ad.read_h5ad(tmp_path / "att.h5ad")
    assert back.varm["regulator_attribution_top"].shape[0] == a.n_vars
    with pytest.raises(ValueError, match="method must be"):
        ge.tl.regulator_attribution(a, fitted, method="shap")


def test_tcga_cohort_missing_genes_filled():
    """The genes a TCGA cohort never measured (4% of the matrix) are filled from regulators."""
    adata = ge.datasets.tcga_cohorts()
    with pytest.warns(ge.DataWarning, match="regulator genes are NaN in some samples"):
        ge.tl.impute_from_regulators(
            adata, ge.tl.train_regulators(adata, max_epochs=2, autoencoder_epochs=2)
        )
    out = np.asarray(adata.layers["imputed_regulators"])
    mask = np.asarray(adata.layers["imputed_regulators_mask"])
    X = np.asarray(adata.X)
    assert np.array_equal(mask, ~np.isfinite(X) & mask) and mask.sum() > 150_000
    assert np.isfinite(out[mask]).all() and np.array_equal(out[~mask], X[~mask], equal_nan=True)


def test_context_ridge_is_sklearn_ridge_on_measured_genes(gtex_masked):
    """The context ridge equals sklearn's RidgeCV / Ridge fits on the genes a sample measured."""
    from sklearn.linear_model import Ridge, RidgeCV

    from geneimpute.models import ContextRidge
    from geneimpute.models.regulators._context import ALPHAS

    adata, _, M = gtex_masked
    X = np.asarray(adata.X, dtype=np.float64)
    sd = np.nanstd(X, axis=0)
    Z = (X - np.nanmean(X, axis=0)) / np.where(sd > 0, sd, 1.0)
    # genes reordered as "regulators" (100 never hidden) then targets; 40 training samples
    # lack one hidden target, which gives it a row set of its own
    first = np.flatnonzero(~M.any(axis=0))[:100]
    order = np.r_[first, np.setdiff1d(np.arange(X.shape[1]), first)]
    Zo = Z[:, order].copy()
    Mo = M[:, order]
    train = ~Mo.any(axis=1)
    Zo[np.flatnonzero(train)[:40], np.flatnonzero(Mo.any(axis=0))[0]] = np.nan
    cr = ContextRidge(Zo[train], 100)
    pred = cr.predict(Zo[~train])
    seen = ~Mo[~train][0]
    hidden = np.flatnonzero(~seen[100:])
    F, T = Zo[train][:, seen], Zo[train][:, 100:][:, hidden]
    full = np.isfinite(T).all(axis=0)
    ref = RidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(F, T[:, full])
    np.testing.assert_allclose(
        pred[:, hidden[full]], ref.predict(Zo[~train][:, seen]), rtol=1e-6, atol=1e-6
    )
    # measured cells come back as measured
    np.testing.assert_array_equal(pred[:, seen[100:]], Zo[~train][:, 100:][:, seen[100:]])
    assert (~full).sum() == 1  # the target with scattered NaN: Ridge, the median penalty
    j = hidden[~full][0]
    ok = np.isfinite(Zo[train][:, 100 + j])
    one = Ridge(alpha=float(np.median(ref.alpha_))).fit(F[ok], Zo[train][ok, 100 + j])
    np.testing.assert_allclose(pred[:, j], one.predict(Zo[~train][:, seen]), atol=1e-6)


def test_network_beats_regulator_ridge_and_never_harms_validation(gtex_masked, fitted):
    """Relative guard on the same split: the model (context ridge + network) beats ridge on
    the regulators (TEEBoT-like) in per-gene r over the hidden cells; the residual network
    keeps its untrained (zero) state unless training improves validation."""
    from sklearn.linear_model import RidgeCV

    adata, truth, M = gtex_masked
    a = adata.copy()
    ge.tl.impute_from_regulators(a, fitted)
    out = np.asarray(a.layers["imputed_regulators"], dtype=np.float64)
    T = np.asarray(truth.X, dtype=np.float64)
    reg = np.array([adata.var_names.get_loc(g) for g in fitted.setup_.regulators])
    cols = np.flatnonzero(M.any(axis=0))
    train = ~M.any(axis=1)
    ridge = RidgeCV(alphas=np.logspace(-1, 4, 11), alpha_per_target=True)
    ridge.fit(T[np.ix_(train, reg)], T[np.ix_(train, cols)])
    P = out.copy()
    P[:, cols] = ridge.predict(T[:, reg])
    r_model, r_ridge = _per_gene_r(out, T, M), _per_gene_r(P, T, M)
    assert r_model > r_ridge + 0.01, (r_model, r_ridge)
    hist = fitted.history_["network"]
    assert hist[0]["epoch"] == -1
    assert min(h["val"] for h in hist) <= hist[0]["val"]


def test_context_ridge_config_and_damaged_context(gtex_masked, fitted, tmp_path):
    with pytest.raises(ValueError, match="context_folds must be >= 2"):
        RegulatorImputer(context_folds=1)
    assert fitted.uses_context_ridge and fitted.context_ is not None
    fitted.save(tmp_path / "m")
    assert (tmp_path / "m" / "context.npy").exists()
    np.save(tmp_path / "m" / "context.npy", np.zeros((3, 2), np.float32))
    write_manifest(tmp_path / "m")
    with pytest.raises(DamagedModelError, match="context.npy has shape"):
        RegulatorImputer.load(tmp_path / "m")
    (tmp_path / "m" / "context.npy").unlink()
    write_manifest(tmp_path / "m")
    with pytest.raises(DamagedModelError, match=r"context.npy is missing"):
        RegulatorImputer.load(tmp_path / "m")
    no_ae = RegulatorImputer(use_autoencoder=False)
    assert not no_ae.uses_context_ridge
    # a directory of an older schema (the regulators' own schema 1, saved before the context
    # ridge existed) is refused with one line naming its version, not loaded another way
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["format"] == "geneimpute.RegulatorImputer" and cfg["schema_version"] == 4
    cfg["schema_version"] = 1
    del cfg["config"]["context_ridge"], cfg["config"]["context_folds"]
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(DamagedModelError, match="schema version 1") as err:
        RegulatorImputer.load(tmp_path / "m")
    assert "\n" not in str(err.value)

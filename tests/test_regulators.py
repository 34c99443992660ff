"""Regulator-driven imputation (DeepSF design) on the bundled real sample-level data."""

from __future__ import annotations

import anndata as ad
import matplotlib
import numpy as np
import pytest

import geneimpute as ge
from geneimpute.models import DamagedModelError, RegulatorImputer

from .conftest import assert_unchanged

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

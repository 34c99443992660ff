import anndata as ad
import numpy as np
import pandas as pd
import pytest

import geneimpute as ge
from geneimpute.models import HybridImputer

from .conftest import FAST, hold_out


@pytest.fixture(scope="module")
def imputed(tmp_path_factory):
    """Train + impute once on the chr21/22 subset with 30 held-out genes."""
    adata, small, held = hold_out(30)
    before = adata.copy()
    ge.tl.impute_expression(adata, **FAST)
    return adata, before, small, held


def test_impute_fills_exactly_the_nan_profiles(imputed):
    adata, before, truth, held = imputed
    out, mask = adata.layers["imputed"], adata.layers["imputed_mask"]
    assert out.shape == adata.shape and mask.dtype == bool
    np.testing.assert_array_equal(mask, np.isnan(before.X))
    assert mask[:, held].all() and not mask[:, ~held].any()
    # observed values bit-identical, the caller's X untouched
    assert np.array_equal(out[:, ~held], before.X[:, ~held])
    assert np.array_equal(adata.X, before.X, equal_nan=True)
    assert np.isfinite(out).all() and (out >= 0).all()
    assert adata.varm["promoter_embedding"].shape == (adata.n_vars, 32)
    C = adata.uns["tissue_correlation"]
    assert isinstance(C, pd.DataFrame) and C.shape == (37, 37)
    params = adata.uns["imputed"]["params"]
    assert params["n_genes_imputed"] == 30 and params["n_values_imputed"] == 30 * 37
    assert params["n_reference_genes"] == adata.n_vars - 30


def test_imputation_is_informative(imputed):
    """Even a 2-epoch model on 588 genes beats chance clearly (generous regression guard)."""
    adata, _, truth, held = imputed
    res = ge.tl.evaluate(adata, truth, held)
    assert res["n_genes"] == 30
    assert res["pearson_tissue"] > 0.3
    assert 0 < res["mse"] < 5


def test_h5ad_round_trip(imputed, tmp_path):
    adata = imputed[0]
    path = tmp_path / "imputed.h5ad"
    adata.write_h5ad(path)
    back = ad.read_h5ad(path)
    assert np.array_equal(back.layers["imputed"], adata.layers["imputed"])
    assert np.array_equal(back.layers["imputed_mask"], adata.layers["imputed_mask"])
    np.testing.assert_array_equal(back.varm["promoter_embedding"], adata.varm["promoter_embedding"])
    pd.testing.assert_frame_equal(back.uns["tissue_correlation"], adata.uns["tissue_correlation"])
    assert back.uns["imputed"]["params"]["n_genes_imputed"] == 30


def test_train_save_load_predicts_identically(small_missing, tmp_path):
    adata, _, held = small_missing
    model = ge.tl.train(adata, random_state=1, **FAST)
    assert isinstance(model, HybridImputer)
    assert model.tissues_ == list(adata.obs_names)
    model.save(tmp_path / "m")
    with pytest.raises(FileExistsError, match="exists"):
        model.save(tmp_path / "m")
    a1 = ge.tl.impute_expression(adata, model, accelerator="cpu", copy=True)
    a2 = ge.tl.impute_expression(adata, str(tmp_path / "m"), accelerator="cpu", copy=True)
    np.testing.assert_allclose(a1.layers["imputed"], a2.layers["imputed"], rtol=1e-5)
    with pytest.raises(FileNotFoundError, match="not a saved HybridImputer"):
        HybridImputer.load(tmp_path)


def test_training_is_seeded(small_missing):
    adata, _, _ = small_missing
    a = ge.tl.impute_expression(adata, random_state=3, copy=True, **FAST)
    b = ge.tl.impute_expression(adata, random_state=3, copy=True, **FAST)
    np.testing.assert_allclose(a.layers["imputed"], b.layers["imputed"], rtol=1e-5)


def test_sequence_only_mode(small_missing):
    adata, truth, held = small_missing
    ge.tl.impute_expression(adata, features=["promoter", "structure"], **FAST)
    cfg = adata.uns["imputed"]["params"]["model_config"]
    assert cfg["use_cnn"] and not cfg["use_transformer"] and not cfg["use_neighbor_features"]
    assert adata.layers["imputed_mask"][:, held].all()


def test_impute_neighbors_matches_manual_idw(small_missing):
    adata, truth, held = small_missing
    ge.tl.impute_neighbors(adata, k=3)
    g = np.flatnonzero(held)[0]
    var = adata.var
    ref = var[(var["chrom"] == var["chrom"].iloc[g]) & ~held]
    d = np.abs(ref["tss"] - var["tss"].iloc[g]).sort_values()[:3]
    w = 1 / (d.to_numpy() + 1000)
    prof = np.log1p(truth[:, d.index].X)
    expected = np.expm1(prof @ w / w.sum())
    np.testing.assert_allclose(adata.layers["imputed_distance"][:, g], expected, rtol=1e-5)
    assert adata.uns["imputed_distance"]["params"]["k"] == 3


def test_evaluate_perfect_prediction(small):
    adata = small.copy()
    held = np.zeros(adata.n_vars, bool)
    held[:40] = True
    adata.layers["imputed"] = adata.X.copy()
    adata.layers["imputed_mask"] = np.broadcast_to(held, adata.shape).copy()
    res = ge.tl.evaluate(adata, small)
    assert res["n_genes"] == 40
    assert res["pearson_tissue"] == pytest.approx(1) and res["mse"] == pytest.approx(0)
    per = ge.tl.evaluate(adata, small, per_tissue=True)
    assert per.shape == (37,) and per.index[0] == adata.obs_names[0]


def _unchanged(a, b):
    assert list(a.layers) == list(b.layers) and list(a.uns) == list(b.uns)
    assert list(a.varm) == list(b.varm)
    pd.testing.assert_frame_equal(a.var, b.var)
    assert np.array_equal(a.X, b.X, equal_nan=True)


def test_error_no_coordinates(small_missing):
    adata = small_missing[0]
    adata.var = adata.var.drop(columns=["chrom"])
    before = adata.copy()
    with pytest.raises(KeyError, match=r"lacks gene coordinate column\(s\) \['chrom'\]"):
        ge.tl.impute_expression(adata, **FAST)
    _unchanged(adata, before)


def test_error_duplicated_gene_ids(small_missing):
    adata = small_missing[0]
    names = adata.var_names.to_numpy().copy()
    names[5] = names[4]
    adata.var_names = names
    before = adata.copy()
    with pytest.raises(ValueError, match="1 duplicated gene IDs"):
        ge.tl.impute_expression(adata, **FAST)
    _unchanged(adata, before)


def test_error_nan_in_reference_genes(small_missing):
    adata, _, held = small_missing
    adata.X[0, np.flatnonzero(~held)[:2]] = np.nan
    before = adata.copy()
    with pytest.raises(ValueError, match="2 reference genes have NaN expression"):
        ge.tl.impute_expression(adata, reference=~held, **FAST)
    _unchanged(adata, before)


def test_error_unknown_sequence_letters(small_missing):
    adata = small_missing[0]
    seqs = adata.var["promoter_seq"].astype(str).copy()
    i = int(np.flatnonzero(seqs.str.len() == 300)[0])
    seqs.iloc[i] = "R" + seqs.iloc[i][1:]
    adata.var["promoter_seq"] = seqs
    before = adata.copy()
    with pytest.raises(
        ValueError, match=rf"1 promoter sequences .* gene {adata.var_names[i]}: \['R'\]"
    ):
        ge.tl.impute_expression(adata, **FAST)
    _unchanged(adata, before)


def test_error_nothing_to_impute(small):
    with pytest.raises(ValueError, match="no genes to impute"):
        ge.tl.impute_expression(small, **FAST)


def test_error_model_tissues_differ(small_missing, tmp_path):
    adata = small_missing[0]
    model = ge.tl.train(adata, **FAST)
    sub = adata[:10].copy()
    with pytest.raises(ValueError, match="trained on tissues"):
        ge.tl.impute_expression(sub, model)
    assert "imputed" not in sub.layers


def test_partial_genes_overwrite(small_missing):
    adata, truth, held = small_missing
    target = held.copy()
    target[np.flatnonzero(~held)[:5]] = True  # 5 observed genes re-estimated
    ge.tl.impute_expression(adata, genes=target, overwrite=True, **FAST)
    mask = adata.layers["imputed_mask"]
    assert mask[:, target].all() and not mask[:, ~target].any()


def test_xgboost_only_model_saves_and_loads(small_missing, tmp_path):
    """Without CNN and transformer, stage 1 is skipped: XGBoost on hand-made features alone."""
    adata, _, held = small_missing
    model = ge.tl.train(adata, use_cnn=False, use_transformer=False, **FAST)
    assert model.net_ is None and not model.uses_network
    model.save(tmp_path / "xgb_only")
    assert not (tmp_path / "xgb_only" / "network.pt").exists()
    out = ge.tl.impute_expression(adata, str(tmp_path / "xgb_only"), copy=True)
    assert out.layers["imputed_mask"][:, held].all()
    assert "promoter_embedding" not in out.varm

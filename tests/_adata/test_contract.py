"""Issue 11 acceptance: a model carries its setup, pp writes named inputs that tl reads."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import geneimpute as ge
import geneimpute._adata._inputs as adata_inputs
from geneimpute.models import HybridConfig, HybridImputer

from ..conftest import FAST, assert_unchanged, hold_out


def _no_search(*args, **kwargs):
    msg = "find_genomic_neighbors must not run: the neighbours are stored"
    raise AssertionError(msg)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """pp writes neighbours; the user brings a tissue correlation (own DataFrame, tissues in
    reverse order); ``tl.train`` reads both (no neighbour search) and the model is saved."""
    adata, truth, held = hold_out(30)
    ge.pp.neighbor_features(adata, key_added="genomic_neighbors")
    C = ge.pp.tissue_correlation(adata, inplace=False)
    user_C = C.iloc[::-1, ::-1] * 0.999 + 0.001  # a user's own matrix, tissues reversed
    np.fill_diagonal(user_C.values, 1.0)
    adata.uns["tissue_correlation"] = user_C
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(adata_inputs, "find_genomic_neighbors", _no_search)
        model = ge.tl.train(adata, **FAST)
    path = tmp_path_factory.mktemp("models") / "hybrid"
    model.save(path)
    return adata, held, model, path, user_C


@pytest.fixture(scope="module")
def reference(setup):
    """The unshuffled imputation by the loaded model."""
    adata, _, _, path, _ = setup
    return ge.tl.impute_expression(adata, str(path), copy=True)


def test_train_read_stored_inputs(setup):
    adata, _, model, _, user_C = setup
    s = model.setup_
    assert s.neighbors_key == "genomic_neighbors"
    assert s.tissue_correlation_key == "tissue_correlation"
    expect = user_C.loc[model.tissues_, model.tissues_].to_numpy()
    np.testing.assert_allclose(model.tissue_correlation_, expect)


def test_loaded_model_aligns_tissues_by_name(setup, reference):
    adata, held, _, path, _ = setup
    perm = np.random.default_rng(7).permutation(adata.n_obs)
    assert (perm != np.arange(adata.n_obs)).any()
    shuffled = adata[perm].copy()
    ge.tl.impute_expression(shuffled, HybridImputer.load(path))
    np.testing.assert_allclose(
        shuffled.layers["imputed"], reference.layers["imputed"][perm], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(
        shuffled.layers["imputed_mask"], reference.layers["imputed_mask"][perm]
    )
    assert shuffled.layers["imputed_mask"][:, held].all()


def test_refuses_adata_lacking_a_tissue(setup):
    adata, _, model, path, _ = setup
    sub = adata[1:].copy()
    before = sub.copy()
    missing = adata.obs_names[0]
    with pytest.raises(ValueError, match=rf"lacks 1 of the model's 37 tissues: \['{missing}'\]"):
        ge.tl.impute_expression(sub, str(path))
    assert_unchanged(sub, before)


def test_refuses_adata_lacking_the_promoter_key(setup):
    adata, _, _, path, _ = setup
    a = adata.copy()
    a.var = a.var.drop(columns=["promoter_seq"])
    before = a.copy()
    with pytest.raises(KeyError, match=r"trained with promoter sequences in var\['promoter_seq'\]"):
        ge.tl.impute_expression(a, str(path))
    assert_unchanged(a, before)
    # a renamed column is found through promoter_key
    b = adata.copy()
    b.var = b.var.rename(
        columns={"promoter_seq": "prom", "promoter_seq_tss_index": "prom_tss_index"}
    )
    out = ge.tl.impute_expression(b, str(path), promoter_key="prom", copy=True)
    assert out.uns["imputed"]["params"]["inputs"]["promoters"] == "var['prom']"


def test_log1p_values_declared_tpm_warn(setup):
    adata, held, _, path, _ = setup
    a = adata.copy()
    a.X = np.log1p(a.X)
    with pytest.warns(UserWarning, match="looks like log1p"):
        ge.tl.impute_expression(a, str(path))
    assert a.uns["imputed"]["params"]["units"] == "TPM"


def test_data_on_another_scale_than_the_model_warn(setup):
    """Values still plausible as TPM (max > 20) but 100x lower than the training data: the
    model compares the reference genes' level with its training level and says so."""
    adata, _, _, path, _ = setup
    a = adata.copy()
    a.X = a.X / 100
    assert np.nanmax(a.X) > 20
    with pytest.warns(UserWarning, match=r"off the model's training data: their means differ"):
        ge.tl.impute_expression(a, str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # the same data at its own scale: silent
        ge.tl.impute_expression(adata, str(path), copy=True)


def test_tpm_declared_log1p_is_an_error(setup):
    adata, _, _, path, _ = setup
    a = adata.copy()
    before = a.copy()
    assert np.nanmax(a.X) > 20
    with pytest.raises(ValueError, match=r"declared log1p\(TPM\) \(is_log1p=True\)"):
        ge.tl.impute_expression(a, str(path), is_log1p=True)
    assert_unchanged(a, before)


def test_config_json_lists_the_setup(setup):
    adata, _, model, path, _ = setup
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["format"] == "geneimpute.HybridImputer" and cfg["schema_version"] == 4
    assert cfg["geneimpute_version"] == ge.__version__
    s = cfg["setup"]
    assert s["features"] == ["promoter", "neighbors", "structure"]
    assert s["units"] == "TPM" and s["layer"] is None
    assert s["promoter_key"] == "promoter_seq"
    assert s["neighbors_key"] == "genomic_neighbors"
    assert s["tissue_correlation_key"] == "tissue_correlation"
    assert s["tissues"] == list(adata.obs_names)
    assert s["gene_feature_names"] == model.feature_names_ and s["gene_feature_names"]
    assert cfg["network"]["n_tissues"] == 37


def test_stored_neighbors_are_not_searched_again(setup, reference, monkeypatch):
    adata, _, model, _, _ = setup
    fresh = adata.copy()
    del fresh.uns["genomic_neighbors"]
    searched = ge.tl.impute_expression(fresh, model, copy=True)
    assert searched.uns["imputed"]["params"]["inputs"]["neighbors"] == "computed"
    monkeypatch.setattr(adata_inputs, "find_genomic_neighbors", _no_search)
    stored = ge.tl.impute_expression(adata, model, neighbors_key="genomic_neighbors", copy=True)
    assert stored.uns["imputed"]["params"]["inputs"]["neighbors"] == "uns['genomic_neighbors']"
    np.testing.assert_allclose(stored.layers["imputed"], searched.layers["imputed"], rtol=1e-6)
    np.testing.assert_allclose(stored.layers["imputed"], reference.layers["imputed"], rtol=1e-6)


def test_user_tissue_correlation_is_not_overwritten(setup):
    adata, _, model, _, user_C = setup
    a = adata.copy()
    ge.tl.impute_expression(a, model)
    kept = a.uns["tissue_correlation"]
    assert isinstance(kept, pd.DataFrame)
    pd.testing.assert_frame_equal(kept, user_C)
    # a different key that is absent is written, with params
    b = adata.copy()
    ge.tl.impute_expression(b, model, tissue_correlation_key="tc_used")
    assert set(b.uns["tc_used"]) == {"correlation", "params"}
    pd.testing.assert_frame_equal(b.uns["tissue_correlation"], user_C)


def test_neighbors_only_model_keeps_its_features(setup, tmp_path):
    adata, held, _, _, _ = setup
    model = ge.tl.train(adata, features=["neighbors", "structure"], **FAST)
    assert model.features_ == ["neighbors", "structure"]
    assert model.setup_.promoter_key is None
    model.save(tmp_path / "nb")
    cfg = json.loads((tmp_path / "nb" / "config.json").read_text())
    assert cfg["setup"]["features"] == ["neighbors", "structure"]
    assert cfg["config"]["components"] == [
        "transformer", "tissue_correlation", "distance", "neighbor_profile"
    ]  # fmt: skip
    back = HybridImputer.load(tmp_path / "nb")
    assert back.features_ == ["neighbors", "structure"] and not back.config.uses("cnn")
    a = adata.copy()
    a.var = a.var.drop(columns=["promoter_seq"])  # not needed by this model
    ge.tl.impute_expression(a, back)
    p = a.uns["imputed"]["params"]
    assert p["features"] == ["neighbors", "structure"]
    assert p["model_setup"]["features"] == ["neighbors", "structure"]
    assert a.layers["imputed_mask"][:, held].all() and "promoter_embedding" not in a.varm


def test_one_fold_is_a_value_error():
    with pytest.raises(ValueError, match="n_folds must be an integer >= 2, got 1"):
        HybridConfig(n_folds=1)
    with pytest.raises(ValueError, match="n_folds must be an integer >= 2, got 1"):
        HybridImputer(HybridConfig(n_folds=1))
    with pytest.raises(ValueError, match="n_folds must be an integer >= 2, got 1"):
        HybridImputer(n_folds=1)


def test_save_model_needs_model_none(setup, tmp_path):
    adata, _, model, path, _ = setup
    a = adata.copy()
    with pytest.raises(ValueError, match="save_model is for a model trained here"):
        ge.tl.impute_expression(a, model, save_model=tmp_path / "m")
    with pytest.raises(FileExistsError, match="exists; choose a new directory"):
        ge.tl.impute_expression(a, None, save_model=path)
    assert "imputed" not in a.layers and not (tmp_path / "m").exists()


def test_save_model_writes_a_loadable_directory(tmp_path):
    """model=None trains with the package defaults (a small AnnData keeps it quick)."""
    gtex = ge.datasets.gtex_tissues()
    a = gtex[:8, (gtex.var["chrom"] == "chr21").to_numpy()].copy()
    a.X[:, :15] = np.nan
    ge.tl.impute_expression(a, save_model=tmp_path / "m", accelerator="cpu")
    assert a.uns["imputed"]["params"]["model"] == f"trained here, saved to {tmp_path / 'm'}"
    back = HybridImputer.load(tmp_path / "m")
    assert back.tissues_ == list(a.obs_names)
    assert back.config.max_epochs == HybridConfig().max_epochs
    again = ge.tl.impute_expression(a, back, copy=True, key_added="imputed")
    np.testing.assert_allclose(again.layers["imputed"], a.layers["imputed"], rtol=1e-5)

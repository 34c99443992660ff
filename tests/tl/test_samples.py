"""Sample-level imputation on real GTEx v8 samples (11,125 samples x 59 ACMG genes)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import geneimpute as ge

from ..conftest import FAST

HELD = ["ENSG00000117118", "ENSG00000169174", "ENSG00000130164", "ENSG00000141510"]


@pytest.fixture(scope="module")
def samples():
    """GTEx v8 samples (log1p normalised counts) with the bundled GRCh38 coordinates."""
    d = ge.datasets.gtex_donors()
    d.var_names = d.var_names.str.split(".").str[0]
    coords = ge.datasets.gtex_tissues().var.loc[d.var_names]
    d.var = d.var.join(coords.drop(columns=[c for c in coords.columns if c in d.var.columns]))
    return d


@pytest.fixture(scope="module")
def imputed(samples):
    held = samples.var_names.isin(HELD)
    sdata = samples.copy()
    sdata.X = np.asarray(sdata.X, dtype=np.float32)
    sdata.X[:, held] = np.nan
    before = sdata.copy()
    tdata = ge.pp.tissue_medians(sdata, "tissue")
    model = ge.tl.train(tdata, is_log1p=True, **FAST)
    assert model.setup_.units == "log1p_TPM" and len(model.tissues_) == 53
    ge.tl.impute_samples(sdata, model, chunk_size=3000)  # units follow the model
    return sdata, before, held


def test_tissue_medians_match_pandas(samples):
    t = ge.pp.tissue_medians(samples, "tissue")
    expect = (
        pd.DataFrame(np.asarray(samples.X), columns=samples.var_names)
        .groupby(samples.obs["tissue"].to_numpy())
        .median()
    )
    assert t.shape == (53, 59)
    assert t.obs["n_samples"].sum() == samples.n_obs
    np.testing.assert_allclose(
        np.asarray(t.X), expect.loc[t.obs_names].to_numpy(), rtol=1e-5, atol=1e-5
    )


def test_impute_samples_fills_only_held_out_genes(imputed):
    sdata, before, held = imputed
    out, mask = sdata.layers["imputed"], sdata.layers["imputed_mask"]
    assert out.shape == mask.shape == (11125, 59)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(mask.any(axis=0), held)
    assert mask[:, held].all()
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[:, ~held], np.asarray(before.X)[:, ~held])
    np.testing.assert_array_equal(np.asarray(sdata.X), np.asarray(before.X))  # X untouched
    p = sdata.uns["imputed"]["params"]
    assert p["n_genes_imputed"] == 4 and p["n_values_imputed"] == 4 * 11125
    assert 0.0 <= p["beta"] <= 1.0
    assert "tissue_level_hybrid" in sdata.uns["imputed"]["timings"]
    assert p["model"] == "given" and p["is_log1p"] and p["units"] == "log1p_TPM"
    C = sdata.uns["tissue_correlation"]["correlation"]
    assert isinstance(C, pd.DataFrame) and C.shape == (53, 53)


def test_impute_samples_follows_tissue_profiles(imputed):
    """Each tissue's samples scatter around the tissue-level prediction of a held-out gene."""
    sdata, _, held = imputed
    prof = sdata.uns["imputed"]["tissue_profiles"]
    assert list(prof.columns) == list(sdata.var_names[held]) and prof.shape == (53, 4)
    pred = pd.DataFrame(sdata.layers["imputed"][:, held], columns=prof.columns)
    med = pred.groupby(sdata.obs["tissue"].to_numpy()).median().loc[prof.index]
    np.testing.assert_allclose(med.to_numpy(), prof.to_numpy(), atol=0.15)
    beta = sdata.uns["imputed"]["params"]["beta"]
    spread = pred.groupby(sdata.obs["tissue"].to_numpy()).std().to_numpy()
    assert (spread.max() > 0) == (beta > 0)


def test_impute_samples_h5ad_round_trip(imputed, tmp_path):
    sdata, _, _ = imputed
    sdata.write_h5ad(tmp_path / "s.h5ad")
    back = ad.read_h5ad(tmp_path / "s.h5ad")
    np.testing.assert_array_equal(back.layers["imputed"], sdata.layers["imputed"])
    assert back.uns["imputed"]["params"]["beta"] == sdata.uns["imputed"]["params"]["beta"]


def test_impute_samples_errors_leave_adata_unchanged(samples):
    s = samples[:500].copy()
    with pytest.raises(KeyError, match="no tissue column 'organ'"):
        ge.tl.impute_samples(s, tissue_key="organ", genes=s.var_names.isin(HELD))
    s.obs.loc[s.obs_names[:3], "tissue"] = np.nan
    with pytest.raises(ValueError, match="3 samples have no tissue"):
        ge.tl.impute_samples(s, genes=s.var_names.isin(HELD))
    s = samples[:500].copy()
    with pytest.raises(ValueError, match="no genes to impute"):
        ge.tl.impute_samples(s, is_log1p=True)
    assert "imputed" not in s.layers and "imputed" not in s.uns

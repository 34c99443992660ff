import numpy as np
import pandas as pd
import pytest

import geneimpute as ge


@pytest.fixture(scope="module")
def long():
    return ge.datasets.gtex_donors()


@pytest.fixture(scope="module")
def sub(long):
    """Real subset: the first 150 donors (all their samples)."""
    keep = long.obs["donor"].isin(sorted(long.obs["donor"].unique())[:150]).to_numpy()
    return long[keep].copy()


def test_gtex_donors_dataset(long):
    assert long.shape == (11125, 59)
    assert long.obs["donor"].nunique() == 713 and long.obs["tissue"].nunique() == 53
    assert set(long.obs["label_source"]) == {"gtex-viz v7", "Toil"}
    assert long.layers["counts"].dtype == np.int32 and long.layers["counts"].max() > 1000
    # X is log1p(count / size factor)
    i = 5
    np.testing.assert_allclose(
        long.X[i], np.log1p(long.layers["counts"][i] / long.obs["size_factor"].iloc[i]), rtol=1e-5
    )
    assert "BRCA1" in set(long.var["gene_name"])


def test_round_trip_long_donor_mudata_long(long):
    d = ge.pp.to_donor_layers(long)
    assert d.shape == (713, 59) and len(d.layers) == 53
    observed = sum(int(np.isfinite(d.layers[t]).any(axis=1).sum()) for t in d.layers)
    assert observed == long.n_obs  # 11,125 donor x tissue profiles, 29.4% of cells
    assert observed / (713 * 53) == pytest.approx(0.294, abs=0.001)
    m = ge.pp.to_mudata(d)
    assert set(m.mod) == set(d.layers) and m.mod["Whole Blood"].shape == (713, 59)
    back = ge.pp.from_donor_layers(ge.pp.from_mudata(m))
    assert sorted(back.obs_names) == sorted(long.obs_names)
    back = back[long.obs_names]
    assert np.array_equal(back.X, long.X)
    assert (back.obs["tissue"].to_numpy() == long.obs["tissue"].to_numpy()).all()
    assert (back.obs["donor"].to_numpy() == long.obs["donor"].to_numpy()).all()


def test_mudata_h5mu_round_trip(sub, tmp_path):
    import mudata as md

    m = ge.pp.to_mudata(ge.pp.to_donor_layers(sub))
    m.write(tmp_path / "d.h5mu")
    back = ge.pp.from_mudata(md.read_h5mu(tmp_path / "d.h5mu"))
    np.testing.assert_array_equal(back.layers["Lung"], ge.pp.to_donor_layers(sub).layers["Lung"])


def test_duplicated_samples_error(sub):
    ad2 = sub.copy()
    names = ad2.obs_names.to_numpy().copy()
    names[1] = names[0]
    ad2.obs_names = names
    with pytest.raises(ValueError, match="1 duplicated sample IDs"):
        ge.pp.to_donor_layers(ad2)
    ad3 = sub.copy()
    first = ad3.obs.iloc[0]
    other = np.flatnonzero(ad3.obs["donor"].to_numpy() != first["donor"])[0]
    ad3.obs.iloc[other, ad3.obs.columns.get_loc("donor")] = first["donor"]
    ad3.obs.iloc[other, ad3.obs.columns.get_loc("tissue")] = first["tissue"]
    with pytest.raises(ValueError, match="donor x tissue pairs have several samples"):
        ge.pp.to_donor_layers(ad3)


def test_unknown_and_missing_labels(sub, caplog):
    with pytest.raises(ValueError, match=r"unknown tissue labels \['Lung'\]"):
        ge.pp.to_donor_layers(sub, tissues=[t for t in sub.obs["tissue"].unique() if t != "Lung"])
    ad2 = sub.copy()
    ad2.obs["tissue"] = ad2.obs["tissue"].astype(object)
    ad2.obs.iloc[:3, ad2.obs.columns.get_loc("tissue")] = np.nan
    with caplog.at_level("WARNING", logger="geneimpute"):
        d = ge.pp.to_donor_layers(ad2)
    assert d.uns["donor_layout"]["n_unlabelled_samples"] == 3
    assert "3 samples without donor or tissue" in caplog.text


def test_label_samples_reports_unlabelled(sub):
    table = pd.DataFrame({"SAMPID": sub.obs_names[:10], "SMTSD": sub.obs["tissue"].iloc[:10]})
    ad2 = sub.copy()
    ge.pp.label_samples(ad2, table, key_added="tissue2")
    assert ad2.obs["tissue2"].notna().sum() == 10
    assert ad2.uns["tissue2_labels"]["n_unlabelled"] == sub.n_obs - 10


@pytest.mark.parametrize("method", ["mean", "teebot", "knn", "hybrid"])
def test_impute_donors_fills_unsampled(sub, method):
    d = ge.pp.to_donor_layers(sub)
    kw = (
        {"max_epochs": 2, "xgb_n_estimators": 20, "accelerator": "cpu"}
        if method == "hybrid"
        else {}
    )
    ge.tl.impute_donors(d, method=method, **kw)
    for t in ("Lung", "Whole Blood"):
        orig, imp, mask = d.layers[t], d.layers[f"{t}_imputed"], d.layers[f"{t}_imputed_mask"]
        seen = np.isfinite(orig).all(axis=1)
        assert np.array_equal(imp[seen], orig[seen])
        assert mask[~seen].all() and not mask[seen].any()
        assert np.isfinite(imp).all()
    assert d.uns["donor_imputation"]["params"]["method"] == method

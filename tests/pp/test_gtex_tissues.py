"""GTEx SMTSD tissue names -> the 37 HPA tissue names (gtex_tissue_map, merge_gtex_tissues)."""

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import geneimpute as ge
from geneimpute.pp._gtex_tissues import GTEX_TISSUE_MAP, HPA_TISSUES, _match

#: the 54 GTEx v8 SMTSD names (GTEx portal, v8 SampleAttributesDS)
GTEX_V8 = [n for n in GTEX_TISSUE_MAP if n != "Cells - Transformed fibroblasts"]
UNMAPPED = {
    "Artery - Aorta",
    "Artery - Coronary",
    "Artery - Tibial",
    "Nerve - Tibial",
    "Whole Blood",
    "Cells - Cultured fibroblasts",
    "Cells - Transformed fibroblasts",
    "Cells - EBV-transformed lymphocytes",
}


@pytest.fixture(scope="module")
def gtex():
    return ge.datasets.gtex_tissues()


@pytest.fixture(scope="module")
def donors():
    return ge.datasets.gtex_donors()


@pytest.fixture(scope="module")
def smtsd(gtex):
    """Real TPM rows of 50 genes under the 54 GTEx v8 SMTSD names.

    Each GTEx tissue gets the real HPA row of its tissue, scaled by a per-member factor (so the
    members of one HPA tissue differ), with some NaN; tissues with no HPA tissue get the real
    ``skin`` row.
    """
    sub = gtex[:, :50]
    X = np.empty((len(GTEX_V8), sub.n_vars), dtype=np.float32)
    for i, name in enumerate(GTEX_V8):
        src = GTEX_TISSUE_MAP[name] or "skin"
        X[i] = np.asarray(sub[src].X[0]) * np.float32(1 + 0.1 * i)
    X[GTEX_V8.index("Brain - Cortex"), :3] = np.nan  # NaN in one member of three
    for n in ("Colon - Sigmoid", "Colon - Transverse"):
        X[GTEX_V8.index(n), 5] = np.nan  # NaN in every member of colon
    a = ad.AnnData(X=X, obs=pd.DataFrame(index=pd.Index(GTEX_V8)), var=sub.var[["gene_name"]])
    a.layers["log1p"] = np.log1p(X)
    return a


def _merge_quiet(a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ge.DataWarning)
        return ge.pp.merge_gtex_tissues(a, **kw)


def test_hpa_names_are_the_bundled_table(gtex):
    assert list(gtex.obs_names) == list(HPA_TISSUES)


def test_map_table():
    m = ge.pp.gtex_tissue_map()
    assert list(m.columns) == ["smtsd", "tissue", "note"]
    assert len(m) == 55 and m["smtsd"].is_unique
    assert set(m["smtsd"]) == set(GTEX_V8) | {"Cells - Transformed fibroblasts"}
    assert len(GTEX_V8) == 54
    assert set(m.loc[m["tissue"] == "", "smtsd"]) == UNMAPPED
    assert set(m["tissue"]) - {""} <= set(HPA_TISSUES)
    # every HPA tissue except retina is reached from some GTEx name
    assert set(m["tissue"]) - {""} == set(HPA_TISSUES) - {"retina"}
    row = m.set_index("smtsd")
    assert row.loc["Brain - Cortex", "tissue"] == "cerebral cortex"
    assert row.loc["Uterus", "tissue"] == "endometrium"
    assert "our reading" in row.loc["Brain - Anterior cingulate cortex (BA24)", "note"]
    assert len(ge.pp.gtex_tissue_map(unmapped=False)) == 55 - len(UNMAPPED)
    assert ":func:`gtex_tissue_map`" in ge.pp.merge_gtex_tissues.__doc__
    assert "our reading" in ge.pp.gtex_tissue_map.__doc__


def test_every_gtex_donors_tissue_is_in_the_map(donors):
    names = set(donors.obs["tissue"].astype(str))
    assert len(names) == 53
    assert names <= set(GTEX_TISSUE_MAP)


def test_relabel_samples_of_gtex_donors(donors):
    a = donors[::20].copy()
    before = a.obs.copy()
    with pytest.warns(ge.DataWarning, match="Whole Blood") as rec:
        out = ge.pp.merge_gtex_tissues(a, tissue_key="tissue", copy=True)
    assert rec[0].filename == __file__  # the warning points at the caller
    pd.testing.assert_frame_equal(a.obs, before)  # copy=True leaves the input alone
    hpa = out.obs["tissue_hpa"]
    assert isinstance(hpa.dtype, pd.CategoricalDtype)
    assert list(hpa.cat.categories) == [t for t in HPA_TISSUES if t in set(hpa.dropna())]
    expected = a.obs["tissue"].astype(str).map(GTEX_TISSUE_MAP)
    assert (hpa.isna().to_numpy() == expected.isna().to_numpy()).all()
    ok = hpa.notna().to_numpy()
    assert (hpa[ok].astype(str).to_numpy() == expected[ok].to_numpy()).all()
    assert set(a.obs.loc[~ok, "tissue"].astype(str)) <= UNMAPPED
    assert np.array_equal(out.X, a.X)
    members = out.uns["gtex_tissue_merge"]["members"]
    assert set(members["cerebral cortex"]) <= {
        "Brain - Cortex",
        "Brain - Frontal Cortex (BA9)",
        "Brain - Anterior cingulate cortex (BA24)",
    }
    # in place: returns None and writes the column
    assert _merge_quiet(a, tissue_key="tissue") is None
    assert a.obs["tissue_hpa"].equals(out.obs["tissue_hpa"])


def test_relabel_then_tissue_medians(donors):
    a = donors[donors.obs["tissue"].str.startswith("Brain - C").to_numpy()].copy()
    ge.pp.merge_gtex_tissues(a, tissue_key="tissue")
    t = ge.pp.tissue_medians(a, "tissue_hpa")
    assert set(t.obs_names) == {"caudate", "cerebellum", "cerebral cortex"}


def test_merged_values_are_the_member_means(smtsd):
    with pytest.warns(ge.DataWarning) as rec:
        out = ge.pp.merge_gtex_tissues(smtsd)
    msgs = [str(w.message) for w in rec if issubclass(w.category, ge.DataWarning)]
    assert len(msgs) == 1 and rec[0].filename == __file__
    for name in UNMAPPED - {"Cells - Transformed fibroblasts"}:  # dropped tissues are named
        assert name in msgs[0]
    assert list(out.obs_names) == [t for t in HPA_TISSUES if t != "retina"]
    assert out.shape == (36, 50) and out.X.dtype == np.float32
    pd.testing.assert_frame_equal(out.var, smtsd.var)
    info = out.uns["gtex_tissue_merge"]
    assert info["how"] == "mean"
    assert sorted(info["dropped"]) == sorted(UNMAPPED - {"Cells - Transformed fibroblasts"})
    for hpa in out.obs_names:
        members = [n for n in GTEX_V8 if GTEX_TISSUE_MAP[n] == hpa]
        assert sorted(info["members"][hpa]) == sorted(members)
        assert out.obs.loc[hpa, "n_members"] == len(members)
        block = np.asarray(smtsd[members].X, dtype=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanmean(block, axis=0)
            expected_log = np.nanmean(np.asarray(smtsd[members].layers["log1p"], float), axis=0)
        np.testing.assert_allclose(out[hpa].X[0], expected, rtol=1e-6, equal_nan=True)
        np.testing.assert_allclose(
            out[hpa].layers["log1p"][0], expected_log, rtol=1e-6, equal_nan=True
        )
    # NaN-aware: cortex ignores the NaN member; colon's all-NaN gene stays NaN
    assert np.isfinite(out["cerebral cortex"].X[0, :3]).all()
    assert np.isnan(out["colon"].X[0, 5]) and np.isfinite(out["colon"].X[0, 4])
    # a single member passes through unchanged
    np.testing.assert_array_equal(out["liver"].X[0], smtsd["Liver"].X[0])


def test_median_mode_and_layer(smtsd):
    out = _merge_quiet(smtsd, how="median")
    assert out.uns["gtex_tissue_merge"]["how"] == "median"
    members = [n for n in GTEX_V8 if GTEX_TISSUE_MAP[n] == "esophagus"]
    assert len(members) == 3
    expected = np.nanmedian(np.asarray(smtsd[members].X, float), axis=0)
    np.testing.assert_allclose(out["esophagus"].X[0], expected, rtol=1e-6)
    lay = _merge_quiet(smtsd, layer="log1p")
    assert not lay.layers and lay.uns["gtex_tissue_merge"]["layer"] == "log1p"
    np.testing.assert_allclose(lay.X, _merge_quiet(smtsd).layers["log1p"], equal_nan=True)


def test_names_match_case_and_whitespace_and_hpa_names_pass_through(smtsd, gtex):
    keep = [
        "Brain - Cortex",
        "Brain - Frontal Cortex (BA9)",
        "Liver",
        "Uterus",
    ]
    a = smtsd[keep].copy()
    a.obs_names = ["  brain - CORTEX ", "Brain - Frontal Cortex (BA9)", "LIVER", "Uterus"]
    lung = gtex[["lung"], :50].copy()
    lung.var = a.var
    mixed = ad.concat([a, lung], merge="same")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ge.DataWarning)  # nothing dropped, nothing warned
        out = ge.pp.merge_gtex_tissues(mixed)
    assert list(out.obs_names) == ["cerebral cortex", "endometrium", "liver", "lung"]
    assert out.uns["gtex_tissue_merge"]["members"]["cerebral cortex"] == [
        "  brain - CORTEX ",
        "Brain - Frontal Cortex (BA9)",
    ]
    np.testing.assert_array_equal(out["lung"].X[0], gtex["lung"].X[0, :50])


def test_unknown_names_error_lists_all_and_leaves_input_unchanged(smtsd):
    a = smtsd.copy()
    a.obs_names = [*a.obs_names[:-2], "Brain - Cortexx", "Blood"]
    before = a.copy()
    with pytest.raises(ValueError, match="gtex_tissue_map") as err:
        ge.pp.merge_gtex_tissues(a)
    assert "'Brain - Cortexx'" in str(err.value) and "'Blood'" in str(err.value)
    assert list(a.obs_names) == list(before.obs_names) and not a.uns
    assert np.array_equal(a.X, before.X, equal_nan=True)
    assert list(a.layers) == ["log1p"]
    # samples: same error, obs untouched
    s = ad.AnnData(
        X=np.zeros((3, 2), np.float32),
        obs=pd.DataFrame({"tissue": ["Liver", "Brain - Cortexx", "Blood"]}, index=list("abc")),
    )
    obs = s.obs.copy()
    with pytest.raises(ValueError, match="Cortexx.*Blood"):
        ge.pp.merge_gtex_tissues(s, tissue_key="tissue")
    pd.testing.assert_frame_equal(s.obs, obs)
    assert not s.uns


@pytest.mark.filterwarnings("ignore:Observation names are not unique")
def test_duplicates_and_clashes_are_errors(smtsd, gtex):
    dup = ad.concat([smtsd[["Liver"]], smtsd[["Liver"]]])
    with pytest.raises(ValueError, match="duplicated"):
        ge.pp.merge_gtex_tissues(dup)
    case_dup = smtsd[["Liver", "Lung"]].copy()
    case_dup.obs_names = ["Liver", "liver"]
    with pytest.raises(ValueError, match="duplicated"):
        ge.pp.merge_gtex_tissues(case_dup)
    cortex = gtex[["cerebral cortex"], :50].copy()
    cortex.var = smtsd.var
    clash = ad.concat([smtsd[["Brain - Cortex"]], cortex], merge="same")
    with pytest.raises(ValueError, match="HPA tissue name together"):
        ge.pp.merge_gtex_tissues(clash)
    only_blood = smtsd[["Whole Blood", "Artery - Aorta"]].copy()
    with pytest.raises(ValueError, match="no row"):
        _merge_quiet(only_blood)
    with pytest.raises(ValueError, match="how"):
        ge.pp.merge_gtex_tissues(smtsd, how="max")
    with pytest.raises(KeyError, match="nope"):
        ge.pp.merge_gtex_tissues(smtsd, tissue_key="nope")


def test_h5ad_round_trip(smtsd, tmp_path):
    out = _merge_quiet(smtsd)
    out.write_h5ad(tmp_path / "hpa.h5ad")
    back = ad.read_h5ad(tmp_path / "hpa.h5ad")
    assert list(back.obs_names) == list(out.obs_names)
    np.testing.assert_array_equal(back.X, out.X)
    np.testing.assert_array_equal(back.layers["log1p"], out.layers["log1p"])
    pd.testing.assert_frame_equal(back.obs, out.obs)
    info, back_info = out.uns["gtex_tissue_merge"], back.uns["gtex_tissue_merge"]
    assert back_info["how"] == "mean"
    assert {k: list(v) for k, v in back_info["members"].items()} == info["members"]
    assert sorted(back_info["dropped"]) == sorted(info["dropped"])
    # and the merged table is what a model trained on the bundled names expects
    assert set(back.obs_names) <= set(HPA_TISSUES)


def test_h5ad_round_trip_of_relabelled_samples(donors, tmp_path):
    a = donors[::50].copy()
    _merge_quiet(a, tissue_key="tissue")
    a.write_h5ad(tmp_path / "s.h5ad")
    back = ad.read_h5ad(tmp_path / "s.h5ad")
    pd.testing.assert_series_equal(back.obs["tissue_hpa"], a.obs["tissue_hpa"])


def test_gtex_tissue_ids_with_underscores_match():
    """GTEx's tissue IDs (``Brain_Cortex``, as in the GTEx portal files) are the same names."""
    ids = [
        "Brain_Frontal_Cortex_BA9",
        "Skin_Sun_Exposed_Lower_leg",
        "Brain_Spinal_cord_cervical_c-1",
        "Whole_Blood",
    ]
    hpa, unknown, unmapped = _match(pd.Index(ids))
    assert hpa == ["cerebral cortex", "skin", "spinal cord", None]
    assert unknown == [] and unmapped == ["Whole_Blood"]

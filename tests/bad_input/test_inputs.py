"""Bad inputs of the public API that were silent or unclear: chromosome names written two ways,
unreadable keys, output keys a default would replace, and the issue's unclear messages. Each
test asserts the message and that the caller's AnnData is unchanged."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import geneimpute as ge
from geneimpute._adata import normalize_chrom

from ..conftest import assert_unchanged, hold_out

HYBRID = "gtex_v8_37tissues"


@pytest.fixture
def missing():
    """chr21/22 with 30 genes' profiles NaN (a fresh copy per test)."""
    return hold_out(30)[0]


def _quiet(call, *args, **kwargs):
    """``call(*args, **kwargs)`` without its DataWarnings (those of a valid call)."""
    with warnings.catch_warnings(action="ignore", category=ge.DataWarning):
        return call(*args, **kwargs)


# -- 2. chromosome names -----------------------------------------------------------------


def test_chromosome_names_are_normalised_once():
    names = ["1", "chr1", " chr2 ", "MT", "M", "chrMT", "chrM", "X"]
    assert normalize_chrom(names).tolist() == [
        *["chr1", "chr1", "chr2"],
        *["chrM"] * 4,
        "chrX",
    ]


@pytest.mark.parametrize(
    ("impute", "key"), [("impute_expression", "imputed"), ("impute_neighbors", "imputed_distance")]
)
def test_mixed_chromosome_names_give_the_consistent_results_and_a_warning(missing, impute, key):
    call = getattr(ge.tl, impute)
    kw = {"model": HYBRID} if impute == "impute_expression" else {}
    consistent = _quiet(call, missing, copy=True, **kw)
    mixed = missing.copy()
    chrom = mixed.var["chrom"].astype(str).to_numpy()
    chrom[::2] = [c.removeprefix("chr") for c in chrom[::2]]
    mixed.var["chrom"] = chrom
    before = mixed.copy()
    match = r"var\['chrom'\] names 2 chromosomes in more than one way \(e\.g\. \['21', 'chr21'\]"
    with pytest.warns(ge.DataWarning, match=match):
        out = call(mixed, copy=True, **kw)
    assert_unchanged(mixed, before)
    for name in (key, f"{key}_lower", f"{key}_upper"):
        assert np.array_equal(out.layers[name], consistent.layers[name], equal_nan=True)


# -- 7. key_added ------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["a/b", "", 3, None])
@pytest.mark.parametrize(
    "call",
    [
        lambda a, key: ge.tl.impute_expression(a, HYBRID, key_added=key),
        lambda a, key: ge.tl.impute_expression(a, HYBRID, embedding_key=key),
        lambda a, key: ge.tl.impute_neighbors(a, key_added=key),
        lambda a, key: ge.tl.impute_samples(a, key_added=key),
        lambda a, key: ge.tl.impute_from_regulators(a, key_added=key),
        lambda a, key: ge.tl.impute_donors(a, method="mean", key_added=key),
        lambda a, key: ge.pp.neighbor_features(a, key_added=key),
        lambda a, key: ge.pp.tissue_correlation(a, key_added=key),
        lambda a, key: ge.pp.annotate_genes(a, a.var, key_added=key),
    ],
    ids=[
        "impute_expression",
        "embedding_key",
        "impute_neighbors",
        "impute_samples",
        "impute_from_regulators",
        "impute_donors",
        "neighbor_features",
        "tissue_correlation",
        "annotate_genes",
    ],
)
def test_an_unwritable_key_is_refused_before_any_write(missing, call, key):
    before = missing.copy()
    error = ValueError if isinstance(key, str) else TypeError
    with pytest.raises(error, match=r"must be a non-empty string without '/' \(an \.h5ad key\)"):
        call(missing, key)
    assert_unchanged(missing, before)


# -- 9. output keys of an earlier call ---------------------------------------------------


@pytest.mark.parametrize("copy", [False, True])
def test_a_default_key_never_replaces_a_users_layer(missing, copy):
    mine = np.zeros(missing.shape, np.float32)
    missing.layers["imputed"] = mine.copy()
    before = missing.copy()
    with pytest.raises(
        ValueError,
        match=r"adata already holds layers\['imputed'\], which the default "
        r"key_added='imputed' would replace: pass key_added='imputed' to replace them",
    ):
        ge.tl.impute_expression(missing, HYBRID, copy=copy)
    assert_unchanged(missing, before)
    assert np.array_equal(missing.layers["imputed"], mine)


@pytest.mark.parametrize(
    ("impute", "key"),
    [
        ("impute_neighbors", "imputed_distance"),
        ("impute_samples", "imputed"),
        ("impute_from_regulators", "imputed_regulators"),
    ],
)
def test_every_imputer_refuses_to_replace_an_earlier_result_by_default(missing, impute, key):
    missing.uns[key] = {"params": {"mine": True}}
    missing.layers[f"{key}_mask"] = np.zeros(missing.shape, bool)
    before = missing.copy()
    match = rf"already holds layers\['{key}_mask'\], uns\['{key}'\], which the default"
    with pytest.raises(ValueError, match=match):
        getattr(ge.tl, impute)(missing)
    assert_unchanged(missing, before)
    assert missing.uns[key] == {"params": {"mine": True}}


def test_naming_the_key_replaces_an_earlier_result(missing):
    _quiet(ge.tl.impute_neighbors, missing, k=5)
    first = missing.layers["imputed_distance"].copy()
    with pytest.raises(ValueError, match="pass key_added='imputed_distance' to replace them"):
        ge.tl.impute_neighbors(missing, k=20)
    _quiet(ge.tl.impute_neighbors, missing, k=20, key_added="imputed_distance")
    assert missing.uns["imputed_distance"]["params"]["k"] == 20
    assert not np.array_equal(missing.layers["imputed_distance"], first, equal_nan=True)


# -- 10. unclear or silent ---------------------------------------------------------------


@pytest.mark.parametrize(("value", "shown"), [(np.nan, "nan"), (249.7, "249.7")])
def test_a_nan_or_fractional_tss_index_is_named(missing, value, shown):
    gene = missing.var_names[3]
    tss = missing.var["promoter_seq_tss_index"].astype(float)
    tss[gene] = value
    missing.var["promoter_seq_tss_index"] = tss
    before = missing.copy()
    match = (
        rf"var\['promoter_seq'\]: 1 promoters have a TSS index that is NaN or not a whole "
        rf"number, e.g. gene {gene}: {shown}; give each 0-based TSS position as an integer"
    )
    with pytest.raises(ValueError, match=match):
        _quiet(ge.tl.impute_expression, missing, HYBRID)
    assert_unchanged(missing, before)
    with pytest.raises(ValueError, match=r"TSS index that is NaN or not a whole number"):
        ge.tl.predict_profiles(missing, "gtex_v8_37tissues_promoter")
    assert_unchanged(missing, before)


def test_a_fractional_tss_index_of_a_mapping_is_refused():
    seq = "ACGT" * 75
    with pytest.raises(ValueError, match=r"e.g. gene b: 249.7"):
        ge.tl.predict_profiles({"a": seq, "b": seq}, tss_index={"a": 249, "b": 249.7})


def test_genes_naming_complete_genes_warns_that_nothing_is_imputed(missing):
    complete = np.isfinite(missing.X).all(axis=0)
    genes = complete & (np.cumsum(complete) <= 4)
    before = missing.copy()
    with pytest.warns(
        ge.DataWarning,
        match=r"4 genes chosen with genes= are measured in every tissue, so nothing is "
        r"imputed for them .*; pass overwrite=True to re-estimate their values",
    ):
        out = ge.tl.impute_neighbors(missing, genes, copy=True)
    assert out.uns["imputed_distance"]["params"]["n_values_imputed"] == 0
    assert_unchanged(missing, before)


@pytest.mark.filterwarnings("ignore:Observation names are not unique")
def test_duplicated_sample_ids_are_refused_before_training():
    adata = ge.datasets.gtex_tf_samples()
    adata.obs_names = [adata.obs_names[0], *adata.obs_names[:-1]]
    before = adata.copy()
    with pytest.raises(ValueError, match=r"adata.obs_names \(samples\) has duplicates, e.g. \["):
        ge.tl.train_regulators(adata, max_epochs=1)
    assert_unchanged(adata, before)


def test_an_all_nan_tissue_is_named_without_numpy_warnings(missing):
    missing.X[3] = np.nan
    before = missing.copy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = ge.tl.impute_expression(missing, HYBRID, copy=True)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], caught
    named = f"1 tissues have no measured value (e.g. ['{missing.obs_names[3]}'])"
    assert any(named in str(w.message) for w in caught)
    assert np.isfinite(out.layers["imputed"][3]).all()
    assert_unchanged(missing, before)


@pytest.mark.parametrize("call", [ge.tl.impute_neighbors, ge.tl.train])
def test_an_anndata_without_tissues_is_told_so(missing, call):
    empty = missing[:0].copy()
    before = empty.copy()
    with pytest.raises(ValueError, match=r"^adata has no tissues \(adata.n_obs is 0\)$"):
        call(empty)
    assert_unchanged(empty, before)

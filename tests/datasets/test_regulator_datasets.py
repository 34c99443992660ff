import anndata as ad
import numpy as np
import pandas as pd
import pytest

import geneimpute as ge

COHORTS = ["BRCA", "COAD", "HNSC", "KIRC", "KIRP", "LIHC", "LUAD", "LUSC", "PRAD", "STAD", "THCA"]


@pytest.fixture(scope="module")
def tcga():
    return ge.datasets.tcga_cohorts()


@pytest.fixture(scope="module")
def gtex_tf():
    return ge.datasets.gtex_tf_samples()


def test_tcga_shape_and_columns(tcga):
    assert tcga.shape == (1204, 3960)
    assert list(tcga.obs.columns) == ["cohort", "sample_type", "donor"]
    for col in ("gene_symbol", "ensembl_id", "entrez_id", "regulator_type", "n_cohorts_measured"):
        assert col in tcga.var.columns
    assert not tcga.obs_names.duplicated().any() and not tcga.var_names.duplicated().any()
    assert (tcga.var["gene_symbol"].astype(str) == tcga.var_names).all()
    assert tcga.X.dtype == np.float32
    assert list(tcga.obs["cohort"].cat.categories) == COHORTS
    assert list(tcga.obs["sample_type"].cat.categories) == ["tumour", "normal"]
    assert set(tcga.var["regulator_type"].cat.categories) == {"RBP/SF", "TF", ""}
    assert tcga.var["n_cohorts_measured"].between(1, 11).all()
    # every symbol maps to an Entrez and an Ensembl ID (62 older symbols through GENCODE v26)
    assert (tcga.var["entrez_id"].astype(str) != "").all()
    assert tcga.var["ensembl_id"].astype(str).str.startswith("ENSG").all()
    info = tcga.uns["dataset"]
    assert info["name"] == "tcga_cohorts"
    assert info["units"] == "log2 normalised RNA-seq (MetaGSCA)"


def test_tcga_samples_pair_tumour_and_normal(tcga):
    obs = tcga.obs
    assert obs["cohort"].nunique() == 11
    assert obs["sample_type"].value_counts().to_dict() == {"tumour": 602, "normal": 602}
    assert obs["donor"].nunique() == 602
    assert obs_names_match(obs)
    per_donor = obs.groupby("donor", observed=True)
    assert (per_donor["sample_type"].nunique() == 2).all() and (per_donor.size() == 2).all()
    assert (per_donor["cohort"].nunique() == 1).all()
    assert obs.groupby("cohort", observed=True).size()["BRCA"] == 226


def obs_names_match(obs: pd.DataFrame) -> bool:
    names = obs.index.to_series()
    code = names.str[13:15].map({"01": "tumour", "11": "normal"})
    return bool(
        names.str.startswith("TCGA-").all()
        and (names.str[:12] == obs["donor"]).all()
        and (code == obs["sample_type"].astype(str)).all()
        and not names.str.contains(".", regex=False).any()
    )


def test_tcga_missing_values_are_cohort_blocks(tcga):
    X = np.asarray(tcga.X)
    nan = np.isnan(X)
    assert nan.mean() == pytest.approx(0.0415, abs=0.001)  # "about 4.2%"
    cohort = tcga.obs["cohort"].to_numpy()
    n_listed = np.zeros(tcga.n_vars, dtype=int)
    n_partial = {}
    for c in COHORTS:
        block = nan[cohort == c]
        all_nan = block.all(axis=0)
        n_listed += ~all_nan
        partial = block.any(axis=0) & ~all_nan
        n_partial[c] = int(block[:, partial].sum())
    # a (cohort, gene) block is all NaN exactly when the cohort does not list the gene
    np.testing.assert_array_equal(n_listed, tcga.var["n_cohorts_measured"].to_numpy())
    assert (tcga.var["n_cohorts_measured"] == 11).sum() == 3556
    # apart from those blocks, only the COAD and STAD source matrices hold NaN (as given)
    assert n_partial.pop("COAD") == 1078 and n_partial.pop("STAD") == 1870
    assert set(n_partial.values()) == {0}
    counts = tcga.uns["dataset"]["counts"]
    assert counts["n_nan_unlisted_gene"] + counts["n_nan_inside_source"] == int(nan.sum())
    assert counts["n_nan_inside_source"] == 2948
    finite = X[~nan]
    assert finite.min() == pytest.approx(-11.1) and finite.max() == pytest.approx(23.14)


def test_tcga_regulators(tcga):
    reg = tcga.var["regulator_type"].astype(str)
    # SOURCES.md: 221 of the 1,350 Eyras RBPs / splicing factors are in the MetaGSCA genes
    assert (reg == "RBP/SF").sum() == 221
    # 428 SEPIRA TFs, 27 of them also in the RBP list (labelled RBP/SF)
    assert (reg == "TF").sum() == 401
    assert {"HNRNPA1", "ELAVL1", "DDX5", "DDX17", "EWSR1"} <= set(reg.index[reg == "RBP/SF"])
    assert {"MYC", "TP53", "STAT3", "ESR1"} <= set(reg.index[reg == "TF"])
    assert reg["YBX1"] == "RBP/SF"  # in both lists
    assert reg["T"] == "TF"  # older symbol of TBXT, mapped through GENCODE v26


def test_gtex_tf_samples_shape_and_columns(gtex_tf):
    assert gtex_tf.shape == (520, 467)
    assert list(gtex_tf.obs.columns) == ["tissue", "sample_type", "donor"]
    for col in ("entrez_id", "gene_symbol", "ensembl_id", "regulator_type"):
        assert col in gtex_tf.var.columns
    assert not gtex_tf.obs_names.duplicated().any() and not gtex_tf.var_names.duplicated().any()
    assert gtex_tf.obs_names.str.startswith("GTEx_").all()
    assert gtex_tf.obs_names[0] == "GTEx_Adipose_Tissue_1"
    tissues = gtex_tf.obs["tissue"]
    assert tissues.dtype == "category" and tissues.nunique() == 26
    assert set(tissues.value_counts()) == {20}
    assert {"Lung", "Liver", "Blood", "Testis"} <= set(tissues.cat.categories)
    assert (gtex_tf.obs["sample_type"] == "normal tissue").all()
    assert (gtex_tf.obs["donor"].astype(str) == "").all()
    assert not gtex_tf.var_names.str.startswith("ENTREZ:").any()  # all 467 Entrez IDs map
    assert gtex_tf.var["entrez_id"].astype(str).str.isdigit().all()
    assert (gtex_tf.var["ensembl_id"].astype(str) == "").sum() == 3
    assert gtex_tf.uns["dataset"]["units"].startswith("as given by SEPIRA")


def test_gtex_tf_samples_values(gtex_tf):
    X = np.asarray(gtex_tf.X)
    assert X.dtype == np.float32 and np.isfinite(X).all() and X.min() >= 0
    assert 12 < X.max() < 13 and not gtex_tf.layers
    # known biology: surfactant protein C is a lung gene
    sftpc = gtex_tf[:, "SFTPC"].to_df()["SFTPC"].groupby(gtex_tf.obs["tissue"], observed=True)
    assert sftpc.mean().idxmax() == "Lung"


def test_gtex_tf_samples_regulators(gtex_tf):
    reg = gtex_tf.var["regulator_type"].astype(str)
    # 85 of the 467 genes are SEPIRA TFs; HMGB3 is also an Eyras RBP, so it is labelled RBP/SF
    assert gtex_tf.uns["dataset"]["counts"]["n_in_tfeid"] == 85
    assert (reg == "TF").sum() == 84
    assert (reg == "RBP/SF").sum() == 21
    assert reg["HMGB3"] == "RBP/SF"
    assert {"NKX2-1", "FOXJ1", "FOXA2", "TBX4"} <= set(reg.index[reg == "TF"])


@pytest.mark.parametrize("loader", [ge.datasets.tcga_cohorts, ge.datasets.gtex_tf_samples])
def test_h5ad_round_trip(loader, tmp_path):
    a = loader()
    path = tmp_path / "a.h5ad"
    a.write_h5ad(path)
    b = ad.read_h5ad(path)
    np.testing.assert_array_equal(np.asarray(a.X), np.asarray(b.X))  # NaN compare equal
    pd.testing.assert_frame_equal(a.obs, b.obs)
    pd.testing.assert_frame_equal(a.var, b.var)
    assert list(a.layers) == list(b.layers)
    for key in a.layers:
        np.testing.assert_array_equal(np.asarray(a.layers[key]), np.asarray(b.layers[key]))
    assert a.uns["dataset"]["name"] == b.uns["dataset"]["name"]
    assert dict(a.uns["dataset"]["counts"]) == dict(b.uns["dataset"]["counts"])

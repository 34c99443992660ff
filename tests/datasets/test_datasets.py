import numpy as np

from geneimpute.pp._promoters import one_hot_encode


def test_gtex_tissues_shape_and_columns(gtex):
    assert gtex.shape == (37, 18241)
    for col in (
        "gene_name",
        "chrom",
        "start",
        "end",
        "strand",
        "tss",
        "promoter_seq",
        "promoter_seq_tss_index",
        "promoter_source",
    ):
        assert col in gtex.var.columns
    assert not gtex.var_names.duplicated().any()
    assert gtex.var_names.str.startswith("ENSG").all()
    X = np.asarray(gtex.X)
    assert np.isfinite(X).all() and X.min() >= 0
    assert {"liver", "testis", "cerebellum", "skeletal muscle"} <= set(gtex.obs_names)


def test_gtex_tissues_known_biology(gtex):
    alb = gtex.var_names[gtex.var["gene_name"] == "ALB"][0]
    liver = gtex[:, alb].to_df()[alb]
    assert liver.idxmax() == "liver" and liver["liver"] > 1000


def test_gtex_tissues_coordinates_and_promoters(gtex):
    var = gtex.var
    assert set(var["strand"]) == {"+", "-"}
    assert (var["start"] <= var["tss"]).all() and (var["tss"] < var["end"]).all()
    counts = var["promoter_source"].value_counts()
    assert counts["EPDnew_300bp"] == 7579 and counts["EPDnew_60bp"] == 7481
    lens = var["promoter_seq"].str.len()
    assert set(lens[var["promoter_source"] == "EPDnew_300bp"]) == {300}
    # one EPDnew 60 bp promoter in the source is 59 bp (cut at +9)
    assert lens[var["promoter_source"] == "EPDnew_60bp"].value_counts().to_dict() == {
        60: 7480,
        59: 1,
    }
    assert (var.loc[var["promoter_source"] == "none", "promoter_seq_tss_index"] == -1).all()
    one_hot_encode(var["promoter_seq"].iloc[:500].tolist(), 300)  # only ACGTN

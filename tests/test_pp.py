import numpy as np
import pandas as pd
import pytest

import geneimpute as ge
from geneimpute.pp._promoters import promoter_matrix

from .conftest import DATA


def test_one_hot_encode_values():
    x = ge.pp.one_hot_encode(["ACGTN", "gc"], 6)
    assert x.shape == (2, 6, 4) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0, :4], np.eye(4))
    assert x[0, 4].sum() == 0 and x[0, 5].sum() == 0  # N and padding are zeros
    np.testing.assert_array_equal(x[1, :2], [[0, 0, 1, 0], [0, 1, 0, 0]])  # g, c


def test_one_hot_encode_rejects_unknown_letters():
    with pytest.raises(ValueError, match=r"sequence 1 contains 'R'"):
        ge.pp.one_hot_encode(["ACGT", "ACRT"])
    with pytest.raises(ValueError, match="longer than length=3"):
        ge.pp.one_hot_encode(["ACGT"], 3)


def test_promoter_matrix_aligns_60bp_on_the_tss(gtex):
    var = gtex.var[gtex.var["promoter_source"] != "none"].iloc[:200]
    m = promoter_matrix(var["promoter_seq"].tolist(), var["promoter_seq_tss_index"].to_numpy())
    assert m.shape == (200, 300, 5)
    short = (var["promoter_source"] == "EPDnew_60bp").to_numpy()
    assert short.any() and (~short).any()
    # 60 bp (-49..+10) occupies window positions 200..259; the TSS lands at 249 for both
    np.testing.assert_array_equal(m[short][:, 200:260, 4], 1)
    assert m[short][:, :200, 4].sum() == 0 and m[short][:, 260:, 4].sum() == 0
    assert (m[~short][:, :, 4] == 1).all()


def test_read_gct_with_sample_attributes():
    adata = ge.pp.read_gct(
        DATA / "gtex_v8_reads_6genes_60samples.gct.gz",
        DATA / "gtex_sample_attributes_60samples.tsv",
        strip_versions=True,
    )
    assert adata.shape == (60, 6)
    assert adata.var_names[0].startswith("ENSG") and "." not in adata.var_names[0]
    assert adata.obs["donor"].iloc[0] == "-".join(adata.obs_names[0].split("-")[:2])
    assert adata.obs["tissue"].notna().sum() == 60
    assert (adata.X >= 0).all() and adata.X.max() > 100  # raw read counts


def test_read_annotation_bed_and_chr_prefix(small):
    ann = ge.pp.read_annotation(DATA / "xpresso_hg19_chr22.bed")
    ann20 = ann[ann["end"] - ann["start"] == 20000]
    assert len(ann) == 445 and set(ann["chrom"]) == {"chr22"}
    # mostly TSS +-10 kb windows; the "andOthers" records of the hg19 file are shorter
    assert ((ann["end"] - ann["start"]) == 20000).mean() > 0.85
    # Ensembl-style chromosome names ("22") join GENCODE-style ones ("chr22")
    ann2 = ann.assign(chrom=ann["chrom"].str.removeprefix("chr"))
    ad2 = small[:, small.var["chrom"] == "chr22"].copy()
    ad2.var = ad2.var[["gene_name"]]
    ge.pp.annotate_genes(ad2, ann2.loc[ann20.index], tss_from_bed_window=10_000)
    hit = ad2.var["chrom"].notna()
    assert hit.mean() > 0.9 and set(ad2.var.loc[hit, "chrom"]) == {"chr22"}
    # hg19 TSS differs from hg38 by the liftover offset but strands agree
    assert (ad2.var.loc[hit, "strand"] == small.var.loc[ad2.var_names[hit], "strand"]).mean() > 0.99


def _chr22_hg19(small):
    """Genes of the bundled data with their hg19 coordinates from the Xpresso hg19 BED."""
    ann = ge.pp.read_annotation(DATA / "xpresso_hg19_chr22.bed")
    ann = ann[ann["end"] - ann["start"] == 20000]
    ad = small[:, small.var_names.isin(ann.index)].copy()
    ad.var = ad.var.drop(columns=["chrom", "start", "end", "strand", "tss"])
    ge.pp.annotate_genes(ad, ann, tss_from_bed_window=10_000)
    inside = ((ad.var["tss"] > 20_000_400) & (ad.var["tss"] < 20_999_600)).to_numpy()
    return ad[:, inside].copy()


def test_extract_promoters_matches_epd(small, chr22_fasta):
    """Promoters cut from GRCh37 at the Xpresso hg19 TSS match the EPDnew sequences."""
    ad = _chr22_hg19(small)
    assert ad.n_vars == 13  # bundled genes whose hg19 TSS lies inside the 1 Mb chunk
    epd = ad.var["promoter_seq"].copy()
    ge.pp.extract_promoters(ad, chr22_fasta, key_added="genomic_promoter")
    got = ad.var["genomic_promoter"]
    assert (got.str.len() == 300).all() and (ad.var["genomic_promoter_tss_index"] == 249).all()
    assert set(ad.var["strand"]) == {"+", "-"}
    # the EPD 60-mer (-49..+10) found within +-30 bp of the CAGE TSS for most genes
    has = epd.str.len() > 0
    core = [
        e[e_i - 49 : e_i + 11] if len(e) == 300 else e
        for e, e_i in zip(epd[has], ad.var.loc[has, "promoter_seq_tss_index"], strict=True)
    ]
    found = [c in g for c, g in zip(core, got[has], strict=True)]
    assert np.mean(found) >= 0.75, (np.mean(found), list(ad.var_names[has][~np.array(found)]))


def test_extract_promoters_missing_chromosome(small, chr22_fasta):
    ad = _chr22_hg19(small)
    ad.var["chrom"] = ad.var["chrom"].astype(str)
    ad.var.iloc[0, ad.var.columns.get_loc("chrom")] = "chr21"
    before = ad.var.copy()
    with pytest.raises(KeyError, match=r"chromosome\(s\) \['chr21'\].*not in"):
        ge.pp.extract_promoters(ad, chr22_fasta)
    pd.testing.assert_frame_equal(ad.var, before)


def test_extract_promoters_window_outside_record(small, chr22_fasta):
    ad = small[:, small.var["chrom"] == "chr22"].copy()  # hg38 coordinates, mostly outside
    with pytest.raises(ValueError, match="promoter windows are not inside"):
        ge.pp.extract_promoters(ad, chr22_fasta)
    ge.pp.extract_promoters(ad, chr22_fasta, on_missing="skip")
    assert (ad.var["promoter_seq"] == "").sum() > 0


def test_tissue_correlation(small):
    C = ge.pp.tissue_correlation(small, inplace=False)
    assert C.shape == (37, 37)
    np.testing.assert_allclose(np.diag(C), 1)
    np.testing.assert_allclose(C.to_numpy(), C.to_numpy().T)
    assert C.loc["caudate", "putamen"] > 0.9
    assert C.loc["caudate", "putamen"] > C.loc["caudate", "liver"]
    ge.pp.tissue_correlation(small)
    pd.testing.assert_frame_equal(small.uns["tissue_correlation"], C)


def test_tissue_correlation_rejects_nan_reference(small):
    small.X[0, 0] = np.nan
    with pytest.raises(ValueError, match="have NaN expression"):
        ge.pp.tissue_correlation(small, genes=np.ones(small.n_vars, bool))
    assert "tissue_correlation" not in small.uns


def test_neighbor_features_brute_force(small):
    table = ge.pp.neighbor_features(small, k=5, inplace=False)
    var = small.var
    for gene in var.index[[0, 50, 300]]:
        sub = table[table["gene"] == gene]
        same = var[(var["chrom"] == var.loc[gene, "chrom"]) & (var.index != gene)]
        expected = np.sort(np.abs(same["tss"] - var.loc[gene, "tss"]).to_numpy())[:5]
        np.testing.assert_array_equal(sub["distance_bp"].to_numpy(), expected)
    assert set(table["orientation"]) == {"same_strand", "divergent", "convergent"}
    # divergent: opposite strands with the neighbour upstream of the gene
    div = table[table["orientation"] == "divergent"]
    assert (
        var.loc[div["gene"], "strand"].to_numpy() != var.loc[div["neighbor"], "strand"].to_numpy()
    ).all()
    assert div["upstream"].all()
    ge.pp.neighbor_features(small, k=5)
    D = small.varp["genomic_neighbors_distances"]
    assert D.shape == (small.n_vars, small.n_vars) and D.getnnz() == len(table)


def test_neighbor_features_errors(small):
    ad = small.copy()
    ad.var = ad.var.drop(columns=["strand"])
    with pytest.raises(KeyError, match=r"lacks gene coordinate column\(s\) \['strand'\]"):
        ge.pp.neighbor_features(ad)
    ad = small.copy()
    ad.var["start"] = ad.var["start"].astype(float)
    ad.var.iloc[3, ad.var.columns.get_loc("start")] = np.nan
    with pytest.raises(ValueError, match="1 genes have no coordinates"):
        ge.pp.neighbor_features(ad)

import os
import shutil
import subprocess
import sys
import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import geneimpute as ge
from geneimpute._core.sequence import promoter_matrix
from geneimpute._logging import DataWarning

from ..conftest import DATA

COORDS = ["chrom", "start", "end", "strand"]


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


def test_one_hot_encode_rejects_non_strings():
    with pytest.raises(TypeError, match=r"sequence 0 is NoneType \(None\), not a string"):
        ge.pp.one_hot_encode([None])
    with pytest.raises(TypeError, match=r"sequence 2 is float \(nan\), not a string"):
        ge.pp.one_hot_encode(["ACGT", "", np.nan])


def test_promoter_matrix_rejects_tss_outside_the_sequence(gtex):
    var = gtex.var[gtex.var["promoter_seq"].str.len() == 300].iloc[:3]
    seqs = var["promoter_seq"].tolist()
    for bad in (10_000, -1, 300):
        tss = var["promoter_seq_tss_index"].to_numpy().copy()
        tss[1] = bad
        with pytest.raises(
            ValueError,
            match=rf"1 promoters have a TSS index outside.*sequence 1: TSS index {bad} for 300 bp "
            r"\(valid: 0\.\.299\)",
        ):
            promoter_matrix(seqs, tss)
    # an empty sequence (no promoter) with TSS index -1, as extract_promoters writes, is fine
    tss = np.array([249, -1, 249])
    m = promoter_matrix([seqs[0], "", seqs[2]], tss)
    assert m[1].sum() == 0 and (m[[0, 2], :, 4] == 1).all()


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
    with pytest.warns(DataWarning, match=r"30 of 410 genes are not in the annotation"):
        ge.pp.annotate_genes(ad2, ann2.loc[ann20.index], tss_from_bed_window=10_000)
    hit = ad2.var["chrom"].notna()
    assert hit.mean() > 0.9 and set(ad2.var.loc[hit, "chrom"]) == {"chr22"}
    # hg19 TSS differs from hg38 by the liftover offset but strands agree
    assert (ad2.var.loc[hit, "strand"] == small.var.loc[ad2.var_names[hit], "strand"]).mean() > 0.99


def _unannotated(small, n=40):
    """``small``'s first ``n`` genes without coordinates, and an Ensembl-style annotation
    (versioned IDs, chromosomes without ``chr``) of all but the first three."""
    adata = small[:, :n].copy()
    adata.var = adata.var.drop(columns=[*COORDS, "tss", "gene_type"])
    ann = small.var.iloc[3:n][[*COORDS, "gene_type"]].copy()
    ann.index = ann.index + ".7"
    ann["chrom"] = ann["chrom"].str.removeprefix("chr")
    return adata, ann


def test_annotate_genes_warns_about_missing_genes(small):
    adata, ann = _unannotated(small)
    with pytest.warns(
        DataWarning,
        match=r"annotate_genes: 3 of 40 genes are not in the annotation and get NaN coordinates, "
        rf"e\.g\. \['{small.var_names[0]}', '{small.var_names[1]}', '{small.var_names[2]}'\]",
    ):
        ge.pp.annotate_genes(adata, ann)
    var, truth = adata.var, small.var.iloc[:40]
    assert var[COORDS].iloc[:3].isna().all().all() and var["tss"].iloc[:3].isna().all()
    pd.testing.assert_frame_equal(
        var[COORDS].iloc[3:],
        truth[COORDS].iloc[3:].astype({"chrom": str, "strand": str, "start": float, "end": float}),
        check_dtype=False,
    )
    five = np.where(truth["strand"] == "+", truth["start"], truth["end"] - 1)[3:]
    np.testing.assert_array_equal(var["tss"].iloc[3:], five)  # 5' end of the gene body
    np.testing.assert_array_equal(var["gene_type"].iloc[3:], truth["gene_type"].iloc[3:])
    params = adata.uns["gene_annotation"]["params"]
    assert params["n_genes_annotated"] == 37 and params["n_genes_missing"] == 3
    assert params["annotation"] == "DataFrame" and params["tss_from_bed_window"] is None


def test_annotate_genes_warning_is_seen_without_any_setup(small):
    """A user who configured neither logging nor warnings sees the missing genes."""
    adata, ann = _unannotated(small)
    with warnings.catch_warnings(record=True) as seen:
        warnings.resetwarnings()  # Python's default filters: a UserWarning is shown
        ge.pp.annotate_genes(adata, ann)
    msgs = [w for w in seen if issubclass(w.category, UserWarning)]
    assert len(msgs) == 1 and "3 of 40 genes are not in the annotation" in str(msgs[0].message)
    assert msgs[0].filename == __file__  # points at the caller's line, not at geneimpute


def test_annotate_genes_warning_is_printed_in_a_fresh_process():
    """The acceptance case as a user meets it: a fresh interpreter, no logging configured."""
    script = (
        "import geneimpute as ge\n"
        "g = ge.datasets.gtex_tissues()\n"
        "a = g[:, :40].copy()\n"
        "a.var = a.var[['gene_name']]\n"
        "ge.pp.annotate_genes(a, g.var.iloc[3:40][['chrom', 'start', 'end', 'strand']])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert "DataWarning" in out.stderr
    assert "3 of 40 genes are not in the annotation" in out.stderr


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("end", 100.0, r"1 genes have end < start or a negative start.*start \d+, end 100"),
        ("start", -5.0, r"1 genes have end < start or a negative start"),
        ("chrom", "", r"1 genes have an empty chromosome name"),
        ("start", np.nan, r"no numeric start/end for 1 genes"),
        ("strand", ".", r"strand other than '\+'/'-' \(found \['\.'\]\)"),
    ],
)
def test_annotate_genes_rejects_bad_annotation_rows(small, column, value, match):
    adata, ann = _unannotated(small)
    ann = ann.astype({"chrom": str, "strand": str, "start": float, "end": float})
    ann.iloc[5, ann.columns.get_loc(column)] = value
    before = adata.var.copy()
    with pytest.raises(ValueError, match=match) as err:
        ge.pp.annotate_genes(adata, ann)
    assert adata.var_names[8] in str(err.value)  # the gene is named
    pd.testing.assert_frame_equal(adata.var, before)
    assert "gene_annotation" not in adata.uns


def test_annotate_genes_empty_gtf_names_the_file(small, tmp_path):
    adata, _ = _unannotated(small)
    before = adata.var.copy()
    (tmp_path / "gencode.gtf").write_text("##description: nothing\n")
    with pytest.raises(ValueError, match=r"gencode\.gtf has no GTF records"):
        ge.pp.annotate_genes(adata, tmp_path / "gencode.gtf")
    pd.testing.assert_frame_equal(adata.var, before)


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
    adata = small[:, small.var["chrom"] == "chr22"].copy()  # hg38 coordinates, mostly outside
    before = adata.var.copy()
    with pytest.raises(ValueError, match="promoter windows are not inside"):
        ge.pp.extract_promoters(adata, chr22_fasta)
    pd.testing.assert_frame_equal(adata.var, before)
    with pytest.warns(
        DataWarning, match=rf"(\d+) of {adata.n_vars} genes have no promoter window in grch37"
    ) as rec:
        ge.pp.extract_promoters(adata, chr22_fasta, on_missing="skip", key_added="seq")
    empty = (adata.var["seq"] == "").to_numpy()
    n = int(
        next(w for w in rec if "no promoter window" in str(w.message)).message.args[0].split()[1]
    )
    assert n == empty.sum() and 0 < n < adata.n_vars
    np.testing.assert_array_equal(adata.var["seq_tss_index"], np.where(empty, -1, 249))
    assert (adata.var.loc[~empty, "seq"].str.len() == 300).all()


def test_extract_promoters_fasta_index(small, chr22_fasta, tmp_path, monkeypatch):
    """pyfaidx writes <fasta>.fai next to the FASTA: said in a warning, refused if unwritable."""
    adata = _chr22_hg19(small)
    fasta = tmp_path / chr22_fasta.name
    shutil.copy(chr22_fasta, fasta)
    with pytest.warns(DataWarning, match=r"writing the FASTA index grch37_chr22_20-21Mb\.fa\.fai"):
        ge.pp.extract_promoters(adata, fasta)
    assert (tmp_path / f"{fasta.name}.fai").exists()
    first = adata.var["promoter_seq"].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # the index is reused: no warning
        ge.pp.extract_promoters(adata, fasta)
    pd.testing.assert_series_equal(adata.var["promoter_seq"], first)

    other = tmp_path / "readonly"
    other.mkdir()
    shutil.copy(chr22_fasta, other / fasta.name)
    before = adata.var.copy()
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)  # tests may run as root
    with pytest.raises(PermissionError, match=r"\.fai next to .* cannot be written.*not writable"):
        ge.pp.extract_promoters(adata, other / fasta.name)
    assert not (other / f"{fasta.name}.fai").exists()
    pd.testing.assert_frame_equal(adata.var, before)


def test_tissue_medians_drops_small_tissues_visibly(tmp_path):
    sdata = ge.pp.read_gct(
        DATA / "gtex_v8_reads_6genes_60samples.gct.gz",
        DATA / "gtex_sample_attributes_60samples.tsv",
    )
    counts = sdata.obs["tissue"].value_counts()
    kept = sorted(counts.index[counts >= 3])
    assert len(kept) == 8 and len(counts) == 32
    with pytest.warns(
        DataWarning, match=r"24 of 32 tissues have fewer than min_samples=3 samples and are left"
    ):
        t = ge.pp.tissue_medians(sdata, min_samples=3, key_added="medians")
    assert t.shape == (8, 6) and sorted(t.obs_names) == kept
    np.testing.assert_array_equal(t.obs["n_samples"], counts[t.obs_names])
    expect = pd.DataFrame(sdata.X, index=sdata.obs["tissue"].to_numpy()).groupby(level=0).median()
    np.testing.assert_allclose(t.X, expect.loc[t.obs_names].to_numpy())
    params = t.uns["medians"]["params"]
    assert "tissue_medians" not in t.uns and "medians" not in sdata.uns
    assert params["tissue_key"] == "tissue" and params["layer"] is None
    assert params["n_samples"] == 60 and params["min_samples"] == 3
    assert sorted(params["dropped_tissues"]) == sorted(counts.index[counts < 3])
    t.write_h5ad(tmp_path / "t.h5ad")
    back = ad.read_h5ad(tmp_path / "t.h5ad").uns["medians"]["params"]
    assert list(back["dropped_tissues"]) == params["dropped_tissues"]
    with pytest.raises(
        ValueError, match=r"no tissue has at least min_samples=5 samples \(largest: 4\)"
    ):
        ge.pp.tissue_medians(sdata, min_samples=5)


def test_tissue_correlation(small):
    C = ge.pp.tissue_correlation(small, inplace=False)
    assert C.shape == (37, 37)
    np.testing.assert_allclose(np.diag(C), 1)
    np.testing.assert_allclose(C.to_numpy(), C.to_numpy().T)
    assert C.loc["caudate", "putamen"] > 0.9
    assert C.loc["caudate", "putamen"] > C.loc["caudate", "liver"]
    ge.pp.tissue_correlation(small)
    pd.testing.assert_frame_equal(small.uns["tissue_correlation"]["correlation"], C)
    assert small.uns["tissue_correlation"]["params"]["layer"] == "X"


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

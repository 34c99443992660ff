"""Readers: GCT, wide TSV, GTF/GFF3/BED annotations and FASTA, on real bundled values."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pandas as pd
import pytest

import geneimpute as ge
from geneimpute._logging import DataWarning

from ..conftest import DATA

GCT = DATA / "gtex_v8_reads_6genes_60samples.gct.gz"
ATTRIBUTES = DATA / "gtex_sample_attributes_60samples.tsv"
#: the six GCT genes (chr1) and three chr22 genes of the bundled GTEx data
GENES = [
    "ENSG00000117118",  # SDHB, - strand
    "ENSG00000132781",  # MUTYH, -
    "ENSG00000169174",  # PCSK9, +
    "ENSG00000160789",  # LMNA, +
    "ENSG00000143252",  # SDHC, +
    "ENSG00000081248",  # CACNA1S, -
    "ENSG00000198062",  # POTEH (chr22), +
    "ENSG00000198445",  # CCT8L2, -
    "ENSG00000172967",  # XKR3, -
]


@pytest.fixture(scope="module")
def genes():
    """GRCh38 coordinates (0-based half-open) of real genes, from the bundled GTEx data."""
    var = ge.datasets.gtex_tissues().var.loc[GENES]
    return var[["gene_name", "gene_type", "chrom", "start", "end", "strand"]].copy()


def _gtf(genes: pd.DataFrame) -> str:
    """Ensembl-style GTF text (chrom without ``chr``, versioned IDs, 1-based inclusive)."""
    lines = ["#!genome-build GRCh38.p13", "#!genome-version GRCh38"]
    for i, (gid, g) in enumerate(genes.iterrows()):
        cols = [g["chrom"].removeprefix("chr"), "ensembl_havana"]
        pos = [str(g["start"] + 1), str(g["end"]), ".", g["strand"], "."]
        gene_attrs = (
            f'gene_id "{gid}.{i + 3}"; gene_version "{i + 3}"; gene_name "{g["gene_name"]}"; '
            f'gene_source "ensembl_havana"; gene_biotype "{g["gene_type"]}";'
        )
        tx_attrs = f'gene_id "{gid}.{i + 3}"; transcript_id "ENST{i:011d}"; gene_name "X{i}";'
        lines.append("\t".join([*cols, "gene", *pos, gene_attrs]))
        lines.append("\t".join([*cols, "transcript", *pos, tx_attrs]))
        lines.append("\t".join([*cols, "exon", *pos, tx_attrs + ' exon_number "1";']))
    return "\n".join(lines) + "\n"


def _rejected(path, text: str, match: str) -> None:
    """Write ``text`` to ``path``: ``read_annotation`` must raise a ValueError matching it."""
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        ge.pp.read_annotation(path)


def _check_coordinates(ann: pd.DataFrame, genes: pd.DataFrame) -> None:
    assert ann.index.name == "gene_id"
    assert list(ann.index) == list(genes.index)  # versions stripped, file order
    np.testing.assert_array_equal(ann["chrom"], genes["chrom"])  # "1" -> "chr1"
    np.testing.assert_array_equal(ann["start"], genes["start"])  # 1-based -> 0-based
    np.testing.assert_array_equal(ann["end"], genes["end"])
    np.testing.assert_array_equal(ann["strand"], genes["strand"])


# --------------------------------------------------------------------------------------------
# GTF


def test_read_annotation_gtf(tmp_path, genes):
    path = tmp_path / "genes.gtf"
    path.write_text(_gtf(genes))
    ann = ge.pp.read_annotation(path)
    assert len(ann) == len(GENES)  # transcript and exon records are skipped
    _check_coordinates(ann, genes)
    assert ann.loc["ENSG00000117118", "start"] == 17018721  # SDHB, GRCh38, 0-based
    np.testing.assert_array_equal(ann["gene_name"], genes["gene_name"])
    np.testing.assert_array_equal(ann["gene_type"], genes["gene_type"])  # from gene_biotype
    # gzip gives the same; feature= selects other records
    gz = tmp_path / "genes.gtf.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    pd.testing.assert_frame_equal(ge.pp.read_annotation(gz), ann)
    tx = ge.pp.read_annotation(path, feature="transcript")
    assert list(tx["gene_name"]) == [f"X{i}" for i in range(len(GENES))]


def test_read_annotation_gtf_errors(tmp_path, genes, capsys):
    _rejected(tmp_path / "empty.gtf", "", r"empty\.gtf has no GTF records \(the file is empty")
    _rejected(
        tmp_path / "comments.gtf", "#!genome-build GRCh38\n", r"comments\.gtf has no GTF records"
    )
    text = _gtf(genes)
    no_genes = "\n".join(x for x in text.splitlines() if "\tgene\t" not in x)
    _rejected(
        tmp_path / "tx.gtf", no_genes, r"tx\.gtf has no \['gene'\] records.*'exon', 'transcript'"
    )
    eight = "\n".join(x.rsplit("\t", 1)[0] for x in text.splitlines() if not x.startswith("#"))
    _rejected(tmp_path / "8col.gtf", eight, r"8col\.gtf has 8 tab-separated columns.*has 9")
    lines = text.splitlines()
    short = "\n".join([*lines[:5], lines[5].rsplit("\t", 1)[0], *lines[6:]])
    # pyranges' own errors here are "'float' object has no attribute 'rstrip'" and a pandas
    # tokenizer error: they come back naming the file, the line and the problem
    _rejected(
        tmp_path / "short.gtf",
        short,
        r"short\.gtf is not a valid GTF file: line 6 has 8 tab-separated col",
    )
    extra = "\n".join([*lines[:5], lines[5] + "\tX", *lines[6:]])
    _rejected(tmp_path / "extra.gtf", extra, r"extra\.gtf is not a valid GTF file: line 6 has 10")
    no_chrom = "\n".join([*lines[:5], lines[5].replace("1\t", "\t", 1), *lines[6:]])
    _rejected(tmp_path / "nochrom.gtf", no_chrom, r"nochrom\.gtf.*line 6 has an empty column 1")
    sdhb = genes.loc["ENSG00000117118"]
    start, end = f"\t{sdhb['start'] + 1}\t", f"\t{sdhb['end']}\t"
    swapped = text.replace(f"{start[:-1]}{end}", f"{end[:-1]}{start}")
    _rejected(tmp_path / "swapped.gtf", swapped, r"1 records have end < start.*ENSG00000117118")
    _rejected(
        tmp_path / "float.gtf",
        text.replace("\t17018722\t", "\t17018722.5\t"),
        r"line 3: start must be a whole number.*'17018722\.5'",
    )
    _rejected(
        tmp_path / "text.gtf",
        text.replace(f"{end[:-1]}\t", "\t4e7\t", 1),
        r"text\.gtf.*line 3: end must be a whole number.*'4e7'",
    )
    no_id = text.replace('gene_id "ENSG00000169174.5"; gene_version', "gene_version")
    _rejected(
        tmp_path / "noid.gtf",
        no_id,
        r"1 \['gene'\] records lack a gene_id attribute.*at 1:55039548-55064852",
    )
    broken = text.replace('gene_source "ensembl_havana";', "ensembl_havana;", 1)
    _rejected(
        tmp_path / "attrs.gtf",
        broken,
        r"attrs\.gtf.*pyranges could not parse it.*'key \"value\";' pairs",
    )
    assert capsys.readouterr().out == ""  # pyranges prints the bad line; that is silenced
    _rejected(tmp_path / "genes.txt", text, "unrecognised annotation format")
    gz = tmp_path / "gz.gtf"
    gz.write_bytes(gzip.compress(text.encode()))
    with pytest.raises(ValueError, match=r"gz\.gtf is gzip-compressed but its name does not"):
        ge.pp.read_annotation(gz)
    _rejected(tmp_path / "plain.gtf.gz", text, r"plain\.gtf\.gz ends in \.gz but is not gzip")
    with pytest.raises(FileNotFoundError, match="absent.gtf"):
        ge.pp.read_annotation(tmp_path / "absent.gtf")


# --------------------------------------------------------------------------------------------
# GFF3


def test_read_annotation_gff3_ensembl_and_gencode(tmp_path, genes):
    ens = ["##gff-version 3", "##sequence-region   1 1 248956422"]
    gencode = ["##gff-version 3"]
    for i, (gid, g) in enumerate(genes.iterrows()):
        # Ensembl types some genes ncRNA_gene / pseudogene; here two of them
        feature = "ncRNA_gene" if i in (1, 7) else "gene"
        pos = [str(g["start"] + 1), str(g["end"]), ".", g["strand"], "."]
        desc = f"{g['gene_name']} gene [Source:HGNC Symbol%3BAcc:HGNC:{1000 + i}]"
        ens.append(
            "\t".join(
                [g["chrom"].removeprefix("chr"), "ensembl_havana", feature, *pos]
                + [
                    f"ID=gene:{gid};Name={g['gene_name']};biotype={g['gene_type']};"
                    f"description={desc};gene_id={gid};version={i + 3}"
                ]
            )
        )
        ens.append(
            "\t".join(
                [g["chrom"].removeprefix("chr"), "havana", "mRNA", *pos]
                + [f"ID=transcript:ENST{i:011d};Parent=gene:{gid};Name=X{i}"]
            )
        )
        gencode.append(
            "\t".join(
                [g["chrom"], "HAVANA", "gene", *pos]
                + [
                    f"ID={gid}.{i + 3};gene_id={gid}.{i + 3};gene_type={g['gene_type']};"
                    f"gene_name={g['gene_name']};level=2"
                ]
            )
        )
    path = tmp_path / "ensembl.gff3"
    path.write_text("\n".join(ens) + "\n")
    ann = ge.pp.read_annotation(path)
    assert len(ann) == len(GENES) - 2  # ncRNA_gene records are not "gene"
    ann = ge.pp.read_annotation(path, feature=("gene", "ncRNA_gene"))
    _check_coordinates(ann, genes)
    np.testing.assert_array_equal(ann["gene_name"], genes["gene_name"])  # from Name
    np.testing.assert_array_equal(ann["gene_type"], genes["gene_type"])  # from biotype
    path = tmp_path / "gencode.gff3.gz"
    path.write_bytes(gzip.compress(("\n".join(gencode) + "\n").encode()))
    ann = ge.pp.read_annotation(path)
    _check_coordinates(ann, genes)
    np.testing.assert_array_equal(ann["gene_type"], genes["gene_type"])
    # without gene_id, the ID attribute is used ("gene:" prefix dropped)
    id_only = path.with_name("id_only.gff3")
    id_only.write_text("\n".join(x.split(";gene_id=")[0] for x in ens[:3]) + "\n")
    assert list(ge.pp.read_annotation(id_only).index) == GENES[:1]


def test_read_annotation_gff3_errors(tmp_path, genes):
    g = genes.iloc[0]
    row = [g["chrom"], "HAVANA", "gene", str(g["start"] + 1), str(g["end"]), ".", g["strand"]]
    _rejected(
        tmp_path / "seven.gff3",
        "##gff-version 3\n" + "\t".join(row) + "\n",
        r"seven\.gff3 has 7 tab-separated columns.*GFF3.*9",
    )
    _rejected(
        tmp_path / "noid.gff3",
        "\t".join([*row, ".", "Name=SDHB;biotype=protein_coding"]) + "\n",
        r"1 \['gene'\] records lack a gene_id or ID attribute",
    )
    _rejected(
        tmp_path / "header_only.gff3", "##gff-version 3\n", r"header_only\.gff3 has no GFF3 records"
    )


# --------------------------------------------------------------------------------------------
# BED


def test_read_annotation_bed():
    ann = ge.pp.read_annotation(DATA / "xpresso_hg19_chr22.bed")
    raw = pd.read_csv(DATA / "xpresso_hg19_chr22.bed", sep="\t", header=None)
    assert len(ann) == len(raw) == 445
    assert set(ann["chrom"]) == {"chr22"} and set(ann["strand"]) == {"+", "-"}
    # BED is 0-based half-open already: coordinates are taken as written
    first = ann.loc["ENSG00000008735"]
    assert (first["start"], first["end"], first["strand"]) == (51029223, 51049222, "+")
    np.testing.assert_array_equal(ann["start"], raw[1])
    assert ann.index.name == "gene_id" and ann.index.is_unique


def test_read_annotation_bed_track_lines_and_errors(tmp_path):
    lines = (DATA / "xpresso_hg19_chr22.bed").read_text().splitlines()[:5]
    path = tmp_path / "track.bed"
    path.write_text('track name="promoters"\nbrowser position chr22:1-100\n' + "\n".join(lines))
    ann = ge.pp.read_annotation(path)
    assert len(ann) == 5 and ann.index[0] == "ENSG00000008735"
    # a column-name line is taken as header (pyranges.read_bed), gzip is fine
    path = tmp_path / "named.bed.gz"
    names = "chrom\tstart\tend\tname\tscore\tstrand\n"
    path.write_bytes(gzip.compress((names + "\n".join(lines) + "\n").encode()))
    pd.testing.assert_frame_equal(ge.pp.read_annotation(path), ann)
    path = tmp_path / "ragged.bed"
    path.write_text("\n".join([*lines[:2], lines[2].rsplit("\t", 1)[0], *lines[3:]]) + "\n")
    with pytest.raises(
        ValueError, match=r"ragged\.bed.*line 3 has 5 tab-separated columns, but the first.* 6"
    ):
        ge.pp.read_annotation(path)
    _rejected(
        tmp_path / "text.bed",
        "\n".join([*lines[:3], lines[3].replace("\t", "\tx", 1), *lines[4:]]) + "\n",
        r"text\.bed.*line 4: start must be a whole number.*'x",
    )
    _rejected(tmp_path / "empty.bed", 'track name="none"\n', r"empty\.bed has no BED records")
    _rejected(
        tmp_path / "three.bed",
        "\n".join("\t".join(x.split("\t")[:3]) for x in lines) + "\n",
        r"three\.bed has 3 tab-separated columns.*at least 4",
    )
    path = tmp_path / "reversed.bed"
    bad = lines[1].split("\t")
    bad[1], bad[2] = bad[2], bad[1]
    path.write_text("\n".join([lines[0], "\t".join(bad), *lines[2:]]) + "\n")
    with pytest.raises(ValueError, match=r"reversed\.bed: 1 records have end < start.*ENSG0000"):
        ge.pp.read_annotation(path)
    # a BED without a strand column reads (strand "."), but cannot place a TSS
    path = tmp_path / "four.bed"
    path.write_text("\n".join("\t".join(x.split("\t")[:4]) for x in lines) + "\n")
    ann = ge.pp.read_annotation(path)
    assert set(ann["strand"]) == {"."}
    adata = ge.datasets.gtex_tissues()
    adata = adata[:, adata.var_names.isin(ann.index)].copy()
    assert adata.n_vars >= 1
    before = adata.var.copy()
    with pytest.raises(ValueError, match=r"strand other than '\+'/'-' \(found \['\.'\]\)"):
        ge.pp.annotate_genes(adata, path)
    pd.testing.assert_frame_equal(adata.var, before)


# --------------------------------------------------------------------------------------------
# GCT


def _gct_lines() -> list[str]:
    with gzip.open(GCT, "rt") as fh:
        return fh.read().splitlines()


def test_read_gct_shapes_donors_and_labels():
    adata = ge.pp.read_gct(GCT, ATTRIBUTES)
    table = pd.read_csv(GCT, sep="\t", skiprows=2, index_col=0)
    assert adata.shape == (60, 6)
    assert list(adata.var_names) == list(table.index)  # versions kept by default
    assert adata.var_names[0] == "ENSG00000117118.9"
    assert list(adata.var["gene_name"]) == ["SDHB", "MUTYH", "PCSK9", "LMNA", "SDHC", "CACNA1S"]
    assert list(adata.obs_names) == list(table.columns[1:])
    np.testing.assert_array_equal(adata.X, table.iloc[:, 1:].to_numpy(np.float32).T)
    assert adata.obs.loc["GTEX-1117F-0226-SM-5GZZ7", "donor"] == "GTEX-1117F"
    attrs = pd.read_csv(ATTRIBUTES, sep="\t", index_col="SAMPID")
    np.testing.assert_array_equal(adata.obs["tissue"], attrs.loc[adata.obs_names, "SMTSD"])
    np.testing.assert_allclose(adata.obs["SMRIN"], attrs.loc[adata.obs_names, "SMRIN"])
    assert adata.obs.loc["GTEX-1117F-0226-SM-5GZZ7", "tissue"] == "Adipose - Subcutaneous"
    assert ge.pp.read_gct(GCT, strip_versions=True).var_names[0] == "ENSG00000117118"


def test_read_gct_warns_about_unlabelled_samples():
    attrs = pd.read_csv(ATTRIBUTES, sep="\t")
    gone = ["GTEX-1117F-0226-SM-5GZZ7", "GTEX-1117F-0426-SM-5EGHI"]
    with pytest.warns(DataWarning, match=r"2 of 60 samples have no tissue label.*GTEX-1117F-0226"):
        adata = ge.pp.read_gct(GCT, attrs[~attrs["SAMPID"].isin(gone)])
    assert adata.obs["tissue"].isna().sum() == 2
    assert adata.obs.loc[gone, "tissue"].isna().all()
    with pytest.raises(KeyError, match="sample attributes lack column 'SMTSD'"):
        ge.pp.read_gct(GCT, attrs.drop(columns=["SMTSD"]))


def test_read_gct_header_errors(tmp_path):
    lines = _gct_lines()
    assert lines[1] == "6\t60"

    def write(name, new_lines):
        path = tmp_path / name
        path.write_text("\n".join(new_lines) + "\n")
        return path

    with pytest.raises(ValueError, match=r"declares 7 genes x 60 samples.*has 6 genes x 60"):
        ge.pp.read_gct(write("rows.gct", [lines[0], "7\t60", *lines[2:]]))
    with pytest.raises(ValueError, match=r"declares 6 genes x 61 samples.*has 6 genes x 60"):
        ge.pp.read_gct(write("cols.gct", [lines[0], "6\t61", *lines[2:]]))
    with pytest.raises(ValueError, match=r"declares 6 genes x 60 samples.*has 5 genes x 60"):
        ge.pp.read_gct(write("truncated.gct", lines[:-1]))
    header = lines[2].split("\t")
    header[3] = header[2]  # the second sample column repeats the first
    with pytest.raises(
        ValueError, match=r"1 duplicated sample columns, e\.g\. \['GTEX-1117F-0226-SM-5GZZ7'\]"
    ):
        ge.pp.read_gct(write("dup.gct", [*lines[:2], "\t".join(header), *lines[3:]]))
    with pytest.raises(ValueError, match=r"not GCT 1\.2: line 1 is '#1\.3'"):
        ge.pp.read_gct(write("v13.gct", ["#1.3", *lines[1:]]))
    with pytest.raises(ValueError, match="not GCT 1.2: line 2"):
        ge.pp.read_gct(write("line2.gct", [lines[0], "six\t60", *lines[2:]]))
    row = lines[3].split("\t")
    row[5] = "n/a?"
    with pytest.raises(ValueError, match=r"sample columns \['GTEX-1117F-0626-SM-5N9CS'\].*numeric"):
        ge.pp.read_gct(write("text.gct", [*lines[:3], "\t".join(row), *lines[4:]]))


# --------------------------------------------------------------------------------------------
# wide TSV


@pytest.fixture(scope="module")
def wide():
    """Bundled GTEx median TPM of the GENES in 5 tissues, as a genes x tissues table."""
    gtex = ge.datasets.gtex_tissues()
    sub = gtex[gtex.obs_names[:5], GENES]
    table = pd.DataFrame(np.asarray(sub.X).T, index=sub.var_names, columns=sub.obs_names)
    table.insert(0, "gene_name", sub.var["gene_name"].to_numpy())
    table.index.name = "ensembl_gene_id"
    return table


def test_read_wide_tsv(tmp_path, wide):
    path = tmp_path / "median_tpm.tsv"
    wide.to_csv(path, sep="\t")
    adata = ge.pp.read_wide_tsv(path, name_column="gene_name")
    assert adata.shape == (5, len(GENES))
    assert list(adata.obs_names) == list(wide.columns[1:])
    assert list(adata.var_names) == GENES and adata.var_names.name == "gene_id"
    np.testing.assert_array_equal(adata.var["gene_name"], wide["gene_name"])
    np.testing.assert_allclose(adata.X, wide.iloc[:, 1:].to_numpy().T, rtol=1e-6)
    # the gene column by name, after the symbols; gzip
    moved = wide.reset_index()[["gene_name", "ensembl_gene_id", *wide.columns[1:]]]
    gz = tmp_path / "moved.tsv.gz"
    moved.to_csv(gz, sep="\t", index=False)
    again = ge.pp.read_wide_tsv(gz, gene_column="ensembl_gene_id", name_column="gene_name")
    np.testing.assert_array_equal(again.X, adata.X)
    assert list(again.var_names) == GENES


def test_read_wide_tsv_errors(tmp_path, wide):
    path = tmp_path / "t.tsv"
    wide.to_csv(path, sep="\t")
    with pytest.raises(
        ValueError, match=r"tissue columns \['gene_name'\] of t\.tsv are not numeric"
    ):
        ge.pp.read_wide_tsv(path)
    with pytest.raises(KeyError, match="column 'symbol' not in t.tsv"):
        ge.pp.read_wide_tsv(path, name_column="symbol")
    with pytest.raises(KeyError, match="gene_column=9 but t.tsv has 7 columns"):
        ge.pp.read_wide_tsv(path, gene_column=9)
    dup = wide.rename(index={GENES[1]: GENES[0]})
    dup.to_csv(path, sep="\t")
    with pytest.raises(ValueError, match=rf"duplicated gene IDs, e\.g\. \['{GENES[0]}'\]"):
        ge.pp.read_wide_tsv(path, name_column="gene_name")


def test_read_wide_tsv_roadmap_trailing_tab(tmp_path, wide):
    """Roadmap 57epigenomes.RPKM.pc: data rows end with a tab that the header lacks."""
    table = wide.drop(columns=["gene_name"])
    lines = ["gene_id\t" + "\t".join(table.columns)]
    lines += [
        g + "\t" + "\t".join(f"{v:.3f}" for v in row) + "\t"
        for g, row in zip(table.index, table.to_numpy(), strict=True)
    ]
    path = tmp_path / "57epigenomes.RPKM.pc"
    path.write_text("\n".join(lines) + "\n")
    adata = ge.pp.read_wide_tsv(path, index_col_false=True)
    assert adata.shape == (5, len(GENES))
    assert list(adata.obs_names) == list(table.columns)
    assert list(adata.var_names) == GENES
    np.testing.assert_allclose(adata.X, table.to_numpy().T, atol=5e-4)
    # without index_col_false pandas would shift the columns by one
    with pytest.raises(ValueError, match="more fields than its header.*index_col_false=True"):
        ge.pp.read_wide_tsv(path)


# --------------------------------------------------------------------------------------------
# FASTA


def test_read_fasta_genome_chunk(chr22_fasta):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # the fixture built the index already
        seqs = ge.pp.read_fasta(chr22_fasta)
    assert list(seqs.index) == ["22:20000001-21000000"] and seqs.name == "sequence"
    seq = seqs.iloc[0]
    assert len(seq) == 1_000_000 and set(seq) <= set("ACGTN")
    raw = chr22_fasta.read_text().splitlines()
    assert seq[:60] == raw[1] and seq[-40:] == raw[-1]
    assert seq == "".join(raw[1:]).upper()
    # the bundled file is plain gzip, which pyfaidx cannot index: a clear error, nothing written
    bundled = DATA / "grch37_chr22_20-21Mb.fa.gz"
    with pytest.raises(
        ValueError, match=r"fa\.gz is gzip-compressed but not with bgzip.*gunzip grch37.*bgzip"
    ):
        ge.pp.read_fasta(bundled)
    assert not list(DATA.glob("*.fai")) and not list(DATA.glob("*.gzi"))


def _promoter_text(chr22_fasta) -> tuple[dict[str, str], str]:
    """Three 300 bp windows of the genome chunk, one soft-masked, wrapped at 60 bp."""
    genome = ge.pp.read_fasta(chr22_fasta).iloc[0]
    cuts = {"P1": genome[1000:1300], "P2": genome[500_000:500_300].lower(), "P3": genome[-300:]}
    text = ""
    for name, s in cuts.items():
        text += f">{name} chr22 window\n" + "\n".join(s[i : i + 60] for i in range(0, 300, 60))
        text += "\n\n"
    return cuts, text


def test_read_fasta_promoters_and_index(tmp_path, chr22_fasta):
    cuts, text = _promoter_text(chr22_fasta)
    path = tmp_path / "promoters.fa"
    path.write_text(text)
    with pytest.warns(DataWarning, match=r"writing the FASTA index promoters\.fa\.fai next to"):
        seqs = ge.pp.read_fasta(path)
    assert list(seqs.index) == ["P1", "P2", "P3"]  # first word of the header, file order
    assert seqs["P2"] == cuts["P2"].upper() and seqs["P3"] == cuts["P3"]
    assert (tmp_path / "promoters.fa.fai").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # the index is reused, silently
        assert ge.pp.read_fasta(path).equals(seqs)


def test_read_fasta_bgzip(tmp_path, chr22_fasta):
    bgzf = pytest.importorskip("Bio.bgzf")
    cuts, text = _promoter_text(chr22_fasta)
    path = tmp_path / "promoters.fa.gz"
    with bgzf.BgzfWriter(str(path)) as out:
        out.write(text.encode())
    with pytest.warns(
        DataWarning, match=r"index promoters\.fa\.gz\.fai and promoters\.fa\.gz\.gzi"
    ):
        seqs = ge.pp.read_fasta(path)
    assert list(seqs.index) == ["P1", "P2", "P3"] and seqs["P1"] == cuts["P1"]
    renamed = path.rename(tmp_path / "promoters.fa")
    with pytest.raises(ValueError, match=r"bgzip-compressed but its name does not end in \.gz"):
        ge.pp.read_fasta(renamed)


def test_read_fasta_errors(tmp_path, chr22_fasta):
    _, text = _promoter_text(chr22_fasta)

    def read(name, content):
        path = tmp_path / name
        path.write_text(content)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            ge.pp.read_fasta(path)

    with pytest.raises(ValueError, match=r"dup\.fa has 1 duplicated record names, e\.g\. \['P1'\]"):
        read("dup.fa", text + ">P1 again\nACGT\n")
    with pytest.raises(ValueError, match=r"noseq\.fa has 2 records without sequence.*'P0', 'P4'"):
        read("noseq.fa", ">P0\n" + text + ">P4\n")
    with pytest.raises(
        ValueError, match=r"before\.fa is not a FASTA file pyfaidx can index: Unexp"
    ):
        read("before.fa", "ACGT\n" + text)
    with pytest.raises(ValueError, match=r"ragged\.fa is not a FASTA.*not consistent.*>P1"):
        read("ragged.fa", text.replace("\n", "\n\n", 2))  # a blank line inside P1
    with pytest.raises(ValueError, match=r"noname\.fa is not a FASTA.*Bad sequence name"):
        read("noname.fa", ">\nACGT\n")
    with pytest.raises(ValueError, match=r"empty\.fa has no FASTA records \(the file is empty"):
        read("empty.fa", "")
    with pytest.raises(FileNotFoundError, match="absent.fa"):
        ge.pp.read_fasta(tmp_path / "absent.fa")
    # a failed read leaves no index behind
    assert not list(tmp_path.glob("*.fai"))

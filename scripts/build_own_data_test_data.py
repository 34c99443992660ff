"""Cut the own-data test fixtures (``tests/pp/test_own_data_path.py``) from ``../shared/data``.

Run from the repository root: ``python scripts/build_own_data_test_data.py``. Writes:

- ``tests/data/hpa21_gtex_v8_chr22_tpm_no_retina.tsv.gz``: the rows of
  ``hpa21_gtex_v8_rna_tissue_tpm_wide.tsv.gz`` (GTEx v8 median TPM re-quantified by the Human
  Protein Atlas 21.1, via Bioconductor hpar 1.41.0; CC BY-SA / GTEx open access) of the chr22
  genes below, without the ``retina`` column (HPA adds retina from another dataset; a
  GTEx-derived table has none). Values unchanged.
- ``tests/data/grch37_chr22_canonical_transcripts.gtf.gz``: a GTF written here from real
  annotation, not a download: each gene's Ensembl 110 canonical transcript (exon, 5' and 3' UTR
  parts from ideogram 1.53.0's gene-structure cache, CC0; CDS = exon minus UTR), placed with its
  5' end at the gene's GRCh37 CAGE-corrected TSS (Xpresso
  ``hg19_promoters_cage_corrected_withChr_andOthers.bed``, MIT). GRCh37, like the test FASTA
  ``tests/data/grch37_chr22_20-21Mb.fa.gz``. Intron lengths are GRCh38's (Ensembl 110). The
  cache stores each part's end - start of 1-based coordinates (1 bp under its length: checked
  on KLHL17's inner exons against GENCODE v29), written here as lengths, so that
  ``annotate_genes`` on this GTF reproduces the bundled table's values exactly.

Genes: chr22 protein-coding genes with an Xpresso hg19 TSS, a canonical transcript in ideogram
(matched by symbol) and a row in the HPA table.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "tests" / "data"
GTF = OUT / "grch37_chr22_canonical_transcripts.gtf.gz"
TABLE = OUT / "hpa21_gtex_v8_chr22_tpm_no_retina.tsv.gz"


def canonical_structures(symbols: set[str]) -> dict[str, tuple[str, str, list]]:
    """symbol -> (transcript name, strand, [(kind, offset, length)]) of its first transcript."""
    out: dict[str, tuple[str, str, list]] = {}
    src = SHARED / "ideogram_homo_sapiens_gene_structures_ensembl110.tsv.gz"
    with gzip.open(src, "rt") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t")
            symbol = parts[0].rsplit("-", 1)[0]
            if symbol in symbols and symbol not in out:  # as build_datasets.py: the first
                feats = [tuple(int(v) for v in f.split(";")) for f in parts[4:] if f]
                out[symbol] = (parts[0], parts[3], feats)
    return out


def gtf_lines(gene_id: str, name: str, tss0: int, tx: tuple[str, str, list]) -> list[str]:
    """GTF records of one transcript with its 5' end at the 0-based ``tss0``."""
    tx_name, strand, feats = tx
    span = max(o + n for _, o, n in feats)
    left = tss0 if strand == "+" else tss0 + 1 - span  # 0-based genomic start
    exons = [(o, o + n) for k, o, n in feats if k == 1]
    utr5 = [(o, o + n) for k, o, n in feats if k == 0]
    utr3 = [(o, o + n) for k, o, n in feats if k == 2]
    # coding span between the UTRs (transcript-relative, left to right)
    lo_utr, hi_utr = (utr5, utr3) if strand == "+" else (utr3, utr5)
    cds_lo = max((e for _, e in lo_utr), default=0)
    cds_hi = min((s for s, _ in hi_utr), default=span)
    cds = [(max(s, cds_lo), min(e, cds_hi)) for s, e in exons if min(e, cds_hi) > max(s, cds_lo)]
    attrs = f'gene_id "{gene_id}"; gene_name "{name}"; gene_biotype "protein_coding";'
    tx_attrs = f'{attrs} transcript_id "{tx_name}";'
    rows = [("gene", 0, span, attrs), ("transcript", 0, span, tx_attrs)]
    for kind, segs in (("exon", exons), ("CDS", cds)):
        rows += [(kind, s, e, tx_attrs) for s, e in segs]
    rows += [("five_prime_utr", s, e, tx_attrs) for s, e in utr5]
    rows += [("three_prime_utr", s, e, tx_attrs) for s, e in utr3]
    return [
        f"chr22\tideogram110\t{kind}\t{left + s + 1}\t{left + e}\t.\t{strand}\t.\t{a}\n"
        for kind, s, e, a in rows
    ]


def main() -> None:
    bed = pd.read_csv(
        SHARED / "xpresso_hg19_promoters_cage_corrected_withChr_andOthers.bed.gz",
        sep="\t",
        header=None,
        names=["chrom", "start", "end", "gene_id", "score", "strand"],
    )
    bed = bed[bed["chrom"] == "chr22"].drop_duplicates("gene_id").set_index("gene_id")
    plus = bed["strand"] == "+"
    tss = (bed["start"] + 10_000).where(plus, bed["end"] - 10_000)
    hpa = pd.read_csv(SHARED / "hpa21_gtex_v8_rna_tissue_tpm_wide.tsv.gz", sep="\t")
    hpa = hpa[hpa["ensembl_gene_id"].isin(bed.index)]
    structures = canonical_structures(set(hpa["gene_name"]))
    hpa = hpa[hpa["gene_name"].isin(structures)]
    hpa["tss"] = tss.reindex(hpa["ensembl_gene_id"]).to_numpy()
    hpa = hpa.sort_values("tss")
    lines = []
    for gid, name, t in zip(hpa["ensembl_gene_id"], hpa["gene_name"], hpa["tss"], strict=True):
        lines += gtf_lines(gid, name, int(t), structures[name])
    with gzip.open(GTF, "wt") as fh:
        fh.write("#!genome-build GRCh37 (see scripts/build_own_data_test_data.py)\n")
        fh.writelines(lines)
    hpa.drop(columns=["tss", "retina"]).to_csv(TABLE, sep="\t", index=False)
    print(f"{len(hpa)} chr22 genes: {GTF.name} ({len(lines)} records), {TABLE.name}")


if __name__ == "__main__":
    main()

"""Cut the small real test fixtures in ``tests/data`` from ``../shared/data``.

Run from the repository root: ``python scripts/build_test_data.py``.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "tests" / "data"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    # GRCh37 chr22:20,000,001-21,000,000 (hisat2 example reference), as is
    shutil.copy(SHARED / "hisat2_grch37_chr22_20-21Mb.fa.gz", OUT / "grch37_chr22_20-21Mb.fa.gz")
    # Xpresso hg19 TSS +/-10 kb windows on chr22 (BED6, chr prefix)
    bed = pd.read_csv(
        SHARED / "xpresso_hg19_promoters_cage_corrected_withChr_andOthers.bed.gz",
        sep="\t",
        header=None,
    )
    bed[bed[0] == "chr22"].to_csv(
        OUT / "xpresso_hg19_chr22.bed", sep="\t", header=False, index=False
    )
    # GTEx v8 read counts: first 6 genes x first 60 samples, GCT 1.2
    with gzip.open(SHARED / "gtex_v8_gene_reads_acmg59.gct.gz", "rt") as fh:
        lines = [next(fh) for _ in range(9)]
    rows = [ln.rstrip("\n").split("\t")[:62] for ln in lines[2:]]
    with gzip.open(OUT / "gtex_v8_reads_6genes_60samples.gct.gz", "wt") as fh:
        fh.write("#1.2\n6\t60\n")
        for r in rows:
            fh.write("\t".join(r) + "\n")
    samples = rows[0][2:]
    st = pd.read_csv(SHARED / "gtex_v7_sample_table_gtexviz.tsv.gz", sep="\t")
    st = st[st["sampleId"].isin(samples) & (st["dataType"] == "RNASEQ")]
    attrs = pd.DataFrame(
        {"SAMPID": st["sampleId"], "SMTSD": st["tissueSiteDetail"], "SMRIN": st["rin"]}
    )
    attrs.to_csv(OUT / "gtex_sample_attributes_60samples.tsv", sep="\t", index=False)
    print(f"wrote fixtures to {OUT}: {sorted(p.name for p in OUT.iterdir())}")


if __name__ == "__main__":
    main()

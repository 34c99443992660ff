"""Build the compact real datasets bundled inside :mod:`geneimpute.datasets`.

Run from the repository root (needs the staged real data in ``../shared/data``)::

    python scripts/build_datasets.py [--shared ../shared/data]

Writes ``src/geneimpute/datasets/_data/gtex_tissues.h5ad``. The package never reads
``../shared`` at run time; only this script does. Every filter is reported on stdout.

Sources (see ``../shared/data/SOURCES.md`` and ``docs/data.md``):

- ``hpa21_gtex_v8_rna_tissue_tpm_wide.tsv.gz`` -- GTEx v8 samples re-quantified by the Human
  Protein Atlas 21.1 (Ensembl 103), median TPM per tissue, 37 HPA tissues (CC BY-SA / GTEx).
- ``xpresso_hg38_promoters_cage_corrected.bed.gz`` -- CAGE-corrected TSS +/-10 kb windows and
  strand, GRCh38 (Agarwal & Shendure 2020, Xpresso; MIT).
- ``mtclass_gtex_v8_genes.tsv.gz`` -- GTEx v8 (GENCODE v26) gene bodies, GRCh38 (MIT).
- ``epd_promoters_300bp_m249_p50_gue_deepromoter.tsv.gz`` -- EPDnew promoters, -249..+50 bp.
- ``hupta_epd_promoter_sequence.tsv.gz`` + ``hupta_epd_promoter_ensmbl.tsv.gz`` -- EPDnew
  promoters, -49..+10 bp, with Ensembl IDs (HUPTA).
- ``ideogram_homo_sapiens_gene_structures_ensembl110.tsv.gz`` -- canonical transcript structure
  (Ensembl 110, CC0): 5' UTR, CDS and exon counts.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "geneimpute" / "datasets" / "_data"

#: Position of the TSS (+1) in the 300 bp EPD window (-249..+50) and of the 60 bp window in it.
TSS_INDEX_300 = 249
OFFSET_60_IN_300 = 200


def _promoter_number(pid: str) -> int:
    try:
        return int(pid.rsplit("_", 1)[1])
    except (IndexError, ValueError):
        return 10**6


def load_promoters(shared: Path) -> pd.DataFrame:
    """One primary EPDnew promoter per gene: 300 bp where present, else 60 bp."""
    p300 = pd.read_csv(shared / "epd_promoters_300bp_m249_p50_gue_deepromoter.tsv.gz", sep="\t")
    n_all = len(p300)
    p300 = p300[(p300["n_epd_matches"] == 1) & p300["ensembl_gene_ids"].notna()].copy()
    print(f"EPD 300 bp: {n_all} rows, {len(p300)} unambiguous with an Ensembl ID")
    p300["num"] = p300["epd_promoter_ids"].map(_promoter_number)
    p300 = p300.sort_values(["ensembl_gene_ids", "num"]).drop_duplicates("ensembl_gene_ids")
    p300 = p300.rename(
        columns={
            "ensembl_gene_ids": "gene_id",
            "epd_promoter_ids": "promoter_id",
            "seq_m249_p50": "seq",
        }
    )[["gene_id", "promoter_id", "seq"]]
    p300["promoter_source"] = "EPDnew_300bp"

    seq60 = pd.read_csv(
        shared / "hupta_epd_promoter_sequence.tsv.gz",
        sep="\t",
        header=None,
        names=["promoter_id", "seq"],
    )
    ids60 = pd.read_csv(
        shared / "hupta_epd_promoter_ensmbl.tsv.gz",
        sep="\t",
        header=None,
        names=["promoter_id", "gene_id"],
    )
    p60 = seq60.merge(ids60, on="promoter_id", how="inner")
    p60["num"] = p60["promoter_id"].map(_promoter_number)
    p60 = p60.sort_values(["gene_id", "num"]).drop_duplicates("gene_id")
    p60["seq"] = p60["seq"].str.upper()
    p60["promoter_source"] = "EPDnew_60bp"
    p60 = p60[["gene_id", "promoter_id", "seq", "promoter_source"]]
    print(f"EPD 60 bp: {len(seq60)} promoters, {len(p60)} genes with an Ensembl ID")

    prom = pd.concat([p300, p60[~p60["gene_id"].isin(p300["gene_id"])]], ignore_index=True)
    return prom.set_index("gene_id")


def load_gene_structure(shared: Path) -> pd.DataFrame:
    """Canonical-transcript structure per gene symbol (first transcript listed per gene).

    Columns: ``utr5_length``, ``cds_length``, ``utr3_length`` (bp) and ``n_exons``.
    """
    rows = []
    seen: set[str] = set()
    with gzip.open(shared / "ideogram_homo_sapiens_gene_structures_ensembl110.tsv.gz", "rt") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t")
            symbol = parts[0].rsplit("-", 1)[0]
            if symbol in seen:
                continue
            seen.add(symbol)
            lengths = {0: 0, 1: 0, 2: 0}
            n_exons = 0
            for feat in parts[4:]:
                if not feat:
                    continue
                kind, _start, length = (int(v) for v in feat.split(";"))
                lengths[kind] += length
                n_exons += kind == 1
            rows.append((symbol, lengths[0], lengths[1], lengths[2], n_exons))
    return pd.DataFrame(
        rows, columns=["gene_name", "utr5_length", "exon_length", "utr3_length", "n_exons"]
    ).set_index("gene_name")


def build_gtex_tissues(shared: Path) -> ad.AnnData:
    expr = pd.read_csv(shared / "hpa21_gtex_v8_rna_tissue_tpm_wide.tsv.gz", sep="\t")
    expr = expr.set_index("ensembl_gene_id")
    names = expr.pop("gene_name")
    print(f"HPA 21.1 GTEx table: {expr.shape[0]} genes x {expr.shape[1]} tissues")

    bed = (
        pd.read_csv(
            shared / "xpresso_hg38_promoters_cage_corrected.bed.gz",
            sep="\t",
            header=None,
            names=["chrom", "win_start", "win_end", "gene_id", "score", "strand"],
        )
        .drop_duplicates("gene_id")
        .set_index("gene_id")
    )
    bed["tss"] = np.where(bed["strand"] == "+", bed["win_start"] + 10_000, bed["win_end"] - 10_000)
    bed["chrom"] = "chr" + bed["chrom"].astype(str)

    keep = expr.index.intersection(bed.index)
    print(
        f"  {len(keep)} genes have an Xpresso hg38 CAGE-corrected TSS; "
        f"{expr.shape[0] - len(keep)} without one are not bundled"
    )
    expr = expr.loc[keep]

    bodies = pd.read_csv(shared / "mtclass_gtex_v8_genes.tsv.gz", sep="\t")
    bodies["gene_id"] = bodies["gene_id"].str.split(".").str[0]
    bodies = bodies.drop_duplicates("gene_id").set_index("gene_id")

    var = pd.DataFrame(index=pd.Index(keep, name="gene_id"))
    var["gene_name"] = names.loc[keep].astype(str)
    var["chrom"] = bed.loc[keep, "chrom"]
    var["strand"] = bed.loc[keep, "strand"]
    var["tss"] = bed.loc[keep, "tss"].astype(np.int64)
    body = bodies.reindex(keep)
    same_chrom = body["#CHROM"] == var["chrom"]
    # GENCODE is 1-based inclusive; store 0-based half-open. Genes without a GTEx v8 body on
    # the same chromosome get a 1 bp body at the TSS (reported).
    start = np.where(same_chrom, body["start"] - 1, var["tss"])
    end = np.where(same_chrom, body["end"], var["tss"] + 1)
    print(
        f"  gene bodies from GTEx v8 (GENCODE v26): {int(same_chrom.sum())}; "
        f"{int((~same_chrom).sum())} genes fall back to a 1 bp body at the TSS"
    )
    var["start"] = np.minimum(start, var["tss"]).astype(np.int64)
    var["end"] = np.maximum(end, var["tss"] + 1).astype(np.int64)
    var["gene_type"] = "protein_coding"

    prom = load_promoters(shared).reindex(keep)
    var["promoter_source"] = prom["promoter_source"].fillna("none")
    var["promoter_id"] = prom["promoter_id"].fillna("")
    var["promoter_seq"] = prom["seq"].fillna("")
    # index of the TSS (+1) inside each sequence, as written by geneimpute.pp.extract_promoters
    var["promoter_seq_tss_index"] = (
        var["promoter_source"].map({"EPDnew_300bp": TSS_INDEX_300, "EPDnew_60bp": 49, "none": -1})
    ).astype(np.int64)
    counts = var["promoter_source"].value_counts()
    print(f"  promoters: {counts.to_dict()}")

    struct = load_gene_structure(shared)
    st = struct.reindex(var["gene_name"])
    for col in struct.columns:
        var[col] = st[col].to_numpy(dtype=float)
    print(f"  canonical transcript structure for {int(st['n_exons'].notna().sum())} genes")

    var = var.sort_values(["chrom", "tss"]).copy()
    X = expr.loc[var.index].to_numpy(dtype=np.float32).T
    obs = pd.DataFrame(index=pd.Index([str(c) for c in expr.columns], name="tissue"))
    adata = ad.AnnData(X=X, obs=obs, var=var)
    adata.uns["dataset"] = {
        "name": "gtex_tissues",
        "units": "TPM (median over GTEx v8 samples per tissue, HPA 21.1 re-quantification)",
        "genome": "GRCh38",
        "coordinates": "0-based half-open; tss is the 0-based CAGE-corrected TSS (Xpresso)",
        "promoter_window": "EPDnew_300bp: -249..+50 bp (TSS at index 249); "
        "EPDnew_60bp: -49..+10 bp (TSS at index 49); transcription orientation",
        "sources": [
            "Human Protein Atlas 21.1 GTEx tissue table (via Bioconductor hpar 1.41.0)",
            "Xpresso hg38_promoters_cage_corrected.bed (Agarwal & Shendure 2020)",
            "GTEx v8 gene table, GENCODE v26 (via MTClass)",
            "EPDnew human promoters (via DNABERT-2 GUE / DeePromoter and HUPTA)",
            "Ensembl 110 canonical transcripts (via ideogram 1.53.0)",
        ],
    }
    return adata


def build_gtex_donors(shared: Path) -> ad.AnnData:
    """GTEx v8 read counts of the 59 ACMG genes, labelled samples only, normalised."""
    import geneimpute as ge

    adata = ge.pp.read_gct(shared / "gtex_v8_gene_reads_acmg59.gct.gz", strip_versions=True)
    print(f"GTEx v8 ACMG59 GCT: {adata.n_obs} samples x {adata.n_vars} genes (read counts)")
    v7 = pd.read_csv(shared / "gtex_v7_sample_table_gtexviz.tsv.gz", sep="\t")
    v7 = v7[v7["dataType"] == "RNASEQ"].rename(
        columns={"sampleId": "SAMPID", "tissueSiteDetail": "SMTSD"}
    )
    toil = pd.read_csv(
        shared / "toil_TcgaTargetGTEX_phenotype.tsv.gz", sep="\t", encoding="latin-1"
    )
    toil = toil[toil["_study"] == "GTEX"].rename(
        columns={"sample": "SAMPID", "detailed_category": "SMTSD"}
    )
    ge.pp.label_samples(adata, [v7, toil])
    n_before = adata.n_obs
    labelled = adata.obs["tissue"].notna().to_numpy()
    cell_line = adata.obs["tissue"].astype(str).str.startswith("Cells - Leukemia").to_numpy()
    adata = adata[labelled & ~cell_line].copy()
    print(
        f"  labelled: {int(labelled.sum())} of {n_before} samples "
        f"(v7 gtex-viz: {int((adata.obs['tissue_source'] == 0).sum())}, "
        f"Toil: {int((adata.obs['tissue_source'] == 1).sum())}); "
        f"{int(cell_line.sum())} leukemia cell-line samples dropped; "
        f"{n_before - int(labelled.sum())} unlabelled v8-only samples not bundled"
    )
    meta = v7.drop_duplicates("SAMPID").set_index("SAMPID")
    adata.obs["sex"] = meta["sex"].reindex(adata.obs_names).to_numpy()
    adata.obs["age_bracket"] = meta["ageBracket"].reindex(adata.obs_names).to_numpy()
    ge.pp.normalize_panel_counts(adata)
    adata.layers["counts"] = adata.layers["counts"].astype(np.int32)
    pairs = adata.obs.groupby(["donor", "tissue"], observed=True).size()
    print(
        f"  {adata.obs['donor'].nunique()} donors, {adata.obs['tissue'].nunique()} tissues, "
        f"{len(pairs)} donor x tissue pairs "
        f"({len(pairs) / (adata.obs['donor'].nunique() * adata.obs['tissue'].nunique()):.1%} "
        f"of cells observed); duplicated pairs: {int((pairs > 1).sum())}"
    )
    adata.obs = adata.obs.drop(columns=["tissue_source"]).assign(
        label_source=np.where(adata.obs["tissue_source"] == 0, "gtex-viz v7", "Toil")
    )
    adata.uns.pop("tissue_labels", None)
    adata.uns["dataset"] = {
        "name": "gtex_donors",
        "units": "X: log1p of median-of-ratios normalised read counts over the 59-gene panel; "
        "layers['counts']: raw RNA-SeQC read counts",
        "sources": [
            "GTEx v8 gene read counts (RNA-SeQC 1.1.9), 59 ACMG genes (course subset)",
            "GTEx v7 sample table (broadinstitute/gtex-viz)",
            "UCSC Xena / Toil TcgaTargetGTEX phenotype",
        ],
    }
    return adata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    adata = build_gtex_tissues(args.shared)
    path = OUT / "gtex_tissues.h5ad"
    adata.write_h5ad(path, compression="gzip", compression_opts=9)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB): {adata}")
    donors = build_gtex_donors(args.shared)
    path = OUT / "gtex_donors.h5ad"
    donors.write_h5ad(path, compression="gzip", compression_opts=9)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB): {donors}")


if __name__ == "__main__":
    main()

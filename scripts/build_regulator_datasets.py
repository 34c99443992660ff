"""Build the two sample-level regulator datasets bundled inside :mod:`geneimpute.datasets`.

Run from the repository root (needs the staged real data in ``../shared/data`` and the build-only
readers, ``pip install -e .[build]``, i.e. ``pyreadr`` and ``openpyxl``)::

    python scripts/build_regulator_datasets.py [--shared ../shared/data]

Writes, atomically (an existing file is replaced only once the new one is complete):

- ``src/geneimpute/datasets/_data/tcga_cohorts.h5ad`` -- 1,204 TCGA samples x 3,960 genes;
- ``src/geneimpute/datasets/_data/gtex_tf_samples.h5ad`` -- 520 GTEx samples x 467 genes.

The package never reads ``../shared`` at run time; only this script does. Every filter and
mapping count is reported on stdout.

Sources (see ``../shared/data/SOURCES.md`` and ``docs/data.md``):

- ``metagsca_tcga11/<COHORT>.RData`` -- the 11 paired tumour / adjacent-normal TCGA RNA-seq
  matrices shipped with the R package MetaGSCA (github Haocan223/MetaGSCA, commit 7d51dbd;
  GPL >= 2; Guo et al., PLoS Comput Biol 2021, doi:10.1371/journal.pcbi.1008976). The data are
  TCGA open-access RNA-seq.
- ``sepira_gtex_26tissues_467genes.rda`` (``GeneExp``) and ``sepira_tf_entrez_ids.rda``
  (``TFeid``, 1,385 MSigDB transcription factors) -- the R package SEPIRA (github YC3/SEPIRA,
  commit eb42c84; GPL-3; Chen, Widschwendter & Teschendorff, Genome Biol 2017,
  doi:10.1186/s13059-017-1366-0); the expression is a GTEx subset (GTEx open access).
- ``rbp_list_eyras_table_s2.xlsx`` -- 1,350 RNA-binding proteins / splicing factors
  (Sebestyen, ..., Eyras, Genome Res 2016; preprint doi:10.1101/023010), Table S2 as shipped by
  github lvalcarcel/DeepRBP (commit d3d4ba1).
- ``orghsegdb_3.16_gene_locations_hg38.tsv.gz`` -- Entrez ID <-> symbol <-> Ensembl ID, exported
  from Bioconductor org.Hs.eg.db 3.16.0 (Artistic-2.0; NCBI Entrez Gene 2022-09-12).
- ``mtclass_gtex_v8_genes.tsv.gz`` -- GTEx v8 gene table (GENCODE v26, 2017; MIT), used only
  to map the older gene symbols of the TCGA matrices (e.g. ``AARS``, ``HIST1H4A``) that
  org.Hs.eg.db 3.16 no longer carries to an Ensembl ID.
- ``ideogram_homo_sapiens_genes_ensembl110_grch38.tsv.gz`` -- Ensembl 110 genes (CC0), used
  only to prefer the primary-assembly Ensembl ID when org.Hs.eg.db lists several.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from geneimpute._core.io import write_h5ad_atomic

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "geneimpute" / "datasets" / "_data"
BUILD_COMMAND = "python scripts/build_regulator_datasets.py"

COHORTS = ("BRCA", "COAD", "HNSC", "KIRC", "KIRP", "LIHC", "LUAD", "LUSC", "PRAD", "STAD", "THCA")
SAMPLE_TYPES = {"01": "tumour", "11": "normal"}
REGULATOR_TYPES = ["RBP/SF", "TF", ""]
#: decimals kept in the bundled TCGA values (the source already has 2, so this loses nothing)
DECIMALS = 3

MAPPING_SOURCES = [
    "org.Hs.eg.db 3.16.0 (Bioconductor; Artistic-2.0): Entrez ID, symbol, Ensembl ID",
    "GTEx v8 gene table, GENCODE v26 (via MTClass; MIT): older symbols -> Ensembl ID",
    "Ensembl 110 genes (via ideogram 1.53.0; CC0): primary-assembly Ensembl ID preference",
]
REGULATOR_SOURCES = [
    "TF: SEPIRA TFeid, 1,385 MSigDB transcription factors (github YC3/SEPIRA; GPL-3)",
    "RBP/SF: Sebestyen et al., Genome Res 2016 (doi:10.1101/023010), Table S2, 1,350 RNA-binding "
    "proteins / splicing factors, via github lvalcarcel/DeepRBP",
]


def _read_r(path: Path) -> pd.DataFrame:
    import pyreadr

    result = pyreadr.read_r(path)
    if len(result) != 1:
        msg = f"{path}: expected one R object, found {list(result)}"
        raise ValueError(msg)
    return next(iter(result.values()))


# --------------------------------------------------------------------------------------------
# Gene annotation
# --------------------------------------------------------------------------------------------


class GeneMap:
    """Entrez ID / symbol / Ensembl ID look-ups built from org.Hs.eg.db plus fallbacks."""

    def __init__(self, shared: Path) -> None:
        org = pd.read_csv(
            shared / "orghsegdb_3.16_gene_locations_hg38.tsv.gz",
            sep="\t",
            usecols=["entrez", "symbol", "ensembl_id"],
        ).drop_duplicates("entrez")
        self.entrez_symbol: dict[int, str] = dict(zip(org["entrez"], org["symbol"], strict=True))
        self.entrez_ensembl: dict[int, list[str]] = {
            int(e): sorted(str(ids).split(";"))
            for e, ids in zip(org["entrez"], org["ensembl_id"], strict=True)
            if isinstance(ids, str) and ids
        }
        per_symbol = org.groupby("symbol")["entrez"].agg(list)
        self.symbol_entrez: dict[str, int] = {
            s: int(ids[0]) for s, ids in per_symbol.items() if len(ids) == 1
        }
        ens_rows = org.dropna(subset=["ensembl_id"]).assign(
            ensembl_id=lambda d: d["ensembl_id"].str.split(";")
        )
        ens_rows = ens_rows.explode("ensembl_id")
        per_ens = ens_rows.groupby("ensembl_id")["entrez"].agg(list)
        self.ensembl_entrez: dict[str, int] = {
            e: int(ids[0]) for e, ids in per_ens.items() if len(ids) == 1
        }
        print(
            f"org.Hs.eg.db 3.16: {len(org)} Entrez genes, {len(self.symbol_entrez)} unambiguous "
            f"symbols, {len(self.entrez_ensembl)} genes with an Ensembl ID"
        )

        gencode = pd.read_csv(
            shared / "mtclass_gtex_v8_genes.tsv.gz", sep="\t", usecols=["gene_id", "gene_name"]
        )
        gencode["gene_id"] = gencode["gene_id"].str.split(".").str[0]
        gencode = gencode[~gencode["gene_id"].str.contains("_PAR_", regex=False)]
        counts = gencode["gene_name"].value_counts()
        gencode = gencode[gencode["gene_name"].map(counts) == 1]
        self.gencode_symbol_ensembl: dict[str, str] = dict(
            zip(gencode["gene_name"], gencode["gene_id"], strict=True)
        )

        ideo = pd.read_csv(
            shared / "ideogram_homo_sapiens_genes_ensembl110_grch38.tsv.gz",
            sep="\t",
            comment="#",
            header=None,
            usecols=[0, 3, 4],
            names=["chr", "slim_id", "symbol"],
        )
        primary = {str(c) for c in range(1, 23)} | {"X", "Y", "MT"}
        ideo = ideo[ideo["chr"].astype(str).isin(primary)]
        ideo_ids = "ENSG" + ideo["slim_id"].astype(str).str.zfill(11)
        self.ensembl110_symbol: dict[str, str] = dict(
            zip(ideo_ids, ideo["symbol"].astype(str), strict=True)
        )
        self.primary_ensembl: set[str] = set(ideo_ids) | set(self.gencode_symbol_ensembl.values())
        self.n_ambiguous_ensembl = 0

    def ensembl_for_entrez(self, entrez: int, symbol: str = "") -> str:
        """One Ensembl ID for a gene.

        The only one org.Hs.eg.db lists; else the one Ensembl 110 gives the same symbol; else
        the first on the primary assembly; else the first; ``""`` if none.
        """
        ids = self.entrez_ensembl.get(entrez, [])
        if len(ids) <= 1:
            return ids[0] if ids else ""
        self.n_ambiguous_ensembl += 1
        same_symbol = [i for i in ids if self.ensembl110_symbol.get(i) == symbol]
        if same_symbol:
            return same_symbol[0]
        on_primary = [i for i in ids if i in self.primary_ensembl]
        return on_primary[0] if on_primary else ids[0]

    def annotate_symbols(self, symbols: list[str]) -> pd.DataFrame:
        """Entrez and Ensembl IDs for gene symbols; ``""`` where a symbol cannot be mapped."""
        rows = []
        n_current = n_old = n_old_entrez = 0
        self.n_ambiguous_ensembl = 0
        for s in symbols:
            entrez = self.symbol_entrez.get(s)
            ens = ""
            if entrez is not None:
                n_current += 1
                ens = self.ensembl_for_entrez(entrez, s)
                if not ens:
                    ens = self.gencode_symbol_ensembl.get(s, "")
            elif s in self.gencode_symbol_ensembl:
                n_old += 1
                ens = self.gencode_symbol_ensembl[s]
                entrez = self.ensembl_entrez.get(ens)
                n_old_entrez += entrez is not None
            rows.append((s, "" if entrez is None else str(entrez), ens))
        out = pd.DataFrame(rows, columns=["gene_symbol", "entrez_id", "ensembl_id"])
        print(
            f"  symbol mapping: {n_current} of {len(symbols)} are current org.Hs.eg.db symbols; "
            f"{n_old} older symbols found in GENCODE v26 (Ensembl ID), {n_old_entrez} of them "
            f"with an Entrez ID via that Ensembl ID; "
            f"{int((out['entrez_id'] == '').sum())} without an Entrez ID, "
            f"{int((out['ensembl_id'] == '').sum())} without an Ensembl ID; "
            f"{self.n_ambiguous_ensembl} with several org.Hs.eg.db Ensembl IDs (kept the one "
            f"Ensembl 110 names with the same symbol, else the first on the primary assembly)"
        )
        dup = out.loc[(out["ensembl_id"] != "") & out["ensembl_id"].duplicated(keep=False)]
        if len(dup):
            print(f"  shared Ensembl IDs: {dup.groupby('ensembl_id')['gene_symbol'].agg(list)}")
        return out


class Regulators:
    """Transcription factor (SEPIRA TFeid) and RBP/SF (Eyras Table S2) membership."""

    def __init__(self, shared: Path) -> None:
        tf = _read_r(shared / "sepira_tf_entrez_ids.rda")
        self.tf_entrez: set[int] = set(tf.iloc[:, 0].astype(int))
        print(f"SEPIRA TFeid: {len(tf)} rows, {len(self.tf_entrez)} distinct TF Entrez IDs")

        rbp = pd.read_excel(shared / "rbp_list_eyras_table_s2.xlsx", skiprows=2)
        tcga_id = rbp["TCGA ID"].astype(str).str.split("|")
        tcga_symbol = tcga_id.str[0]
        tcga_entrez = pd.to_numeric(tcga_id.str[1], errors="coerce")
        self.rbp_symbols: set[str] = set(rbp["HGNC symbol"].astype(str)) | set(
            tcga_symbol[tcga_symbol != "-"]
        )
        self.rbp_entrez: set[int] = set(tcga_entrez.dropna().astype(int))
        print(
            f"Eyras RBP list: {len(rbp)} genes ({rbp['type'].value_counts().to_dict()}); "
            f"{len(self.rbp_symbols)} symbols (HGNC + TCGA-ID spelling), "
            f"{len(self.rbp_entrez)} Entrez IDs (TCGA ID column; "
            f"{int(tcga_entrez.isna().sum())} without one)"
        )

    def classify(self, symbols: pd.Series, entrez: pd.Series) -> pd.Categorical:
        """``"RBP/SF"`` (Eyras list, by symbol or Entrez ID), else ``"TF"``, else ``""``."""
        ez = pd.to_numeric(entrez.replace("", np.nan), errors="coerce")
        rbp_sym = symbols.isin(self.rbp_symbols).to_numpy()
        rbp_ez = ez.isin(self.rbp_entrez).to_numpy()
        is_rbp = rbp_sym | rbp_ez
        is_tf = ez.isin(self.tf_entrez).to_numpy()
        print(
            f"  regulators: {int(is_rbp.sum())} RBP/SF ({int(rbp_sym.sum())} by symbol, "
            f"{int(rbp_ez.sum())} by Entrez ID, {int((rbp_ez & ~rbp_sym).sum())} only by Entrez "
            f"ID), {int(is_tf.sum())} in TFeid; {int((is_rbp & is_tf).sum())} in both lists "
            f"(labelled RBP/SF: {', '.join(symbols[is_rbp & is_tf])}); labels: "
            f"{int(is_rbp.sum())} RBP/SF, {int((is_tf & ~is_rbp).sum())} TF, "
            f"{int((~is_rbp & ~is_tf).sum())} neither"
        )
        labels = np.where(is_rbp, "RBP/SF", np.where(is_tf, "TF", ""))
        return pd.Categorical(labels, categories=REGULATOR_TYPES)


# --------------------------------------------------------------------------------------------
# TCGA (MetaGSCA)
# --------------------------------------------------------------------------------------------


def build_tcga_cohorts(shared: Path, genes: GeneMap, regs: Regulators) -> ad.AnnData:
    frames: dict[str, pd.DataFrame] = {}
    for cohort in COHORTS:
        df = _read_r(shared / "metagsca_tcga11" / f"{cohort}.RData")
        if df.index.duplicated().any():
            msg = f"{cohort}: duplicated gene symbols"
            raise ValueError(msg)
        n_nan = int(df.isna().to_numpy().sum())
        print(
            f"MetaGSCA {cohort}: {df.shape[0]} genes x {df.shape[1]} samples"
            + (f"; {n_nan} NaN values inside the source matrix" if n_nan else "")
        )
        frames[cohort] = df

    symbols = sorted(set().union(*(set(df.index) for df in frames.values())))
    n_every = len(set.intersection(*(set(df.index) for df in frames.values())))
    blocks = [df.reindex(symbols).T for df in frames.values()]
    full = pd.concat(blocks, axis=0)
    print(
        f"  union: {full.shape[0]} samples x {len(symbols)} genes; {n_every} genes listed by "
        f"every cohort; a gene a cohort does not list is NaN for all of its samples"
    )

    barcodes = full.index.str.replace(".", "-", regex=False)
    if barcodes.duplicated().any():
        msg = "duplicated TCGA barcodes"
        raise ValueError(msg)
    code = barcodes.str[13:15]
    unknown = sorted(set(code) - set(SAMPLE_TYPES))
    if unknown:
        msg = f"unexpected TCGA sample-type codes {unknown}"
        raise ValueError(msg)
    obs = pd.DataFrame(index=pd.Index(barcodes, name="barcode"))
    obs["cohort"] = pd.Categorical(
        np.repeat(list(frames), [df.shape[1] for df in frames.values()]), categories=COHORTS
    )
    obs["sample_type"] = pd.Categorical(code.map(SAMPLE_TYPES), categories=["tumour", "normal"])
    obs["donor"] = barcodes.str[:12]
    n_per_donor = obs.groupby("donor", observed=True)["sample_type"].agg(
        lambda s: tuple(sorted(s.astype(str)))
    )
    n_paired = int((n_per_donor == ("normal", "tumour")).sum())
    print(
        f"  samples: {obs['sample_type'].value_counts().to_dict()} from "
        f"{obs['donor'].nunique()} donors ({n_paired} with exactly one tumour + one normal)"
    )

    X64 = full.to_numpy(dtype=np.float64)
    listed = np.zeros(X64.shape, dtype=bool)
    start = 0
    for df in frames.values():
        listed[start : start + df.shape[1]] = np.isin(symbols, df.index)
        start += df.shape[1]
    n_block = int((~listed).sum())
    n_inside = int((np.isnan(X64) & listed).sum())
    print(
        f"  NaN: {n_block} ({n_block / X64.size:.2%}) from genes a cohort does not list, plus "
        f"{n_inside} ({n_inside / X64.size:.3%}) scattered NaN inside the COAD/STAD source "
        f"matrices (kept as NaN); total {np.isnan(X64).mean():.2%}"
    )
    finite = X64[np.isfinite(X64)]
    decimals_given = bool(np.allclose(finite, np.round(finite, 2), atol=1e-9))
    X = np.round(X64, DECIMALS).astype(np.float32)
    print(
        f"  values: {np.nanmin(X64):.2f} .. {np.nanmax(X64):.2f}; rounded to {DECIMALS} decimals "
        f"for compression (the source already has at most 2 decimals: {decimals_given}) and "
        f"stored as float32"
    )

    var = genes.annotate_symbols(symbols).set_index("gene_symbol", drop=False)
    var.index.name = None
    var["regulator_type"] = regs.classify(var["gene_symbol"], var["entrez_id"])
    var["n_cohorts_measured"] = np.sum(
        [np.isin(symbols, df.index) for df in frames.values()], axis=0
    ).astype(np.int64)
    var = var[["gene_symbol", "ensembl_id", "entrez_id", "regulator_type", "n_cohorts_measured"]]

    adata = ad.AnnData(X=X, obs=obs, var=var)
    counts = {
        "n_samples": int(adata.n_obs),
        "n_genes": int(adata.n_vars),
        "n_tumour": int((obs["sample_type"] == "tumour").sum()),
        "n_normal": int((obs["sample_type"] == "normal").sum()),
        "n_donors": int(obs["donor"].nunique()),
        "n_genes_in_every_cohort": int(n_every),
        "n_nan_unlisted_gene": n_block,
        "n_nan_inside_source": n_inside,
        "n_rbp_sf": int((var["regulator_type"] == "RBP/SF").sum()),
        "n_tf": int((var["regulator_type"] == "TF").sum()),
        "n_without_entrez_id": int((var["entrez_id"] == "").sum()),
        "n_without_ensembl_id": int((var["ensembl_id"] == "").sum()),
    }
    adata.uns["dataset"] = {
        "name": "tcga_cohorts",
        "source": "MetaGSCA R package data (github Haocan223/MetaGSCA, commit "
        "7d51dbd863ea701496544d2186224f3f33f7d0cc): 11 paired tumour / adjacent-normal TCGA "
        "RNA-seq cohorts; Guo et al., PLoS Comput Biol 2021, doi:10.1371/journal.pcbi.1008976",
        "units": "log2 normalised RNA-seq (MetaGSCA)",
        "licence": "MetaGSCA: GPL (>= 2); TCGA open-access data; org.Hs.eg.db: Artistic-2.0; "
        "RBP list: Sebestyen et al. 2016; TF list: SEPIRA (GPL-3)",
        "build_command": BUILD_COMMAND,
        "rounding": f"values rounded to {DECIMALS} decimals (the source has at most 2)",
        "missing_values": "NaN where a cohort's matrix does not list the gene (whole cohort x "
        "gene blocks) and, in COAD and STAD only, scattered NaN present in the source matrices "
        "(mostly lowly expressed genes)",
        "gene_mapping": MAPPING_SOURCES,
        "regulator_lists": REGULATOR_SOURCES,
        "counts": counts,
    }
    return adata


# --------------------------------------------------------------------------------------------
# GTEx subset (SEPIRA)
# --------------------------------------------------------------------------------------------


def build_gtex_tf_samples(shared: Path, genes: GeneMap, regs: Regulators) -> ad.AnnData:
    expr = _read_r(shared / "sepira_gtex_26tissues_467genes.rda")
    values = expr.to_numpy(dtype=np.float64)
    print(
        f"SEPIRA GeneExp: {expr.shape[0]} genes (Entrez IDs) x {expr.shape[1]} GTEx samples "
        f"(column names = tissue); values {values.min():.3g} .. {values.max():.3g}, "
        f"median {np.median(values):.3g}, {np.mean(values == 0):.1%} zeros, "
        f"{int(np.isnan(values).sum())} NaN"
    )
    if np.isnan(values).any() or values.min() < 0:
        msg = "SEPIRA GeneExp: expected non-negative values without NaN"
        raise ValueError(msg)

    entrez = [int(e) for e in expr.index]
    symbols = [genes.entrez_symbol.get(e) for e in entrez]
    n_unmapped = sum(s is None for s in symbols)
    index = [s if s is not None else f"ENTREZ:{e}" for s, e in zip(symbols, entrez, strict=True)]
    print(
        f"  {len(entrez) - n_unmapped} of {len(entrez)} Entrez IDs have an org.Hs.eg.db symbol; "
        f"{n_unmapped} fall back to ENTREZ:<id>"
    )
    var = pd.DataFrame(index=pd.Index(index))
    var["entrez_id"] = [str(e) for e in entrez]
    var["gene_symbol"] = [s or "" for s in symbols]
    genes.n_ambiguous_ensembl = 0
    var["ensembl_id"] = [
        genes.ensembl_for_entrez(e, s or "") for e, s in zip(entrez, symbols, strict=True)
    ]
    no_ens = var.index[var["ensembl_id"] == ""].tolist()
    print(
        f"  {len(no_ens)} genes without an Ensembl ID in org.Hs.eg.db ({', '.join(no_ens)}); "
        f"{genes.n_ambiguous_ensembl} with several (chosen as for the TCGA genes)"
    )
    var["regulator_type"] = regs.classify(var["gene_symbol"], var["entrez_id"])
    if var.index.duplicated().any():
        msg = "duplicated gene symbols in the SEPIRA genes"
        raise ValueError(msg)

    tissue = pd.Index([str(c) for c in expr.columns])
    k = pd.Series(1, index=range(len(tissue))).groupby(tissue.to_numpy()).cumsum().to_numpy()
    obs_names = [f"GTEx_{t.replace(' ', '_')}_{i}" for t, i in zip(tissue, k, strict=True)]
    obs = pd.DataFrame(index=pd.Index(obs_names, name="sample"))
    obs["tissue"] = pd.Categorical(tissue, categories=sorted(set(tissue)))
    obs["sample_type"] = pd.Categorical(["normal tissue"] * len(tissue))
    obs["donor"] = ""
    print(
        f"  {obs['tissue'].nunique()} tissues, samples per tissue: "
        f"{sorted(set(obs['tissue'].value_counts()))}"
    )

    given = values.T.astype(np.float32)
    # the values look log-scaled already (0..12.8): kept as given, no further log
    adata = ad.AnnData(X=given, obs=obs, var=var)
    counts = {
        "n_samples": int(adata.n_obs),
        "n_genes": int(adata.n_vars),
        "n_tissues": int(obs["tissue"].nunique()),
        "n_rbp_sf": int((var["regulator_type"] == "RBP/SF").sum()),
        "n_tf": int((var["regulator_type"] == "TF").sum()),
        "n_in_tfeid": int(pd.Series(entrez).isin(regs.tf_entrez).sum()),
        "n_symbol_unmapped": int(n_unmapped),
        "n_without_ensembl_id": int((var["ensembl_id"] == "").sum()),
    }
    adata.uns["dataset"] = {
        "name": "gtex_tf_samples",
        "source": "SEPIRA R package data GeneExp (github YC3/SEPIRA, commit "
        "eb42c840eab1dc09de34c71267bcadeae37aa108): a GTEx RNA-seq subset, 20 random samples "
        "of each of 26 tissues; Chen, Widschwendter & Teschendorff, Genome Biol 2017, "
        "doi:10.1186/s13059-017-1366-0",
        "units": "as given by SEPIRA (its documentation does not state the scale; the values "
        "range 0..12.8, median 0.49, so they look log-scaled already; kept as given)",
        "licence": "SEPIRA: GPL-3; GTEx open-access data; org.Hs.eg.db: Artistic-2.0; "
        "RBP list: Sebestyen et al. 2016",
        "build_command": BUILD_COMMAND,
        "donor": "unknown: the SEPIRA matrix carries no GTEx sample or donor IDs, so donor is "
        "'' and samples of different tissues may or may not share a donor",
        "gene_mapping": MAPPING_SOURCES,
        "regulator_lists": REGULATOR_SOURCES,
        "counts": counts,
    }
    return adata


def _write(adata: ad.AnnData, name: str) -> None:
    path = OUT / f"{name}.h5ad"
    write_h5ad_atomic(adata, path, compression="gzip", compression_opts=9)
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1e6:.2f} MB): {adata}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    genes = GeneMap(args.shared)
    regs = Regulators(args.shared)
    _write(build_tcga_cohorts(args.shared, genes, regs), "tcga_cohorts")
    _write(build_gtex_tf_samples(args.shared, genes, regs), "gtex_tf_samples")


if __name__ == "__main__":
    main()

"""Readers for the formats GTEx-style users have: GCT, wide TSV, GTF/BED, FASTA."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from .._logging import logger
from .._utils import normalize_chrom


def _exists(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        msg = f"file not found: {p}"
        raise FileNotFoundError(msg)
    return p


def strip_version(ids: pd.Index | pd.Series) -> pd.Index:
    """Drop Ensembl version suffixes: ``ENSG00000117118.9`` -> ``ENSG00000117118``."""
    return pd.Index(pd.Series(ids, dtype=str).str.split(".").str[0])


def read_gct(
    path: str | Path,
    sample_attributes: str | Path | pd.DataFrame | None = None,
    *,
    strip_versions: bool = False,
) -> ad.AnnData:
    """Read a GTEx GCT 1.2 expression file (genes x samples) into samples x genes AnnData.

    Parameters
    ----------
    path
        ``.gct`` or ``.gct.gz``: two header lines, then ``Name``, ``Description`` and one column
        per sample (read counts or TPM, as in the GTEx portal files).
    sample_attributes
        Optional GTEx ``SampleAttributesDS.txt`` (or a DataFrame) with ``SAMPID`` and ``SMTSD``
        (tissue) columns; joined into ``obs``. Samples without attributes are kept with
        ``tissue`` NaN and their count is logged.
    strip_versions
        Drop the Ensembl version from gene IDs (``ENSG...9`` -> ``ENSG...``).

    Returns
    -------
    AnnData ``(n_samples, n_genes)``, ``X`` float32 as in the file; ``var['gene_name']``;
    ``obs['donor']`` (``GTEX-XXXX``, the first two dash-separated fields) and, with
    attributes, ``obs['tissue']`` and the other attribute columns.

    Raises
    ------
    ValueError
        If the header is not GCT or gene IDs are duplicated.
    """
    p = _exists(path)
    df = pd.read_csv(p, sep="\t", skiprows=2)
    if list(df.columns[:2]) != ["Name", "Description"]:
        msg = (
            f"{p.name} is not GCT 1.2: expected columns Name, Description, "
            f"got {list(df.columns[:2])}"
        )
        raise ValueError(msg)
    genes = strip_version(df["Name"]) if strip_versions else pd.Index(df["Name"].astype(str))
    if genes.duplicated().any():
        msg = f"{p.name} has duplicated gene IDs, e.g. {list(genes[genes.duplicated()][:3])}"
        raise ValueError(msg)
    var = pd.DataFrame({"gene_name": df["Description"].astype(str).to_numpy()}, index=genes)
    X = df.iloc[:, 2:].to_numpy(dtype=np.float32).T
    samples = pd.Index(df.columns[2:].astype(str), name="sample")
    obs = pd.DataFrame(index=samples)
    obs["donor"] = ["-".join(s.split("-")[:2]) for s in samples]
    adata = ad.AnnData(X=X, obs=obs, var=var)
    if sample_attributes is not None:
        attrs = (
            sample_attributes
            if isinstance(sample_attributes, pd.DataFrame)
            else pd.read_csv(_exists(sample_attributes), sep="\t", low_memory=False)
        )
        for col in ("SAMPID", "SMTSD"):
            if col not in attrs.columns:
                msg = f"sample attributes lack column {col!r}"
                raise KeyError(msg)
        attrs = attrs.drop_duplicates("SAMPID").set_index("SAMPID")
        joined = attrs.reindex(samples)
        adata.obs["tissue"] = joined["SMTSD"].to_numpy()
        for col in attrs.columns.drop("SMTSD"):
            adata.obs[col] = joined[col].to_numpy()
        n_missing = int(joined["SMTSD"].isna().sum())
        if n_missing:
            logger.warning(
                "read_gct: %d of %d samples have no tissue label", n_missing, len(samples)
            )
    return adata


def read_wide_tsv(
    path: str | Path,
    *,
    gene_column: str | int = 0,
    name_column: str | None = None,
    index_col_false: bool = False,
) -> ad.AnnData:
    """Read a wide genes x tissues table (HPA/GTEx median TPM, Roadmap RPKM) as tissues x genes.

    Parameters
    ----------
    path
        Tab-separated table, one row per gene, one column per tissue (TPM or RPKM).
    gene_column
        Column name or position holding gene IDs (the ``var_names``).
    name_column
        Optional column of gene symbols, stored as ``var['gene_name']``.
    index_col_false
        Read with ``index_col=False`` (Roadmap ``57epigenomes.RPKM.pc`` rows end in a stray tab).

    Returns
    -------
    AnnData ``(n_tissues, n_genes)`` with ``obs_names`` = tissues; missing cells are NaN.

    Raises
    ------
    KeyError
        If ``gene_column`` or ``name_column`` is absent.
    ValueError
        If gene IDs are duplicated or a tissue column is not numeric.
    """
    p = _exists(path)
    df = pd.read_csv(p, sep="\t", index_col=False if index_col_false else None)
    gcol = df.columns[gene_column] if isinstance(gene_column, int) else gene_column
    for col in (gcol, name_column):
        if col is not None and col not in df.columns:
            msg = f"column {col!r} not in {p.name} (columns: {list(df.columns[:5])}...)"
            raise KeyError(msg)
    genes = pd.Index(df.pop(gcol).astype(str), name="gene_id")
    if genes.duplicated().any():
        msg = f"{p.name} has duplicated gene IDs, e.g. {list(genes[genes.duplicated()][:3])}"
        raise ValueError(msg)
    names = df.pop(name_column).astype(str).to_numpy() if name_column else None
    df = df.dropna(axis=1, how="all") if index_col_false else df
    non_numeric = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if non_numeric:
        msg = f"tissue columns {non_numeric[:5]} of {p.name} are not numeric"
        raise ValueError(msg)
    var = pd.DataFrame(index=genes)
    if names is not None:
        var["gene_name"] = names
    obs = pd.DataFrame(index=pd.Index(df.columns.astype(str), name="tissue"))
    return ad.AnnData(X=df.to_numpy(dtype=np.float32).T, obs=obs, var=var)


def read_annotation(path: str | Path, *, feature: str = "gene") -> pd.DataFrame:
    """Read gene coordinates from a GTF/GFF or BED file with :mod:`pyranges`.

    Parameters
    ----------
    path
        GTF/GFF (``gene_id``, ``gene_name``, ``gene_type``/``gene_biotype`` attributes) or BED6
        (name = gene ID, the Xpresso promoter BEDs included). Gzipped files are fine.
    feature
        GTF feature type to keep.

    Returns
    -------
    DataFrame indexed by gene ID (version stripped) with ``chrom`` (``chr``-prefixed),
    ``start``, ``end`` (0-based half-open, bp), ``strand`` and, where known, ``gene_name``,
    ``gene_type``.

    Raises
    ------
    ValueError
        If the format is not recognised or the file has no genes.
    """
    import pyranges as pr

    p = _exists(path)
    name = p.name.lower().removesuffix(".gz")
    if name.endswith((".gtf", ".gff", ".gff3")):
        reader = pr.read_gtf if name.endswith(".gtf") else pr.read_gff3
        df = reader(str(p)).df
        if "Feature" in df.columns:
            df = df[df["Feature"] == feature]
        id_col = "gene_id" if "gene_id" in df.columns else "ID"
        out = pd.DataFrame(
            {
                "chrom": df["Chromosome"].astype(str).to_numpy(),
                "start": df["Start"].to_numpy(np.int64),
                "end": df["End"].to_numpy(np.int64),
                "strand": df["Strand"].astype(str).to_numpy(),
            },
            index=strip_version(df[id_col].astype(str).str.removeprefix("gene:")),
        )
        for src, dst in (
            ("gene_name", "gene_name"),
            ("gene_type", "gene_type"),
            ("gene_biotype", "gene_type"),
        ):
            if src in df.columns and dst not in out.columns:
                out[dst] = df[src].astype(str).to_numpy()
    elif name.endswith(".bed"):
        df = pr.read_bed(str(p)).df
        if "Name" not in df.columns:
            msg = f"{p.name}: BED needs at least 4 columns (name = gene ID)"
            raise ValueError(msg)
        out = pd.DataFrame(
            {
                "chrom": df["Chromosome"].astype(str).to_numpy(),
                "start": df["Start"].to_numpy(np.int64),
                "end": df["End"].to_numpy(np.int64),
                "strand": df["Strand"].astype(str).to_numpy() if "Strand" in df else ".",
            },
            index=strip_version(df["Name"].astype(str)),
        )
    else:
        msg = f"{p.name}: unrecognised annotation format (expected .gtf, .gff3 or .bed)"
        raise ValueError(msg)
    if out.empty:
        msg = f"{p.name} has no {feature} records"
        raise ValueError(msg)
    out["chrom"] = normalize_chrom(out["chrom"]).to_numpy()
    out.index.name = "gene_id"
    return out[~out.index.duplicated()]


def read_fasta(path: str | Path) -> pd.Series:
    """Read a (small) FASTA of sequences, e.g. promoters, with :mod:`pyfaidx`.

    Returns
    -------
    Series of upper-case sequences indexed by record name.
    """
    import pyfaidx

    p = _exists(path)
    fa = pyfaidx.Fasta(str(p), as_raw=True, sequence_always_upper=True)
    return pd.Series({k: str(fa[k][:]) for k in fa.keys()}, dtype=object, name="sequence")

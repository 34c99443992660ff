"""Readers of expression tables: GCT (GTEx) and wide TSV."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from .._logging import warn_data
from ._files import existing_file, few, open_text, strip_version


def read_gct(
    path: str | Path,
    sample_attributes: str | Path | pd.DataFrame | None = None,
    *,
    strip_versions: bool = False,
    strict: bool = True,
) -> ad.AnnData:
    """Read a GTEx GCT 1.2 expression file (genes x samples) into samples x genes AnnData.

    Parameters
    ----------
    path
        ``.gct`` or ``.gct.gz`` (GCT 1.2, as on the GTEx portal): ``#1.2``, ``n_genes<TAB>
        n_samples``, a header ``Name``, ``Description``, samples..., one row per gene.
    sample_attributes
        Optional GTEx ``SampleAttributesDS.txt`` (or a DataFrame) with ``SAMPID`` and ``SMTSD``
        (tissue), joined into ``obs``; unlabelled samples are counted in a DataWarning.
    strip_versions
        Drop the Ensembl version from gene IDs (``ENSG...9`` -> ``ENSG...``).
    strict
        Refuse a table whose size differs from line 2; ``False``: read it, warned (GTEx
        subsets often keep the full table's line 2).

    Returns
    -------
    AnnData ``(n_samples, n_genes)``, ``X`` float32; ``var['gene_name']`` (``Description``),
    ``obs['donor']`` (``GTEX-XXXX``) and, with attributes, ``obs['tissue']`` (``SMTSD``) and
    the other attribute columns.

    Raises
    ------
    FileNotFoundError
        If ``path`` (or a ``sample_attributes`` path) does not exist.
    ValueError
        If the file is not GCT 1.2 or (``strict``) disagrees with its line 2, or has
        duplicated or non-numeric columns or duplicated gene IDs.
    KeyError
        If ``sample_attributes`` lacks ``SAMPID`` or ``SMTSD``.

    Warns
    -----
    DataWarning
        With ``strict=False``, if the table's size differs from line 2.

    Examples
    --------
    >>> adata = ge.pp.read_gct("GTEx_gene_reads.gct.gz", "SampleAttributesDS.txt")  # doctest: +SKIP
    """
    p = existing_file(path)
    with open_text(p) as fh:
        head = [fh.readline().rstrip("\r\n") for _ in range(3)]
    if not head[0].startswith("#1.2"):
        msg = f"{p.name} is not GCT 1.2: line 1 is {head[0][:40]!r}, expected '#1.2'"
        raise ValueError(msg)
    try:
        n_rows, n_cols = (int(x) for x in head[1].split("\t")[:2])
    except ValueError:
        msg = (
            f"{p.name} is not GCT 1.2: line 2 is {head[1][:40]!r}, expected "
            "'<number of genes><TAB><number of samples>'"
        )
        raise ValueError(msg) from None
    header = head[2].split("\t")
    if header[:2] != ["Name", "Description"]:
        msg = f"{p.name} is not GCT 1.2: expected columns Name, Description, got {header[:2]}"
        raise ValueError(msg)
    samples = pd.Index(header[2:], name="sample")
    if len(dup := samples[samples.duplicated()].unique()):
        msg = f"{p.name} has {len(dup)} duplicated sample columns, e.g. {few(dup)}"
        raise ValueError(msg)
    df = pd.read_csv(p, sep="\t", skiprows=2, dtype={"Name": str, "Description": str})
    if len(df) != n_rows or len(samples) != n_cols:
        msg = (
            f"{p.name}: line 2 declares {n_rows} genes x {n_cols} samples, but the table has "
            f"{len(df)} genes x {len(samples)} samples"
        )
        if strict:
            msg += (
                "; the file is truncated or its header is wrong (pass strict=False to read the "
                "table as it is, e.g. a subset that kept the full table's line 2)"
            )
            raise ValueError(msg)
        warn_data(f"read_gct: {msg}; read the table as it is (strict=False)")
    genes = strip_version(df["Name"]) if strip_versions else pd.Index(df["Name"].astype(str))
    _check_unique(genes, p)
    values = df.iloc[:, 2:]
    if non_numeric := _non_numeric(values):
        msg = f"sample columns {few(non_numeric)} of {p.name} are not numeric"
        raise ValueError(msg)
    var = pd.DataFrame({"gene_name": df["Description"].astype(str).to_numpy()}, index=genes)
    obs = pd.DataFrame({"donor": ["-".join(s.split("-")[:2]) for s in samples]}, index=samples)
    if (attrs := sample_attributes) is not None:
        if not isinstance(attrs, pd.DataFrame):
            attrs = pd.read_csv(existing_file(attrs), sep="\t", low_memory=False)
        if absent := [c for c in ("SAMPID", "SMTSD") if c not in attrs.columns]:
            msg = f"sample attributes lack column {absent[0]!r} (columns: {few(attrs.columns)})"
            raise KeyError(msg)
        joined = attrs.drop_duplicates("SAMPID").set_index("SAMPID").reindex(samples)
        obs["tissue"] = joined["SMTSD"].to_numpy()
        for col in joined.columns.drop("SMTSD"):
            obs[col] = joined[col].to_numpy()
        if (unlabelled := joined["SMTSD"].isna().to_numpy()).any():
            warn_data(
                f"read_gct: {int(unlabelled.sum())} of {len(samples)} samples have no tissue "
                f"label in the sample attributes (obs['tissue'] is NaN), e.g. "
                f"{few(samples[unlabelled])}"
            )
    return ad.AnnData(X=values.to_numpy(dtype=np.float32).T, obs=obs, var=var)


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
        Tab-separated table (plain or gzip) with a header, a row per gene, a column per tissue.
    gene_column
        Column name or position holding gene IDs (the ``var_names``).
    name_column
        Optional column of gene symbols, stored as ``var['gene_name']``.
    index_col_false
        Read with ``index_col=False`` for rows ending in a stray tab (Roadmap ``57epigenomes``).

    Returns
    -------
    AnnData ``(n_tissues, n_genes)``, ``X`` float32 (unit unchanged, NaN where missing).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    KeyError
        If ``gene_column`` or ``name_column`` is absent.
    ValueError
        If gene IDs are duplicated, a tissue column is not numeric, or rows have more fields
        than the header (without ``index_col_false``).

    Examples
    --------
    >>> hpa = ge.pp.read_wide_tsv("rna_tissue_gtex.tsv", name_column="gene_name")  # doctest: +SKIP
    """
    p = existing_file(path)
    df = pd.read_csv(p, sep="\t", index_col=False if index_col_false else None)
    if not isinstance(df.index, pd.RangeIndex):  # pandas took the extra field as an index
        msg = (
            f"the data rows of {p.name} have more fields than its header: a trailing tab "
            "(Roadmap 57epigenomes tables; pass index_col_false=True) or row names without a "
            "header cell (name that column in the header)"
        )
        raise ValueError(msg)
    if isinstance(gene_column, int) and not -df.shape[1] <= gene_column < df.shape[1]:
        msg = f"gene_column={gene_column} but {p.name} has {df.shape[1]} columns"
        raise KeyError(msg)
    gcol = df.columns[gene_column] if isinstance(gene_column, int) else gene_column
    for col in (gcol, name_column):
        if col is not None and col not in df.columns:
            msg = f"column {col!r} not in {p.name} (columns: {few(df.columns)}...)"
            raise KeyError(msg)
    genes = pd.Index(df.pop(gcol).astype(str), name="gene_id")
    _check_unique(genes, p)
    names = df.pop(name_column).astype(str).to_numpy() if name_column else None
    df = df.dropna(axis=1, how="all") if index_col_false else df
    if non_numeric := _non_numeric(df):
        msg = (
            f"tissue columns {few(non_numeric)} of {p.name} are not numeric; pass the gene "
            "symbol column as name_column"
        )
        raise ValueError(msg)
    var = pd.DataFrame(index=genes) if names is None else pd.DataFrame({"gene_name": names}, genes)
    obs = pd.DataFrame(index=pd.Index(df.columns.astype(str), name="tissue"))
    return ad.AnnData(X=df.to_numpy(dtype=np.float32).T, obs=obs, var=var)


def _check_unique(genes: pd.Index, p: Path) -> None:
    if genes.duplicated().any():
        msg = f"{p.name} has duplicated gene IDs, e.g. {few(genes[genes.duplicated()], 3)}"
        raise ValueError(msg)


def _non_numeric(df: pd.DataFrame) -> list:
    return [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]

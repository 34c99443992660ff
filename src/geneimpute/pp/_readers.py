"""Readers for the formats GTEx-style users have: GCT, wide TSV, GTF/GFF3/BED, FASTA."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote

import anndata as ad
import numpy as np
import pandas as pd

from .._logging import warn_data
from .._utils import check_intervals, normalize_chrom

#: The nine tab-separated columns of a GTF/GFF3 record.
_GFF_COLUMNS = (
    "seqname",
    "source",
    "feature",
    "start",
    "end",
    "score",
    "strand",
    "frame",
    "attributes",
)
_ATTRIBUTE_HINT = {
    "GTF": "; GTF attributes are 'key \"value\";' pairs",
    "GFF3": "; GFF3 attributes are 'key=value;' pairs",
}
#: Lines before the records of a BED file that are not records.
_BED_HEADER = ("track", "browser", "#")


def _exists(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        msg = f"file not found: {p}"
        raise FileNotFoundError(msg)
    return p


def _is_gzip(p: Path) -> bool:
    with open(p, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _is_bgzip(p: Path) -> bool:
    """Whether ``p`` is BGZF (``bgzip``): gzip with the ``BC`` extra subfield."""
    with open(p, "rb") as fh:
        head = fh.read(14)
    return (
        len(head) == 14 and head[:2] == b"\x1f\x8b" and bool(head[3] & 4) and head[12:14] == b"BC"
    )


def _open_text(p: Path):
    """Open a plain or gzip-compressed text file for reading."""
    return gzip.open(p, "rt") if _is_gzip(p) else open(p)  # noqa: SIM115


def _few(items, n: int = 5) -> list:
    return [str(x) for x in list(items)[:n]]


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
        ``.gct`` or ``.gct.gz`` (GCT 1.2, as on the GTEx portal): line 1 ``#1.2``, line 2
        ``n_genes<TAB>n_samples``, line 3 the header ``Name``, ``Description`` and one column per
        sample, then one row per gene (read counts or TPM).
    sample_attributes
        Optional GTEx ``SampleAttributesDS.txt`` (or a DataFrame) with ``SAMPID`` and ``SMTSD``
        (tissue) columns; joined into ``obs``. Samples without attributes are kept with
        ``tissue`` NaN, and a :class:`~geneimpute.DataWarning` gives their number and a few IDs.
    strip_versions
        Drop the Ensembl version from gene IDs (``ENSG...9`` -> ``ENSG...``).

    Returns
    -------
    AnnData ``(n_samples, n_genes)``, ``X`` float32 as in the file; ``var['gene_name']``
    (the ``Description`` column); ``obs['donor']`` (``GTEX-XXXX``, the first two dash-separated
    fields of the sample ID) and, with attributes, ``obs['tissue']`` (``SMTSD``) and the other
    attribute columns.

    Raises
    ------
    FileNotFoundError
        If ``path`` (or a ``sample_attributes`` path) does not exist.
    ValueError
        If the file is not GCT 1.2, the counts on line 2 disagree with the table (both named),
        sample columns or gene IDs are duplicated, or a sample column is not numeric.
    KeyError
        If ``sample_attributes`` lacks ``SAMPID`` or ``SMTSD``.

    Examples
    --------
    >>> adata = ge.pp.read_gct("GTEx_gene_reads.gct.gz", "SampleAttributesDS.txt")  # doctest: +SKIP
    """
    p = _exists(path)
    with _open_text(p) as fh:
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
    dup = samples[samples.duplicated()].unique()
    if len(dup):
        msg = f"{p.name} has {len(dup)} duplicated sample columns, e.g. {_few(dup)}"
        raise ValueError(msg)
    df = pd.read_csv(p, sep="\t", skiprows=2, dtype={"Name": str, "Description": str})
    if len(df) != n_rows or len(samples) != n_cols:
        msg = (
            f"{p.name}: line 2 declares {n_rows} genes x {n_cols} samples, but the table has "
            f"{len(df)} genes x {len(samples)} samples; the file is truncated or its header is "
            "wrong"
        )
        raise ValueError(msg)
    genes = strip_version(df["Name"]) if strip_versions else pd.Index(df["Name"].astype(str))
    if genes.duplicated().any():
        msg = f"{p.name} has duplicated gene IDs, e.g. {_few(genes[genes.duplicated()], 3)}"
        raise ValueError(msg)
    values = df.iloc[:, 2:]
    non_numeric = [c for c in values.columns if not pd.api.types.is_numeric_dtype(values[c])]
    if non_numeric:
        msg = f"sample columns {_few(non_numeric)} of {p.name} are not numeric"
        raise ValueError(msg)
    var = pd.DataFrame({"gene_name": df["Description"].astype(str).to_numpy()}, index=genes)
    obs = pd.DataFrame(index=samples)
    obs["donor"] = ["-".join(s.split("-")[:2]) for s in samples]
    attrs = None
    if sample_attributes is not None:
        attrs = (
            sample_attributes
            if isinstance(sample_attributes, pd.DataFrame)
            else pd.read_csv(_exists(sample_attributes), sep="\t", low_memory=False)
        )
        for col in ("SAMPID", "SMTSD"):
            if col not in attrs.columns:
                msg = f"sample attributes lack column {col!r} (columns: {_few(attrs.columns)})"
                raise KeyError(msg)
    adata = ad.AnnData(X=values.to_numpy(dtype=np.float32).T, obs=obs, var=var)
    if attrs is not None:
        attrs = attrs.drop_duplicates("SAMPID").set_index("SAMPID")
        joined = attrs.reindex(samples)
        adata.obs["tissue"] = joined["SMTSD"].to_numpy()
        for col in attrs.columns.drop("SMTSD"):
            adata.obs[col] = joined[col].to_numpy()
        unlabelled = joined["SMTSD"].isna().to_numpy()
        if unlabelled.any():
            warn_data(
                f"read_gct: {int(unlabelled.sum())} of {len(samples)} samples have no tissue "
                f"label in the sample attributes (obs['tissue'] is NaN), e.g. "
                f"{_few(samples[unlabelled])}"
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
        Tab-separated table (plain or gzip), a header row, then one row per gene and one column
        per tissue (TPM or RPKM; the unit is kept as is).
    gene_column
        Column name or position holding gene IDs (the ``var_names``).
    name_column
        Optional column of gene symbols, stored as ``var['gene_name']``.
    index_col_false
        Read with ``index_col=False``, for tables whose data rows end in a stray tab that the
        header lacks (Roadmap ``57epigenomes.RPKM.pc``); columns left all-empty are dropped.

    Returns
    -------
    AnnData ``(n_tissues, n_genes)``, ``X`` float32, ``obs_names`` = the tissue column names,
    ``var_names`` = gene IDs; missing cells are NaN.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    KeyError
        If ``gene_column`` or ``name_column`` is absent.
    ValueError
        If gene IDs are duplicated or a tissue column is not numeric (both named), or data rows
        have more fields than the header (without ``index_col_false``).

    Examples
    --------
    >>> hpa = ge.pp.read_wide_tsv("rna_tissue_gtex.tsv", name_column="gene_name")  # doctest: +SKIP
    """
    p = _exists(path)
    df = pd.read_csv(p, sep="\t", index_col=False if index_col_false else None)
    if not isinstance(df.index, pd.RangeIndex):  # pandas took the extra field as an index
        msg = (
            f"the data rows of {p.name} have more fields than its header: a trailing tab "
            "(Roadmap 57epigenomes tables; pass index_col_false=True) or row names without a "
            "header cell (name that column in the header)"
        )
        raise ValueError(msg)
    if isinstance(gene_column, int):
        if not -df.shape[1] <= gene_column < df.shape[1]:
            msg = f"gene_column={gene_column} but {p.name} has {df.shape[1]} columns"
            raise KeyError(msg)
        gcol = df.columns[gene_column]
    else:
        gcol = gene_column
    for col in (gcol, name_column):
        if col is not None and col not in df.columns:
            msg = f"column {col!r} not in {p.name} (columns: {_few(df.columns)}...)"
            raise KeyError(msg)
    genes = pd.Index(df.pop(gcol).astype(str), name="gene_id")
    if genes.duplicated().any():
        msg = f"{p.name} has duplicated gene IDs, e.g. {_few(genes[genes.duplicated()], 3)}"
        raise ValueError(msg)
    names = df.pop(name_column).astype(str).to_numpy() if name_column else None
    df = df.dropna(axis=1, how="all") if index_col_false else df
    non_numeric = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if non_numeric:
        msg = (
            f"tissue columns {_few(non_numeric)} of {p.name} are not numeric; pass the gene "
            "symbol column as name_column"
        )
        raise ValueError(msg)
    var = pd.DataFrame(index=genes)
    if names is not None:
        var["gene_name"] = names
    obs = pd.DataFrame(index=pd.Index(df.columns.astype(str), name="tissue"))
    return ad.AnnData(X=df.to_numpy(dtype=np.float32).T, obs=obs, var=var)


def _check_compression(p: Path) -> None:
    """Check that ``.gz`` in the name matches the content (pandas, so pyranges, goes by name)."""
    gz_name = p.name.lower().endswith(".gz")
    if _is_gzip(p) and not gz_name:
        msg = f"{p.name} is gzip-compressed but its name does not end in .gz: rename it"
        raise ValueError(msg)
    if gz_name and p.stat().st_size and not _is_gzip(p):
        msg = f"{p.name} ends in .gz but is not gzip-compressed: rename it without .gz"
        raise ValueError(msg)


def _first_record(p: Path, header: tuple[str, ...]) -> tuple[int, str | None]:
    """Count the lines before the first record and return that record (``None``: no records)."""
    with _open_text(p) as fh:
        for n, line in enumerate(fh):
            if line.strip() and not line.startswith(header):
                return n, line.rstrip("\r\n")
    return 0, None


class _Layout(NamedTuple):
    """What every record of a file must look like, to explain why pyranges failed on one."""

    what: str  # "GTF", "GFF3", "BED"
    n_cols: int  # tab-separated columns of every record
    rule: str  # says so, e.g. "a GTF record has 9"
    start_col: int  # column of the start (the end follows it)
    header: tuple[str, ...]  # prefixes of lines that are not records


def _bad_record(p: Path, layout: _Layout) -> str | None:
    """Describe the first record pyranges cannot take (only run to explain a failure).

    The problem is its column count, an empty column, or a start/end that is not a whole number.
    """
    what, n_cols, rule, start_col, header = layout
    first = True
    with _open_text(p) as fh:
        for n, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.startswith(header):
                continue
            fields = line.split("\t")
            if first and what == "BED" and not _is_int(fields[start_col]):
                first = False
                continue  # a column-name line, which pyranges.read_bed takes as its header
            first = False
            if len(fields) != n_cols:
                return (
                    f"line {n} has {len(fields)} tab-separated columns, but {rule}: {line[:120]!r}"
                )
            empty = [i + 1 for i, x in enumerate(fields) if not x.strip()]
            if empty:
                return f"line {n} has an empty column {empty[0]}: {line[:120]!r}"
            for name, i in (("start", start_col), ("end", start_col + 1)):
                if not _is_int(fields[i]):
                    return f"line {n}: {name} must be a whole number (bp), got {fields[i]!r}"
    return None


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _pyranges(
    reader: Callable[..., pd.DataFrame], src: str, p: Path, layout: _Layout
) -> pd.DataFrame:
    """Read with a pyranges reader (file order kept); explain what it cannot parse."""
    what = layout.what
    required = ["Chromosome", "Start", "End"] + (["Feature", "Strand"] if what != "BED" else [])
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # pyranges prints the line it chokes on
            df = reader(src, as_df=True)
    except Exception as err:  # noqa: BLE001 - pyranges raises anything from pandas parsing
        problem = _bad_record(p, layout) or (
            f"pyranges could not parse it ({type(err).__name__}: {str(err).strip()})"
            + _ATTRIBUTE_HINT.get(what, "")
        )
        msg = f"{p.name} is not a valid {what} file: {problem}"
        raise ValueError(msg) from err
    incomplete = df[required].isna().any(axis=None)
    coords_ok = all(pd.api.types.is_integer_dtype(df[c]) for c in ("Start", "End"))
    if incomplete or not coords_ok:
        problem = _bad_record(p, layout) or "records with empty columns or coordinates"
        msg = f"{p.name} is not a valid {what} file: {problem}"
        raise ValueError(msg)
    return df


def _attribute(df: pd.DataFrame, key: str, *, gff3: bool) -> pd.Series:
    """One attribute column as pyranges parsed it (NaN where absent); GFF3 ``%XX`` decoded."""
    if key not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype=object)
    out = df[key].astype(object)
    if gff3 and out.str.contains("%", regex=False).any():
        out = out.map(unquote, na_action="ignore")
    return out


def _read_gff(p: Path, features: Sequence[str], *, gff3: bool) -> pd.DataFrame:
    import pyranges as pr

    what = "GFF3" if gff3 else "GTF"
    _, first = _first_record(p, ("#",))
    if first is None:
        msg = f"{p.name} has no {what} records (the file is empty or only comments)"
        raise ValueError(msg)
    if len(first.split("\t")) != len(_GFF_COLUMNS):
        msg = (
            f"{p.name} has {len(first.split(chr(9)))} tab-separated columns, but a {what} record "
            f"has 9 ({', '.join(_GFF_COLUMNS)})"
        )
        raise ValueError(msg)
    reader = pr.read_gff3 if gff3 else pr.read_gtf  # Start is 0-based after either
    layout = _Layout(what, 9, f"a {what} record has 9", 3, ("#",))
    df = _pyranges(reader, str(p), p, layout)
    genes = df[df["Feature"].astype(str).isin(features).to_numpy()]
    if genes.empty:
        present = sorted(df["Feature"].astype(str).unique())[:10]
        msg = (
            f"{p.name} has no {list(features)} records (feature types present: {present}); "
            "pass feature= to choose another"
        )
        raise ValueError(msg)
    gene_id = _attribute(genes, "gene_id", gff3=gff3)
    if gff3:
        ids = _attribute(genes, "ID", gff3=True).str.removeprefix("gene:")
        gene_id = gene_id.where(gene_id.notna(), ids)
    if gene_id.isna().any():
        i = int(np.flatnonzero(gene_id.isna().to_numpy())[0])
        key = "a gene_id or ID" if gff3 else "a gene_id"
        row = genes.iloc[i]
        msg = (
            f"{p.name}: {int(gene_id.isna().sum())} {list(features)} records lack {key} "
            f"attribute, e.g. the one at {row['Chromosome']}:{row['Start'] + 1}-{row['End']}"
        )
        raise ValueError(msg)
    out = pd.DataFrame(
        {
            "chrom": genes["Chromosome"].astype(str).to_numpy(),
            "start": genes["Start"].to_numpy(np.int64),
            "end": genes["End"].to_numpy(np.int64),
            "strand": genes["Strand"].astype(str).to_numpy(),
        },
        index=strip_version(gene_id),
    )
    name_keys = ("gene_name", "Name") if gff3 else ("gene_name",)
    type_keys = ("gene_type", "gene_biotype", "biotype")
    for dst, keys in (("gene_name", name_keys), ("gene_type", type_keys)):
        values = None
        for key in keys:
            got = _attribute(genes, key, gff3=gff3)
            values = got if values is None else values.where(values.notna(), got)
        if values is not None and values.notna().any():
            out[dst] = values.to_numpy()
    return out


def _read_bed(p: Path) -> pd.DataFrame:
    import pyranges as pr

    n_header, first = _first_record(p, _BED_HEADER)
    if first is None:
        msg = f"{p.name} has no BED records (the file is empty or only header lines)"
        raise ValueError(msg)
    n_cols = len(first.split("\t"))
    if n_cols < 4:
        msg = (
            f"{p.name} has {n_cols} tab-separated columns; a gene BED needs at least 4 "
            "(chrom, start, end, name = gene ID), and 6 to give the strand"
        )
        raise ValueError(msg)
    layout = _Layout("BED", n_cols, f"the first record has {n_cols}", 1, _BED_HEADER)
    with tempfile.TemporaryDirectory() as tmp:
        src = str(p)
        if n_header:  # pyranges.read_bed cannot skip track/browser/comment lines
            src = os.path.join(tmp, "records.bed")
            with _open_text(p) as fh, open(src, "w") as dst:
                for _ in range(n_header):
                    fh.readline()
                shutil.copyfileobj(fh, dst)
        df = _pyranges(pr.read_bed, src, p, layout)
    if df["Name"].isna().any() or ("Strand" in df and df["Strand"].isna().any()):
        problem = _bad_record(p, layout) or "records with empty name or strand columns"
        msg = f"{p.name} is not a valid BED file: {problem}"
        raise ValueError(msg)
    return pd.DataFrame(
        {
            "chrom": df["Chromosome"].astype(str).to_numpy(),
            "start": df["Start"].to_numpy(np.int64),
            "end": df["End"].to_numpy(np.int64),
            "strand": df["Strand"].astype(str).to_numpy() if "Strand" in df else ".",
        },
        index=strip_version(df["Name"].astype(str)),
    )


def read_annotation(path: str | Path, *, feature: str | Sequence[str] = "gene") -> pd.DataFrame:
    """Read gene coordinates from a GTF, GFF3 or BED file (plain or gzip) with :mod:`pyranges`.

    Records are parsed by :func:`pyranges.read_gtf`, :func:`pyranges.read_gff3` and
    :func:`pyranges.read_bed` and kept in file order. GTF/GFF3 coordinates (1-based, inclusive)
    become 0-based half-open (pyranges' convention); BED ones are already 0-based half-open.
    Chromosome names get a ``chr`` prefix (``1`` -> ``chr1``, ``MT`` -> ``chrM``) and Ensembl
    versions are stripped from gene IDs, so GENCODE and Ensembl sources mix. Only the first
    record of a gene ID is kept (e.g. GENCODE's ``_PAR_Y`` copies).

    Parameters
    ----------
    path
        ``.gtf``, ``.gff``/``.gff3`` or ``.bed`` (optionally ``.gz``).
        GTF: ``gene_id``, ``gene_name``, ``gene_type``/``gene_biotype`` attributes (GENCODE,
        Ensembl). GFF3: ``gene_id`` or ``ID`` (``gene:`` prefix dropped), ``gene_name`` or
        ``Name``, ``gene_type``/``biotype``. BED: at least 4 columns, name = gene ID, strand in
        column 6 (the Xpresso promoter BEDs included); leading ``track``/``browser``/``#``
        lines are skipped.
    feature
        GTF/GFF3 feature type(s) to keep. Ensembl GFF3 files type non-coding genes
        ``ncRNA_gene`` and ``pseudogene``: pass ``("gene", "ncRNA_gene", "pseudogene")``.

    Returns
    -------
    DataFrame indexed by gene ID (``gene_id``, version stripped) with ``chrom``
    (``chr``-prefixed), ``start``, ``end`` (int, 0-based half-open, bp), ``strand`` (``+``,
    ``-``, or ``.`` for a BED without strand) and, where the file has them, ``gene_name`` and
    ``gene_type``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        Naming the file: if the format is not recognised (by extension) or the ``.gz`` in the
        name does not match the content; the file is empty or has no ``feature`` records (the
        feature types present are named); a GTF/GFF3 record has other than 9 columns or a BED
        fewer than 4, a column is empty or a coordinate is not a whole number (the line is
        named); a record has ``end < start``, a negative start or an empty chromosome name; or a
        gene record lacks its ID.

    Examples
    --------
    >>> ann = ge.pp.read_annotation("gencode.v26.annotation.gtf.gz")  # doctest: +SKIP
    >>> ge.pp.annotate_genes(adata, ann)  # doctest: +SKIP
    """
    p = _exists(path)
    features = [feature] if isinstance(feature, str) else list(feature)
    name = p.name.lower().removesuffix(".gz")
    if not name.endswith((".gtf", ".gff", ".gff3", ".bed")):
        msg = f"{p.name}: unrecognised annotation format (expected .gtf, .gff3 or .bed, or .gz)"
        raise ValueError(msg)
    _check_compression(p)
    if name.endswith(".bed"):
        out = _read_bed(p)
    else:
        out = _read_gff(p, features, gff3=not name.endswith(".gtf"))
    check_intervals(
        out["chrom"], out["start"], out["end"], out.index, source=p.name, what="records"
    )
    out["chrom"] = normalize_chrom(out["chrom"].str.strip()).to_numpy()
    out.index.name = "gene_id"
    return out[~out.index.duplicated()]


def check_fasta_index(p: Path, caller: str) -> list[Path]:
    """Check that pyfaidx can use or write ``<p>.fai`` (and ``.gzi``); warn when it will.

    ``caller`` (the public function, e.g. ``"read_fasta"``) names the reader in the message.
    Returns the index files pyfaidx will write (missing, or older than the FASTA).

    Raises
    ------
    PermissionError
        If an index must be written and the FASTA's directory is not writable.
    """
    indexes = [Path(f"{p}.fai")] + ([Path(f"{p}.gzi")] if _is_gzip(p) else [])
    mtime = p.stat().st_mtime
    stale = [i for i in indexes if not i.exists() or i.stat().st_mtime < mtime]
    if not stale:
        return []
    names = " and ".join(i.name for i in stale)
    if not os.access(p.parent, os.W_OK):
        msg = (
            f"{caller} needs the FASTA index {names} next to {p}, which does not exist (or "
            f"is older than the FASTA) and cannot be written: {p.parent} is not writable. Copy "
            "the FASTA to a writable directory, or have the index created there once "
            "(`samtools faidx FASTA`)"
        )
        raise PermissionError(msg)
    warn_data(
        f"{caller}: writing the FASTA index {names} next to {p} (pyfaidx); later calls reuse it",
        stacklevel=4,
    )
    return stale


def _duplicated_names(p: Path, err: Exception) -> list[str]:
    """Record names listed more than once in the ``.fai`` pyfaidx wrote (or in its error)."""
    try:
        names = pd.read_csv(f"{p}.fai", sep="\t", header=None, usecols=[0], dtype=str)[0]
    except (OSError, ValueError, pd.errors.ParserError):
        return [str(err).removeprefix("Duplicate key ").strip('"')]
    return list(names[names.duplicated()].unique())


def read_fasta(path: str | Path) -> pd.Series:
    """Read a FASTA of sequences (e.g. promoters) into a Series with :mod:`pyfaidx`.

    :mod:`pyfaidx` reads the FASTA through an index, ``<path>.fai`` (plus ``<path>.gzi`` for
    bgzip), kept next to the FASTA. When it is missing or older than the FASTA it is written
    there, with a :class:`~geneimpute.DataWarning` saying so; later calls reuse it. If reading
    fails, index files written by the call are removed again.

    Parameters
    ----------
    path
        FASTA, uncompressed or bgzip-compressed (``samtools``/``htslib`` ``bgzip``; plain gzip
        cannot be indexed); each record ``>name description`` followed by sequence lines of one
        length (the last line of a record may be shorter). The record name is the first word
        after ``>``.

    Returns
    -------
    Series of upper-case sequences (str) indexed by record name, in file order, named
    ``"sequence"``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    PermissionError
        If the index must be written and the FASTA's directory is not writable.
    ValueError
        Naming the file: if it is gzip- but not bgzip-compressed (decompress it or recompress
        with ``bgzip``); it is empty, has text before the first ``>`` line, a record without a
        name, or lines of unequal length inside a record (pyfaidx cannot index it); records
        have no sequence or names are duplicated (named).

    Examples
    --------
    >>> seqs = ge.pp.read_fasta("promoters.fa")  # doctest: +SKIP
    >>> adata.var["promoter_seq"] = seqs.reindex(adata.var_names).fillna("")  # doctest: +SKIP
    """
    import pyfaidx

    p = _exists(path)
    if _is_gzip(p) and not _is_bgzip(p):
        plain = p.name.removesuffix(".gz").removesuffix(".bgz")
        msg = (
            f"{p.name} is gzip-compressed but not with bgzip, which pyfaidx needs to index it: "
            f"decompress it (`gunzip {p.name}`) and read {plain}, or then recompress that with "
            f"bgzip (`bgzip {plain}`)"
        )
        raise ValueError(msg)
    if _is_gzip(p) and not p.name.lower().endswith((".gz", ".bgz")):
        msg = f"{p.name} is bgzip-compressed but its name does not end in .gz or .bgz: rename it"
        raise ValueError(msg)
    if p.stat().st_size == 0:
        msg = f"{p.name} has no FASTA records (the file is empty)"
        raise ValueError(msg)
    written = check_fasta_index(p, "read_fasta")
    try:
        with pyfaidx.Fasta(str(p), as_raw=True, sequence_always_upper=True) as fa:
            seqs = pd.Series({k: str(fa[k][:]) for k in fa.keys()}, dtype=object)
    except ImportError as err:  # bgzip needs Biopython
        msg = f"reading the bgzip FASTA {p.name} needs biopython (or decompress it): {err}"
        _remove(written)
        raise ImportError(msg) from err
    except pyfaidx.FastaIndexingError as err:
        _remove(written)
        msg = f"{p.name} is not a FASTA file pyfaidx can index: {err}"
        raise ValueError(msg) from None
    except ValueError as err:
        if not str(err).startswith("Duplicate key"):
            _remove(written)
            raise
        dup = _duplicated_names(p, err)
        _remove(written)
        msg = f"{p.name} has {len(dup)} duplicated record names, e.g. {_few(dup)}"
        raise ValueError(msg) from None
    seqs.name = "sequence"
    empty = seqs.index[seqs.str.len().to_numpy() == 0]
    if len(empty):
        _remove(written)
        msg = f"{p.name} has {len(empty)} records without sequence, e.g. {_few(empty)}"
        raise ValueError(msg)
    return seqs


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)

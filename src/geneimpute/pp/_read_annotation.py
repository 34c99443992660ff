"""Reader of gene annotation: GTF, GFF3 and BED (via pyranges)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote

import numpy as np
import pandas as pd

from .._adata import check_intervals, normalize_chrom
from ._files import existing_file, is_gzip, open_text, strip_version

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


def _check_compression(p: Path) -> None:
    """Check that ``.gz`` in the name matches the content (pandas, so pyranges, goes by name)."""
    gz_name = p.name.lower().endswith(".gz")
    if is_gzip(p) and not gz_name:
        msg = f"{p.name} is gzip-compressed but its name does not end in .gz: rename it"
        raise ValueError(msg)
    if gz_name and p.stat().st_size and not is_gzip(p):
        msg = f"{p.name} ends in .gz but is not gzip-compressed: rename it without .gz"
        raise ValueError(msg)


def _first_record(p: Path, header: tuple[str, ...]) -> tuple[int, str | None]:
    """Count the lines before the first record and return that record (``None``: no records)."""
    with open_text(p) as fh:
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
    with open_text(p) as fh:
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
            with open_text(p) as fh, open(src, "w") as dst:
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
    p = existing_file(path)
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

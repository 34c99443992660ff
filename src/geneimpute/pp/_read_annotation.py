"""Gene annotation: read GTF, GFF3 and BED (via pyranges) and join it into ``adata.var``."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote

import numpy as np
import pandas as pd
from anndata import AnnData

from .._adata import (
    STRUCTURE_COLUMNS,
    check_intervals,
    check_key,
    check_unique_var_names,
    normalize_chrom,
)
from .._docs import doc_params
from .._logging import warn_data
from ._files import existing_file, is_gzip, open_text, strip_version

#: The nine tab-separated columns of a GTF/GFF3 record.
_GFF_COLUMNS = tuple("seqname source feature start end score strand frame attributes".split())
_ATTRIBUTE_HINT = {"GTF": "'key \"value\";'", "GFF3": "'key=value;'"}
#: Lines before the records of a BED file that are not records.
_BED_HEADER = ("track", "browser", "#")


def _check_compression(p: Path) -> None:
    gz_name = p.name.lower().endswith(".gz")
    if is_gzip(p) and not gz_name:
        msg = f"{p.name} is gzip-compressed but its name does not end in .gz: rename it"
        raise ValueError(msg)
    if gz_name and p.stat().st_size and not is_gzip(p):
        msg = f"{p.name} ends in .gz but is not gzip-compressed: rename it without .gz"
        raise ValueError(msg)


def _first_record(p: Path, header: tuple[str, ...]) -> tuple[int, str | None]:
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
    """Describe the first record pyranges cannot take: column count, empty column, coordinate."""
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
            if empty := [i + 1 for i, x in enumerate(fields) if not x.strip()]:
                return f"line {n} has an empty column {empty[0]}: {line[:120]!r}"
            for name, i in (("start", start_col), ("end", start_col + 1)):
                if not _is_int(fields[i]):
                    return f"line {n}: {name} must be a whole number (bp), got {fields[i]!r}"
    return None


def _is_int(text: str) -> bool:
    return re.fullmatch(r"\s*[-+]?\d+\s*", text) is not None


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
            + (f"; {what} attributes are {_ATTRIBUTE_HINT[what]} pairs" if what != "BED" else "")
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
    out = _coordinates(genes, genes["Strand"].astype(str).to_numpy(), gene_id)
    structure = _structure(df, gff3=gff3)
    if not structure.empty:
        out = out.join(structure)
    name_keys = ("gene_name", "Name") if gff3 else ("gene_name",)
    type_keys = ("gene_type", "gene_biotype", "biotype")
    for dst, keys in (("gene_name", name_keys), ("gene_type", type_keys)):
        values = _attribute(genes, keys[0], gff3=gff3)
        for key in keys[1:]:
            values = values.where(values.notna(), _attribute(genes, key, gff3=gff3))
        if values.notna().any():
            out[dst] = values.to_numpy()
    return out


def _structure(df: pd.DataFrame, *, gff3: bool) -> pd.DataFrame:
    """Per gene, one transcript's 5' UTR, exon and 3' UTR lengths (bp) and exon count.

    The transcript is the one with the longest CDS, then the longest exon sum (Ensembl's
    canonical rule before MANE); UTRs are 5' or 3' by their side of the CDS on the strand.
    """
    feature = df["Feature"].astype(str).str.lower()
    parts = df[feature.isin(["exon", "cds"]) | feature.str.contains("utr")]
    tx = _attribute(parts, "transcript_id", gff3=gff3)
    gene = _attribute(parts, "gene_id", gff3=gff3)
    if gff3:  # Ensembl GFF3: exon -> Parent=transcript:..., transcript -> Parent=gene:...
        tx = tx.where(tx.notna(), _attribute(parts, "Parent", gff3=True))
        ids = _attribute(df, "ID", gff3=True)
        up = pd.Series(_attribute(df, "Parent", gff3=True).to_numpy(), index=ids.to_numpy())
        up = up[up.index.notna() & ~up.index.duplicated()]
        gene = gene.where(gene.notna(), tx.map(up).str.removeprefix("gene:"))
    kind = feature[parts.index].to_numpy()
    t = pd.DataFrame({"gene": gene.to_numpy(), "tx": tx.to_numpy(), "kind": kind})
    t["start"], t["end"] = parts["Start"].to_numpy(), parts["End"].to_numpy()
    t["length"], plus = t["end"] - t["start"], parts["Strand"].astype(str).to_numpy() == "+"
    t = t[t["gene"].notna().to_numpy() & t["tx"].notna().to_numpy()]
    plus = plus[t.index]
    cds = t[t["kind"] == "cds"].groupby("tx")
    t = t.join(cds.agg(lo=("start", "min"), hi=("end", "max"), cds=("length", "sum")), on="tx")
    utr = t["kind"].str.contains("utr").to_numpy()
    before, after = (t["end"] <= t["lo"]).to_numpy(), (t["start"] >= t["hi"]).to_numpy()
    exon = (t["kind"] == "exon").to_numpy()
    t["utr5_length"] = t["length"] * (utr & np.where(plus, before, after))
    t["utr3_length"] = t["length"] * (utr & np.where(plus, after, before))
    t["exon_length"], t["n_exons"] = t["length"] * exon, exon.astype(np.int64)
    cols = dict.fromkeys(STRUCTURE_COLUMNS, "sum") | {"gene": "first", "cds": "first"}
    per = t.groupby("tx", sort=False).agg(cols)
    per = per[per["n_exons"] > 0].fillna({"cds": 0})
    best = per.sort_values(["cds", "exon_length"], ascending=False, kind="stable")
    best = best.drop_duplicates("gene").set_index("gene")[list(STRUCTURE_COLUMNS)]
    best.index = strip_version(best.index)
    return best[~best.index.duplicated()].astype(float)


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
    strand = df["Strand"].astype(str).to_numpy() if "Strand" in df else "."
    return _coordinates(df, strand, df["Name"].astype(str))


def _coordinates(df: pd.DataFrame, strand: np.ndarray | str, ids: pd.Series) -> pd.DataFrame:
    """``chrom``, ``start``, ``end``, ``strand`` of pyranges records, indexed by gene ID."""
    chrom = df["Chromosome"].astype(str).to_numpy()
    start, end = (df[c].to_numpy(np.int64) for c in ("Start", "End"))
    out = {"chrom": chrom, "start": start, "end": end, "strand": strand}
    return pd.DataFrame(out, index=strip_version(ids))


def read_annotation(path: str | Path, *, feature: str | Sequence[str] = "gene") -> pd.DataFrame:
    """Read gene coordinates from a GTF, GFF3 or BED file (plain or gzip) with :mod:`pyranges`.

    Chromosomes get a ``chr`` prefix (``MT`` -> ``chrM``) and gene IDs lose their Ensembl
    version, so GENCODE and Ensembl mix; the first record of a gene ID is kept (not ``_PAR_Y``).

    Parameters
    ----------
    path
        ``.gtf``, ``.gff``/``.gff3`` (``gene_id`` or ``ID``, ``gene_name``/``Name``,
        ``gene_type``/``biotype``) or ``.bed`` (name = gene ID, strand in column 6), or ``.gz``.
    feature
        GTF/GFF3 feature type(s) to keep (Ensembl GFF3 adds ``ncRNA_gene``, ``pseudogene``).

    Returns
    -------
    DataFrame indexed by ``gene_id`` with ``chrom``, ``start``, ``end`` (0-based half-open
    bp), ``strand`` (``.`` for a BED without) and, if present, ``gene_name``, ``gene_type``.
    A GTF/GFF3 with ``exon`` (and ``CDS``, UTR) records adds one transcript's structure per
    gene, as the bundled table's (Ensembl canonical transcripts): ``utr5_length``,
    ``exon_length`` (sum of exons, bp), ``utr3_length`` and ``n_exons``. The transcript is the
    one with the longest CDS, then the longest exon sum (Ensembl's canonical rule before
    MANE; GTF tags are not read). The bundled values (ideogram's cache) count each part 1 bp
    short; on the test GTF built from that cache they match exactly (403 genes), and on the
    33 bundled genes of pyranges' GENCODE v29 example the exon count matches for 24.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        Naming the file (and line): unknown extension, ``.gz`` not matching the content, no
        ``feature`` records, a record with the wrong column count, an empty column, a
        non-integer or inverted coordinate, an empty chromosome, or a gene without its ID.

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
    coords = (out["chrom"], out["start"], out["end"], out.index)
    check_intervals(*coords, source=p.name, what="records")
    out["chrom"] = normalize_chrom(out["chrom"].str.strip()).to_numpy()
    out.index.name = "gene_id"
    return out[~out.index.duplicated()]


@doc_params("copy")
def annotate_genes(
    adata: AnnData,
    annotation: pd.DataFrame | str | Path,
    *,
    tss_from_bed_window: int | None = None,
    key_added: str = "gene_annotation",
    copy: bool = False,
) -> AnnData | None:
    """Join gene coordinates (chrom, start, end, strand, TSS) into ``adata.var``.

    IDs match without Ensembl versions; the TSS is ``start`` on ``+``, ``end - 1`` on ``-``.

    Parameters
    ----------
    adata
        AnnData whose ``var_names`` are Ensembl gene IDs (versions optional).
    annotation
        DataFrame of :func:`~geneimpute.pp.read_annotation`, or a path read with it.
    tss_from_bed_window
        Half-width (bp) of BED windows centred on the TSS (Xpresso: 10 kb); ``tss`` is then
        the window centre, not the 5' end.
    key_added
        ``uns`` key for the record of what was annotated.
    {copy}

    Returns
    -------
    ``None``, or the modified copy with ``copy=True``. Writes ``var`` columns ``chrom``,
    ``start``, ``end``, ``strand``, ``tss`` (NaN for unannotated genes, in a DataWarning),
    ``gene_name``/``gene_type`` if new, the transcript structure of a GTF/GFF3
    (``utr5_length``, ``exon_length``, ``utr3_length``, ``n_exons``: the gene features of the
    shipped models; not from a BED), and ``uns[key_added]["params"]`` (``annotation``,
    ``n_genes_annotated``, ``n_genes_missing``, ``tss_from_bed_window``).

    Raises
    ------
    ValueError
        If gene IDs are duplicated, no gene matches, or a matched row has malformed
        coordinates or strand (genes named; ``adata`` unchanged).
    KeyError
        If the annotation lacks ``chrom``, ``start``, ``end`` or ``strand``.

    Examples
    --------
    >>> ge.pp.annotate_genes(adata, "gencode.v26.annotation.gtf.gz")  # doctest: +SKIP
    """
    key_added = check_key(key_added)
    check_unique_var_names(adata)
    ann = read_annotation(annotation) if not isinstance(annotation, pd.DataFrame) else annotation
    if missing := [c for c in ("chrom", "start", "end", "strand") if c not in ann.columns]:
        msg = f"annotation lacks column(s) {missing}"
        raise KeyError(msg)
    ann = ann.copy()
    ann.index = strip_version(ann.index)
    ann = ann[~ann.index.duplicated()]
    keys = strip_version(adata.var_names)
    found = keys.isin(ann.index)
    if not found.any():
        msg = (
            "no gene of adata.var_names is in the annotation (after stripping versions); "
            f"e.g. {list(adata.var_names[:3])} vs {list(ann.index[:3])}"
        )
        raise ValueError(msg)
    joined = ann.reindex(keys)
    rows = joined[found]
    coords = (rows["chrom"], rows["start"], rows["end"], adata.var_names[found])
    hint = "; the TSS needs the strand (a BED needs 6 columns)"
    check_intervals(*coords, source="the annotation", strand=rows["strand"], strand_hint=hint)
    chrom = np.full(adata.n_vars, np.nan, dtype=object)
    chrom[found] = normalize_chrom(joined["chrom"][found].astype(str)).to_numpy()
    start, end = (
        pd.to_numeric(joined[c], errors="coerce").to_numpy(float) for c in ("start", "end")
    )
    plus, w = joined["strand"].to_numpy() == "+", tss_from_bed_window
    tss = np.where(plus, start, end - 1) if w is None else np.where(plus, start + w, end - w)
    if not found.all():
        warn_data(
            f"annotate_genes: {int((~found).sum())} of {adata.n_vars} genes are not in the "
            f"annotation and get NaN coordinates, e.g. {list(adata.var_names[~found][:5])}"
        )
    adata = adata.copy() if copy else adata
    adata.var["chrom"] = chrom
    adata.var["start"] = np.where(found, start, np.nan)
    adata.var["end"] = np.where(found, end, np.nan)
    adata.var["strand"] = joined["strand"].to_numpy()
    adata.var["tss"] = np.where(found, tss, np.nan)
    for col in ("gene_name", "gene_type"):
        if col in ann.columns and col not in adata.var.columns:
            adata.var[col] = joined[col].to_numpy()
    for col in STRUCTURE_COLUMNS:
        if col in ann.columns:
            adata.var[col] = pd.to_numeric(joined[col], errors="coerce").to_numpy(float)
    source = "DataFrame" if isinstance(annotation, pd.DataFrame) else str(annotation)
    params: dict[str, Any] = dict(annotation=source, n_genes_annotated=int(found.sum()))
    params.update(n_genes_missing=int((~found).sum()), tss_from_bed_window=tss_from_bed_window)
    adata.uns[key_added] = {"params": params}
    return adata if copy else None

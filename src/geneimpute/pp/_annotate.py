"""Attach gene coordinates to ``adata.var``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from .._adata import check_intervals, check_unique_var_names, normalize_chrom
from .._logging import warn_data
from ._files import strip_version
from ._read_annotation import read_annotation


def annotate_genes(
    adata: AnnData,
    annotation: pd.DataFrame | str | Path,
    *,
    tss_from_bed_window: int | None = None,
    key_added: str = "gene_annotation",
    copy: bool = False,
) -> AnnData | None:
    """Join gene coordinates (chrom, start, end, strand, TSS) into ``adata.var``.

    Gene IDs are matched with Ensembl versions stripped on both sides, and chromosome names are
    normalised to the ``chr`` prefix, so GENCODE (``chr1``) and Ensembl (``1``) sources mix.
    The TSS is the 5' end: ``start`` on ``+``, ``end - 1`` on ``-`` strand genes.

    Parameters
    ----------
    adata
        AnnData whose ``var_names`` are Ensembl gene IDs (versions optional).
    annotation
        DataFrame from :func:`~geneimpute.pp.read_annotation` (indexed by gene ID, with
        ``chrom``, ``start``, ``end`` in 0-based half-open bp and ``strand``) or a
        GTF/GFF3/BED path read with it.
    tss_from_bed_window
        For BED intervals centred on the TSS (Xpresso: TSS +/- 10 kb), the half-width in bp;
        sets ``tss`` to the window centre by strand (``start + w`` on ``+``, ``end - w`` on
        ``-``) instead of the interval's 5' end.
    key_added
        ``uns`` key for the record of what was annotated. The coordinate columns keep their
        fixed names, which every other function reads.
    copy
        Return a modified copy instead of writing in place.

    Returns
    -------
    ``None``, or the annotated copy with ``copy=True``. Writes ``var['chrom']``,
    ``var['start']``, ``var['end']`` (float, 0-based half-open bp), ``var['strand']``,
    ``var['tss']`` (float, 0-based bp) -- NaN for genes not in the annotation -- and
    ``var['gene_name']``/``var['gene_type']`` where the annotation has them and ``var`` does
    not. Genes not in the annotation are reported in a :class:`~geneimpute.DataWarning` with
    their number and a few IDs (seen without any logging set-up). Writes
    ``uns[key_added] = {"params": {"annotation", "n_genes_annotated", "n_genes_missing",
    "tss_from_bed_window"}}`` (``annotation``: the file path, or ``"DataFrame"``).

    Raises
    ------
    ValueError
        If gene IDs are duplicated; no gene matches the annotation; or an annotation row
        matched to a gene has an empty chromosome, missing coordinates, ``end < start``, a
        negative start or a strand other than ``+``/``-`` (genes named). ``adata`` is left
        unchanged.
    KeyError
        If the annotation lacks ``chrom``, ``start``, ``end`` or ``strand``.

    Examples
    --------
    >>> ge.pp.annotate_genes(adata, "gencode.v26.annotation.gtf.gz")  # doctest: +SKIP
    """
    check_unique_var_names(adata)
    ann = read_annotation(annotation) if not isinstance(annotation, pd.DataFrame) else annotation
    missing = [c for c in ("chrom", "start", "end", "strand") if c not in ann.columns]
    if missing:
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
    check_intervals(
        rows["chrom"],
        rows["start"],
        rows["end"],
        adata.var_names[found],
        source="the annotation",
        strand=rows["strand"],
        strand_hint="; the TSS needs the strand (a BED needs 6 columns)",
    )
    chrom = np.full(adata.n_vars, np.nan, dtype=object)
    chrom[found] = normalize_chrom(joined["chrom"][found].astype(str)).to_numpy()
    start = pd.to_numeric(joined["start"], errors="coerce").to_numpy(dtype=float)
    end = pd.to_numeric(joined["end"], errors="coerce").to_numpy(dtype=float)
    plus = joined["strand"].to_numpy() == "+"
    if tss_from_bed_window is not None:
        tss = np.where(plus, start + tss_from_bed_window, end - tss_from_bed_window)
    else:
        tss = np.where(plus, start, end - 1)
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
    adata.uns[key_added] = {
        "params": {
            "annotation": "DataFrame" if isinstance(annotation, pd.DataFrame) else str(annotation),
            "n_genes_annotated": int(found.sum()),
            "n_genes_missing": int((~found).sum()),
            "tss_from_bed_window": tss_from_bed_window,
        }
    }
    return adata if copy else None

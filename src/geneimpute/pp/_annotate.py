"""Attach gene coordinates to ``adata.var``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from .._logging import logger
from .._utils import check_unique_var_names, normalize_chrom
from ._readers import read_annotation, strip_version


def annotate_genes(
    adata: AnnData,
    annotation: pd.DataFrame | str | Path,
    *,
    tss_from_bed_window: int | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Join gene coordinates (chrom, start, end, strand, TSS) into ``adata.var``.

    Gene IDs are matched with Ensembl versions stripped on both sides, and chromosome names are
    normalised to the ``chr`` prefix, so GENCODE (``chr1``) and Ensembl (``1``) sources mix.

    Parameters
    ----------
    adata
        AnnData whose ``var_names`` are Ensembl gene IDs.
    annotation
        DataFrame from :func:`~geneimpute.pp.read_annotation` or a GTF/GFF3/BED path.
    tss_from_bed_window
        For BED intervals centred on the TSS (Xpresso: TSS +/- 10 kb), the half-width in bp;
        sets ``tss`` to the window centre by strand instead of the interval's 5' end.
    copy
        Return a modified copy instead of writing in place.

    Returns
    -------
    Writes ``var['chrom']``, ``var['start']``, ``var['end']``, ``var['strand']``, ``var['tss']``
    (0-based bp; NaN for genes not in the annotation, whose number is logged) and
    ``var['gene_name']``/``var['gene_type']`` where the annotation has them.

    Raises
    ------
    ValueError
        If gene IDs are duplicated, or no gene matches the annotation.
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
    ann["chrom"] = normalize_chrom(ann["chrom"]).to_numpy()
    keys = strip_version(adata.var_names)
    joined = ann.reindex(keys)
    found = joined["chrom"].notna().to_numpy()
    if not found.any():
        msg = (
            "no gene of adata.var_names is in the annotation (after stripping versions); "
            f"e.g. {list(adata.var_names[:3])} vs {list(ann.index[:3])}"
        )
        raise ValueError(msg)
    if not found.all():
        logger.warning(
            "annotate_genes: %d of %d genes are not in the annotation and have NaN coordinates",
            int((~found).sum()),
            adata.n_vars,
        )
    plus = joined["strand"].to_numpy() == "+"
    if tss_from_bed_window is not None:
        tss = np.where(
            plus, joined["start"] + tss_from_bed_window, joined["end"] - tss_from_bed_window
        )
    else:
        tss = np.where(plus, joined["start"], joined["end"] - 1)
    adata = adata.copy() if copy else adata
    for col in ("chrom", "start", "end", "strand"):
        adata.var[col] = joined[col].to_numpy()
    for col in ("start", "end"):
        adata.var[col] = pd.array(joined[col].to_numpy(), dtype="Float64").astype(float)
    adata.var["tss"] = np.where(found, tss, np.nan)
    for col in ("gene_name", "gene_type"):
        if col in ann.columns and col not in adata.var.columns:
            adata.var[col] = joined[col].to_numpy()
    return adata if copy else None

"""The model's inputs from an AnnData: read what ``pp`` wrote, or compute what is absent."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from anndata import AnnData

from .._core.correlation import check_correlation, correlation_matrix
from .._core.neighbors import GenomicNeighbors, find_genomic_neighbors
from .._core.sequence import (
    DEFAULT_DOWNSTREAM,
    DEFAULT_UPSTREAM,
    crop_to_window,
    promoter_composition,
)
from .._logging import warn_data
from .._timing import timed
from ..models import GeneInputs
from ._stored import promoter_onehot, read_tissue_correlation, stored_neighbors

#: Optional ``var`` columns with canonical-transcript structure (bp / counts), as bundled.
STRUCTURE_COLUMNS = ("utr5_length", "exon_length", "utr3_length", "n_exons")
#: Promoter-composition feature names (always present, NaN without a promoter).
PROMOTER_FEATURES = ("promoter_gc", "promoter_cpg_oe", "promoter_length_bp")


@dataclass
class InputSources:
    """Where each input of a call came from (recorded in ``uns[key_added]["params"]``)."""

    neighbors: str = ""
    promoters: str = ""
    tissue_correlation: str = ""

    def to_dict(self) -> dict[str, str]:
        """For ``params["inputs"]``."""
        return asdict(self)


def gene_feature_table(
    var: pd.DataFrame, promoter_key: str | None = "promoter_seq", *, use_structure: bool = True
) -> pd.DataFrame:
    """Per-gene promoter composition and (``use_structure``) gene and transcript lengths."""
    has = promoter_key is not None and promoter_key in var.columns
    seqs = var[promoter_key] if has else pd.Series("", index=var.index)
    tss_col = f"{promoter_key}_tss_index"
    if has and tss_col in var.columns:  # composition of the -249..+50 core, as predict_profiles
        seqs = seqs.astype(object).fillna("").astype(str)  # a new Series
        tss = pd.to_numeric(var[tss_col], errors="coerce").fillna(-1).to_numpy(dtype=np.int64)
        lens = seqs.str.len().to_numpy()
        ok = (lens > 0) & (tss >= 0) & (tss < lens)  # invalid TSS: promoter_onehot raises
        if ok.any():
            seqs[ok] = crop_to_window(seqs[ok].tolist(), tss[ok])[0]
    feats = promoter_composition(seqs)
    if not use_structure:
        return feats
    if "start" in var.columns and "end" in var.columns:
        start, end = (pd.to_numeric(var[c], errors="coerce") for c in ("start", "end"))
        feats["log10_gene_length_bp"] = np.log10((end - start).clip(lower=1))
    else:  # promoters without coordinates (predict_profiles from FASTA)
        feats["log10_gene_length_bp"] = np.nan
    for col in STRUCTURE_COLUMNS:
        if col in var.columns:
            feats[f"log1p_{col}"] = np.log1p(pd.to_numeric(var[col], errors="coerce"))
    return feats


def resolve_neighbors(
    adata: AnnData,
    reference: np.ndarray,
    k: int,
    neighbors_key: str | None,
    sources: InputSources,
) -> GenomicNeighbors:
    """Neighbours from ``uns[neighbors_key]`` (at least ``k``, reference genes) or searched."""
    if neighbors_key is not None and neighbors_key in adata.uns:
        nb, _ = stored_neighbors(adata, neighbors_key)
        if nb.k < k:
            msg = (
                f"uns[{neighbors_key!r}] holds {nb.k} neighbours per gene, the model needs "
                f"{k}; rerun geneimpute.pp.neighbor_features(adata, k={k})"
            )
            raise ValueError(msg)
        pointed = nb.index[nb.valid]
        wrong = np.unique(pointed[~reference[pointed]])
        if len(wrong):
            msg = (
                f"the neighbours in uns[{neighbors_key!r}] point at {len(wrong)} genes that are "
                f"not reference genes of this call (e.g. {list(adata.var_names[wrong[:3]])}); "
                "rerun geneimpute.pp.neighbor_features(adata, reference=...) with this call's "
                "reference genes, or pass neighbors_key=None to search again"
            )
            raise ValueError(msg)
        sources.neighbors = f"uns[{neighbors_key!r}]"
        return GenomicNeighbors(
            *(getattr(nb, f)[:, :k] for f in nb.__dataclass_fields__)  # type: ignore[arg-type]
        )
    with timed("neighbor_features"):
        nb = find_genomic_neighbors(adata.var, reference, k=k)
    sources.neighbors = "computed"
    if (none := ~nb.valid.any(axis=1)).any():
        warn_data(
            f"{int(none.sum())} genes have no reference gene on their chromosome (e.g. "
            f"{list(adata.var_names[none][:3])}); their neighbour inputs are empty",
            stacklevel=5,
        )
    return nb


def resolve_tissue_correlation(
    adata: AnnData,
    tissues: list[str],
    Y_ref: np.ndarray,
    key: str | None,
    sources: InputSources,
) -> np.ndarray:
    """``(T, T)`` correlation aligned to ``tissues``: ``uns[key]`` or computed from ``Y_ref``."""
    C = read_tissue_correlation(adata, key) if key is not None else None
    if C is None:
        with timed("tissue_correlation"):
            M = correlation_matrix(Y_ref)
        sources.tissue_correlation = f"computed from {len(Y_ref)} reference genes"
        return M
    tissues = [str(t) for t in tissues]
    missing = [t for t in tissues if t not in C.index or t not in C.columns]
    if missing:
        msg = (
            f"uns[{key!r}] lacks tissues {missing[:5]} ({len(missing)} in all); "
            f"recompute it with geneimpute.pp.tissue_correlation(adata, key_added={key!r})"
        )
        raise ValueError(msg)
    M = C.loc[tissues, tissues].to_numpy(dtype=np.float64)
    check_correlation(M, len(tissues), what=f"uns[{key!r}]")
    sources.tissue_correlation = f"uns[{key!r}]"
    return M


def build_inputs(
    adata: AnnData,
    reference: np.ndarray,
    *,
    k: int,
    promoter_key: str | None,
    neighbors_key: str | None,
    use_structure: bool,
    sources: InputSources,
    feature_names: list[str] | None = None,
    window: tuple[int, int] = (DEFAULT_UPSTREAM, DEFAULT_DOWNSTREAM),
) -> GeneInputs:
    """Assemble :class:`~geneimpute.models.GeneInputs` (``feature_names``: a model's columns)."""
    var = adata.var
    with timed("gene_features"):
        table = gene_feature_table(var, promoter_key, use_structure=use_structure)
    if feature_names is not None:
        absent = [c for c in feature_names if c not in table.columns]
        if absent:
            cols = [c.removeprefix("log1p_") for c in absent]
            msg = (
                f"the model was trained with gene features {absent}, which need var columns "
                f"{cols}; adata.var lacks them: add them with geneimpute.pp.annotate_genes(adata, "
                '"genes.gtf") from a GTF/GFF3 with exon, CDS and UTR records (a BED has no '
                "transcript structure)"
            )
            raise KeyError(msg)
        table = table[list(feature_names)]
    with timed("promoter_onehot"):
        promoter = promoter_onehot(var, promoter_key, upstream=window[0], downstream=window[1])
    sources.promoters = (
        f"var[{promoter_key!r}]" if promoter_key is not None and promoter_key in var else "none"
    )
    neighbors = resolve_neighbors(adata, reference, k, neighbors_key, sources)
    return GeneInputs(
        promoter=promoter,
        gene_features=table.to_numpy(dtype=np.float64),
        neighbors=neighbors,
        feature_names=list(table.columns),
    )

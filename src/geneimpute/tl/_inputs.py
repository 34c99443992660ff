"""Translate AnnData into the array inputs of :class:`~geneimpute.models.HybridImputer`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._genomic import find_genomic_neighbors
from .._logging import logger
from .._timing import timed
from ..models import GeneInputs
from ..pp._promoters import DEFAULT_DOWNSTREAM, DEFAULT_UPSTREAM, promoter_matrix

#: Optional ``var`` columns with canonical-transcript structure (bp / counts), as bundled.
STRUCTURE_COLUMNS = ("utr5_length", "exon_length", "utr3_length", "n_exons")


def promoter_composition(seqs: pd.Series) -> pd.DataFrame:
    """GC fraction, CpG observed/expected and sequence length (bp) of each promoter."""
    s = seqs.fillna("").astype(str).str.upper()
    n = s.str.len().astype(float)
    acgt = n - s.str.count("N")
    c, g, cg = s.str.count("C"), s.str.count("G"), s.str.count("CG")
    with np.errstate(invalid="ignore", divide="ignore"):
        gc = ((c + g) / acgt).where(acgt > 0)
        cpg = (cg * acgt / (c * g)).where((c > 0) & (g > 0))
    return pd.DataFrame(
        {"promoter_gc": gc, "promoter_cpg_oe": cpg, "promoter_length_bp": n}, index=seqs.index
    )


def gene_feature_table(var: pd.DataFrame, promoter_key: str = "promoter_seq") -> pd.DataFrame:
    """Hand-made per-gene features from ``var`` (NaN where unknown).

    Promoter GC / CpG o/e / length, log10 gene-body length, and, where ``var`` has them, the
    canonical transcript's log 5' UTR, exon and 3' UTR lengths and exon count.
    """
    seqs = var[promoter_key] if promoter_key in var.columns else pd.Series("", index=var.index)
    feats = promoter_composition(seqs)
    feats["log10_gene_length_bp"] = np.log10(
        (var["end"].astype(float) - var["start"].astype(float)).clip(lower=1)
    )
    for col in STRUCTURE_COLUMNS:
        if col in var.columns:
            feats[f"log1p_{col}"] = np.log1p(pd.to_numeric(var[col], errors="coerce"))
    return feats


def build_inputs(
    var: pd.DataFrame,
    reference: np.ndarray,
    *,
    k: int,
    feature_names: list[str] | None = None,
    promoter_key: str = "promoter_seq",
    use_structure: bool = True,
) -> GeneInputs:
    """Assemble :class:`~geneimpute.models.GeneInputs` from gene annotation in ``var``.

    ``feature_names`` (from a trained model) fixes the hand-made feature columns; columns the
    model knows but ``var`` lacks are filled with NaN and reported as a warning.
    """
    with timed("gene_features"):
        table = gene_feature_table(var, promoter_key)
    if not use_structure:
        table = table[[c for c in table.columns if not c.startswith("log1p_")]]
    if feature_names is not None:
        absent = [c for c in feature_names if c not in table.columns]
        if absent:
            logger.warning("gene features %s are not available and are treated as missing", absent)
        table = table.reindex(columns=feature_names)
    with timed("promoter_onehot"):
        promoter = build_promoters(var, promoter_key)
    with timed("neighbor_features"):
        neighbors = find_genomic_neighbors(var, reference, k=k)
    return GeneInputs(
        promoter=promoter,
        gene_features=table.to_numpy(dtype=np.float64),
        neighbors=neighbors,
        feature_names=list(table.columns),
    )


def build_promoters(var: pd.DataFrame, promoter_key: str = "promoter_seq") -> np.ndarray:
    """Validate and one-hot encode ``var[promoter_key]`` into ``(n_genes, 300, 5)``.

    Uses ``var[f"{promoter_key}_tss_index"]`` to align sequences on the TSS (see
    :func:`~geneimpute.pp._promoters.promoter_matrix`).
    """
    if promoter_key in var.columns:
        tss_col = f"{promoter_key}_tss_index"
        seqs = var[promoter_key].fillna("").astype(str)
        bad_letters = seqs.str.contains(r"[^ACGTNacgtn]", regex=True)
        if bad_letters.any():
            first = var.index[bad_letters.to_numpy()][0]
            letter = sorted(set(seqs[first].upper()) - set("ACGTN"))
            msg = (
                f"{int(bad_letters.sum())} promoter sequences in var[{promoter_key!r}] contain "
                f"letters other than A, C, G, T, N (e.g. gene {first}: {letter}); replace "
                "IUPAC ambiguity codes with N"
            )
            raise ValueError(msg)
        if tss_col in var.columns:
            tss_index = var[tss_col].to_numpy(dtype=np.int64)
        else:
            tss_index = np.full(len(var), DEFAULT_UPSTREAM)
            lens = seqs.str.len()
            bad = (lens > 0) & (lens != DEFAULT_UPSTREAM + DEFAULT_DOWNSTREAM + 1)
            if bad.any():
                msg = (
                    f"var[{tss_col!r}] is missing, so promoters must be "
                    f"{DEFAULT_UPSTREAM + DEFAULT_DOWNSTREAM + 1} bp (-{DEFAULT_UPSTREAM}.."
                    f"+{DEFAULT_DOWNSTREAM}); {int(bad.sum())} are not, "
                    f"e.g. {list(var.index[bad][:3])}"
                )
                raise ValueError(msg)
        return promoter_matrix(seqs.tolist(), tss_index)
    logger.warning("var has no %r column: the promoter CNN sees no sequence", promoter_key)
    return np.zeros((len(var), DEFAULT_UPSTREAM + DEFAULT_DOWNSTREAM + 1, 5), np.float32)

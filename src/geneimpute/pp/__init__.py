"""Preprocessing: readers, gene annotation, promoters, tissue correlations, neighbour features."""

from ._donors import (
    from_donor_layers,
    from_mudata,
    label_samples,
    normalize_panel_counts,
    to_donor_layers,
    to_mudata,
)
from ._gtex_tissues import gtex_tissue_map, merge_gtex_tissues
from ._lazy import read_lazy, write_layers
from ._neighbors import neighbor_features
from ._promoters import extract_promoters, one_hot_encode
from ._read_annotation import annotate_genes, read_annotation
from ._read_fasta import read_fasta
from ._read_tables import read_gct, read_wide_tsv
from ._tissue_level import tissue_correlation, tissue_medians

__all__ = [
    "annotate_genes",
    "extract_promoters",
    "from_donor_layers",
    "from_mudata",
    "gtex_tissue_map",
    "merge_gtex_tissues",
    "label_samples",
    "normalize_panel_counts",
    "to_donor_layers",
    "to_mudata",
    "neighbor_features",
    "one_hot_encode",
    "read_annotation",
    "read_fasta",
    "read_gct",
    "read_lazy",
    "read_wide_tsv",
    "tissue_correlation",
    "tissue_medians",
    "write_layers",
]

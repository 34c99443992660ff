"""The one reader and validator of an AnnData: what ``pp`` (or the user) stored in it.

``_validate`` checks genes, tissues, coordinates and values; ``_expression`` reads the matrix
and gene masks; ``_task`` holds one imputation call's genes; ``_stored`` reads what ``pp``
wrote; ``_inputs`` builds the model's inputs. Nothing here writes into the AnnData.
"""

from .._core.neighbors import normalize_chrom
from ._expression import (
    dense_rows,
    expression_source,
    gene_mask,
    gene_set,
    get_expression,
    sample_tissues,
    to_log1p,
)
from ._inputs import (
    PROMOTER_FEATURES,
    STRUCTURE_COLUMNS,
    InputSources,
    build_inputs,
    gene_feature_table,
    resolve_neighbors,
    resolve_tissue_correlation,
)
from ._stored import (
    has_promoters,
    promoter_onehot,
    read_tissue_correlation,
    stored_neighbors,
    tissue_frame,
)
from ._task import ExpressionTask, prepare_task
from ._validate import (
    DefaultKey,
    check_coordinates,
    check_expression,
    check_intervals,
    check_key,
    check_tissues,
    check_unique_var_names,
)

__all__ = [
    "PROMOTER_FEATURES",
    "STRUCTURE_COLUMNS",
    "DefaultKey",
    "ExpressionTask",
    "InputSources",
    "build_inputs",
    "check_coordinates",
    "check_expression",
    "check_intervals",
    "check_key",
    "check_tissues",
    "check_unique_var_names",
    "dense_rows",
    "expression_source",
    "gene_feature_table",
    "gene_mask",
    "gene_set",
    "get_expression",
    "has_promoters",
    "normalize_chrom",
    "prepare_task",
    "promoter_onehot",
    "read_tissue_correlation",
    "resolve_neighbors",
    "resolve_tissue_correlation",
    "sample_tissues",
    "stored_neighbors",
    "tissue_frame",
    "to_log1p",
]

"""The one reader and validator of an AnnData: what ``pp`` (or the user) stored in it.

One job per module:

- ``_validate``: gene IDs, tissue names, coordinates and expression values are usable;
- ``_expression``: the expression matrix, its units, gene masks and sample tissue labels;
- ``_task``: the validated expression and gene sets of one imputation call;
- ``_stored``: promoters, neighbours and tissue correlations that ``pp`` wrote;
- ``_inputs``: the model's :class:`~geneimpute.models.GeneInputs`, read or computed.

Nothing here writes into the AnnData (writing results is ``tl``'s job).
"""

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
    COORD_COLUMNS,
    LOOKS_LOG1P_MAX,
    MAX_LOG1P,
    MAX_TPM,
    MAX_TSS_OUTSIDE_BP,
    check_coordinates,
    check_expression,
    check_intervals,
    check_tissues,
    check_unique_var_names,
    normalize_chrom,
)

__all__ = [
    "COORD_COLUMNS",
    "LOOKS_LOG1P_MAX",
    "MAX_LOG1P",
    "MAX_TPM",
    "MAX_TSS_OUTSIDE_BP",
    "PROMOTER_FEATURES",
    "STRUCTURE_COLUMNS",
    "ExpressionTask",
    "InputSources",
    "build_inputs",
    "check_coordinates",
    "check_expression",
    "check_intervals",
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

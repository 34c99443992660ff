"""The validated expression and gene sets of one imputation call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from anndata import AnnData
from scipy import sparse

from .._logging import warn_data
from ._expression import expression_source, gene_mask, get_expression, to_log1p
from ._validate import check_coordinates, check_expression, check_tissues, check_unique_var_names


@dataclass
class ExpressionTask:
    """Validated expression and gene sets of an imputation call.

    ``Y`` is genes x tissues log1p(TPM) of the reference genes (NaN elsewhere and in their
    unmeasured tissues); ``reference`` marks the genes used as training targets and neighbours
    (by default those measured in at least half of the tissues); ``target`` the genes to
    impute (by default every gene with a NaN value; partly measured genes may be both).
    ``layer`` and ``is_log1p`` say where the expression was read and in which units.
    """

    X: np.ndarray
    Y: np.ndarray
    reference: np.ndarray
    target: np.ndarray
    observed: np.ndarray  # genes x tissues log1p(TPM) of every gene, NaN = missing
    reference_rule: str = "complete_profiles"
    layer: str | None = None
    is_log1p: bool = False

    @property
    def partial(self) -> np.ndarray:
        """Target genes measured in some tissues (the rest of the targets have no value)."""
        return self.target & np.isfinite(self.observed).any(axis=1)

    def counts(self) -> dict[str, int]:
        """Fully / partly missing target genes and their NaN cells."""
        part = self.partial
        return {
            "n_genes_fully_missing": int((self.target & ~part).sum()),
            "n_genes_partly_missing": int(part.sum()),
            "n_missing_values_partly_missing": int((~np.isfinite(self.observed[part])).sum()),
        }


def prepare_task(
    adata: AnnData,
    genes: str | Sequence[bool] | np.ndarray | None,
    *,
    layer: str | None,
    is_log1p: bool,
    reference: str | Sequence[bool] | np.ndarray | None = None,
    require_targets: bool = True,
) -> ExpressionTask:
    """Validate ``adata`` and resolve target / reference genes (no writes)."""
    check_unique_var_names(adata)
    check_tissues(adata)
    check_coordinates(adata.var)
    is_sparse = sparse.issparse(expression_source(adata, layer))
    X = get_expression(adata, layer)
    what = "adata.X" if layer is None else f"adata.layers[{layer!r}]"
    names = (adata.obs_names, adata.var_names)
    check_expression(X, is_log1p=is_log1p, what=what, names=names, stacklevel=5)
    Y = to_log1p(X, not is_log1p).T
    finite = np.isfinite(Y)
    if (empty := ~finite.any(axis=0)).any():
        warn_data(
            f"{int(empty.sum())} tissues have no measured value (e.g. "
            f"{list(adata.obs_names[empty][:3])}); values there come from the other tissues",
            stacklevel=4,
        )
    complete = finite.all(axis=1)
    target = gene_mask(adata, genes, ~complete, "genes")
    mostly = finite.mean(axis=1) >= 0.5
    # genes=None: partly measured genes are targets *and* (measured in >= half the tissues)
    # reference genes; genes chosen by the user are re-estimated, so never train on themselves
    ref = gene_mask(adata, reference, mostly if genes is None else mostly & ~target, "reference")
    overlap, unmeasured = ref & target, ref & ~finite.any(axis=1)
    if genes is not None and overlap.any():
        msg = f"{int(overlap.sum())} genes are both reference and target genes"
        raise ValueError(msg)
    if unmeasured.any():
        msg = (
            f"{int(unmeasured.sum())} reference genes have no measured value (all NaN, e.g. "
            f"{list(adata.var_names[unmeasured][:5])}); exclude them from reference= (they can "
            "be imputed with genes=)"
        )
        raise ValueError(msg)
    left_out = finite.any(axis=1) & ~mostly
    if reference is None and left_out.any():
        warn_data(
            f"{int(left_out.sum())} genes measured in fewer than half of the tissues are "
            "not used as reference genes (training targets and neighbours); pass "
            "reference= to choose",
            stacklevel=4,
        )
    if require_targets and not target.any():
        msg = (
            "no genes to impute: every gene has a complete profile; pass genes= (a boolean "
            "var column or mask, with overwrite=True) to re-estimate measured genes"
        )
        if is_sparse:
            msg += (
                ". The expression is a sparse matrix: its implicit zeros are measured zeros, "
                "not missing values; store missing values as NaN in a dense matrix"
            )
        raise ValueError(msg)
    if ref.sum() < 20:
        msg = (
            f"only {int(ref.sum())} reference genes (measured in at least half of the "
            "tissues); need at least 20"
        )
        raise ValueError(msg)
    Yref = np.where(ref[:, None], Y, np.nan)
    if reference is not None:
        rule = "user_mask"
    else:
        rule = "complete_profiles" if complete[ref].all() else "measured_in_half_the_tissues"
    task = ExpressionTask(X, Yref, ref, target, Y, rule, layer, is_log1p)
    counts = task.counts()
    if require_targets and genes is None and counts["n_genes_partly_missing"]:
        warn_data(
            f"imputing every NaN value: {counts['n_genes_fully_missing']} genes with no "
            f"measured tissue and {counts['n_genes_partly_missing']} partly measured genes "
            f"({counts['n_missing_values_partly_missing']} NaN values; measured values are "
            "kept unchanged); pass genes= to choose",
            stacklevel=4,
        )
    return task

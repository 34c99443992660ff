"""AnnData <-> array plumbing shared by the ``tl`` functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from anndata import AnnData
from scipy import sparse

from .._logging import warn_data
from .._utils import (
    check_coordinates,
    check_expression,
    check_unique_var_names,
    expression_source,
    gene_mask,
    get_expression,
    to_log1p,
)


@dataclass
class ExpressionTask:
    """Validated expression and gene sets of an imputation call.

    ``Y`` is genes x tissues log1p(TPM) of the reference genes (NaN elsewhere and in their
    unmeasured tissues); ``reference`` marks the genes used as training targets and neighbours
    (by default those measured in at least half of the tissues); ``target`` the genes to
    impute (by default every gene with a NaN value; partly measured genes may be both).
    """

    X: np.ndarray
    Y: np.ndarray
    reference: np.ndarray
    target: np.ndarray
    observed: np.ndarray  # genes x tissues log1p(TPM) of every gene, NaN = missing
    reference_rule: str = "complete_profiles"

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


def check_tissues(adata: AnnData) -> None:
    """Raise if tissue names (``obs_names``) are duplicated."""
    dup = adata.obs_names[adata.obs_names.duplicated()]
    if len(dup):
        msg = f"adata.obs_names (tissues) has duplicates, e.g. {list(dup[:3])}"
        raise ValueError(msg)


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
    check_expression(
        X,
        is_log1p=is_log1p,
        what="adata.X" if layer is None else f"adata.layers[{layer!r}]",
        names=(adata.obs_names, adata.var_names),
    )
    Y = to_log1p(X, not is_log1p).T
    finite = np.isfinite(Y)
    complete = finite.all(axis=1)
    target = gene_mask(adata, genes, ~complete, "genes")
    mostly = finite.mean(axis=1) >= 0.5
    # genes=None: partly measured genes are targets *and* (measured in >= half the tissues)
    # reference genes; genes chosen by the user are re-estimated, so never train on themselves
    ref = gene_mask(adata, reference, mostly if genes is None else mostly & ~target, "reference")
    overlap = ref & target
    if genes is not None and overlap.any():
        msg = f"{int(overlap.sum())} genes are both reference and target genes"
        raise ValueError(msg)
    unmeasured = ref & ~finite.any(axis=1)
    if unmeasured.any():
        names = list(adata.var_names[unmeasured][:5])
        msg = (
            f"{int(unmeasured.sum())} reference genes have no measured value (all NaN, e.g. "
            f"{names}); exclude them from reference= (they can be imputed with genes=)"
        )
        raise ValueError(msg)
    if reference is None:
        left_out = finite.any(axis=1) & ~mostly
        if left_out.any():
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
    task = ExpressionTask(
        X=X, Y=Yref, reference=ref, target=target, observed=Y, reference_rule=rule
    )
    c = task.counts()
    if require_targets and genes is None and c["n_genes_partly_missing"]:
        warn_data(
            f"imputing every NaN value: {c['n_genes_fully_missing']} genes with no measured "
            f"tissue and {c['n_genes_partly_missing']} partly measured genes "
            f"({c['n_missing_values_partly_missing']} NaN values; measured values are kept "
            "unchanged); pass genes= to choose",
            stacklevel=4,
        )
    return task


def write_imputed(
    adata: AnnData,
    task: ExpressionTask,
    pred_log1p: np.ndarray,
    *,
    is_log1p: bool,
    key_added: str,
    overwrite: bool,
    layer: str | None,
) -> int:
    """Write ``layers[key_added]`` and ``layers[f"{key_added}_mask"]``; return #values filled.

    Observed values are copied unchanged (bit-identical); for target genes, missing entries
    (or every entry with ``overwrite``) receive the prediction, in the input's units.
    """
    src = adata.X if layer is None else adata.layers[layer]
    src = src.toarray() if hasattr(src, "toarray") else np.asarray(src)
    dtype = src.dtype if np.issubdtype(src.dtype, np.floating) else np.float32
    out = np.array(src, dtype=dtype, copy=True)
    rows = np.flatnonzero(task.target)
    values = pred_log1p.T if is_log1p else np.expm1(np.clip(pred_log1p, 0, None)).T
    fill = np.zeros(out.shape, dtype=bool)
    block = out[:, rows]
    sel = np.ones(block.shape, bool) if overwrite else ~np.isfinite(block)
    sel &= np.isfinite(values)
    block[sel] = values[sel].astype(dtype)
    out[:, rows] = block
    fill[:, rows] = sel
    adata.layers[key_added] = out
    adata.layers[f"{key_added}_mask"] = fill
    return int(fill.sum())


def interval_layers(
    lower: np.ndarray, upper: np.ndarray, order: np.ndarray, n_obs: int, is_log1p: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``(n_rows, n_obs)`` bounds in the data's tissue order and units (NaN off the model)."""
    out = []
    for b in (lower, upper):
        full = np.full((len(b), n_obs), np.nan)
        full[:, order] = b if is_log1p else np.expm1(np.clip(b, 0, None))
        out.append(full)
    return out[0], out[1]


def gene_reliability(
    pred: np.ndarray, lower: np.ndarray, upper: np.ndarray, tissue_mean: np.ndarray
) -> np.ndarray:
    """Per gene: sd over tissues of the tissue-centred prediction / mean interval half-width."""
    pattern = np.std(pred - tissue_mean, axis=1)
    half = np.mean((upper - lower) / 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(half > 0, pattern / half, np.nan)


def write_intervals(
    adata: AnnData,
    key_added: str,
    rows: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray],
    reliability: np.ndarray,
) -> None:
    """Write ``layers[f"{key}_lower|_upper"]`` (imputed entries only) and the reliability."""
    mask = np.asarray(adata.layers[f"{key_added}_mask"])
    dtype = adata.layers[key_added].dtype
    for name, b in zip(("lower", "upper"), bounds, strict=True):
        full = np.full(adata.shape, np.nan, dtype=dtype)
        full[:, rows] = b.T
        full[~mask] = np.nan
        adata.layers[f"{key_added}_{name}"] = full
    rel = np.full(adata.n_vars, np.nan)
    rel[rows] = reliability
    adata.var[f"{key_added}_reliability"] = rel


def check_interval(interval: float | None) -> None:
    """Raise ``ValueError`` unless ``interval`` is None or a confidence strictly in (0, 1)."""
    if interval is not None and not (
        isinstance(interval, float | int) and not isinstance(interval, bool) and 0 < interval < 1
    ):
        msg = f"interval must be a confidence in (0, 1) such as 0.9, or None; got {interval!r}"
        raise ValueError(msg)

"""Compare imputed profiles with held-out truth."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .._adata import gene_mask, get_expression, to_log1p
from .._core.metrics import (
    masked_metrics,
    masked_per_tissue_pearson,
    per_tissue_pearson,
    regression_metrics,
)


def evaluate(
    adata: AnnData,
    truth: AnnData | np.ndarray,
    genes: str | Sequence[bool] | np.ndarray | None = None,
    *,
    key: str = "imputed",
    truth_layer: str | None = None,
    is_log1p: bool | None = None,
    truth_is_log1p: bool | None = None,
    per_tissue: bool = False,
    only_imputed: bool | None = None,
) -> pd.Series | pd.DataFrame:
    """Accuracy of imputed profiles on held-out genes, on log1p(TPM).

    Parameters
    ----------
    adata
        AnnData with ``layers[key]`` from :func:`impute_expression` or :func:`impute_neighbors`.
    truth
        The true values, same shape and tissue/gene order: an AnnData (``X`` or
        ``truth_layer``) or an array ``(n_tissues, n_genes)``, TPM (or log1p with ``is_log1p``).
    genes
        Genes to score; default: genes with any imputed value (``layers[f"{key}_mask"]``).
    key
        Layer holding the imputation.
    truth_layer
        Layer of ``truth`` to use instead of ``X``.
    is_log1p
        Whether ``layers[key]`` is log1p(TPM); None: read from ``uns[key]["params"]``
        (written by the ``tl.impute_*`` functions), else TPM.
    truth_is_log1p
        Whether ``truth`` is log1p(TPM); None: the same as ``is_log1p``.
    per_tissue
        Return the Pearson r of each tissue instead of the summary.
    only_imputed
        Score only the imputed cells (``layers[f"{key}_mask"]``) of the scored genes, as for
        partly measured genes whose measured cells were kept: per-tissue r across the genes
        imputed in that tissue (tissues with at least 3; else NaN), per-gene r across a gene's
        imputed tissues (at least 3) after tissue centring, R^2 and MSE over imputed cells.
        None (default): True when some scored gene has both imputed and kept cells.

    Returns
    -------
    Series with ``pearson_tissue`` (Pearson r across genes within each tissue, averaged over
    tissues), ``pearson_gene_centered`` (Pearson r across tissues per gene on tissue-centred
    values, averaged over genes), ``r2`` and ``mse`` (over all values), and ``n_genes``
    (with ``only_imputed``, over the imputed cells, and ``n_values``); or, with
    ``per_tissue``, a Series of Pearson r indexed by tissue.

    Raises
    ------
    KeyError
        If ``layers[key]`` is missing.
    ValueError
        If shapes differ, or scored genes have NaN in the truth or the imputation.
    """
    if key not in adata.layers:
        msg = f"adata.layers has no {key!r}; run impute_expression or impute_neighbors first"
        raise KeyError(msg)
    if isinstance(truth, AnnData):
        same = list(truth.var_names) == list(adata.var_names)
        if not same or list(truth.obs_names) != list(adata.obs_names):
            msg = "truth must have the same tissues and genes, in the same order, as adata"
            raise ValueError(msg)
        T = get_expression(truth, truth_layer)
    else:
        T = np.asarray(truth, dtype=np.float64)
    if T.shape != adata.shape:
        msg = f"truth has shape {T.shape}, adata {adata.shape}"
        raise ValueError(msg)
    mask_key = f"{key}_mask"
    has_mask = mask_key in adata.layers
    default = np.asarray(adata.layers[mask_key]).any(axis=0) if has_mask else True
    sel = gene_mask(adata, genes, np.broadcast_to(default, adata.n_vars), "genes")
    if is_log1p is None:
        info = adata.uns.get(key)
        is_log1p = isinstance(info, dict) and bool(info.get("params", {}).get("is_log1p", False))
    truth_log1p = is_log1p if truth_is_log1p is None else truth_is_log1p
    P = to_log1p(get_expression(adata, key), not is_log1p)[:, sel].T
    Tt = to_log1p(T, not truth_log1p)[:, sel].T
    if has_mask:
        M = np.asarray(adata.layers[mask_key], dtype=bool)[:, sel].T
        if only_imputed is None:
            only_imputed = bool((M.any(axis=1) & ~M.all(axis=1)).any())
    elif only_imputed:
        msg = f"only_imputed=True needs adata.layers[{mask_key!r}]"
        raise KeyError(msg)
    if not only_imputed and not (np.isfinite(P).all() and np.isfinite(Tt).all()):
        msg = "the scored genes have NaN in the truth or in the imputation"
        raise ValueError(msg)
    if per_tissue:
        r = masked_per_tissue_pearson(P, Tt, M) if only_imputed else per_tissue_pearson(P, Tt)
        return pd.Series(r, index=adata.obs_names, name="pearson_r")
    out = pd.Series(masked_metrics(P, Tt, M) if only_imputed else regression_metrics(P, Tt))
    out["n_genes"] = int(sel.sum())
    if only_imputed:
        out["n_values"] = int(M.sum())
    return out

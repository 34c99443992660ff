"""Sample-level imputation: fill genes in every sample of a samples x genes AnnData."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .._core.neighbors import GenomicNeighbors, idw_weights
from .._logging import logger
from .._settings import Accelerator, resolve_device
from .._timing import timed
from .._utils import (
    check_coordinates,
    check_expression,
    check_unique_var_names,
    dense_rows,
    expression_source,
    gene_mask,
    sample_tissues,
)
from ..models import FEATURES, HybridImputer
from ..pp import tissue_medians
from ._inputs import InputSources, model_correlation_entry
from ._train import (
    DEFAULT_CORRELATION_KEY,
    DEFAULT_NEIGHBORS_KEY,
    DEFAULT_PROMOTER_KEY,
    check_model_setup,
    check_scale,
    fit_hybrid,
    model_tissue_order,
    predict_hybrid,
    resolve_model,
    units_of,
)


def _all_nan_columns(X, chunk_size: int) -> np.ndarray:
    """Genes (columns) with no finite value in any sample, computed in row chunks."""
    seen = np.zeros(X.shape[1], dtype=bool)
    for s in range(0, X.shape[0], chunk_size):
        rows = np.arange(s, min(s + chunk_size, X.shape[0]))
        seen |= np.isfinite(dense_rows(X, rows)).any(axis=0)
    return ~seen


def _neighbor_operator(
    nb: GenomicNeighbors, target: np.ndarray, k: int
) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Columns used and a sparse ``(n_columns, n_target)`` inverse-distance averaging matrix."""
    idx, w = idw_weights(nb, k)
    idx, w = idx[target], w[target]
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
    valid = idx >= 0
    cols, inv = np.unique(idx[valid], return_inverse=True)
    tgt = np.repeat(np.arange(len(idx)), valid.sum(axis=1))
    W = sparse.csr_matrix((w[valid], (inv, tgt)), shape=(len(cols), len(idx)))
    return cols, W


def _residual(V: np.ndarray, codes: np.ndarray, cols, M: np.ndarray, log1p: bool) -> np.ndarray:
    """Log1p sample deviation from the tissue median, ``(len(V), len(cols))``, NaN -> 0.

    ``V`` is a dense block of rows (all genes), ``codes`` their tissue codes, ``M`` the tissue x
    gene log1p medians.
    """
    R = V[:, cols]
    if log1p:
        np.log1p(R, out=R)
    R -= M[np.ix_(codes, cols)]
    return np.nan_to_num(R, copy=False, nan=0.0, posinf=0.0, neginf=0.0)


def _fit_residual_gain(
    X, codes, M: np.ndarray, reference: np.ndarray, nb: GenomicNeighbors, k: int, log1p: bool, rng
) -> tuple[float, float]:
    """Least-squares gain of a gene's sample residual on its neighbours' (reference genes only).

    Returns ``(beta, r2)``: ``residual_gene ~ beta * idw_mean(residual_neighbours)`` over up to
    2,000 reference genes and 2,000 samples; ``beta`` is clipped to [0, 1].
    """
    ref_idx = np.flatnonzero(reference)
    genes = np.sort(rng.choice(ref_idx, size=min(2000, len(ref_idx)), replace=False))
    probe = np.zeros(len(reference), dtype=bool)
    probe[genes] = True
    cols, W = _neighbor_operator(nb, probe, k)
    samples = np.sort(rng.choice(X.shape[0], size=min(2000, X.shape[0]), replace=False))
    V = dense_rows(X, samples)
    R_g = _residual(V, codes[samples], genes, M, log1p)
    Q = np.asarray(_residual(V, codes[samples], cols, M, log1p) @ W)
    num, den = float((R_g * Q).sum()), float((Q * Q).sum())
    beta = float(np.clip(num / den, 0.0, 1.0)) if den > 0 else 0.0
    ss = float((R_g**2).sum())
    r2 = 1.0 - float(((R_g - beta * Q) ** 2).sum()) / ss if ss > 0 else 0.0
    return beta, r2


def impute_samples(
    adata: AnnData,
    model: HybridImputer | str | Path | None = None,
    genes: str | Sequence[bool] | np.ndarray | None = None,
    *,
    tissue_key: str = "tissue",
    layer: str | None = None,
    is_log1p: bool | None = None,
    k_neighbors: int = 10,
    chunk_size: int = 2048,
    overwrite: bool = False,
    promoter_key: str | None = None,
    neighbors_key: str | None = DEFAULT_NEIGHBORS_KEY,
    tissue_correlation_key: str | None = DEFAULT_CORRELATION_KEY,
    key_added: str = "imputed",
    random_state: int = 0,
    accelerator: Accelerator | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Impute genes in every sample of a samples x genes matrix (e.g. GTEx v8 sample level).

    Two steps:

    1. **Tissue level.** The per-tissue median of every gene (:func:`~geneimpute.pp.tissue_medians`)
       gives a tissues x genes table; the hybrid (``model``, or one trained with the
       :func:`train` defaults on the medians of the reference genes) predicts the target genes'
       tissue profiles (log1p TPM) from their promoters and genomic neighbour reference genes.
    2. **Sample level.** A sample's value is its tissue's predicted value plus ``beta`` times the
       inverse-distance-weighted mean deviation of the gene's ``k_neighbors`` nearest reference
       genes from their tissue medians in that sample (log1p scale). ``beta`` is fitted by least
       squares on reference genes (clipped to [0, 1]; 0 when neighbours share no sample-level
       signal), so the sample step can only add what the data support.

    Samples are processed in chunks of ``chunk_size`` and only the neighbour columns are read,
    so memory stays near the size of the output layer (dense or sparse input).

    Parameters
    ----------
    adata
        Samples x genes, ``X`` (or ``layer``) in TPM (or log1p TPM with ``is_log1p``), shape
        ``(n_samples, n_genes)``, NaN where not measured; ``obs[tissue_key]`` = tissue;
        ``var`` with gene coordinates (``chrom``, ``start``, ``end``, ``strand``; promoters in
        ``var['promoter_seq']`` optional).
    model
        A :class:`~geneimpute.models.HybridImputer` (or a saved model directory) trained on a
        tissues x genes table whose tissues include every sample tissue; None trains one on
        the tissue medians of the reference genes first.
    genes
        Boolean mask or ``var`` column of genes to impute; default: genes with no finite value
        in any sample.
    tissue_key
        ``obs`` column with each sample's tissue.
    layer
        Expression layer instead of ``X``.
    is_log1p
        Whether values are log1p(TPM) (the output is then log1p(TPM) too); None: the model's
        training units, or TPM when training here.
    k_neighbors
        Neighbour reference genes whose sample deviations are transferred (at most the
        model's ``k_neighbors``).
    chunk_size
        Samples processed at a time.
    overwrite
        Replace every value of the target genes, not only NaN.
    promoter_key
        ``var`` column with promoters; None: the model's (``"promoter_seq"`` when training).
    neighbors_key
        ``uns`` key of :func:`~geneimpute.pp.neighbor_features` output, read when present (its
        reference genes must be genes with a median in every tissue); None or an absent key
        searches neighbours once, for both steps.
    tissue_correlation_key
        ``uns`` key of a tissue correlation to train with (read when present, written there
        when absent; never overwritten). A given model uses its own.
    key_added
        Layer name for the result (and ``uns`` key of its parameters).
    random_state
        Seed for training and for the genes/samples used to fit ``beta``.
    accelerator
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``; ``None`` (default)
        follows ``geneimpute.settings.accelerator`` (``"auto"`` unless changed).
    copy
        Return a modified copy instead of writing in place.

    Returns
    -------
    ``None``, or the modified copy with ``copy=True``. Writes:

    - ``layers[key_added]``: float32 ``(n_samples, n_genes)``, observed values unchanged, target
      genes filled, in the input's units.
    - ``layers[f"{key_added}_mask"]``: bool, True where a value was imputed.
    - ``uns[tissue_correlation_key]``: the tissue correlation used, only if the key was absent.
    - ``uns[key_added]``: ``params`` (genes, ``beta``, its ``residual_r2``, tissue-level model),
      ``tissue_profiles`` (tissues x target genes DataFrame of the tissue-level log1p(TPM)
      prediction) and ``timings`` (seconds per step).

    Raises
    ------
    KeyError
        If ``tissue_key``, ``layer`` or coordinate columns are missing.
    ValueError
        On samples without a tissue, duplicated gene IDs, genes without coordinates, no genes
        to impute, infinite or negative values, or sample tissues the ``model`` was not trained
        on (or model tissues without samples). ``adata`` is unchanged
        when an error is raised.
    """
    check_unique_var_names(adata)
    check_coordinates(adata.var)
    if isinstance(k_neighbors, bool) or not isinstance(k_neighbors, int) or k_neighbors < 1:
        msg = f"k_neighbors must be an integer >= 1, got {k_neighbors!r}"
        raise ValueError(msg)
    model, model_source, log1p = resolve_model(model, is_log1p)
    tissues = sample_tissues(adata, tissue_key)
    X = expression_source(adata, layer)
    timings: dict[str, float] = {}
    with timed("sample_target_genes", timings):
        default = _all_nan_columns(X, chunk_size) if genes is None else np.zeros(adata.n_vars, bool)
        target = gene_mask(adata, genes, default, "genes")
    if not target.any():
        msg = "no genes to impute: no gene is NaN in every sample; pass genes= to choose them"
        raise ValueError(msg)
    with timed("tissue_medians", timings):
        tdata = tissue_medians(adata, tissue_key, layer=layer)
    med_raw = np.asarray(tdata.X, dtype=np.float64)
    check_expression(
        med_raw, is_log1p=log1p, what="tissue medians", names=(tdata.obs_names, tdata.var_names)
    )
    tissue_names = [str(t) for t in tdata.obs_names]
    if model is not None:
        check_model_setup(adata, model, promoter_key=promoter_key, is_log1p=log1p)
        order, extra = model_tissue_order(tissue_names, model)
        if extra:
            msg = f"sample tissues {extra[:5]} are not among the model's tissues"
            raise ValueError(msg)
    Y_all = (med_raw if log1p else np.log1p(med_raw)).T  # genes x tissues, log1p
    reference = np.isfinite(Y_all).all(axis=1) & ~target
    if reference.sum() < 20:
        msg = f"only {int(reference.sum())} reference genes with a median in every tissue"
        raise ValueError(msg)
    Y = np.where(reference[:, None], Y_all, np.nan)
    sources = InputSources()
    t0 = time.perf_counter()
    inputs = None
    if model is None:
        model_source = "trained here"
        model, inputs, sources = fit_hybrid(
            adata,
            Y,
            reference,
            tissue_names,
            features=FEATURES,
            promoter_key=promoter_key or DEFAULT_PROMOTER_KEY,
            neighbors_key=neighbors_key,
            tissue_correlation_key=tissue_correlation_key,
            is_log1p=log1p,
            layer=layer,
            reference_rule="complete_profiles",
            random_state=random_state,
            accelerator=accelerator,
            model_kwargs={},
        )
        order = np.arange(len(tissue_names))
    else:
        sources.tissue_correlation = "model"
        check_scale(model, Y[:, order], reference)
    tidx = np.flatnonzero(target)
    pred_m, _, inputs, _ = predict_hybrid(
        adata,
        model,
        Y[:, order],
        reference,
        tidx,
        promoter_key=promoter_key,
        neighbors_key=neighbors_key,
        accelerator=accelerator,
        sources=sources,
        inputs=inputs,
    )
    timings["tissue_level_hybrid"] = time.perf_counter() - t0
    # tissue-level log1p medians / predictions (all genes), rows in sample-code order
    code_order = tdata.obs_names.get_indexer(tissues.categories)
    med = Y_all.T.astype(np.float32)[code_order]
    pred_t = np.full((len(tissue_names), adata.n_vars), np.nan, dtype=np.float32)
    pred_t[np.ix_(order, tidx)] = pred_m.T
    pred = pred_t[code_order]
    codes = np.asarray(tissues.codes)
    rng = np.random.default_rng(random_state)
    nb = inputs.neighbors
    if nb.k < k_neighbors:
        msg = f"k_neighbors={k_neighbors} exceeds the {nb.k} neighbours of the model's inputs"
        raise ValueError(msg)
    with timed("sample_residual_fit", timings):
        beta, r2 = _fit_residual_gain(X, codes, med, reference, nb, k_neighbors, not log1p, rng)
    logger.info("impute_samples: neighbour residual gain beta=%.3f (R^2 %.3f)", beta, r2)

    with timed("sample_impute", timings):
        cols, W = _neighbor_operator(nb, target, k_neighbors)
        out = np.empty(adata.shape, dtype=np.float32)
        fill = np.zeros(adata.shape, dtype=bool)
        for s in range(0, adata.n_obs, chunk_size):
            rows = np.arange(s, min(s + chunk_size, adata.n_obs))
            V = dense_rows(X, rows)  # each chunk is read once
            out[rows] = V
            P = pred[codes[rows]][:, tidx]
            if beta > 0 and len(cols):
                P += beta * np.asarray(_residual(V, codes[rows], cols, med, not log1p) @ W)
            values = P if log1p else np.expm1(np.clip(P, 0, None))
            block = V[:, tidx]
            sel = np.ones(block.shape, bool) if overwrite else ~np.isfinite(block)
            sel &= np.isfinite(values)
            block[sel] = values[sel]
            out[np.ix_(rows, tidx)] = block
            fill[np.ix_(rows, tidx)] = sel

    corr_entry = model_correlation_entry(
        adata, tissue_correlation_key, model, f"geneimpute.tl.impute_samples ({key_added!r})"
    )
    adata = adata.copy() if copy else adata
    adata.layers[key_added] = out
    adata.layers[f"{key_added}_mask"] = fill
    if corr_entry is not None:
        adata.uns[tissue_correlation_key] = corr_entry
    profiles = pd.DataFrame(
        pred[:, tidx], index=list(tissues.categories), columns=list(adata.var_names[tidx])
    )
    adata.uns[key_added] = {
        "params": {
            "method": "hybrid_samples",
            "tissue_key": tissue_key,
            "n_genes_imputed": int(target.sum()),
            "n_values_imputed": int(fill.sum()),
            "n_reference_genes": int(reference.sum()),
            "k_neighbors": int(k_neighbors),
            "beta": beta,
            "residual_r2": r2,
            "is_log1p": log1p,
            "units": units_of(log1p),
            "layer": layer or "X",
            "overwrite": bool(overwrite),
            "random_state": int(random_state),
            "device": resolve_device(accelerator),
            "features": model.features_,
            "model": model_source,
            "inputs": sources.to_dict(),
            "model_config": dict(vars(model.config)),
        },
        "tissue_profiles": profiles,
        "timings": {**{f"tissue_level_{k}": v for k, v in model.timings_.items()}, **timings},
    }
    logger.info("impute_samples: filled %d values of %d genes", int(fill.sum()), len(tidx))
    return adata if copy else None

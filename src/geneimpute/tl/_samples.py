"""Sample-level imputation: fill genes in every sample of a samples x genes AnnData."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .._core.neighbors import GenomicNeighbors, idw_weights
from .._dask import column_pass, is_dask, map_rows
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


#: samples (and reference genes) used to fit ``beta``
N_FIT = 2000


def _fit_samples(n_obs: int, random_state: int) -> np.ndarray:
    """Sorted samples whose rows fit ``beta``, drawn before any data is read (any engine)."""
    rng = np.random.default_rng([random_state, 1])
    return np.sort(rng.choice(n_obs, size=min(N_FIT, n_obs), replace=False))


def _fit_residual_gain(
    V: np.ndarray,
    codes: np.ndarray,
    M: np.ndarray,
    reference: np.ndarray,
    nb: GenomicNeighbors,
    k: int,
    log1p: bool,
    rng,
) -> tuple[float, float]:
    """Least-squares gain of a gene's sample residual on its neighbours' (reference genes only).

    ``V`` holds the rows of the samples drawn by :func:`_fit_samples` (all genes), ``codes``
    their tissue codes. Returns ``(beta, r2)``: ``residual_gene ~ beta * idw_mean(residual_
    neighbours)`` over up to 2,000 reference genes; ``beta`` is clipped to [0, 1].
    """
    ref_idx = np.flatnonzero(reference)
    genes = np.sort(rng.choice(ref_idx, size=min(N_FIT, len(ref_idx)), replace=False))
    probe = np.zeros(len(reference), dtype=bool)
    probe[genes] = True
    cols, W = _neighbor_operator(nb, probe, k)
    R_g = _residual(V, codes, genes, M, log1p)
    Q = np.asarray(_residual(V, codes, cols, M, log1p) @ W)
    num, den = float((R_g * Q).sum()), float((Q * Q).sum())
    beta = float(np.clip(num / den, 0.0, 1.0)) if den > 0 else 0.0
    ss = float((R_g**2).sum())
    r2 = 1.0 - float(((R_g - beta * Q) ** 2).sum()) / ss if ss > 0 else 0.0
    return beta, r2


class _RowFiller:
    """Fill the target genes of a block of sample rows (shared by the in-memory and dask paths).

    Called with a dense float32 ``(n_rows, n_genes)`` block and its row indices; returns the
    filled block (``mask=False``) or the bool mask of filled cells (``mask=True``).
    """

    def __init__(self, *, codes, pred, med, tidx, cols, W, beta, log1p, overwrite, mask=False):
        self.codes, self.pred, self.med, self.tidx = codes, pred, med, tidx
        self.cols, self.W, self.beta = cols, W, beta
        self.log1p, self.overwrite, self.mask = log1p, overwrite, mask

    def fill(self, V: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(values of the target columns after filling, cells filled)``, both ``(rows, T)``."""
        c = self.codes[rows]
        P = self.pred[c][:, self.tidx]
        if self.beta > 0 and len(self.cols):
            P += self.beta * np.asarray(
                _residual(V, c, self.cols, self.med, not self.log1p) @ self.W
            )
        values = P if self.log1p else np.expm1(np.clip(P, 0, None))
        block = V[:, self.tidx]
        sel = np.ones(block.shape, bool) if self.overwrite else ~np.isfinite(block)
        sel &= np.isfinite(values)
        block[sel] = values[sel]
        return block, sel

    def with_mask(self) -> _RowFiller:
        """Return the same filler, returning the mask."""
        other = _RowFiller.__new__(_RowFiller)
        other.__dict__.update(self.__dict__, mask=True)
        return other

    def __call__(self, V: np.ndarray, rows: np.ndarray) -> np.ndarray:
        block, sel = self.fill(V, rows)
        if self.mask:
            out = np.zeros(V.shape, dtype=bool)
            out[:, self.tidx] = sel
            return out
        out = V.copy()  # never write into the caller's (or dask's) chunk
        out[:, self.tidx] = block
        return out


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
    client: Any = None,
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

    **Out of core.** When ``X`` (or ``layer``) is a dask array -- e.g. opened with
    :func:`~geneimpute.pp.read_lazy` from a zarr or h5ad store larger than memory -- the matrix
    is never materialised: one pass over blocks of whole columns gives the tissue medians, the
    all-NaN genes and the rows that fit ``beta``; the tissue-level hybrid trains in memory (its
    XGBoost stage on ``client`` when given); the output layers are *lazy* dask arrays over
    blocks of whole rows (at most ``chunk_size`` samples), computed when written
    (``adata.write_zarr``, :func:`anndata.io.write_elem`) or ``.compute()``-d. The values are
    identical to the in-memory path's. Work runs on the active dask scheduler (the
    ``dask.distributed.Client`` when one exists). See the "Scaling out" docs page.

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
    client
        A ``dask.distributed.Client``: when the hybrid is trained here, its XGBoost stage is
        fitted with ``xgboost.dask`` on the cluster (see :func:`train`).
    copy
        Return a modified copy instead of writing in place.

    Returns
    -------
    ``None``, or the modified copy with ``copy=True``. Writes:

    - ``layers[key_added]``: float32 ``(n_samples, n_genes)``, observed values unchanged, target
      genes filled, in the input's units (a lazy dask array when the input is one).
    - ``layers[f"{key_added}_mask"]``: bool, True where a value was imputed (lazy likewise).
    - ``uns[tissue_correlation_key]``: the tissue correlation used, only if the key was absent.
    - ``uns[key_added]``: ``params`` (genes, ``beta``, its ``residual_r2``, tissue-level model,
      ``engine`` ``"numpy"`` or ``"dask"``),
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
    lazy = is_dask(X)
    codes = np.asarray(tissues.codes)
    samples = _fit_samples(adata.n_obs, random_state)
    tissue_names = [str(t) for t in tissues.categories]  # = tissue_medians' rows (min_samples=1)
    if model is not None:  # checked before any pass over the data
        check_model_setup(adata, model, promoter_key=promoter_key, is_log1p=log1p)
        order, extra = model_tissue_order(tissue_names, model)
        if extra:
            msg = f"sample tissues {extra[:5]} are not among the model's tissues"
            raise ValueError(msg)
    timings: dict[str, float] = {}
    if lazy:  # one pass over column blocks: medians, finite counts, the beta-fit rows
        with timed("sample_column_pass", timings):
            med_raw32, n_finite, V_fit = column_pass(X, codes, len(tissues.categories), samples)
        all_nan = n_finite == 0
    else:
        with timed("sample_target_genes", timings):
            all_nan = _all_nan_columns(X, chunk_size) if genes is None else None
    default = all_nan if genes is None else np.zeros(adata.n_vars, bool)
    target = gene_mask(adata, genes, default, "genes")
    if not target.any():
        msg = "no genes to impute: no gene is NaN in every sample; pass genes= to choose them"
        raise ValueError(msg)
    if not lazy:
        with timed("tissue_medians", timings):
            tdata = tissue_medians(adata, tissue_key, layer=layer)
        med_raw32 = np.asarray(tdata.X)
        assert list(tdata.obs_names) == tissue_names
        V_fit = dense_rows(X, samples)
    med_raw = np.asarray(med_raw32, dtype=np.float64)
    check_expression(
        med_raw, is_log1p=log1p, what="tissue medians", names=(tissue_names, adata.var_names)
    )
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
            client=client,
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
    code_order = pd.Index(tissue_names).get_indexer([str(t) for t in tissues.categories])
    med = Y_all.T.astype(np.float32)[code_order]
    pred_t = np.full((len(tissue_names), adata.n_vars), np.nan, dtype=np.float32)
    pred_t[np.ix_(order, tidx)] = pred_m.T
    pred = pred_t[code_order]
    rng = np.random.default_rng(random_state)
    nb = inputs.neighbors
    if nb.k < k_neighbors:
        msg = f"k_neighbors={k_neighbors} exceeds the {nb.k} neighbours of the model's inputs"
        raise ValueError(msg)
    with timed("sample_residual_fit", timings):
        beta, r2 = _fit_residual_gain(
            V_fit, codes[samples], med, reference, nb, k_neighbors, not log1p, rng
        )
    del V_fit
    logger.info("impute_samples: neighbour residual gain beta=%.3f (R^2 %.3f)", beta, r2)

    cols, W = _neighbor_operator(nb, target, k_neighbors)
    filler = _RowFiller(
        codes=codes,
        pred=pred,
        med=med,
        tidx=tidx,
        cols=cols,
        W=W,
        beta=beta,
        log1p=log1p,
        overwrite=overwrite,
    )
    if lazy:  # lazy layers: computed when written (write_zarr) or .compute()d
        out = map_rows(X, filler, np.float32, max_rows=chunk_size)
        fill = map_rows(X, filler.with_mask(), np.bool_, max_rows=chunk_size)
        n_missing = len(tidx) * adata.n_obs - int(n_finite[tidx].sum())
        n_values = len(tidx) * adata.n_obs if overwrite else n_missing
    else:
        with timed("sample_impute", timings):
            out = np.empty(adata.shape, dtype=np.float32)
            fill = np.zeros(adata.shape, dtype=bool)
            for s in range(0, adata.n_obs, chunk_size):
                rows = np.arange(s, min(s + chunk_size, adata.n_obs))
                V = dense_rows(X, rows)  # each chunk is read once
                out[rows] = V
                block, sel = filler.fill(V, rows)
                out[np.ix_(rows, tidx)] = block
                fill[np.ix_(rows, tidx)] = sel
        n_values = int(fill.sum())

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
            "n_values_imputed": n_values,
            "engine": "dask" if lazy else "numpy",
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
    logger.info("impute_samples: filled %d values of %d genes", n_values, len(tidx))
    return adata if copy else None

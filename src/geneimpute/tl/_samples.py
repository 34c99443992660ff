"""Sample-level imputation: fill genes in every sample of a samples x genes AnnData."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from anndata import AnnData

from .._adata import (
    InputSources,
    check_coordinates,
    check_expression,
    check_unique_var_names,
    dense_rows,
    expression_source,
    gene_mask,
    sample_tissues,
)
from .._core.neighbors import GenomicNeighbors
from .._dask import column_pass, is_dask
from .._logging import logger
from .._settings import Accelerator, resolve_device
from .._timing import timed
from ..models import HybridImputer
from ..pp import tissue_medians
from ._model import (
    check_model_setup,
    check_scale,
    model_tissue_order,
    predict_hybrid,
    resolve_model,
    units_of,
)
from ._sample_level import (
    RowFiller,
    all_nan_columns,
    count_filled,
    fill_samples,
    fit_residual_gain,
    fit_samples,
    neighbor_operator,
)
from ._train import DEFAULT_CORRELATION_KEY, DEFAULT_NEIGHBORS_KEY, HybridFitSpec, fit_hybrid
from ._write import model_correlation_entry


class TissueTable(NamedTuple):
    """What one pass over the samples gives (:func:`tissue_table`)."""

    target: np.ndarray  # genes to impute
    Y_all: np.ndarray  # genes x sample tissues, log1p tissue medians
    reference: np.ndarray  # genes with a median in every tissue that are not imputed
    fit_rows: np.ndarray | None  # rows of the samples that fit beta (all genes), float32
    n_finite: np.ndarray | None  # finite values per gene (dask input only)


class TissueLevel(NamedTuple):
    """The tissue-level hybrid's prediction of the target genes (:func:`tissue_level`)."""

    model: HybridImputer
    source: str
    pred: np.ndarray  # target genes x model tissues, log1p
    rows: np.ndarray  # the target genes' positions
    order: np.ndarray  # position among the sample tissues of each model tissue
    neighbors: GenomicNeighbors
    sources: InputSources


def check_k(k_neighbors: int) -> None:
    """Raise unless ``k_neighbors`` is an integer >= 1."""
    if isinstance(k_neighbors, bool) or not isinstance(k_neighbors, int) or k_neighbors < 1:
        msg = f"k_neighbors must be an integer >= 1, got {k_neighbors!r}"
        raise ValueError(msg)


def model_order(
    adata: AnnData,
    model: HybridImputer | None,
    tissue_names: list[str],
    *,
    promoter_key: str | None,
    is_log1p: bool,
) -> np.ndarray | None:
    """Check a given model against ``adata`` before any pass over the data; its tissue order."""
    if model is None:
        return None
    check_model_setup(adata, model, promoter_key=promoter_key, is_log1p=is_log1p)
    order, extra = model_tissue_order(tissue_names, model)
    if extra:
        msg = f"sample tissues {extra[:5]} are not among the model's tissues"
        raise ValueError(msg)
    return order


def tissue_table(
    adata: AnnData,
    X: Any,
    tissues: pd.Categorical,
    samples: np.ndarray,
    genes: str | Sequence[bool] | np.ndarray | None,
    tissue_key: str,
    layer: str | None,
    is_log1p: bool,
    chunk_size: int,
    timings: dict[str, float],
) -> TissueTable:
    """Target and reference genes, tissue medians and the rows that fit ``beta``.

    One pass over blocks of columns for dask input. ``samples`` are the rows drawn by
    :func:`~geneimpute.tl._sample_level.fit_samples`.

    Raises
    ------
    ValueError
        If no gene is to be imputed, on medians that are not ``is_log1p``'s units, or with
        fewer than 20 reference genes.
    """
    lazy = is_dask(X)
    n_finite = None
    if lazy:  # one pass over column blocks: medians, finite counts, the beta-fit rows
        with timed("sample_column_pass", timings):
            codes, n = np.asarray(tissues.codes), len(tissues.categories)
            med_raw32, n_finite, V_fit = column_pass(X, codes, n, samples)
        all_nan = n_finite == 0
    else:
        with timed("sample_target_genes", timings):
            all_nan = all_nan_columns(X, chunk_size) if genes is None else None
    default = all_nan if genes is None else np.zeros(adata.n_vars, bool)
    target = gene_mask(adata, genes, default, "genes")
    if not target.any():
        msg = "no genes to impute: no gene is NaN in every sample; pass genes= to choose them"
        raise ValueError(msg)
    tissue_names = [str(t) for t in tissues.categories]
    if not lazy:
        with timed("tissue_medians", timings):
            tdata = tissue_medians(adata, tissue_key, layer=layer)
        med_raw32 = np.asarray(tdata.X)
        assert list(tdata.obs_names) == tissue_names
        V_fit = dense_rows(X, samples)
    med_raw = np.asarray(med_raw32, dtype=np.float64)
    names = (tissue_names, adata.var_names)
    check_expression(med_raw, is_log1p=is_log1p, what="tissue medians", names=names, stacklevel=5)
    Y_all = (med_raw if is_log1p else np.log1p(med_raw)).T  # genes x tissues, log1p
    reference = np.isfinite(Y_all).all(axis=1) & ~target
    if reference.sum() < 20:
        msg = f"only {int(reference.sum())} reference genes with a median in every tissue"
        raise ValueError(msg)
    return TissueTable(target, Y_all, reference, V_fit, n_finite)


def tissue_level(
    adata: AnnData,
    model: HybridImputer | None,
    source: str,
    table: TissueTable,
    tissue_names: list[str],
    order: np.ndarray | None,
    spec: HybridFitSpec,
) -> TissueLevel:
    """Train the hybrid on the medians of the reference genes (``model=None``); predict."""
    reference = table.reference
    Y = np.where(reference[:, None], table.Y_all, np.nan)
    sources = InputSources()
    inputs = None
    if model is None:
        source = "trained here"
        model, inputs, sources = fit_hybrid(
            adata, Y, reference, tissue_names, spec.trained_here(), stacklevel=6
        )
        order = np.arange(len(tissue_names))
    else:
        assert order is not None
        sources.tissue_correlation = "model"
        check_scale(model, Y[:, order], reference, stacklevel=5)
    rows = np.flatnonzero(table.target)
    pred, _, inputs, _ = predict_hybrid(
        adata,
        model,
        Y[:, order],
        reference,
        rows,
        promoter_key=spec.promoter_key,
        neighbors_key=spec.neighbors_key,
        accelerator=spec.accelerator,
        sources=sources,
        inputs=inputs,
    )
    return TissueLevel(model, source, pred, rows, order, inputs.neighbors, sources)


def sample_step(
    level: TissueLevel,
    table: TissueTable,
    tissues: pd.Categorical,
    samples: np.ndarray,
    k_neighbors: int,
    is_log1p: bool,
    overwrite: bool,
    random_state: int,
    timings: dict[str, float],
) -> tuple[RowFiller, tuple[float, float]]:
    """Fit ``beta`` on the sampled rows; the filler of the target genes' cells, ``(beta, r2)``.

    Raises
    ------
    ValueError
        If ``k_neighbors`` exceeds the neighbours of the model's inputs.
    """
    codes, tissue_names = np.asarray(tissues.codes), [str(t) for t in tissues.categories]
    # tissue-level log1p medians / predictions (all genes), rows in sample-code order
    code_order = pd.Index(tissue_names).get_indexer([str(t) for t in tissues.categories])
    med = table.Y_all.T.astype(np.float32)[code_order]
    pred_t = np.full((len(tissue_names), len(table.Y_all)), np.nan, dtype=np.float32)
    pred_t[np.ix_(level.order, level.rows)] = level.pred.T
    pred = pred_t[code_order]
    rng = np.random.default_rng(random_state)
    nb = level.neighbors
    if nb.k < k_neighbors:
        msg = f"k_neighbors={k_neighbors} exceeds the {nb.k} neighbours of the model's inputs"
        raise ValueError(msg)
    assert table.fit_rows is not None  # freed only after this step
    with timed("sample_residual_fit", timings):
        beta, r2 = fit_residual_gain(
            table.fit_rows, codes[samples], med, table.reference, nb, k_neighbors, not is_log1p, rng
        )
    logger.info("impute_samples: neighbour residual gain beta=%.3f (R^2 %.3f)", beta, r2)
    cols, W = neighbor_operator(nb, table.target, k_neighbors)
    filler = RowFiller(
        codes=codes,
        pred=pred,
        med=med,
        tidx=level.rows,
        cols=cols,
        W=W,
        beta=beta,
        log1p=is_log1p,
        overwrite=overwrite,
    )
    return filler, (beta, r2)


def samples_params(
    level: TissueLevel,
    spec: HybridFitSpec,
    table: TissueTable,
    fit: tuple[float, float],
    *,
    tissue_key: str,
    k_neighbors: int,
    overwrite: bool,
    n_values: int,
) -> dict:
    """``uns[key_added]["params"]`` of :func:`impute_samples`; ``fit`` is ``(beta, r2)``."""
    model, log1p = level.model, spec.is_log1p
    return {
        "method": "hybrid_samples",
        "tissue_key": tissue_key,
        "n_genes_imputed": int(table.target.sum()),
        "n_values_imputed": n_values,
        "engine": "numpy" if table.n_finite is None else "dask",
        "n_reference_genes": int(table.reference.sum()),
        "k_neighbors": int(k_neighbors),
        "beta": fit[0],
        "residual_r2": fit[1],
        "is_log1p": log1p,
        "units": units_of(log1p),
        "layer": spec.layer or "X",
        "overwrite": bool(overwrite),
        "random_state": int(spec.random_state),
        "device": resolve_device(spec.accelerator),
        "features": model.features_,
        "model": level.source,
        "inputs": level.sources.to_dict(),
        "model_config": dict(vars(model.config)),
    }


def write_samples(
    adata: AnnData,
    level: TissueLevel,
    profiles: pd.DataFrame,
    layers: tuple[Any, Any],
    params: dict,
    timings: dict[str, float],
    *,
    key_added: str,
    tissue_correlation_key: str | None,
    copy: bool,
) -> AnnData | None:
    """Write the layer and mask ``layers``, the correlation and ``uns[key_added]``.

    ``profiles``: the tissue-level prediction, sample tissues x target genes, log1p.
    """
    corr_entry = model_correlation_entry(
        adata, tissue_correlation_key, level.model, f"geneimpute.tl.impute_samples ({key_added!r})"
    )
    adata = adata.copy() if copy else adata
    adata.layers[key_added] = layers[0]
    adata.layers[f"{key_added}_mask"] = layers[1]
    if corr_entry is not None:
        adata.uns[tissue_correlation_key] = corr_entry
    model_timings = {f"tissue_level_{k}": v for k, v in level.model.timings_.items()}
    adata.uns[key_added] = {
        "params": params,
        "tissue_profiles": profiles,
        "timings": {**model_timings, **timings},
    }
    n_values = params["n_values_imputed"]
    logger.info("impute_samples: filled %d values of %d genes", n_values, len(level.rows))
    return adata if copy else None


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
    check_k(k_neighbors)
    model, model_source, log1p = resolve_model(model, is_log1p)
    tissues = sample_tissues(adata, tissue_key)
    X = expression_source(adata, layer)
    samples = fit_samples(adata.n_obs, random_state)
    tissue_names = [str(t) for t in tissues.categories]  # = tissue_medians' rows (min_samples=1)
    order = model_order(adata, model, tissue_names, promoter_key=promoter_key, is_log1p=log1p)
    timings: dict[str, float] = {}
    table = tissue_table(
        adata, X, tissues, samples, genes, tissue_key, layer, log1p, chunk_size, timings
    )
    spec = HybridFitSpec(
        promoter_key=promoter_key,
        neighbors_key=neighbors_key,
        tissue_correlation_key=tissue_correlation_key,
        is_log1p=log1p,
        layer=layer,
        random_state=random_state,
        accelerator=accelerator,
        client=client,
    )
    t0 = time.perf_counter()
    level = tissue_level(adata, model, model_source, table, tissue_names, order, spec)
    timings["tissue_level_hybrid"] = time.perf_counter() - t0
    filler, fit = sample_step(
        level, table, tissues, samples, k_neighbors, log1p, overwrite, random_state, timings
    )
    table = table._replace(fit_rows=None)  # free the fit rows before the output is built
    layers = fill_samples(X, filler, chunk_size, timings)
    n_values = count_filled(layers[1], table.target, table.n_finite, overwrite)
    params = samples_params(
        level,
        spec,
        table,
        fit,
        tissue_key=tissue_key,
        k_neighbors=k_neighbors,
        overwrite=overwrite,
        n_values=n_values,
    )
    names = list(adata.var_names[level.rows])
    profiles = pd.DataFrame(filler.pred[:, level.rows], index=tissue_names, columns=names)
    return write_samples(
        adata,
        level,
        profiles,
        layers,
        params,
        timings,
        key_added=key_added,
        tissue_correlation_key=tissue_correlation_key,
        copy=copy,
    )

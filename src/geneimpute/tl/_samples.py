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
    DefaultKey,
    InputSources,
    check_coordinates,
    check_expression,
    check_key,
    check_unique_var_names,
    dense_rows,
    expression_source,
    gene_mask,
    sample_tissues,
)
from .._core.neighbors import GenomicNeighbors
from .._dask import column_pass, is_dask
from .._docs import doc_params
from .._logging import logger
from .._settings import Accelerator, resolve_device
from .._timing import timed
from ..models import HybridImputer
from ..pp import tissue_medians
from ._model import (
    check_model_setup,
    check_scale,
    in_units,
    model_correlation_entry,
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


class TissueTable(NamedTuple):
    """What one pass over the samples gives (:func:`tissue_table`)."""

    target: np.ndarray  # genes to impute
    Y_all: np.ndarray  # genes x sample tissues, log1p tissue medians
    reference: np.ndarray  # genes with a median in every tissue that are not imputed
    fit_rows: np.ndarray | None  # rows of the samples that fit beta (all genes), float32
    n_finite: np.ndarray | None  # finite values per gene (dask input only)
    tissues: list[str]  # the sample tissues, columns of Y_all


class TissueLevel(NamedTuple):
    """The tissue-level hybrid's prediction of the target genes (:func:`tissue_level`)."""

    model: HybridImputer
    source: str
    pred: np.ndarray  # target genes x model tissues, log1p
    rows: np.ndarray  # the target genes' positions
    order: np.ndarray  # position among the sample tissues of each model tissue
    neighbors: GenomicNeighbors
    sources: InputSources


def tissue_table(
    adata: AnnData,
    X: Any,
    tissues: pd.Categorical,
    samples: np.ndarray,
    genes: str | Sequence[bool] | np.ndarray | None,
    spec: HybridFitSpec,
    tissue_key: str,
    chunk_size: int,
    timings: dict[str, float],
) -> TissueTable:
    """Target and reference genes, tissue medians and the ``samples`` rows that fit ``beta``."""
    is_log1p = spec.is_log1p
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
            tdata = tissue_medians(adata, tissue_key, layer=spec.layer)
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
    return TissueTable(target, Y_all, reference, V_fit, n_finite, tissue_names)


def tissue_level(
    adata: AnnData,
    model: HybridImputer | None,
    source: str,
    table: TissueTable,
    order: np.ndarray | None,
    spec: HybridFitSpec,
) -> TissueLevel:
    """Train the hybrid on the medians of the reference genes (``model=None``); predict."""
    reference, tissue_names = table.reference, table.tissues
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
        adata, model, Y[:, order], reference, rows, spec, sources, inputs
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
    """Fit ``beta`` on the sampled rows; the filler of the target genes' cells, ``(beta, r2)``."""
    codes = np.asarray(tissues.codes)
    med = table.Y_all.T.astype(np.float32)  # tissue-level log1p medians, rows = tissue codes
    pred = np.full(med.shape, np.nan, dtype=np.float32)
    pred[np.ix_(level.order, level.rows)] = level.pred.T
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
    return RowFiller(codes, pred, med, level.rows, cols, W, beta, is_log1p, overwrite), (beta, r2)


@doc_params()
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
    key_added: str = DefaultKey("imputed"),
    random_state: int = 0,
    accelerator: Accelerator | None = None,
    client: Any = None,
    copy: bool = False,
) -> AnnData | None:
    """Impute genes in every sample of a samples x genes matrix (e.g. GTEx v8 sample level).

    1. **Tissue level.** The hybrid (``model``, or one trained with the :func:`train` defaults
       on the reference genes) predicts the target genes' log1p profiles on the per-tissue
       medians (:func:`~geneimpute.pp.tissue_medians`).
    2. **Sample level.** A sample's value is its tissue's prediction plus ``beta`` times the
       inverse-distance-weighted mean deviation of the gene's ``k_neighbors`` nearest
       reference genes from their tissue medians in that sample (log1p). ``beta`` is fitted by
       least squares on reference genes and clipped to [0, 1], so the step only adds what the
       data support.

    Samples are processed ``chunk_size`` at a time, reading only the neighbour columns. A dask
    ``X`` (:func:`~geneimpute.pp.read_lazy`) is never materialised: one pass over column blocks
    gives the medians, the all-NaN genes and the rows that fit ``beta``; the output layers are
    lazy over blocks of rows, with the in-memory values (see the "Scaling out" docs page).

    Parameters
    ----------
    adata
        Samples x genes, ``X`` (or ``layer``) in TPM (or log1p TPM with ``is_log1p``), shape
        ``(n_samples, n_genes)``, NaN where not measured; ``obs[tissue_key]`` = tissue;
        ``var`` with gene coordinates (``chrom``, ``start``, ``end``, ``strand``; promoters in
        ``var['promoter_seq']`` optional).
    {model_hybrid}
        A given model's tissues must include every sample tissue; None trains one on the
        tissue medians of the reference genes.
    genes
        Boolean mask or ``var`` column of genes to impute; default: genes with no finite value
        in any sample.
    tissue_key
        ``obs`` column with each sample's tissue.
    {layer}
    {is_log1p_model}
    k_neighbors
        Neighbour reference genes whose sample deviations are transferred (at most the
        model's ``k_neighbors``).
    chunk_size
        Samples processed at a time.
    {overwrite}
    {promoter_key_model}
    {neighbors_key}
        Its reference genes must be genes with a median in every tissue; a search is done
        once, for both steps.
    {tissue_correlation_key}
    {key_added}
    random_state
        Seed for training and for the genes/samples used to fit ``beta``.
    {accelerator}
    {client}
    {copy}

    Returns
    -------
    ``None``, or the modified copy with ``copy=True``. Writes:

    - ``layers[key_added]``: float32 ``(n_samples, n_genes)``, observed values unchanged, target
      genes filled, in the input's units, clipped to [0, 1e6] TPM (a lazy dask array when the
      input is one).
    - ``layers[f"{key_added}_mask"]``: bool, True where a value was imputed (lazy likewise).
    - ``uns[tissue_correlation_key]``: the tissue correlation used, only if the key was absent.
    - ``uns[key_added]``: ``params`` (genes, ``beta``, its ``residual_r2``, tissue-level model,
      ``engine`` ``"numpy"`` or ``"dask"``), ``tissue_profiles`` (tissues x target genes
      DataFrame of the tissue-level log1p(TPM) prediction) and ``timings`` (seconds per step).

    Raises
    ------
    KeyError
        If ``tissue_key``, ``layer`` or coordinate columns are missing.
    ValueError
        On samples without a tissue, duplicated gene IDs, genes without coordinates, no genes
        to impute, infinite or negative values, sample tissues the ``model`` lacks (or model
        tissues without samples), or a default ``key_added`` that would replace existing
        output; ``adata`` is then unchanged.
    """
    key_added = check_key(key_added, adata)
    check_unique_var_names(adata)
    check_coordinates(adata.var)
    if isinstance(k_neighbors, bool) or not isinstance(k_neighbors, int) or k_neighbors < 1:
        msg = f"k_neighbors must be an integer >= 1, got {k_neighbors!r}"
        raise ValueError(msg)
    model, model_source, is_log1p = resolve_model(model, is_log1p)
    tissues = sample_tissues(adata, tissue_key)
    X = expression_source(adata, layer)
    samples = fit_samples(adata.n_obs, random_state)
    tissue_names = [str(t) for t in tissues.categories]  # = tissue_medians' rows (min_samples=1)
    order = None
    if model is not None:  # checked before any pass over the data
        check_model_setup(adata, model, promoter_key=promoter_key, is_log1p=is_log1p)
        order, extra = model_tissue_order(tissue_names, model)
        if extra:
            msg = f"sample tissues {extra[:5]} are not among the model's tissues"
            raise ValueError(msg)
    spec = HybridFitSpec.from_arguments(locals())
    timings: dict[str, float] = {}
    table = tissue_table(adata, X, tissues, samples, genes, spec, tissue_key, chunk_size, timings)
    t0 = time.perf_counter()
    level = tissue_level(adata, model, model_source, table, order, spec)
    timings["tissue_level_hybrid"] = time.perf_counter() - t0
    filler, (beta, r2) = sample_step(
        level, table, tissues, samples, k_neighbors, is_log1p, overwrite, random_state, timings
    )
    table = table._replace(fit_rows=None)  # free the fit rows before the output is built
    layers = fill_samples(X, filler, chunk_size, timings)
    model = level.model
    what = f"geneimpute.tl.impute_samples ({key_added!r})"
    corr_entry = model_correlation_entry(adata, tissue_correlation_key, model, what)
    n_values = count_filled(layers[1], table.target, table.n_finite, overwrite)
    params = {
        "method": "hybrid_samples",
        "tissue_key": tissue_key,
        "n_genes_imputed": int(table.target.sum()),
        "n_values_imputed": n_values,
        "engine": "numpy" if table.n_finite is None else "dask",
        "n_reference_genes": int(table.reference.sum()),
        "k_neighbors": int(k_neighbors),
        "beta": beta,
        "residual_r2": r2,
        "is_log1p": is_log1p,
        "units": units_of(is_log1p),
        "layer": layer or "X",
        "overwrite": bool(overwrite),
        "random_state": int(random_state),
        "device": resolve_device(accelerator),
        "features": model.features_,
        "model": level.source,
        "inputs": level.sources.to_dict(),
        "model_config": dict(vars(model.config)),
    }
    names = list(adata.var_names[level.rows])
    pred = in_units(filler.pred[:, level.rows], True)
    profiles = pd.DataFrame(pred, index=table.tissues, columns=names)
    adata = adata.copy() if copy else adata
    adata.layers[key_added], adata.layers[f"{key_added}_mask"] = layers
    if corr_entry is not None:
        adata.uns[tissue_correlation_key] = corr_entry
    timings = {**{f"tissue_level_{k}": v for k, v in model.timings_.items()}, **timings}
    adata.uns[key_added] = {"params": params, "tissue_profiles": profiles, "timings": timings}
    logger.info("impute_samples: filled %d values of %d genes", n_values, len(level.rows))
    return adata if copy else None

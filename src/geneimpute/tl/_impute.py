"""Impute missing tissue profiles with the hybrid, as a pipeline of named steps.

:func:`impute_expression` resolves the model (trains one, or checks the given one against the
data), aligns the data to the model's tissues, predicts, conditions partly measured genes on
their measured tissues, computes the prediction intervals and writes the results.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from anndata import AnnData

from .._adata import DefaultKey, ExpressionTask, InputSources, check_key, prepare_task
from .._docs import doc_params
from .._logging import logger, warn_data
from .._settings import Accelerator, resolve_device
from .._timing import timed
from ..models import GeneInputs, HybridImputer
from ._model import (
    check_interval,
    check_model_setup,
    check_scale,
    condition_on_observed,
    gene_reliability,
    interval_layers,
    model_correlation_entry,
    model_tissue_order,
    model_tissue_values,
    predict_hybrid,
    resolve_model,
    units_of,
    write_imputed,
    write_intervals,
)
from ._train import DEFAULT_CORRELATION_KEY, DEFAULT_NEIGHBORS_KEY, HybridFitSpec, fit_hybrid


class Resolved(NamedTuple):
    """The model of a call, where it came from, and the inputs built when it was trained here."""

    model: HybridImputer
    source: str
    inputs: GeneInputs | None
    sources: InputSources
    trained_here: bool


class Aligned(NamedTuple):
    """The data in the model's tissue order (:func:`align`)."""

    order: np.ndarray  # position in adata of each model tissue, -1: absent
    extra: list[str]  # adata's tissues that are not the model's
    absent: list[str]  # the model's tissues that adata lacks (estimated)
    Y: np.ndarray  # genes x model tissues, log1p, NaN off the reference genes


def resolve(
    adata: AnnData,
    model: HybridImputer | None,
    source: str,
    task: ExpressionTask,
    spec: HybridFitSpec,
    save_model: str | Path | None,
    timings: dict[str, float],
) -> Resolved:
    """Train a model on the reference genes (``model=None``), or check the given one."""
    if model is not None:
        check_model_setup(adata, model, promoter_key=spec.promoter_key, is_log1p=task.is_log1p)
        return Resolved(model, source, None, InputSources(tissue_correlation="model"), False)
    tissues = [str(t) for t in adata.obs_names]
    spec, rule = spec.trained_here(), task.reference_rule
    t0 = time.perf_counter()
    fitted, inputs, sources = fit_hybrid(
        adata, task.Y, task.reference, tissues, spec, reference_rule=rule, stacklevel=6
    )
    timings["train"] = time.perf_counter() - t0
    if save_model is not None:
        fitted.save(save_model)
    where = "" if save_model is None else f", saved to {save_model}"
    return Resolved(fitted, f"trained here{where}", inputs, sources, True)


def align(
    adata: AnnData, resolved: Resolved, task: ExpressionTask, missing_tissues: str
) -> Aligned:
    """Put the data in the model's tissue order; estimate the model's tissues it lacks."""
    model = resolved.model
    tissues = [str(t) for t in adata.obs_names]
    order, extra = model_tissue_order(tissues, model, allow_missing=missing_tissues == "estimate")
    absent = [t for t, o in zip(model.tissues_, order, strict=True) if o < 0]
    if absent:
        warn_data(
            f"adata lacks {len(absent)} of the model's tissues ({absent}); the reference "
            "genes' values there are estimated from their other tissues with the model's "
            "tissue correlation, and these tissues are not imputed",
            stacklevel=4,
        )
    Y = model_tissue_values(task.Y, order, model, task.reference)
    if not resolved.trained_here:
        check_scale(model, Y, task.reference, stacklevel=5)
    return Aligned(order, extra, absent, Y)


def predict(
    adata: AnnData,
    resolved: Resolved,
    aligned: Aligned,
    task: ExpressionTask,
    spec: HybridFitSpec,
    interval: float | None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, GeneInputs]:
    """``(log1p prediction, embedding, sigma, inputs)`` of the targets; out-of-fold in training."""
    model, rows = resolved.model, np.flatnonzero(task.target)
    if interval is not None and not model.calibrated:
        warn_data(
            "the model has no interval calibration (trained with calibrate=False); no "
            "intervals are written",
            stacklevel=4,
        )
    with_sigma = interval is not None and model.calibrated
    sources, inputs = resolved.sources, resolved.inputs
    pred, emb, inputs, sigma = predict_hybrid(
        adata, model, aligned.Y, task.reference, rows, spec, sources, inputs, with_sigma=with_sigma
    )
    if resolved.trained_here and model.oof_prediction_ is not None and model.oof_rows_ is not None:
        hit = np.isin(rows, model.oof_rows_)
        pred[hit] = model.oof_prediction_[np.searchsorted(model.oof_rows_, rows[hit])]
    return pred, emb, sigma, inputs


def _longest_block(var: pd.DataFrame, target: np.ndarray) -> tuple[int, np.ndarray]:
    """Length and genes of the longest run of consecutive targets along one chromosome."""
    if "chrom" not in var.columns or "tss" not in var.columns:
        return 0, np.array([], dtype=np.int64)
    tss = pd.to_numeric(var["tss"], errors="coerce").to_numpy(float)
    chrom = var["chrom"].astype(str).to_numpy()
    idx = np.flatnonzero(np.isfinite(tss))
    idx = idx[np.lexsort((tss[idx], chrom[idx]))]
    t, c = target[idx], chrom[idx]
    run = np.cumsum(np.r_[True, (c[1:] != c[:-1]) | ~t[:-1]])
    if not t.any():
        return 0, np.array([], dtype=np.int64)
    best = np.bincount(run[t]).argmax()
    genes = idx[t & (run == best)]
    return len(genes), genes


def check_extrapolation(
    adata: AnnData, model: HybridImputer, task: ExpressionTask, rows: np.ndarray, inputs: GeneInputs
) -> np.ndarray:
    """Warn where the model is applied far outside its training; True: targets out of range.

    Out of range: no reference gene within the training range of TSS distances (mean + 2 sd
    of the training genes' log10 nearest-reference distance). Also warns on fewer reference
    genes than ``k_neighbors``, on a median nearest-reference distance of the targets above
    the training mean + 1 sd (a table sparser than training's; a subset of chromosomes is not),
    and on ``k_neighbors`` or more consecutive targets along a chromosome.
    """
    k, n_ref = model.config.k_neighbors, int(task.reference.sum())
    names, nearest = list(model.genef_names_), inputs.neighbors.distance[rows, 0]
    far, sparse, mu, sd = np.zeros(len(rows), bool), False, np.nan, np.nan
    if "log10_nearest_reference_bp" in names:
        i = names.index("log10_nearest_reference_bp")
        mu, sd = model.gmu_[i], model.gsd_[i]
        far = ~(nearest <= 10 ** (mu + 2 * sd))
        sparse = np.median(nearest) > 10 ** (mu + sd)
    if n_ref < k or sparse:
        warn_data(
            f"the genes to impute have few reference genes nearby: their nearest one is a "
            f"median {np.median(nearest) / 1e3:,.0f} kb away (the training genes': "
            f"{10**mu / 1e3:,.0f} kb), among {n_ref:,} reference genes (the model uses {k} per "
            "gene); the imputed values are less reliable: pass every measured gene of the table",
            stacklevel=4,
        )
    if far.any():
        warn_data(
            f"{int(far.sum())} of {len(rows)} genes to impute have no reference gene within "
            f"{10 ** (mu + 2 * sd) / 1e6:.1f} Mb of their TSS, beyond the model's training range "
            f"(e.g. {list(adata.var_names[rows[far]][:3])}): their values are extrapolated and "
            "their reliability is NaN",
            stacklevel=4,
        )
    n_block, block = _longest_block(adata.var, task.target)
    if n_block >= k:
        chrom, tss = adata.var["chrom"].iloc[block[0]], adata.var["tss"].iloc[block]
        warn_data(
            f"{n_block} consecutive genes on {chrom} ({int(tss.min()):,}-{int(tss.max()):,} "
            "bp) are all imputed: a contiguous block is the hardest case (its inner genes "
            "have no measured neighbour nearby); expect lower accuracy than for scattered genes",
            stacklevel=4,
        )
    return far


@doc_params()
def impute_expression(
    adata: AnnData,
    model: HybridImputer | str | Path | None = None,
    genes: str | Sequence[bool] | np.ndarray | None = None,
    *,
    reference: str | Sequence[bool] | np.ndarray | None = None,
    layer: str | None = None,
    is_log1p: bool | None = None,
    overwrite: bool = False,
    promoter_key: str | None = None,
    neighbors_key: str | None = DEFAULT_NEIGHBORS_KEY,
    tissue_correlation_key: str | None = DEFAULT_CORRELATION_KEY,
    key_added: str = DefaultKey("imputed"),
    embedding_key: str = "promoter_embedding",
    interval: float | None = 0.9,
    missing_tissues: Literal["raise", "estimate"] = "raise",
    save_model: str | Path | None = None,
    random_state: int = 0,
    accelerator: Accelerator | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Impute missing tissue profiles with the hybrid model.

    A fitted ``model``'s setup is checked first: tissues are aligned by name (extra ones are
    left as they are, warned), and a missing tissue, promoter or gene-feature column is an
    error. With ``model=None`` a hybrid is trained with the defaults on the reference genes
    (:func:`train` gives other options and keeps the model; or pass ``save_model``).

    Parameters
    ----------
    {adata_tissues}
    {model_hybrid}
        Pretrained: ``"gtex_v8_37tissues"`` (GTEx v8, 37 HPA tissues; the one for this
        function) and the sequence-only ``"gtex_v8_37tissues_sequence"`` and
        ``"gtex_v8_37tissues_promoter"`` (made for :func:`predict_profiles`).
    genes
        Boolean mask or ``var`` column of genes to impute; default: every gene with a NaN
        value (a warning counts the partly measured ones). A partly measured gene keeps its
        measured values (unless ``overwrite``) and its missing tissues are predicted *from*
        them: the hybrid's errors in its measured tissues are carried to the missing ones
        through their covariance over reference genes (conditional Gaussian mean,
        :class:`~geneimpute.models.ObservedTissueConditioner`).
    {reference}
        Genes chosen with ``genes=`` are never reference genes. With ``genes=None`` a
        partly measured gene can be both: its measured cells train the model, and when the
        model is trained here its missing cells are filled from its out-of-fold prediction (a
        model that did not see the gene) before conditioning.
    {layer}
    {is_log1p_model}
    {overwrite}
    {promoter_key_model}
    {neighbors_key}
    {tissue_correlation_key}
    {key_added}
    embedding_key
        ``varm`` key for the promoter CNN embeddings.
    {interval}
        The hybrid's residuals are cross-fitted and its difficulty learned. For a partly
        measured gene the interval keeps the fully-missing width around the conditioned
        value: conservative, since the measured tissues make the error smaller.
    missing_tissues
        When ``adata`` lacks tissues of a fitted ``model``: ``"raise"``, or ``"estimate"`` the
        reference genes' values there from their other tissues (Gaussian conditional mean
        under the model's tissue correlation; warned; nothing is written for those tissues),
        e.g. for GTEx, which lacks the pretrained models' retina.
    save_model
        Directory to save the model trained when ``model`` is None (must not exist).
    random_state
        Seed when training (``model=None``).
    {accelerator}
    {copy}

    Returns
    -------
    ``None``, or the modified copy with ``copy=True``. Writes:

    - ``layers[key_added]``: ``(n_tissues, n_genes)``, observed values unchanged, missing
      values of target genes filled, in the input's units (float32; float64 for float64
      input), clipped to [0, 1e6] TPM (log1p of it with ``is_log1p``), as are the bounds.
    - ``layers[f"{key_added}_mask"]``: bool, True where a value was imputed.
    - ``varm[embedding_key]``: ``(n_genes, embedding_dim)`` promoter CNN embeddings (a CNN's).
    - ``layers[f"{key_added}_lower"]``, ``layers[f"{key_added}_upper"]``: the ``interval``
      bounds of every imputed value in the same units (NaN where observed).
    - ``var[f"{key_added}_reliability"]``: per imputed gene, the sd over tissues of its
      tissue-centred log1p prediction over its mean interval half-width (NaN for others).
    - ``uns[tissue_correlation_key]``: the tissue correlation used, if the key was absent.
    - ``uns[key_added]``: ``params`` (genes imputed, fully / partly missing, reference genes,
      units, device, features, where each input came from, model setup and config,
      ``conditioned_on_observed``) and ``timings``.

    Raises
    ------
    KeyError, ValueError, TypeError
        As :func:`train`; also if ``adata`` lacks tissues, the promoter column or gene-feature
        columns the model was trained with, if no gene needs imputing, if a saved model
        directory is damaged, or if the default ``key_added`` would replace existing output
        (name it to replace it). ``adata`` is unchanged when an error is raised.
    FileExistsError
        If ``save_model`` exists.

    Warns
    -----
    DataWarning
        When a model trained elsewhere sees reference genes off its training scale (median
        per-tissue mean shift above 0.5 training sd, or sd ratio beyond 1.25x: other units,
        e.g. log2), and on the data problems of :func:`train`; when applied far outside its
        training: too few reference genes, genes without a reference gene within its range
        of TSS distances (their reliability is NaN), or a contiguous block of target genes.

    Examples
    --------
    >>> import geneimpute as ge
    >>> adata = ge.datasets.gtex_tissues()
    >>> adata.X[:, :100] = float("nan")  # pretend 100 genes were not measured
    >>> model = ge.tl.train(adata)  # doctest: +SKIP
    >>> ge.tl.impute_expression(adata, model)  # doctest: +SKIP
    >>> adata.layers["imputed"], adata.layers["imputed_mask"]  # doctest: +SKIP
    """
    key_added = check_key(key_added, adata)
    check_key(embedding_key, name="embedding_key")
    check_interval(interval)
    if missing_tissues not in ("raise", "estimate"):
        msg = f"missing_tissues must be 'raise' or 'estimate', got {missing_tissues!r}"
        raise ValueError(msg)
    model, model_source, is_log1p = resolve_model(model, is_log1p)
    if model is not None and save_model is not None:
        msg = "save_model is for a model trained here (model=None)"
        raise ValueError(msg)
    if save_model is not None and Path(save_model).exists():
        msg = f"save_model={str(save_model)!r} exists; choose a new directory"
        raise FileExistsError(msg)
    task = prepare_task(adata, genes, layer=layer, is_log1p=is_log1p, reference=reference)
    spec = HybridFitSpec.from_arguments(locals())
    timings: dict[str, float] = {}
    resolved = resolve(adata, model, model_source, task, spec, save_model, timings)
    aligned = align(adata, resolved, task, missing_tissues)
    model, order, rows = resolved.model, aligned.order, np.flatnonzero(task.target)
    here = order >= 0
    t0 = time.perf_counter()
    pred, emb, sigma, inputs = predict(adata, resolved, aligned, task, spec, interval)
    far = check_extrapolation(adata, model, task, rows, inputs)
    conditioned = condition_on_observed(model, pred, task, order, rows, overwrite)
    pred = pred if conditioned is None else conditioned
    bounds = reliability = None
    if sigma is not None and interval is not None:  # a calibrated model's interval
        lo, hi = model.interval(pred, sigma, float(interval))
        bounds = interval_layers(lo[:, here], hi[:, here], order[here], adata.n_obs, is_log1p)
        reliability = np.where(far, np.nan, gene_reliability(pred, lo, hi, model.mu_))
    timings["impute"] = time.perf_counter() - t0
    if aligned.extra:
        warn_data(
            f"{len(aligned.extra)} tissues of adata are not among the model's tissues and are "
            f"not imputed: {aligned.extra[:5]}",
            stacklevel=3,
        )
    what = f"geneimpute.tl.impute_expression ({key_added!r})"
    full = np.full((len(pred), adata.n_obs), np.nan)
    full[:, order[here]] = pred[:, here]
    adata = adata.copy() if copy else adata
    corr_entry = model_correlation_entry(adata, tissue_correlation_key, model, what)
    with timed("write_layers", timings):
        n_filled = write_imputed(adata, task, full, key_added=key_added, overwrite=overwrite)
    if emb is not None:
        adata.varm[embedding_key] = emb.astype(np.float32)
    if corr_entry is not None:
        adata.uns[tissue_correlation_key] = corr_entry
    if bounds is not None and reliability is not None:
        write_intervals(adata, key_added, rows, bounds, reliability)
    params = {
        "method": "hybrid",
        "interval": float(interval) if bounds is not None and interval is not None else None,
        "n_genes_imputed": len(rows),
        **task.counts(),
        "conditioned_on_observed": conditioned is not None,
        "n_values_imputed": n_filled,
        "n_reference_genes": int(task.reference.sum()),
        "layer": layer or "X",
        "is_log1p": is_log1p,
        "units": units_of(is_log1p),
        "overwrite": bool(overwrite),
        "random_state": int(random_state),
        "device": resolve_device(accelerator),
        "features": model.features_,
        "model": resolved.source,
        "inputs": resolved.sources.to_dict(),
        "tissues_not_in_model": list(aligned.extra),
        "model_tissues_estimated": aligned.absent,
        "model_setup": {k: v for k, v in model.setup_.to_dict().items() if v is not None},
        "model_config": dict(vars(model.config)),
    }
    adata.uns[key_added] = {"params": params, "timings": {**model.timings_, **timings}}
    logger.info("impute_expression: filled %d values of %d genes", n_filled, len(rows))
    return adata if copy else None

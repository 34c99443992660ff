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
from anndata import AnnData

from .._adata import ExpressionTask, InputSources, prepare_task
from .._logging import logger, warn_data
from .._settings import Accelerator, resolve_device
from .._timing import timed
from ..models import GeneInputs, HybridImputer
from ._model import (
    check_model_setup,
    check_scale,
    condition_on_observed,
    model_tissue_order,
    model_tissue_values,
    predict_hybrid,
    resolve_model,
    units_of,
)
from ._train import DEFAULT_CORRELATION_KEY, DEFAULT_NEIGHBORS_KEY, HybridFitSpec, fit_hybrid
from ._write import (
    check_interval,
    gene_reliability,
    interval_layers,
    model_correlation_entry,
    write_imputed,
    write_intervals,
)


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


class Imputed(NamedTuple):
    """What :func:`impute_expression` writes (log1p, target genes x model tissues)."""

    pred: np.ndarray
    embedding: np.ndarray | None
    conditioned: bool
    bounds: tuple[np.ndarray, np.ndarray] | None  # in adata's tissue order and units
    reliability: np.ndarray | None
    interval: float | None


def check_options(interval: float | None, missing_tissues: str) -> None:
    """Raise on an ``interval`` that is not a confidence, or an unknown ``missing_tissues``."""
    check_interval(interval)
    if missing_tissues not in ("raise", "estimate"):
        msg = f"missing_tissues must be 'raise' or 'estimate', got {missing_tissues!r}"
        raise ValueError(msg)


def check_save_model(model: HybridImputer | None, save_model: str | Path | None) -> None:
    """Raise unless ``save_model`` is None or a new directory for a model trained here."""
    if model is not None and save_model is not None:
        msg = "save_model is for a model trained here (model=None)"
        raise ValueError(msg)
    if save_model is not None and Path(save_model).exists():
        msg = f"save_model={str(save_model)!r} exists; choose a new directory"
        raise FileExistsError(msg)


def resolve(
    adata: AnnData,
    model: HybridImputer | None,
    source: str,
    task: ExpressionTask,
    spec: HybridFitSpec,
    *,
    save_model: str | Path | None,
    timings: dict[str, float],
) -> Resolved:
    """Train a model on the reference genes (``model=None``), or check the given one."""
    if model is not None:
        check_model_setup(adata, model, promoter_key=spec.promoter_key, is_log1p=task.is_log1p)
        return Resolved(model, source, None, InputSources(tissue_correlation="model"), False)
    t0 = time.perf_counter()
    tissues = [str(t) for t in adata.obs_names]
    model, inputs, sources = fit_hybrid(
        adata,
        task.Y,
        task.reference,
        tissues,
        spec.trained_here(),
        reference_rule=task.reference_rule,
        stacklevel=6,
    )
    timings["train"] = time.perf_counter() - t0
    source = "trained here"
    if save_model is not None:
        model.save(save_model)
        source = f"trained here, saved to {save_model}"
    return Resolved(model, source, inputs, sources, True)


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


def wants_interval(model: HybridImputer, interval: float | None) -> bool:
    """Whether intervals are computed: asked for, and the model is calibrated (else warned)."""
    if interval is None:
        return False
    if not model.calibrated:
        warn_data(
            "the model has no interval calibration (trained with calibrate=False); no "
            "intervals are written",
            stacklevel=4,
        )
        return False
    return True


def predict(
    adata: AnnData,
    resolved: Resolved,
    aligned: Aligned,
    task: ExpressionTask,
    spec: HybridFitSpec,
    *,
    with_sigma: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Predict the target genes: ``(log1p prediction, embedding, sigma)``, model tissues.

    A model trained here gives the partly measured genes that trained it their out-of-fold
    predictions (from a network that did not see the gene).
    """
    model, rows = resolved.model, np.flatnonzero(task.target)
    pred, emb, _, sigma = predict_hybrid(
        adata,
        model,
        aligned.Y,
        task.reference,
        rows,
        promoter_key=spec.promoter_key,
        neighbors_key=spec.neighbors_key,
        accelerator=spec.accelerator,
        sources=resolved.sources,
        inputs=resolved.inputs,
        with_sigma=with_sigma,
    )
    if resolved.trained_here and model.oof_prediction_ is not None and model.oof_rows_ is not None:
        hit = np.isin(rows, model.oof_rows_)
        pred[hit] = model.oof_prediction_[np.searchsorted(model.oof_rows_, rows[hit])]
    return pred, emb, sigma


def intervals(
    model: HybridImputer,
    pred: np.ndarray,
    sigma: np.ndarray | None,
    interval: float | None,
    order: np.ndarray,
    *,
    n_obs: int,
    is_log1p: bool,
) -> tuple[tuple[np.ndarray, np.ndarray] | None, np.ndarray | None]:
    """Interval bounds in the data's tissue order and units, and each gene's reliability."""
    if sigma is None or interval is None:
        return None, None
    lo_m, hi_m = model.interval(pred, sigma, float(interval))
    here = order >= 0
    bounds = interval_layers(lo_m[:, here], hi_m[:, here], order[here], n_obs, is_log1p)
    return bounds, gene_reliability(pred, lo_m, hi_m, model.mu_)


def warn_not_in_model(extra: list[str]) -> None:
    """Warn about the data's tissues that the model does not know (they are not imputed)."""
    if extra:
        warn_data(
            f"{len(extra)} tissues of adata are not among the model's tissues and are not "
            f"imputed: {extra[:5]}",
            stacklevel=4,
        )


def write(
    adata: AnnData,
    task: ExpressionTask,
    model: HybridImputer,
    imputed: Imputed,
    order: np.ndarray,
    *,
    key_added: str,
    embedding_key: str,
    tissue_correlation_key: str | None,
    overwrite: bool,
    timings: dict[str, float],
) -> int:
    """Write the layers, embedding, correlation and intervals; return the values filled."""
    corr_entry = model_correlation_entry(
        adata, tissue_correlation_key, model, f"geneimpute.tl.impute_expression ({key_added!r})"
    )
    pred = np.full((len(imputed.pred), adata.n_obs), np.nan)
    pred[:, order[order >= 0]] = imputed.pred[:, order >= 0]
    with timed("write_layers", timings):
        n_filled = write_imputed(adata, task, pred, key_added=key_added, overwrite=overwrite)
    if imputed.embedding is not None:
        adata.varm[embedding_key] = imputed.embedding.astype(np.float32)
    if corr_entry is not None:
        adata.uns[tissue_correlation_key] = corr_entry
    if imputed.bounds is not None and imputed.reliability is not None:
        rows = np.flatnonzero(task.target)
        write_intervals(adata, key_added, rows, imputed.bounds, imputed.reliability)
    return n_filled


def params(
    task: ExpressionTask,
    resolved: Resolved,
    aligned: Aligned,
    imputed: Imputed,
    spec: HybridFitSpec,
    *,
    n_filled: int,
    overwrite: bool,
) -> dict:
    """``uns[key_added]["params"]``: what was imputed, from what, with which model."""
    model, log1p = resolved.model, task.is_log1p
    interval = imputed.interval
    return {
        "method": "hybrid",
        "interval": float(interval)
        if imputed.bounds is not None and interval is not None
        else None,
        "n_genes_imputed": int(task.target.sum()),
        **task.counts(),
        "conditioned_on_observed": imputed.conditioned,
        "n_values_imputed": n_filled,
        "n_reference_genes": int(task.reference.sum()),
        "layer": task.layer or "X",
        "is_log1p": log1p,
        "units": units_of(log1p),
        "overwrite": bool(overwrite),
        "random_state": int(spec.random_state),
        "device": resolve_device(spec.accelerator),
        "features": model.features_,
        "model": resolved.source,
        "inputs": resolved.sources.to_dict(),
        "tissues_not_in_model": list(aligned.extra),
        "model_tissues_estimated": aligned.absent,
        "model_setup": {k: v for k, v in model.setup_.to_dict().items() if v is not None},
        "model_config": dict(vars(model.config)),
    }


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
    key_added: str = "imputed",
    embedding_key: str = "promoter_embedding",
    interval: float | None = 0.9,
    missing_tissues: Literal["raise", "estimate"] = "raise",
    save_model: str | Path | None = None,
    random_state: int = 0,
    accelerator: Accelerator | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Impute missing tissue profiles with the hybrid model.

    With a fitted ``model``, ``adata`` is checked against the model's setup first: its tissues
    are aligned to the model's by name (any order; extra tissues are left as they are, with a
    warning), and a missing tissue, promoter column or gene-feature column is an error. With
    ``model=None`` a hybrid is trained with the package defaults on the reference genes (see
    :func:`train`; use :func:`train` for other options and to keep the model, or pass
    ``save_model``).

    Parameters
    ----------
    adata
        ``obs`` = tissues, ``var`` = genes with coordinates (see :func:`train`), ``X`` (or
        ``layer``) = TPM, shape ``(n_tissues, n_genes)``, NaN where not measured.
    model
        A fitted :class:`~geneimpute.models.HybridImputer`, a directory written by
        :meth:`~geneimpute.models.HybridImputer.save`, or None to train one first.
    genes
        Boolean mask or ``var`` column of genes to impute; default: every gene with a NaN
        value, fully missing genes (no measured tissue) and partly measured ones alike; a
        warning gives both counts when partly measured genes are among them. Partly measured
        genes keep their measured values unless ``overwrite``, and their missing tissues are
        predicted *from* them: the hybrid's errors in the gene's measured tissues are carried
        to its missing ones through the covariance of the hybrid's out-of-fold errors over
        tissues, learned on the reference genes (conditional Gaussian mean;
        :class:`~geneimpute.models.ObservedTissueConditioner`). A fully missing gene gets the
        hybrid's prediction. With ``overwrite`` the measured values are not used.
    reference
        Boolean mask or ``var`` column of reference genes (training targets and neighbours);
        default: every gene measured in at least half of the tissues, except genes chosen
        with ``genes=``. With ``genes=None`` a partly measured gene can be both: its measured
        cells train the model, and when the model is trained here its missing cells are
        filled from its out-of-fold prediction (a model that did not see the gene) before
        conditioning. Reference genes may have NaN tissues (see :func:`train`).
    layer
        Expression layer instead of ``X``.
    is_log1p
        Whether the values are log1p(TPM) (the output is then log1p(TPM) too); None: the
        model's training units, or TPM when training here.
    overwrite
        Replace every value of the target genes (e.g. unreliable low-read genes), not only NaN.
    promoter_key
        ``var`` column with promoters; None: the model's (``"promoter_seq"`` when training).
    neighbors_key
        ``uns`` key of :func:`~geneimpute.pp.neighbor_features` output; read when present
        (no new neighbour search), else neighbours are searched. None always searches.
    tissue_correlation_key
        ``uns`` key of a tissue correlation to train with (read when present, computed from
        the reference genes when absent, and then written there; an existing entry is never
        overwritten). A fitted model uses the correlation it was trained with.
    key_added
        Layer name for the result (and ``uns`` key of its parameters).
    embedding_key
        ``varm`` key for the promoter CNN embeddings.
    interval
        Confidence of the prediction interval written for every imputed value (0.9: a 90%
        interval); None writes none. Conformal prediction with genes as the exchangeable
        unit, calibrated per tissue on cross-fitted residuals of reference genes and scaled by
        a learned per-(gene, tissue) difficulty (Mondrian normalised split conformal; see
        :class:`~geneimpute.models.TissueConformal`). Coverage holds on average over genes
        exchangeable with the reference genes. For a partly measured gene the interval keeps
        the fully-missing width around the conditioned value: conservative, since the
        measured tissues make the error smaller.
    missing_tissues
        What to do when ``adata`` lacks tissues of a fitted ``model``: ``"raise"`` (default)
        or ``"estimate"``: the reference genes' values in those tissues (neighbour inputs) are
        estimated from their other tissues with the model's tissue correlation (conditional
        Gaussian mean of z-scored log1p values), with a warning; nothing is written for the
        absent tissues. For example a GTEx table merged with
        :func:`~geneimpute.pp.merge_gtex_tissues` has 36 of the pretrained model's 37 tissues
        (retina is not a GTEx tissue).
    save_model
        Directory to save the model trained when ``model`` is None (must not exist).
    random_state
        Seed when training (``model=None``).
    accelerator
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``; ``None`` (default)
        follows ``geneimpute.settings.accelerator`` (``"auto"`` unless changed).
    copy
        Return a modified copy instead of writing in place.

    Returns
    -------
    ``None``, or the modified copy with ``copy=True``. Writes:

    - ``adata.layers[key_added]``: ``(n_tissues, n_genes)``, observed values unchanged, missing
      values of target genes filled, in the input's units (TPM, or log1p TPM).
    - ``adata.layers[f"{key_added}_mask"]``: bool, True where a value was imputed.
    - ``adata.varm[embedding_key]``: ``(n_genes, embedding_dim)`` promoter CNN embeddings
      (models with a CNN).
    - ``adata.layers[f"{key_added}_lower"]``, ``adata.layers[f"{key_added}_upper"]``: bounds
      of the ``interval`` prediction interval of every imputed value, in the units of
      ``layers[key_added]`` (TPM, or log1p TPM); NaN where the value was observed.
    - ``adata.var[f"{key_added}_reliability"]``: per imputed gene, the spread of its predicted
      tissue pattern (sd over tissues of the tissue-centred log1p prediction) divided by its
      mean interval half-width; higher = a pattern the model is surer of; NaN for other genes.
    - ``adata.uns[tissue_correlation_key]``: the tissue correlation used, only if the key was
      absent.
    - ``adata.uns[key_added]``: ``params`` (genes imputed, reference genes, units, device,
      features, where each input came from, model setup and config; also
      ``n_genes_fully_missing``, ``n_genes_partly_missing``,
      ``n_missing_values_partly_missing`` and ``conditioned_on_observed``) and ``timings``.

    Raises
    ------
    KeyError, ValueError, TypeError
        As :func:`train`; also if ``adata`` lacks tissues, the promoter column or gene-feature
        columns the model was trained with, if no gene needs imputing, or if a saved model
        directory is damaged. ``adata`` is unchanged when an error is raised.

    Examples
    --------
    >>> import geneimpute as ge
    >>> adata = ge.datasets.gtex_tissues()
    >>> adata.X[:, :100] = float("nan")  # pretend 100 genes were not measured
    >>> model = ge.tl.train(adata)  # doctest: +SKIP
    >>> ge.tl.impute_expression(adata, model)  # doctest: +SKIP
    >>> adata.layers["imputed"], adata.layers["imputed_mask"]  # doctest: +SKIP
    """
    check_options(interval, missing_tissues)
    model, model_source, log1p = resolve_model(model, is_log1p)
    check_save_model(model, save_model)
    task = prepare_task(adata, genes, layer=layer, is_log1p=log1p, reference=reference)
    spec = HybridFitSpec(
        promoter_key=promoter_key,
        neighbors_key=neighbors_key,
        tissue_correlation_key=tissue_correlation_key,
        is_log1p=log1p,
        layer=layer,
        random_state=random_state,
        accelerator=accelerator,
    )
    timings: dict[str, float] = {}
    resolved = resolve(
        adata, model, model_source, task, spec, save_model=save_model, timings=timings
    )
    aligned = align(adata, resolved, task, missing_tissues)
    t0 = time.perf_counter()
    with_sigma = wants_interval(resolved.model, interval)
    pred, emb, sigma = predict(adata, resolved, aligned, task, spec, with_sigma=with_sigma)
    rows = np.flatnonzero(task.target)
    conditioned = condition_on_observed(resolved.model, pred, task, aligned.order, rows, overwrite)
    if conditioned is not None:
        pred = conditioned
    bounds, reliability = intervals(
        resolved.model, pred, sigma, interval, aligned.order, n_obs=adata.n_obs, is_log1p=log1p
    )
    timings["impute"] = time.perf_counter() - t0
    imputed = Imputed(pred, emb, conditioned is not None, bounds, reliability, interval)
    warn_not_in_model(aligned.extra)
    adata = adata.copy() if copy else adata
    n_filled = write(
        adata,
        task,
        resolved.model,
        imputed,
        aligned.order,
        key_added=key_added,
        embedding_key=embedding_key,
        tissue_correlation_key=tissue_correlation_key,
        overwrite=overwrite,
        timings=timings,
    )
    adata.uns[key_added] = {
        "params": params(
            task, resolved, aligned, imputed, spec, n_filled=n_filled, overwrite=overwrite
        ),
        "timings": {**resolved.model.timings_, **timings},
    }
    logger.info("impute_expression: filled %d values of %d genes", n_filled, len(rows))
    return adata if copy else None

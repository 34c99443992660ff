"""Regulator-driven imputation of samples (DeepSF design): train, impute, attribute."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from anndata import AnnData

from .._adata import (
    DefaultKey,
    check_key,
    check_tissues,
    check_unique_var_names,
    expression_source,
    gene_set,
    get_expression,
)
from .._dask import is_dask, map_rows
from .._docs import doc_params
from .._logging import logger, warn_data
from .._settings import Accelerator, resolve_device
from .._timing import timed
from ..models._base import COHORT_TOLERANCE, scale_shift
from ..models.regulators._estimator import RegulatorImputer

Genes = str | Sequence[str] | Sequence[bool] | np.ndarray | None


def _regulator_default(adata: AnnData, complete: np.ndarray) -> np.ndarray:
    """Return the typed regulators (``var["regulator_type"]``) measured in every sample."""
    if "regulator_type" not in adata.var.columns:
        msg = (
            "adata.var has no 'regulator_type' column; pass regulators= (a list of gene "
            'names), or add var["regulator_type"] ("RBP/SF", "TF" or "")'
        )
        raise KeyError(msg)
    typed = adata.var["regulator_type"].astype(str).isin(["RBP/SF", "TF"]).to_numpy()
    dropped = typed & ~complete
    if dropped.any():
        warn_data(
            f"{int(dropped.sum())} of {int(typed.sum())} regulator genes are NaN in some "
            f"samples and are not used as regulators (e.g. {list(adata.var_names[dropped][:3])})",
            stacklevel=4,
        )
    return typed & complete


def _check_targets(adata: AnnData, model: RegulatorImputer, names: Sequence[str]) -> None:
    """Raise ``KeyError`` naming why genes chosen by name are not the model's targets."""
    targets, regulators = set(model.setup_.targets), set(model.setup_.regulators)
    typed = adata.var.get("regulator_type", pd.Series("", index=adata.var_names)).astype(str)
    why = []
    for g in (g for g in names if g not in targets):
        if g not in regulators:
            why.append(f"{g} was not a target in training")
        elif typed[g] in ("RBP/SF", "TF"):
            why.append(f"{g} is typed {typed[g]}, so it is a regulator, not a target")
        else:
            why.append(f"{g} is a regulator, not a target")
    if why:
        msg = f"{'; '.join(why[:5])}; choose targets among model.setup_.targets"
        raise KeyError(msg)


@doc_params()
def train_regulators(
    adata: AnnData,
    regulators: Genes = None,
    targets: Genes = None,
    *,
    layer: str | None = None,
    units: str | None = None,
    random_state: int = 0,
    accelerator: Accelerator | None = None,
    **model_kwargs: Any,
) -> RegulatorImputer:
    """Train a regulator-driven imputer of target genes on samples x genes data.

    The DeepSF design (Jiménez-Santos et al., DeepSF / DeepRBP): regulator expression -> two
    dense layers (183 and 82 units) -> the targets, joined before the output by the encoder of
    an autoencoder pretrained on each sample's measured genes. The network learns the residual
    of a context ridge (:class:`~geneimpute.models.ContextRidge`: each unmeasured target
    regressed on every gene the sample measured, as TEEBoT, Basu et al., Sci Adv 2021,
    doi:10.1126/sciadv.abd6991) and stays at zero unless that improves validation; without the
    autoencoder, of a ridge on the regulators. See :class:`~geneimpute.models.RegulatorImputer`.

    Parameters
    ----------
    adata
        Samples x genes, ``X`` (or ``layer``) on a log scale (e.g. log1p TPM), NaN where a
        sample did not measure a gene.
    regulators
        Input genes, measured in every sample: None (``var["regulator_type"]`` ``"RBP/SF"`` or
        ``"TF"``; those with NaN are left out, warned), gene names, a boolean mask or column.
    targets
        Genes to predict: None (every non-regulator gene measured in at least one sample),
        or as ``regulators``.
    {layer}
    units
        Units recorded in the model's setup; None: ``uns["dataset"]["units"]`` when present.
    random_state
        Seed of numpy and torch (global RNG state untouched).
    {accelerator}
    **model_kwargs
        Overrides of :class:`~geneimpute.models.RegulatorConfig` (e.g. ``use_autoencoder``,
        ``hidden``, ``max_epochs``).

    Returns
    -------
    The fitted :class:`~geneimpute.models.RegulatorImputer` (``setup_``: regulators, targets,
    units, layer); ``adata`` is not modified.

    Raises
    ------
    KeyError
        If ``var["regulator_type"]`` is needed and missing, or named genes are not in ``adata``.
    ValueError
        If no regulators are present, regulators contain NaN, there are no targets, a gene is
        both, sample IDs are duplicated, or there are fewer than 20 samples.

    Warns
    -----
    DataWarning
        With ``regulators=None``, when genes of ``targets`` are typed regulators (they are
        used as regulators, not targets).
    """
    check_tissues(adata, "samples")
    check_unique_var_names(adata)
    X = get_expression(adata, layer)
    if np.isinf(X).any():
        msg = "expression has infinite values"
        raise ValueError(msg)
    complete = np.isfinite(X).all(axis=0)
    if regulators is None:
        reg = _regulator_default(adata, complete)
    else:
        reg = gene_set(adata, regulators, np.zeros(adata.n_vars, bool), "regulators")
    if not reg.any():
        msg = "no regulators present: none of the regulator genes is measured in every sample"
        raise ValueError(msg)
    bad = reg & ~complete
    if bad.any():
        msg = (
            f"{int(bad.sum())} regulators have NaN in some samples (e.g. "
            f"{list(adata.var_names[bad][:3])}); regulators must be measured in every sample"
        )
        raise ValueError(msg)
    measured = np.isfinite(X).any(axis=0)
    tgt = gene_set(adata, targets, ~reg & measured, "targets")
    if regulators is None and (typed := tgt & reg).any():
        warn_data(
            f"{int(typed.sum())} genes of targets= are typed regulators "
            f"(var['regulator_type']), so they are regulators, not targets: "
            f"{list(adata.var_names[typed][:5])}",
        )
        tgt &= ~reg
    both, never = tgt & reg, tgt & ~measured
    if both.any() or never.any():
        what = "genes are both regulators and targets" if both.any() else "targets never measured"
        msg = f"{what}: {list(adata.var_names[both if both.any() else never][:5])}"
        raise ValueError(msg)
    if not tgt.any():
        msg = "no target genes to train on"
        raise ValueError(msg)
    model = RegulatorImputer(random_state=random_state, **model_kwargs)
    t0 = time.perf_counter()
    model.fit(X[:, reg], X[:, tgt], accelerator=accelerator)
    info = adata.uns.get("dataset", {})
    default_units = str(info.get("units", "as given")) if isinstance(info, dict) else "as given"
    model.setup_.regulators = [str(g) for g in adata.var_names[reg]]
    model.setup_.targets = [str(g) for g in adata.var_names[tgt]]
    model.setup_.units = default_units if units is None else units
    model.setup_.layer, model.setup_.n_samples = layer, int(adata.n_obs)
    msg = "train_regulators: %d regulators -> %d targets on %d samples in %.1f s"
    logger.info(msg, int(reg.sum()), int(tgt.sum()), adata.n_obs, time.perf_counter() - t0)
    return model


def _model_columns(
    adata: AnnData, model: RegulatorImputer, X: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, float]:
    """Model regulators' and targets' positions, NaN per target (dask ``X``), prediction floor.

    The floor is 0 unless an observed target value is negative. Warns when the regulators'
    per-gene mean / sd are off training's by more than ``COHORT_TOLERANCE``.
    """
    pos = {str(g): i for i, g in enumerate(adata.var_names)}
    for kind, names in (("regulators", model.setup_.regulators), ("targets", model.setup_.targets)):
        missing = [g for g in names if g not in pos]
        if missing:
            msg = (
                f"adata lacks {len(missing)} of the model's {len(names)} {kind}: {missing[:5]}; "
                "a regulator model needs every gene it was trained on (by var_name)"
            )
            raise KeyError(msg)
    r = np.array([pos[g] for g in model.setup_.regulators], dtype=np.int64)
    t = np.array([pos[g] for g in model.setup_.targets], dtype=np.int64)
    n_missing = None
    if is_dask(X):
        import dask

        finite, n_missing, negative, mean, sd = dask.compute(
            np.isfinite(X[:, r]).all(axis=0),
            (~np.isfinite(X[:, t])).sum(axis=0),
            (X[:, t] < 0).any(),
            X[:, r].mean(axis=0),
            X[:, r].std(axis=0),
        )
        nan = ~np.asarray(finite)
    else:
        R = X[:, r]  # one copy of the regulator columns
        nan, negative = ~np.isfinite(R).all(axis=0), (X[:, t] < 0).any()
        mean, sd = R.mean(axis=0), R.std(axis=0)
    if nan.any():
        msg = (
            f"{int(nan.sum())} of the model's regulators have NaN in adata (e.g. "
            f"{[model.setup_.regulators[i] for i in np.flatnonzero(nan)[:3]]}); regulators "
            "must be measured in every sample"
        )
        raise ValueError(msg)
    off = scale_shift(model.r_mu_, model.r_sd_, np.asarray(mean), np.asarray(sd), COHORT_TOLERANCE)
    if off:
        warn_data(
            f"the regulators' expression is off the model's training data: {off}; check the "
            f"units and normalisation of this data (the model was trained on {model.setup_.units})",
            stacklevel=4,
        )
    floor = -np.inf if negative else 0.0
    return r, t, None if n_missing is None else np.asarray(n_missing, dtype=np.int64), floor


def _fill_block(model: RegulatorImputer, r, t, want_t, floor, V: np.ndarray, mask: bool = False):
    """Return ``V`` (float32) with the chosen NaN cells filled (>= ``floor``), or those cells."""
    fill = ~np.isfinite(V[:, t]) & want_t[None, :]
    out = np.zeros(V.shape, dtype=bool) if mask else V.astype(np.float32)  # V is never written
    if mask:
        out[:, t] = fill
    elif fill.any():
        block = out[:, t]
        block[fill] = np.maximum(model.predict(V[:, r], V[:, t])[fill], floor).astype(np.float32)
        out[:, t] = block
    return out


def _resolve(model: RegulatorImputer | str | Path | None) -> tuple[RegulatorImputer | None, str]:
    """Return the model (loaded from a directory) and where it came from."""
    if isinstance(model, str | Path):
        return RegulatorImputer.load(model), str(model)
    if model is not None and not isinstance(model, RegulatorImputer):
        msg = (
            f"model must be a RegulatorImputer, a saved model directory or None, got {type(model)}"
        )
        raise TypeError(msg)
    return model, "given" if model is not None else "trained here"


@doc_params()
def impute_from_regulators(
    adata: AnnData,
    model: RegulatorImputer | str | Path | None = None,
    genes: Genes = None,
    *,
    layer: str | None = None,
    key_added: str = DefaultKey("imputed_regulators"),
    random_state: int = 0,
    accelerator: Accelerator | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Fill the NaN cells of target genes in samples from regulators and sample context.

    The context ridge fits one ridge per pattern of measured genes (cached). A dask matrix
    (:func:`~geneimpute.pp.read_lazy`) is never materialised: the layers are lazy over blocks of
    rows, equal to the in-memory ones within float32 rounding, except for samples whose pattern
    fewer than 20 samples share (pooled with the nearest pattern in the block).

    Parameters
    ----------
    adata
        Samples x genes, log-scale values (the model's units), NaN where not measured.
    model
        A fitted :class:`~geneimpute.models.RegulatorImputer` (its regulators, without NaN, and
        targets are found by name), its saved directory, or None to train one here with the
        :func:`train_regulators` defaults (not for a dask matrix).
    genes
        Target genes to fill: None (every model target with a NaN), a list of gene names, a
        boolean mask or a boolean ``var`` column.
    {layer}
    {key_added}
    random_state
        Seed when training here.
    {accelerator}
    {copy}

    Returns
    -------
    ``None``, or the modified copy with ``copy=True``. Writes ``layers[key_added]``
    (float32, the chosen targets' NaN cells filled, not below 0 unless an observed target
    value is, observed values bit-identical; lazy for dask), ``layers[f"{key_added}_mask"]``
    (True where imputed) and ``uns[key_added]`` (``params``: model source and setup, counts,
    units, device, ``engine``; ``timings``).

    Raises
    ------
    KeyError, ValueError, TypeError
        As :func:`train_regulators`; also if ``adata`` lacks the model's genes, its
        regulators have NaN, no chosen target has a NaN, or the default ``key_added`` would
        replace existing output; ``adata`` is then unchanged.

    Warns
    -----
    DataWarning
        When the regulators' per-gene mean is a median 1 training sd off the model's, or their
        sd 1.5x larger or smaller (other units, normalisation or cohort).

    Examples
    --------
    >>> import geneimpute as ge
    >>> adata = ge.datasets.tcga_cohorts()
    >>> ge.tl.impute_from_regulators(adata)  # doctest: +SKIP
    >>> adata.layers["imputed_regulators_mask"].sum()  # doctest: +SKIP
    """
    key_added = check_key(key_added, adata)
    resolved, source = _resolve(model)
    lazy = is_dask(expression_source(adata, layer))
    if lazy and resolved is None:
        msg = (
            "adata's matrix is a dask array: train the model first on an in-memory AnnData "
            "(e.g. ge.tl.train_regulators(adata[:5000].to_memory())) and pass model="
        )
        raise ValueError(msg)
    X = expression_source(adata, layer) if lazy else get_expression(adata, layer)
    timings: dict[str, float] = {}
    if resolved is None:
        with timed("train", timings):
            resolved = train_regulators(
                adata, layer=layer, random_state=random_state, accelerator=accelerator
            )
    model = resolved
    r, t, n_missing, floor = _model_columns(adata, model, X)
    want = gene_set(adata, genes, np.ones(adata.n_vars, bool), "genes")
    if n_missing is not None:  # dask: counts from the checking pass; layers stay lazy
        per_target = np.where(want[t], n_missing, 0)
        n_values, n_genes = int(per_target.sum()), int((per_target > 0).sum())
    else:
        fill = ~np.isfinite(X[:, t]) & want[t][None, :]
        n_values, n_genes = int(fill.sum()), int(fill.any(axis=0).sum())
    if n_values == 0:
        msg = (
            "all targets observed: no chosen target gene has a NaN in any sample, nothing to impute"
        )
        raise ValueError(msg)
    filled = partial(_fill_block, model, r, t, want[t], floor)
    with timed("impute", timings):  # lazy dask layers for a dask X
        if lazy:
            out = map_rows(X, lambda V, rows: filled(V), np.float32)
            mask = map_rows(X, lambda V, rows: filled(V, mask=True), np.bool_)
        else:
            out, mask = filled(X), filled(X, mask=True)
    adata = adata.copy() if copy else adata
    adata.layers[key_added], adata.layers[f"{key_added}_mask"] = out, mask
    adata.uns[key_added] = {
        "params": {
            "method": "regulators (DeepSF design)",
            "model": source,
            "n_regulators": len(r),
            "n_targets": len(t),
            "n_genes_imputed": n_genes,
            "n_values_imputed": n_values,
            "engine": "dask" if lazy else "numpy",
            "layer": layer or "X",
            "units": model.setup_.units,
            "random_state": int(random_state),
            "device": resolve_device(accelerator),
            "autoencoder": bool(model.config.use_autoencoder),
            "context_ridge": bool(model.uses_context_ridge),
            "model_setup": {
                k: v for k, v in vars(model.setup_).items() if k not in ("regulators", "targets")
            },
        },
        "timings": timings,
    }
    logger.info("impute_from_regulators: filled %d values", n_values)
    return adata if copy else None


@doc_params()
def regulator_attribution(
    adata: AnnData,
    model: RegulatorImputer | str | Path,
    targets: Genes = None,
    *,
    method: Literal["deeplift", "integrated_gradients"] = "deeplift",
    layer: str | None = None,
    n_top: int = 5,
    key_added: str = "regulator_attribution",
    copy: bool = False,
) -> AnnData | None:
    """Which regulators drive which target: DeepLIFT (or Integrated Gradients) scores.

    The attribution of each target's prediction to each regulator against the regulators'
    training mean, sample context fixed, averaged over the samples (captum ``DeepLift``,
    Shrikumar et al., ICML 2017; or ``IntegratedGradients``, Sundararajan et al., ICML 2017).

    Parameters
    ----------
    adata
        Samples x genes with the model's regulators and targets (as
        :func:`impute_from_regulators`).
    model
        A fitted :class:`~geneimpute.models.RegulatorImputer` or its directory.
    targets
        Targets to explain: None (all the model's targets; about 30 ms each on 2 CPU cores
        for 1,200 samples) or names / a mask.
    method
        ``"deeplift"`` or ``"integrated_gradients"``.
    {layer}
    n_top
        Regulators listed per target in ``varm``.
    key_added
        ``uns`` / ``varm`` key.
    {copy}

    Returns
    -------
    ``None``, or the modified copy with ``copy=True``. Writes ``uns[key_added]["scores"]``
    (regulators x targets, target sd per regulator z-score; positive: raises the target),
    ``uns[key_added]["params"]`` and ``varm[f"{key_added}_top"]`` (per gene
    ``regulator_1`` .. ``regulator_{n_top}`` by absolute score and ``score_1`` ..).

    Raises
    ------
    ImportError
        Without captum (``pip install "geneimpute[interpret]"``).
    KeyError, ValueError
        As :func:`impute_from_regulators`; on an unknown ``method`` or ``n_top < 1``; a
        ``KeyError`` names why a target given by name is not one of the model's (a regulator).

    Warns
    -----
    DataWarning
        When every attribution is zero (the model predicts the targets without regulators).
    """
    key_added = check_key(key_added)
    if method not in ("deeplift", "integrated_gradients"):
        msg = f"method must be 'deeplift' or 'integrated_gradients', got {method!r}"
        raise ValueError(msg)
    if isinstance(n_top, bool) or not isinstance(n_top, int) or n_top < 1:
        msg = f"n_top must be an integer >= 1, got {n_top!r}"
        raise ValueError(msg)
    resolved, _ = _resolve(model)
    assert resolved is not None
    X = get_expression(adata, layer)
    r, t, _, _ = _model_columns(adata, resolved, X)
    names = np.array(resolved.setup_.targets)
    want = gene_set(adata, targets, np.ones(adata.n_vars, bool), "targets")
    if targets is not None and not isinstance(targets, str) and np.asarray(targets).dtype != bool:
        _check_targets(adata, resolved, adata.var_names[want])
    chosen = np.flatnonzero(want[t])
    if not len(chosen):
        msg = "no model target selected for attribution"
        raise ValueError(msg)
    t0 = time.perf_counter()
    S = resolved.attribute(X[:, r], X[:, t], chosen, method=method)
    if not S.any():
        warn_data(
            f"every attribution of the {len(chosen)} targets is zero: the model predicts them "
            "without the regulators (its network stayed at its zero start, and its context "
            "ridge uses them only where a target is unmeasured); train_regulators(..., "
            "use_autoencoder=False) learns from the regulators alone",
        )
    scores = pd.DataFrame(S, index=resolved.setup_.regulators, columns=names[chosen])
    top = pd.DataFrame(index=adata.var_names.copy())
    order = np.argsort(-np.abs(S), axis=0)[: min(n_top, len(r))]  # strongest first
    rows, regulator_names = t[chosen], scores.index.to_numpy()
    for i, best in enumerate(order, start=1):
        names, values = np.full(adata.n_vars, "", dtype=object), np.full(adata.n_vars, np.nan)
        names[rows], values[rows] = regulator_names[best], S[best, np.arange(len(chosen))]
        top[f"regulator_{i}"], top[f"score_{i}"] = names.astype(str), values
    adata = adata.copy() if copy else adata
    adata.uns[key_added] = {
        "scores": scores,
        "params": {
            "method": method,
            "n_samples": int(adata.n_obs),
            "n_targets": len(chosen),
            "baseline": "regulators at their training mean",
            "seconds": time.perf_counter() - t0,
        },
    }
    adata.varm[f"{key_added}_top"] = top
    return adata if copy else None

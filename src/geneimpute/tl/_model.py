"""Apply a fitted hybrid to an AnnData: load it, check the data against it, predict, write."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from anndata import AnnData

from .._adata import (
    ExpressionTask,
    InputSources,
    build_inputs,
    read_tissue_correlation,
    tissue_frame,
)
from .._logging import logger, warn_data
from ..models import GeneInputs, HybridImputer
from ..models._base import TISSUE_TOLERANCE, scale_shift
from ..models._pretrained import PRETRAINED, pretrained

if TYPE_CHECKING:
    from ._train import HybridFitSpec


#: The largest value written: 1e6 TPM (a whole sample), log1p(1e6) on the log1p path.
MAX_LOG1P_TPM = math.log1p(1e6)


def in_units(log1p_tpm: np.ndarray, is_log1p: bool) -> np.ndarray:
    """Predictions (log1p TPM) clipped to [0, log1p(1e6)], in TPM unless ``is_log1p``."""
    clipped = np.clip(log1p_tpm, 0.0, MAX_LOG1P_TPM)
    return clipped if is_log1p else np.expm1(clipped)


def units_of(is_log1p: bool) -> str:
    """``"log1p_TPM"`` or ``"TPM"``."""
    return "log1p_TPM" if is_log1p else "TPM"


def resolve_model(
    model: HybridImputer | str | Path | None, is_log1p: bool | None
) -> tuple[HybridImputer | None, str, bool]:
    """``(model, source, is_log1p)``: a directory or pretrained name loaded; None: its units."""
    source = "given"
    if isinstance(model, str | Path):
        source = str(model)
        if isinstance(model, str) and model in PRETRAINED and not Path(model).exists():
            source = f"pretrained {model!r}"
            model = pretrained(model)
        elif not Path(model).exists():
            msg = (
                f"model={str(model)!r} is neither a saved model directory nor a pretrained "
                f"model name; pretrained: {sorted(PRETRAINED)}"
            )
            raise FileNotFoundError(msg)
        else:
            model = HybridImputer.load(model)
    if model is not None and not isinstance(model, HybridImputer):
        msg = f"model must be a HybridImputer, a saved model directory or None, got {type(model)}"
        raise TypeError(msg)
    if is_log1p is None:
        return model, source, bool(model is not None and model.setup_.units == "log1p_TPM")
    return model, source, bool(is_log1p)


def check_model_setup(
    adata: AnnData, model: HybridImputer, *, promoter_key: str | None, is_log1p: bool
) -> None:
    """Raise if ``adata`` lacks an input the model was trained with; warn on unit changes."""
    setup = model.setup_
    if "promoter" in setup.features:
        key = promoter_key or setup.promoter_key
        if key is None or key not in adata.var.columns:
            msg = (
                f"the model was trained with promoter sequences in var[{setup.promoter_key!r}]; "
                f"adata.var has no {key!r} column (add it with geneimpute.pp.extract_promoters, "
                "or pass promoter_key= naming your column)"
            )
            raise KeyError(msg)
    if units_of(is_log1p) != setup.units:
        msg = "the model was trained on %s; this data is %s (converted to log1p internally)"
        logger.info(msg, setup.units, units_of(is_log1p))


def check_scale(
    model: HybridImputer, Y: np.ndarray, reference: np.ndarray, *, stacklevel: int = 4
) -> None:
    """Warn when the reference genes' log1p(TPM) per tissue is off the model's training data."""
    with warnings.catch_warnings(action="ignore", category=RuntimeWarning):  # empty tissue
        level, spread = np.nanmean(Y[reference], axis=0), np.nanstd(Y[reference], axis=0)
    if off := scale_shift(model.mu_, model.sd_, level, spread, TISSUE_TOLERANCE):
        warn_data(
            f"the reference genes' log1p(TPM) per tissue is off the model's training data: "
            f"{off}; check the units (is_log1p: the natural log of TPM + 1, not log2) and the "
            f"normalisation of this data (the model was trained on {model.setup_.units})",
            stacklevel=stacklevel,
        )


def model_tissue_order(
    tissues: Sequence[str], model: HybridImputer, *, allow_missing: bool | None = None
) -> tuple[np.ndarray, list]:
    """Positions in ``tissues`` of the model's tissues (-1: absent), and the data's extras.

    Names match exactly, else ignoring case, spaces and punctuation (as
    ``pp.merge_gtex_tissues``; warned). A missing tissue is an error unless ``allow_missing``;
    with ``False`` (the caller offers ``missing_tissues="estimate"``) the error names it.
    """
    from ..pp._gtex_tissues import GTEX_TISSUE_MAP, _key

    names = [str(t) for t in tissues]
    pos = {t: i for i, t in enumerate(names)}
    loose: dict[str, int] = {}
    for i, t in enumerate(names):
        loose.setdefault(_key(t), i)
    order = np.array([pos.get(t, loose.get(_key(t), -1)) for t in model.tissues_], np.int64)
    missing = [t for t, o in zip(model.tissues_, order, strict=True) if o < 0]
    used, known = set(order.tolist()), set(model.tissues_)
    extra = [t for i, t in enumerate(names) if t not in known and i not in used]
    pairs = zip(model.tissues_, order, strict=True)
    if renamed := [f"{names[o]!r} as {t!r}" for t, o in pairs if o >= 0 and names[o] != t]:
        warn_data(
            f"{len(renamed)} tissue names match the model's only when case, spaces and "
            f"punctuation are ignored, and are read so: {', '.join(renamed[:3])}",
            stacklevel=5,
        )
    if missing and not allow_missing:
        gtex = {k.lower() for k in GTEX_TISSUE_MAP}
        hint = (
            "; these look like GTEx SMTSD names: merge them into the model's HPA tissue names "
            "with geneimpute.pp.merge_gtex_tissues(adata)"
            if any(t.strip().lower() in gtex for t in extra)
            else ""
        )
        if allow_missing is not None:
            hint += (
                "; or estimate the missing tissues from the others with "
                "missing_tissues='estimate' (command line: --estimate-missing-tissues)"
            )
        msg = (
            f"adata lacks {len(missing)} of the model's {len(model.tissues_)} tissues: "
            f"{missing}; adata's tissues that match none of the model's: {extra}. The "
            f"model needs every tissue it was trained on (by obs_name, any order){hint}"
        )
        raise ValueError(msg)
    return order, extra


def model_tissue_values(
    Y: np.ndarray, order: np.ndarray, model: HybridImputer, reference: np.ndarray
) -> np.ndarray:
    """``Y`` in the model's tissue order; absent ones Gaussian-estimated for reference genes."""
    present = order >= 0
    Ym = np.full((len(Y), len(order)), np.nan)
    Ym[:, present] = Y[:, order[present]]
    if present.all():
        return Ym
    p, m = np.flatnonzero(present), np.flatnonzero(~present)
    C = model.tissue_correlation_
    Z = (Ym[reference][:, p] - model.mu_[p]) / model.sd_[p]
    coef = np.linalg.solve(C[np.ix_(p, p)] + 1e-3 * np.eye(len(p)), C[np.ix_(p, m)])
    est = model.mu_[m] + model.sd_[m] * (Z @ coef)
    rows = np.flatnonzero(reference)
    Ym[np.ix_(rows, m)] = np.clip(est, 0.0, None)
    return Ym


def condition_on_observed(
    model: HybridImputer,
    pred: np.ndarray,
    task: ExpressionTask,
    order: np.ndarray,
    rows: np.ndarray,
    overwrite: bool,
) -> np.ndarray | None:
    """Complete partly measured targets from their measured tissues (``pred``: log1p), or None."""
    if overwrite or not task.partial[rows].any():
        return None
    if model.conditioner_ is None:
        warn_data(
            f"{int(task.partial[rows].sum())} target genes are partly measured, but the model "
            "has no error covariance (saved by an older geneimpute without interval "
            "calibration): they get the hybrid's prediction without using their measured "
            "tissues; re-train the model to use them",
            stacklevel=4,
        )
        return None
    observed = model_tissue_values(task.observed[rows], order, model, np.zeros(len(rows), bool))
    return model.conditioner_.complete(pred, observed)


def predict_hybrid(
    adata: AnnData,
    model: HybridImputer,
    Y: np.ndarray,
    reference: np.ndarray,
    rows: np.ndarray,
    spec: HybridFitSpec,
    sources: InputSources,
    inputs: GeneInputs | None = None,
    *,
    with_sigma: bool = False,
) -> tuple[np.ndarray, np.ndarray | None, GeneInputs, np.ndarray | None]:
    """``(log1p prediction, embedding, inputs, sigma or None)`` of ``rows``, genes x tissues."""
    if inputs is None:
        use_promoter = "promoter" in model.features_
        inputs = build_inputs(
            adata,
            reference,
            k=model.config.k_neighbors,
            promoter_key=(spec.promoter_key or model.setup_.promoter_key) if use_promoter else None,
            neighbors_key=spec.neighbors_key,
            use_structure=True,
            sources=sources,
            feature_names=model.feature_names_,
            window=model.config.promoter_window,
        )
    out = model.predict(
        Y,
        inputs,
        rows,
        accelerator=spec.accelerator,
        return_embedding=True,
        return_sigma=with_sigma,
    )
    pred, emb, sigma = out if with_sigma else (*out, None)
    return pred, emb, inputs, sigma


def check_interval(interval: float | None) -> None:
    """Raise ``ValueError`` unless ``interval`` is None or a confidence strictly in (0, 1)."""
    if interval is not None and not (
        isinstance(interval, float | int) and not isinstance(interval, bool) and 0 < interval < 1
    ):
        msg = f"interval must be a confidence in (0, 1) such as 0.9, or None; got {interval!r}"
        raise ValueError(msg)


def write_imputed(
    adata: AnnData,
    task: ExpressionTask,
    pred_log1p: np.ndarray,
    *,
    key_added: str,
    overwrite: bool,
) -> int:
    """Fill the targets' NaN (``overwrite``: all) cells into ``layers[key_added]``, its mask."""
    src = adata.X if task.layer is None else adata.layers[task.layer]
    src = src.toarray() if hasattr(src, "toarray") else np.asarray(src)
    floating = np.issubdtype(src.dtype, np.floating)
    dtype = np.promote_types(src.dtype, np.float32) if floating else np.dtype(np.float32)
    out = np.array(src, dtype=dtype, copy=True)
    rows = np.flatnonzero(task.target)
    values = in_units(pred_log1p, task.is_log1p).T
    if not overwrite and (measured := np.isfinite(task.observed[rows]).all(axis=1)).any():
        warn_data(
            f"{int(measured.sum())} genes chosen with genes= are measured in every tissue, so "
            f"nothing is imputed for them (e.g. {list(adata.var_names[rows[measured]][:3])}); "
            "pass overwrite=True to re-estimate their values",
            stacklevel=4,
        )
    fill = np.zeros(out.shape, dtype=bool)
    block = out[:, rows]
    sel = np.ones(block.shape, bool) if overwrite else ~np.isfinite(block)
    sel &= np.isfinite(values)
    block[sel] = values[sel].astype(dtype)
    out[:, rows], fill[:, rows] = block, sel
    adata.layers[key_added], adata.layers[f"{key_added}_mask"] = out, fill
    return int(fill.sum())


def interval_layers(
    lower: np.ndarray, upper: np.ndarray, order: np.ndarray, n_obs: int, is_log1p: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``(n_rows, n_obs)`` bounds in the data's tissue order and units (NaN off the model)."""
    out = []
    for b in (lower, upper):
        full = np.full((len(b), n_obs), np.nan)
        full[:, order] = in_units(b, is_log1p)
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


def model_correlation_entry(
    adata: AnnData, key: str | None, model: HybridImputer, source: str
) -> dict | None:
    """Return the model's correlation for an absent ``uns[key]`` (as ``pp`` writes it), or None."""
    if key is None or read_tissue_correlation(adata, key) is not None:
        return None
    return {
        "correlation": tissue_frame(model.tissue_correlation_, model.tissues_),
        "params": {"source": source},
    }

"""Apply a fitted hybrid to an AnnData: load it, check the data against its setup, predict."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from anndata import AnnData

from .._adata import ExpressionTask, InputSources, build_inputs
from .._logging import logger, warn_data
from .._settings import Accelerator
from ..models import GeneInputs, HybridImputer
from ..models._pretrained import PRETRAINED, pretrained


class Prediction(NamedTuple):
    """Output of :func:`predict_hybrid` (log1p TPM, genes x model tissues)."""

    pred: np.ndarray
    embedding: np.ndarray | None
    inputs: GeneInputs
    sigma: np.ndarray | None


def units_of(is_log1p: bool) -> str:
    """``"log1p_TPM"`` or ``"TPM"``."""
    return "log1p_TPM" if is_log1p else "TPM"


def resolve_model(
    model: HybridImputer | str | Path | None, is_log1p: bool | None
) -> tuple[HybridImputer | None, str, bool]:
    """Load a saved model directory or a pretrained model by name; ``(model, source, is_log1p)``.

    A string names a directory when one exists at that path, else a pretrained model
    (:func:`geneimpute.models.list_pretrained`).

    ``is_log1p=None`` takes the model's training units (TPM when there is no model).

    Raises
    ------
    TypeError
        If ``model`` is neither a HybridImputer, a path nor None.
    FileNotFoundError
        If a string is neither an existing directory nor a pretrained name.
    """
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
        logger.info(
            "the model was trained on %s; this data is %s (converted to log1p internally)",
            setup.units,
            units_of(is_log1p),
        )


def check_scale(
    model: HybridImputer, Y: np.ndarray, reference: np.ndarray, *, stacklevel: int = 4
) -> None:
    """Warn when the reference genes' mean log1p level differs from the model's training data.

    A shift of more than 1 log1p unit in the median tissue means that the data's units differ
    from what was declared (log1p data declared TPM is logged twice, for example).
    ``stacklevel`` goes to :func:`~geneimpute._logging.warn_data` (4: the caller's caller).
    """
    if not reference.any():
        return
    with np.errstate(invalid="ignore"):
        level = np.nanmean(Y[reference], axis=0)
    shift = float(np.nanmedian(level - model.mu_))
    if np.isfinite(shift) and abs(shift) > 1.0:
        warn_data(
            f"the reference genes' mean log1p(TPM) differs from the model's training data by "
            f"{shift:+.2f} (median over tissues): check the units (is_log1p) and normalisation "
            f"of this data (the model was trained on {model.setup_.units})",
            stacklevel=stacklevel,
        )


def model_tissue_order(
    tissues: Sequence[str], model: HybridImputer, *, allow_missing: bool = False
) -> tuple[np.ndarray, list]:
    """Positions in ``tissues`` of the model's tissues (-1: absent), and the data's extras.

    Raises
    ------
    ValueError
        If a tissue of the model is not in ``tissues`` (unless ``allow_missing``), naming the
        model's missing tissues and the data's unmatched ones.
    """
    names = [str(t) for t in tissues]
    pos = {t: i for i, t in enumerate(names)}
    missing = [t for t in model.tissues_ if t not in pos]
    if missing and not allow_missing:
        from ..pp._gtex_tissues import GTEX_TISSUE_MAP

        unmatched = [t for t in names if t not in set(model.tissues_)]
        gtex = {k.lower() for k in GTEX_TISSUE_MAP}
        hint = (
            "; these look like GTEx SMTSD names: merge them into the model's HPA tissue names "
            "with geneimpute.pp.merge_gtex_tissues(adata)"
            if any(t.strip().lower() in gtex for t in unmatched)
            else ""
        )
        msg = (
            f"adata lacks {len(missing)} of the model's {len(model.tissues_)} tissues: "
            f"{missing}; adata's tissues that match none of the model's: {unmatched}. The "
            f"model needs every tissue it was trained on (by obs_name, any order){hint}"
        )
        raise ValueError(msg)
    extra = [t for t in names if t not in set(model.tissues_)]
    return np.array([pos.get(t, -1) for t in model.tissues_], dtype=np.int64), extra


def model_tissue_values(
    Y: np.ndarray, order: np.ndarray, model: HybridImputer, reference: np.ndarray
) -> np.ndarray:
    """``Y`` (genes x data tissues, log1p) in the model's tissue order.

    Model tissues absent from the data (``order == -1``) are estimated for the reference genes
    as the conditional mean of a Gaussian with the model's tissue correlation, given the
    gene's z-scored values in the present tissues (clipped at 0); NaN for other genes.
    """
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
    """Complete partly measured target genes from their measured tissues, or None.

    ``pred`` is ``(len(rows), n_model_tissues)`` log1p; the hybrid's errors in a gene's
    measured tissues are carried to its missing ones through their covariance over tissues
    (:class:`~geneimpute.models.ObservedTissueConditioner`). None when no target is partly
    measured, with ``overwrite`` (the measured values are then not trusted), or for a model
    without the error covariance (warned).
    """
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
    *,
    promoter_key: str | None,
    neighbors_key: str | None,
    accelerator: Accelerator | None,
    sources: InputSources,
    inputs: GeneInputs | None = None,
    with_sigma: bool = False,
) -> Prediction:
    """Predict log1p profiles of ``rows`` (``Y`` genes x model tissues, NaN off reference).

    With ``with_sigma`` (a calibrated model), also the difficulty estimates for intervals.
    """
    if inputs is None:
        use_promoter = "promoter" in model.features_
        inputs = build_inputs(
            adata,
            reference,
            k=model.config.k_neighbors,
            promoter_key=(promoter_key or model.setup_.promoter_key) if use_promoter else None,
            neighbors_key=neighbors_key,
            use_structure=True,
            sources=sources,
            feature_names=model.feature_names_,
            window=model.config.promoter_window,
        )
    out = model.predict(
        Y, inputs, rows, accelerator=accelerator, return_embedding=True, return_sigma=with_sigma
    )
    pred, emb, sigma = out if with_sigma else (*out, None)
    return Prediction(pred, emb, inputs, sigma)

"""Donor-level completion: fill unsampled donor x tissue profiles."""

from __future__ import annotations

import inspect
from typing import Any, Literal

import numpy as np
import pandas as pd
from anndata import AnnData

from .._adata import check_key, get_expression
from .._core.sequence import promoter_composition
from .._docs import doc_params
from .._donor_layout import donor_layout
from .._logging import warn_data
from .._settings import Accelerator

METHODS = {"hybrid": "DonorHybrid", "mean": "TissueMean", "knn": "KNNDonor", "teebot": "TEEBoT"}
#: Minimum number of donors with two or more sampled tissues.
MIN_DONORS = 10


def donor_array(dadata: AnnData) -> tuple[np.ndarray, list[str]]:
    """Stack the tissue layers into ``(n_donors, n_tissues, n_genes)`` float64 (NaN: unsampled)."""
    tissues = [str(t) for t in donor_layout(dadata)["tissues"]]
    layers = [get_expression(dadata, t) for t in tissues]
    V = np.stack(layers, axis=1) if layers else np.zeros((dadata.n_obs, 0, dadata.n_vars))
    return V, tissues


def check_donor_array(V: np.ndarray, tissues: list[str], donors: pd.Index) -> None:
    """Raise on infinities and on donor x tissue profiles that are partly (not fully) NaN."""
    inf = np.isinf(V)
    if inf.any():
        d, t, _ = (int(v[0]) for v in np.nonzero(inf))
        msg = (
            f"donor layers hold {int(inf.sum())} infinite values (e.g. layer {tissues[t]!r}, "
            f"donor {donors[d]!r}); use NaN rows for unsampled tissues"
        )
        raise ValueError(msg)
    nan = np.isnan(V)
    partial = nan.any(axis=2) & ~nan.all(axis=2)
    if partial.any():
        d, t = (int(v[0]) for v in np.nonzero(partial))
        msg = (
            f"{int(partial.sum())} donor x tissue profiles are partly NaN (e.g. layer "
            f"{tissues[t]!r}, donor {donors[d]!r}: {int(nan[d, t].sum())} of {V.shape[2]} genes); "
            "a profile must be fully observed or fully NaN (not sampled)"
        )
        raise ValueError(msg)


def promoter_gene_features(
    adata: AnnData, promoter_key: str | None
) -> tuple[np.ndarray | None, list[str], int]:
    """``(features or None, names, n_missing)``: promoter composition, gaps warned."""
    var = adata.var
    if promoter_key is None or promoter_key not in var.columns:
        warn_data(
            f"impute_donors: var has no promoter column {promoter_key!r}; the hybrid "
            "trains without promoter features (add sequences with "
            "geneimpute.pp.extract_promoters, or pass promoter_key=)"
            if promoter_key is not None
            else "impute_donors: promoter_key=None; the hybrid trains without promoter features",
            stacklevel=4,
        )
        return None, [], len(var)
    text = var[promoter_key].fillna("").astype(str)
    bad = text.str.contains(r"[^ACGTNacgtn]", regex=True).to_numpy()
    if bad.any():
        first = var.index[bad][0]
        msg = (
            f"{int(bad.sum())} sequences in var[{promoter_key!r}] contain letters other than "
            f"A, C, G, T, N (e.g. gene {first})"
        )
        raise ValueError(msg)
    empty = (text.str.len() == 0).to_numpy()
    if empty.any():
        warn_data(
            f"impute_donors: {int(empty.sum())} of {adata.n_vars} genes have no sequence "
            f"in var[{promoter_key!r}] (their promoter features are NaN), e.g. "
            f"{list(adata.var_names[empty][:3])}",
            stacklevel=4,
        )
    comp = promoter_composition(text.where(~empty))
    return comp.to_numpy(dtype=float), list(comp.columns), int(empty.sum())


def _model_options(cls: type, model_kwargs: dict[str, Any], method: str) -> None:
    """Raise ``TypeError`` on options ``cls`` does not take."""
    allowed = set(inspect.signature(cls).parameters) - {"random_state"}
    unknown = sorted(set(model_kwargs) - allowed)
    if unknown:
        msg = (
            f"method={method!r} ({cls.__name__}) does not take {unknown}; its options: "
            f"{sorted(allowed) or 'none'}"
        )
        raise TypeError(msg)


@doc_params()
def impute_donors(
    adata: AnnData,
    *,
    method: Literal["hybrid", "mean", "knn", "teebot"] = "hybrid",
    promoter_key: str | None = "promoter_seq",
    key_suffix: str = "_imputed",
    key_added: str = "donor_imputation",
    random_state: int = 0,
    accelerator: Accelerator | None = None,
    copy: bool = False,
    **model_kwargs: Any,
) -> AnnData | None:
    """Impute every unsampled donor x tissue profile from the donor's sampled tissues.

    The hybrid (:class:`~geneimpute.models.DonorHybrid`) reads a donor's observed tissues as
    transformer tokens and refines the prediction with XGBoost (the task as HYFA, Vinas et
    al., Nat Mach Intell 2023, frames it). Baselines: ``"mean"`` (tissue mean), ``"knn"``
    (``KNNImputer``), ``"teebot"`` (truncated SVD + regression per tissue pair).

    Parameters
    ----------
    adata
        Donors x genes with one log-scale layer per tissue (NaN rows: not sampled), from
        :func:`~geneimpute.pp.to_donor_layers`.
    method
        ``"hybrid"``, ``"mean"``, ``"knn"`` or ``"teebot"``.
    promoter_key
        ``var`` column of promoter sequences, whose GC, CpG o/e and length the hybrid gives
        XGBoost; without it (or None) it trains without them, warned (as are genes without a
        sequence, whose features are NaN).
    key_suffix
        Suffix of the layers written (non-empty, no ``/``).
    key_added
        ``uns`` key for the parameters.
    {random_state}
    {accelerator}
    {copy}
    **model_kwargs
        Options of the model class (e.g. ``max_epochs`` of
        :class:`~geneimpute.models.DonorHybrid`, ``n_neighbors`` of
        :class:`~geneimpute.models.KNNDonor`).

    Returns
    -------
    ``None``, or the modified copy with ``copy=True``. For every tissue ``t``:
    ``layers[f"{t}{key_suffix}"]`` (float32, observed rows unchanged, unsampled ones filled,
    never below 0 when no observed value is; donors without data stay NaN) and
    ``layers[f"{t}{key_suffix}_mask"]`` (True where imputed); ``uns[key_added]["params"]``
    (method, suffix, promoter column and features used, counts, ``random_state``,
    ``model_kwargs``).

    Raises
    ------
    KeyError
        If ``adata`` is not a donor-layer AnnData.
    TypeError
        For a ``model_kwargs`` option the method's model does not take, or a key that is not
        a string.
    ValueError
        For an unknown ``method``, a bad ``key_suffix`` or ``key_added`` (empty, ``/``, a
        suffix replacing a tissue layer), infinite values or partly NaN profiles, promoter
        letters other than ``ACGTN``, or fewer than 10 donors with two or more sampled
        tissues; ``adata`` is then unchanged.

    Examples
    --------
    >>> import geneimpute as ge
    >>> long = ge.datasets.gtex_donors()
    >>> long.var["promoter_seq"] = ge.datasets.gtex_tissues().var["promoter_seq"]
    >>> adata = ge.pp.to_donor_layers(long)
    >>> ge.tl.impute_donors(adata, max_epochs=5)  # doctest: +SKIP
    >>> adata.layers["Lung_imputed"].shape
    (713, 59)
    """
    from .. import models

    if method not in METHODS:
        msg = f"method must be one of {sorted(METHODS)}, got {method!r}"
        raise ValueError(msg)
    cls = getattr(models, METHODS[method])
    _model_options(cls, model_kwargs, method)
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        msg = f"random_state must be an integer, got {random_state!r}"
        raise TypeError(msg)
    key_suffix, key_added = check_key(key_suffix, name="key_suffix"), check_key(key_added)
    V, tissues = donor_array(adata)
    clash = sorted({f"{t}{key_suffix}" for t in tissues} & set(tissues))
    if clash:
        msg = f"key_suffix={key_suffix!r} would write over the tissue layers {clash[:3]}"
        raise ValueError(msg)
    check_donor_array(V, tissues, adata.obs_names)
    seen = np.isfinite(V).all(axis=2)
    multi = np.flatnonzero(seen.sum(axis=1) >= 2)
    if len(multi) < MIN_DONORS:
        msg = (
            f"only {len(multi)} donors have two or more sampled tissues; need at least {MIN_DONORS}"
        )
        raise ValueError(msg)
    donors_with_data = np.flatnonzero(seen.any(axis=1))
    feat_names: list[str] = []
    used_key, n_no_promoter = None, 0
    if method == "hybrid":
        gene_features, feat_names, n_no_promoter = promoter_gene_features(adata, promoter_key)
        used_key = None if gene_features is None else promoter_key
        model = cls(random_state=int(random_state), **model_kwargs).fit(
            V, donors_with_data, gene_features=gene_features, accelerator=accelerator
        )
    else:
        model = cls(**model_kwargs).fit(V, donors_with_data)
    pairs = np.argwhere(~seen & seen.any(axis=1)[:, None])
    pred = model.predict(V, pairs) if len(pairs) else np.zeros((0, V.shape[2]))
    if not (V < 0).any():  # non-negative units (log1p): no negative prediction
        pred = np.maximum(pred, 0.0)
    out = adata.copy() if copy else adata
    for j, t in enumerate(tissues):
        L = V[:, j].astype(np.float32)
        sel = pairs[:, 1] == j
        L[pairs[sel, 0]] = pred[sel]
        mask = np.zeros(L.shape, dtype=bool)
        mask[pairs[sel, 0]] = True
        out.layers[f"{t}{key_suffix}"], out.layers[f"{t}{key_suffix}_mask"] = L, mask
    out.uns[key_added] = {
        "params": {
            "method": method,
            "key_suffix": key_suffix,
            "promoter_key": used_key,
            "gene_features": feat_names,
            "n_genes_without_promoter": int(n_no_promoter),
            "n_profiles_imputed": int(len(pairs)),
            "n_donors_without_data": int((~seen.any(axis=1)).sum()),
            "random_state": int(random_state),
            "model_kwargs": {k: v for k, v in model_kwargs.items() if v is not None},
        }
    }
    return out if copy else None

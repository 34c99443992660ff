"""Donor-level completion: fill unsampled donor x tissue profiles."""

from __future__ import annotations

import inspect
from typing import Any, Literal

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .._core.sequence import promoter_composition
from .._donor_layout import donor_layout
from .._logging import warn_data
from .._settings import Accelerator

METHODS = {"hybrid": "DonorHybrid", "mean": "TissueMean", "knn": "KNNDonor", "teebot": "TEEBoT"}
#: Minimum number of donors with two or more sampled tissues.
MIN_DONORS = 10


def donor_array(dadata: AnnData) -> tuple[np.ndarray, list[str]]:
    """Stack the tissue layers into ``(n_donors, n_tissues, n_genes)`` float64 (NaN = not sampled).

    Raises
    ------
    KeyError
        If ``dadata`` is not a donor-layer AnnData
        (see :func:`geneimpute._donor_layout.donor_layout`).
    """
    tissues = [str(t) for t in donor_layout(dadata)["tissues"]]
    layers = []
    for t in tissues:
        L = dadata.layers[t]
        L = L.toarray() if sparse.issparse(L) else np.asarray(L)
        layers.append(np.asarray(L, dtype=np.float64))
    V = np.stack(layers, axis=1) if layers else np.zeros((dadata.n_obs, 0, dadata.n_vars))
    return V, tissues


def check_donor_array(V: np.ndarray, tissues: list[str], donors: pd.Index) -> None:
    """Raise on values the donor models cannot use: infinities and partly missing profiles.

    A profile (donor x tissue row) is either fully observed or fully NaN (not sampled).

    Raises
    ------
    ValueError
        Naming the tissue, donor and count of the first bad entry.
    """
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
    var: pd.DataFrame, promoter_key: str | None
) -> tuple[np.ndarray | None, list[str], int]:
    """Per-gene promoter composition (GC, CpG o/e, length in bp) from ``var[promoter_key]``.

    Returns
    -------
    ``(features, names, n_missing)``: ``features`` ``(n_genes, 3)`` float (NaN for genes without
    a promoter) or None when ``promoter_key`` is None or not a ``var`` column; the feature
    names; the number of genes without a promoter sequence.

    Raises
    ------
    ValueError
        If a sequence holds letters other than ``A, C, G, T, N``.
    """
    if promoter_key is None or promoter_key not in var.columns:
        return None, [], len(var)
    seqs = var[promoter_key]
    text = seqs.fillna("").astype(str)
    bad = text.str.contains(r"[^ACGTNacgtn]", regex=True).to_numpy()
    if bad.any():
        first = var.index[bad][0]
        msg = (
            f"{int(bad.sum())} sequences in var[{promoter_key!r}] contain letters other than "
            f"A, C, G, T, N (e.g. gene {first})"
        )
        raise ValueError(msg)
    comp = promoter_composition(text.where(text.str.len() > 0))
    n_missing = int((text.str.len() == 0).sum())
    return comp.to_numpy(dtype=float), list(comp.columns), n_missing


def _model_options(cls: type, model_kwargs: dict[str, Any], method: str) -> None:
    allowed = set(inspect.signature(cls).parameters) - {"random_state"}
    unknown = sorted(set(model_kwargs) - allowed)
    if unknown:
        msg = (
            f"method={method!r} ({cls.__name__}) does not take {unknown}; its options: "
            f"{sorted(allowed) or 'none'}"
        )
        raise TypeError(msg)


def _hybrid_gene_features(adata: AnnData, promoter_key: str | None) -> tuple:
    """Promoter features of the donor hybrid: ``(features, names, n_without, key_used)``."""
    gene_features, feat_names, n_no_promoter = promoter_gene_features(adata.var, promoter_key)
    if gene_features is None:
        warn_data(
            f"impute_donors: var has no promoter column {promoter_key!r}; the hybrid "
            "trains without promoter features (add sequences with "
            "geneimpute.pp.extract_promoters, or pass promoter_key=)"
            if promoter_key is not None
            else "impute_donors: promoter_key=None; the hybrid trains without promoter features",
            stacklevel=4,
        )
        return None, feat_names, adata.n_vars, None
    if n_no_promoter:
        empty = adata.var[promoter_key].fillna("").astype(str).str.len() == 0
        warn_data(
            f"impute_donors: {n_no_promoter} of {adata.n_vars} genes have no sequence "
            f"in var[{promoter_key!r}] (their promoter features are NaN), e.g. "
            f"{list(adata.var_names[empty.to_numpy()][:3])}",
            stacklevel=4,
        )
    return gene_features, feat_names, n_no_promoter, promoter_key


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
    transformer tokens (profile + tissue identity + tissue correlation) and refines the
    prediction with XGBoost, as HYFA (Vinas et al., Nat Mach Intell 2023) frames the task.
    Baselines: ``"mean"`` (tissue mean), ``"knn"`` (scikit-learn ``KNNImputer``) and
    ``"teebot"`` (truncated SVD + linear regression per source/target tissue pair).

    Parameters
    ----------
    adata
        Donors x genes with one layer per tissue ``(n_donors, n_genes)`` (NaN rows = not
        sampled), from :func:`~geneimpute.pp.to_donor_layers`; log-scale expression (e.g.
        log1p of normalised counts, as :func:`~geneimpute.pp.normalize_panel_counts`).
    method
        ``"hybrid"``, ``"mean"``, ``"knn"`` or ``"teebot"``.
    promoter_key
        ``var`` column with each gene's promoter sequence (e.g. from
        :func:`~geneimpute.pp.extract_promoters`). The hybrid gives XGBoost its GC fraction,
        CpG observed/expected and length as gene features. Without the column (or with None)
        the hybrid trains without gene features and a warning says so; genes without a
        sequence get NaN features and are counted in a warning. No bundled data are read.
    key_suffix
        Suffix of the layers written (non-empty, no ``/``).
    key_added
        ``uns`` key for the parameters.
    random_state
        Seed of the hybrid (numpy, torch, XGBoost).
    accelerator
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``; ``None`` (default)
        follows ``geneimpute.settings.accelerator`` (``"auto"`` unless changed).
    copy
        Return a modified copy instead of writing in place.
    **model_kwargs
        Options of the model class (e.g. ``max_epochs`` of
        :class:`~geneimpute.models.DonorHybrid`, ``n_neighbors`` of
        :class:`~geneimpute.models.KNNDonor`).

    Returns
    -------
    ``None``, or the modified copy with ``copy=True``. For every tissue ``t``:
    ``layers[f"{t}{key_suffix}"]`` float32 ``(n_donors, n_genes)`` with observed rows unchanged
    and the rows of unsampled donors filled (donors with no sampled tissue stay NaN), and
    ``layers[f"{t}{key_suffix}_mask"]`` (bool, True where imputed);
    ``uns[key_added]["params"]`` with ``method``, ``key_suffix``, ``promoter_key`` (the column
    read, or None), ``gene_features`` (feature names used, empty without promoters),
    ``n_genes_without_promoter``, ``n_profiles_imputed``, ``n_donors_without_data``,
    ``random_state`` and ``model_kwargs``.

    Raises
    ------
    KeyError
        If ``adata`` is not a donor-layer AnnData (no ``uns['donor_layout']`` or a tissue
        layer missing).
    TypeError
        For a ``model_kwargs`` option the method's model does not take.
    ValueError
        For an unknown ``method``, an empty ``key_suffix`` or one with ``/``, output layers
        that would replace a tissue layer, infinite values or partly NaN profiles in the
        tissue layers, promoter letters other than ``ACGTN``, or fewer than 10 donors with two
        or more sampled tissues. ``adata`` is left unchanged.

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
    if not isinstance(key_suffix, str) or not key_suffix or "/" in key_suffix:
        msg = f"key_suffix must be a non-empty string without '/', got {key_suffix!r}"
        raise ValueError(msg)
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
    gene_features, feat_names, n_no_promoter, used_key = (
        _hybrid_gene_features(adata, promoter_key) if method == "hybrid" else (None, [], 0, None)
    )

    donors_with_data = np.flatnonzero(seen.any(axis=1))
    if method == "hybrid":
        model = cls(random_state=int(random_state), **model_kwargs).fit(
            V, donors_with_data, gene_features=gene_features, accelerator=accelerator
        )
    else:
        model = cls(**model_kwargs).fit(V, donors_with_data)
    pairs = np.argwhere(~seen & seen.any(axis=1)[:, None])
    pred = model.predict(V, pairs) if len(pairs) else np.zeros((0, V.shape[2]))

    out = adata.copy() if copy else adata
    for j, t in enumerate(tissues):
        L = V[:, j].astype(np.float32)
        sel = pairs[:, 1] == j
        L[pairs[sel, 0]] = pred[sel]
        mask = np.zeros(L.shape, dtype=bool)
        mask[pairs[sel, 0]] = True
        out.layers[f"{t}{key_suffix}"] = L
        out.layers[f"{t}{key_suffix}_mask"] = mask
    out.uns[key_added] = {
        "params": {
            "method": method,
            "key_suffix": key_suffix,
            "promoter_key": used_key,
            "gene_features": feat_names,
            "n_genes_without_promoter": int(n_no_promoter) if method == "hybrid" else 0,
            "n_profiles_imputed": int(len(pairs)),
            "n_donors_without_data": int((~seen.any(axis=1)).sum()),
            "random_state": int(random_state),
            "model_kwargs": {k: v for k, v in model_kwargs.items() if v is not None},
        }
    }
    return out if copy else None

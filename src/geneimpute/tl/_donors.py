"""Donor-level completion: fill unsampled donor x tissue profiles."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from anndata import AnnData

from .._core.sequence import promoter_composition
from .._settings import Accelerator
from ..pp._donors import _layout  # TODO helper

METHODS = {"hybrid": "DonorHybrid", "mean": "TissueMean", "knn": "KNNDonor", "teebot": "TEEBoT"}


def donor_array(dadata: AnnData) -> tuple[np.ndarray, list[str]]:
    """Stack the tissue layers into ``(n_donors, n_tissues, n_genes)`` (NaN = not sampled)."""
    tissues = list(_layout(dadata)["tissues"])
    V = np.stack([np.asarray(dadata.layers[t], dtype=np.float64) for t in tissues], axis=1)
    return V, tissues


def gene_features_for(gene_ids: pd.Index) -> np.ndarray:
    """Promoter GC / CpG o/e / length of genes, from the bundled GTEx promoters (NaN if none)."""
    from ..datasets import gtex_tissues

    var = gtex_tissues().var
    seqs = var["promoter_seq"].reindex(pd.Index(gene_ids).str.split(".").str[0])
    seqs.index = gene_ids
    return promoter_composition(seqs).to_numpy(dtype=float)


def impute_donors(
    dadata: AnnData,
    *,
    method: Literal["hybrid", "mean", "knn", "teebot"] = "hybrid",
    key_suffix: str = "_imputed",
    random_state: int = 0,
    accelerator: Accelerator | None = None,
    copy: bool = False,
    **model_kwargs,
) -> AnnData | None:
    """Impute every unsampled donor x tissue profile from the donor's sampled tissues.

    The hybrid (:class:`~geneimpute.models.DonorHybrid`) reads a donor's observed tissues as
    transformer tokens (profile + tissue identity + tissue correlation) and refines the
    prediction with XGBoost, as HYFA (Vinas et al., Nat Mach Intell 2023) frames the task.
    Baselines: ``"mean"`` (tissue mean), ``"knn"`` (scikit-learn ``KNNImputer``) and
    ``"teebot"`` (truncated SVD + linear regression per source/target tissue pair).

    Parameters
    ----------
    dadata
        Donors x genes with one layer per tissue (NaN rows = not sampled), from
        :func:`~geneimpute.pp.to_donor_layers`; log-scale expression.
    method
        ``"hybrid"``, ``"mean"``, ``"knn"`` or ``"teebot"``.
    key_suffix
        Suffix of the layers written.
    random_state
        Seed (hybrid).
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
    For every tissue ``t``: ``layers[f"{t}{key_suffix}"]`` ``(n_donors, n_genes)`` with observed
    rows unchanged and unsampled donors filled, and ``layers[f"{t}{key_suffix}_mask"]`` (bool,
    True where imputed); ``uns["donor_imputation"]["params"]``.

    Raises
    ------
    KeyError
        If ``dadata`` is not a donor-layer AnnData.
    ValueError
        For an unknown ``method``, or fewer than 10 donors with two or more tissues.
    """
    if method not in METHODS:
        msg = f"method must be one of {sorted(METHODS)}, got {method!r}"
        raise ValueError(msg)
    V, tissues = donor_array(dadata)
    seen = np.isfinite(V).all(axis=2)
    multi = np.flatnonzero(seen.sum(axis=1) >= 2)
    if len(multi) < 10:
        msg = f"only {len(multi)} donors have two or more sampled tissues; need at least 10"
        raise ValueError(msg)
    donors_with_data = np.flatnonzero(seen.any(axis=1))
    from .. import models

    if method == "hybrid":
        model = models.DonorHybrid(random_state=random_state, **model_kwargs).fit(
            V,
            donors_with_data,
            gene_features=gene_features_for(dadata.var_names),
            accelerator=accelerator,
        )
    else:
        model = getattr(models, METHODS[method])(**model_kwargs).fit(V, donors_with_data)
    pairs = np.argwhere(~seen & seen.any(axis=1)[:, None])
    pred = model.predict(V, pairs) if len(pairs) else np.zeros((0, V.shape[2]))
    adata = dadata.copy() if copy else dadata
    for j, t in enumerate(tissues):
        L = np.array(dadata.layers[t], dtype=np.float32, copy=True)
        sel = pairs[:, 1] == j
        L[pairs[sel, 0]] = pred[sel]
        mask = np.zeros(L.shape, dtype=bool)
        mask[pairs[sel, 0]] = True
        adata.layers[f"{t}{key_suffix}"] = L
        adata.layers[f"{t}{key_suffix}_mask"] = mask
    adata.uns["donor_imputation"] = {
        "params": {
            "method": method,
            "n_profiles_imputed": int(len(pairs)),
            "n_donors_without_data": int((~seen.any(axis=1)).sum()),
            "random_state": int(random_state),
        }
    }
    return adata if copy else None

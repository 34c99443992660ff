"""Sample-level GTEx data: tissue labels, panel normalisation, donor x tissue layouts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from anndata import AnnData

from .._adata import check_key, get_expression
from .._docs import doc_params
from .._donor_layout import LAYOUT_KEY, donor_layout
from .._logging import warn_data

if TYPE_CHECKING:
    from mudata import MuData


@doc_params("copy")
def label_samples(
    adata: AnnData,
    labels: pd.DataFrame | Sequence[pd.DataFrame],
    *,
    sample_col: str = "SAMPID",
    tissue_col: str = "SMTSD",
    key_added: str = "tissue",
    copy: bool = False,
) -> AnnData | None:
    """Join tissue labels onto samples (``obs_names``) from one or more sample tables.

    The first table that has a sample labels it, matched case-insensitively to the first
    table's spelling (Toil/Xena writes some GTEx SMTSD names in another case).

    Parameters
    ----------
    adata
        Samples x genes, ``obs_names`` = GTEx sample IDs.
    labels
        DataFrame(s) with ``sample_col`` and ``tissue_col`` (e.g. GTEx ``SampleAttributesDS``).
    sample_col, tissue_col
        Column names in every table.
    key_added
        ``obs`` column for the tissue.
    {copy}

    Returns
    -------
    ``None``, or the modified copy with ``copy=True``. Writes ``obs[key_added]`` (NaN: none,
    in a DataWarning), ``obs[f"{key_added}_source"]`` (the table's index, -1 for none) and
    ``uns[f"{key_added}_labels"]["params"]`` (``n_unlabelled``, ``n_tables``, the columns).

    Raises
    ------
    KeyError
        If a table lacks ``sample_col`` or ``tissue_col``.
    ValueError
        If a table labels the same sample with two different tissues.
    """
    key_added = check_key(key_added)
    tables = [labels] if isinstance(labels, pd.DataFrame) else list(labels)
    canon: dict[str, str] = {}
    tissue = pd.Series(np.nan, index=adata.obs_names, dtype=object)
    source = pd.Series(-1, index=adata.obs_names, dtype=np.int64)
    for i, tab in enumerate(tables):
        if absent := [c for c in (sample_col, tissue_col) if c not in tab.columns]:
            msg = f"label table {i} lacks column {absent[0]!r}"
            raise KeyError(msg)
        tab = tab[[sample_col, tissue_col]].dropna().drop_duplicates()
        if len(dup := tab[sample_col][tab[sample_col].duplicated()]):
            msg = f"label table {i} gives {len(dup)} samples two tissues, e.g. {list(dup[:3])}"
            raise ValueError(msg)
        names = tab[tissue_col].astype(str)
        for n in names.unique():
            canon.setdefault(n.lower(), n)
        lab = pd.Series(names.str.lower().map(canon).to_numpy(), index=tab[sample_col].to_numpy())
        todo = tissue.isna() & tissue.index.isin(lab.index)
        tissue[todo] = lab.reindex(tissue.index[todo]).to_numpy()
        source[todo] = i
    if n_missing := int(tissue.isna().sum()):
        warn_data(
            f"label_samples: {n_missing} of {len(tissue)} samples have no tissue label in any "
            f"table, e.g. {list(tissue.index[tissue.isna()][:3])}; obs[{key_added!r}] is NaN there"
        )
    adata = adata.copy() if copy else adata
    adata.obs[key_added] = tissue.to_numpy()
    adata.obs[f"{key_added}_source"] = source.to_numpy()
    params = {"n_unlabelled": n_missing, "n_tables": len(tables), "sample_col": sample_col}
    adata.uns[f"{key_added}_labels"] = {"params": {**params, "tissue_col": tissue_col}}
    return adata if copy else None


@doc_params("layer", "copy")
def normalize_panel_counts(
    adata: AnnData,
    *,
    layer: str | None = None,
    counts_key: str = "counts",
    size_factor_key: str = "size_factor",
    key_added: str = "normalization",
    copy: bool = False,
) -> AnnData | None:
    """Median-of-ratios normalisation of raw read counts, then log1p (for a small gene panel).

    Size factor: the median over genes non-zero in every sample of ``count / geometric mean``
    (Anders & Huber, Genome Biology 2010; DESeq2), as a panel has no meaningful library size.

    Parameters
    ----------
    adata
        Samples x genes raw read counts (non-negative) in ``X`` (or ``layer``).
    {layer}
    counts_key
        Layer to keep the raw counts in (float32).
    size_factor_key
        ``obs`` column for the size factors (geometric mean ~1).
    key_added
        ``uns`` key for the parameters.
    {copy}

    Returns
    -------
    ``None``, or the modified copy with ``copy=True``. Writes ``layers[counts_key]``, ``X`` =
    log1p(count / size factor) float32, ``obs[size_factor_key]``, ``uns[key_added]["params"]``
    (``method``, ``layer``, ``counts_key``, ``size_factor_key``, ``n_genes_for_size_factors``).

    Raises
    ------
    ValueError
        If counts are negative, NaN or infinite, or no gene is non-zero in every sample.

    Examples
    --------
    >>> import geneimpute as ge
    >>> adata = ge.datasets.gtex_donors()  # raw read counts in layers["counts"]
    >>> ge.pp.normalize_panel_counts(adata, layer="counts", key_added="norm")
    >>> adata.uns["norm"]["params"]["n_genes_for_size_factors"]
    35
    """
    key_added = check_key(key_added)
    C = get_expression(adata, layer)  # a float64 copy
    if (bad := ~np.isfinite(C) | (C < 0)).any():
        i, j = (int(v[0]) for v in np.nonzero(bad))
        msg = (
            f"counts must be finite and non-negative; {int(bad.sum())} values are not "
            f"(e.g. {C[i, j]!r} at {adata.obs_names[i]} / {adata.var_names[j]})"
        )
        raise ValueError(msg)
    usable = (C > 0).all(axis=0)
    if not usable.any():
        msg = "no gene has non-zero counts in every sample; cannot compute size factors"
        raise ValueError(msg)
    logC = np.log(C[:, usable])
    sf = np.exp(np.median(logC - logC.mean(axis=0), axis=1))
    adata = adata.copy() if copy else adata
    adata.layers[counts_key] = C.astype(np.float32)
    adata.X = np.log1p(C / sf[:, None]).astype(np.float32)
    adata.obs[size_factor_key] = sf
    params: dict[str, Any] = dict(method="median_of_ratios_log1p", layer=layer)
    params.update(counts_key=counts_key, size_factor_key=size_factor_key)
    adata.uns[key_added] = {"params": {**params, "n_genes_for_size_factors": int(usable.sum())}}
    return adata if copy else None


@doc_params("layer")
def to_donor_layers(
    adata: AnnData,
    *,
    donor_key: str = "donor",
    tissue_key: str = "tissue",
    tissues: Sequence[str] | None = None,
    layer: str | None = None,
) -> AnnData:
    """Reshape samples x genes (long) into donors x genes with one layer per tissue.

    Unlabelled samples are left out, counted in a :class:`~geneimpute.DataWarning`.

    Parameters
    ----------
    adata
        Samples x genes with ``obs[donor_key]`` and ``obs[tissue_key]``.
    donor_key, tissue_key
        ``obs`` columns.
    tissues
        Allowed tissue names (default: those present). A label outside it is an error.
    {layer}

    Returns
    -------
    A new AnnData ``(n_donors, n_genes)``: ``layers[tissue]`` float32 (NaN: no sample),
    ``obs['n_tissues']``, ``uns['donor_layout']``: ``tissues``, ``sample_ids`` (donors x
    tissues, ``""`` missing), ``donor_key``, ``tissue_key``, ``n_unlabelled_samples``.

    Raises
    ------
    KeyError
        If ``donor_key`` or ``tissue_key`` is not in ``obs``.
    ValueError
        On duplicated samples or donor x tissue pairs, unknown tissues, ``/`` in a name, or no
        labelled sample.
    """
    if absent := [k for k in (donor_key, tissue_key) if k not in adata.obs.columns]:
        msg = f"adata.obs has no {absent[0]!r} column"
        raise KeyError(msg)
    if len(dup := adata.obs_names[adata.obs_names.duplicated()]):
        msg = f"{len(dup)} duplicated sample IDs, e.g. {list(dup[:3])}"
        raise ValueError(msg)
    obs = adata.obs[[donor_key, tissue_key]]
    ok = obs.notna().all(axis=1).to_numpy()
    n_unlabelled = int((~ok).sum())
    if not ok.any():
        msg = "no sample has both a donor and a tissue label"
        raise ValueError(msg)
    obs = obs[ok].astype(str)
    present = sorted(obs[tissue_key].unique())
    if unknown := sorted(set(present) - set(tissues)) if tissues is not None else []:
        msg = f"unknown tissue labels {unknown[:5]} (not in tissues=); fix or drop those samples"
        raise ValueError(msg)
    tissue_list = present if tissues is None else [t for t in tissues if t in present]
    if slash := [t for t in tissue_list if "/" in t]:
        msg = f"tissue names {slash} contain '/', which .h5ad keys cannot hold"
        raise ValueError(msg)
    pair = obs[donor_key] + "\t" + obs[tissue_key]
    if len(dup := pair[pair.duplicated(keep=False)]):
        ex = obs.loc[dup.index[:2]]
        msg = (
            f"{dup.nunique()} donor x tissue pairs have several samples, e.g. "
            f"{list(ex.index)} ({ex.iloc[0, 0]}, {ex.iloc[0, 1]}); keep one sample per pair"
        )
        raise ValueError(msg)
    X = get_expression(adata, layer)[ok]
    if n_unlabelled:
        lost = sorted(set(adata.obs[donor_key].dropna().astype(str)) - set(obs[donor_key]))
        lost_msg = f"; {len(lost)} donors have no labelled sample left, e.g. {lost[:3]}"
        warn_data(
            f"to_donor_layers: {n_unlabelled} samples without donor or tissue are left out, "
            f"e.g. {list(adata.obs_names[~ok][:3])}" + (lost_msg if lost else "")
        )
    donors = pd.Index(sorted(obs[donor_key].unique()), name="donor")
    d_idx = donors.get_indexer(obs[donor_key])
    out = AnnData(obs=pd.DataFrame(index=donors), var=adata.var.copy())
    sample_ids = pd.DataFrame("", index=donors.astype(str), columns=tissue_list, dtype=object)
    for t in tissue_list:
        rows = np.flatnonzero(obs[tissue_key].to_numpy() == t)
        L = np.full((len(donors), adata.n_vars), np.nan, dtype=np.float32)
        L[d_idx[rows]] = X[rows]
        out.layers[t] = L
        sample_ids.iloc[d_idx[rows], tissue_list.index(t)] = obs.index[rows].to_numpy()
    out.obs["n_tissues"] = (sample_ids != "").sum(axis=1).to_numpy()
    lay = dict(tissues=tissue_list, sample_ids=sample_ids, donor_key=donor_key)
    out.uns[LAYOUT_KEY] = dict(lay, tissue_key=tissue_key, n_unlabelled_samples=n_unlabelled)
    return out


def from_donor_layers(adata: AnnData) -> AnnData:
    """Inverse of :func:`to_donor_layers`: one row per observed donor x tissue sample.

    Parameters
    ----------
    adata
        Donors x genes AnnData from :func:`to_donor_layers` (one layer per tissue).

    Returns
    -------
    Samples x genes AnnData (original sample IDs, else ``"{donor}:{tissue}"``) with the
    donor and tissue ``obs`` columns.

    Raises
    ------
    KeyError
        If ``adata`` has no ``uns['donor_layout']`` or a listed tissue has no layer.
    """
    lay = donor_layout(adata)
    ids = pd.DataFrame(lay["sample_ids"])
    rows, names, donors, tissues = [], [], [], []
    for t in lay["tissues"]:
        L = np.asarray(adata.layers[t])
        seen = np.flatnonzero(np.isfinite(L).any(axis=1))
        rows.append(L[seen])
        sids = ids[t].iloc[seen] if t in ids.columns else [""] * len(seen)
        names += [s or f"{adata.obs_names[d]}:{t}" for s, d in zip(sids, seen, strict=True)]
        donors += list(adata.obs_names[seen])
        tissues += [t] * len(seen)
    X = np.concatenate(rows) if rows else np.zeros((0, adata.n_vars), np.float32)
    obs = pd.DataFrame({lay["donor_key"]: donors, lay["tissue_key"]: tissues}, index=names)
    return AnnData(X=X, obs=obs, var=adata.var.copy())


def to_mudata(adata: AnnData) -> MuData:
    """Convert donor layers to a :class:`mudata.MuData` with one modality per tissue.

    Parameters
    ----------
    adata
        Donors x genes AnnData from :func:`to_donor_layers`.

    Returns
    -------
    MuData with ``axis=-1``: modality ``t`` holds ``adata.layers[t]`` (NaN rows: no sample);
    ``mdata.uns['donor_layout']`` keeps the tissues and sample IDs.

    Raises
    ------
    KeyError
        If ``adata`` has no ``uns['donor_layout']``.
    """
    import mudata as md

    lay = donor_layout(adata)
    mods = {
        t: AnnData(X=np.asarray(adata.layers[t]), obs=adata.obs[[]].copy(), var=adata.var.copy())
        for t in lay["tissues"]
    }
    with md.set_options(pull_on_update=False):  # mudata 0.4's default: no FutureWarning
        mdata = md.MuData(mods, axis=-1)
    mdata.pull_var()  # the modalities' var columns, as mudata < 0.4 pulled them
    mdata.uns[LAYOUT_KEY] = dict(lay)
    return mdata


def from_mudata(mdata: MuData) -> AnnData:
    """Convert a :class:`mudata.MuData` with one modality per tissue back to donor layers.

    Parameters
    ----------
    mdata
        MuData from :func:`to_mudata` (or any MuData whose modalities share donors and genes).

    Returns
    -------
    Donors x genes AnnData with ``layers[tissue]`` per modality and ``uns['donor_layout']``.

    Raises
    ------
    ValueError
        If the modalities do not share the same donors and genes in the same order.
    """
    lay = dict(mdata.uns.get(LAYOUT_KEY, {}))
    tissues = list(mdata.mod)
    first = mdata.mod[tissues[0]]
    out = AnnData(obs=pd.DataFrame(index=first.obs_names.copy()), var=first.var.copy())
    for t in tissues:
        m = mdata.mod[t]
        if list(m.obs_names) != list(out.obs_names) or list(m.var_names) != list(out.var_names):
            msg = f"modality {t!r} has different donors or genes from {tissues[0]!r}"
            raise ValueError(msg)
        out.layers[t] = np.asarray(m.X, dtype=np.float32)
    ids = lay.get("sample_ids")
    ids = pd.DataFrame("", index=out.obs_names, columns=tissues) if ids is None else ids
    lay = {"donor_key": "donor", "tissue_key": "tissue", "n_unlabelled_samples": 0, **lay}
    lay.update(tissues=tissues, sample_ids=pd.DataFrame(ids))
    seen = np.stack([np.isfinite(out.layers[t]).any(axis=1) for t in tissues], axis=1)
    out.obs["n_tissues"] = seen.sum(axis=1)
    out.uns[LAYOUT_KEY] = lay
    return out

"""GTEx tissue names (SMTSD, 54 in v8) -> the 37 Human Protein Atlas tissue names of the model."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from typing import Literal

import numpy as np
import pandas as pd
from anndata import AnnData

from .._adata import check_key, expression_source
from .._docs import doc_params
from .._logging import warn_data
from ._tissue_level import reduce_groups

_TABLE = json.loads((files("geneimpute.pp") / "_data" / "gtex_tissues.json").read_text())
#: The 37 tissue names of ``ge.datasets.gtex_tissues()`` (HPA release 21), in its row order.
HPA_TISSUES: tuple[str, ...] = tuple(_TABLE["hpa_tissues"])
#: GTEx SMTSD tissue name -> HPA tissue name (``None``: HPA has no GTEx tissue for it).
#: The 54 GTEx v8 names plus ``Cells - Transformed fibroblasts`` (the name before v8).
GTEX_TISSUE_MAP: dict[str, str | None] = _TABLE["gtex_to_hpa"]
_ALIASES = {"Cells - Transformed fibroblasts": "Cells - Cultured fibroblasts"}
_OUR_READING = {"Brain - Anterior cingulate cortex (BA24)"}


def _key(name: object) -> str:
    """Case, spaces and punctuation ignored: ``Brain - Cortex`` == ``Brain_Cortex``."""
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


#: normalised name -> (HPA name or None, is an SMTSD name)
_LOOKUP: dict[str, tuple[str | None, bool]] = {_key(t): (t, False) for t in HPA_TISSUES}
_LOOKUP.update({_key(s): (h, True) for s, h in GTEX_TISSUE_MAP.items()})


def gtex_tissue_map(*, unmapped: bool = True) -> pd.DataFrame:
    """Return the GTEx SMTSD -> HPA tissue-name mapping of :func:`merge_gtex_tissues` as a table.

    Parameters
    ----------
    unmapped
        Include the GTEx tissues without an HPA tissue (arteries, nerve, blood, cell lines).

    Returns
    -------
    A :class:`pandas.DataFrame`, one row per GTEx SMTSD name (55: v8's 54 and the older
    ``Cells - Transformed fibroblasts``; 47 with ``unmapped=False``), with string columns
    ``smtsd``, ``tissue`` (the HPA name; ``""`` if none) and ``note`` (how it is merged).

    Notes
    -----
    The Human Protein Atlas's merge of the GTEx v8 tissues (HPA release 21; Uhlén et al.,
    Science 2015, doi:10.1126/science.1260419; GTEx Consortium, Science 2020,
    doi:10.1126/science.aaz1776); ``Brain - Anterior cingulate cortex (BA24)`` -> ``cerebral
    cortex`` is our reading.

    Examples
    --------
    >>> m = ge.pp.gtex_tissue_map()  # doctest: +SKIP
    >>> m.loc[m["smtsd"] == "Brain - Cortex", "tissue"].item()  # doctest: +SKIP
    'cerebral cortex'
    """
    counts = pd.Series(GTEX_TISSUE_MAP).value_counts()  # None is not counted
    rows = []
    for smtsd, hpa in GTEX_TISSUE_MAP.items():
        if hpa is None:
            if not unmapped:
                continue
            note = "no HPA GTEx tissue; dropped (with a warning) by merge_gtex_tissues"
            if smtsd in _ALIASES:
                note = f"GTEx name before v8 of {_ALIASES[smtsd]!r}; {note}"
        else:
            if (n := int(counts[hpa])) > 1:
                note = f"one of {n} GTEx tissues merged into {hpa!r}"
            elif smtsd == "Uterus":
                note = "renamed: HPA names GTEx's uterus samples 'endometrium'"
            else:
                note = "same tissue" + ("" if _key(smtsd) == hpa else ", renamed")
            if smtsd in _OUR_READING:
                note += " (our reading of HPA's merge)"
        rows.append((smtsd, hpa or "", note))
    return pd.DataFrame(rows, columns=["smtsd", "tissue", "note"])


def _match(names: pd.Index | pd.Series) -> tuple[list[str | None], list[str], list[str]]:
    """HPA name of each entry (or None), then the unknown and the unmapped names, once each."""
    found = [(str(n), _LOOKUP.get(_key(n))) for n in names]
    unknown = list(dict.fromkeys(n for n, f in found if f is None))
    unmapped = list(dict.fromkeys(n for n, f in found if f is not None and f[0] is None))
    return [None if f is None else f[0] for _, f in found], unknown, unmapped


def _unknown_error(unknown: list[str], where: str) -> ValueError:
    return ValueError(
        f"{len(unknown)} tissue name(s) in {where} are neither GTEx SMTSD nor HPA tissue names "
        "(matched ignoring case, spaces and punctuation, so GTEx IDs such as Brain_Cortex "
        f"match): {unknown}; see ge.pp.gtex_tissue_map() for the known GTEx names and "
        "ge.datasets.gtex_tissues().obs_names for the HPA names"
    )


@doc_params("copy")
def merge_gtex_tissues(
    adata: AnnData,
    *,
    tissue_key: str | None = None,
    how: Literal["mean", "median"] = "mean",
    layer: str | None = None,
    key_added: str = "gtex_tissue_merge",
    copy: bool = False,
) -> AnnData | None:
    """Rename GTEx SMTSD tissues to the 37 HPA tissue names of the model, merging where HPA does.

    Names match ignoring case, spaces and punctuation (``Brain_Cortex`` is ``Brain - Cortex``);
    HPA names pass through; tissues HPA lacks are dropped, in a :class:`~geneimpute.DataWarning`.
    The mapping is :func:`gtex_tissue_map`.

    Parameters
    ----------
    adata
        Tissues x genes (``obs_names`` GTEx and/or HPA names; NaN = not measured), or samples
        x genes with ``tissue_key``.
    tissue_key
        ``obs`` column with each sample's GTEx tissue; ``None``: the ``obs_names`` are.
    how
        ``"mean"`` or ``"median"`` of the member rows, ignoring NaN.
    layer
        Merge only ``layers[layer]`` (into ``X``), not ``X`` and every layer.
    key_added
        ``uns`` key for the merge record (see Returns).
    {copy}
        Only with ``tissue_key``; without it a new AnnData is always returned.

    Returns
    -------
    Without ``tissue_key``: a new AnnData, one row per HPA tissue present (in HPA order), the
    merged ``X`` and layers (float32 unless float64), ``obs["n_members"]``, ``var``, and
    ``uns[key_added]``: ``how``, ``layer`` (or ``""``), ``members`` (``{hpa: [names]}``),
    ``dropped``. With it, ``None`` (or the copy); writes ``obs[f"{tissue_key}_hpa"]``
    (categorical) and ``uns[key_added]``: ``tissue_key``, ``members``, ``dropped``.

    Raises
    ------
    ValueError
        If a name is neither GTEx nor HPA, ``how`` is unknown, ``layer`` comes with
        ``tissue_key``, or tissue rows are duplicated, clash or have no HPA tissue.
    KeyError
        If ``tissue_key`` is not an ``obs`` column or ``layer`` is not a layer.

    Notes
    -----
    HPA averages the member tissues' samples; for its values, relabel with ``tissue_key``.

    Examples
    --------
    >>> hpa = ge.pp.merge_gtex_tissues(gtex_median_tpm)  # doctest: +SKIP
    >>> ge.pp.merge_gtex_tissues(sdata, tissue_key="tissue")  # doctest: +SKIP
    >>> tdata = ge.pp.tissue_medians(sdata, "tissue_hpa")  # doctest: +SKIP
    """
    key_added = check_key(key_added)
    if how not in ("mean", "median"):
        msg = f"how must be 'mean' or 'median', got {how!r}"
        raise ValueError(msg)
    if tissue_key is not None:
        return _relabel(adata, tissue_key, layer=layer, key_added=key_added, copy=copy)
    names = adata.obs_names
    if (norm := pd.Index([_key(n) for n in names])).has_duplicates:
        dup = sorted(set(names[norm.duplicated(keep=False)].astype(str)))
        msg = (
            f"adata.obs_names has duplicated tissue names (ignoring case, spaces and "
            f"punctuation): {dup}; make them unique first"
        )
        raise ValueError(msg)
    hpa, unknown, unmapped = _match(names)
    if unknown:
        raise _unknown_error(unknown, "adata.obs_names")
    sources: list[str | None] = [layer] if layer is not None else [None, *adata.layers]
    mats = {s: expression_source(adata, s) for s in sources}
    rows = {t: [i for i, h in enumerate(hpa) if h == t] for t in HPA_TISSUES}
    keep = [t for t in HPA_TISSUES if rows[t]]
    members = {t: [str(names[i]) for i in rows[t]] for t in keep}
    as_hpa = [h for h, n in zip(hpa, names, strict=True) if h and not _LOOKUP[_key(n)][1]]
    if clash := {h: members[h] for h in dict.fromkeys(as_hpa) if len(members[h]) > 1}:
        msg = (
            "adata.obs_names has an HPA tissue name together with the GTEx names merged into it: "
            f"{clash}; keep either the HPA row or its GTEx rows"
        )
        raise ValueError(msg)
    if not keep:
        msg = (
            f"no row of adata has an HPA tissue (all {len(unmapped)} names are GTEx tissues "
            f"HPA does not have: {unmapped})"
        )
        raise ValueError(msg)
    if unmapped:
        warn_data(
            f"merge_gtex_tissues: {len(unmapped)} GTEx tissue(s) have no HPA tissue and are "
            f"dropped: {unmapped}"
        )
    groups = [np.asarray(rows[t], dtype=np.intp) for t in keep]
    reduce = np.nanmean if how == "mean" else np.nanmedian
    merged = {}
    for s, X in mats.items():
        dtype = np.float64 if np.dtype(X.dtype) == np.float64 else np.float32
        merged[s] = reduce_groups(X, groups, reduce, dtype=dtype, work=np.float64)
    n_members = np.array([len(g) for g in groups], dtype=np.int64)
    obs = pd.DataFrame({"n_members": n_members}, index=pd.Index(keep))
    layers = {s: merged[s] for s in sources[1:]}
    out = AnnData(X=merged[sources[0]], obs=obs, var=adata.var.copy(), layers=layers)
    out.uns[key_added] = {"how": how, "layer": layer or "", "members": members, "dropped": unmapped}
    return out


def _relabel(
    adata: AnnData, tissue_key: str, *, layer: str | None, key_added: str, copy: bool
) -> AnnData | None:
    """Relabel samples: the ``tissue_key`` branch of :func:`merge_gtex_tissues`."""
    if layer is not None:
        msg = "layer is only used without tissue_key (when merging tissue rows)"
        raise ValueError(msg)
    if tissue_key not in adata.obs.columns:
        msg = f"adata.obs has no column {tissue_key!r} (columns: {list(adata.obs.columns)})"
        raise KeyError(msg)
    labels = adata.obs[tissue_key]
    present = labels.notna().to_numpy()
    uniq = pd.unique(labels[present].astype(str))
    hpa, unknown, unmapped = _match(pd.Index(uniq))
    if unknown:
        raise _unknown_error(unknown, f"adata.obs[{tissue_key!r}]")
    to_hpa = dict(zip(uniq, hpa, strict=True))
    members = {t: [n for n, h in to_hpa.items() if h == t] for t in HPA_TISSUES if t in hpa}
    if unmapped:
        n = int(labels[present].astype(str).isin(unmapped).sum())
        warn_data(
            f"merge_gtex_tissues: {len(unmapped)} GTEx tissue(s) have no HPA tissue; their {n} "
            f"samples get obs[{tissue_key + '_hpa'!r}] = NaN: {unmapped}",
            stacklevel=4,  # the caller of merge_gtex_tissues
        )
    values = np.full(adata.n_obs, np.nan, dtype=object)
    values[present] = labels[present].astype(str).map(to_hpa).to_numpy()
    adata = adata.copy() if copy else adata
    adata.obs[f"{tissue_key}_hpa"] = pd.Categorical(values, categories=list(members))
    adata.uns[key_added] = {"tissue_key": tissue_key, "members": members, "dropped": unmapped}
    return adata if copy else None

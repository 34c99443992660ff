"""GTEx tissue names (SMTSD, 54 in v8) -> the 37 Human Protein Atlas tissue names of the model."""

from __future__ import annotations

import re
import warnings
from typing import Literal

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .._logging import warn_data
from .._utils import expression_source

#: The 37 tissue names of ``ge.datasets.gtex_tissues()`` (HPA release 21), in its row order.
HPA_TISSUES: tuple[str, ...] = (
    "adipose tissue",
    "adrenal gland",
    "amygdala",
    "breast",
    "caudate",
    "cerebellum",
    "cerebral cortex",
    "cervix",
    "colon",
    "endometrium",
    "esophagus",
    "fallopian tube",
    "heart muscle",
    "hippocampus",
    "hypothalamus",
    "kidney",
    "liver",
    "lung",
    "nucleus accumbens",
    "ovary",
    "pancreas",
    "pituitary gland",
    "prostate",
    "putamen",
    "retina",
    "salivary gland",
    "skeletal muscle",
    "skin",
    "small intestine",
    "spinal cord",
    "spleen",
    "stomach",
    "substantia nigra",
    "testis",
    "thyroid gland",
    "urinary bladder",
    "vagina",
)

#: GTEx SMTSD tissue name -> HPA tissue name (``None``: HPA has no GTEx tissue for it).
#: The 54 GTEx v8 names plus ``Cells - Transformed fibroblasts`` (the name before v8).
GTEX_TISSUE_MAP: dict[str, str | None] = {
    "Adipose - Subcutaneous": "adipose tissue",
    "Adipose - Visceral (Omentum)": "adipose tissue",
    "Adrenal Gland": "adrenal gland",
    "Artery - Aorta": None,
    "Artery - Coronary": None,
    "Artery - Tibial": None,
    "Bladder": "urinary bladder",
    "Brain - Amygdala": "amygdala",
    "Brain - Anterior cingulate cortex (BA24)": "cerebral cortex",
    "Brain - Caudate (basal ganglia)": "caudate",
    "Brain - Cerebellar Hemisphere": "cerebellum",
    "Brain - Cerebellum": "cerebellum",
    "Brain - Cortex": "cerebral cortex",
    "Brain - Frontal Cortex (BA9)": "cerebral cortex",
    "Brain - Hippocampus": "hippocampus",
    "Brain - Hypothalamus": "hypothalamus",
    "Brain - Nucleus accumbens (basal ganglia)": "nucleus accumbens",
    "Brain - Putamen (basal ganglia)": "putamen",
    "Brain - Spinal cord (cervical c-1)": "spinal cord",
    "Brain - Substantia nigra": "substantia nigra",
    "Breast - Mammary Tissue": "breast",
    "Cells - Cultured fibroblasts": None,
    "Cells - Transformed fibroblasts": None,
    "Cells - EBV-transformed lymphocytes": None,
    "Cervix - Ectocervix": "cervix",
    "Cervix - Endocervix": "cervix",
    "Colon - Sigmoid": "colon",
    "Colon - Transverse": "colon",
    "Esophagus - Gastroesophageal Junction": "esophagus",
    "Esophagus - Mucosa": "esophagus",
    "Esophagus - Muscularis": "esophagus",
    "Fallopian Tube": "fallopian tube",
    "Heart - Atrial Appendage": "heart muscle",
    "Heart - Left Ventricle": "heart muscle",
    "Kidney - Cortex": "kidney",
    "Kidney - Medulla": "kidney",
    "Liver": "liver",
    "Lung": "lung",
    "Minor Salivary Gland": "salivary gland",
    "Muscle - Skeletal": "skeletal muscle",
    "Nerve - Tibial": None,
    "Ovary": "ovary",
    "Pancreas": "pancreas",
    "Pituitary": "pituitary gland",
    "Prostate": "prostate",
    "Skin - Not Sun Exposed (Suprapubic)": "skin",
    "Skin - Sun Exposed (Lower leg)": "skin",
    "Small Intestine - Terminal Ileum": "small intestine",
    "Spleen": "spleen",
    "Stomach": "stomach",
    "Testis": "testis",
    "Thyroid": "thyroid gland",
    "Uterus": "endometrium",
    "Vagina": "vagina",
    "Whole Blood": None,
}

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
        Include the GTEx tissues that have no HPA tissue (``tissue == ""``): the three
        arteries, ``Nerve - Tibial``, ``Whole Blood`` and the two cell lines.

    Returns
    -------
    A :class:`pandas.DataFrame` with one row per GTEx SMTSD tissue name (55 rows: the 54 GTEx
    v8 names and ``Cells - Transformed fibroblasts``, the name before v8 of
    ``Cells - Cultured fibroblasts``; 47 rows with ``unmapped=False``) and the string columns
    ``smtsd`` (GTEx name), ``tissue`` (HPA tissue name, as in the ``obs_names`` of
    ``ge.datasets.gtex_tissues()``; ``""`` when HPA has no GTEx tissue for it) and ``note``
    (how the row enters the merge). The same mapping as a dict: ``GTEX_TISSUE_MAP`` in
    ``geneimpute.pp._gtex_tissues``.

    Notes
    -----
    The mapping follows the Human Protein Atlas's documented merge of the GTEx v8 tissues into
    its GTEx tissue names (HPA release 21; Uhlén et al., Science 2015,
    doi:10.1126/science.1260419. GTEx: GTEx Consortium, Science 2020,
    doi:10.1126/science.aaz1776). Assigning ``Brain - Anterior cingulate cortex (BA24)`` to
    ``cerebral cortex`` is our reading of that merge. ``retina`` has no GTEx counterpart (HPA
    added it from a separate eye dataset), so no GTEx name maps to it.

    Examples
    --------
    >>> m = ge.pp.gtex_tissue_map()  # doctest: +SKIP
    >>> m.loc[m["smtsd"] == "Brain - Cortex", "tissue"].item()  # doctest: +SKIP
    'cerebral cortex'
    """
    counts = pd.Series([h for h in GTEX_TISSUE_MAP.values() if h is not None]).value_counts()
    rows = []
    for smtsd, hpa in GTEX_TISSUE_MAP.items():
        if hpa is None:
            if not unmapped:
                continue
            note = "no HPA GTEx tissue; dropped (with a warning) by merge_gtex_tissues"
            if smtsd in _ALIASES:
                note = f"GTEx name before v8 of {_ALIASES[smtsd]!r}; {note}"
        else:
            n = int(counts[hpa])
            if n > 1:
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
    """HPA name of each entry (``None`` if it has none), the unknown names, the unmapped names.

    Unknown and unmapped names are listed once each, in order of appearance.
    """
    hpa: list[str | None] = []
    unknown: list[str] = []
    unmapped: list[str] = []
    for name in names:
        found = _LOOKUP.get(_key(name))
        if found is None:
            if str(name) not in unknown:
                unknown.append(str(name))
            hpa.append(None)
            continue
        if found[0] is None and str(name) not in unmapped:
            unmapped.append(str(name))
        hpa.append(found[0])
    return hpa, unknown, unmapped


def _unknown_error(unknown: list[str], where: str) -> ValueError:
    return ValueError(
        f"{len(unknown)} tissue name(s) in {where} are neither GTEx SMTSD nor HPA tissue names "
        "(matched ignoring case, spaces and punctuation, so GTEx IDs such as Brain_Cortex "
        f"match): {unknown}; see "
        "ge.pp.gtex_tissue_map() for the known GTEx names and "
        "ge.datasets.gtex_tissues().obs_names for the HPA names"
    )


def _merge_rows(X, groups: list[np.ndarray], how: str) -> np.ndarray:
    """Per-group NaN-aware mean or median of the rows of ``X`` (dense or sparse).

    Returns ``(len(groups), n_vars)``, float64 for float64 input, else float32; a gene NaN in
    every row of a group stays NaN.
    """
    dtype = np.float64 if np.dtype(X.dtype) == np.float64 else np.float32
    out = np.empty((len(groups), X.shape[1]), dtype=dtype)
    reduce = np.nanmean if how == "mean" else np.nanmedian
    for i, rows in enumerate(groups):
        block = X[rows]
        block = np.asarray(block.toarray() if sparse.issparse(block) else block, dtype=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN genes -> NaN
            out[i] = reduce(block, axis=0)
    return out


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

    Two uses:

    - ``tissue_key=None``: ``adata`` is a tissues x genes table (e.g. GTEx's median TPM table,
      transposed) whose ``obs_names`` are GTEx SMTSD names (``Brain - Cortex``, ``Skin - Sun
      Exposed (Lower leg)``, ...). A new tissues x genes AnnData is returned with one row per
      HPA tissue, the NaN-aware mean (or median) of its member GTEx rows.
    - ``tissue_key`` given: ``adata`` is samples x genes with each sample's SMTSD name in
      ``obs[tissue_key]`` (e.g. from :func:`geneimpute.pp.read_gct`); the HPA name is written to
      ``obs[f"{tissue_key}_hpa"]``, in place (or on a copy with ``copy=True``); ``X`` is not
      touched. Reduce the samples afterwards with
      ``ge.pp.tissue_medians(adata, f"{tissue_key}_hpa")``.

    Names are matched ignoring case, spaces and punctuation (``Brain - Cortex``,
    ``brain-cortex`` and GTEx's ID ``Brain_Cortex`` are one name). Names that already are
    HPA names pass through unchanged, so a table mixing both works. GTEx tissues without an HPA
    counterpart (``Artery - Aorta``, ``Artery - Coronary``, ``Artery - Tibial``,
    ``Nerve - Tibial``, ``Whole Blood``, ``Cells - Cultured fibroblasts`` /
    ``Cells - Transformed fibroblasts``, ``Cells - EBV-transformed lymphocytes``) are dropped (or
    labelled NaN), named in a :class:`~geneimpute.DataWarning`. The full mapping is
    :func:`gtex_tissue_map`.

    Parameters
    ----------
    adata
        Without ``tissue_key``: tissues x genes, shape ``(n_tissues, n_genes)``, ``X`` (and
        layers) in TPM (any unit works: the mean and median keep it), NaN = not measured,
        ``obs_names`` = GTEx SMTSD and/or HPA tissue names. With ``tissue_key``: samples x
        genes, ``(n_samples, n_genes)``.
    tissue_key
        ``obs`` column with each sample's GTEx tissue name (samples x genes input); ``None``
        means the ``obs_names`` are the tissues (tissues x genes input). Missing labels (NaN)
        stay NaN.
    how
        ``"mean"`` or ``"median"`` of the member rows, per gene, ignoring NaN. Only used
        without ``tissue_key``.
    layer
        Merge only ``layers[layer]`` (written to ``X`` of the result) instead of ``X`` and every
        layer. Only used without ``tissue_key``.
    key_added
        ``uns`` key for the merge record (see Returns).
    copy
        With ``tissue_key``: return a modified copy instead of writing in place. Without
        ``tissue_key`` a new AnnData is always returned and ``adata`` is never modified.

    Returns
    -------
    Without ``tissue_key``: a new AnnData ``(n_hpa, n_genes)``, one row per HPA tissue present
    (``obs_names`` in the order of ``ge.datasets.gtex_tissues()``), ``X`` = mean (or median)
    of the member rows of ``X`` (float32 unless the input is float64; NaN where a gene is NaN
    in every member), each layer merged the same way (or, with ``layer``, only that layer, in
    ``X``), ``obs["n_members"]`` (int), ``var`` copied from ``adata``, and
    ``uns[key_added] = {"how": how, "layer": layer or "", "members": {hpa_name: [names, ...]},
    "dropped": [names, ...]}`` (the input names, as spelled there; ``dropped``: names with no
    HPA tissue).

    With ``tissue_key``: ``None`` (or the modified copy with ``copy=True``); writes
    ``obs[f"{tissue_key}_hpa"]`` (categorical, HPA names in the order above, NaN for samples
    without an HPA tissue or label) and ``uns[key_added] = {"tissue_key": tissue_key,
    "members": {...}, "dropped": [...]}`` as above.

    Raises
    ------
    ValueError
        If a name is neither a GTEx SMTSD nor an HPA tissue name (all such names are listed),
        ``how`` is not ``"mean"`` or ``"median"``, ``layer`` is given with ``tissue_key``, and,
        without ``tissue_key``: if ``obs_names`` are duplicated (ignoring case, spaces and
        punctuation), an HPA name is present together with GTEx names that merge into it, or
        no row has an HPA tissue. ``adata`` is unchanged when an error is raised.
    KeyError
        If ``tissue_key`` is not an ``obs`` column or ``layer`` is not a layer.

    Notes
    -----
    The mapping and its sources (HPA, doi:10.1126/science.1260419; GTEx,
    doi:10.1126/science.aaz1776) are described in :func:`gtex_tissue_map`; no GTEx name maps
    to ``retina``.

    HPA averages the individual GTEx samples of the member tissues; averaging the members'
    tissue-level values (GTEx publishes per-tissue medians) only approximates this, as it
    weights every member tissue equally whatever its number of samples. For the exact HPA-style
    value, relabel the samples with ``tissue_key`` and reduce them afterwards.

    Examples
    --------
    >>> hpa = ge.pp.merge_gtex_tissues(gtex_median_tpm)  # doctest: +SKIP
    >>> ge.pp.merge_gtex_tissues(sdata, tissue_key="tissue")  # doctest: +SKIP
    >>> tdata = ge.pp.tissue_medians(sdata, "tissue_hpa")  # doctest: +SKIP
    """
    if how not in ("mean", "median"):
        msg = f"how must be 'mean' or 'median', got {how!r}"
        raise ValueError(msg)
    if tissue_key is not None:
        return _relabel(adata, tissue_key, layer=layer, key_added=key_added, copy=copy)

    names = adata.obs_names
    norm = pd.Index([_key(n) for n in names])
    if norm.has_duplicates:
        dup = sorted({str(n) for n, d in zip(names, norm.duplicated(keep=False), strict=True) if d})
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
    members: dict[str, list[str]] = {t: [] for t in HPA_TISSUES}
    rows: dict[str, list[int]] = {t: [] for t in HPA_TISSUES}
    is_hpa_name: dict[str, bool] = {}
    for i, (name, h) in enumerate(zip(names, hpa, strict=True)):
        if h is None:
            continue
        members[h].append(str(name))
        rows[h].append(i)
        if not _LOOKUP[_key(name)][1]:
            is_hpa_name[h] = True
    clash = {h: members[h] for h in is_hpa_name if len(members[h]) > 1}
    if clash:
        msg = (
            "adata.obs_names has an HPA tissue name together with the GTEx names merged into it: "
            f"{clash}; keep either the HPA row or its GTEx rows"
        )
        raise ValueError(msg)
    keep = [t for t in HPA_TISSUES if rows[t]]
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
    merged = {s: _merge_rows(X, groups, how) for s, X in mats.items()}
    out = AnnData(
        X=merged[sources[0]],
        obs=pd.DataFrame(
            {"n_members": np.array([len(rows[t]) for t in keep], dtype=np.int64)},
            index=pd.Index(keep),
        ),
        var=adata.var.copy(),
    )
    if layer is None:
        for s in sources[1:]:
            out.layers[s] = merged[s]
    out.uns[key_added] = {
        "how": how,
        "layer": layer or "",
        "members": {t: members[t] for t in keep},
        "dropped": unmapped,
    }
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
    members = {
        t: [str(n) for n, h in to_hpa.items() if h == t]
        for t in HPA_TISSUES
        if t in to_hpa.values()
    }
    if unmapped:
        n = int(labels[present].astype(str).isin(unmapped).sum())
        warn_data(
            f"merge_gtex_tissues: {len(unmapped)} GTEx tissue(s) have no HPA tissue; their {n} "
            f"samples get obs[{tissue_key + '_hpa'!r}] = NaN: {unmapped}",
            stacklevel=4,  # the caller of merge_gtex_tissues
        )
    values = np.full(adata.n_obs, np.nan, dtype=object)
    values[present] = labels[present].astype(str).map(to_hpa).to_numpy()
    col = pd.Categorical(values, categories=list(members))
    adata = adata.copy() if copy else adata
    adata.obs[f"{tissue_key}_hpa"] = col
    adata.uns[key_added] = {"tissue_key": tissue_key, "members": members, "dropped": unmapped}
    return adata if copy else None

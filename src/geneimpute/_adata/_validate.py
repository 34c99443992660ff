"""Validation of an AnnData's genes, tissues and expression values (the checks before work)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData

from .._logging import warn_data

COORD_COLUMNS = ("chrom", "start", "end", "strand")
#: A TSS further than this outside its gene body is an error (different builds?).
MAX_TSS_OUTSIDE_BP = 100_000
#: TPM above this is impossible (TPM sums to 1e6 per sample); a margin for RPKM-like units.
MAX_TPM = 1e7
#: log1p(TPM) above this is impossible (log1p(1e6) = 13.8).
MAX_LOG1P = 20.0
#: Values declared TPM whose maximum is below this look like log1p(TPM).
LOOKS_LOG1P_MAX = 20.0


def check_unique_var_names(adata: AnnData) -> None:
    """Raise if gene IDs (``adata.var_names``) are duplicated."""
    if len(dup := adata.var_names[adata.var_names.duplicated()]):
        msg = (
            f"adata.var_names has {len(dup)} duplicated gene IDs (e.g. {list(dup[:3])}); "
            "make them unique first, e.g. adata.var_names_make_unique()"
        )
        raise ValueError(msg)


def check_tissues(adata: AnnData, what: str = "tissues") -> None:
    """Raise if there are no observations (tissues) or their names are duplicated."""
    if adata.n_obs == 0:
        msg = f"adata has no {what} (adata.n_obs is 0)"
        raise ValueError(msg)
    if len(dup := adata.obs_names[adata.obs_names.duplicated()]):
        msg = f"adata.obs_names ({what}) has duplicates, e.g. {list(dup[:3])}"
        raise ValueError(msg)


class DefaultKey(str):
    """A ``key_added`` default: a key the caller did not name, so it replaces nothing."""


def check_key(key: object, adata: AnnData | None = None, *, name: str = "key_added") -> str:
    """Return ``key``; raise unless it is a non-empty string without ``/`` (an ``.h5ad`` key).

    With ``adata`` (an imputer's), a :class:`DefaultKey` must not name existing output:
    ``layers[key]`` (``_mask``, ``_lower``, ``_upper``), ``var[key_reliability]``, ``uns[key]``.
    """
    if not isinstance(key, str) or not key or "/" in key:
        msg = f"{name} must be a non-empty string without '/' (an .h5ad key), got {key!r}"
        raise (ValueError if isinstance(key, str) else TypeError)(msg)
    if not isinstance(key, DefaultKey) or adata is None:
        return str(key)
    key = str(key)
    names = [key + s for s in ("", "_mask", "_lower", "_upper") if key + s in adata.layers]
    taken = [f"layers[{n!r}]" for n in names]
    taken += [f"var[{key + '_reliability'!r}]"] * (f"{key}_reliability" in adata.var.columns)
    taken += [f"uns[{key!r}]"] * (key in adata.uns)
    if taken:
        msg = (
            f"adata already holds {', '.join(taken)}, which the default {name}={key!r} would "
            f"replace: pass {name}={key!r} to replace them, or another {name}"
        )
        raise ValueError(msg)
    return key


def check_intervals(
    chrom: pd.Series,
    start: pd.Series,
    end: pd.Series,
    names: pd.Index,
    *,
    source: str,
    what: str = "genes",
    strand: pd.Series | None = None,
    strand_hint: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    """Raise unless each row has a chromosome, ``0 <= start <= end`` and (given) a ``+``/``-``.

    Returns start and end as floats; messages name ``source`` and ``names``.
    """
    chrom = chrom.astype("string").str.strip()
    empty = (chrom.isna() | (chrom == "")).to_numpy()
    if empty.any():
        msg = (
            f"{source}: {int(empty.sum())} {what} have an empty chromosome name, e.g. "
            f"{list(names[empty][:5])}"
        )
        raise ValueError(msg)
    lo = pd.to_numeric(start, errors="coerce").to_numpy(dtype=float)
    hi = pd.to_numeric(end, errors="coerce").to_numpy(dtype=float)
    missing = np.isnan(lo) | np.isnan(hi)
    if missing.any():
        msg = (
            f"{source} has no numeric start/end for {int(missing.sum())} {what}, e.g. "
            f"{list(names[missing][:5])}"
        )
        raise ValueError(msg)
    wrong = (hi < lo) | (lo < 0)
    if wrong.any():
        i = int(wrong.argmax())  # the first
        msg = (
            f"{source}: {int(wrong.sum())} {what} have end < start or a negative start "
            f"(0-based half-open bp expected), e.g. {names[i]}: start {lo[i]:.0f}, "
            f"end {hi[i]:.0f}"
        )
        raise ValueError(msg)
    if strand is None:
        return lo, hi
    strands = strand.astype(str).to_numpy()
    unknown = ~np.isin(strands, ["+", "-"])
    if unknown.any():
        msg = (
            f"{source}: {int(unknown.sum())} {what} have a strand other than '+'/'-' "
            f"(found {sorted(set(strands[unknown]))[:5]}), e.g. {list(names[unknown][:5])}"
            f"{strand_hint}"
        )
        raise ValueError(msg)
    return lo, hi


def check_coordinates(var: pd.DataFrame) -> None:
    """Raise if ``chrom``/``start``/``end``/``strand`` or ``tss`` are missing or malformed.

    A ``tss`` may not be negative or more than 100 kb outside the gene body (closer: warned).
    """
    if missing := [c for c in COORD_COLUMNS if c not in var.columns]:
        msg = (
            f"adata.var lacks gene coordinate column(s) {missing}; add them with "
            "geneimpute.pp.annotate_genes(adata, annotation) (columns chrom, start, end, strand)"
        )
        raise KeyError(msg)
    bad = var[list(COORD_COLUMNS)].isna().any(axis=1)
    if bad.any():
        names = list(var.index[bad][:5])
        msg = (
            f"{int(bad.sum())} genes have no coordinates (NaN in chrom/start/end/strand), "
            f"e.g. {names}; annotate them or subset them out"
        )
        raise ValueError(msg)
    start, end = check_intervals(
        var["chrom"], var["start"], var["end"], var.index, source="adata.var", strand=var["strand"]
    )
    if "tss" in var.columns:
        tss = pd.to_numeric(var["tss"], errors="coerce").to_numpy(dtype=float)
        known = np.isfinite(tss)
        neg = known & (tss < 0)
        if neg.any():
            msg = (
                f"{int(neg.sum())} genes have a negative TSS in var['tss'], "
                f"e.g. {list(var.index[neg][:5])}"
            )
            raise ValueError(msg)
        outside = np.where(known, np.maximum(start - tss, tss - (end - 1)), 0).clip(0)
        far = outside > MAX_TSS_OUTSIDE_BP
        if far.any():
            i = int(np.flatnonzero(far)[0])
            msg = (
                f"{int(far.sum())} genes have a TSS more than {MAX_TSS_OUTSIDE_BP:,} bp outside "
                f"their gene body, e.g. {var.index[i]}: TSS {tss[i]:.0f}, body "
                f"{start[i]:.0f}-{end[i]:.0f}; check that var['tss'] and start/end use the "
                "same genome build"
            )
            raise ValueError(msg)
        near = outside > 0
        if near.any():
            warn_data(
                f"{int(near.sum())} genes have a TSS outside their gene body (at most "
                f"{int(outside.max()):,} bp away), e.g. {list(var.index[near][:3])}",
                stacklevel=4,
            )


def check_expression(
    X: np.ndarray,
    *,
    is_log1p: bool,
    what: str = "expression",
    names: tuple | None = None,
    stacklevel: int = 4,
) -> None:
    """Raise on +/-inf, negative values, TPM > 1e7 or log1p > 20; warn on TPM that looks log1p.

    ``names`` = (obs_names, var_names) name the first bad entry of the dense ``X``.
    """

    def where(mask: np.ndarray) -> str:
        i, j = (int(v[0]) for v in np.nonzero(mask))
        if names is None:
            return f"row {i}, column {j}"
        return f"{names[0][i]} / {names[1][j]}"

    inf = np.isinf(X)
    if inf.any():
        msg = (
            f"{what} has {int(inf.sum())} infinite values (e.g. {where(inf)}); use NaN for missing"
        )
        raise ValueError(msg)
    finite = X[np.isfinite(X)]
    if not finite.size:
        return
    unit = "log1p(TPM)" if is_log1p else "TPM"
    if finite.min() < 0:
        msg = (
            f"{what} has negative values (min {finite.min():.3g}, e.g. {where(X < 0)}), so it is "
            f"not {unit}; geneimpute expects non-negative TPM or log1p(TPM)"
        )
        raise ValueError(msg)
    top = float(finite.max())
    if not is_log1p and top > MAX_TPM:
        msg = (
            f"{what} has values up to {top:.3g}, impossible for TPM (at most 1e6 per sample; "
            f"e.g. {where(X > MAX_TPM)})"
        )
        raise ValueError(msg)
    if is_log1p and top > MAX_LOG1P:
        msg = (
            f"{what} is declared log1p(TPM) (is_log1p=True) but has values up to {top:.3g}; "
            "log1p of TPM is at most ~14: pass is_log1p=False if these are TPM"
        )
        raise ValueError(msg)
    if not is_log1p and top < LOOKS_LOG1P_MAX and finite.size >= 100:
        warn_data(
            f"{what} is declared TPM (is_log1p=False) but its largest value is {top:.3g}: it "
            "looks like log1p(TPM) and would be log-transformed twice; pass is_log1p=True if "
            "it is",
            stacklevel=stacklevel,
        )

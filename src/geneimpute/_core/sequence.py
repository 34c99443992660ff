"""Promoter encoding (arrays only): one-hot DNA, TSS-aligned windows, composition features."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Default promoter window around the TSS (+1 at index ``DEFAULT_UPSTREAM``), as in EPDnew.
DEFAULT_UPSTREAM = 249
DEFAULT_DOWNSTREAM = 50

#: ASCII code -> channel (``ACGT`` either case), -1 for ``N``, -2 for any other letter.
_LUT = np.full(256, -2, dtype=np.int8)
for _i, _c in enumerate("ACGTN"):
    _LUT[[ord(_c), ord(_c.lower())]] = _i if _c != "N" else -1


def one_hot_encode(
    sequences: Sequence[str], length: int | None = None, *, dtype: type = np.float32
) -> np.ndarray:
    """One-hot encode DNA sequences.

    Parameters
    ----------
    sequences
        DNA strings over ``ACGTN`` (case-insensitive). ``N`` encodes as all zeros.
    length
        Output length in bp; shorter sequences are right-padded with zeros, longer ones raise.
        Default: the longest sequence.
    dtype
        Output dtype.

    Returns
    -------
    Array of shape ``(n_sequences, length, 4)``, channels ``A, C, G, T``.

    Raises
    ------
    TypeError
        If an item is not a string (e.g. ``None``), naming its position.
    ValueError
        If a sequence has a letter other than ``ACGTN`` (the sequence index and letter are
        named) or is longer than ``length``.

    Examples
    --------
    >>> one_hot_encode(["ACGTN"]).shape
    (1, 5, 4)
    """
    seqs = list(sequences)
    for i, s in enumerate(seqs):
        if not isinstance(s, str):
            msg = (
                f"sequence {i} is {type(s).__name__} ({s!r}), not a string; use '' for a gene "
                "without a promoter"
            )
            raise TypeError(msg)
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    L = int(lengths.max()) if length is None and len(seqs) else int(length or 0)
    if len(seqs) and lengths.max() > L:
        i = int(np.argmax(lengths))
        msg = f"sequence {i} is {lengths[i]} bp, longer than length={L}"
        raise ValueError(msg)
    out: np.ndarray = np.zeros((len(seqs), L, 4), dtype=dtype)
    if not seqs:
        return out
    buf = np.frombuffer("".join(seqs).encode("ascii", errors="replace"), dtype=np.uint8)
    codes = _LUT[buf]
    if (codes == -2).any():
        pos = int(np.flatnonzero(codes == -2)[0])
        seq_i = int(np.searchsorted(np.cumsum(lengths), pos, side="right"))
        letter = chr(buf[pos])
        msg = (
            f"sequence {seq_i} contains {letter!r}, which is not one of A, C, G, T, N "
            "(IUPAC ambiguity codes are not supported; replace them with N)"
        )
        raise ValueError(msg)
    row = np.repeat(np.arange(len(seqs)), lengths)
    col = np.arange(len(buf)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    ok = codes >= 0
    out[row[ok], col[ok], codes[ok]] = 1
    return out


def check_tss(
    sequences: Sequence[str], tss_index: Sequence[int] | np.ndarray, *, what: str | None = None
) -> np.ndarray:
    """Return the lengths (bp); raise if a non-empty sequence's TSS index lies outside it."""
    tss_index = np.asarray(tss_index, dtype=np.int64)
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(tss_index))
    bad = (lengths > 0) & ((tss_index < 0) | (tss_index >= lengths))
    if not bad.any():
        return lengths
    i = int(np.argmax(bad))  # the first
    msg = (
        f"{int(bad.sum())} promoters have a TSS index outside their sequence, e.g. "
        f"sequence {i}: TSS index {int(tss_index[i])} for {int(lengths[i])} bp "
        f"(valid: 0..{int(lengths[i]) - 1})"
    )
    raise ValueError(f"{what}: {msg}" if what else msg)


def tss_as_int(tss_index, sequences: pd.Series, *, what: str) -> np.ndarray:
    """``tss_index`` as int64 (-1 without a sequence); raise if one is NaN or fractional."""
    t = pd.to_numeric(pd.Series(np.asarray(tss_index)), errors="coerce").to_numpy(dtype=float)
    has = sequences.astype(object).fillna("").astype(str).str.len().to_numpy() > 0
    bad = has & ~(np.isfinite(t) & (t == np.round(t)))
    if bad.any():
        i = int(np.argmax(bad))  # the first
        msg = (
            f"{what}: {int(bad.sum())} promoters have a TSS index that is NaN or not a whole "
            f"number, e.g. gene {sequences.index[i]}: {t[i]:g}; give each "
            "0-based TSS position as an integer"
        )
        raise ValueError(msg)
    return np.where(has, t, -1).astype(np.int64)


def check_letters(sequences: pd.Series, *, what: str) -> None:
    """Raise if a sequence (indexed by gene) has letters other than ``ACGTN``, either case."""
    bad_letters = sequences.str.contains(r"[^ACGTNacgtn]", regex=True).to_numpy()
    if bad_letters.any():
        i = int(np.argmax(bad_letters))  # the first
        letter = sorted(set(str(sequences.iloc[i]).upper()) - set("ACGTN"))
        msg = (
            f"{int(bad_letters.sum())} promoter sequences in {what} contain letters other than "
            f"A, C, G, T, N (e.g. gene {sequences.index[i]}: {letter}); replace IUPAC ambiguity "
            "codes with N"
        )
        raise ValueError(msg)


def promoter_matrix(
    sequences: Sequence[str],
    tss_index: Sequence[int] | np.ndarray,
    *,
    upstream: int = DEFAULT_UPSTREAM,
    downstream: int = DEFAULT_DOWNSTREAM,
) -> np.ndarray:
    """One-hot ``(n, upstream + downstream + 1, 5)`` float32 (``A, C, G, T, observed``)."""
    L = upstream + downstream + 1
    seqs = [str(s) if isinstance(s, str) else "" for s in sequences]
    tss_index = np.asarray(tss_index, dtype=np.int64)
    out = np.zeros((len(seqs), L, 5), dtype=np.float32)
    lengths = check_tss(seqs, tss_index)
    if (lengths > L).any():  # cut long records (10.5 kb) to the window before encoding
        seqs, tss_index = crop_to_window(seqs, tss_index, upstream=upstream, downstream=downstream)
        lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    for length in np.unique(lengths):
        if length == 0:
            continue
        rows = np.flatnonzero(lengths == length)
        oh = one_hot_encode([seqs[i] for i in rows], int(length))
        for t in np.unique(tss_index[rows]):
            sub = rows[tss_index[rows] == t]
            src = oh[np.isin(rows, sub)]
            shift = upstream - int(t)
            a, b = max(0, shift), min(L, shift + int(length))
            out[sub, a:b, :4] = src[:, a - shift : b - shift]
            out[sub, a:b, 4] = 1
    return out


def encode_promoters(
    sequences: pd.Series,
    tss_index: np.ndarray | None,
    *,
    what: str = "promoter_seq",
    upstream: int = DEFAULT_UPSTREAM,
    downstream: int = DEFAULT_DOWNSTREAM,
) -> np.ndarray:
    """Validate promoter strings and :func:`promoter_matrix` them (window length without TSS)."""
    seqs = sequences.astype(object).fillna("").astype(str)
    check_letters(seqs, what=what)
    if tss_index is not None:
        tss_index = tss_as_int(tss_index, seqs, what=what)
    else:
        tss_index = np.full(len(seqs), upstream)
        lens = seqs.str.len().to_numpy()
        bad = (lens > 0) & (lens != upstream + downstream + 1)
        if bad.any():
            msg = (
                f"{what} has no TSS index column, so promoters must be "
                f"{upstream + downstream + 1} bp (-{upstream}..+{downstream}); "
                f"{int(bad.sum())} are not, e.g. {list(seqs.index[bad][:3])}"
            )
            raise ValueError(msg)
    try:
        return promoter_matrix(seqs.tolist(), tss_index, upstream=upstream, downstream=downstream)
    except ValueError as err:
        msg = f"{what}: {err}"
        raise ValueError(msg) from None


def window_sequences(X: np.ndarray) -> list[str]:
    """Decode one-hot promoter windows ``(n, L, 5)`` back to strings (``N`` where unobserved)."""
    letters = np.array(list("ACGTN"))
    seen = (X[:, :, 4] > 0) & (X[:, :, :4].sum(axis=2) != 0)
    code = np.where(seen, X[:, :, :4].argmax(axis=2), 4)
    return ["".join(letters[c]) for c in code]


def promoter_composition(seqs: pd.Series) -> pd.DataFrame:
    """GC fraction, CpG observed/expected and sequence length (bp) of each promoter."""
    s = seqs.astype(object).fillna("").astype(str).str.upper()
    n = s.str.len().astype(float)
    acgt = n - s.str.count("N")
    c, g, cg = s.str.count("C"), s.str.count("G"), s.str.count("CG")
    with np.errstate(invalid="ignore", divide="ignore"):
        gc = ((c + g) / acgt).where(acgt > 0)
        cpg = (cg * acgt / (c * g)).where((c > 0) & (g > 0))
    return pd.DataFrame(
        {"promoter_gc": gc, "promoter_cpg_oe": cpg, "promoter_length_bp": n}, index=seqs.index
    )


def crop_to_window(
    sequences: Sequence[str],
    tss_index: np.ndarray,
    *,
    upstream: int = DEFAULT_UPSTREAM,
    downstream: int = DEFAULT_DOWNSTREAM,
) -> tuple[list[str], np.ndarray]:
    """Cut each sequence to ``[TSS - upstream, TSS + downstream]``; return it and its new TSS."""
    tss_index = np.asarray(tss_index, dtype=np.int64)
    check_tss(sequences, tss_index)
    a = np.maximum(0, tss_index - upstream)
    ends = tss_index + downstream + 1
    out = [s[i:j] for s, i, j in zip(sequences, a.tolist(), ends.tolist(), strict=True)]
    return out, tss_index - a

"""Promoter sequences: strand-aware extraction from a genome FASTA, and one-hot encoding."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from anndata import AnnData

from .._logging import logger
from .._utils import check_coordinates, check_unique_var_names, tss_of

#: Default promoter window around the TSS (+1 at index ``DEFAULT_UPSTREAM``), as in EPDnew.
DEFAULT_UPSTREAM = 249
DEFAULT_DOWNSTREAM = 50

_REGION = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>\d+)-(?P<end>\d+)$")
_LUT = np.full(256, -2, dtype=np.int8)
for _i, _c in enumerate("ACGT"):
    _LUT[ord(_c)] = _i
    _LUT[ord(_c.lower())] = _i
_LUT[ord("N")] = -1
_LUT[ord("n")] = -1


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
    ValueError
        If a sequence has a letter other than ``ACGTN`` (the sequence index and letter are
        named) or is longer than ``length``.

    Examples
    --------
    >>> one_hot_encode(["ACGTN"]).shape
    (1, 5, 4)
    """
    seqs = list(sequences)
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    L = int(lengths.max()) if length is None and len(seqs) else int(length or 0)
    if len(seqs) and lengths.max() > L:
        i = int(np.argmax(lengths))
        msg = f"sequence {i} is {lengths[i]} bp, longer than length={L}"
        raise ValueError(msg)
    out = np.zeros((len(seqs), L, 4), dtype=dtype)
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


def _fasta_index(fasta) -> dict[str, tuple[str, int, int]]:
    """Map chromosome name -> (record name, 0-based offset, record length)."""
    index: dict[str, tuple[str, int, int]] = {}
    for name in fasta.keys():
        m = _REGION.match(name)
        length = len(fasta[name])
        if m:
            index[m["chrom"]] = (name, int(m["start"]) - 1, length)
        else:
            index[name] = (name, 0, length)
    return index


def _resolve_chrom(chrom: str, index: dict[str, tuple[str, int, int]]) -> str | None:
    for cand in (chrom, chrom.removeprefix("chr"), "chr" + chrom, "MT" if chrom == "chrM" else ""):
        if cand in index:
            return cand
    return None


def extract_promoters(
    adata: AnnData,
    fasta: str | Path,
    *,
    upstream: int = DEFAULT_UPSTREAM,
    downstream: int = DEFAULT_DOWNSTREAM,
    on_missing: Literal["raise", "skip"] = "raise",
    key_added: str = "promoter_seq",
    copy: bool = False,
) -> AnnData | None:
    """Extract strand-aware promoter sequences around each gene's TSS from a genome FASTA.

    The window is ``[TSS - upstream, TSS + downstream]`` in transcription orientation (reverse
    complement for ``-`` strand genes), i.e. ``upstream + downstream + 1`` bp with the TSS (+1)
    at index ``upstream`` -- the EPDnew convention (-249..+50 by default). Intervals are built
    with :mod:`pyranges` and read with :mod:`pyfaidx` (:func:`pyranges.get_sequence`).

    Chromosome names are matched with or without the ``chr`` prefix. FASTA records named as a
    region (``22:20000001-21000000``, 1-based inclusive, as written by ``samtools faidx``) are
    treated as that slice of the chromosome.

    Parameters
    ----------
    adata
        Genes in ``var`` with ``chrom``, ``start``, ``end``, ``strand`` and optionally ``tss``
        (0-based bp), in the same genome build as ``fasta``.
    fasta
        Path to an uncompressed or bgzip-compressed FASTA (``pyfaidx`` builds a ``.fai``).
    upstream, downstream
        Window in bp before and after the TSS.
    on_missing
        ``"raise"``: a gene whose window is not in the FASTA is an error. ``"skip"``: such genes
        get an empty sequence, and the count is logged as a warning.
    key_added
        ``var`` column for the sequences.
    copy
        Return a modified copy instead of writing in place.

    Returns
    -------
    Writes ``adata.var[key_added]`` (str, upper case) and ``adata.var[f"{key_added}_tss_index"]``
    (int, index of the TSS in each sequence, ``upstream``).

    Raises
    ------
    KeyError
        If a chromosome of ``adata.var`` is not in the FASTA (with ``on_missing="raise"``).
    ValueError
        If a window runs past the end of its FASTA record, or coordinates are missing.
    FileNotFoundError
        If ``fasta`` does not exist.

    Examples
    --------
    >>> ge.pp.extract_promoters(adata, "GRCh38.fa", upstream=249, downstream=50)  # doctest: +SKIP
    """
    import pyfaidx
    import pyranges as pr

    check_unique_var_names(adata)
    check_coordinates(adata.var)
    path = Path(fasta)
    if not path.exists():
        msg = f"FASTA file not found: {path}"
        raise FileNotFoundError(msg)
    fa = pyfaidx.Fasta(str(path), sequence_always_upper=True)
    index = _fasta_index(fa)
    var = adata.var
    tss = tss_of(var)
    plus = var["strand"].astype(str).to_numpy() == "+"
    lo = np.where(plus, tss - upstream, tss - downstream)
    hi = np.where(plus, tss + downstream + 1, tss + upstream + 1)

    chroms = var["chrom"].astype(str).to_numpy()
    resolved = {c: _resolve_chrom(c, index) for c in np.unique(chroms)}
    absent = sorted(c for c, r in resolved.items() if r is None)
    if absent and on_missing == "raise":
        msg = (
            f"chromosome(s) {absent} of adata.var['chrom'] are not in {path.name} "
            f"(FASTA records: {sorted(index)[:10]}); check the genome build and chr prefixes"
        )
        raise KeyError(msg)
    record = np.array([index[resolved[c]][0] if resolved[c] else "" for c in chroms], dtype=object)
    offset = np.array([index[resolved[c]][1] if resolved[c] else 0 for c in chroms])
    rec_len = np.array([index[resolved[c]][2] if resolved[c] else 0 for c in chroms])
    rel_lo, rel_hi = lo - offset, hi - offset
    covered = (record != "") & (rel_lo >= 0) & (rel_hi <= rec_len)
    if not covered.all():
        bad = var.index[~covered]
        if on_missing == "raise":
            msg = (
                f"{len(bad)} promoter windows are not inside the FASTA records, e.g. "
                f"{list(bad[:5])}; pass on_missing='skip' to leave them empty"
            )
            raise ValueError(msg)
        logger.warning("extract_promoters: %d genes have no sequence in %s", len(bad), path.name)

    seqs = np.full(adata.n_vars, "", dtype=object)
    if covered.any():
        gr = pr.PyRanges(
            pd.DataFrame(
                {
                    "Chromosome": record[covered],
                    "Start": rel_lo[covered],
                    "End": rel_hi[covered],
                    "Strand": np.where(plus[covered], "+", "-"),
                    "row": np.flatnonzero(covered),
                }
            )
        )
        got = pr.get_sequence(gr, pyfaidx_fasta=fa)  # in gr.df order (by chromosome, strand)
        seqs[gr.df["row"].to_numpy()] = [str(s).upper() for s in got]
    adata = adata.copy() if copy else adata
    adata.var[key_added] = pd.Series(seqs.astype(str), index=adata.var_names)
    adata.var[f"{key_added}_tss_index"] = np.where(covered, upstream, -1)
    return adata if copy else None


def promoter_matrix(
    sequences: Sequence[str],
    tss_index: Sequence[int] | np.ndarray,
    *,
    upstream: int = DEFAULT_UPSTREAM,
    downstream: int = DEFAULT_DOWNSTREAM,
) -> np.ndarray:
    """One-hot promoters aligned on the TSS in a common window, with an "observed" channel.

    Each sequence (TSS at ``tss_index``) is placed so its TSS lands at index ``upstream`` of an
    ``upstream + downstream + 1`` bp window; bases outside the sequence are zeros with
    ``observed = 0``, so 300 bp and 60 bp EPDnew promoters (and genes with none) share one input.

    Returns
    -------
    float32 array of shape ``(n, upstream + downstream + 1, 5)``: ``A, C, G, T, observed``.
    """
    L = upstream + downstream + 1
    seqs = [str(s) if isinstance(s, str) else "" for s in sequences]
    tss_index = np.asarray(tss_index, dtype=np.int64)
    out = np.zeros((len(seqs), L, 5), dtype=np.float32)
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
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

"""Reader of FASTA (via pyfaidx) and the check of its index."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .._logging import warn_data
from ._files import existing_file, few, is_bgzip, is_gzip


def check_fasta_index(p: Path, caller: str) -> list[Path]:
    """Return the index files pyfaidx will write for ``p`` (warned); raise if it cannot."""
    indexes = [Path(f"{p}.fai")] + ([Path(f"{p}.gzi")] if is_gzip(p) else [])
    mtime = p.stat().st_mtime
    stale = [i for i in indexes if not i.exists() or i.stat().st_mtime < mtime]
    if not stale:
        return []
    names = " and ".join(i.name for i in stale)
    if not os.access(p.parent, os.W_OK):
        msg = (
            f"{caller} needs the FASTA index {names} next to {p}, which does not exist (or "
            f"is older than the FASTA) and cannot be written: {p.parent} is not writable. Copy "
            "the FASTA to a writable directory, or have the index created there once "
            "(`samtools faidx FASTA`)"
        )
        raise PermissionError(msg)
    warn_data(
        f"{caller}: writing the FASTA index {names} next to {p} (pyfaidx); later calls reuse it",
        stacklevel=4,
    )
    return stale


def _duplicated_names(p: Path, err: Exception) -> list[str]:
    try:
        names = pd.read_csv(f"{p}.fai", sep="\t", header=None, usecols=[0], dtype=str)[0]
    except (OSError, ValueError, pd.errors.ParserError):
        return [str(err).removeprefix("Duplicate key ").strip('"')]
    return list(names[names.duplicated()].unique())


def read_fasta(path: str | Path) -> pd.Series:
    """Read a FASTA of sequences (e.g. promoters) into a Series with :mod:`pyfaidx`.

    A missing or stale ``.fai`` (``.gzi``) index is written next to it, with a
    :class:`~geneimpute.DataWarning`, and removed again if reading fails.

    Parameters
    ----------
    path
        FASTA, uncompressed or ``bgzip``-compressed (not gzip), lines of one length per record.

    Returns
    -------
    Series ``"sequence"`` of upper-case sequences indexed by record name, in file order.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    PermissionError
        If the index must be written and the FASTA's directory is not writable.
    ValueError
        Naming the file: gzip without bgzip, empty or unindexable, records without sequence
        or with duplicated names.

    Examples
    --------
    >>> seqs = ge.pp.read_fasta("promoters.fa")  # doctest: +SKIP
    >>> adata.var["promoter_seq"] = seqs.reindex(adata.var_names).fillna("")  # doctest: +SKIP
    """
    p = existing_file(path)
    if is_gzip(p) and not is_bgzip(p):
        plain = p.name.removesuffix(".gz").removesuffix(".bgz")
        msg = (
            f"{p.name} is gzip-compressed but not with bgzip, which pyfaidx needs to index it: "
            f"decompress it (`gunzip {p.name}`) and read {plain}, or then recompress that with "
            f"bgzip (`bgzip {plain}`)"
        )
        raise ValueError(msg)
    if is_gzip(p) and not p.name.lower().endswith((".gz", ".bgz")):
        msg = f"{p.name} is bgzip-compressed but its name does not end in .gz or .bgz: rename it"
        raise ValueError(msg)
    if p.stat().st_size == 0:
        msg = f"{p.name} has no FASTA records (the file is empty)"
        raise ValueError(msg)
    written = check_fasta_index(p, "read_fasta")
    try:
        return _records(p)
    except BaseException:
        for f in written:  # the index files this call wrote
            f.unlink(missing_ok=True)
        raise


def _records(p: Path) -> pd.Series:
    import pyfaidx

    try:
        with pyfaidx.Fasta(str(p), as_raw=True, sequence_always_upper=True) as fa:
            seqs = pd.Series({k: str(fa[k][:]) for k in fa.keys()}, dtype=object, name="sequence")
    except ImportError as err:  # bgzip needs Biopython
        msg = f"reading the bgzip FASTA {p.name} needs biopython (or decompress it): {err}"
        raise ImportError(msg) from err
    except UnicodeDecodeError as err:  # a binary file
        msg = f"{p.name} is not a text FASTA file (byte {err.start} is not text: {err.reason})"
        raise ValueError(msg) from None
    except pyfaidx.FastaIndexingError as err:
        msg = f"{p.name} is not a FASTA file pyfaidx can index: {err}"
        raise ValueError(msg) from None
    except ValueError as err:
        if not str(err).startswith("Duplicate key"):
            raise
        dup = _duplicated_names(p, err)
        msg = f"{p.name} has {len(dup)} duplicated record names, e.g. {few(dup)}"
        raise ValueError(msg) from None
    if len(empty := seqs.index[seqs.str.len().to_numpy() == 0]):
        msg = f"{p.name} has {len(empty)} records without sequence, e.g. {few(empty)}"
        raise ValueError(msg)
    return seqs

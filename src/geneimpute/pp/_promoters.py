"""Promoter sequences: strand-aware extraction from a genome FASTA, and one-hot encoding."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from anndata import AnnData

from .._adata import check_coordinates, check_key, check_unique_var_names
from .._core.neighbors import tss_of
from .._core.sequence import DEFAULT_DOWNSTREAM, DEFAULT_UPSTREAM, one_hot_encode
from .._docs import doc_params
from .._logging import warn_data
from ._read_fasta import check_fasta_index

__all__ = ["extract_promoters", "one_hot_encode"]

_REGION = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>\d+)-(?P<end>\d+)$")


def _fasta_index(fasta) -> dict[str, tuple[str, int, int]]:
    """Map chromosome name -> (record name, 0-based offset, record length)."""
    index: dict[str, tuple[str, int, int]] = {}
    for name in fasta.keys():
        m = _REGION.match(name)
        chrom, offset = (m["chrom"], int(m["start"]) - 1) if m else (name, 0)
        index[chrom] = (name, offset, len(fasta[name]))
    return index


def _resolve_chrom(chrom: str, index: dict[str, tuple[str, int, int]]) -> str | None:
    for cand in (chrom, chrom.removeprefix("chr"), "chr" + chrom, "MT" if chrom == "chrM" else ""):
        if cand in index:
            return cand
    return None


@doc_params("copy")
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

    The window ``[TSS - upstream, TSS + downstream]`` (EPDnew's -249..+50 by default) in
    transcription orientation, read with :func:`pyranges.get_sequence`. Chromosomes match with
    or without ``chr``; records named as a region (``22:20000001-21000000``, as ``samtools
    faidx`` writes) are that slice. On an error, ``adata`` is left unchanged.

    Parameters
    ----------
    adata
        Genes in ``var`` with ``chrom``, ``start``, ``end``, ``strand`` (``tss`` optional).
    fasta
        Path to an uncompressed or bgzip-compressed genome FASTA; a missing or stale ``.fai``
        (``.gzi``) index is written next to it, with a :class:`~geneimpute.DataWarning`.
    upstream, downstream
        Window in bp before and after the TSS.
    on_missing
        A window not in the FASTA raises, or with ``"skip"`` is empty (in a DataWarning).
    key_added
        ``var`` column for the sequences (``promoter_key`` of ``tl``).
    {copy}

    Returns
    -------
    ``None``, or the modified copy with ``copy=True``. Writes ``var[key_added]`` (upper case;
    ``""`` where skipped) and ``var[f"{key_added}_tss_index"]`` (``upstream``; -1 skipped).

    Raises
    ------
    KeyError
        If a chromosome is not in the FASTA (``on_missing="raise"``) or a column is missing.
    ValueError
        If a window runs past its record (``on_missing="raise"``) or coordinates are malformed.
    FileNotFoundError
        If ``fasta`` does not exist.
    PermissionError
        If the ``.fai`` index is missing (or stale) and the FASTA's directory is not writable.

    Examples
    --------
    >>> ge.pp.extract_promoters(adata, "GRCh38.fa", upstream=249, downstream=50)  # doctest: +SKIP
    """
    key_added = check_key(key_added)
    import pyfaidx
    import pyranges as pr

    check_unique_var_names(adata)
    check_coordinates(adata.var)
    path = Path(fasta)
    if not path.exists():
        msg = f"FASTA file not found: {path}"
        raise FileNotFoundError(msg)
    if upstream < 0 or downstream < 0:
        msg = f"upstream and downstream must be >= 0 bp, got {upstream} and {downstream}"
        raise ValueError(msg)
    if on_missing not in ("raise", "skip"):
        msg = f"on_missing must be 'raise' or 'skip', got {on_missing!r}"
        raise ValueError(msg)
    check_fasta_index(path, "extract_promoters")
    fa = pyfaidx.Fasta(str(path), sequence_always_upper=True)
    index, var = _fasta_index(fa), adata.var
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
    # (record name, 0-based offset, length) per gene; ("", 0, 0) for an absent chromosome
    spans = {c: index[r] if r is not None else ("", 0, 0) for c, r in resolved.items()}
    record = pd.Series([spans[c][0] for c in chroms], dtype=object).to_numpy()
    offset, rec_len = np.array([spans[c][1:] for c in chroms], dtype=np.int64).reshape(-1, 2).T
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
        warn_data(
            f"extract_promoters: {len(bad)} of {adata.n_vars} genes have no promoter window in "
            f"{path.name} and get an empty sequence, e.g. {list(bad[:5])}"
        )
    seqs = np.full(adata.n_vars, "", dtype=object)
    if covered.any():
        strand = np.where(plus[covered], "+", "-")
        cols = {"Chromosome": record[covered], "Start": rel_lo[covered], "End": rel_hi[covered]}
        gr = pr.PyRanges(pd.DataFrame({**cols, "Strand": strand, "row": np.flatnonzero(covered)}))
        got = pr.get_sequence(gr, pyfaidx_fasta=fa)  # in gr.df order (by chromosome, strand)
        seqs[gr.df["row"].to_numpy()] = [str(s).upper() for s in got]
    adata = adata.copy() if copy else adata
    adata.var[key_added] = pd.Series(seqs.astype(str), index=adata.var_names)
    adata.var[f"{key_added}_tss_index"] = np.where(covered, upstream, -1)
    return adata if copy else None

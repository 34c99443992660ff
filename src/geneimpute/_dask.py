"""Dask-backed expression matrices: the two chunked passes of the sample-level path.

A samples x genes matrix opened lazily (:func:`geneimpute.pp.read_lazy`, anndata's
``read_elem_lazy``) is a :class:`dask.array.Array`. Nothing here materialises it:

- :func:`column_pass` reads it once in blocks of whole columns (every sample, a few hundred
  genes) and returns what needs every sample of a gene: per-tissue medians, per-gene counts of
  finite values, and the rows of a few chosen samples.
- :func:`map_rows` maps a function over blocks of whole rows (a few hundred samples, every
  gene) and returns a lazy dask array of the same shape: the imputed layer and its mask.

Both run on whatever scheduler is active (a ``dask.distributed.Client`` when one exists).
Large constants go into the graph once, as a single delayed object, not once per task.
dask is imported only when a dask array is passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import sparse

#: largest block of a pass (bytes of float32): whole rows (imputation) / whole columns (medians)
BLOCK_BYTES = 256 * 2**20
COLUMN_BLOCK_BYTES = 512 * 2**20


def is_dask(X: Any) -> bool:
    """Whether ``X`` is a dask array (checked without importing dask)."""
    return type(X).__module__.split(".")[0] == "dask"


def as_dense(block: Any) -> np.ndarray:
    """Return a float32 numpy block from a numpy or scipy.sparse chunk."""
    block = block.toarray() if sparse.issparse(block) else block
    return np.asarray(block, dtype=np.float32)


def _once(value: Any) -> Any:
    """``value`` as one delayed graph node, shared by every task that uses it."""
    import dask

    return dask.delayed(value, pure=True, traverse=False)


def _column_block(
    B: Any, consts: dict[str, np.ndarray], n_groups: int, block_info: Any = None
) -> np.ndarray:
    """Summaries of one block of whole columns ``(n_samples, width)``; see :func:`column_pass`."""
    B = as_dense(B)
    codes, rows = consts["codes"], consts["rows"]
    out = np.empty((n_groups + 1 + len(rows), B.shape[1]), dtype=np.float32)
    for g in range(n_groups):
        sub = B[codes == g]
        seen = np.isfinite(sub).any(axis=0)  # all-NaN genes -> NaN, without a warning
        out[g] = np.nan  # (warnings filters are not thread-safe under dask's threads)
        out[g, seen] = np.nanmedian(sub[:, seen], axis=0)
    out[n_groups] = np.isfinite(B).sum(axis=0)
    out[n_groups + 1 :] = B[rows]
    return out


def column_pass(
    X: Any, codes: np.ndarray, n_groups: int, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pass over a dask ``(n_samples, n_genes)`` matrix in blocks of whole columns.

    Parameters
    ----------
    X
        Dask array (numpy or scipy.sparse chunks), any chunking; it is rechunked to blocks of
        every sample and at most :data:`COLUMN_BLOCK_BYTES` (the stored chunk width, or an
        even fraction of it), so stores chunked as ~1,000 samples x ~500 genes are read once.
    codes
        ``(n_samples,)`` group (tissue) of each sample in ``0..n_groups-1``; -1 = in no group.
    n_groups
        Number of groups.
    rows
        Sorted sample indices whose full rows are returned.

    Returns
    -------
    ``(medians, n_finite, rows_block)``: float32 ``(n_groups, n_genes)`` NaN-ignoring medians
    (as ``np.nanmedian``, so identical to the in-memory path), int64 ``(n_genes,)`` finite
    values per gene, float32 ``(len(rows), n_genes)``.
    """
    rows = np.zeros(0, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    n_obs, n_vars = X.shape
    width = X.chunks[1][0]
    split = -(-n_obs * width * 4 // COLUMN_BLOCK_BYTES)  # pieces per stored chunk width
    width = max(1, width // max(split, 1))
    # "tasks": a plain concatenation of stored chunks (P2P rechunking would copy to disk)
    Xc = X.rechunk({0: -1, 1: width}, method="tasks")
    n_out = n_groups + 1 + len(rows)
    consts = _once({"codes": np.asarray(codes), "rows": rows})
    res = Xc.map_blocks(
        _column_block,
        consts,
        n_groups=n_groups,
        chunks=((n_out,), Xc.chunks[1]),
        dtype=np.float32,
        meta=np.empty((0, 0), dtype=np.float32),
    ).compute()
    return res[:n_groups], res[n_groups].astype(np.int64), res[n_groups + 1 :]


def _row_block(
    B: Any, fn: Callable[[np.ndarray, np.ndarray], np.ndarray], block_info: Any = None
) -> np.ndarray:
    start, stop = block_info[0]["array-location"][0]
    return fn(as_dense(B), np.arange(start, stop))


def map_rows(
    X: Any,
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    dtype: Any,
    max_rows: int | None = None,
) -> Any:
    """Lazy ``fn(block, rows)`` over blocks of whole rows of a dask matrix; same shape as ``X``.

    ``fn`` gets a dense float32 ``(len(rows), n_genes)`` block and its row indices and
    returns an array of that shape. Blocks keep ``X``'s row chunks when a full-width block
    fits :data:`BLOCK_BYTES` (and ``max_rows``), else rows are rechunked to fit. ``fn`` (with
    whatever it closes over) enters the graph once.
    """
    n_vars = X.shape[1]
    limit = max(1, BLOCK_BYTES // (4 * max(n_vars, 1)))
    if max_rows is not None:
        limit = min(limit, max_rows)
    spec: dict[int, Any] = {1: -1}
    if max(X.chunks[0]) > limit:
        spec[0] = limit
    Xr = X.rechunk(spec, method="tasks")
    return Xr.map_blocks(_row_block, _once(fn), dtype=dtype, meta=np.empty((0, 0), dtype=dtype))

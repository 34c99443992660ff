"""Dask-backed expression matrices: one pass over whole columns, one map over whole rows.

Large constants enter the graph once, as one delayed object; dask is imported only when needed.
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


def _column_block(B: Any, consts: dict[str, np.ndarray], n_groups: int) -> np.ndarray:
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
    """Group medians (as ``np.nanmedian``), finite counts per gene and chosen ``rows`` of ``X``.

    ``X`` is read once, rechunked to every sample x at most :data:`COLUMN_BLOCK_BYTES`;
    ``codes`` gives each sample's group in ``0..n_groups-1`` (-1: none).
    """
    rows = np.zeros(0, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    n_obs, width = X.shape[0], X.chunks[1][0]
    split = -(-n_obs * width * 4 // COLUMN_BLOCK_BYTES)  # pieces per stored chunk width
    width = max(1, width // max(split, 1))
    # "tasks": a plain concatenation of stored chunks (P2P rechunking would copy to disk)
    Xc = X.rechunk({0: -1, 1: width}, method="tasks")
    res = Xc.map_blocks(
        _column_block,
        _once({"codes": np.asarray(codes), "rows": rows}),
        n_groups=n_groups,
        chunks=((n_groups + 1 + len(rows),), Xc.chunks[1]),
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
    """Lazy ``fn(dense float32 block, its row indices)`` over blocks of whole rows of ``X``.

    Rows are rechunked only when a block exceeds :data:`BLOCK_BYTES` or ``max_rows``.
    """
    limit = max(1, BLOCK_BYTES // (4 * max(X.shape[1], 1)))
    limit = limit if max_rows is None else min(limit, max_rows)
    spec: dict[int, Any] = {0: limit, 1: -1} if max(X.chunks[0]) > limit else {1: -1}
    Xr = X.rechunk(spec, method="tasks")
    return Xr.map_blocks(_row_block, _once(fn), dtype=dtype, meta=np.empty((0, 0), dtype=dtype))

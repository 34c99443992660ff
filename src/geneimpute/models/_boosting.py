"""Fit an XGBoost regressor in this process or on a dask cluster (``xgboost.dask``).

Every XGBoost stage of the package's models goes through :func:`fit_regressor`, so passing a
``dask.distributed.Client`` moves all of them to the cluster with no other change: the design
matrix is partitioned over the workers, ``xgboost.dask`` trains with its distributed
histogram algorithm, and the booster comes back as an ordinary ``xgboost.XGBRegressor``
(same save/load/predict as one trained locally).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def n_workers(client: Any) -> int:
    """Return the number of workers of a ``dask.distributed.Client`` (at least 1)."""
    return max(1, len(client.scheduler_info().get("workers", {})))


def fit_regressor(params: dict, X: np.ndarray, y: np.ndarray, client: Any = None) -> Any:
    """Fit an ``xgboost.XGBRegressor(**params)`` on ``X`` ``(n_rows, n_features)`` and ``y``.

    With ``client``, the rows are split into one partition per worker (scattered to the
    workers, not embedded in the task graph) and fitted with
    ``xgboost.dask.DaskXGBRegressor`` (``n_jobs`` is replaced by each worker's threads); the
    result is converted to a local ``XGBRegressor`` through the booster's UBJSON bytes.
    """
    import xgboost as xgb

    if client is None:
        model = xgb.XGBRegressor(**params)
        model.fit(X, y)
        return model
    import dask.array as da
    from xgboost import dask as dxgb

    # one partition per worker, sent once with scatter (not embedded in the task graph)
    parts = [p for p in np.array_split(np.arange(len(X)), n_workers(client)) if len(p)]
    fx = client.scatter([np.ascontiguousarray(X[p]) for p in parts])
    fy = client.scatter([np.ascontiguousarray(y[p]) for p in parts])
    Xd = da.concatenate(
        [
            da.from_delayed(f, shape=(len(p), X.shape[1]), dtype=X.dtype)
            for f, p in zip(fx, parts, strict=True)
        ]
    )
    yd = da.concatenate(
        [da.from_delayed(f, shape=(len(p),), dtype=y.dtype) for f, p in zip(fy, parts, strict=True)]
    )
    dist = dxgb.DaskXGBRegressor(**{k: v for k, v in params.items() if k != "n_jobs"})
    dist.client = client
    dist.fit(Xd, yd)
    local = xgb.XGBRegressor(**params)
    local.load_model(bytearray(dist.get_booster().save_raw("ubj")))
    return local

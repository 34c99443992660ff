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

    With ``client``, the rows are split into one partition per worker and fitted with
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

    rows = -(-len(X) // n_workers(client))
    Xd = client.persist(da.from_array(np.asarray(X), chunks=(rows, -1)))
    yd = client.persist(da.from_array(np.asarray(y), chunks=rows))
    dist = dxgb.DaskXGBRegressor(**{k: v for k, v in params.items() if k != "n_jobs"})
    dist.client = client
    dist.fit(Xd, yd)
    local = xgb.XGBRegressor(**params)
    local.load_model(bytearray(dist.get_booster().save_raw("ubj")))
    return local

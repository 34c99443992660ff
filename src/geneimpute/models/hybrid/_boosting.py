"""The hybrid's XGBoost stage, fitted in this process or on a dask cluster (``xgboost.dask``).

Every XGBoost model of the package goes through :func:`fit_regressor`, so passing a
``dask.distributed.Client`` moves all of them to the cluster: the design is partitioned over
the workers, ``xgboost.dask`` trains with its distributed histogram algorithm, and the booster
comes back as an ordinary ``xgboost.XGBRegressor``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._settings import settings
from ._config import HybridConfig


def fit_regressor(params: dict, X: np.ndarray, y: np.ndarray, client: Any = None) -> Any:
    """Fit an ``xgboost.XGBRegressor(**params)`` on ``X`` ``(n_rows, n_features)`` and ``y``.

    With ``client``, the rows are split into one partition per worker and fitted with
    ``xgboost.dask.DaskXGBRegressor`` (``n_jobs`` dropped: each worker uses its threads); the
    result is converted to a local ``XGBRegressor`` through the booster's UBJSON bytes.
    """
    import xgboost as xgb

    if client is None:
        model = xgb.XGBRegressor(**params)
        model.fit(X, y)
        return model
    import dask.array as da
    from xgboost import dask as dxgb

    # one partition per worker, sent once with scatter (not embedded in the task graph);
    # hash=False: fresh keys per call, so the release of an earlier fit's partitions of the
    # same rows (two models on one design) cannot cancel this fit's
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    parts = [p for p in np.array_split(np.arange(len(X)), n_workers) if len(p)]
    fx = client.scatter([np.ascontiguousarray(X[p]) for p in parts], hash=False)
    fy = client.scatter([np.ascontiguousarray(y[p]) for p in parts], hash=False)
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


def fit_stage2(
    params: dict, X3: np.ndarray, Y: np.ndarray, client: Any = None, *, pattern: bool = True
) -> tuple[Any, Any]:
    """Fit XGBoost on a design ``X3`` ``(n_genes, n_tissues, n_features)`` to ``Y``.

    Rows are (gene, tissue) pairs; NaN cells of ``Y`` are left out. Returns the model of ``Y``
    and, with ``pattern``, a model of the tissue-centred ``Y - nanmean(Y, axis=1)`` (else
    None): a profile model spends its squared error mostly on level differences between genes,
    the pattern model on the differences between tissues (see :func:`predict_stage2`).
    """
    n, T, F = X3.shape
    X = X3.reshape(n * T, F)

    def fit(target: np.ndarray) -> Any:
        y = target.ravel()
        seen = np.isfinite(y)
        return fit_regressor(params, *((X, y) if seen.all() else (X[seen], y[seen])), client)

    if not pattern:
        return fit(Y), None
    with np.errstate(invalid="ignore"):
        centred = Y - np.nanmean(Y, axis=1, keepdims=True)
    return fit(Y), fit(centred)


def predict_stage2(model: Any, pattern_model: Any, X3: np.ndarray) -> np.ndarray:
    """Predict ``(n_genes, n_tissues)``: the profile model's level plus the centred pattern.

    Without a pattern model, the profile model's prediction.
    """
    n, T, F = X3.shape
    if n == 0:
        return np.zeros((0, T))
    X = X3.reshape(n * T, F)
    P = np.asarray(model.predict(X), dtype=np.float64).reshape(n, T)
    if pattern_model is None:
        return P
    Q = np.asarray(pattern_model.predict(X), dtype=np.float64).reshape(n, T)
    return P.mean(axis=1, keepdims=True) + Q - Q.mean(axis=1, keepdims=True)


def cross_fit(
    params: dict, X3: np.ndarray, Y: np.ndarray, where: list, client: Any, pattern: bool = True
) -> np.ndarray:
    """Out-of-fold predictions ``(n_genes, T)``: each gene fold in ``where`` by the others."""
    n, T, _ = X3.shape
    out = np.empty((n, T))
    for hi in where:
        tr = np.setdiff1d(np.arange(n), hi)
        models = fit_stage2(params, X3[tr], Y[tr], client, pattern=pattern)
        out[hi] = predict_stage2(*models, X3[hi])
    return out


def xgb_params(config: HybridConfig, device: str) -> dict:
    """``XGBRegressor`` keyword arguments of the hybrid's stage 2 (``hist``, seeded)."""
    return {
        "n_estimators": config.xgb_n_estimators,
        "learning_rate": config.xgb_learning_rate,
        "max_depth": config.xgb_max_depth,
        "subsample": config.xgb_subsample,
        "colsample_bytree": 0.8,
        "min_child_weight": config.xgb_min_child_weight,
        "reg_lambda": config.xgb_reg_lambda,
        "tree_method": "hist",
        "device": "cuda" if device == "cuda" else "cpu",
        "n_jobs": settings.n_jobs,
        "random_state": config.random_state,
    }

"""Stage 2 of the hybrid: the design matrix and XGBoost, here or on a dask cluster."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..._settings import settings
from ._config import HybridConfig

#: bytes of the stage-2 design matrix written per block (fits in a core's L2 cache)
DESIGN_BLOCK_BYTES = 1 << 20


def build_design(
    blocks: dict[str, np.ndarray],
    rows: np.ndarray,
    gene_features: np.ndarray,
    components: np.ndarray,
    weights: np.ndarray | None,
) -> np.ndarray:
    """Stage-2 design ``(len(rows) * T, n_features)`` float32 (``blocks["idw"]``: all genes)."""
    T, n = components.shape[0], len(rows)
    per_block = 3 if weights is None else 4
    F = 1 + components.shape[1] + len(blocks) * per_block + gene_features.shape[1]
    X = np.empty((n * T, F), dtype=np.float32)
    X3 = X.reshape(n, T, F)
    step = max(1, DESIGN_BLOCK_BYTES // (4 * T * F))
    with warnings.catch_warnings():  # genes with no neighbour: NaN, kept as missing
        warnings.simplefilter("ignore", RuntimeWarning)
        for s in range(0, n, step):
            sl = slice(s, s + step)
            out = X3[sl]  # (b, T, F) view
            out[:, :, 0] = np.arange(T)
            out[:, :, 1 : 1 + components.shape[1]] = components
            j = 1 + components.shape[1]
            for key, P in blocks.items():
                Pb = P[rows[sl]] if key == "idw" else P[sl]
                mean = np.nanmean(Pb, axis=1, keepdims=True) if Pb.size else Pb[:, :1]
                out[:, :, j] = Pb
                out[:, :, j + 1] = mean
                out[:, :, j + 2] = Pb - mean
                j += 3
                if weights is not None:
                    out[:, :, j] = np.nan_to_num(Pb) @ weights.T
                    j += 1
            out[:, :, j:] = gene_features[rows[sl]][:, None, :]
    return X


def fit_regressor(params: dict, X: np.ndarray, y: np.ndarray, client: Any = None) -> Any:
    """Fit an ``xgboost.XGBRegressor(**params)`` here, or with ``xgboost.dask`` on ``client``."""
    import xgboost as xgb

    if client is None:
        return xgb.XGBRegressor(**params).fit(X, y)
    import dask.array as da
    from xgboost import dask as dxgb

    # one partition per worker, sent once with scatter (not embedded in the task graph);
    # hash=False: fresh keys per call, so the release of an earlier fit's partitions of the
    # same rows (two models on one design) cannot cancel this fit's
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    parts = [p for p in np.array_split(np.arange(len(X)), n_workers) if len(p)]

    def scattered(a: np.ndarray) -> Any:
        futures = client.scatter([np.ascontiguousarray(a[p]) for p in parts], hash=False)
        blocks = zip(futures, parts, strict=True)
        shape = a.shape[1:]
        return da.concatenate([da.from_delayed(f, (len(p), *shape), a.dtype) for f, p in blocks])

    dist = dxgb.DaskXGBRegressor(**{k: v for k, v in params.items() if k != "n_jobs"})
    dist.client = client
    dist.fit(scattered(X), scattered(y))
    local = xgb.XGBRegressor(**params)
    local.load_model(bytearray(dist.get_booster().save_raw("ubj")))
    return local


def fit_stage2(
    params: dict, X3: np.ndarray, Y: np.ndarray, client: Any = None, *, pattern: bool = True
) -> tuple[Any, Any]:
    """Fit XGBoost on ``X3`` ``(n_genes, T, F)`` to ``Y`` and, with ``pattern``, centred ``Y``."""
    n, T, F = X3.shape
    X = X3.reshape(n * T, F)

    def fit(target: np.ndarray) -> Any:
        y = target.ravel()
        seen = np.isfinite(y)
        if seen.all():  # NaN: a tissue a partly measured gene lacks
            return fit_regressor(params, X, y, client)
        return fit_regressor(params, X[seen], y[seen], client)

    if not pattern:
        return fit(Y), None
    with np.errstate(invalid="ignore"):
        centred = Y - np.nanmean(Y, axis=1, keepdims=True)
    return fit(Y), fit(centred)


def predict_stage2(model: Any, pattern_model: Any, X3: np.ndarray) -> np.ndarray:
    """Predict ``(n_genes, T)``: the profile model's level plus the centred pattern."""
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

"""Model directories: a versioned ``config.json``, torch ``state_dict``, XGBoost UBJ. No pickle.

Schema (``schema_version`` 2)::

    {"format": "geneimpute.HybridImputer", "schema_version": 2, "geneimpute_version": "...",
     "config": {HybridConfig fields}, "network": {HybridNet constructor arguments} | null,
     "setup": {ModelSetup fields: tissues, features, units, layer, keys, gene features, ...},
     "state": {"mu", "sd", "gmu", "gsd", "gmiss_cols", "tissue_correlation", "genef_names",
               "calibrated", "sigma_floor"}}

plus ``calibration.npz`` (conformal residuals and difficulty estimates, no pickle) and
``xgboost_sigma.ubj`` (the difficulty model) for calibrated models.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .._core.io import atomic_directory
from ._conditioning import ObservedTissueConditioner
from ._conformal import TissueConformal
from .hybrid._config import SAVED_BEFORE_FIELD, HybridConfig, ModelSetup

FORMAT = "geneimpute.HybridImputer"
SCHEMA_VERSION = 2


class DamagedModelError(ValueError):
    """A model directory that cannot be read: damaged, edited or from another version."""


def _damaged(path: Path, why: str) -> DamagedModelError:
    return DamagedModelError(
        f"this model directory is damaged or from another version: {path} ({why}); "
        "re-train and save it with this geneimpute version"
    )


def save_hybrid(model: Any, path: str | Path, *, overwrite: bool = False) -> None:
    """Write ``model`` (a fitted HybridImputer) to the directory ``path`` atomically."""
    import torch

    state = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "geneimpute_version": __version__,
        "config": model.config.__dict__.copy(),
        "network": model.net_args_,
        "setup": model.setup_.to_dict(),
        "state": {
            "mu": model.mu_.tolist(),
            "sd": model.sd_.tolist(),
            "gmu": model.gmu_.tolist(),
            "gsd": model.gsd_.tolist(),
            "gmiss_cols": model.gmiss_cols_.tolist(),
            "tissue_correlation": model.tissue_correlation_.tolist(),
            "genef_names": list(model.genef_names_),
            "calibrated": bool(model.calibrated),
            "sigma_floor": float(model.sigma_floor_),
        },
    }
    if model.conditioner_ is not None:  # optional: older directories lack it
        state["state"]["error_covariance"] = model.conditioner_.covariance_.tolist()
        state["state"]["error_mean"] = model.conditioner_.mean_.tolist()
    with atomic_directory(path, overwrite=overwrite) as tmp:
        (tmp / "config.json").write_text(json.dumps(state, indent=2, allow_nan=False))
        if model.net_ is not None:
            torch.save(model.net_.cpu().state_dict(), tmp / "network.pt")
        model.xgb_.save_model(tmp / "xgboost.ubj")
        if model.pattern_xgb_ is not None:
            model.pattern_xgb_.save_model(tmp / "xgboost_pattern.ubj")
        if model.calibrated:
            model.sigma_xgb_.save_model(tmp / "xgboost_sigma.ubj")
            np.savez_compressed(
                tmp / "calibration.npz",
                residuals=model.conformal_.residuals_,
                sigmas=model.conformal_.sigmas_,
            )


def _load_booster(path: Path, name: str) -> Any:
    """Load the XGBoost regressor saved as ``path / name``; ``DamagedModelError`` if it cannot."""
    import xgboost as xgb

    if not (path / name).exists():
        raise _damaged(path, f"{name} is missing")
    try:
        model = xgb.XGBRegressor()
        model.load_model(path / name)
    except Exception as err:  # noqa: BLE001 - any failure here means a bad directory
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise _damaged(path, f"{name} does not load: {first[:300]}") from None
    return model


def _vector(state: dict, key: str, n: int, path: Path) -> np.ndarray:
    v = np.asarray(state[key], dtype=np.float64)
    if v.shape != (n,) or not np.isfinite(v).all():
        raise _damaged(path, f"state.{key} must be {n} finite numbers")
    return v


def load_hybrid(cls: type, path: str | Path, *, map_location: str = "cpu") -> Any:
    """Read a directory written by :func:`save_hybrid` into a new ``cls`` instance."""
    import torch
    import xgboost as xgb

    p = Path(path)
    if not p.is_dir() or not (p / "config.json").exists():
        msg = f"{p} is not a saved HybridImputer: config.json is missing"
        raise FileNotFoundError(msg)
    try:
        state = json.loads((p / "config.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _damaged(p, f"config.json is not valid JSON: {err}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise _damaged(p, f"config.json has no format {FORMAT!r}")
    version = str(state.get("geneimpute_version", "?"))
    if state.get("schema_version") != SCHEMA_VERSION:
        raise _damaged(
            p,
            f"schema version {state.get('schema_version')!r} written by geneimpute {version}; "
            f"this geneimpute ({__version__}) reads schema {SCHEMA_VERSION}",
        )
    try:
        # a field missing from an older config.json means the behaviour before it existed
        config = HybridConfig.from_dict({**SAVED_BEFORE_FIELD, **state["config"]})
        setup = ModelSetup.from_dict(state["setup"])
        s = state["state"]
        model = cls(config)
        model.setup_ = setup
        T = len(setup.tissues)
        if T == 0 or len(set(setup.tissues)) != T:
            raise _damaged(p, "setup.tissues must be unique, non-empty tissue names")
        model.mu_ = _vector(s, "mu", T, p)
        model.sd_ = _vector(s, "sd", T, p)
        model.genef_names_ = [str(n) for n in s["genef_names"]]
        F = len(model.genef_names_)
        model.gmu_ = _vector(s, "gmu", F, p)
        model.gsd_ = _vector(s, "gsd", F, p)
        model.gmiss_cols_ = np.asarray(s["gmiss_cols"], dtype=np.int64).reshape(-1)
        if model.gmiss_cols_.size and (model.gmiss_cols_.min() < 0 or model.gmiss_cols_.max() >= F):
            raise _damaged(p, "state.gmiss_cols out of range")
        C = np.asarray(s["tissue_correlation"], dtype=np.float64)
        try:
            model._set_tissue_correlation(C)
        except ValueError as err:
            raise _damaged(p, str(err)) from None
        model.net_args_ = state["network"]
    except DamagedModelError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise _damaged(p, f"{type(err).__name__}: {err}") from None
    if model.uses_network:
        if not (p / "network.pt").exists():
            raise _damaged(p, "network.pt is missing")
        if not isinstance(model.net_args_, dict):
            raise _damaged(p, "config.json lacks the network's constructor arguments")
        try:
            net = model._new_net()
            sd = torch.load(p / "network.pt", map_location=map_location, weights_only=True)
            net.load_state_dict(sd)
        except Exception as err:  # noqa: BLE001 - any failure here means a bad directory
            # one line, but keep what follows torch's header ("size mismatch for ...")
            why = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
            raise _damaged(
                p, f"network.pt does not load: {(why or type(err).__name__)[:300]}"
            ) from None
        if net.n_tissues != T:
            raise _damaged(p, "network output size differs from the number of tissues")
        model.net_ = net
    model.xgb_ = _load_booster(p, "xgboost.ubj")
    if model.config.xgb_pattern_model:  # written by models fitted with the pattern model
        model.pattern_xgb_ = _load_booster(p, "xgboost_pattern.ubj")
    if bool(state["state"].get("calibrated", False)):
        try:
            with np.load(p / "calibration.npz", allow_pickle=False) as cal:
                residuals, sigmas = cal["residuals"], cal["sigmas"]
            if residuals.ndim != 2 or residuals.shape[1] != len(model.setup_.tissues):
                raise _damaged(p, "calibration.npz does not match the model's tissues")
            model.conformal_ = TissueConformal().fit(residuals, sigmas)
            model.sigma_floor_ = float(state["state"]["sigma_floor"])
            model.sigma_xgb_ = xgb.XGBRegressor()
            model.sigma_xgb_.load_model(p / "xgboost_sigma.ubj")
        except DamagedModelError:
            raise
        except Exception as err:  # noqa: BLE001 - any failure here means a bad directory
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise _damaged(p, f"interval calibration does not load: {first[:300]}") from None
    try:  # written since 0.x; older directories: derived from the calibration residuals
        if "error_covariance" in s:
            model.conditioner_ = ObservedTissueConditioner().set_state(
                s["error_covariance"], _vector(s, "error_mean", len(model.setup_.tissues), p)
            )
        elif model.conformal_ is not None:
            model.conditioner_ = ObservedTissueConditioner().fit(model.conformal_.residuals_)
    except DamagedModelError:
        raise
    except (ValueError, TypeError) as err:
        raise _damaged(p, f"state.error_covariance: {err}") from None
    if not math.isfinite(float(model.sd_.min())):
        raise _damaged(p, "state.sd is not finite")
    return model

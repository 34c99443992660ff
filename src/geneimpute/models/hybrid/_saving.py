"""Save and load of a :class:`HybridImputer` directory, through :mod:`.._persistence`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._conditioning import ObservedTissueConditioner
from .._conformal import TissueConformal
from .._persistence import (
    damaged,
    load_booster,
    load_weights,
    read_model,
    read_vector,
    reading,
    write_model,
)
from ._config import HybridConfig, ModelSetup

FORMAT = "geneimpute.HybridImputer"
#: Typed schema of ``config.json`` (:func:`~.._persistence.check_json`).
SCHEMA = {
    "config": HybridConfig,
    "setup": ModelSetup,
    "network": (
        {"n_tissues": int, "n_gene_features": int, "token_dim": int, "dim": int}
        | {"use_cnn": bool, "use_transformer": bool},
        None,
    ),
    "state": {
        **dict.fromkeys(("mu", "sd", "gmu", "gsd", "error_mean"), [float]),
        **dict.fromkeys(("tissue_correlation", "error_covariance"), [[float]]),
        "gmiss_cols": [int],
        "genef_names": [str],
        "calibrated": bool,
        "sigma_floor": float,
    },
}


def save_hybrid(model: Any, path: str | Path, *, overwrite: bool = False) -> None:
    """Write the fitted HybridImputer ``model`` to the directory ``path``, atomically."""
    import torch

    cond = model.conditioner_
    arrays = ("mu", "sd", "gmu", "gsd", "gmiss_cols", "tissue_correlation")
    header = {
        "config": dict(model.config.__dict__),
        "network": model.net_args_,
        "setup": model.setup_.to_dict(),
        "state": {
            **{k: getattr(model, f"{k}_").tolist() for k in arrays},
            "genef_names": list(model.genef_names_),
            "error_covariance": cond.covariance_.tolist(),
            "error_mean": cond.mean_.tolist(),
            "calibrated": bool(model.calibrated),
            "sigma_floor": float(model.sigma_floor_),
        },
    }

    def write_files(tmp: Path) -> None:
        if model.net_ is not None:
            torch.save(model.net_.cpu().state_dict(), tmp / "network.pt")
        model.xgb_.save_model(tmp / "xgboost.ubj")
        model.pattern_xgb_.save_model(tmp / "xgboost_pattern.ubj")
        if model.calibrated:
            model.sigma_xgb_.save_model(tmp / "xgboost_sigma.ubj")
            np.savez_compressed(
                tmp / "calibration.npz",
                residuals=model.conformal_.residuals_,
                sigmas=model.conformal_.sigmas_,
            )

    write_model(path, FORMAT, header, write_files, overwrite=overwrite)


def load_hybrid(cls: type, path: str | Path, *, map_location: str = "cpu") -> Any:
    """Read a directory written by :func:`save_hybrid` into a new ``cls``."""
    from ._networks import NetworkEnsemble

    p, state = read_model(path, FORMAT, SCHEMA)
    with reading(p):
        model = cls(HybridConfig.from_dict(state["config"]))
        model.setup_ = ModelSetup.from_dict(state["setup"])
        _set_state(model, state["state"], p)
        model.net_args_ = state["network"]
    if model.uses_network:
        if not isinstance(model.net_args_, dict):
            raise damaged(p, "config.json lacks the network's constructor arguments")
        with reading(p, "network.pt does not load"):
            net = NetworkEnsemble([model._new_member() for _ in range(model.config.n_folds)])
        model.net_ = load_weights(net, p, "network.pt", map_location)
        if net.n_tissues != len(model.setup_.tissues):
            raise damaged(p, "network output size differs from the number of tissues")
    model.xgb_ = load_booster(p, "xgboost.ubj")
    model.pattern_xgb_ = load_booster(p, "xgboost_pattern.ubj")
    if bool(state["state"].get("calibrated", False)):
        _load_calibration(model, p, state["state"])
    return model


def _set_state(model: Any, s: dict, p: Path) -> None:
    T = len(model.setup_.tissues)
    if T == 0 or len(set(model.setup_.tissues)) != T:
        raise damaged(p, "setup.tissues must be unique, non-empty tissue names")
    model.mu_, model.sd_ = (read_vector(s, k, T, p) for k in ("mu", "sd"))
    model.genef_names_ = [str(n) for n in s["genef_names"]]
    F = len(model.genef_names_)
    model.gmu_, model.gsd_ = (read_vector(s, k, F, p) for k in ("gmu", "gsd"))
    model.gmiss_cols_ = np.asarray(s["gmiss_cols"], dtype=np.int64).reshape(-1)
    if model.gmiss_cols_.size and (model.gmiss_cols_.min() < 0 or model.gmiss_cols_.max() >= F):
        raise damaged(p, "state.gmiss_cols out of range")
    try:
        model._set_tissue_correlation(np.asarray(s["tissue_correlation"], dtype=np.float64))
    except ValueError as err:
        raise damaged(p, str(err)) from None
    with reading(p, "state.error_covariance"):
        model.conditioner_ = ObservedTissueConditioner().set_state(
            s["error_covariance"], read_vector(s, "error_mean", T, p)
        )


def _load_calibration(model: Any, p: Path, s: dict) -> None:
    with reading(p, "interval calibration does not load"):
        with np.load(p / "calibration.npz", allow_pickle=False) as cal:
            residuals, sigmas = cal["residuals"], cal["sigmas"]
        if residuals.ndim != 2 or residuals.shape[1] != len(model.setup_.tissues):
            raise damaged(p, "calibration.npz does not match the model's tissues")
        model.conformal_ = TissueConformal().fit(residuals, sigmas)
        model.sigma_floor_ = float(s["sigma_floor"])
        if model.sigma_floor_ <= 0:
            raise damaged(p, f"state.sigma_floor must be > 0, got {model.sigma_floor_}")
    model.sigma_xgb_ = load_booster(p, "xgboost_sigma.ubj")

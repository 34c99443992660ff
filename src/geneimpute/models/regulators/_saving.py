"""What a :class:`RegulatorImputer` directory holds, through :mod:`geneimpute.models._persistence`.

``config.json``: the :class:`RegulatorConfig`, the :class:`RegulatorSetup`, ``network`` (the
numbers of regulators and targets) and ``state`` (training means and sds ``r_mu``/``r_sd``,
``y_mu``/``y_sd``). Files: ``network.pt`` (the :class:`RegulatorNet`, its encoder included)
and, with the context ridge, ``context.npy`` (the z-scored ``(n_samples, n_regulators +
n_targets)`` training matrix, NaN where unmeasured).
"""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .._persistence import (
    damaged,
    load_file,
    load_weights,
    read_model,
    read_vector,
    reading,
    write_model,
)
from ._config import RegulatorConfig, RegulatorSetup

FORMAT = "geneimpute.RegulatorImputer"


def save_regulators(model: Any, path: str | Path, *, overwrite: bool = False) -> None:
    """Write the fitted RegulatorImputer ``model`` to the directory ``path``, atomically."""
    import torch

    header = {
        "config": asdict(model.config),
        "setup": asdict(model.setup_),
        "network": {"n_regulators": len(model.r_mu_), "n_targets": len(model.y_mu_)},
        "state": {
            "r_mu": model.r_mu_.tolist(),
            "r_sd": model.r_sd_.tolist(),
            "y_mu": model.y_mu_.tolist(),
            "y_sd": model.y_sd_.tolist(),
        },
    }

    def write_files(tmp: Path) -> None:
        torch.save(model.net_.state_dict(), tmp / "network.pt")
        if model.context_ is not None:
            np.save(tmp / "context.npy", model.context_.Z, allow_pickle=False)

    write_model(path, FORMAT, header, write_files, overwrite=overwrite)


def load_regulators(cls: type, path: str | Path) -> Any:
    """Read a directory written by :func:`save_regulators` into a new ``cls`` instance."""
    p, state = read_model(path, FORMAT)
    with reading(p):
        model = cls(RegulatorConfig.from_dict(state["config"]))
        model.setup_ = RegulatorSetup(**state["setup"])
        nR, nT = int(state["network"]["n_regulators"]), int(state["network"]["n_targets"])
        names = model.setup_.regulators, model.setup_.targets
        if (names[0] and len(names[0]) != nR) or (names[1] and len(names[1]) != nT):
            raise damaged(p, "network sizes do not match the regulators / targets of the setup")
        s = state["state"]
        model.r_mu_, model.r_sd_ = read_vector(s, "r_mu", nR, p), read_vector(s, "r_sd", nR, p)
        model.y_mu_, model.y_sd_ = read_vector(s, "y_mu", nT, p), read_vector(s, "y_sd", nT, p)
    with reading(p, "network.pt does not load"):
        enc = model._new_autoencoder(nR + nT).encoder if model.config.use_autoencoder else None
        net = model._new_net(nR, nT, enc)
    model.net_ = load_weights(net, p, "network.pt").eval()
    if model.uses_context_ridge:
        model.context_ = _load_context(p, nR, nT)
    return model


def _load_context(p: Path, nR: int, nT: int) -> Any:
    from ._context import ContextRidge

    Z = load_file(p, "context.npy", partial(np.load, allow_pickle=False))
    if Z.ndim != 2 or Z.shape[1] != nR + nT:
        raise damaged(p, f"context.npy has shape {Z.shape}, expected (n, {nR + nT})")
    with reading(p, "context.npy does not load"):
        return ContextRidge(Z, nR)

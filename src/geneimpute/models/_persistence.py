"""The one save/load of every model family: a versioned ``config.json`` plus array files.

``config.json`` holds ``format`` (``"geneimpute.<Class>"``), ``schema_version``,
``geneimpute_version``, ``config`` (hyperparameters), ``setup`` (what it read from its data),
``network`` (constructor arguments or null) and ``state`` (fitted scalars and vectors). Beside
it: torch ``state_dict`` files (read with ``weights_only=True``), XGBoost UBJ and
``.npz``/``.npy`` arrays (``allow_pickle=False``); no pickle anywhere. Another schema is
refused with one line naming the version and how to retrain.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .. import __version__
from .._core.io import atomic_directory

_T = TypeVar("_T")
#: Schema of every model directory this version writes and reads.
SCHEMA_VERSION = 3
#: How to train each format again (named in the refusal of another schema).
_RETRAIN = {
    "geneimpute.HybridImputer": "geneimpute.tl.train",
    "geneimpute.RegulatorImputer": "geneimpute.tl.train_regulators",
}


class DamagedModelError(ValueError):
    """A model directory that cannot be read: damaged, edited or from another version."""


def damaged(path: Path, why: str) -> DamagedModelError:
    """Build the error for a model directory ``path`` that cannot be read because of ``why``."""
    return DamagedModelError(
        f"this model directory is damaged or from another version: {path} ({why}); "
        "re-train and save it with this geneimpute version"
    )


def _first_line(err: BaseException) -> str:
    text = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    return (text or type(err).__name__)[:300]


@contextmanager
def reading(path: Path, what: str | None = None) -> Iterator[None]:
    """Turn any failure inside the block into a :class:`DamagedModelError`, cause ``what``."""
    try:
        yield
    except DamagedModelError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure here means a bad directory
        why = f"{what}: {_first_line(err)}" if what else f"{type(err).__name__}: {err}"
        raise damaged(path, why) from None


def write_model(
    path: str | Path,
    fmt: str,
    header: dict[str, Any],
    write_files: Callable[[Path], None],
    *,
    overwrite: bool = False,
) -> None:
    """Write ``header`` to ``config.json`` and ``write_files(tmp)`` into ``path``, atomically.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    ValueError
        If ``header`` holds NaN or infinite numbers.
    """
    state = {"format": fmt, "schema_version": SCHEMA_VERSION, "geneimpute_version": __version__}
    text = json.dumps({**state, **header}, indent=2, allow_nan=False)
    with atomic_directory(path, overwrite=overwrite) as tmp:
        (tmp / "config.json").write_text(text)
        write_files(tmp)


def read_model(path: str | Path, fmt: str) -> tuple[Path, dict[str, Any]]:
    """``(path, header)`` of a model directory of format ``fmt``, checked.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a directory with a ``config.json``.
    DamagedModelError
        If ``config.json`` is not valid JSON, of another format, or of another schema.
    """
    p = Path(path)
    if not p.is_dir() or not (p / "config.json").exists():
        msg = f"{p} is not a saved {fmt.split('.')[-1]}: config.json is missing"
        raise FileNotFoundError(msg)
    try:
        state = json.loads((p / "config.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise damaged(p, f"config.json is not valid JSON: {_first_line(err)}") from None
    if not isinstance(state, dict) or state.get("format") != fmt:
        raise damaged(p, f"config.json has no format {fmt!r}")
    schema = state.get("schema_version")
    if schema != SCHEMA_VERSION:
        written = state.get("geneimpute_version", "?")
        msg = (
            f"{p} is a model of schema version {schema!r} (written by geneimpute {written}); "
            f"this geneimpute ({__version__}) reads schema {SCHEMA_VERSION} only: train it "
            f"again with this version ({_RETRAIN.get(fmt, fmt.split('.')[-1] + '.fit')}) "
            "and save it"
        )
        raise DamagedModelError(msg)
    return p, state


def read_vector(state: dict, key: str, n: int, path: Path) -> np.ndarray:
    """``state[key]`` as ``n`` finite float64 numbers; :class:`DamagedModelError` otherwise."""
    v = np.asarray(state[key], dtype=np.float64)
    if v.shape != (n,) or not np.isfinite(v).all():
        raise damaged(path, f"state.{key} must be {n} finite numbers")
    return v


def load_file(path: Path, name: str, read: Callable[[Path], _T]) -> _T:
    """``read(path / name)``; :class:`DamagedModelError` if the file is missing or fails."""
    if not (path / name).exists():
        raise damaged(path, f"{name} is missing")
    with reading(path, f"{name} does not load"):
        return read(path / name)


def load_booster(path: Path, name: str) -> Any:
    """Load the XGBoost regressor saved as ``path / name``."""
    import xgboost as xgb

    model = xgb.XGBRegressor()
    load_file(path, name, model.load_model)
    return model


def load_weights(module: Any, path: Path, name: str, map_location: str = "cpu") -> Any:
    """Load the torch ``state_dict`` ``path / name`` into ``module`` (``weights_only=True``)."""
    import torch

    def read(file: Path) -> None:
        module.load_state_dict(torch.load(file, map_location=map_location, weights_only=True))

    load_file(path, name, read)
    return module

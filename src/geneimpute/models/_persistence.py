"""The one save/load of every model family: a versioned ``config.json`` plus array files.

``config.json``: ``format``, ``schema_version``, ``geneimpute_version``, ``config``, ``setup``,
``network``, ``state``; beside it torch ``state_dict`` s, XGBoost UBJ and ``.npz``/``.npy``
arrays (no pickle). The donor models save through the :class:`SavedModel` mixin.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import numpy as np

from .. import __version__
from .._core.io import atomic_directory
from .._docs import doc_params

_T = TypeVar("_T")
#: Schema of every model directory this version writes and reads.
SCHEMA_VERSION = 3
#: The donor models' file of fitted arrays.
ARRAYS = "arrays.npz"
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
    path: str | Path, fmt: str, header: dict, write_files: Callable, *, overwrite: bool = False
) -> None:
    """Write ``header`` to ``config.json`` and ``write_files(tmp)`` into ``path``, atomically."""
    state = {"format": fmt, "schema_version": SCHEMA_VERSION, "geneimpute_version": __version__}
    text = json.dumps({**state, **header}, indent=2, allow_nan=False)
    with atomic_directory(path, overwrite=overwrite) as tmp:
        (tmp / "config.json").write_text(text)
        write_files(tmp)


def read_model(path: str | Path, fmt: str) -> tuple[Path, dict[str, Any]]:
    """Return ``(path, header)`` of a checked model directory of format ``fmt``."""
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


def need(
    arrays: dict, name: str, path: Path, shape: Sequence, *, finite: bool = True
) -> np.ndarray:
    """Return ``arrays[name]`` if numbers of ``shape`` (None: any), finite unless not ``finite``."""
    a = arrays.get(name)
    if (
        a is None
        or a.dtype.kind not in "iuf"
        or a.ndim != len(shape)
        or any(n is not None and n != m for n, m in zip(shape, a.shape, strict=True))
        or (finite and not np.isfinite(a).all())
    ):
        dims = ", ".join("n" if n is None else str(n) for n in shape)
        kind = "finite numbers" if finite else "numbers"
        raise damaged(path, f"{ARRAYS}: {name} must be {kind} of shape ({dims})")
    return a


def _read_npz(file: Path) -> dict[str, np.ndarray]:
    with np.load(file, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


class SavedModel:
    """Mixin: ``save``/``load`` of a donor model (``FORMAT``, ``FITTED``, ``_restore``, ...)."""

    FORMAT: ClassVar[str]
    FITTED: ClassVar[str | None] = None
    ARRAYS: ClassVar[bool] = True

    def _shape(self) -> tuple[int, int]:
        return self.mu_.shape  # type: ignore[attr-defined]

    def _header(self) -> dict[str, Any]:
        """Entries of ``config.json`` over the defaults; ``config``: the constructor's arguments."""
        return {"config": {k: getattr(self, k) for k in inspect.signature(type(self)).parameters}}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {}

    def _write_files(self, tmp: Path) -> None:
        """Write the files other than ``config.json`` and ``arrays.npz`` into ``tmp``."""

    @classmethod
    def _new(cls, state: dict[str, Any]) -> Self:
        return cls(**state["config"])

    def _restore(
        self, path: Path, shape: tuple, state: dict, arrays: dict, map_location: str
    ) -> None:
        raise NotImplementedError

    @doc_params("model_save")
    def save(self, path: str | Path, *, overwrite: bool = False) -> None:
        """Write the fitted model to the directory ``path``, atomically (files: class docstring).

        {model_save}
        """
        if self.FITTED is not None and getattr(self, self.FITTED, None) is None:
            msg = f"this {type(self).__name__} is not fitted; call fit() first"
            raise RuntimeError(msg)
        T, G = self._shape()
        setup = {"n_tissues": int(T), "n_genes": int(G)}
        header = {"setup": setup, "config": {}, "network": None, "state": {}, **self._header()}
        arrays = self._arrays() if self.ARRAYS else {}

        def write_files(tmp: Path) -> None:
            if self.ARRAYS:
                np.savez_compressed(tmp / ARRAYS, allow_pickle=False, **arrays)
            self._write_files(tmp)

        write_model(path, self.FORMAT, header, write_files, overwrite=overwrite)

    @classmethod
    @doc_params("model_load_device")
    def load(cls, path: str | Path, *, map_location: str = "cpu") -> Self:
        """Load a model written by :meth:`save` (models without a network ignore ``map_location``).

        {model_load_device}
        """
        p, state = read_model(path, cls.FORMAT)
        arrays = load_file(p, ARRAYS, _read_npz) if cls.ARRAYS else {}
        with reading(p):
            model = cls._new(state)
            T, G = (int(state["setup"][k]) for k in ("n_tissues", "n_genes"))
            if T < 1 or G < 1:
                raise damaged(p, "setup.n_tissues and setup.n_genes must be >= 1")
            model._restore(p, (T, G), state, arrays, map_location)
        return model

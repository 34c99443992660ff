"""The one save/load of every model family: a versioned ``config.json`` plus array files.

``config.json``: ``format``, ``schema_version``, ``geneimpute_version``, ``config``, ``setup``,
``network``, ``state``; beside it torch ``state_dict`` s, XGBoost UBJ and ``.npz``/``.npy``
arrays (no pickle), and ``manifest.json`` (size and SHA-256 of every other file). Loading
checks the manifest, then every field of ``config.json`` against the family's typed schema
(:func:`check_json`). The donor models save through the :class:`SavedModel` mixin.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import is_dataclass
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar, get_args, get_origin, get_type_hints

import numpy as np

from .. import __version__
from .._core.io import MANIFEST, MANIFEST_FORMAT, atomic_directory
from .._docs import doc_params

_T = TypeVar("_T")
#: Schema of every model directory this version writes and reads.
SCHEMA_VERSION = 4
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


#: Rule and test of each leaf type of a :func:`check_json` schema.
_LEAVES: dict[type, tuple[str, Callable[[Any], bool]]] = {
    bool: ("true or false", lambda v: isinstance(v, bool)),
    int: ("an integer >= 0", lambda v: type(v) is int and v >= 0),
    float: ("a finite number", lambda v: type(v) in (int, float) and math.isfinite(v)),
    str: ("a string", lambda v: isinstance(v, str)),
    type(None): ("null", lambda v: v is None),
}


def _digest(file: Path) -> dict[str, Any]:
    with open(file, "rb") as f:
        return {"size": file.stat().st_size, "sha256": hashlib.file_digest(f, "sha256").hexdigest()}


def write_manifest(path: Path) -> None:
    """Write ``path / manifest.json``: the size and SHA-256 of every other file in ``path``."""
    files = {f.name: _digest(f) for f in sorted(path.iterdir()) if f.name != MANIFEST}
    text = json.dumps({"format": MANIFEST_FORMAT, "files": files}, indent=2)
    (path / MANIFEST).write_text(text + "\n")


def _check_manifest(p: Path) -> None:
    with reading(p, f"{MANIFEST} is missing or not valid"):
        listed = json.loads((p / MANIFEST).read_text())["files"]
        present = {f.name for f in p.iterdir()} - {MANIFEST}
        for name in sorted(set(listed) | present):
            if name not in present:
                raise damaged(p, f"{name} is missing")
            if name not in listed:
                raise damaged(p, f"{name} is not listed in {MANIFEST}")
            if listed[name] != _digest(p / name):
                raise damaged(p, f"{name} differs from its size or SHA-256 in {MANIFEST}")


def _spec(hint: Any) -> Any:
    """Return the :func:`check_json` schema of a type hint (``list[X]``: ``[X]``)."""
    args = get_args(hint)
    if get_origin(hint) is list:
        return [_spec(args[0])]
    return (_spec(args[0]), None) if args else hint


def fields_of(cls: Any) -> dict[str, Any]:
    """Return the :func:`check_json` schema of the type hints of ``cls`` (class or function)."""
    return {k: _spec(h) for k, h in get_type_hints(cls).items() if k != "return"}


def check_json(path: Path, name: str, value: Any, spec: Any) -> None:
    """Raise :class:`DamagedModelError` naming the field ``name`` unless ``value`` fits ``spec``.

    ``spec``: ``bool``, ``int`` (>= 0), ``float`` (finite), ``str``, ``NoneType``, ``[spec]``,
    ``(spec, None)`` (or null), a dict of fields, or a config dataclass (its fields' type hints,
    then its own checks of ranges and known values).
    """
    if isinstance(spec, tuple):
        if value is None:
            return
        spec = spec[0]
    if isinstance(spec, type) and spec in _LEAVES:
        rule, ok = _LEAVES[spec]
        if not ok(value):
            raise damaged(path, f"{name} must be {rule}, got {value!r:.40}")
    elif isinstance(spec, list):
        if not isinstance(value, list):
            raise damaged(path, f"{name} must be a list, got {value!r:.40}")
        for i, v in enumerate(value):
            check_json(path, f"{name}[{i}]", v, spec[0])
    else:
        config_class = is_dataclass(spec)
        fields = fields_of(spec) if config_class else spec
        if not isinstance(value, dict):
            raise damaged(path, f"{name} must be an object, got {value!r:.40}")
        bad = [f"{name}.{k}".lstrip(".") for k in sorted(set(value) ^ set(fields))]
        if bad:
            raise damaged(path, f"config.json has unknown or missing fields {bad}")
        for k, s in fields.items():
            check_json(path, f"{name}.{k}".lstrip("."), value[k], s)
        if config_class:
            with reading(path, name):
                spec(**value)


def write_model(
    path: str | Path, fmt: str, header: dict, write_files: Callable, *, overwrite: bool = False
) -> None:
    """Write ``header`` to ``config.json``, ``write_files(tmp)`` and the manifest, atomically."""
    state = {"format": fmt, "schema_version": SCHEMA_VERSION, "geneimpute_version": __version__}
    text = json.dumps({**state, **header}, indent=2, allow_nan=False)
    with atomic_directory(path, overwrite=overwrite) as tmp:
        (tmp / "config.json").write_text(text)
        write_files(tmp)
        write_manifest(tmp)


def read_model(path: str | Path, fmt: str, schema: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """Return ``(path, header)`` of a model directory of format ``fmt``, checked.

    Checked: the schema version, the manifest, then ``config.json`` against ``schema`` (the
    :func:`check_json` schemas of ``config``, ``setup``, ``network`` and ``state``).
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
    version = state.get("schema_version")
    if version != SCHEMA_VERSION:
        written = state.get("geneimpute_version", "?")
        msg = (
            f"{p} is a model of schema version {version!r} (written by geneimpute {written}); "
            f"this geneimpute ({__version__}) reads schema {SCHEMA_VERSION} only: train it "
            f"again with this version ({_RETRAIN.get(fmt, fmt.split('.')[-1] + '.fit')}) "
            "and save it"
        )
        raise DamagedModelError(msg)
    _check_manifest(p)
    top = {"format": str, "schema_version": int, "geneimpute_version": str, **schema}
    check_json(p, "", state, top)
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
    #: :func:`check_json` schema of ``network`` (``NoneType``: the model has none).
    NETWORK: ClassVar[Any] = type(None)

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
        setup = {"n_tissues": int, "n_genes": int}
        schema = {"config": fields_of(cls.__init__), "setup": setup, "network": cls.NETWORK}
        p, state = read_model(path, cls.FORMAT, {**schema, "state": {}})
        arrays = load_file(p, ARRAYS, _read_npz) if cls.ARRAYS else {}
        with reading(p):
            model = cls._new(state)
            T, G = (int(state["setup"][k]) for k in ("n_tissues", "n_genes"))
            if T < 1 or G < 1:
                raise damaged(p, "setup.n_tissues and setup.n_genes must be >= 1")
            model._restore(p, (T, G), state, arrays, map_location)
        return model

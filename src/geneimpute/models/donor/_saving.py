"""``save``/``load`` of the donor models, through :mod:`geneimpute.models._persistence`.

``config.json`` holds the constructor's hyperparameters (``config``), ``setup``
(``n_tissues``/``n_genes`` of the ``(donors, tissues, genes)`` array fitted on), ``network``
(the transformer's constructor arguments, or null) and ``state``; fitted arrays go to
``arrays.npz``, torch weights to ``network.pt``, XGBoost to ``xgboost.ubj`` (each class
docstring lists its files).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from ..._docs import doc_params
from .._persistence import damaged, load_file, read_model, reading, write_model

ARRAYS = "arrays.npz"


def need(
    arrays: dict[str, np.ndarray],
    name: str,
    path: Path,
    shape: Sequence[int | None],
    *,
    finite: bool = True,
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
    """Mixin: ``save``/``load`` of a donor model.

    A class names its ``FORMAT``, the attribute ``FITTED`` that ``fit`` sets (None: always
    fitted) and whether it writes ``arrays.npz`` (``ARRAYS``), and implements ``_shape``
    (``(n_tissues, n_genes)``), ``_header``, ``_arrays``, ``_write_files`` and ``_restore``.
    """

    FORMAT: ClassVar[str]
    FITTED: ClassVar[str | None] = None
    ARRAYS: ClassVar[bool] = True

    def _shape(self) -> tuple[int, int]:
        raise NotImplementedError

    def _header(self) -> dict[str, Any]:
        return {"config": {}, "network": None, "state": {}}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {}

    def _write_files(self, tmp: Path) -> None:
        """Write the files other than ``config.json`` and ``arrays.npz`` into ``tmp``."""

    @classmethod
    def _new(cls, state: dict[str, Any]) -> Self:
        return cls(**state["config"])

    def _restore(
        self,
        path: Path,
        shape: tuple[int, int],
        state: dict[str, Any],
        arrays: dict[str, np.ndarray],
        map_location: str,
    ) -> None:
        raise NotImplementedError

    @doc_params("model_save")
    def save(self, path: str | Path, *, overwrite: bool = False) -> None:
        """Write the fitted model to the directory ``path``, atomically (files: class docstring).

        Parameters
        ----------
        {model_save}
        """
        if self.FITTED is not None and getattr(self, self.FITTED, None) is None:
            msg = f"this {type(self).__name__} is not fitted; call fit() first"
            raise RuntimeError(msg)
        T, G = self._shape()
        header = {"setup": {"n_tissues": int(T), "n_genes": int(G)}, **self._header()}
        arrays = self._arrays() if self.ARRAYS else {}

        def write_files(tmp: Path) -> None:
            if self.ARRAYS:
                np.savez_compressed(tmp / ARRAYS, allow_pickle=False, **arrays)
            self._write_files(tmp)

        write_model(path, self.FORMAT, header, write_files, overwrite=overwrite)

    @classmethod
    @doc_params("model_load", "map_location", "model_load_raises")
    def load(cls, path: str | Path, *, map_location: str = "cpu") -> Self:
        """Load a model written by :meth:`save` (models without a network ignore ``map_location``).

        Parameters
        ----------
        {model_load}
        {map_location}

        {model_load_raises}
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

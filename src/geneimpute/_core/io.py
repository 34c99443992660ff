"""Atomic writes: a temporary file or directory beside the target, then ``os.replace``.

Temporaries are named ``.NAME.<pid>.<random>.tmp``; a write removes those of its target whose
process is gone (left by a SIGKILL), with a warning.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

#: The file that makes a directory a geneimpute model directory (see ``models._persistence``).
MANIFEST = "manifest.json"
#: Its ``format`` entry.
MANIFEST_FORMAT = "geneimpute.manifest"


def _check_parent(path: Path) -> None:
    if not path.parent.exists():
        msg = f"cannot write {path}: directory {path.parent} does not exist"
        raise FileNotFoundError(msg)
    if not path.parent.is_dir():
        msg = f"cannot write {path}: {path.parent} is not a directory"
        raise NotADirectoryError(msg)


def _set_mode(tmp: Path, target: Path, default: int) -> None:
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0o022)
        os.umask(umask)
        mode = default & ~umask
    os.chmod(tmp, mode)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        pass
    return True


def _temporary_prefix(p: Path) -> str:
    """``.NAME.<pid>.``, after removing ``p``'s temporaries of processes that are gone."""
    pattern = re.compile(rf"\.{re.escape(p.name)}\.(\d+)\.[^.]*\.tmp")
    stale = []
    for tmp in p.parent.iterdir():
        found = pattern.fullmatch(tmp.name)
        if found and os.name != "nt" and not _alive(int(found[1])):  # nt: kill would end it
            _remove(tmp)
            stale.append(tmp.name)
    if stale:
        msg = f"removed {len(stale)} temporary file(s) of an interrupted write of {p}: {stale}"
        warnings.warn(msg, UserWarning, stacklevel=4)
    return f".{p.name}.{os.getpid()}."


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary path in ``path``'s directory, then move it in place."""
    p = Path(path)
    _check_parent(p)
    fd, tmp_name = tempfile.mkstemp(prefix=_temporary_prefix(p), suffix=".tmp", dir=p.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        _set_mode(tmp, p, 0o666)
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return p


def write_h5ad_atomic(adata, path: str | Path, **kwargs) -> Path:
    """``adata.write_h5ad`` through :func:`atomic_write` (keyword arguments passed on)."""
    return atomic_write(path, lambda tmp: adata.write_h5ad(tmp, **kwargs))


def _is_model_directory(p: Path) -> bool:
    try:
        return json.loads((p / MANIFEST).read_text()).get("format") == MANIFEST_FORMAT
    except (OSError, ValueError, AttributeError, RecursionError):
        return False


@contextlib.contextmanager
def atomic_directory(path: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory beside ``path`` that replaces it on success.

    An existing ``path`` is replaced only with ``overwrite`` and only if it is a model
    directory (it holds a geneimpute ``manifest.json``); anything else is left as it is.
    """
    p = Path(path)
    if p.exists() or p.is_symlink():
        if not overwrite:
            msg = f"{p} exists; pass overwrite=True to replace it"
            raise FileExistsError(msg)
        if p.is_symlink() or not _is_model_directory(p):
            msg = (
                f"{p} exists and is not a geneimpute model directory (no {MANIFEST}), so "
                "overwrite=True does not replace it; choose another path or remove it yourself"
            )
            raise FileExistsError(msg)
    _check_parent(p)
    prefix = _temporary_prefix(p)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=p.parent))
    old = p.with_name(f"{prefix}old.tmp")
    try:
        yield tmp
        _set_mode(tmp, p, 0o777)
        if p.exists():
            os.replace(p, old)
        os.replace(tmp, p)
    finally:
        if old.exists() and not p.exists():  # the move failed: the previous model goes back
            os.replace(old, p)
        _remove(old)
        _remove(tmp)

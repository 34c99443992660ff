"""Atomic writes: a temporary file or directory beside the target, then ``os.replace``."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


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


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary path in ``path``'s directory, then move it in place."""
    p = Path(path)
    _check_parent(p)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        _set_mode(tmp, p, 0o666)
        os.replace(tmp, p)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return p


def write_h5ad_atomic(adata, path: str | Path, **kwargs) -> Path:
    """``adata.write_h5ad`` through :func:`atomic_write` (keyword arguments passed on)."""
    return atomic_write(path, lambda tmp: adata.write_h5ad(tmp, **kwargs))


@contextlib.contextmanager
def atomic_directory(path: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory beside ``path`` that replaces it on success."""
    p = Path(path)
    if p.exists() and not overwrite:
        msg = f"{p} exists; pass overwrite=True to replace it"
        raise FileExistsError(msg)
    _check_parent(p)
    tmp = Path(tempfile.mkdtemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent))
    try:
        yield tmp
        _set_mode(tmp, p, 0o777)
        old = None
        if p.exists():
            old = p.with_name(f".{p.name}.old-{os.getpid()}")
            os.replace(p, old)
        os.replace(tmp, p)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

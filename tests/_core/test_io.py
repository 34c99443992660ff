"""Atomic writes (geneimpute._core.io): an interrupted write leaves the previous file or none."""

import json

import anndata as ad
import numpy as np
import pytest

from geneimpute._core.io import atomic_directory, atomic_write, write_h5ad_atomic


class Interrupted(BaseException):
    """Stands in for KeyboardInterrupt in the middle of a write."""


def test_atomic_write_keeps_the_previous_file_when_interrupted(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text('{"old": 1}')

    def half_written(tmp):
        tmp.write_text('{"new": ')  # truncated
        raise Interrupted

    with pytest.raises(Interrupted):
        atomic_write(path, half_written)
    assert json.loads(path.read_text()) == {"old": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]  # no temporary left


def test_atomic_write_leaves_no_file_when_interrupted_before_the_first_write(tmp_path):
    def fail(tmp):
        raise Interrupted

    with pytest.raises(Interrupted):
        atomic_write(tmp_path / "new.json", fail)
    assert list(tmp_path.iterdir()) == []


def test_h5ad_written_atomically_round_trips(tmp_path, small):
    path = tmp_path / "x.h5ad"
    write_h5ad_atomic(small, path)
    back = ad.read_h5ad(path)
    assert np.array_equal(back.X, small.X) and list(back.var_names) == list(small.var_names)


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        atomic_write(tmp_path / "nope" / "x.json", lambda tmp: tmp.write_text("{}"))


MANIFEST = '{"format": "geneimpute.manifest", "files": {}}'


def test_model_directory_replaced_only_when_complete(tmp_path):
    path = tmp_path / "model"
    with atomic_directory(path) as tmp:
        (tmp / "config.json").write_text('{"v": 1}')
        (tmp / "manifest.json").write_text(MANIFEST)  # overwrite=True replaces model dirs only
    with pytest.raises(FileExistsError, match="overwrite=True"):
        with atomic_directory(path):
            pass
    with pytest.raises(Interrupted), atomic_directory(path, overwrite=True) as tmp:
        (tmp / "config.json").write_text('{"v": 2')
        raise Interrupted
    assert json.loads((path / "config.json").read_text()) == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    with atomic_directory(path, overwrite=True) as tmp:
        (tmp / "config.json").write_text('{"v": 3}')
        (tmp / "manifest.json").write_text(MANIFEST)
    assert json.loads((path / "config.json").read_text()) == {"v": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]

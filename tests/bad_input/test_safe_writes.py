"""Issue 31, item 8: ``save(overwrite=True)`` replaces only a model directory and leaves nothing
behind; temporaries of a killed write are removed by the next write to the same target.

Already holding, tested where they are: malicious pickles in a model directory
(``test_model_integrity.py::test_a_pickle_in_any_file_is_refused_without_running_it`` and
``tests/_adata/test_validation.py::test_malicious_pickle_in_network_is_refused``), path
traversal in pretrained names (``tests/models/test_pretrained.py::test_unknown_name``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from geneimpute._core import io
from geneimpute._core.io import atomic_write
from geneimpute.models import TissueMean

NOT_A_MODEL = r"exists and is not a geneimpute model directory \(no manifest.json\), so "


@pytest.fixture
def model():
    """A fitted TissueMean (file handling only: the numbers do not matter here)."""
    V = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4)
    return TissueMean().fit(V, np.arange(2))


def _entry(p):
    if p.is_symlink():
        return os.readlink(p)
    return None if p.is_dir() else p.read_bytes()


def _tree(root):
    """Every path under ``root`` (hidden ones included): its bytes, link target or None (a
    directory)."""
    return {str(p.relative_to(root)): _entry(p) for p in sorted(root.rglob("*"))}


def test_overwrite_refuses_a_directory_of_user_files(model, tmp_path):
    """A directory without a geneimpute manifest is not replaced, even with overwrite=True:
    one of plain files, and one whose manifest.json is a web app's."""
    mine = tmp_path / "results"
    (mine / "sub").mkdir(parents=True)
    (mine / "notes.txt").write_text("my own notes")
    (mine / "sub" / "table.csv").write_text("a,b\n1,2\n")
    web = tmp_path / "app"
    web.mkdir()
    (web / "manifest.json").write_text(json.dumps({"name": "my app", "files": {}}))
    before = _tree(tmp_path)
    for target in (mine, web):
        with pytest.raises(FileExistsError, match=rf"{target}.*{NOT_A_MODEL}") as err:
            model.save(target, overwrite=True)
        assert "remove it yourself" in str(err.value)
        assert _tree(tmp_path) == before  # files there, no temporary left
    with pytest.raises(FileExistsError, match=r"exists; pass overwrite=True to replace it"):
        model.save(mine)
    assert _tree(tmp_path) == before


def test_overwrite_refuses_a_file_and_a_symlink(model, tmp_path):
    """A file, a symlink to a model directory and a dangling symlink are not model
    directories: refused, unchanged, and no ``.NAME.old-<pid>`` or temporary left."""
    model.save(tmp_path / "real")
    (tmp_path / "file.txt").write_text("keep me")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    before = _tree(tmp_path)
    for name in ("file.txt", "link", "dangling"):
        with pytest.raises(FileExistsError, match=NOT_A_MODEL):
            model.save(tmp_path / name, overwrite=True)
    assert _tree(tmp_path) == before
    assert (tmp_path / "link").is_symlink() and (tmp_path / "dangling").is_symlink()


def test_overwriting_a_model_directory_leaves_nothing_behind(model, tmp_path, monkeypatch):
    path = tmp_path / "m"
    model.save(path)
    model.save(path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    assert TissueMean.load(path).mu_.shape == (3, 4)
    # the move of the new directory fails: the previous model is put back, nothing left over
    before = _tree(tmp_path)
    replace, calls = os.replace, []

    def failing_second_move(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("disk full")
        replace(src, dst)

    monkeypatch.setattr(io.os, "replace", failing_second_move)
    with pytest.raises(OSError, match="disk full"):
        model.save(path, overwrite=True)
    monkeypatch.undo()
    assert _tree(tmp_path) == before
    TissueMean.load(path)


def _killed_during_write(target, kind):
    """Run an atomic write of ``target`` in another process and SIGKILL it mid-write."""
    code = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from geneimpute._core.io import atomic_directory, atomic_write

        def stall(tmp):
            (tmp / "config.json" if tmp.is_dir() else tmp).write_text("half")
            print("writing", flush=True)
            time.sleep(60)

        if {kind!r} == "file":
            atomic_write({str(target)!r}, stall)
        else:
            with atomic_directory({str(target)!r}, overwrite=True) as tmp:
                stall(tmp)
        """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "writing\n"
    proc.kill()
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_temporaries_of_a_killed_write_are_removed_by_the_next_write(model, tmp_path, kind):
    """SIGKILL during a write leaves the previous target intact and a hidden
    ``.NAME.<pid>.<random>.tmp``; the next write to that target removes it, says so, and keeps
    what is not its own: another target's temporaries and those of a live process."""
    target = tmp_path / ("x.h5ad" if kind == "file" else "m")
    if kind == "file":
        target.write_text("previous")
    else:
        model.save(target)
    before = _tree(target) if kind == "directory" else target.read_bytes()
    pid = _killed_during_write(target, kind)
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith(f".{target.name}.{pid}.")]
    assert len(left) == 1 and left[0].endswith(".tmp"), left
    assert (_tree(target) if kind == "directory" else target.read_bytes()) == before
    others = [
        f".{target.name}.{os.getpid()}.live.tmp",  # this (live) process's
        f".other.{pid}.abc.tmp",  # another target's
        f".{target.name}.bak",  # not a temporary
    ]
    for name in others:
        (tmp_path / name).write_text("keep")
    match = rf"removed 1 temporary file\(s\) of an interrupted write of {re.escape(str(target))}"
    with pytest.warns(UserWarning, match=rf"{match}: \['{re.escape(left[0])}'\]"):
        if kind == "file":
            atomic_write(target, lambda tmp: tmp.write_text("new"))
        else:
            model.save(target, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, *others])
    if kind == "file":
        assert target.read_text() == "new"
    else:
        TissueMean.load(target)

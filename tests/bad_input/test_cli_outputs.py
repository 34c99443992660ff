"""The ``geneimpute`` command refuses output paths that are not a regular file or a new path
(a device, a FIFO, a symbolic link), and names an unreadable input file. One line on stderr,
exit code 2, no work started and the path left as it was."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import geneimpute as ge
from geneimpute.cli import main

BASE = ["--no-progress", "--accelerator", "cpu"]
DEVICE = "/dev/null"


def _must_not_run(*args, **kwargs):
    raise AssertionError("work started although an output path was refused")


@pytest.fixture
def special(tmp_path, request):
    """A FIFO, a symbolic link to a regular file, or a character device (``/dev/null``)."""
    if request.param == "device":
        assert stat.S_ISCHR(os.stat(DEVICE).st_mode)
        return Path(DEVICE)
    path = tmp_path / request.param
    if request.param == "fifo":
        os.mkfifo(path)
    else:
        (tmp_path / "target.h5ad").write_text("the user's file")
        os.symlink(tmp_path / "target.h5ad", path)
    return path


def _state(path: Path):
    """What the path is (mode from lstat) and, for a link, where it points and what it holds."""
    mode = stat.S_IFMT(os.lstat(path).st_mode)
    return (mode, os.readlink(path), path.read_text()) if path.is_symlink() else (mode,)


@pytest.mark.parametrize("special", ["fifo", "symlink", "device"], indirect=True)
@pytest.mark.parametrize(
    ("command", "option"),
    [
        ("demo", "--output"),
        ("demo", "--json"),
        ("impute", "--output"),
        ("predict", "--output"),
    ],
)
def test_a_special_output_path_is_refused(special, command, option, tmp_path, capsys, monkeypatch):
    for name in ("train", "impute_expression", "predict_profiles"):
        monkeypatch.setattr(ge.tl, name, _must_not_run)
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "in.h5ad"
    source.write_text("input")
    args = {
        "demo": ["demo", "--output", "d.h5ad"],
        "impute": ["impute", str(source), "--output", "o.h5ad"],
        "predict": ["predict", "--fasta", str(source), "--output", "o.h5ad"],
    }[command]
    if option in args:
        args[args.index(option) + 1] = str(special)
    else:
        args += [option, str(special)]
    before = _state(special)
    assert main([*BASE, *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"geneimpute: error: {option} {special}: is a symbolic link or a special file (device, "
        "FIFO, socket), not a regular file; give a regular file or a new path\n"
    )
    assert _state(special) == before
    assert source.read_text() == "input"


def test_a_symlink_as_save_model_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ge.tl, "impute_expression", _must_not_run)
    source, link = tmp_path / "in.h5ad", tmp_path / "model"
    source.write_text("input")
    os.symlink(tmp_path / "nowhere", link)  # dangling: Path.exists() is False
    rc = main(
        [*BASE, "impute", str(source), "-o", str(tmp_path / "o.h5ad"), "--save-model", str(link)]
    )
    assert rc == 2
    assert capsys.readouterr().err == (
        f"geneimpute: error: --save-model {link}: exists; choose a new directory\n"
    )
    assert os.readlink(link) == str(tmp_path / "nowhere")


def test_predict_names_a_fasta_that_is_not_text(tmp_path, capsys):
    fasta = tmp_path / "random.bin"
    fasta.write_bytes(bytes(range(128, 256)) * 20)
    rc = main([*BASE, "predict", "--fasta", str(fasta), "-o", str(tmp_path / "o.h5ad")])
    assert rc == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("geneimpute: error: random.bin is not a text FASTA file (byte 0")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["random.bin"]  # no index left

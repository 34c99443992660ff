"""The ``geneimpute`` command: argument checks, errors, warnings, atomic output, signals.

A tiny model is trained once (chr21/22 subset, neighbours only, one epoch) and saved, so each
``impute`` run only loads and applies it; the signal tests run ``python -m geneimpute.cli`` in a
real process and interrupt it while it reads, works and writes.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import geneimpute as ge
from geneimpute.cli import build_parser, main
from geneimpute.cli._signals import Interrupted, Signals

from ..conftest import hold_out

#: smallest model that exercises the whole hybrid (trains in seconds on 2 CPU cores)
TINY = {
    "features": ["neighbors"],
    "max_epochs": 1,
    "n_folds": 2,
    "xgb_n_estimators": 10,
    "embedding_dim": 4,
    "k_neighbors": 5,
    "k_idw": 5,
    "accelerator": "cpu",
}
BASE = ["--no-progress", "--accelerator", "cpu"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """``(model_dir, adata, held)``: a tiny model trained on chr21/22 with 30 genes held out."""
    adata, _, held = hold_out(30)
    model = ge.tl.train(adata, **TINY)
    path = tmp_path_factory.mktemp("cli_model") / "model"
    model.save(path)
    return path, adata, held


@pytest.fixture
def infile(saved, tmp_path):
    """A fresh ``in.h5ad`` (the held-out AnnData) in an empty directory."""
    _, adata, _ = saved
    path = tmp_path / "in.h5ad"
    adata.write_h5ad(path)
    return path


def _lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


def _assert_original(path: Path, adata) -> None:
    back = ad.read_h5ad(path)
    np.testing.assert_array_equal(back.X, adata.X)  # NaN compare equal here
    assert "imputed" not in back.layers


def _assert_complete(path: Path, adata, held) -> None:
    back = ad.read_h5ad(path)
    np.testing.assert_array_equal(back.X, adata.X)
    assert back.layers["imputed_mask"][:, held].all()
    assert not back.layers["imputed_mask"][:, ~held].any()
    assert np.isfinite(back.layers["imputed"][:, held]).all()


def _no_temporaries(directory: Path) -> None:
    assert sorted(p.name for p in directory.glob(".*")) == []


# --- arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--holdout", "1.5"], r"argument --holdout: must be a number strictly between 0 and 1"),
        (["--holdout", "-0.1"], r"argument --holdout: .*got '-0\.1'"),
        (["--holdout", "nan"], r"argument --holdout: .*got 'nan'"),
        (["--holdout", "inf"], r"argument --holdout: .*got 'inf'"),
        (["--holdout", "0"], r"argument --holdout: .*got '0'"),
        (["--holdout", "1"], r"argument --holdout: .*got '1'"),
        (["--holdout", "ten"], r"argument --holdout: .*got 'ten'"),
        (["--k-distance", "0"], r"argument --k-distance: must be an integer >= 1, got '0'"),
        (["--k-distance", "2.5"], r"argument --k-distance: .*got '2\.5'"),
        (["--seed", "-1"], r"argument --seed: must be an integer between 0 and 4294967295"),
        (["--seed", "1.5"], r"argument --seed: .*got '1\.5'"),
        (["--seed", "x"], r"argument --seed: .*got 'x'"),
    ],
)
def test_demo_rejects_bad_arguments(args, match, capsys, monkeypatch):
    monkeypatch.setattr(ge.tl, "train", _must_not_run)
    with pytest.raises(SystemExit) as exc:
        main([*BASE, "demo", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: geneimpute demo")
    assert [ln for ln in _lines(err) if "error" in ln] == [_lines(err)[-1]]
    assert _lines(err)[-1].startswith("geneimpute demo: error: ")
    assert re.search(match, err), err


def _must_not_run(*args, **kwargs):
    raise AssertionError("training started although the command line was invalid")


def test_demo_holdout_of_no_gene_is_refused(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(ge.tl, "train", _must_not_run)
    monkeypatch.chdir(tmp_path)
    assert main([*BASE, "demo", "--holdout", "1e-6"]) == 2
    assert re.fullmatch(
        r"geneimpute: error: --holdout 1e-06 holds out 0 of \d+ genes; at least 1 must be held "
        r"out and 20 kept for training\n",
        capsys.readouterr().err,
    )
    assert list(tmp_path.iterdir()) == []


def test_impute_units_flags_are_tristate():
    p = build_parser()
    assert p.parse_args(["impute", "a.h5ad", "-o", "b.h5ad"]).is_log1p is None
    assert p.parse_args(["impute", "a.h5ad", "-o", "b.h5ad", "--is-log1p"]).is_log1p is True
    assert p.parse_args(["impute", "a.h5ad", "-o", "b.h5ad", "--tpm"]).is_log1p is False
    with pytest.raises(SystemExit):
        p.parse_args(["impute", "a.h5ad", "-o", "b.h5ad", "--tpm", "--is-log1p"])


@pytest.mark.parametrize("option", ["--output", "--json"])
def test_demo_output_in_missing_directory_fails_before_training(
    option, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(ge.tl, "train", _must_not_run)
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "no" / "such" / "m.out"
    rc = main([*BASE, "demo", "--quick", option, str(bad)])
    out, err = capsys.readouterr()
    assert rc == 2
    assert out == ""
    assert _lines(err) == [
        f"geneimpute: error: {option} {bad}: directory '{bad.parent}' does not exist"
    ]
    assert list(tmp_path.iterdir()) == []


def test_demo_output_same_as_json_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ge.tl, "train", _must_not_run)
    f = str(tmp_path / "x")
    assert main([*BASE, "demo", "-o", f, "--json", f]) == 2
    assert "--json and --output name the same file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["-o", "{d}/missing/out.h5ad"], r"--output .*: directory '.*missing' does not exist"),
        (["-o", "{d}"], r"--output .*: is a directory"),
        (
            ["-o", "{d}/o.h5ad", "--model", "{d}/nomodel"],
            r"--model .*: neither a model directory nor a pretrained model",
        ),
        (["-o", "{d}/o.h5ad", "--save-model", "{d}"], r"--save-model .*: exists"),
        (["-o", "{d}/o.h5ad", "--save-model", "{d}/a/b"], r"--save-model .*does not exist"),
        (
            ["-o", "{d}/o.h5ad", "--model", "{model}", "--save-model", "{d}/new"],
            r"cannot be used with --model",
        ),
    ],
)
def test_impute_bad_paths_fail_before_any_work(extra, match, saved, infile, capsys, monkeypatch):
    monkeypatch.setattr(ge.tl, "impute_expression", _must_not_run)
    d = infile.parent
    extra = [a.format(d=d, model=saved[0]) for a in extra]
    rc = main([*BASE, "impute", str(infile), *extra])
    err = _lines(capsys.readouterr().err)
    assert rc == 2
    assert len(err) == 1
    assert err[0].startswith("geneimpute: error: ")
    assert re.search(match, err[0]), err[0]
    assert sorted(p.name for p in d.iterdir()) == ["in.h5ad"]


def test_impute_missing_or_unreadable_input(tmp_path, capsys):
    rc = main([*BASE, "impute", str(tmp_path / "nope.h5ad"), "-o", str(tmp_path / "o.h5ad")])
    assert rc == 2
    assert _lines(capsys.readouterr().err) == [
        f"geneimpute: error: input file '{tmp_path / 'nope.h5ad'}' does not exist"
    ]
    text = tmp_path / "table.h5ad"
    text.write_text("gene\ttpm\n")
    rc = main([*BASE, "impute", str(text), "-o", str(tmp_path / "o.h5ad")])
    err = _lines(capsys.readouterr().err)
    assert rc == 2
    assert len(err) == 1
    assert err[0].startswith(f"geneimpute: error: cannot read {text} as .h5ad: ")
    assert not (tmp_path / "o.h5ad").exists()


# --- errors and warnings of the package ---------------------------------------------------


def test_impute_reports_package_errors_in_one_line(saved, infile, capsys):
    model, adata, _ = saved
    out = infile.parent / "o.h5ad"
    rc = main(
        [*BASE, "impute", str(infile), "-o", str(out), "--model", str(model), "--genes", "nope"]
    )
    err = _lines(capsys.readouterr().err)
    assert rc == 2
    assert len(err) == 1
    assert err[0].startswith("geneimpute: error: ") and "nope" in err[0]
    assert not err[0].startswith("geneimpute: error: '")  # KeyError text without repr quotes
    assert not out.exists()
    _assert_original(infile, adata)


def test_impute_reports_damaged_model(saved, infile, tmp_path, capsys):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for f in saved[0].iterdir():
        (damaged / f.name).write_bytes(f.read_bytes())
    (damaged / "config.json").write_text('{"format": "geneimpute.HybridImputer"')
    out = tmp_path / "o.h5ad"
    rc = main([*BASE, "impute", str(infile), "-o", str(out), "--model", str(damaged)])
    err = _lines(capsys.readouterr().err)
    assert rc == 2
    assert len(err) == 1
    assert "damaged or from another version" in err[0]
    assert not out.exists()


def test_impute_without_targets_leaves_input(small, tmp_path, capsys):
    src = tmp_path / "in.h5ad"
    small.write_h5ad(src)
    rc = main([*BASE, "impute", str(src), "-o", str(tmp_path / "o.h5ad")])
    assert rc == 2
    assert "no genes to impute" in capsys.readouterr().err
    assert not (tmp_path / "o.h5ad").exists()
    np.testing.assert_array_equal(ad.read_h5ad(src).X, small.X)


def test_impute_shows_data_warnings_as_one_line(saved, tmp_path, capsys):
    model, adata, held = saved
    extra = ad.AnnData(
        np.vstack([adata.X, adata.X[:1]]),
        obs=pd.DataFrame(index=[*adata.obs_names, "Not_A_Model_Tissue"]),
        var=adata.var,
    )
    src = tmp_path / "in.h5ad"
    extra.write_h5ad(src)
    rc = main([*BASE, "impute", str(src), "-o", str(src), "--model", str(model)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert _lines(err) == [
        "geneimpute: warning: 1 tissues of adata are not among the model's tissues and are not "
        "imputed: ['Not_A_Model_Tissue']"
    ]
    assert f"of {int(held.sum())} genes" in out


# --- results ------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", [[], ["--tpm"]])
def test_impute_in_place_with_model(flag, saved, infile, capsys, monkeypatch):
    """``-o`` = input: replaced by the complete result, keeping the file's permissions."""
    model, adata, held = saved
    seen = _spy(monkeypatch)
    infile.chmod(0o640)
    rc = main([*BASE, "impute", str(infile), "-o", str(infile), "--model", str(model), *flag])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert _lines(err) == []
    assert seen["is_log1p"] is (False if flag else None)  # None: the model's units (TPM)
    assert f"imputed {int(held.sum()) * adata.n_obs} values of {int(held.sum())} genes" in out
    assert not ad.read_h5ad(infile).uns["imputed"]["params"]["is_log1p"]
    assert stat.S_IMODE(infile.stat().st_mode) == 0o640
    _assert_complete(infile, adata, held)
    _no_temporaries(infile.parent)


def test_impute_is_log1p_flag_reaches_the_checks(saved, infile, capsys, monkeypatch):
    """``--is-log1p`` on TPM values: the package's unit check refuses, the input stays."""
    model, adata, _ = saved
    seen = _spy(monkeypatch)
    rc = main(
        [*BASE, "impute", str(infile), "-o", str(infile), "--model", str(model), "--is-log1p"]
    )
    err = _lines(capsys.readouterr().err)
    assert rc == 2
    assert seen["is_log1p"] is True
    assert len(err) == 1
    assert re.match(r"geneimpute: error: adata\.X is declared log1p\(TPM\)", err[0]), err
    _assert_original(infile, adata)
    _no_temporaries(infile.parent)


def _spy(monkeypatch) -> dict:
    seen: dict = {}
    real = ge.tl.impute_expression

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(ge.tl, "impute_expression", spy)
    return seen


def test_new_output_file_follows_umask(saved, infile):
    old = os.umask(0o027)
    try:
        out = infile.parent / "o.h5ad"
        assert main([*BASE, "impute", str(infile), "-o", str(out), "--model", str(saved[0])]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def _impute_with(work, saved, infile, monkeypatch) -> tuple[int, Path]:
    """Run ``impute`` in-process with ``work`` as ``tl.impute_expression``; handlers restored."""
    monkeypatch.setattr(ge.tl, "impute_expression", work)
    before = {
        s: signal.signal(s, signal.default_int_handler) for s in (signal.SIGINT, signal.SIGTERM)
    }
    hook = sys.unraisablehook
    try:
        out = infile.parent / "o.h5ad"
        rc = main([*BASE, "impute", str(infile), "-o", str(out), "--model", str(saved[0])])
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert signal.getsignal(signal.SIGTERM) is signal.default_int_handler
        assert sys.unraisablehook is hook
    finally:
        for s, h in before.items():
            signal.signal(s, h)
    return rc, out


@pytest.mark.parametrize("converted", [False, True])
@pytest.mark.parametrize(
    ("signum", "status", "line"),
    [
        (signal.SIGINT, 130, "geneimpute: interrupted"),
        (signal.SIGTERM, 143, "geneimpute: terminated"),
    ],
)
def test_signal_during_work_is_one_line(
    signum, status, line, converted, saved, infile, capsys, monkeypatch
):
    """A signal while imputing, raised through or turned into an error by C code (h5py does
    that inside its callbacks): one line, its exit status, no output, handlers restored."""
    _, adata, _ = saved

    def work(*args, **kwargs):
        try:
            signal.raise_signal(signum)  # the handler raises here
            time.sleep(5)
        except BaseException as err:
            if converted:
                msg = "Operation not defined for data type class"
                raise TypeError(msg) from err
            raise
        raise AssertionError("no handler was installed")

    rc, out = _impute_with(work, saved, infile, monkeypatch)
    assert rc == status
    assert _lines(capsys.readouterr().err) == [line]
    assert not out.exists()
    _assert_original(infile, adata)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_startup_imports_is_acted_on_after_them(signum):
    """torch runs Python from C++ while it imports; an exception raised there by the handler
    makes pybind11 abort the process (SIGABRT). The CLI's imports hold the signal back and it
    is acted on as soon as they have finished."""
    before = {
        s: signal.signal(s, signal.default_int_handler) for s in (signal.SIGINT, signal.SIGTERM)
    }
    sig = Signals()
    finished = []
    try:
        with pytest.raises(Interrupted) as exc, sig.installed(restore=True):
            with sig.deferred():
                signal.raise_signal(signum)  # the import carries on
                finished.append("import")
            finished.append("after")  # not reached
    finally:
        for s, h in before.items():
            signal.signal(s, h)
    assert finished == ["import"]
    assert exc.value.signum == sig.received == signum
    assert not isinstance(exc.value, KeyboardInterrupt)  # see Interrupted


@pytest.mark.parametrize(
    ("signum", "status", "line"),
    [
        (signal.SIGINT, 130, "geneimpute: interrupted"),
        (signal.SIGTERM, 143, "geneimpute: terminated"),
    ],
)
def test_signal_in_a_finalizer_is_delivered_again(
    signum, status, line, saved, infile, capsys, monkeypatch
):
    """Python only reports an exception raised in a finalizer ("Exception ignored in ...",
    a traceback) and carries on: the signal is sent again and stops the run with one line."""

    class Finalized:
        def __del__(self):
            signal.raise_signal(signum)  # the handler raises here, inside the finalizer

    def work(*args, **kwargs):
        Finalized()  # collected at once
        time.sleep(5)  # the signal, sent again, ends the sleep
        raise AssertionError("the signal was lost in the finalizer")

    t0 = time.monotonic()
    rc, out = _impute_with(work, saved, infile, monkeypatch)
    assert time.monotonic() - t0 < 4
    assert rc == status
    assert _lines(capsys.readouterr().err) == [line]
    assert not out.exists()
    _assert_original(infile, saved[1])


def test_signals_while_unwinding_are_ignored(saved, infile, capsys, monkeypatch):
    """Ctrl-C pressed again (or a SIGTERM) while the first one unwinds: still one line."""

    def work(*args, **kwargs):
        try:
            signal.raise_signal(signal.SIGINT)
        finally:
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGTERM)

    rc, out = _impute_with(work, saved, infile, monkeypatch)
    assert rc == 130
    assert _lines(capsys.readouterr().err) == ["geneimpute: interrupted"]
    assert not out.exists()
    _assert_original(infile, saved[1])


# --- a real process, interrupted ----------------------------------------------------------


def _start(args: list[str]) -> subprocess.Popen:
    # a terminal user's process: SIGINT/SIGTERM at their default even if pytest runs in a
    # background job (which starts children with SIGINT ignored)
    def reset():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    return subprocess.Popen(
        [sys.executable, "-m", "geneimpute.cli", *BASE, "impute", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=reset,
    )


def _started(proc: subprocess.Popen, infile: Path, timeout: float = 120) -> bool:
    """Wait until ``main`` runs: the input is open or torch is loaded (Linux ``/proc``)."""
    target = str(infile.resolve())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            fd_dir = f"/proc/{proc.pid}/fd"
            for fd in os.listdir(fd_dir):
                with_path = os.readlink(f"{fd_dir}/{fd}")
                if with_path == target:
                    return True
            with open(f"/proc/{proc.pid}/maps") as f:
                if "libtorch" in f.read():
                    return True
        except OSError:
            pass
        time.sleep(0.002)
    return False


def _writing(proc: subprocess.Popen, directory: Path, timeout: float = 120) -> None:
    """Wait until the temporary output file has content (or the process ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        tmp = list(directory.glob(".*.tmp"))
        if any(p.exists() and p.stat().st_size > 0 for p in tmp):
            return
        time.sleep(0.001)


def _interrupt(proc, directory, infile, when, signum=signal.SIGINT):
    if when == "write":
        _writing(proc, directory)
    else:
        assert _started(proc, infile), proc.communicate()
        time.sleep(when)
    if proc.poll() is None:
        proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="watches /proc")
def test_interrupted_process_keeps_input(saved, infile):
    """``impute X -o X`` interrupted while reading, working and writing: X stays readable."""
    model, adata, held = saved
    codes = []
    for when in (0.0, 1.0, "write"):
        proc = _start([str(infile), "-o", str(infile), "--model", str(model)])
        rc, out, err = _interrupt(proc, infile.parent, infile, when)
        codes.append(rc)
        assert "Traceback" not in err, err
        if rc == 130:
            assert _lines(err) == ["geneimpute: interrupted"], err
            back = ad.read_h5ad(infile)
            if "imputed" in back.layers:  # signal came after the replace
                _assert_complete(infile, adata, held)
            else:
                _assert_original(infile, adata)
        else:
            assert rc == 0, (rc, err)
            assert _lines(err) == []
            _assert_complete(infile, adata, held)
        _no_temporaries(infile.parent)
        adata.write_h5ad(infile)  # start the next run from the original again
    assert codes[:2] == [130, 130]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="watches /proc")
@pytest.mark.parametrize(
    ("signum", "when", "status", "line"),
    [
        (signal.SIGINT, 0.3, 130, "geneimpute: interrupted"),
        (signal.SIGINT, "write", 130, "geneimpute: interrupted"),
        (signal.SIGTERM, "write", 143, "geneimpute: terminated"),
    ],
)
def test_interrupted_process_leaves_previous_output(
    signum, when, status, line, saved, infile, tmp_path
):
    """A separate output is the previous one or the complete new one, never partial."""
    model, adata, held = saved
    out = infile.parent / "out.h5ad"
    previous = adata.copy()
    previous.uns["previous_run"] = 1
    previous.write_h5ad(out)
    proc = _start([str(infile), "-o", str(out), "--model", str(model)])
    rc, stdout, err = _interrupt(proc, infile.parent, infile, when, signum)
    assert "Traceback" not in err, err
    if when != "write":
        assert rc == status, err
    assert rc in (status, 0), (rc, err)
    back = ad.read_h5ad(out)
    if rc == status:
        assert _lines(err) == [line]
    if "previous_run" in back.uns:
        assert rc == status
        assert "imputed" not in back.layers
    else:
        _assert_complete(out, adata, held)
    _assert_original(infile, adata)
    _no_temporaries(infile.parent)

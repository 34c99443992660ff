"""Bad-input cases that held before issue 31, kept with a test each: no pickle code runs,
pretrained names cannot leave the package, interrupted and concurrent writes leave complete
files, observed values are never changed, the same seed gives the same numbers."""

from __future__ import annotations

import pickle
import shutil
import threading

import anndata as ad
import numpy as np
import pytest

import geneimpute as ge
from geneimpute._core.io import atomic_write, write_h5ad_atomic
from geneimpute.models._pretrained import pretrained_path

from ..conftest import assert_unchanged, hold_out

HYBRID = "gtex_v8_37tissues"


class _Payload:
    """Unpickling this creates ``path``: proof that code ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture(scope="module")
def missing():
    return hold_out(30)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("name", ["network.pt", "calibration.npz", "config.json"])
def test_malicious_pickle_in_a_model_file_runs_no_code(tmp_path, name):
    model_dir = tmp_path / "model"
    shutil.copytree(pretrained_path(HYBRID), model_dir)
    proof = tmp_path / "pwned"
    (model_dir / name).write_bytes(pickle.dumps(_Payload(proof)))
    with pytest.raises(ge.models.DamagedModelError, match="damaged or from another version"):
        ge.models.HybridImputer.load(model_dir)
    assert not proof.exists()


@pytest.mark.parametrize("name", ["../_weights", "../../../etc/passwd", "/tmp", ""])
def test_pretrained_names_cannot_leave_the_package(missing, name):
    adata = missing[0].copy()
    before = adata.copy()
    with pytest.raises(KeyError, match="no pretrained model named"):
        ge.models.pretrained(name)
    # a name is read as a path relative to the working directory, never inside the package
    with pytest.raises(FileNotFoundError, match="nor a pretrained model|config.json is missing"):
        ge.tl.impute_expression(adata, model=name)
    assert_unchanged(adata, before)


def test_an_interrupted_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("previous")

    def interrupted(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, interrupted)
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_two_writers_to_one_output_leave_a_complete_file(tmp_path):
    target = tmp_path / "out.h5ad"
    tables = [ad.AnnData(np.full((3, 400), float(i), dtype=np.float32)) for i in (1, 2)]
    writers = [threading.Thread(target=write_h5ad_atomic, args=(t, target)) for t in tables]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    back = ad.read_h5ad(target)
    assert back.shape == (3, 400) and np.unique(back.X).size == 1  # one writer's, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5ad"]


def test_observed_values_stay_bit_identical_and_same_seed_same_numbers(missing):
    adata, _, held = missing
    runs = [ge.tl.impute_expression(adata, model=HYBRID, copy=True) for _ in range(2)]
    observed = np.isfinite(adata.X)
    for out in runs:
        assert np.array_equal(out.layers["imputed"][observed], adata.X[observed])
        assert np.isfinite(out.layers["imputed"][:, held]).all()
    for key in ("imputed", "imputed_lower", "imputed_upper"):
        assert np.array_equal(runs[0].layers[key], runs[1].layers[key], equal_nan=True)

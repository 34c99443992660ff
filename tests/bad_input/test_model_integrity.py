"""Issue 31, item 3: a saved model directory of every family is integrity-checked on load.

A flipped byte in any file, a file swapped in from another model, a missing or extra file, any
field of ``config.json`` set to a wrong type or range (also with the manifest re-hashed to match,
as a careful forger would) and a deeply nested ``config.json`` are refused with a
:class:`DamagedModelError` naming the file or field, and the directory is left as it was.
"""

from __future__ import annotations

import json
import pickle
import re
import shutil
from pathlib import Path

import pytest

import geneimpute as ge
from geneimpute.models import (
    DamagedModelError,
    DonorHybrid,
    DonorTransformer,
    HybridImputer,
    KNNDonor,
    RegulatorImputer,
    TEEBoT,
    TissueMean,
)
from geneimpute.models._persistence import write_manifest
from geneimpute.models._pretrained import PRETRAINED, pretrained_path

from ..models.test_donor import fitted, panel  # noqa: F401 - the donor models' fixtures

DAMAGED = "this model directory is damaged or from another version"
FIXTURES = Path(__file__).parents[1] / "data" / "models"
CLASSES = {
    c.__name__: c
    for c in (
        HybridImputer,
        RegulatorImputer,
        TissueMean,
        KNNDonor,
        TEEBoT,
        DonorTransformer,
        DonorHybrid,
    )
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory, one_thread, fitted):  # noqa: F811 - fitted is imported
    """``{family: directory}``: the committed schema-4 hybrid saved again by this version, a
    tiny regulator model (with the context ridge's ``context.npy``) and each donor model
    (``fitted``: as tests/models/test_donor.py fits them)."""
    root = tmp_path_factory.mktemp("saved")
    models = dict(fitted)
    models["HybridImputer"] = HybridImputer.load(FIXTURES / "hybrid_schema4")
    tf = ge.datasets.gtex_tf_samples()[:150].copy()
    small = {"hidden": [8], "autoencoder_width": 16, "context_folds": 2, "patience": 1}
    models["RegulatorImputer"] = ge.tl.train_regulators(
        tf, max_epochs=2, autoencoder_epochs=2, random_state=0, **small
    )
    for name, model in models.items():
        model.save(root / name)
    return {name: root / name for name in CLASSES}


def _files(path):
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


@pytest.fixture(params=list(CLASSES))
def family(request, saved, tmp_path):
    """``(class, a copy of its saved directory)``."""
    shutil.copytree(saved[request.param], tmp_path / "m")
    return CLASSES[request.param], tmp_path / "m"


def _refused(cls, path, match):
    before = _files(path)
    with pytest.raises(DamagedModelError, match=f"{DAMAGED}: .*{match}"):
        cls.load(path)
    assert _files(path) == before


def test_every_family_writes_a_manifest_of_every_file(family):
    cls, path = family
    listed = json.loads((path / "manifest.json").read_text())
    assert listed["format"] == "geneimpute.manifest"
    assert set(listed["files"]) == {p.name for p in path.iterdir()} - {"manifest.json"}
    assert "config.json" in listed["files"]
    assert type(cls.load(path)) is cls


def test_a_flipped_byte_in_any_file_is_refused(family):
    cls, path = family
    for file in sorted(path.iterdir()):
        data = bytearray(file.read_bytes())
        data[len(data) // 2] ^= 0xFF
        file.write_bytes(bytes(data))
        _refused(cls, path, re.escape(file.name))
        data[len(data) // 2] ^= 0xFF
        file.write_bytes(bytes(data))
    cls.load(path)  # restored: it loads again


def test_a_pickle_in_any_file_is_refused_without_running_it(family, tmp_path):
    """Malicious pickles, in place of each file, with and without a re-hashed manifest: refused
    (by the manifest, or by loading with ``weights_only`` / ``allow_pickle=False``), and the
    payload never runs."""
    cls, path = family
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Evil(marker), protocol=2)
    for file in sorted(path.iterdir()):
        original = file.read_bytes()
        file.write_bytes(payload)
        _refused(cls, path, "")
        if file.name != "manifest.json":
            write_manifest(path)
            _refused(cls, path, "")
        file.write_bytes(original)
        write_manifest(path)
        assert not marker.exists(), file.name
    cls.load(path)


class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_missing_extra_and_unlisted_files_are_refused(family):
    cls, path = family
    (path / "notes.txt").write_text("my notes")
    _refused(cls, path, r"notes.txt is not listed in manifest.json")
    (path / "notes.txt").unlink()
    network = next(
        p for p in sorted(path.iterdir()) if p.name not in ("config.json", "manifest.json")
    )
    kept = network.read_bytes()
    network.unlink()
    _refused(cls, path, rf"{re.escape(network.name)} is missing")
    network.write_bytes(kept)
    manifest = (path / "manifest.json").read_bytes()
    (path / "manifest.json").unlink()
    _refused(cls, path, r"manifest.json is missing or not valid")
    (path / "manifest.json").write_bytes(manifest)
    cls.load(path)


def _leaves(value, where=()):
    """Paths of the leaves of a JSON value; of a list, its first and last element (every element
    goes through the same check); an empty list or object is a leaf itself."""
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from _leaves(v, (*where, k))
    elif isinstance(value, list) and value:
        for i in sorted({0, len(value) - 1}):
            yield from _leaves(value[i], (*where, i))
    else:
        yield where


def _wrong(value):
    """Values of a wrong type for ``value``'s field, and of a wrong range for numbers."""
    if isinstance(value, bool):
        return ["false", 0]
    if isinstance(value, int):
        return [str(value), value + 0.5, -1]
    if isinstance(value, float):
        return [str(value), float("inf"), float("nan")]
    return [3] if isinstance(value, str | None) else ["x"]


def _name(where):
    """``config.k_neighbors``, ``state.mu[0]``: how a field is named in the error."""
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in where).lstrip(".")


def _set(cfg, where, value):
    for k in where[:-1]:
        cfg = cfg[k]
    cfg[where[-1]] = value


def _write(path, cfg):
    (path / "config.json").write_text(json.dumps(cfg))
    write_manifest(path)


def test_every_config_field_of_a_wrong_type_or_range_is_refused(family):
    """Every leaf of ``config.json``, set to a wrong type (and, for numbers, out of range), with
    the manifest re-hashed: refused, naming the field."""
    cls, path = family
    original = json.loads((path / "config.json").read_text())
    n = 0
    for where in _leaves(original):
        for bad in _wrong(_get(original, where)):
            cfg = json.loads(json.dumps(original))
            _set(cfg, where, bad)
            _write(path, cfg)
            name = _name(where)
            with pytest.raises(DamagedModelError) as err:
                cls.load(path)
            msg = str(err.value)
            assert name in msg or name.replace("_", " ") in msg, (name, bad, msg)
            n += 1
    assert n >= 10
    _write(path, original)
    cls.load(path)


def _get(cfg, where):
    for k in where:
        cfg = cfg[k]
    return cfg


def test_deeply_nested_config_json_is_refused(family):
    cls, path = family
    original = (path / "config.json").read_text()
    for deep in ("[" * 100_000 + "]" * 100_000, '{"a": ' * 100_000 + "1" + "}" * 100_000):
        (path / "config.json").write_text(deep)
        write_manifest(path)
        _refused(cls, path, r"config.json is not valid JSON")
    (path / "config.json").write_text(original)
    (path / "manifest.json").write_text('{"files": ' * 100_000 + "}" * 100_000)
    _refused(cls, path, r"manifest.json is missing or not valid")


#: the issue's wrong values that were accepted and ignored: (field, value, the error names)
ISSUE_VALUES = [
    (("network", "use_cnn"), "false", r"network.use_cnn must be true or false, got 'false'"),
    (("state", "calibrated"), "no", r"state.calibrated must be true or false, got 'no'"),
    (("setup", "units"), "FPKM", r"ModelSetup.units must be one of \('TPM', 'log1p_TPM'\)"),
    (("setup", "features"), ["promoter", "telepathy"], r"ModelSetup.features must be a subset"),
    (("state", "sigma_floor"), -1, r"state.sigma_floor must be > 0, got -1"),
    (("config", "k_idw"), 50, r"HybridConfig.k_idw \(50\) must not exceed k_neighbors"),
]


@pytest.mark.parametrize(("where", "value", "match"), ISSUE_VALUES)
def test_wrong_hybrid_values_of_the_issue_are_refused_with_a_matching_manifest(
    saved, tmp_path, where, value, match
):
    path = tmp_path / "m"
    shutil.copytree(saved["HybridImputer"], path)
    cfg = json.loads((path / "config.json").read_text())
    _set(cfg, where, value)
    _write(path, cfg)
    _refused(HybridImputer, path, match)


def test_edited_valid_values_and_swapped_files_are_refused_by_the_manifest(saved, tmp_path):
    """Edits that give a valid config (k_neighbors 8 -> 5, promoter_upstream 249 -> 100), 64
    bytes flipped in network.pt and xgboost.ubj / calibration.npz of another model: the
    manifest refuses them, naming the file."""
    path = tmp_path / "m"
    shutil.copytree(saved["HybridImputer"], path)
    for field, value in (("k_neighbors", 5), ("promoter_upstream", 100)):
        text = (path / "config.json").read_text()
        cfg = json.loads(text)
        assert cfg["config"][field] != value
        cfg["config"][field] = value
        (path / "config.json").write_text(json.dumps(cfg, indent=2))
        _refused(HybridImputer, path, r"config.json differs from its size or SHA-256")
        (path / "config.json").write_text(text)
    net = bytearray((path / "network.pt").read_bytes())
    middle = len(net) // 2
    net[middle : middle + 64] = bytes(b ^ 0xFF for b in net[middle : middle + 64])
    kept = (path / "network.pt").read_bytes()
    (path / "network.pt").write_bytes(bytes(net))
    _refused(HybridImputer, path, r"network.pt differs from its size or SHA-256")
    (path / "network.pt").write_bytes(kept)
    other = pretrained_path("gtex_v8_37tissues")
    for file in ("xgboost.ubj", "calibration.npz"):
        kept = (path / file).read_bytes()
        shutil.copyfile(other / file, path / file)
        _refused(HybridImputer, path, rf"{re.escape(file)} differs from its size or SHA-256")
        (path / file).write_bytes(kept)
    HybridImputer.load(path)


@pytest.mark.parametrize("name", sorted(PRETRAINED))
def test_shipped_models_pass_the_manifest_check(name):
    path = pretrained_path(name)
    listed = json.loads((path / "manifest.json").read_text())["files"]
    assert set(listed) == {p.name for p in path.iterdir()} - {"manifest.json"}
    assert {"config.json", "model_card.json", "MODEL_CARD.md"} <= set(listed)
    assert json.loads((path / "config.json").read_text())["schema_version"] == 4
    assert ge.models.pretrained(name).calibrated

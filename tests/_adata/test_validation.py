"""Bad input that used to be accepted silently: each gets a clear error (AnnData unchanged)
or a visible warning (issue 11's bad-input list)."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import geneimpute as ge
from geneimpute.models import DamagedModelError, HybridImputer
from geneimpute.models._persistence import write_manifest

from ..conftest import FAST, hold_out

DAMAGED = "damaged or from another version"


@pytest.fixture(scope="module")
def base():
    """chr21/22 subset with 30 held-out genes (built once; tests work on copies)."""
    return hold_out(30)[0]


@pytest.fixture(scope="module")
def no_promoter(base):
    """Every promoter an empty string: training warns and drops the CNN (trained once)."""
    a = base.copy()
    a.var["promoter_seq"] = ""
    with pytest.warns(UserWarning, match=r"holds only empty sequences: training without the"):
        model = ge.tl.train(a, **FAST)
    return a, model


@pytest.fixture(scope="module")
def saved(no_promoter, tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "nb_model"
    no_promoter[1].save(path)
    return path


def _snapshot(a):
    return {
        "X": a.X.copy(),
        "var": a.var.copy(),
        "layers": {k: np.array(v, copy=True) for k, v in a.layers.items()},
        "uns": sorted(a.uns),
        "varm": {k: np.array(v, copy=True) for k, v in a.varm.items()},
    }


def _assert_unchanged(a, snap):
    if sparse.issparse(snap["X"]):
        assert sparse.issparse(a.X) and (a.X != snap["X"]).nnz == 0
    else:
        assert np.array_equal(a.X, snap["X"], equal_nan=True)
    pd.testing.assert_frame_equal(a.var, snap["var"])
    assert list(a.layers) == list(snap["layers"])
    for k, v in snap["layers"].items():
        assert np.array_equal(a.layers[k], v, equal_nan=True)
    assert sorted(a.uns) == snap["uns"]
    assert list(a.varm) == list(snap["varm"])


def _callers(model):
    return {
        "impute_expression": lambda a: ge.tl.impute_expression(a, model),
        "impute_neighbors": lambda a: ge.tl.impute_neighbors(a),
        "train": lambda a: ge.tl.train(a, **FAST),
    }


# ---------------------------------------------------------------- expression values


def _set(value, col=0):
    def f(a):
        a.X[3, col] = value

    return f


def _negative(a):
    a.X = np.log1p(a.X)
    a.X[2, 0] = -0.5


EXPRESSION = {
    "+inf": (_set(np.inf), {}, r"adata.X has 1 infinite values \(e.g. .+\); use NaN"),
    "-inf": (_set(-np.inf), {}, r"adata.X has 1 infinite values"),
    "tpm_1e30": (_set(1e30), {}, r"values up to 1e\+30, impossible for TPM"),
    "negative_log1p": (_negative, {"is_log1p": True}, r"negative values \(min -0.5"),
}


@pytest.mark.parametrize("caller", ["impute_expression", "impute_neighbors", "train"])
@pytest.mark.parametrize("case", list(EXPRESSION))
def test_bad_expression_is_an_error(base, no_promoter, case, caller):
    mutate, kwargs, match = EXPRESSION[case]
    a = base.copy()
    mutate(a)
    snap = _snapshot(a)
    model = no_promoter[1]
    run = {
        "impute_expression": lambda: ge.tl.impute_expression(a, model, **kwargs),
        "impute_neighbors": lambda: ge.tl.impute_neighbors(a, **kwargs),
        "train": lambda: ge.tl.train(a, **kwargs, **FAST),
    }[caller]
    with pytest.raises(ValueError, match=match):
        run()
    _assert_unchanged(a, snap)


def test_log1p_looking_values_warn(base, no_promoter):
    a = base.copy()
    a.X = np.log1p(a.X)
    assert np.nanmax(a.X) < 20
    with pytest.warns(UserWarning, match=r"declared TPM \(is_log1p=False\) .* looks like log1p"):
        ge.tl.impute_neighbors(a)
    with pytest.warns(UserWarning, match="looks like log1p"):
        ge.tl.impute_expression(a, no_promoter[1])
    with pytest.warns(UserWarning, match="looks like log1p"):
        ge.pp.tissue_correlation(a, inplace=False)


def test_sparse_implicit_zeros_are_not_missing(base, no_promoter):
    a = base.copy()
    a.X = sparse.csr_matrix(np.nan_to_num(a.X, nan=0.0))
    snap = _snapshot(a)
    for run in (
        lambda: ge.tl.impute_expression(a, no_promoter[1]),
        lambda: ge.tl.impute_neighbors(a),
    ):
        with pytest.raises(ValueError, match=r"no genes to impute.*sparse matrix: its implicit"):
            run()
    _assert_unchanged(a, snap)


# ---------------------------------------------------------------- gene coordinates


def _end_before_start(a):
    a.var.iloc[4, a.var.columns.get_loc("end")] = a.var["start"].iloc[4] - 10


def _tss_far(a):
    a.var.iloc[4, a.var.columns.get_loc("tss")] = a.var["end"].iloc[4] + 5_000_000


def _tss_negative(a):
    a.var["tss"] = a.var["tss"].astype(np.int64)
    a.var.iloc[4, a.var.columns.get_loc("tss")] = -100


def _empty_chrom(a):
    chrom = a.var["chrom"].astype(str).to_numpy().copy()
    chrom[4] = ""
    a.var["chrom"] = chrom


COORDINATES = {
    "end_before_start": (
        _end_before_start,
        r"adata.var: 1 genes have end < start .* start \d+, end \d+",
    ),
    "tss_5Mb_outside": (_tss_far, r"1 genes have a TSS more than 100,000 bp outside"),
    "tss_negative": (_tss_negative, r"1 genes have a negative TSS in var\['tss'\]"),
    "empty_chrom": (_empty_chrom, r"adata.var: 1 genes have an empty chromosome name, e\.g\."),
}


@pytest.mark.parametrize("caller", ["impute_expression", "impute_neighbors", "train", "pp"])
@pytest.mark.parametrize("case", list(COORDINATES))
def test_bad_coordinates_are_an_error(base, no_promoter, case, caller):
    mutate, match = COORDINATES[case]
    a = base.copy()
    mutate(a)
    gene = a.var_names[4]
    snap = _snapshot(a)
    run = {**_callers(no_promoter[1]), "pp": lambda a: ge.pp.neighbor_features(a)}[caller]
    with pytest.raises(ValueError, match=match) as err:
        run(a)
    assert gene in str(err.value)
    _assert_unchanged(a, snap)


# ---------------------------------------------------------------- promoters and options


def test_empty_promoters_drop_the_cnn(no_promoter):
    a, model = no_promoter
    assert model.features_ == ["neighbors", "structure"] and not model.config.uses("cnn")
    assert model.setup_.promoter_key is None


def test_empty_promoters_with_promoter_features_only(no_promoter):
    a = no_promoter[0].copy()
    snap = _snapshot(a)
    with pytest.raises(ValueError, match=r"features=\['promoter'\] needs promoter sequences"):
        ge.tl.train(a, features=["promoter"], **FAST)
    with pytest.raises(ValueError, match=r"needs promoter sequences, but var\['promoter_seq'\]"):
        ge.tl.train(a, features=["promoter", "structure"][:1], **FAST)
    _assert_unchanged(a, snap)


@pytest.mark.parametrize(("tss_index", "length"), [(10_000, 300), (-1, 300), (60, 60)])
def test_tss_index_outside_the_sequence(base, tss_index, length):
    a = base.copy()
    lens = a.var["promoter_seq"].astype(str).str.len().to_numpy()
    i = int(np.flatnonzero(lens == length)[0])
    a.var.iloc[i, a.var.columns.get_loc("promoter_seq_tss_index")] = tss_index
    snap = _snapshot(a)
    match = rf"TSS index outside their sequence, e.g. sequence {i}: TSS index {tss_index} for"
    with pytest.raises(ValueError, match=match):
        ge.tl.train(a, **FAST)
    _assert_unchanged(a, snap)


def test_k_idw_zero(base):
    a = base.copy()
    with pytest.raises(ValueError, match=r"HybridConfig.k_idw must be an integer >= 1, got 0"):
        ge.tl.train(a, k_idw=0, **FAST)
    with pytest.raises(TypeError, match=r"unknown HybridConfig option\(s\) \['k_idx'\]"):
        ge.tl.train(a, k_idx=3, **FAST)


# ---------------------------------------------------------------- damaged model directories


def _edit_config(path, edit):
    cfg = json.loads((path / "config.json").read_text())
    edit(cfg)
    (path / "config.json").write_text(json.dumps(cfg))


def _nan_correlation(cfg):
    cfg["state"]["tissue_correlation"][0][1] = float("nan")


def _swap_network(path):
    import torch

    from geneimpute.models import HybridNet, NetworkEnsemble

    state = json.loads((path / "config.json").read_text())
    args, cfg = state["network"], state["config"]
    other = [HybridNet(**{**args, "dim": args["dim"] // 2}) for _ in range(cfg["n_folds"])]
    net = NetworkEnsemble(other)
    torch.save(net.state_dict(), path / "network.pt")


def _pickled_calibration(path):
    with open(path / "calibration.npz", "wb") as f:  # an object array needs pickle to load
        np.save(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)


DAMAGE = {
    "nan_in_tissue_correlation": (
        lambda p: _edit_config(p, _nan_correlation),
        r"state.tissue_correlation\[0\]\[1\] must be a finite number, got nan",
    ),
    "no_mu": (lambda p: _edit_config(p, lambda c: c["state"].pop("mu")), r"\['state.mu'\]"),
    "no_state": (lambda p: _edit_config(p, lambda c: c.pop("state")), r"fields \['state'\]"),
    "no_setup": (lambda p: _edit_config(p, lambda c: c.pop("setup")), r"fields \['setup'\]"),
    "invalid_json": (
        lambda p: (p / "config.json").write_text('{"format": "geneimpute.Hyb'),
        r"config.json is not valid JSON",
    ),
    "unknown_config_keyword": (
        lambda p: _edit_config(p, lambda c: c["config"].update(n_layers=3)),
        r"unknown or missing fields \['config.n_layers'\]",
    ),
    "short_mu": (
        lambda p: _edit_config(p, lambda c: c["state"].update(mu=c["state"]["mu"][:3])),
        r"state.mu must be 37 finite numbers",
    ),
    "swapped_network": (_swap_network, r"network.pt does not load: .*size mismatch"),
    "no_network": (lambda p: (p / "network.pt").unlink(), r"network.pt is missing"),
    "no_xgboost": (lambda p: (p / "xgboost.ubj").unlink(), r"xgboost.ubj is missing"),
    "no_calibration": (
        lambda p: (p / "calibration.npz").unlink(),
        r"interval calibration does not load",
    ),
    "pickled_calibration": (
        _pickled_calibration,
        r"interval calibration does not load",
    ),
}


def test_other_schema_is_refused_in_one_line(saved, base, tmp_path):
    path = tmp_path / "m"
    shutil.copytree(saved, path)
    _edit_config(path, lambda c: c.update(schema_version=1))
    match = r"is a model of schema version 1 .* reads schema 4 only: train it again"
    with pytest.raises(DamagedModelError, match=match):
        HybridImputer.load(path)
    a = base.copy()
    snap = _snapshot(a)
    with pytest.raises(ValueError, match=match):
        ge.tl.impute_expression(a, str(path))
    _assert_unchanged(a, snap)


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_model_directory(saved, base, tmp_path, case):
    damage, match = DAMAGE[case]
    path = tmp_path / "m"
    shutil.copytree(saved, path)
    damage(path)
    write_manifest(path)  # a consistent forgery: the checks behind the manifest refuse it
    with pytest.raises(DamagedModelError, match=rf"{DAMAGED}: .*{match}"):
        HybridImputer.load(path)
    a = base.copy()
    snap = _snapshot(a)
    with pytest.raises(ValueError, match=DAMAGED):
        ge.tl.impute_expression(a, str(path))
    _assert_unchanged(a, snap)


def test_intact_copy_loads(saved, tmp_path):
    """The damage above is what fails: an unedited copy loads."""
    shutil.copytree(saved, tmp_path / "m")
    assert HybridImputer.load(tmp_path / "m").features_ == ["neighbors", "structure"]


class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("how", ["pickle", "torch"])
def test_malicious_pickle_in_network_is_refused(saved, tmp_path, how):
    import torch

    path = tmp_path / "m"
    shutil.copytree(saved, path)
    marker = tmp_path / "pwned"
    payload = {"weights": _Evil(marker)}
    if how == "pickle":
        (path / "network.pt").write_bytes(pickle.dumps(payload, protocol=2))
    else:
        torch.save(payload, path / "network.pt")
    write_manifest(path)  # past the manifest: torch.load(weights_only=True) refuses it
    with pytest.raises(DamagedModelError, match=rf"{DAMAGED}: .*network.pt does not load"):
        HybridImputer.load(path)
    assert not marker.exists()

"""Saving and loading the donor models (models.donor) on the bundled GTEx donor panel."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

import geneimpute as ge
from geneimpute.models import (
    DamagedModelError,
    DonorHybrid,
    DonorTransformer,
    KNNDonor,
    TEEBoT,
    TissueMean,
)
from geneimpute.models._persistence import write_manifest

CLASSES = {c.__name__: c for c in (TissueMean, KNNDonor, TEEBoT, DonorTransformer, DonorHybrid)}


@pytest.fixture(scope="module")
def panel():
    """``V`` (donors, tissues, genes): the 8 most-sampled tissues of the first 120 donors,
    the training donors, and the unsampled (donor, tissue) pairs to predict."""
    long = ge.datasets.gtex_donors()
    tissues = long.obs["tissue"].value_counts().index[:8]
    keep = long.obs["tissue"].isin(tissues).to_numpy()
    donors = sorted(long.obs["donor"][keep].unique())[:120]
    d = ge.pp.to_donor_layers(long[keep & long.obs["donor"].isin(donors).to_numpy()].copy())
    V = np.stack(
        [np.asarray(d.layers[t], dtype=np.float64) for t in d.uns["donor_layout"]["tissues"]],
        axis=1,
    )
    seen = np.isfinite(V).all(axis=2)
    pairs = np.argwhere(~seen & seen.any(axis=1)[:, None])
    return V, np.flatnonzero(seen.any(axis=1)), pairs


@pytest.fixture(scope="module")
def fitted(panel):
    """One fitted model per class (tiny hybrid settings, one torch thread)."""
    V, donors, _ = panel
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        genef = np.random.default_rng(0).normal(size=(V.shape[2], 3))
        genef[0, 1] = np.nan  # a gene without a promoter feature
        hybrid = DonorHybrid(max_epochs=1, xgb_n_estimators=5).fit(
            V, donors, gene_features=genef, accelerator="cpu"
        )
    finally:
        torch.set_num_threads(n)
    return {
        "TissueMean": TissueMean().fit(V, donors),
        "KNNDonor": KNNDonor(n_neighbors=5).fit(V, donors),
        "TEEBoT": TEEBoT(n_components=5).fit(V, donors),
        "DonorTransformer": hybrid.net_,
        "DonorHybrid": hybrid,
    }


def _predict(model, panel):
    V, _, pairs = panel
    if not isinstance(model, DonorTransformer):
        return model.predict(V, pairs)
    T, G = V.shape[1], V.shape[2]
    g = torch.Generator().manual_seed(0)
    z = torch.randn(16, T - 1, G, generator=g)
    src = torch.randint(0, T, (16, T - 1), generator=g)
    pad = torch.zeros(16, T - 1, dtype=torch.bool)
    pad[:, 4:] = True
    target = torch.randint(0, T, (16,), generator=g)
    C = torch.from_numpy(np.corrcoef(np.nanmean(V, axis=0)).astype(np.float32))
    model.eval()
    with torch.no_grad():
        return model(z, src, pad, target, C).numpy()


@pytest.mark.parametrize("name", list(CLASSES))
def test_round_trip_gives_identical_predictions(fitted, panel, name, tmp_path):
    model = fitted[name]
    model.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["format"] == f"geneimpute.{name}" and cfg["schema_version"] == 4
    assert cfg["setup"] == {"n_tissues": 8, "n_genes": 59}
    back = CLASSES[name].load(tmp_path / "m")
    assert type(back) is CLASSES[name]
    before = _predict(model, panel)
    assert np.isfinite(before).all()
    np.testing.assert_array_equal(_predict(back, panel), before)
    files = {p.name for p in (tmp_path / "m").iterdir()}
    expected = {
        "DonorTransformer": {"config.json", "network.pt"},
        "DonorHybrid": {"config.json", "arrays.npz", "network.pt", "xgboost.ubj"},
    }.get(name, {"config.json", "arrays.npz"})
    assert files == expected | {"manifest.json"}
    if name == "DonorHybrid":
        assert back.training_ is None and back.device_ == "cpu"
        assert cfg["config"]["xgb_n_estimators"] == 5 and cfg["network"]["n_genes"] == 59
        np.testing.assert_array_equal(back.gene_features_, model.gene_features_)  # NaN kept
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        model.save(tmp_path / "m")
    model.save(tmp_path / "m", overwrite=True)


#: (class, file to damage, what the error names)
DAMAGE = [
    ("TissueMean", "arrays.npz", "arrays.npz does not load"),
    ("KNNDonor", "arrays.npz", "arrays.npz does not load"),
    ("TEEBoT", "arrays.npz", "arrays.npz does not load"),
    ("DonorTransformer", "network.pt", "network.pt does not load"),
    ("DonorHybrid", "network.pt", "network.pt does not load"),
    ("DonorHybrid", "xgboost.ubj", "xgboost.ubj does not load"),
]


@pytest.mark.parametrize(("name", "file", "match"), DAMAGE)
def test_damaged_directory_is_refused(fitted, name, file, match, tmp_path):
    fitted[name].save(tmp_path / "m")
    (tmp_path / "m" / file).write_bytes(b"not a model file")
    with pytest.raises(DamagedModelError, match=f"{file} differs from its size or SHA-256"):
        CLASSES[name].load(tmp_path / "m")
    write_manifest(tmp_path / "m")  # a manifest that matches: the file itself is checked
    with pytest.raises(DamagedModelError, match=f"damaged or from another version.*{match}"):
        CLASSES[name].load(tmp_path / "m")
    (tmp_path / "m" / file).unlink()
    with pytest.raises(DamagedModelError, match=f"{file} is missing"):
        CLASSES[name].load(tmp_path / "m")


def test_edited_arrays_and_config_are_refused(fitted, tmp_path):
    hybrid = fitted["DonorHybrid"]
    hybrid.save(tmp_path / "h")
    path = tmp_path / "h" / "arrays.npz"
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["linear_mu"] = arrays["linear_mu"][:, :10]
    np.savez(path, **arrays)
    write_manifest(tmp_path / "h")
    with pytest.raises(DamagedModelError, match=r"linear_mu must be finite numbers of shape"):
        DonorHybrid.load(tmp_path / "h")
    fitted["TEEBoT"].save(tmp_path / "t")
    cfg = json.loads((tmp_path / "t" / "config.json").read_text())
    cfg["config"]["n_component"] = cfg["config"].pop("n_components")
    (tmp_path / "t" / "config.json").write_text(json.dumps(cfg))
    write_manifest(tmp_path / "t")
    with pytest.raises(DamagedModelError, match=r"\['config.n_component', 'config.n_components'\]"):
        TEEBoT.load(tmp_path / "t")
    # another class's directory
    with pytest.raises(DamagedModelError, match="has no format 'geneimpute.TissueMean'"):
        TissueMean.load(tmp_path / "h")
    with pytest.raises(FileNotFoundError, match="not a saved KNNDonor"):
        KNNDonor.load(tmp_path / "nothing")


@pytest.mark.parametrize("name", list(CLASSES))
def test_other_schema_version_is_refused(fitted, name, tmp_path):
    fitted[name].save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["schema_version"] = 2
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(DamagedModelError, match="schema version 2") as err:
        CLASSES[name].load(tmp_path / "m")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("cls", [TissueMean, KNNDonor, TEEBoT, DonorHybrid])
def test_unfitted_model_is_not_saved(cls, tmp_path):
    with pytest.raises(RuntimeError, match=f"this {cls.__name__} is not fitted"):
        cls().save(tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_a_tissue_no_donor_has_gives_no_numpy_warning():
    V = np.random.default_rng(0).normal(size=(6, 3, 4))
    V[:, 1] = np.nan  # no donor has tissue 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = TissueMean().fit(V, np.arange(6))
    assert np.isfinite(model.mu_).all()  # the empty tissue falls back to the gene means

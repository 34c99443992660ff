"""Device selection: ``accelerator`` policies and the flag that forces the CPU."""

from __future__ import annotations

import pytest
import torch

import geneimpute as ge
from geneimpute._settings import resolve_device
from geneimpute.models import HybridImputer


@pytest.fixture
def reset_accelerator():
    before = ge.settings.accelerator
    yield
    ge.settings.accelerator = before


@pytest.mark.parametrize(("cuda", "expected"), [(False, "cpu"), (True, "cuda")])
def test_auto_uses_cuda_only_when_present(monkeypatch, cuda, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert resolve_device("auto") == expected
    assert resolve_device("cpu") == "cpu"  # the CPU flag wins even with a GPU


def test_cuda_requested_without_gpu_raises(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"accelerator='cuda' was requested"):
        resolve_device("cuda")


def test_unknown_accelerator_raises():
    with pytest.raises(ValueError, match="accelerator must be 'auto', 'cpu' or 'cuda', got 'tpu'"):
        resolve_device("tpu")


def test_global_setting_forces_cpu(monkeypatch, reset_accelerator):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device(None) == "cuda"
    ge.settings.accelerator = "cpu"
    assert resolve_device(None) == "cpu"


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_xgboost_follows_the_device(device):
    from geneimpute.models.hybrid._boosting import xgb_params

    params = xgb_params(HybridImputer().config, device)
    assert params["device"] == device
    assert params["tree_method"] == "hist"


def test_tl_defaults_follow_the_global_setting(monkeypatch, reset_accelerator, small_missing):
    """tl functions called without ``accelerator`` obey ``ge.settings.accelerator``.

    torch is told a GPU exists; were the setting ignored, training would try CUDA and fail.
    """
    from .conftest import FAST

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    adata, _, held = small_missing
    ge.settings.accelerator = "cpu"
    opts = {k: v for k, v in FAST.items() if k != "accelerator"}
    model = ge.tl.train(adata, random_state=0, **opts)
    ge.tl.impute_expression(adata, model)
    assert adata.layers["imputed_mask"][:, held].all()
    assert adata.uns["imputed"]["params"]["device"] == "cpu"

"""Stage messages of the hybrid's long stages (issue 32): one stderr line per stage, switched
off by ``ge.settings.progress``."""

from __future__ import annotations

import numpy as np
import pytest

import geneimpute as ge
from geneimpute.models import HybridImputer

from .test_hybrid import OPTS, arrays  # noqa: F401 (the fixture)

STAGES = [
    "xgboost_fit",
    "out_of_fold_errors",
    "calibration",
    "network_inference",
    "xgboost_predict",
]


@pytest.fixture
def progress():
    before = ge.settings.progress
    yield
    ge.settings.progress = before


@pytest.mark.parametrize("on", [True, False])
def test_long_stages_print_one_line_each(arrays, progress, capsys, on):  # noqa: F811
    Y, inputs, tissues, C, held = arrays
    ge.settings.progress = on
    model = HybridImputer(**{**OPTS, "max_epochs": 1, "xgb_n_estimators": 5})
    model.fit(Y, inputs, tissues, C, accelerator="cpu")
    model.predict(Y, inputs, np.flatnonzero(held), accelerator="cpu")
    err = capsys.readouterr().err
    lines = [s for s in err.splitlines() if s.startswith("geneimpute: ")]
    if on:
        assert lines == [f"geneimpute: {s} ..." for s in STAGES]
    else:
        assert err == ""

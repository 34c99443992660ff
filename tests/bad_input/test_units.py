"""Issue 31, item 4: data on another scale than a model's training data is named in a warning.

The models store their training scale (the hybrid: per-tissue mean / sd of log1p(TPM); the
regulator model: per-gene mean / sd of its regulators); applying them compares the new data's.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import geneimpute as ge
from geneimpute.models._base import COHORT_TOLERANCE, TISSUE_TOLERANCE, scale_shift

from ..conftest import hold_out

OFF = "off the model's training data: their means differ"


@pytest.fixture(scope="module")
def log1p_table():
    adata, _, _ = hold_out(30)
    adata.X = np.log1p(adata.X)
    return adata


def _no_scale_warning(call):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        call()
    assert not [w for w in seen if OFF in str(w.message)]


def test_scale_shift_states_its_tolerance():
    mean, sd = np.array([2.0, 3.0]), np.array([1.0, 1.0])
    assert scale_shift(mean, sd, mean + 0.4, sd * 1.2, TISSUE_TOLERANCE) is None
    off = scale_shift(mean, sd, mean / np.log(2), sd / np.log(2), TISSUE_TOLERANCE)
    assert off is not None and "1.44x training's (tolerance: 0.5 sd, 0.80-1.25x)" in off
    assert scale_shift(mean, sd, mean + 0.9, sd * 1.4, COHORT_TOLERANCE) is None


def test_log2_declared_as_log1p_warns_with_a_shipped_model(log1p_table):
    log2 = log1p_table.copy()
    log2.X = log1p_table.X / np.log(2)  # log2(TPM + 1)
    with pytest.warns(ge.DataWarning, match=OFF + r".* spread is 1\.\d\dx training's"):
        ge.tl.impute_expression(log2, model="gtex_v8_37tissues", is_log1p=True)
    _no_scale_warning(
        lambda: ge.tl.impute_expression(log1p_table, model="gtex_v8_37tissues", is_log1p=True)
    )


@pytest.fixture(scope="module")
def regulators():
    adata = ge.datasets.gtex_tf_samples()
    X = np.asarray(adata.X, dtype=np.float32).copy()
    targets = np.flatnonzero(~adata.var["regulator_type"].isin(["RBP/SF", "TF"]).to_numpy())
    X[:20, targets[:10]] = np.nan
    adata.X = X
    quick = {"max_epochs": 3, "autoencoder_epochs": 2, "patience": 2}
    return adata, ge.tl.train_regulators(adata, random_state=0, **quick)


@pytest.mark.parametrize("change", ["+1000", "*2"])
def test_regulator_input_off_the_training_scale_warns(regulators, change):
    adata, model = regulators
    shifted = adata.copy()
    shifted.X = adata.X + 1000 if change == "+1000" else adata.X * 2
    with pytest.warns(ge.DataWarning, match="the regulators' expression is " + OFF):
        ge.tl.impute_from_regulators(shifted, model, copy=True)
    _no_scale_warning(lambda: ge.tl.impute_from_regulators(adata, model, copy=True))

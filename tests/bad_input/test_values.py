"""Imputed values and interval bounds stay in [0, 1e6] TPM (log1p of it) on every path, the TPM
and log1p paths agree, and any input dtype is computed and written in float32 or float64."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import geneimpute as ge
from geneimpute.tl._model import in_units

from ..conftest import hold_out

HYBRID = "gtex_v8_37tissues"
#: the largest value written, as float32 (the layers' dtype)
TOP = {False: np.float32(1e6), True: np.float32(np.log1p(1e6))}


@pytest.fixture(scope="module")
def partial():
    """chr21/22, 30 genes NaN and 30 more NaN in 10 tissues each (the issue's case), TPM."""
    adata, _, held = hold_out(30)
    rng = np.random.default_rng(1)
    for j in rng.choice(np.flatnonzero(~held), 30, replace=False):
        adata.X[rng.choice(adata.n_obs, 10, replace=False), j] = np.nan
    return adata


def _written(adata, key):
    """The imputed values and both bounds of ``layers[key]``, at the imputed cells."""
    mask = adata.layers[f"{key}_mask"]
    assert mask.any()
    return [adata.layers[k][mask] for k in (key, f"{key}_lower", f"{key}_upper")]


@pytest.fixture(scope="module")
def both_units(partial):
    """The pretrained hybrid and the distance baseline on TPM and on log1p(TPM) of one table."""
    out = {}
    for log1p in (False, True):
        adata = partial.copy()
        adata.X = np.log1p(adata.X) if log1p else adata.X
        with warnings.catch_warnings(action="ignore", category=ge.DataWarning):
            ge.tl.impute_expression(adata, HYBRID, is_log1p=log1p)
            ge.tl.impute_neighbors(adata, is_log1p=log1p)
        out[log1p] = adata
    return out


@pytest.mark.parametrize("key", ["imputed", "imputed_distance"])
@pytest.mark.parametrize("log1p", [False, True])
def test_values_and_bounds_are_never_negative_nor_above_1e6_tpm(both_units, key, log1p):
    for values in _written(both_units[log1p], key):
        assert np.isfinite(values).all()
        assert values.min() >= 0 and values.max() <= TOP[log1p]


@pytest.mark.parametrize("key", ["imputed", "imputed_distance"])
def test_tpm_and_log1p_paths_agree(both_units, key):
    pairs = zip(_written(both_units[False], key), _written(both_units[True], key), strict=True)
    for tpm, log1p in pairs:
        np.testing.assert_allclose(log1p, np.log1p(tpm.astype(np.float64)), rtol=0, atol=1e-5)


@pytest.mark.filterwarnings("ignore::geneimpute.DataWarning")
def test_bounds_above_1e6_tpm_are_clipped(partial):
    adata = partial.copy()
    complete = np.flatnonzero(np.isfinite(adata.X).all(axis=0))
    adata.X[:, complete[::4]] = 5e6  # allowed input (at most 1e7), beside the target genes
    ge.tl.impute_neighbors(adata)
    values, lower, upper = _written(adata, "imputed_distance")
    assert upper.max() == TOP[False] and values.max() <= 1e6 and lower.min() >= 0


@pytest.mark.filterwarnings("ignore::geneimpute.DataWarning")
def test_predict_profiles_values_and_bounds_are_clipped_and_agree(partial):
    prof = ge.tl.predict_profiles(partial[:, :60].copy(), "gtex_v8_37tissues_promoter")
    for units, log1p in (("tpm", False), ("log1p_tpm", True)):
        for name in (units, f"{units}_lower", f"{units}_upper"):
            assert prof.layers[name].min() >= 0 and prof.layers[name].max() <= TOP[log1p]
    for name in ("", "_lower", "_upper"):
        tpm = prof.layers[f"tpm{name}"].astype(np.float64)
        np.testing.assert_allclose(prof.layers[f"log1p_tpm{name}"], np.log1p(tpm), atol=1e-5)


def test_the_one_clip_every_writer_uses():
    pred = np.array([-0.5, 0.0, 3.0, 20.0, np.nan])
    np.testing.assert_array_equal(in_units(pred, True), [0, 0, 3, np.log1p(1e6), np.nan])
    np.testing.assert_allclose(in_units(pred, False), [0, 0, np.expm1(3), 1e6, np.nan])
    assert in_units(pred.astype(np.float32), False).dtype == np.float32


@pytest.mark.filterwarnings("ignore::geneimpute.DataWarning")
@pytest.mark.parametrize("impute", [ge.tl.impute_expression, ge.tl.impute_neighbors])
def test_float16_input_is_computed_and_written_in_float32(partial, impute):
    half = partial.copy()
    half.X = half.X.astype(np.float16)
    single = half.copy()
    single.X = single.X.astype(np.float32)  # the same values
    kw = {"model": HYBRID} if impute is ge.tl.impute_expression else {}
    out16, out32 = (impute(a, copy=True, **kw) for a in (half, single))
    key = list(out16.uns)[-1]
    for name in (key, f"{key}_lower", f"{key}_upper"):
        assert out16.layers[name].dtype == np.float32
        assert not np.isinf(out16.layers[name]).any()
        assert np.array_equal(out16.layers[name], out32.layers[name], equal_nan=True)
    assert half.X.dtype == np.float16 and key not in half.layers

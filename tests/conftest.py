from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import geneimpute as ge

DATA = Path(__file__).parent / "data"
#: small settings so a model trains in seconds on 2 CPU cores. Three epochs, not two: a
#: two-epoch one-cycle schedule takes so few steps on a few hundred genes that the fold
#: networks and the final network differ, and 90% intervals covered 0.82-0.91 over three
#: held-out seeds of test_tl's table (0.89-0.91 with three epochs, as with the defaults)
FAST = {"max_epochs": 3, "n_folds": 2, "xgb_n_estimators": 30, "accelerator": "cpu"}


def hold_out(n_held: int, seed: int = 0):
    """Real GTEx v8 genes on chr21/22 with ``n_held`` seeded genes' profiles set to NaN.

    Returns ``(adata, truth, held)``.
    """
    gtex = ge.datasets.gtex_tissues()
    truth = gtex[:, gtex.var["chrom"].isin(["chr21", "chr22"]).to_numpy()].copy()
    rng = np.random.default_rng(seed)
    held = np.zeros(truth.n_vars, bool)
    held[rng.choice(truth.n_vars, n_held, replace=False)] = True
    adata = truth.copy()
    adata.X[:, held] = np.nan
    return adata, truth, held


def assert_unchanged(a, before):
    """Assert that ``a`` has the keys, ``var`` and ``X`` of ``before`` (its copy before a call)."""
    assert list(a.layers) == list(before.layers) and list(a.uns) == list(before.uns)
    assert list(a.varm) == list(before.varm)
    pd.testing.assert_frame_equal(a.var, before.var)
    assert np.array_equal(a.X, before.X, equal_nan=True)


@pytest.fixture(autouse=True, scope="session")
def _quiet():
    ge.settings.progress = False


@pytest.fixture(scope="session")
def gtex():
    return ge.datasets.gtex_tissues()


@pytest.fixture
def small(gtex):
    """Real GTEx v8 subset: genes on chr21 and chr22, 37 tissues."""
    keep = gtex.var["chrom"].isin(["chr21", "chr22"]).to_numpy()
    return gtex[:, keep].copy()


@pytest.fixture
def small_missing():
    """``small`` with 30 seeded genes' profiles set to NaN; returns (adata, truth, held)."""
    return hold_out(30)


@pytest.fixture(scope="module")
def one_thread():
    """One torch/XGBoost thread for a module's fits (CI's 2 cores are shared); restored after."""
    before = ge.settings.n_jobs
    ge.settings.n_jobs = 1
    yield
    ge.settings.n_jobs = before


@pytest.fixture(scope="session")
def chr22_fasta(tmp_path_factory):
    """GRCh37 chr22:20-21 Mb, decompressed (pyfaidx needs plain or bgzip FASTA), indexed.

    The ``.fai`` is built here, once, so readers do not warn that they are writing it.
    """
    import pyfaidx

    out = tmp_path_factory.mktemp("fa") / "grch37_chr22_20-21Mb.fa"
    with gzip.open(DATA / "grch37_chr22_20-21Mb.fa.gz", "rb") as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    pyfaidx.Faidx(str(out)).close()
    return out

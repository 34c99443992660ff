"""Out-of-core paths on Dask: lazy stores, a LocalCluster, xgboost.dask; vs the in-memory path."""

from __future__ import annotations

import os
import shutil

import anndata as ad
import numpy as np
import pytest

import geneimpute as ge

from ..conftest import FAST
from .test_regulators import QUICK
from .test_samples import HELD

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def held_samples():
    """GTEx v8 samples (11,125 x 59, log1p) with 4 genes NaN in every sample, and a model."""
    d = ge.datasets.gtex_donors()
    d.var_names = d.var_names.str.split(".").str[0]
    coords = ge.datasets.gtex_tissues().var.loc[d.var_names]
    d.var = d.var.join(coords.drop(columns=[c for c in coords.columns if c in d.var.columns]))
    del d.layers["counts"]
    d.X = np.asarray(d.X, dtype=np.float32)
    d.X[:, d.var_names.isin(HELD)] = np.nan
    tdata = ge.pp.tissue_medians(d, "tissue")
    model = ge.tl.train(tdata, is_log1p=True, **FAST)
    memory = d.copy()
    ge.tl.impute_samples(memory, model, chunk_size=3000)
    return d, tdata, model, memory


@pytest.fixture(scope="module")
def store(held_samples, tmp_path_factory):
    """The held-out samples as a zarr store in 1,000 x 20 chunks."""
    path = tmp_path_factory.mktemp("dask") / "samples.zarr"
    held_samples[0].write_zarr(path, chunks=(1000, 20))
    return path


@pytest.fixture(scope="module")
def client():
    # distributed's nanny sets OMP_NUM_THREADS=1 (and MKL/OpenBLAS) in *this* process's
    # environment; restore it so processes started later (the tutorials' kernels) keep theirs
    environ = dict(os.environ)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c
    os.environ.clear()
    os.environ.update(environ)


def test_training_uses_the_configured_threads_after_a_cluster_started(client):
    import torch

    from geneimpute._settings import cpu_threads, torch_threads

    assert os.environ.get("OMP_NUM_THREADS") == "1"  # what the nanny did to this process
    before = torch.get_num_threads()
    with torch_threads():
        assert torch.get_num_threads() == cpu_threads()
    assert torch.get_num_threads() == before


def test_read_lazy_opens_dask_arrays(store, tmp_path):
    lazy = ge.pp.read_lazy(store)
    assert isinstance(lazy.X, da.Array)
    assert lazy.X.chunks[1] == (20, 20, 19)
    assert list(lazy.obs.columns) == list(ad.read_zarr(store).obs.columns)
    with pytest.raises(KeyError, match="layers \\['counts'\\] are not in"):
        ge.pp.read_lazy(store, layers=["counts"])
    with pytest.raises(FileNotFoundError, match="no such file"):
        ge.pp.read_lazy(tmp_path / "absent.zarr")
    (tmp_path / "x.csv").write_text("a\n")
    with pytest.raises(ValueError, match="neither an .h5ad file nor a .zarr store"):
        ge.pp.read_lazy(tmp_path / "x.csv")


def test_tissue_medians_dask_identical(held_samples, store, tmp_path):
    d, tdata, _, _ = held_samples
    lazy = ge.pp.read_lazy(store)
    t = ge.pp.tissue_medians(lazy, "tissue")
    assert t.shape == (53, 59)
    np.testing.assert_array_equal(np.asarray(t.X), np.asarray(tdata.X))
    # h5ad opened lazily, and min_samples dropping tissues the same way in both engines
    d.write_h5ad(tmp_path / "s.h5ad")
    lazy_h5 = ge.pp.read_lazy(tmp_path / "s.h5ad", chunks=(2000, 59))
    with pytest.warns(ge.DataWarning, match="fewer than min_samples=100"):
        a = ge.pp.tissue_medians(lazy_h5, "tissue", min_samples=100)
    with pytest.warns(ge.DataWarning, match="fewer than min_samples=100"):
        b = ge.pp.tissue_medians(d, "tissue", min_samples=100)
    assert list(a.obs_names) == list(b.obs_names) and a.n_obs < 53
    np.testing.assert_array_equal(np.asarray(a.X), np.asarray(b.X))


def test_impute_samples_dask_lazy_and_identical(held_samples, store, tmp_path):
    _, _, model, memory = held_samples
    lazy = ge.pp.read_lazy(store)
    ge.tl.impute_samples(lazy, model, chunk_size=3000)
    out, mask = lazy.layers["imputed"], lazy.layers["imputed_mask"]
    assert isinstance(out, da.Array) and isinstance(mask, da.Array)  # nothing computed yet
    assert out.dtype == np.float32 and mask.dtype == bool
    p, q = lazy.uns["imputed"]["params"], memory.uns["imputed"]["params"]
    assert p["engine"] == "dask" and q["engine"] == "numpy"
    for k in ("beta", "residual_r2", "n_values_imputed", "n_genes_imputed"):
        assert p[k] == q[k], k
    # written lazily to zarr, read back: identical to the in-memory layers
    lazy.write_zarr(tmp_path / "out.zarr")
    back = ad.read_zarr(tmp_path / "out.zarr")
    np.testing.assert_array_equal(back.layers["imputed"], memory.layers["imputed"])
    np.testing.assert_array_equal(back.layers["imputed_mask"], memory.layers["imputed_mask"])
    np.testing.assert_array_equal(back.X, memory.X)  # the input, untouched


def test_dask_blocks_never_write_into_the_input(held_samples):
    d, _, model, memory = held_samples
    X = np.asarray(d.X).copy()
    before = X.copy()
    a = ad.AnnData(X=da.from_array(X, chunks=(4000, 59)), obs=d.obs, var=d.var)
    ge.tl.impute_samples(a, model, chunk_size=3000)
    np.testing.assert_array_equal(a.layers["imputed"].compute(), memory.layers["imputed"])
    np.testing.assert_array_equal(X, before)


def test_local_cluster_impute_samples_and_xgboost_dask(held_samples, store, client, tmp_path):
    _, tdata, model, memory = held_samples
    shutil.copytree(store, tmp_path / "s.zarr")
    lazy = ge.pp.read_lazy(tmp_path / "s.zarr")
    ge.tl.impute_samples(lazy, model, chunk_size=3000)
    # both lazy layers computed by the cluster's workers in one pass, into the input store
    ge.pp.write_layers(lazy, tmp_path / "s.zarr", ["imputed", "imputed_mask"])
    back = ad.read_zarr(tmp_path / "s.zarr")
    np.testing.assert_array_equal(back.layers["imputed"], memory.layers["imputed"])
    np.testing.assert_array_equal(back.layers["imputed_mask"], memory.layers["imputed_mask"])
    assert back.layers["imputed_mask"].dtype == bool
    with pytest.raises(ValueError, match="the store at .* holds 11125 x 59; adata is 10 x 59"):
        small = ad.AnnData(obs=lazy.obs.iloc[:10], var=lazy.var)
        small.layers["imputed"] = np.zeros(small.shape, dtype=np.float32)
        ge.pp.write_layers(small, tmp_path / "s.zarr", ["imputed"])
    with pytest.raises(KeyError, match="layers \\['nope'\\] not in adata.layers"):
        ge.pp.write_layers(lazy, tmp_path / "s.zarr", ["nope"])

    # the XGBoost stage on the cluster: an ordinary XGBRegressor that imputes like a local one
    import xgboost as xgb

    held = tdata.copy()
    rng = np.random.default_rng(0)
    hide = rng.choice(np.flatnonzero(np.isfinite(np.asarray(held.X)).all(axis=0)), 8, False)
    truth = np.asarray(held.X)[:, hide].copy()
    held.X = np.asarray(held.X).copy()
    held.X[:, hide] = np.nan
    dist = ge.tl.train(held, is_log1p=True, client=client, **FAST)
    local = ge.tl.train(held, is_log1p=True, **FAST)
    assert type(dist.xgb_) is xgb.XGBRegressor and dist.calibrated
    errs = {}
    for name, m in (("dask", dist), ("local", local)):
        a = held.copy()
        ge.tl.impute_expression(a, m, genes=np.isin(np.arange(a.n_vars), hide))
        errs[name] = float(np.mean((np.asarray(a.layers["imputed"])[:, hide] - truth) ** 2))
    assert abs(errs["dask"] - errs["local"]) < 0.25 * errs["local"], errs
    assert np.isfinite(dist.xgb_.predict(np.zeros((1, dist.xgb_.n_features_in_)))).all()


def test_impute_from_regulators_dask(client, tmp_path):
    truth = ge.datasets.gtex_tf_samples()
    reg = truth.var["regulator_type"].astype(str).isin(["RBP/SF", "TF"]).to_numpy()
    rng = np.random.default_rng(1)
    cols = rng.choice(np.flatnonzero(~reg), 20, replace=False)
    rows = rng.choice(truth.n_obs, 100, replace=False)
    adata = truth.copy()
    adata.X = np.asarray(adata.X, dtype=np.float32).copy()
    adata.X[np.ix_(rows, cols)] = np.nan
    model = ge.tl.train_regulators(adata, random_state=0, **QUICK)
    memory = adata.copy()
    ge.tl.impute_from_regulators(memory, model)

    adata.write_zarr(tmp_path / "tf.zarr", chunks=(128, 467))
    lazy = ge.pp.read_lazy(tmp_path / "tf.zarr")
    ge.tl.impute_from_regulators(lazy, model)
    out = lazy.layers["imputed_regulators"]
    assert isinstance(out, da.Array)
    p, q = lazy.uns["imputed_regulators"]["params"], memory.uns["imputed_regulators"]["params"]
    assert (
        (p["n_values_imputed"], p["n_genes_imputed"])
        == (2000, 20)
        == (
            q["n_values_imputed"],
            q["n_genes_imputed"],
        )
    )
    mask = lazy.layers["imputed_regulators_mask"].compute()
    np.testing.assert_array_equal(mask, memory.layers["imputed_regulators_mask"])
    values = out.compute()
    np.testing.assert_array_equal(
        values[~mask], np.asarray(memory.layers["imputed_regulators"])[~mask]
    )
    np.testing.assert_allclose(
        values[mask], memory.layers["imputed_regulators"][mask], rtol=0, atol=1e-5
    )

    # errors on a lazy matrix, AnnData unchanged
    lazy2 = ge.pp.read_lazy(tmp_path / "tf.zarr")
    with pytest.raises(ValueError, match="train the model first on an in-memory AnnData"):
        ge.tl.impute_from_regulators(lazy2, None)
    assert not lazy2.layers and "imputed_regulators" not in lazy2.uns
    broken = adata.copy()
    broken.X[0, np.flatnonzero(reg)[0]] = np.nan
    broken.write_zarr(tmp_path / "broken.zarr")
    lazy3 = ge.pp.read_lazy(tmp_path / "broken.zarr")
    with pytest.raises(ValueError, match="regulators have NaN"):
        ge.tl.impute_from_regulators(lazy3, model)
    assert "imputed_regulators" not in lazy3.layers


def test_sparse_chunks_densified_per_block(held_samples, tmp_path):
    """A CSR matrix read lazily (dask array of scipy.sparse chunks) gives the same medians."""
    from scipy import sparse

    d, tdata, _, _ = held_samples
    s = d.copy()
    X = np.asarray(s.X).copy()
    X[X < 1.0] = 0.0  # sparse-like, with the NaN genes kept as explicit NaN
    s.X = sparse.csr_matrix(X)
    s.write_zarr(tmp_path / "sparse.zarr")
    lazy = ge.pp.read_lazy(tmp_path / "sparse.zarr", chunks=(3000, 59))
    assert isinstance(lazy.X, da.Array) and sparse.issparse(lazy.X.blocks[0, 0].compute())
    dense = ad.AnnData(X=X, obs=s.obs, var=s.var)
    np.testing.assert_array_equal(
        np.asarray(ge.pp.tissue_medians(lazy, "tissue").X),
        np.asarray(ge.pp.tissue_medians(dense, "tissue").X),
    )

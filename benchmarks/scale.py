"""Scale benchmark: time and peak memory of every stage at full GTEx v8 size.

Usage: python benchmarks/scale.py [--genes 18733 37467 56200] [--tissues 54] [--repeats 2]
                                  [--samples 17382] [--accelerator auto|cpu] [--recompute]
       python benchmarks/scale.py --dask [--dask-samples 173820] [--sample-genes 56200]
                                  [--workers 2] [--worker-memory 6GiB] [--store-dir DIR]

Runs, each in a fresh subprocess so memory figures do not mix:

- gene level: tissues x genes median-TPM tables with 1x, 2x and 3x the bundled gene count
  (3x = 56,200, the GTEx v8 gene count) and 54 tissues; 10% of genes held out (NaN);
  ``ge.tl.impute_expression`` trains the hybrid (package defaults) and imputes them.
- sample level: 17,382 samples x 56,200 genes (GTEx v8 sample level), 10% of genes NaN in every
  sample; ``ge.tl.impute_samples`` builds tissue medians, trains the hybrid on them and fills the
  genes in every sample.

The inputs are RESAMPLED from the bundled real data (GTEx v8 via HPA, 37 tissues x 18,241
genes), not real GTEx at that size: genes beyond the bundled count are copies of real genes
(with their promoters, strands and gene bodies) placed on shifted coordinates of the same
chromosome with 10% log-scale noise; tissues beyond 37 are log-scale mixtures of two real
tissues plus noise; samples are tissue medians plus gene-wise noise and a per-sample factor,
with tissue sizes drawn from the real GTEx v8 sample counts (``ge.datasets.gtex_donors``).

``--dask`` runs only the sample level at 10x GTEx (173,820 samples x 56,200 genes, 36.4 GiB as
float32: more than this machine's memory) on a ``dask.distributed.LocalCluster`` (2 worker
processes x 1 thread, 6 GiB memory limit each), the client process holding the scheduler and
training the tissue-level hybrid: the resampled matrix is generated on the workers and written
to a compressed zarr store (TPM kept to about 3 significant digits, Blosc zstd + bitshuffle,
1,024 x 512 chunks), opened with ``ge.pp.read_lazy``; ``ge.tl.impute_samples`` (one column
pass for tissue medians, finite counts and the beta-fit rows; the hybrid trained on the
medians with its XGBoost stage on ``xgboost.dask``; lazy output layers) and
``ge.pp.write_layers`` (one row pass computing the imputed layer and its mask on the workers,
written into the store). The resident memory of the client and of each worker is sampled every
0.25 s, and the bytes each worker spilled to disk are read from its metrics. The store is
removed afterwards. The record is added to ``scale.json`` with ``"engine": "dask"``.

Each gene-level run is repeated ``--repeats`` times, each time in a fresh process; a stage's
time is the fastest repeat (load from anything else on the machine only adds time, and with
three sizes a single noisy run moves an exponent by 0.1), and every repeat's times are kept in
the JSON. Stages: reading the h5ad, gene features, promoter one-hot encoding, neighbour
features, tissue correlation, the stage-1 network (the promoter CNN and the neighbour
transformer are one network trained jointly, so they are timed together: out-of-fold fits,
final fit, inference), the XGBoost design matrix and fit, XGBoost prediction, writing the
layers and writing the h5ad. Gene-level runs train (``ge.tl.train``) and then impute
(``ge.tl.impute_expression`` with the model), so the input stages run twice, as they do for a
user. Stage times come from geneimpute's timing hook: each stage is logged at ``DEBUG`` on the
``geneimpute`` logger with its span (record attributes ``stage``, ``start``, ``end``), and a
``logging.Handler`` here collects them. After each gene-level run the short stages are timed
again in warm memory (``isolated_seconds``, the fastest of several calls): reading and writing
the h5ad and ``ge.pp.tissue_correlation`` 5 times each, and the input, XGBoost-prediction and
layer-writing stages from 3 more ``ge.tl.impute_expression`` calls with the trained model.

Peak memory is the largest resident set size (RSS) of the process sampled every 20 ms during a
stage (process-wide, so it includes data loaded before the stage; the largest over repeats).
Prints a table and writes benchmarks/results/scale.json:
``{"runs": [{"level", "n_obs", "n_vars", "device", "defaults", "stages": {stage: {"seconds",
"peak_mib"}}, "total_seconds", "peak_mib"}], "exponents": {stage: value}, ...}``, where
``exponents`` is the least-squares slope of log(seconds) on log(number of genes) over the
gene-level runs (see :func:`exponents` for which times each stage is fitted on).
``--recompute`` re-fits the exponents and prints the tables from an existing JSON;
``python benchmarks/report.py`` renders them into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import psutil
from report import dask_table, exponent_table, scale_table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHIFT_BP = 300_000_000  # copies of genes live this far along their chromosome (> chr1 length)
MIB = 2**20
ISOLATED_CALLS = 5
#: ``ge.tl.impute_expression`` calls behind the isolated times of its short stages
IMPUTE_CALLS = 3
#: stages re-timed from those calls (the network inference is long: pipeline times suffice)
IMPUTE_STAGES = (
    "gene_features",
    "promoter_onehot",
    "neighbor_features",
    "xgboost_predict",
    "write_layers",
)
#: pipeline-time exponents are only fitted for stages at least this long at every size
MIN_PIPELINE_SECONDS = 0.5


# ----------------------------------------------------------------------------- inputs
def resample_table(n_genes: int, n_tissues: int, seed: int = 0) -> ad.AnnData:
    """Tissues x genes TPM table of the requested size, resampled from the bundled real data."""
    import geneimpute as ge

    base = ge.datasets.gtex_tissues()
    rng = np.random.default_rng(seed)
    n0 = base.n_vars
    copies = -(-n_genes // n0)
    idx = np.concatenate([np.arange(n0)] * (copies - 1) + [rng.permutation(n0)])[:n_genes]
    copy = np.repeat(np.arange(copies), n0)[:n_genes]
    var = base.var.iloc[idx].copy()
    for col in ("start", "end", "tss"):
        if col in var.columns:
            var[col] = var[col].to_numpy(np.int64) + copy * SHIFT_BP
    var.index = pd.Index(
        [g if c == 0 else f"{g}_copy{c}" for g, c in zip(var.index, copy, strict=True)]
    )
    Y = np.log1p(np.asarray(base.X, dtype=np.float64))[:, idx]
    Y[:, copy > 0] += rng.normal(0, 0.1, size=(Y.shape[0], int((copy > 0).sum())))
    names = list(base.obs_names)
    n_real = len(names)
    extra = []
    for j in range(n_tissues - n_real):
        a, b = rng.choice(n_real, 2, replace=False)
        extra.append(0.7 * Y[a] + 0.3 * Y[b] + rng.normal(0, 0.2, Y.shape[1]))
        names.append(f"{names[a]} / {names[b]} (resampled {j + 1})")
    Y = np.vstack([Y, *extra])[:n_tissues] if extra else Y[:n_tissues]
    X = np.expm1(np.clip(Y, 0, None)).astype(np.float32)
    return ad.AnnData(X=X, obs=pd.DataFrame(index=pd.Index(names[:n_tissues])), var=var)


def held_out(n_genes: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    mask = np.zeros(n_genes, bool)
    mask[rng.choice(n_genes, n_genes // 10, replace=False)] = True
    return mask


def make_gene_input(path: Path, n_genes: int, n_tissues: int) -> None:
    t = resample_table(n_genes, n_tissues)
    t.X[:, held_out(n_genes)] = np.nan
    t.write_h5ad(path)


def make_sample_input(path: Path, n_samples: int, n_genes: int, n_tissues: int) -> None:
    """Samples x genes TPM from the resampled tissue table (chunked: never a float64 copy)."""
    import geneimpute as ge

    t = resample_table(n_genes, n_tissues)
    rng = np.random.default_rng(2)
    counts = ge.datasets.gtex_donors().obs["tissue"].value_counts().to_numpy(float)
    p = np.resize(np.sort(counts)[::-1], n_tissues)
    tissue = rng.choice(n_tissues, n_samples, p=p / p.sum())
    Y = np.log1p(np.asarray(t.X, dtype=np.float32))
    sd = rng.uniform(0.2, 0.6, n_genes).astype(np.float32)
    load = rng.normal(0, 0.3, n_genes).astype(np.float32)
    hold = held_out(n_genes)
    X = np.empty((n_samples, n_genes), dtype=np.float32)
    for s in range(0, n_samples, 1024):
        r = slice(s, min(s + 1024, n_samples))
        n = r.stop - r.start
        factor = rng.normal(0, 1, (n, 1)).astype(np.float32)
        block = Y[tissue[r]] + factor * load + rng.standard_normal((n, n_genes), np.float32) * sd
        X[r] = np.expm1(np.clip(block, 0, None))
    X[:, hold] = np.nan
    obs = pd.DataFrame(
        {"tissue": pd.Categorical(np.asarray(t.obs_names)[tissue])},
        index=pd.Index([f"SAMPLE-{i:05d}" for i in range(n_samples)]),
    )
    ad.AnnData(X=X, obs=obs, var=t.var).write_h5ad(path)


# ----------------------------------------------------------------------------- measuring
class RSSSampler:
    """Sample the process RSS every ``interval`` s in a thread: ``(perf_counter, bytes)``."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._proc = psutil.Process()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self._proc.memory_info().rss))
            self._stop.wait(self.interval)

    def __enter__(self) -> RSSSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, t0: float, t1: float) -> float:
        inside = [m for t, m in self.samples if t0 <= t <= t1]
        if not inside:  # a stage shorter than the interval: nearest sample
            inside = [min(self.samples, key=lambda s: abs(s[0] - t0))[1]]
        return max(inside) / MIB


class SpanHandler(logging.Handler):
    """Collect the ``(stage, start, end)`` spans geneimpute logs at ``DEBUG`` as stages end."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.spans: list[tuple[str, float, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "stage"):
            self.spans.append((record.stage, record.start, record.end))


@contextmanager
def stage_spans() -> Iterator[list[tuple[str, float, float]]]:
    """The spans of the stages that end inside the block (a list filled as they end)."""
    log = logging.getLogger("geneimpute")
    handler, level = SpanHandler(), log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield handler.spans
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def run_one(level: str, path: Path, accelerator: str) -> dict:
    """Run one level on one input file in this process; return its record."""
    import geneimpute as ge

    ge.settings.progress = False
    spans: list[tuple[str, float, float]] = []
    with RSSSampler() as rss:
        t_start = time.perf_counter()
        t0 = time.perf_counter()
        adata = ad.read_h5ad(path)
        spans.append(("read_h5ad", t0, time.perf_counter()))
        with stage_spans() as logged:
            if level == "gene":
                model = ge.tl.train(adata, random_state=0, accelerator=accelerator)
                ge.tl.impute_expression(adata, model, accelerator=accelerator)
            else:
                ge.tl.impute_samples(adata, random_state=0, accelerator=accelerator)
        spans += logged
        out = path.with_name(path.stem + "_out.h5ad")
        t0 = time.perf_counter()
        adata.write_h5ad(out)
        spans.append(("h5ad_write", t0, time.perf_counter()))
        total = time.perf_counter() - t_start
    stages: dict[str, dict[str, float]] = {}
    for name, a, b in spans:
        st = stages.setdefault(name, {"seconds": 0.0, "peak_mib": 0.0})
        st["seconds"] += b - a
        st["peak_mib"] = max(st["peak_mib"], rss.peak(a, b))
    for st in stages.values():
        st["seconds"] = round(st["seconds"], 3)
        st["peak_mib"] = round(st["peak_mib"], 1)
    params = adata.uns["imputed"]["params"]
    isolated = retime_isolated(path, model, accelerator) if level == "gene" else {}
    out.unlink()
    return {
        "level": level,
        "n_obs": int(adata.n_obs),
        "n_vars": int(adata.n_vars),
        "n_genes_imputed": int(params["n_genes_imputed"]),
        "device": params["device"],
        "defaults": asdict(ge.models.HybridConfig()),
        "stages": stages,
        "total_seconds": round(total, 2),
        "peak_mib": round(max(m for _, m in rss.samples) / MIB, 1),
        "isolated_seconds": isolated,
    }


def best_of(fn, n: int = ISOLATED_CALLS) -> float:
    """Fastest of ``n`` calls of ``fn`` (seconds)."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(min(times), 4)


def retime_isolated(path: Path, model, accelerator: str) -> dict[str, float]:
    """Fastest seconds of the short stages, each timed again after the run in warm memory.

    A stage that takes well under a second inside the pipeline is dominated by first-touch
    page faults and timer noise there; timed on repeated calls its cost is measured reliably,
    so its growth exponent is fitted on these times. Reading and writing the h5ad and
    ``ge.pp.tissue_correlation`` are called ``ISOLATED_CALLS`` times; the stages of
    ``IMPUTE_STAGES`` come from ``IMPUTE_CALLS`` calls of ``ge.tl.impute_expression`` with the
    trained model (its inputs, XGBoost prediction and layer writing; no intervals).
    """
    import geneimpute as ge

    adata = ad.read_h5ad(path)
    with tempfile.TemporaryDirectory() as tmp:
        h5 = Path(tmp) / "w.h5ad"
        out = {
            "read_h5ad": best_of(lambda: ad.read_h5ad(path)),
            "tissue_correlation": best_of(lambda: ge.pp.tissue_correlation(adata, inplace=False)),
            "h5ad_write": best_of(lambda: adata.write_h5ad(h5)),
        }
    calls = []
    for _ in range(IMPUTE_CALLS):
        with stage_spans() as logged:
            ge.tl.impute_expression(adata, model, interval=None, accelerator=accelerator, copy=True)
        seconds: dict[str, float] = {}
        for name, a, b in logged:
            seconds[name] = seconds.get(name, 0.0) + b - a
        calls.append(seconds)
    for st in IMPUTE_STAGES:
        if all(st in c for c in calls):
            out[st] = round(min(c[st] for c in calls), 4)
    return out


def _subprocess(*args: str) -> str:
    cmd = [sys.executable, __file__, *args]
    res = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy(), check=False)
    if res.returncode != 0:
        sys.stderr.write(res.stdout + res.stderr)
        msg = f"{' '.join(cmd)} failed with exit code {res.returncode}"
        raise RuntimeError(msg)
    return res.stdout


def combine(recs: list[dict]) -> dict:
    """One record from repeats of the same run: fastest time and largest peak of each stage.

    The minimum over repeats is the usual estimate of a run's cost (other load on the machine
    only ever adds time); every repeat's seconds are kept under ``"repeat_seconds"``.
    """
    out = dict(recs[0])
    out["repeats"] = len(recs)
    out["stages"] = {}
    for st in recs[0]["stages"]:
        out["stages"][st] = {
            "seconds": min(r["stages"][st]["seconds"] for r in recs),
            "peak_mib": max(r["stages"][st]["peak_mib"] for r in recs),
        }
    out["total_seconds"] = min(r["total_seconds"] for r in recs)
    out["isolated_seconds"] = {
        st: min(r["isolated_seconds"][st] for r in recs) for st in recs[0]["isolated_seconds"]
    }
    out["peak_mib"] = max(r["peak_mib"] for r in recs)
    out["repeat_seconds"] = [
        {"total": r["total_seconds"], **{st: v["seconds"] for st, v in r["stages"].items()}}
        for r in recs
    ]
    return out


def _slope(genes: list[int], secs: list[float]) -> float:
    return round(float(np.polyfit(np.log(genes), np.log(secs), 1)[0]), 3)


def exponents(runs: list[dict]) -> dict[str, dict]:
    """Growth exponent of each stage's time in the number of genes, with what it was fitted on.

    Least-squares slope of log(seconds) on log(genes) over the gene-level runs. A stage that
    :func:`retime_isolated` re-times is fitted on its isolated best-of-5 times (its own cost,
    free of the first-touch page faults and timer noise that dominate a sub-second or
    one-second stage inside the pipeline); the long stages (networks, XGBoost fit, total) on
    the pipeline times (fastest of the fresh-process repeats). For comparison, every stage that
    takes at least ``MIN_PIPELINE_SECONDS`` at every size also gets its pipeline-time exponent.

    Returns ``{stage: {"exponent", "fitted_on", "seconds", "in_pipeline"}}`` (``in_pipeline``
    None for short stages).
    """
    gene = [r for r in runs if r["level"] == "gene"]
    if len(gene) < 2:
        return {}
    genes = [r["n_vars"] for r in gene]
    fits = {}
    names = set.intersection(*(set(r["stages"]) for r in gene)) | {"total"}
    for st in sorted(names):
        secs = [r["total_seconds"] if st == "total" else r["stages"][st]["seconds"] for r in gene]
        in_pipeline = _slope(genes, secs) if min(secs) >= MIN_PIPELINE_SECONDS else None
        if all(st in r.get("isolated_seconds", {}) for r in gene):
            secs = [r["isolated_seconds"][st] for r in gene]
            calls = IMPUTE_CALLS if st in IMPUTE_STAGES else ISOLATED_CALLS
            fitted_on = f"isolated best of {calls}"
        elif in_pipeline is not None:
            fitted_on = "pipeline"
        else:
            continue
        fits[st] = {
            "exponent": _slope(genes, secs),
            "fitted_on": fitted_on,
            "seconds": secs,
            "in_pipeline": in_pipeline,
        }
    return fits


# ----------------------------------------------------------------------------- dask (10x GTEx)
#: zarr chunks of the 10x store: ~1,000 samples x 512 genes, read once by both access patterns
DASK_CHUNKS = (1024, 512)
#: float32 mantissa bits kept (10 of 23: ~3 significant digits, as published TPM tables)
MANTISSA_BITS = 10


class ProcessSampler:
    """Sample the RSS of several processes every ``interval`` s: peak per process and span."""

    def __init__(self, pids: dict[str, int], interval: float = 0.25) -> None:
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.interval = interval
        self.samples: list[tuple[float, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            snap = {}
            for name, proc in self.procs.items():
                try:
                    snap[name] = proc.memory_info().rss
                except psutil.Error:
                    snap[name] = 0
            self.samples.append((time.perf_counter(), snap))
            self._stop.wait(self.interval)

    def __enter__(self) -> ProcessSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peaks(self, t0: float = -np.inf, t1: float = np.inf) -> dict[str, float]:
        inside = [snap for t, snap in self.samples if t0 <= t <= t1]
        if not inside:  # a stage shorter than the interval: the nearest sample
            inside = [min(self.samples, key=lambda s: abs(s[0] - t0))[1]]
        return {n: round(max(s[n] for s in inside) / MIB, 1) for n in self.procs}


def _generate_block(consts: dict, block_info=None) -> np.ndarray:
    """One block of whole rows of the resampled sample matrix (seeded by its position)."""
    (start, stop), _ = block_info[None]["array-location"]
    rng = np.random.default_rng([2, start])
    Y, sd, load = consts["Y"], consts["sd"], consts["load"]
    n = stop - start
    factor = rng.normal(0, 1, (n, 1)).astype(np.float32)
    block = Y[consts["tissue"][start:stop]] + factor * load
    block += rng.standard_normal((n, Y.shape[1]), np.float32) * sd
    X = np.expm1(np.clip(block, 0, None, out=block), out=block)
    bits = X.view(np.uint32)
    bits &= np.uint32((0xFFFFFFFF << (23 - MANTISSA_BITS)) & 0xFFFFFFFF)
    X[:, consts["hold"]] = np.nan
    return X


def write_dask_store(path: Path, n_samples: int, n_genes: int, n_tissues: int, client) -> dict:
    """Write the resampled samples x genes TPM matrix as an anndata zarr store, on the cluster."""
    import dask
    import dask.array as da
    import numcodecs
    import zarr

    import geneimpute as ge

    t = resample_table(n_genes, n_tissues)
    rng = np.random.default_rng(2)
    counts = ge.datasets.gtex_donors().obs["tissue"].value_counts().to_numpy(float)
    p = np.resize(np.sort(counts)[::-1], n_tissues)
    tissue = rng.choice(n_tissues, n_samples, p=p / p.sum())
    consts = {
        "Y": np.log1p(np.asarray(t.X, dtype=np.float32)),
        "sd": rng.uniform(0.2, 0.6, n_genes).astype(np.float32),
        "load": rng.normal(0, 0.3, n_genes).astype(np.float32),
        "tissue": tissue,
        "hold": held_out(n_genes),
    }
    obs = pd.DataFrame(
        {"tissue": pd.Categorical(np.asarray(t.obs_names)[tissue])},
        index=pd.Index([f"SAMPLE-{i:06d}" for i in range(n_samples)]),
    )
    ad.AnnData(obs=obs, var=t.var).write_zarr(path)
    group = zarr.open_group(str(path), mode="r+")
    compressor = numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.BITSHUFFLE)
    z = group.create_array(
        "X",
        shape=(n_samples, n_genes),
        dtype="float32",
        chunks=DASK_CHUNKS,
        compressors=compressor,
        fill_value=np.nan,
    )
    z.attrs.update({"encoding-type": "array", "encoding-version": "0.2.0"})
    X = da.map_blocks(
        _generate_block,
        dask.delayed(consts, pure=True, traverse=False),
        chunks=(
            tuple(np.diff(np.r_[np.arange(0, n_samples, DASK_CHUNKS[0]), n_samples])),
            (n_genes,),
        ),
        dtype=np.float32,
        meta=np.empty((0, 0), np.float32),
    )
    da.store(X, z, lock=False)
    zarr.consolidate_metadata(str(path))
    return {
        "format": f"zarr v{group.metadata.zarr_format}, Blosc zstd level 3 + bitshuffle, "
        f"chunks {DASK_CHUNKS[0]} samples x {DASK_CHUNKS[1]} genes",
        "values": f"TPM, float32 with {MANTISSA_BITS} mantissa bits kept (about 3 significant "
        "digits, as published TPM tables); 10% of genes NaN in every sample",
        "uncompressed_gib": round(n_samples * n_genes * 4 / 2**30, 2),
    }


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _spilled_bytes(client) -> dict[str, int]:
    """Bytes each worker wrote to disk when spilling (cumulative)."""

    def spilled(dask_worker) -> int:
        total = 0
        for key, value in getattr(dask_worker, "digests_total", {}).items():
            parts = key if isinstance(key, tuple) else (key,)
            if "disk-write" in parts and parts[-1] == "bytes":
                total += int(value)
        return total

    return {str(k): int(v) for k, v in client.run(spilled).items()}


def run_dask(args) -> dict:
    """Sample-level imputation at 10x GTEx on a LocalCluster: store, medians, impute, write."""
    import dask
    from dask.distributed import Client, LocalCluster

    import geneimpute as ge

    ge.settings.progress = False
    n_obs, n_vars = args.dask_samples, args.sample_genes
    root = Path(tempfile.mkdtemp(prefix="geneimpute_scale_", dir=args.store_dir))
    store = root / f"samples_{n_obs}x{n_vars}.zarr"
    need = n_obs * n_vars * 4 * 1.3 / 2**30  # input + output, compressed (measured ~0.6 each)
    free = psutil.disk_usage(str(root)).free / 2**30
    if free < need:
        msg = f"{free:.0f} GiB free under {root}, the run needs about {need:.0f} GiB"
        raise SystemExit(msg)
    dask.config.set({"distributed.worker.memory.target": 0.6})
    cluster = LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        processes=True,
        memory_limit=args.worker_memory,
        dashboard_address=None,
        local_directory=str(root / "dask-worker-space"),
    )
    client = Client(cluster)
    pids = {"client": os.getpid()}
    for i, pid in enumerate(sorted(client.run(os.getpid).values())):
        pids[f"worker_{i + 1}"] = pid
    stages: dict[str, dict] = {}
    spans: list[tuple[str, float, float]] = []
    print(
        f"dask: {args.workers} workers x 1 thread, memory_limit {args.worker_memory}; store "
        f"{store}",
        flush=True,
    )
    try:
        with ProcessSampler(pids) as mem:
            t_start = time.perf_counter()
            t0 = time.perf_counter()
            info = write_dask_store(store, n_obs, n_vars, args.tissues, client)
            spans.append(("write_input_store", t0, time.perf_counter()))
            info["compressed_gib"] = round(_du(store) / 2**30, 2)
            print(f"  wrote the input store: {info}", flush=True)

            t0 = time.perf_counter()
            lazy = ge.pp.read_lazy(store)
            spans.append(("read_lazy", t0, time.perf_counter()))
            # impute_samples computes the tissue medians itself (its column pass: medians,
            # finite counts and the beta-fit rows in one read), so they are not computed twice

            t0 = time.perf_counter()
            with stage_spans() as logged:
                ge.tl.impute_samples(lazy, random_state=0, client=client, accelerator="cpu")
            t1 = time.perf_counter()
            spans.append(("impute_samples_call", t0, t1))
            spans += [(f"impute_samples.{n}", a, b) for n, a, b in logged]
            params = lazy.uns["imputed"]["params"]
            print(
                f"  impute_samples (lazy layers): {t1 - t0:.0f} s; beta {params['beta']:.3f}",
                flush=True,
            )

            t0 = time.perf_counter()
            ge.pp.write_layers(
                lazy,
                store,
                ["imputed", "imputed_mask"],
                chunks=DASK_CHUNKS,
                compressors=zarr_compressor(),
            )
            spans.append(("write_imputed_layers", t0, time.perf_counter()))
            info["compressed_gib_with_layers"] = round(_du(store) / 2**30, 2)
            print(f"  wrote the imputed layers: {time.perf_counter() - t0:.0f} s", flush=True)

            t0 = time.perf_counter()
            check = ge.pp.read_lazy(store, layers=["imputed_mask"])
            n_mask = int(check.layers["imputed_mask"].sum().compute())
            spans.append(("check_mask_count", t0, time.perf_counter()))
            total = time.perf_counter() - t_start
        spilled = _spilled_bytes(client)
    finally:
        client.close()
        cluster.close()
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    for name, a, b in spans:
        st = stages.setdefault(name, {"seconds": 0.0, "peak_mib": 0.0, "process_peak_mib": {}})
        st["seconds"] = round(st["seconds"] + b - a, 3)
        peaks = mem.peaks(a, b)
        st["peak_mib"] = max(st["peak_mib"], max(peaks.values()))
        st["process_peak_mib"] = peaks
    peaks = mem.peaks()
    return {
        "level": "sample",
        "engine": "dask",
        "n_obs": int(n_obs),
        "n_vars": int(n_vars),
        "n_genes_imputed": int(params["n_genes_imputed"]),
        "n_values_imputed": int(params["n_values_imputed"]),
        "n_values_in_written_mask": n_mask,
        "device": "cpu",
        "defaults": asdict(ge.models.HybridConfig()),
        "cluster": {
            "n_workers": args.workers,
            "threads_per_worker": 1,
            "memory_limit": args.worker_memory,
            "scheduler": "dask.distributed.LocalCluster (processes)",
        },
        "store": info,
        "stages": stages,
        "total_seconds": round(total, 2),
        "peak_mib": max(peaks.values()),
        "process_peak_mib": peaks,
        "spilled_bytes": spilled,
        "store_removed": not root.exists(),
        "params": {k: params[k] for k in ("beta", "residual_r2", "n_reference_genes", "engine")},
    }


def zarr_compressor():
    import numcodecs

    return numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.BITSHUFFLE)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--genes", type=int, nargs="+", default=[18733, 37467, 56200])
    p.add_argument("--tissues", type=int, default=54)
    p.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="fresh-process repeats of each gene-level run; the fastest is reported",
    )
    p.add_argument("--samples", type=int, default=17382, help="0 skips the sample level")
    p.add_argument("--sample-genes", type=int, default=56200)
    p.add_argument("--accelerator", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--output", type=Path, default=RESULTS / "scale.json")
    p.add_argument(
        "--recompute",
        action="store_true",
        help="re-fit the exponents and rewrite the tables from the runs already in --output",
    )
    p.add_argument(
        "--dask",
        action="store_true",
        help="only the sample level at 10x GTEx on a dask LocalCluster (added to --output)",
    )
    p.add_argument("--dask-samples", type=int, default=173_820)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--worker-memory", default="6GiB")
    p.add_argument("--store-dir", default=None, help="where the temporary zarr store goes")
    p.add_argument("--_make", nargs=4, help=argparse.SUPPRESS)
    p.add_argument("--_run", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._make:  # child: write one input file
        kind, path, n_obs, n_vars = args._make
        if kind == "gene":
            make_gene_input(Path(path), int(n_vars), int(n_obs))
        else:
            make_sample_input(Path(path), int(n_obs), int(n_vars), args.tissues)
        return
    if args._run:  # child: measure one run
        print(json.dumps(run_one(args._run[0], Path(args._run[1]), args.accelerator)))
        return
    if args.recompute:
        write_results(json.loads(args.output.read_text())["runs"], args.output)
        return
    if args.dask:
        print(
            "Input RESAMPLED from the bundled real GTEx v8 table (see the module docstring) and "
            "written to a compressed zarr store, which is removed afterwards.",
            flush=True,
        )
        rec = run_dask(args)
        old = json.loads(args.output.read_text())["runs"] if args.output.exists() else []
        runs = [r for r in old if r.get("engine", "numpy") != "dask"] + [rec]
        write_results(runs, args.output)
        return

    print(
        "Inputs are resampled from the bundled real GTEx v8 table (37 tissues x 18,241 genes): "
        "extra genes are noisy copies on shifted coordinates, extra tissues are mixtures of two "
        "real tissues, samples are tissue medians plus noise (see the module docstring).",
        flush=True,
    )
    runs = []
    jobs = [("gene", args.tissues, n, args.repeats) for n in args.genes]
    if args.samples:
        jobs.append(("sample", args.samples, args.sample_genes, 1))
    with tempfile.TemporaryDirectory() as tmp:
        for level, n_obs, n_vars, repeats in jobs:
            path = Path(tmp) / f"{level}_{n_obs}x{n_vars}.h5ad"
            t0 = time.perf_counter()
            _subprocess("--_make", level, str(path), str(n_obs), str(n_vars))
            print(f"built {level} input {n_obs:,} x {n_vars:,} in {time.perf_counter() - t0:.0f} s")
            recs = []
            for r in range(repeats):
                rec = json.loads(_subprocess("--_run", level, str(path)).strip().splitlines()[-1])
                recs.append(rec)
                print(
                    f"  {level} {n_obs:,} x {n_vars:,} on {rec['device']} "
                    f"(repeat {r + 1}/{repeats}): {rec['total_seconds']:.0f} s, "
                    f"peak {rec['peak_mib']:,.0f} MiB",
                    flush=True,
                )
            runs.append(combine(recs))
            path.unlink()
            gc.collect()
    write_results(runs, args.output)


def write_results(runs: list[dict], output: Path) -> None:
    """Fit the exponents, print the tables and write ``output`` (.json)."""
    fits = exponents(runs)
    result = {
        "runs": runs,
        "exponents": {st: f["exponent"] for st, f in fits.items()},
        "exponent_sources": {st: f["fitted_on"] for st, f in fits.items()},
        "exponents_in_pipeline": {
            st: f["in_pipeline"] for st, f in fits.items() if f["in_pipeline"] is not None
        },
        "inputs": "resampled from the bundled real GTEx v8 table; see benchmarks/scale.py",
        "machine": {
            "cpu_count": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        },
    }
    print("\n" + scale_table(runs) + "\n\n" + exponent_table(result))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2))
    dask_runs = [r for r in runs if r.get("engine") == "dask"]
    if dask_runs:
        print("\n" + dask_table(dask_runs[-1]))
    print(f"wrote {output}")


if __name__ == "__main__":
    main()

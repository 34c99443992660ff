"""Time imputation with the shipped pretrained model: the README's 500 NaN genes, no training.

    python benchmarks/pretrained.py [--runs 5]

Each run is a fresh Python process doing what a new user does::

    import geneimpute as ge
    adata = ge.datasets.gtex_tissues()
    adata.X[:, :500] = float("nan")
    ge.tl.impute_expression(adata, model="gtex_v8_37tissues")

and reports the seconds of each step (import, load data, impute incl. loading the model,
neighbour search, prediction and 90% intervals) and its peak resident memory. Writes
``benchmarks/results/pretrained.json`` (every run, the median, and the model's settings from
``uns["imputed"]["params"]["model_config"]``) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def once() -> dict:
    t0 = time.perf_counter()
    import numpy as np

    import geneimpute as ge

    t1 = time.perf_counter()
    adata = ge.datasets.gtex_tissues()
    adata.X[:, :500] = float("nan")
    t2 = time.perf_counter()
    ge.tl.impute_expression(adata, model="gtex_v8_37tissues")
    t3 = time.perf_counter()
    filled = adata.layers["imputed"][:, :500]
    assert np.isfinite(filled).all() and np.isfinite(adata.layers["imputed_upper"][:, :500]).all()
    timings = adata.uns["imputed"]["timings"]
    config = adata.uns["imputed"]["params"]["model_config"]
    return {
        "model_config": json.loads(json.dumps(dict(config), default=list)),
        "import_s": t1 - t0,
        "load_data_s": t2 - t1,
        "impute_s": t3 - t2,
        "total_s": t3 - t0,
        "impute_steps_s": {k: float(v) for k, v in timings.items()},
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.once:
        print(json.dumps(once()))
        return 0
    runs = []
    for i in range(args.runs):
        out = subprocess.run(
            [sys.executable, __file__, "--once"], capture_output=True, text=True, check=True
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = runs[-1]
        print(
            f"run {i + 1}: import {r['import_s']:.1f} s, load data {r['load_data_s']:.1f} s, "
            f"impute {r['impute_s']:.1f} s, total {r['total_s']:.1f} s, "
            f"peak {r['peak_rss_gib']:.2f} GiB"
        )
    keys = ("import_s", "load_data_s", "impute_s", "total_s", "peak_rss_gib")
    median = {k: statistics.median(r[k] for r in runs) for k in keys}
    print("median: " + ", ".join(f"{k} {v:.2f}" for k, v in median.items()))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pretrained.json").write_text(
        json.dumps(
            {
                "task": "impute 500 all-NaN genes of ge.datasets.gtex_tissues() with the "
                "pretrained model gtex_v8_37tissues (no training), 90% intervals",
                "machine": f"{platform.machine()}, {platform.processor() or '?'}, "
                f"Python {platform.python_version()}",
                "median": median,
                "model_config": runs[0]["model_config"],
                "runs": [{k: v for k, v in r.items() if k != "model_config"} for r in runs],
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

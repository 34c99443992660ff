"""Tune the hybrid on the bundled GTEx table with ``ge.tl.tune`` and save every trial.

Record, not maintained code (see ``experiments/README.md``). Results: ``results/tune_gtex.csv``
/ ``tune_gtex.json`` (ba4c4de, 2026-12-01; log ``tune_gtex.log``). This script runs as it stands
at commit 93bbb6e (``git checkout 93bbb6e``), the last commit before issue 28 removed the
options and private helpers it compares and imports; paths ``benchmarks/...`` below are the
layout of that commit (its results now live in ``experiments/results/``). Its figures are not
current figures: ``docs/benchmarks.md`` has those.

Usage: python benchmarks/tune_gtex.py [--n-trials 30] [--timeout SECONDS] [--seed 0]
       [--design stage1|stage2] [--quick]

The search runs on the reference genes of the accuracy benchmark's seed-``seed`` split (its
10% held-out evaluation genes are excluded from ``reference``, so they are never seen by a
trial). ``--design stage1`` fixes the redesigned stage 1 (``benchmarks/stage1.py``'s
``STAGE1`` switches: level/pattern heads, pooled neighbour profile, one-cycle schedule),
``--design stage2`` also the XGBoost tissue-pattern model (``STAGE2``); both add
``pattern_weight``, ``max_epochs`` and ``n_folds`` (out-of-fold networks behind the XGBoost
training rows) to the searched fields. The first trial is the design's own settings (the
package defaults without ``--design``), so the table shows what the search gains over them.
``--quick``: 2 trials of a small
space on chr21/chr22 genes (a smoke test of the script, minutes).

Writes benchmarks/results/tune_gtex.json (the call's settings, best params and value, every
trial) and tune_gtex.csv (the trial table).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from accuracy import load, split
from stage1 import DESIGNS

import geneimpute as ge
from geneimpute.models import HybridConfig

RESULTS = Path(__file__).resolve().parent / "results"
SPACE = {
    "learning_rate": ("float", 5e-4, 5e-3, True),
    "k_idw": ("int", 5, 20),
    "embedding_dim": ("categorical", [16, 32, 64]),
    "xgb_n_estimators": ("int", 200, 800, True),
    "xgb_max_depth": ("int", 3, 6),
    "xgb_learning_rate": ("float", 0.02, 0.1, True),
    "xgb_min_child_weight": ("float", 100.0, 1000.0, True),
}
STAGE1_SPACE = {
    "pattern_weight": ("float", 1.0, 5.0, True),
    "max_epochs": ("int", 3, 8),
    "n_folds": ("int", 2, 3),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-trials", type=int, default=30)
    p.add_argument("--timeout", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--design", choices=["stage1", "stage2"], default=None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--output", type=Path, default=RESULTS / "tune_gtex.json")
    args = p.parse_args()
    ge.settings.progress = False
    adata = load("gtex")
    _, test, _ = split(adata, args.seed)
    adata.var["tune_reference"] = ~test
    space, fixed = dict(SPACE), {}
    if args.design:
        space |= STAGE1_SPACE
        fixed = {k: v for k, v in DESIGNS[args.design].items() if k not in space}
    n_trials = args.n_trials
    if args.quick:
        keep = adata.var["chrom"].isin(["chr21", "chr22"]).to_numpy()
        adata = adata[:, keep].copy()
        space = {"learning_rate": SPACE["learning_rate"], "xgb_max_depth": ("int", 3, 4)}
        fixed |= {"max_epochs": 1, "xgb_n_estimators": 50}
        n_trials = 2
    # trial 0: the settings in use (the design's, else the package defaults)
    start = HybridConfig(**{**DESIGNS.get(args.design or "", {}), **fixed})
    first = {k: getattr(start, k) for k in space}
    best = ge.tl.tune(
        adata,
        "tune_reference",
        n_trials=n_trials,
        timeout=args.timeout,
        search_space=space,
        first_trial=first,
        neighbors_key=None,
        random_state=args.seed,
        accelerator="cpu",
        **fixed,
    )
    trials = best["trials"]
    print(trials.to_string())
    print("best", json.dumps(best["params"]), round(best["value"], 4))
    out = {
        "settings": {
            "n_trials": n_trials,
            "timeout": args.timeout,
            "seed": args.seed,
            "design": args.design,
            "quick": args.quick,
            "search_space": {k: list(map(str, v)) for k, v in space.items()},
            "fixed": fixed,
            "first_trial": first,
            "n_reference_genes": int(np.sum(adata.var["tune_reference"])),
        },
        "best_params": best["params"],
        "best_value": best["value"],
        "trials": json.loads(trials.to_json(orient="records")),
    }
    path = args.output if not args.quick else args.output.with_name("tune_gtex_quick.json")
    path.write_text(json.dumps(out, indent=2, default=str))
    trials.to_csv(path.with_suffix(".csv"), index=False)
    print(f"wrote {path} and {path.with_suffix('.csv')}")


if __name__ == "__main__":
    main()

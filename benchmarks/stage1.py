"""Stage-1 redesign of the hybrid, paired against today's defaults and ablated (issue 12).

Usage: python benchmarks/stage1.py [--seeds 0 1 2] [--datasets gtex roadmap]

Same datasets, split and metrics as ``benchmarks/accuracy.py`` (a seeded random 10% of genes
held out; per-tissue Pearson r across genes, per-gene Pearson r across tissues after tissue
centring, R^2 on log1p values). Rows, all on the same split of each seed:

- ``hybrid``, ``xgboost_features``: package defaults (``HybridImputer()``), as in accuracy.py.
- ``stage1``: the redesigned stage 1 (:data:`STAGE1`): level and tissue-pattern heads in
  tissue z-score units, the transformer's attention-pooled neighbour profile (a learned
  distance decay starting at inverse-distance weights), a one-cycle learning-rate schedule
  over 5 epochs, and 500 XGBoost trees.
- ``stage1_no_cnn``, ``stage1_no_transformer``, ``stage1_no_tissue_corr``,
  ``stage1_xgboost_features``: the same settings with one part removed (the last: both
  networks), so every ablation has the full model's training budget.

Writes benchmarks/results/stage1.json (``{"seeds", dataset: {row: {metric: {"mean", "sd",
"per_seed"}}}}``) and benchmarks/results/stage1.md (means, and paired differences
``stage1 - row`` with their sd over seeds), after each dataset. Datasets already in the output
file with the same seeds and settings are kept, so ``--datasets gtex`` and ``--datasets
roadmap`` can run one after the other.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from accuracy import gene_inputs, load, metrics_with_low, split, summarise

import geneimpute as ge
from geneimpute._core.correlation import correlation_matrix
from geneimpute.models import HybridImputer

RESULTS = Path(__file__).resolve().parent / "results"
STAGE1 = {
    "network_heads": "level_pattern",
    "pooled_profile": True,
    "lr_schedule": "onecycle",
    "max_epochs": 5,
    "patience": 5,
    "pattern_weight": 3.0,
    "xgb_n_estimators": 500,
}
ROWS = {
    "hybrid": {},
    "xgboost_features": {"use_cnn": False, "use_transformer": False},
    "stage1": STAGE1,
    "stage1_no_cnn": {**STAGE1, "use_cnn": False},
    "stage1_no_transformer": {**STAGE1, "use_transformer": False},
    "stage1_no_tissue_corr": {**STAGE1, "use_tissue_correlation": False},
    "stage1_xgboost_features": {**STAGE1, "use_cnn": False, "use_transformer": False},
}
METRICS = ("pearson_tissue", "pearson_gene_centered", "r2")


def run_seed(adata, name: str, seed: int) -> dict:
    Yall, test, Yobs = split(adata, seed)
    ref = ~test
    inputs = gene_inputs(adata, ref)
    C = correlation_matrix(Yall[ref])
    res = {}
    for row, opts in ROWS.items():
        t0 = time.perf_counter()
        m = HybridImputer(random_state=seed, **opts)
        m.fit(Yobs, inputs, list(adata.obs_names), C, accelerator="cpu")
        P = m.predict(Yobs, inputs, np.flatnonzero(test))
        res[row] = metrics_with_low(P, Yall[test]) | {"seconds": time.perf_counter() - t0}
        print(
            f"  {name} seed {seed} {row:24s} r_tissue {res[row]['pearson_tissue']:.4f} "
            f"r_gene_c {res[row]['pearson_gene_centered']:.4f} R2 {res[row]['r2']:.4f} "
            f"({res[row]['seconds']:.0f} s)",
            flush=True,
        )
    return res


def tables(name: str, summ: dict, seeds: list[int]) -> str:
    lines = [f"### {name} ({len(seeds)} seeds: {seeds})", ""]
    lines += ["| row | " + " | ".join(METRICS) + " | seconds |", "|---" * (len(METRICS) + 2) + "|"]
    for row, m in summ.items():
        cells = [f"{m[c]['mean']:.4f} ± {m[c]['sd']:.4f}" for c in METRICS]
        lines.append(f"| {row} | " + " | ".join(cells) + f" | {m['seconds']['mean']:.0f} |")
    lines += ["", "paired `stage1 - row` (mean ± sd over seeds):", ""]
    lines += ["| row | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for row in summ:
        if row == "stage1":
            continue
        cells = []
        for c in METRICS:
            d = np.subtract(summ["stage1"][c]["per_seed"], summ[row][c]["per_seed"])
            cells.append(f"{d.mean():+.4f} ± {d.std():.4f}")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--datasets", nargs="+", default=["gtex", "roadmap"])
    p.add_argument("--output", type=Path, default=RESULTS / "stage1.json")
    args = p.parse_args()
    ge.settings.progress = False
    out: dict = {"seeds": args.seeds, "stage1": STAGE1}
    if args.output.exists():  # keep other datasets run with the same seeds and settings
        old = json.loads(args.output.read_text())
        if old.get("seeds") == args.seeds and old.get("stage1") == STAGE1:
            out = old
    for name in args.datasets:
        adata = load(name)
        print(f"{name}: {adata.n_obs} tissues x {adata.n_vars} genes; seeds {args.seeds}")
        out[name] = summarise([run_seed(adata, name, s) for s in args.seeds])
        md = [tables(d, out[d], args.seeds) for d in ("gtex", "roadmap") if d in out]
        args.output.write_text(json.dumps(out, indent=2))
        args.output.with_suffix(".md").write_text(
            "Produced by `python benchmarks/stage1.py` (stage-1 settings: "
            f"`{json.dumps(STAGE1)}`).\n\n" + "\n\n".join(md) + "\n"
        )
        print("\n" + "\n\n".join(md))


if __name__ == "__main__":
    main()

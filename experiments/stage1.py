"""Stage-1 redesign of the hybrid, paired against the earlier defaults and ablated (issue 12).

Record, not maintained code (see ``experiments/README.md``). Results: ``results/stage1.json`` /
``stage1.md`` (GTEx at c381b22, Roadmap at a835e8b, 2026-12-01; logs ``stage1_gtex.log``,
``stage1_roadmap.log``) and, with ``--design stage2``, ``results/stage2.json`` / ``stage2.md``
(bd6482d). This script runs as it stands at commit 93bbb6e (``git checkout 93bbb6e``), the last
commit before issue 28 removed the options and private helpers it compares and imports; paths
``benchmarks/...`` below are the layout of that commit (its results now live in
``experiments/results/``). Its figures are not current figures: ``docs/benchmarks.md`` has
those.

Usage: python benchmarks/stage1.py [--seeds 0 1 2] [--datasets gtex roadmap] [--design stage2]

Same datasets, split and metrics as ``benchmarks/accuracy.py`` (a seeded random 10% of genes
held out; per-tissue Pearson r across genes, per-gene Pearson r across tissues after tissue
centring, R^2 on log1p values). Rows, all on the same split of each seed:

- ``hybrid``, ``xgboost_features``: the package defaults before the tuning run
  (:data:`PREVIOUS_DEFAULTS`; today's defaults are close to ``stage2``, see accuracy.py).
- ``stage1``: the redesigned stage 1 (:data:`STAGE1`): level and tissue-pattern heads in
  tissue z-score units, the transformer's attention-pooled neighbour profile (a learned
  distance decay starting at inverse-distance weights), a one-cycle learning-rate schedule
  over 5 epochs, and 500 XGBoost trees.
- ``stage1_no_cnn``, ``stage1_no_transformer``, ``stage1_no_tissue_corr``,
  ``stage1_xgboost_features``: the same settings with one part removed (the last: both
  networks), so every ablation has the full model's training budget.

``--design stage2`` runs the same ablations of :data:`STAGE2` (the stage-1 settings plus the
XGBoost tissue-pattern model, ``xgb_pattern_model``) as rows ``stage2``, ``stage2_no_cnn``, ...,
without the two package-default rows (their per-seed figures are in stage1.json, on the same
splits; the md file pairs them) and writes stage2.json / stage2.md.

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
from accuracy import (
    gene_inputs,
    kept_datasets,
    load,
    metrics_with_low,
    paired_table,
    split,
    summarise,
)

import geneimpute as ge
from geneimpute._core.correlation import correlation_matrix
from geneimpute.models import HybridImputer
from geneimpute.models.hybrid._config import SAVED_BEFORE_FIELD

RESULTS = Path(__file__).resolve().parent / "results"
#: the package defaults before the tuning run (a2c677f), pinned so the committed stage1.json /
#: stage2.json rows and the tuning run's trial 0 can be re-run as they were
PREVIOUS_DEFAULTS = {
    **SAVED_BEFORE_FIELD,  # the fields added since, at their earlier values (refit included)
    "k_idw": 10,
    "max_epochs": 3,
    "patience": 2,
    "xgb_n_estimators": 200,
    "xgb_learning_rate": 0.05,
    "xgb_min_child_weight": 300.0,
}
STAGE1 = {
    **PREVIOUS_DEFAULTS,
    "network_heads": "level_pattern",
    "pooled_profile": True,
    "lr_schedule": "onecycle",
    "max_epochs": 5,
    "patience": 5,
    "pattern_weight": 3.0,
    "xgb_n_estimators": 500,
}
#: stage 1 plus the XGBoost tissue-pattern model (``--design stage2``)
STAGE2 = {**STAGE1, "xgb_pattern_model": True}
DESIGNS = {"stage1": STAGE1, "stage2": STAGE2}
DEFAULT_ROWS = {
    "hybrid": PREVIOUS_DEFAULTS,
    "xgboost_features": {**PREVIOUS_DEFAULTS, "use_cnn": False, "use_transformer": False},
}


def design_rows(design: str) -> dict[str, dict]:
    """The rows of ``design``: it and its four ablations, each with its full training budget."""
    opts = DESIGNS[design]
    return {
        design: opts,
        f"{design}_no_cnn": {**opts, "use_cnn": False},
        f"{design}_no_transformer": {**opts, "use_transformer": False},
        f"{design}_no_tissue_corr": {**opts, "use_tissue_correlation": False},
        f"{design}_xgboost_features": {**opts, "use_cnn": False, "use_transformer": False},
    }


ROWS = DEFAULT_ROWS | design_rows("stage1")
METRICS = ("pearson_tissue", "pearson_gene_centered", "r2")


def run_seed(
    adata,
    name: str,
    seed: int,
    rows: dict[str, dict] = ROWS,
    estimators: dict[str, type[HybridImputer]] | None = None,
) -> dict:
    """Fit and score each row (``HybridImputer`` with the row's options, or the row's class in
    ``estimators``) on the seed's split."""
    Yall, test, Yobs = split(adata, seed)
    ref = ~test
    inputs = gene_inputs(adata, ref)
    C = correlation_matrix(Yall[ref])
    res = {}
    for row, opts in rows.items():
        t0 = time.perf_counter()
        m = (estimators or {}).get(row, HybridImputer)(random_state=seed, **opts)
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


def tables(
    name: str, summ: dict, seeds: list[int], design: str = "stage1", extra: dict | None = None
) -> str:
    """Means table and paired ``design - row`` differences; ``extra``: rows of another run on
    the same splits and seeds (paired too, not repeated in the means table)."""
    lines = [f"### {name} ({len(seeds)} seeds: {seeds})", ""]
    lines += ["| row | " + " | ".join(METRICS) + " | seconds |", "|---" * (len(METRICS) + 2) + "|"]
    for row, m in summ.items():
        cells = [f"{m[c]['mean']:.4f} ± {m[c]['sd']:.4f}" for c in METRICS]
        lines.append(f"| {row} | " + " | ".join(cells) + f" | {m['seconds']['mean']:.0f} |")
    rows = [r for r in {**(extra or {}), **summ} if r != design]
    lines += ["", *paired_table(summ, design, rows, METRICS, extra)]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--datasets", nargs="+", default=["gtex", "roadmap"])
    p.add_argument("--design", choices=list(DESIGNS), default="stage1")
    p.add_argument("--output", type=Path, default=None, help="default results/<design>.json")
    args = p.parse_args()
    ge.settings.progress = False
    design, opts = args.design, DESIGNS[args.design]
    output = args.output or RESULTS / f"{design}.json"
    rows = ROWS if design == "stage1" else design_rows(design)
    out: dict = {"seeds": args.seeds, design: opts}
    out |= kept_datasets(output, args.seeds, design, opts)
    # the package-default and stage-1 rows of the same splits, for the paired table
    base_file = RESULTS / "stage1.json"
    base = json.loads(base_file.read_text()) if design != "stage1" and base_file.exists() else {}
    for name in args.datasets:
        adata = load(name)
        print(f"{name}: {adata.n_obs} tissues x {adata.n_vars} genes; seeds {args.seeds}")
        out[name] = summarise([run_seed(adata, name, s, rows) for s in args.seeds])
        md = []
        for d in ("gtex", "roadmap"):
            if d not in out:
                continue
            same = base.get(f"{d}_seeds", base.get("seeds")) == args.seeds
            extra = base.get(d) if same else None
            md.append(tables(d, out[d], args.seeds, design, extra))
        output.write_text(json.dumps(out, indent=2))
        output.with_suffix(".md").write_text(
            f"Produced by `python benchmarks/stage1.py --design {design}` (settings: "
            f"`{json.dumps(opts)}`).\n\n" + "\n\n".join(md) + "\n"
        )
        print("\n" + "\n\n".join(md))


if __name__ == "__main__":
    main()

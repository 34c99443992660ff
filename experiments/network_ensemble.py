"""Which networks should serve new genes: a refitted one or the out-of-fold ones (issue 12).

Record, not maintained code (see ``experiments/README.md``). Results:
``results/network_ensemble.json`` / ``network_ensemble.md`` (46ae7ee, 2026-12-01; log
``network_ensemble_gtex.log``). This script runs as it stands at commit 93bbb6e (``git checkout
93bbb6e``), the last commit before issue 28 removed the options and private helpers it compares
and imports; paths ``benchmarks/...`` below are the layout of that commit (its results now live
in ``experiments/results/``). Its figures are not current figures: ``docs/benchmarks.md`` has
those.

Usage: python benchmarks/network_ensemble.py [--seeds 0 1 2 3 4] [--datasets gtex roadmap]

XGBoost is trained on the read-outs of the ``n_folds`` out-of-fold networks. Until
``HybridConfig.network_ensemble`` existed, new genes got read-outs from another network,
refitted on all reference genes. This script fits the package defaults with
``network_ensemble=False`` once per seed and predicts the held-out genes twice from that one fit:

- ``refit``: with the network refitted on all reference genes (``network_ensemble=False``);
- ``fold_ensemble``: with the mean read-outs of the out-of-fold networks of the same fit
  (what ``network_ensemble=True``, the default, predicts: the out-of-fold networks, XGBoost
  and the calibration do not depend on the refitted network);
- ``fold_1``: with the first out-of-fold network alone.

Same datasets, split and metrics as ``benchmarks/accuracy.py``. Writes
benchmarks/results/network_ensemble.json (``{"seeds", "defaults", dataset: {row: {metric:
{"mean", "sd", "per_seed"}}, "seconds": {...}}}``) and network_ensemble.md (means and paired
differences ``fold_ensemble - row``), after each dataset.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
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
from geneimpute.models import HybridConfig, HybridImputer, NetworkEnsemble

RESULTS = Path(__file__).resolve().parent / "results"
METRICS = ("pearson_tissue", "pearson_gene_centered", "r2")
ROWS = ("fold_ensemble", "refit", "fold_1")


class _KeepFoldNets(HybridImputer):
    """The package's estimator, keeping the networks it trains (in training order)."""

    def _fit_net(self, *args, **kwargs):
        net = super()._fit_net(*args, **kwargs)
        self.trained_nets_ = [*getattr(self, "trained_nets_", []), net]
        return net


def run_seed(adata, name: str, seed: int) -> dict:
    Yall, test, Yobs = split(adata, seed)
    ref = ~test
    inputs = gene_inputs(adata, ref)
    C = correlation_matrix(Yall[ref])
    rows = np.flatnonzero(test)
    t0 = time.perf_counter()
    m = _KeepFoldNets(random_state=seed, network_ensemble=False)
    m.fit(Yobs, inputs, list(adata.obs_names), C, accelerator="cpu")
    seconds = {k: float(v) for k, v in m.timings_.items()} | {"fit": time.perf_counter() - t0}
    *folds, final = m.trained_nets_
    assert final is m.net_ and len(folds) == m.config.n_folds
    res = {}
    for row, net in (
        ("refit", final),
        ("fold_ensemble", NetworkEnsemble(folds)),
        ("fold_1", folds[0]),
    ):
        m.net_ = net
        res[row] = metrics_with_low(m.predict(Yobs, inputs, rows, accelerator="cpu"), Yall[test])
        print(
            f"  {name} seed {seed} {row:14s} r_tissue {res[row]['pearson_tissue']:.4f} "
            f"r_gene_c {res[row]['pearson_gene_centered']:.4f} R2 {res[row]['r2']:.4f}",
            flush=True,
        )
    res["seconds"] = seconds
    return res


def table(name: str, summ: dict, seeds: list[int]) -> str:
    lines = [f"### {name} ({len(seeds)} seeds: {seeds})", ""]
    lines += ["| row | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for row in ROWS:
        cells = [f"{summ[row][c]['mean']:.4f} ± {summ[row][c]['sd']:.4f}" for c in METRICS]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    lines += ["", *paired_table(summ, "fold_ensemble", list(ROWS[1:]), METRICS)]
    fit = summ["seconds"]
    lines += [
        "",
        f"Seconds per fit (mean): networks out-of-fold {fit['network_out_of_fold']:.0f}, "
        f"refitted network {fit['network_final']:.0f}, whole fit {fit['fit']:.0f}.",
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--datasets", nargs="+", default=["gtex", "roadmap"])
    p.add_argument("--output", type=Path, default=RESULTS / "network_ensemble.json")
    args = p.parse_args()
    ge.settings.progress = False
    defaults = asdict(HybridConfig())
    out: dict = {"seeds": args.seeds, "defaults": defaults}
    out |= kept_datasets(args.output, args.seeds, "defaults", defaults)
    for name in args.datasets:
        adata = load(name)
        per_seed = [run_seed(adata, name, s) for s in args.seeds]
        summ = summarise([{r: s[r] for r in ROWS} for s in per_seed])
        summ["seconds"] = {
            k: float(np.mean([s["seconds"][k] for s in per_seed])) for k in per_seed[0]["seconds"]
        }
        summ["seconds_per_seed"] = [s["seconds"] for s in per_seed]
        out[name] = summ
        md = [table(d, out[d], args.seeds) for d in ("gtex", "roadmap") if d in out]
        text = "\n\n".join(md)
        print(text)
        args.output.write_text(json.dumps(out, indent=2))
        args.output.with_suffix(".md").write_text(
            "Produced by `python benchmarks/network_ensemble.py` (package defaults, one fit "
            "with `network_ensemble=False` per seed, predicted with each row's networks).\n\n"
            + text
            + "\n"
        )


if __name__ == "__main__":
    main()

"""Calibration of geneimpute's prediction intervals on held-out genes (issue: calibrated
uncertainty).

For each dataset (GTEx v8 tissues, bundled; Roadmap 57 epigenomes RPKM, read from
../shared/data and joined to the bundled coordinates, as benchmarks/accuracy.py does) and each
seed, a random 10% of the genes is held out, the hybrid is trained with the package defaults
on the rest, and `ge.tl.impute_expression(..., interval=0.9)` / `interval=0.8` and
`ge.tl.impute_neighbors(..., interval=...)` write intervals for the held-out genes. Reported,
on log1p(TPM):

- empirical coverage of the 90% and 80% intervals over all held-out values, the lowest
  per-tissue coverage, and the coverage on the lowest-expressed third of the held-out genes;
- mean 90% interval width of the hybrid divided by the distance-based method's
  (`width_ratio_vs_distance`; both are calibrated the same way, so this compares them at
  equal nominal coverage, and their empirical coverages are printed beside it);
- per-gene centred Pearson r in the top and bottom decile of the reliability score;
- the same figures for a paired ablation (`plain_*`): Mondrian conformal intervals from the
  same model, split and calibration residuals but without the difficulty model (sigma = 1).

Writes benchmarks/results/uncertainty.json (mean, sd and per-seed values, and the
``HybridConfig`` defaults it ran with) and prints a table; ``python benchmarks/report.py``
renders it into docs/benchmarks.md.
Usage: python benchmarks/uncertainty.py [--seeds 0 1 2 3 4] [--datasets gtex roadmap]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from accuracy import load  # the same GTEx / Roadmap tables as the accuracy benchmark

import geneimpute as ge
from geneimpute.models import TissueConformal

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def coverage(truth, lower, upper):
    return (truth >= lower) & (truth <= upper)


def per_gene_centered_pearson(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Pearson r across tissues per gene (rows) after centring each tissue over the genes, as
    ``ge.tl.evaluate``'s ``pearson_gene_centered``; NaN for a constant row."""
    a, b = pred - pred.mean(axis=0), true - true.mean(axis=0)
    a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a**2).sum(axis=1) * (b**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(axis=1) / den, np.nan)


def run_seed(truth, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    held = np.zeros(truth.n_vars, bool)
    held[rng.choice(truth.n_vars, truth.n_vars // 10, replace=False)] = True
    adata = truth.copy()
    adata.X[:, held] = np.nan
    t0 = time.perf_counter()
    model = ge.tl.train(adata, random_state=seed)
    ge.tl.impute_expression(adata, model, interval=0.9)
    ge.tl.impute_expression(adata, model, interval=0.8, key_added="imputed80")
    ge.tl.impute_neighbors(adata, k=10, interval=0.9)
    seconds = time.perf_counter() - t0
    # paired ablation on the same model and split: Mondrian conformal without the difficulty
    # model (every sigma = 1), from the same calibration residuals, around the same log1p
    # predictions (a log1p copy keeps the predictions unclipped)
    logged = adata.copy()
    logged.X = np.log1p(logged.X)
    ge.tl.impute_expression(logged, model, is_log1p=True, interval=None, key_added="p")
    pred = np.asarray(logged.layers["p"], dtype=np.float64)[:, held].T  # genes x tissues
    res_cal = model.conformal_.residuals_
    plain = TissueConformal().fit(res_cal, np.ones_like(res_cal))
    p_lo, p_hi = plain.interval(pred, np.ones_like(pred), 0.9)

    T = np.log1p(np.asarray(truth.X, dtype=np.float64)[:, held])  # tissues x held genes
    lay = {k: np.log1p(np.asarray(v, dtype=np.float64)[:, held]) for k, v in adata.layers.items()}
    c90 = coverage(T, lay["imputed_lower"], lay["imputed_upper"])
    c80 = coverage(T, lay["imputed80_lower"], lay["imputed80_upper"])
    cd = coverage(T, lay["imputed_distance_lower"], lay["imputed_distance_upper"])
    low = T.mean(axis=0) <= np.quantile(T.mean(axis=0), 1 / 3)
    w_h = float(np.mean(lay["imputed_upper"] - lay["imputed_lower"]))
    w_d = float(np.mean(lay["imputed_distance_upper"] - lay["imputed_distance_lower"]))
    rel = adata.var["imputed_reliability"].to_numpy()[held]
    r = per_gene_centered_pearson(lay["imputed"].T, T.T)
    order = np.argsort(rel)
    n = max(1, len(order) // 10)
    cp = coverage(T.T, p_lo, p_hi)
    p_order = np.argsort(np.std(pred - model.mu_, axis=1) / np.mean((p_hi - p_lo) / 2, axis=1))
    return {
        "coverage_90": float(c90.mean()),
        "coverage_90_min_tissue": float(c90.mean(axis=1).min()),
        "coverage_90_low_third": float(c90[:, low].mean()),
        "coverage_80": float(c80.mean()),
        "distance_coverage_90": float(cd.mean()),
        "width_90_log1p": w_h,
        "distance_width_90_log1p": w_d,
        "width_ratio_vs_distance": w_h / w_d,
        "reliability_top_decile_r": float(np.nanmean(r[order[-n:]])),
        "reliability_bottom_decile_r": float(np.nanmean(r[order[:n]])),
        "plain_coverage_90": float(cp.mean()),
        "plain_coverage_90_min_tissue": float(cp.mean(axis=0).min()),
        "plain_coverage_90_low_third": float(cp[low].mean()),
        "plain_width_90_log1p": float(np.mean(p_hi - p_lo)),
        "plain_reliability_top_decile_r": float(np.nanmean(r[p_order[-n:]])),
        "plain_reliability_bottom_decile_r": float(np.nanmean(r[p_order[:n]])),
        "seconds": seconds,
    }


def summarise(per_seed: list[dict]) -> dict:
    out = {}
    for key in per_seed[0]:
        v = np.array([s[key] for s in per_seed])
        out[key] = {
            "mean": float(v.mean()),
            "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "per_seed": v.tolist(),
        }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--datasets", nargs="+", default=["gtex", "roadmap"])
    p.add_argument("--out", default=str(RESULTS / "uncertainty.json"))
    args = p.parse_args()
    ge.settings.progress = False
    results: dict = {"seeds": args.seeds, "defaults": asdict(ge.models.HybridConfig())}
    for name in args.datasets:
        truth = load(name)
        per_seed = []
        for seed in args.seeds:
            res = run_seed(truth, seed)
            per_seed.append(res)
            print(name, seed, json.dumps({k: round(v, 4) for k, v in res.items()}), flush=True)
        results[name] = summarise(per_seed)
        Path(args.out).write_text(json.dumps(results, indent=1))
    lines = [
        "| metric | " + " | ".join(args.datasets) + " |",
        "|---|" + "---|" * len(args.datasets),
    ]
    for key in results[args.datasets[0]]:
        cells = [
            f"{results[d][key]['mean']:.3f} ± {results[d][key]['sd']:.3f}" for d in args.datasets
        ]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

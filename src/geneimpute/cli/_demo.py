"""``geneimpute demo``: hold out genes of the bundled GTEx table, impute them, compare."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .._timing import timed
from ._parser import CliError

METRICS = ("pearson_tissue", "pearson_gene_centered", "r2", "mse")
#: options of ``demo --quick``: few epochs, folds and trees (a smoke test)
QUICK: dict[str, Any] = {"max_epochs": 3, "n_folds": 2, "xgb_n_estimators": 150}
#: the layer each method writes, and the suffixes of its intervals' layers
KEYS = {"hybrid": "imputed", "distance": "imputed_distance"}
BOUNDS = ("lower", "upper")
#: the steps of training the hybrid, and the entries of ``HybridImputer.timings_`` they sum
STEPS = {
    "features (promoters, neighbours, tissue correlation)": ("features", "prepare"),
    "train CNN + transformer (out-of-fold)": ("network_out_of_fold",),
    "train XGBoost": ("xgboost_design", "xgboost_fit"),
    "XGBoost out-of-fold (error covariance, residuals)": ("out_of_fold_errors",),
    "calibrate 90% intervals (cross-fitted conformal)": ("calibration",),
}
WRITTEN = (
    "layers 'imputed', 'imputed_mask', 'imputed_lower', 'imputed_upper', 'imputed_distance'; "
    "var 'imputed_reliability'; varm 'promoter_embedding'; uns 'tissue_correlation'"
)


def run_demo(args: argparse.Namespace) -> dict:
    """Hold out genes, impute them (hybrid, distance-based), compare, write; print and return.

    The result, which ``--json`` writes, holds both methods' metrics on the held-out genes, the
    parameters, the seconds of each step and the peak memory.
    """
    import resource

    import geneimpute as ge
    from geneimpute._core.io import atomic_write, write_h5ad_atomic

    steps: dict[str, float] = {}
    with timed("load bundled GTEx v8 data", steps):
        truth = ge.datasets.gtex_tissues()
    adata, held = _hold_out(truth, args)
    opts = QUICK if args.quick else {}
    with timed("hybrid total", steps):  # the STEPS of training and imputing are written first
        model = ge.tl.train(adata, random_state=args.seed, accelerator=args.accelerator, **opts)
        ge.tl.impute_expression(adata, model, accelerator=args.accelerator)
        steps.update({n: sum(model.timings_.get(k, 0) for k in ks) for n, ks in STEPS.items()})
        steps["impute held-out genes (hybrid)"] = adata.uns["imputed"]["timings"].get("impute", 0)
    with timed(f"distance-based baseline (k={args.k_distance})", steps):
        ge.tl.impute_neighbors(adata, k=args.k_distance)
    with timed("evaluate", steps):
        res = {name: ge.tl.evaluate(adata, truth, held, key=key) for name, key in KEYS.items()}
    with timed("write .h5ad", steps):
        write_h5ad_atomic(adata, Path(args.output), compression="gzip")
    n_hold = int(held.sum())
    header = ["metric", "hybrid", f"distance (k={args.k_distance})", "hybrid vs distance"]
    print(f"\nHeld-out genes: {n_hold}. Metrics on log1p(TPM).")
    print(_table(_rows(res, adata, truth, held), header), end="\n\n")
    print(_table([[k, f"{v:.1f}"] for k, v in steps.items()], ["step", "seconds"]))
    print(f"\nwrote {Path(args.output)} ({WRITTEN})")
    metrics: dict[str, Any] = {
        name: {m: float(v[m]) for m in (*METRICS, "coverage_90", "width_90") if m in v}
        for name, v in res.items()
    }
    metrics["params"] = {"seed": args.seed, "holdout": args.holdout, "n_held_out": n_hold}
    metrics["params"].update(k_distance=args.k_distance, quick=bool(args.quick))
    metrics["seconds"] = {k: round(v, 2) for k, v in steps.items()}
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    metrics["peak_memory_gib"] = round(peak_kib / 2**20, 2)
    if args.json:
        atomic_write(args.json, lambda tmp: tmp.write_text(json.dumps(metrics, indent=2)))
        print(f"wrote {args.json}")
    return metrics


def _hold_out(truth, args: argparse.Namespace):
    """Copy ``truth`` with ``--holdout`` of its genes set to NaN; return it and their mask."""
    import numpy as np

    n_hold = int(round(args.holdout * truth.n_vars))
    if not 1 <= n_hold <= truth.n_vars - 20:
        msg = (
            f"--holdout {args.holdout:g} holds out {n_hold} of {truth.n_vars} genes; "
            "at least 1 must be held out and 20 kept for training"
        )
        raise CliError(msg)
    held = np.zeros(truth.n_vars, dtype=bool)
    held[np.random.default_rng(args.seed).choice(truth.n_vars, n_hold, replace=False)] = True
    adata = truth.copy()
    adata.X[:, held] = np.nan
    adata.var["held_out"] = held
    print(
        f"geneimpute demo: {truth.n_obs} GTEx v8 tissues x {truth.n_vars} genes; "
        f"holding out {n_hold} genes ({args.holdout:.0%}, seed {args.seed})",
        flush=True,
    )
    return adata, held


def _rows(res: dict[str, dict], adata, truth, held) -> list[list[str]]:
    """Table rows of each metric (and, with intervals, their coverage and width, added to res)."""
    import numpy as np

    rows = []
    for m in METRICS:
        h, d = res["hybrid"][m], res["distance"][m]
        if m == "mse":
            ratio = f"{d / h:.2f}x lower"
        elif m == "r2" or d <= 0:
            ratio = f"{h - d:+.3f}"
        else:
            ratio = f"{h / d:.2f}x"
        rows.append([m, f"{h:.3f}", f"{d:.3f}", ratio])
    if any(f"{key}_lower" not in adata.layers for key in KEYS.values()):
        return rows
    tv = np.log1p(np.asarray(truth.X)[:, held])
    for name, key in KEYS.items():
        lo, hi = (np.log1p(np.asarray(adata.layers[f"{key}_{b}"])[:, held]) for b in BOUNDS)
        res[name]["coverage_90"] = float(((tv >= lo) & (tv <= hi)).mean())
        res[name]["width_90"] = float(np.mean(hi - lo))
    (ch, wh), (cd, wd) = ((res[n]["coverage_90"], res[n]["width_90"]) for n in KEYS)
    rows.append(["coverage_90", f"{ch:.3f}", f"{cd:.3f}", "nominal 0.900"])
    rows.append(["width_90 (log1p)", f"{wh:.2f}", f"{wd:.2f}", f"{wh / wd:.2f}x"])
    return rows


def _table(rows: list[list[str]], header: list[str]) -> str:
    """Plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        cells = enumerate(zip(r, widths, strict=True))
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in cells)

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])

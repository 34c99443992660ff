"""``geneimpute demo``: hold out genes of the bundled GTEx table, impute them, compare.

The steps: hold out, train and impute (hybrid), the distance-based baseline, evaluate, write,
then print the metrics table and the seconds of each step (and write them as JSON).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._output import CliError, table

METRICS = ("pearson_tissue", "pearson_gene_centered", "r2", "mse")
#: options of ``demo --quick``: few epochs, folds and trees (a smoke test)
QUICK: dict[str, Any] = {"max_epochs": 3, "n_folds": 2, "xgb_n_estimators": 150}
#: the layer each method writes
KEYS = {"hybrid": "imputed", "distance": "imputed_distance"}


def run_demo(args: argparse.Namespace) -> dict:
    """Hold out genes of the bundled GTEx table, impute them, compare with distance-based.

    Parameters
    ----------
    args
        The parsed ``demo`` command line (``seed``, ``holdout``, ``k_distance``, ``quick``,
        ``accelerator``, ``output``, ``json``).

    Returns
    -------
    The metrics of both methods on the held-out genes, the parameters, the seconds of each
    step and the peak memory: what ``--json`` writes.
    """
    import geneimpute as ge
    from geneimpute._core.io import write_h5ad_atomic

    steps: dict[str, float] = {}
    with _timed(steps, "load bundled GTEx v8 data"):
        truth = ge.datasets.gtex_tissues()
    adata, held = _hold_out(truth, args)
    steps.update(_impute_hybrid(adata, args))
    with _timed(steps, f"distance-based baseline (k={args.k_distance})"):
        ge.tl.impute_neighbors(adata, k=args.k_distance)
    with _timed(steps, "evaluate"):
        res = {name: ge.tl.evaluate(adata, truth, held, key=key) for name, key in KEYS.items()}
    out = Path(args.output)
    with _timed(steps, "write .h5ad"):
        write_h5ad_atomic(adata, out, compression="gzip")
    rows = _metric_rows(res) + _add_coverage(res, adata, truth, held)
    n_hold = int(held.sum())
    _print_report(rows, steps, args, n_hold)
    metrics = _metrics(res, steps, args, n_hold)
    if args.json:
        _write_json(metrics, args.json)
    return metrics


@contextlib.contextmanager
def _timed(steps: dict[str, float], name: str) -> Iterator[None]:
    """Record the seconds the block took as ``steps[name]``."""
    t0 = time.perf_counter()
    yield
    steps[name] = time.perf_counter() - t0


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
    rng = np.random.default_rng(args.seed)
    held = np.zeros(truth.n_vars, dtype=bool)
    held[rng.choice(truth.n_vars, n_hold, replace=False)] = True
    adata = truth.copy()
    adata.X[:, held] = np.nan
    adata.var["held_out"] = held
    print(
        f"geneimpute demo: {truth.n_obs} GTEx v8 tissues x {truth.n_vars} genes; "
        f"holding out {n_hold} genes ({args.holdout:.0%}, seed {args.seed})",
        flush=True,
    )
    return adata, held


def _impute_hybrid(adata, args: argparse.Namespace) -> dict[str, float]:
    """Train the hybrid on the kept genes, impute the held-out ones; seconds of each step."""
    import geneimpute as ge

    opts = QUICK if args.quick else {}
    t0 = time.perf_counter()
    model = ge.tl.train(adata, random_state=args.seed, accelerator=args.accelerator, **opts)
    ge.tl.impute_expression(adata, model, accelerator=args.accelerator)
    total = time.perf_counter() - t0
    t = model.timings_
    return {
        "features (promoters, neighbours, tissue correlation)": t.get("features", 0)
        + t.get("prepare", 0),
        "train CNN + transformer (out-of-fold)": t.get("network_out_of_fold", 0),
        "train XGBoost": t.get("xgboost_design", 0) + t.get("xgboost_fit", 0),
        "XGBoost out-of-fold (error covariance, residuals)": t.get("out_of_fold_errors", 0),
        "calibrate 90% intervals (cross-fitted conformal)": t.get("calibration", 0),
        "impute held-out genes (hybrid)": adata.uns["imputed"]["timings"].get("impute", 0),
        "hybrid total": total,
    }


def _metric_rows(res: dict[str, dict]) -> list[list[str]]:
    """Table rows: each metric for both methods and how the hybrid compares."""
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
    return rows


def _coverage(adata, truth, held, key: str) -> tuple[float, float] | None:
    """Empirical coverage and mean log1p width of ``key``'s intervals on the held-out genes."""
    import numpy as np

    if f"{key}_lower" not in adata.layers:
        return None
    lo = np.log1p(np.asarray(adata.layers[f"{key}_lower"])[:, held])
    hi = np.log1p(np.asarray(adata.layers[f"{key}_upper"])[:, held])
    tv = np.log1p(np.asarray(truth.X)[:, held])
    return float(((tv >= lo) & (tv <= hi)).mean()), float(np.mean(hi - lo))


def _add_coverage(res: dict[str, dict], adata, truth, held) -> list[list[str]]:
    """Add the 90% intervals' coverage and width to ``res``; their table rows.

    Nothing if a method wrote no intervals.
    """
    cov = {name: _coverage(adata, truth, held, key) for name, key in KEYS.items()}
    if any(c is None for c in cov.values()):
        return []
    (ch, wh), (cd, wd) = cov["hybrid"], cov["distance"]  # type: ignore[misc]
    for name, (c, w) in cov.items():  # type: ignore[misc]
        res[name]["coverage_90"], res[name]["width_90"] = c, w
    return [
        ["coverage_90", f"{ch:.3f}", f"{cd:.3f}", "nominal 0.900"],
        ["width_90 (log1p)", f"{wh:.2f}", f"{wd:.2f}", f"{wh / wd:.2f}x"],
    ]


def _print_report(
    rows: list[list[str]], steps: dict[str, float], args: argparse.Namespace, n_hold: int
) -> None:
    """Print the metrics table, the seconds of each step and what was written."""
    header = ["metric", "hybrid", f"distance (k={args.k_distance})", "hybrid vs distance"]
    print()
    print(f"Held-out genes: {n_hold}. Metrics on log1p(TPM).")
    print(table(rows, header))
    print()
    print(table([[k, f"{v:.1f}"] for k, v in steps.items()], ["step", "seconds"]))
    print(
        f"\nwrote {Path(args.output)} (layers 'imputed', 'imputed_mask', 'imputed_lower', "
        "'imputed_upper', 'imputed_distance'; var 'imputed_reliability'; "
        "varm 'promoter_embedding'; uns 'tissue_correlation')"
    )


def _peak_memory_gib() -> float:
    """Peak resident memory of this process so far, GiB (``getrusage``; KiB on Linux)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _metrics(
    res: dict[str, dict], steps: dict[str, float], args: argparse.Namespace, n_hold: int
) -> dict[str, Any]:
    """Collect what ``--json`` writes: metrics per method, parameters, seconds, memory."""
    metrics: dict[str, Any] = {
        name: {m: float(v[m]) for m in (*METRICS, "coverage_90", "width_90") if m in v}
        for name, v in res.items()
    }
    metrics["params"] = {
        "seed": args.seed,
        "holdout": args.holdout,
        "n_held_out": n_hold,
        "k_distance": args.k_distance,
        "quick": bool(args.quick),
    }
    metrics["seconds"] = {k: round(v, 2) for k, v in steps.items()}
    metrics["peak_memory_gib"] = round(_peak_memory_gib(), 2)
    return metrics


def _write_json(metrics: dict[str, Any], path: str) -> None:
    import json

    from geneimpute._core.io import atomic_write

    text = json.dumps(metrics, indent=2)
    atomic_write(path, lambda tmp: tmp.write_text(text))
    print(f"wrote {path}")

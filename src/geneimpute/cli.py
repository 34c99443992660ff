"""The ``geneimpute`` console command: ``demo`` and ``impute``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

METRICS = ("pearson_tissue", "pearson_gene_centered", "r2", "mse")


def _setup_logging(verbose: bool) -> None:
    log = logging.getLogger("geneimpute")
    if not any(isinstance(h, logging.StreamHandler) for h in log.handlers):
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("%(levelname)s geneimpute: %(message)s"))
        log.addHandler(h)
    log.setLevel(logging.INFO if verbose else logging.WARNING)


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        cells = enumerate(zip(r, widths, strict=True))
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in cells)

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def run_demo(args: argparse.Namespace) -> dict:
    """Hold out genes of the bundled GTEx table, impute them, compare with distance-based."""
    import geneimpute as ge

    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    truth = ge.datasets.gtex_tissues()
    steps["load bundled GTEx v8 data"] = time.perf_counter() - t0

    rng = np.random.default_rng(args.seed)
    n_hold = int(round(args.holdout * truth.n_vars))
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

    kwargs = {}
    if args.quick:
        kwargs.update(max_epochs=3, n_folds=2, xgb_n_estimators=150)
    t0 = time.perf_counter()
    ge.tl.impute_expression(adata, random_state=args.seed, accelerator=args.accelerator, **kwargs)
    total_hybrid = time.perf_counter() - t0
    timings = adata.uns["imputed"]["timings"]
    steps["features (promoters, neighbours, tissue correlation)"] = timings.get(
        "features", 0
    ) + timings.get("prepare", 0)
    steps["train CNN + transformer (out-of-fold)"] = timings.get("network_out_of_fold", 0)
    steps["train CNN + transformer (all genes)"] = timings.get("network_final", 0)
    steps["train XGBoost"] = timings.get("xgboost_design", 0) + timings.get("xgboost_fit", 0)
    steps["impute held-out genes (hybrid)"] = timings.get("impute", 0)
    steps["hybrid total"] = total_hybrid

    t0 = time.perf_counter()
    ge.tl.impute_neighbors(adata, k=args.k_distance)
    steps[f"distance-based baseline (k={args.k_distance})"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    res = {
        "hybrid": ge.tl.evaluate(adata, truth, held, key="imputed"),
        "distance": ge.tl.evaluate(adata, truth, held, key="imputed_distance"),
    }
    steps["evaluate"] = time.perf_counter() - t0

    out = Path(args.output)
    t0 = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    adata.write_h5ad(out, compression="gzip")
    steps["write .h5ad"] = time.perf_counter() - t0

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
    print()
    print(f"Held-out genes: {n_hold}. Metrics on log1p(TPM).")
    print(
        _table(rows, ["metric", "hybrid", f"distance (k={args.k_distance})", "hybrid vs distance"])
    )
    print()
    print(_table([[k, f"{v:.1f}"] for k, v in steps.items()], ["step", "seconds"]))
    print(
        f"\nwrote {out} (layers 'imputed', 'imputed_mask', 'imputed_distance'; "
        "varm 'promoter_embedding'; uns 'tissue_correlation')"
    )
    metrics = {k: {m: float(v[m]) for m in METRICS} for k, v in res.items()}
    metrics["params"] = {
        "seed": args.seed,
        "holdout": args.holdout,
        "n_held_out": n_hold,
        "k_distance": args.k_distance,
        "quick": bool(args.quick),
    }
    metrics["seconds"] = {k: round(v, 2) for k, v in steps.items()}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(metrics, indent=2))
        print(f"wrote {args.json}")
    return metrics


def run_impute(args: argparse.Namespace) -> None:
    """Impute all-NaN (or selected) genes of a user's ``.h5ad``."""
    import anndata as ad

    import geneimpute as ge

    adata = ad.read_h5ad(args.input)
    genes = args.genes if args.genes else None
    ge.tl.impute_expression(
        adata,
        args.model,
        genes,
        layer=args.layer,
        is_log1p=args.is_log1p,
        random_state=args.seed,
        accelerator=args.accelerator,
    )
    params = adata.uns["imputed"]["params"]
    adata.write_h5ad(args.output, compression="gzip")
    print(
        f"imputed {params['n_values_imputed']} values of {params['n_genes_imputed']} genes "
        f"from {params['n_reference_genes']} reference genes; wrote {args.output}"
    )


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``geneimpute`` command."""
    p = argparse.ArgumentParser(
        prog="geneimpute",
        description="Impute genotype-tissue specific gene expression (hybrid CNN + transformer "
        "+ tissue correlations + XGBoost).",
    )
    p.add_argument("--verbose", "-v", action="store_true", help="log progress details")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--accelerator", choices=["auto", "cpu", "cuda"], default="auto")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="hold out genes of the bundled GTEx data, impute, compare")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--holdout", type=float, default=0.1, help="fraction of genes held out")
    d.add_argument("--k-distance", type=int, default=10, help="k of the distance-based method")
    d.add_argument("--output", "-o", default="geneimpute_demo.h5ad", help="imputed .h5ad")
    d.add_argument("--json", default=None, help="write the metrics to this JSON file")
    d.add_argument("--quick", action="store_true", help="few epochs/trees (smoke test)")

    i = sub.add_parser("impute", help="impute the NaN profiles of IN.h5ad (tissues x genes)")
    i.add_argument("input")
    i.add_argument("--output", "-o", required=True)
    i.add_argument("--model", default=None, help="saved model directory (default: train)")
    i.add_argument("--genes", default=None, help="boolean var column of genes to impute")
    i.add_argument("--layer", default=None)
    i.add_argument("--is-log1p", action="store_true")
    i.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``geneimpute`` command."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    import geneimpute as ge

    if args.no_progress:
        ge.settings.progress = False
    try:
        if args.command == "demo":
            run_demo(args)
        else:
            run_impute(args)
    except (KeyError, ValueError, FileNotFoundError, TypeError) as err:
        print(f"geneimpute: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

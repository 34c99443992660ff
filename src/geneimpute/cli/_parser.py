"""The ``geneimpute`` console command: ``demo`` and ``impute``.

Every file the command writes goes through :mod:`geneimpute._core.io` (a temporary file in the
target's directory, then ``os.replace``), so ``geneimpute impute X.h5ad -o X.h5ad`` interrupted
at any point leaves ``X.h5ad`` as it was, and a separate output is either absent, the previous
one, or complete. Ctrl-C prints one line and exits with status 130 (SIGTERM: 143); arguments and
output paths are checked before any work, errors are one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

METRICS = ("pearson_tissue", "pearson_gene_centered", "r2", "mse")
#: options of ``demo --quick``: few epochs, folds and trees (a smoke test)
QUICK: dict[str, Any] = {"max_epochs": 3, "n_folds": 2, "xgb_n_estimators": 150}
EXIT_ERROR = 2
EXIT_SIGINT = 128 + signal.SIGINT
EXIT_SIGTERM = 128 + signal.SIGTERM
#: errors of geneimpute and of the files it reads/writes, reported as one line (exit 2);
#: OSError covers FileNotFoundError, FileExistsError, PermissionError and a full disk
ERRORS = (KeyError, ValueError, OSError, TypeError, ImportError, RuntimeError)


class _Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so ``finally`` blocks remove temporary files."""


class _CliError(Exception):
    """A bad command line found after parsing (paths): one ``geneimpute: error:`` line."""


# --- argument types (argparse turns ArgumentTypeError into "argument --x: <message>") ---


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value < 1):
        msg = f"must be a number strictly between 0 and 1, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _int_at_least(low: int, high: int | None = None):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            bound = f">= {low}" if high is None else f"between {low} and {high}"
            msg = f"must be an integer {bound}, got {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return value

    parse.__name__ = "int"
    return parse


_seed = _int_at_least(0, 2**32 - 1)


# --- output -------------------------------------------------------------------------------


class _StderrHandler(logging.StreamHandler):
    """Log to the current ``sys.stderr`` (which tests and notebooks may replace)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr


def _not_a_data_warning(record: logging.LogRecord) -> bool:
    # geneimpute._logging.warn_data logs each DataWarning as well; the warning is shown already
    return record.funcName != "warn_data"


def _setup_logging(verbose: bool) -> None:
    log = logging.getLogger("geneimpute")
    if not any(isinstance(h, logging.StreamHandler) for h in log.handlers):
        h = _StderrHandler()
        h.setFormatter(logging.Formatter("%(levelname)s geneimpute: %(message)s"))
        h.addFilter(_not_a_data_warning)
        log.addHandler(h)
    log.setLevel(logging.INFO if verbose else logging.WARNING)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` for the command: one line per warning, no source line."""
    stream = sys.stderr if file is None else file
    text = " ".join(str(message).split())
    from_us = category.__name__ == "DataWarning" or "geneimpute" in str(filename)
    kind = "warning" if from_us else category.__name__
    with contextlib.suppress(OSError, ValueError):
        print(f"geneimpute: {kind}: {text}", file=stream, flush=True)


def _error_text(err: BaseException) -> str:
    # str(KeyError("x")) is "'x'"; show the message itself
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        text = err.args[0]
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        cells = enumerate(zip(r, widths, strict=True))
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in cells)

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


# --- checks before any work ---------------------------------------------------------------


def _check_output(path: str, option: str) -> Path:
    """Fail early (before training) if ``path`` cannot be written as a file."""
    p = Path(path)
    parent = p.parent
    if p.is_dir():
        msg = f"{option} {path}: is a directory, expected a file name"
        raise _CliError(msg)
    if not parent.is_dir():
        why = "does not exist" if not parent.exists() else "is not a directory"
        msg = f"{option} {path}: directory {str(parent)!r} {why}"
        raise _CliError(msg)
    if not os.access(parent, os.W_OK | os.X_OK):
        msg = f"{option} {path}: directory {str(parent)!r} is not writable"
        raise _CliError(msg)
    return p


def _check_input(path: str) -> Path:
    p = Path(path)
    if not p.exists():
        msg = f"input file {path!r} does not exist"
        raise _CliError(msg)
    if not p.is_file():
        msg = f"input {path!r} is not a file"
        raise _CliError(msg)
    if not os.access(p, os.R_OK):
        msg = f"input file {path!r} is not readable"
        raise _CliError(msg)
    return p


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _check_demo(args: argparse.Namespace) -> None:
    out = _check_output(args.output, "--output")
    if args.json is not None:
        js = _check_output(args.json, "--json")
        if _same_file(out, js):
            msg = f"--json and --output name the same file: {args.json}"
            raise _CliError(msg)


def _check_model(name: str) -> None:
    from geneimpute.models._pretrained import PRETRAINED

    if not Path(name).is_dir() and name not in (*PRETRAINED, "auto"):
        msg = (
            f"--model {name}: neither a model directory nor a pretrained model "
            f"({', '.join(sorted(PRETRAINED))})"
        )
        raise _CliError(msg)


def _check_predict(args: argparse.Namespace) -> None:
    out = _check_output(args.output, "--output")
    if args.fasta is not None:
        if args.genes or args.genome or args.gtf:
            msg = "--fasta cannot be combined with --genes/--genome/--gtf"
            raise _CliError(msg)
        if _same_file(_check_input(args.fasta), out):
            msg = "--output names the input FASTA"
            raise _CliError(msg)
    else:
        missing = [
            o
            for o, v in (("--genes", args.genes), ("--genome", args.genome), ("--gtf", args.gtf))
            if v is None
        ]
        if missing:
            msg = f"give --fasta, or all of --genes, --genome and --gtf (missing {missing})"
            raise _CliError(msg)
        for path in (args.genes, args.genome, args.gtf):
            _check_input(path)
    _check_model(args.model)


def _check_impute(args: argparse.Namespace) -> None:
    _check_input(args.input)
    _check_output(args.output, "--output")
    if args.model is not None:
        _check_model(args.model)
        if args.save_model is not None:
            msg = "--save-model saves a model trained here; it cannot be used with --model"
            raise _CliError(msg)
    if args.save_model is not None:
        save = Path(args.save_model)
        if save.exists():
            msg = f"--save-model {args.save_model}: exists; choose a new directory"
            raise _CliError(msg)
        if not save.parent.is_dir():
            msg = f"--save-model {args.save_model}: directory {str(save.parent)!r} does not exist"
            raise _CliError(msg)
        if not os.access(save.parent, os.W_OK | os.X_OK):
            msg = f"--save-model {args.save_model}: directory {str(save.parent)!r} is not writable"
            raise _CliError(msg)


# --- subcommands --------------------------------------------------------------------------


KEYS = {"hybrid": "imputed", "distance": "imputed_distance"}


def _peak_memory_gib() -> float:
    """Peak resident memory of this process so far, GiB (``getrusage``; KiB on Linux)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _coverage(adata, truth, held, key: str) -> tuple[float, float] | None:
    """Empirical coverage and mean log1p width of ``key``'s intervals on the held-out genes."""
    import numpy as np

    if f"{key}_lower" not in adata.layers:
        return None
    lo = np.log1p(np.asarray(adata.layers[f"{key}_lower"])[:, held])
    hi = np.log1p(np.asarray(adata.layers[f"{key}_upper"])[:, held])
    tv = np.log1p(np.asarray(truth.X)[:, held])
    return float(((tv >= lo) & (tv <= hi)).mean()), float(np.mean(hi - lo))


def run_demo(args: argparse.Namespace) -> dict:
    """Hold out genes of the bundled GTEx table, impute them, compare with distance-based."""
    import json

    import numpy as np

    import geneimpute as ge
    from geneimpute._core.io import atomic_write, write_h5ad_atomic

    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    truth = ge.datasets.gtex_tissues()
    steps["load bundled GTEx v8 data"] = time.perf_counter() - t0

    n_hold = int(round(args.holdout * truth.n_vars))
    if not 1 <= n_hold <= truth.n_vars - 20:
        msg = (
            f"--holdout {args.holdout:g} holds out {n_hold} of {truth.n_vars} genes; "
            "at least 1 must be held out and 20 kept for training"
        )
        raise _CliError(msg)
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

    opts = QUICK if args.quick else {}
    t0 = time.perf_counter()
    model = ge.tl.train(adata, random_state=args.seed, accelerator=args.accelerator, **opts)
    ge.tl.impute_expression(adata, model, accelerator=args.accelerator)
    total_hybrid = time.perf_counter() - t0
    timings = model.timings_
    steps["features (promoters, neighbours, tissue correlation)"] = timings.get(
        "features", 0
    ) + timings.get("prepare", 0)
    steps["train CNN + transformer (out-of-fold)"] = timings.get("network_out_of_fold", 0)
    if not model.config.network_ensemble:  # else new genes use the out-of-fold networks
        steps["train CNN + transformer (all genes)"] = timings.get("network_final", 0)
    steps["train XGBoost"] = timings.get("xgboost_design", 0) + timings.get("xgboost_fit", 0)
    steps["XGBoost out-of-fold (error covariance, residuals)"] = timings.get(
        "out_of_fold_errors", 0
    )
    steps["calibrate 90% intervals (cross-fitted conformal)"] = timings.get("calibration", 0)
    steps["impute held-out genes (hybrid)"] = adata.uns["imputed"]["timings"].get("impute", 0)
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
    write_h5ad_atomic(adata, out, compression="gzip")
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
    cov = {k: _coverage(adata, truth, held, key) for k, key in KEYS.items()}
    if all(c is not None for c in cov.values()):
        (ch, wh), (cd, wd) = cov["hybrid"], cov["distance"]  # type: ignore[misc]
        rows.append(["coverage_90", f"{ch:.3f}", f"{cd:.3f}", "nominal 0.900"])
        rows.append(["width_90 (log1p)", f"{wh:.2f}", f"{wd:.2f}", f"{wh / wd:.2f}x"])
        for k, (c, w) in cov.items():  # type: ignore[misc]
            res[k]["coverage_90"], res[k]["width_90"] = c, w
    print()
    print(f"Held-out genes: {n_hold}. Metrics on log1p(TPM).")
    print(
        _table(rows, ["metric", "hybrid", f"distance (k={args.k_distance})", "hybrid vs distance"])
    )
    print()
    print(_table([[k, f"{v:.1f}"] for k, v in steps.items()], ["step", "seconds"]))
    print(
        f"\nwrote {out} (layers 'imputed', 'imputed_mask', 'imputed_lower', 'imputed_upper', "
        "'imputed_distance'; var 'imputed_reliability'; "
        "varm 'promoter_embedding'; uns 'tissue_correlation')"
    )
    metrics: dict[str, Any] = {
        k: {m: float(v[m]) for m in (*METRICS, "coverage_90", "width_90") if m in v}
        for k, v in res.items()
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
    if args.json:
        text = json.dumps(metrics, indent=2)
        atomic_write(args.json, lambda tmp: tmp.write_text(text))
        print(f"wrote {args.json}")
    return metrics


def run_impute(args: argparse.Namespace) -> None:
    """Impute all-NaN (or selected) genes of a user's ``.h5ad``."""
    import anndata as ad

    import geneimpute as ge
    from geneimpute._core.io import write_h5ad_atomic

    try:
        adata = ad.read_h5ad(args.input)
    except (OSError, KeyError, ValueError, TypeError) as err:
        msg = f"cannot read {args.input} as .h5ad: {_error_text(err)}"
        raise _CliError(msg) from None
    ge.tl.impute_expression(
        adata,
        args.model,
        args.genes,
        layer=args.layer,
        is_log1p=args.is_log1p,
        save_model=args.save_model,
        missing_tissues="estimate" if args.estimate_missing_tissues else "raise",
        random_state=args.seed,
        accelerator=args.accelerator,
    )
    params = adata.uns["imputed"]["params"]
    write_h5ad_atomic(adata, args.output, compression="gzip")
    saved = f"; saved the model to {args.save_model}" if args.save_model else ""
    print(
        f"imputed {params['n_values_imputed']} values of {params['n_genes_imputed']} genes "
        f"from {params['n_reference_genes']} reference genes; wrote {args.output}{saved}"
    )


def _genes_from_annotation(args: argparse.Namespace):
    """Build a genes-only AnnData for ``--genes``: coordinates from the GTF, promoters."""
    import anndata as ad
    import pandas as pd

    import geneimpute as ge

    wanted = [g.strip() for g in Path(args.genes).read_text().split() if g.strip()]
    if not wanted:
        msg = f"--genes {args.genes}: no gene IDs or names"
        raise _CliError(msg)
    ann = ge.pp.read_annotation(args.gtf)
    ids = pd.Index(ann.index.astype(str).str.replace(r"\.\d+$", "", regex=True))
    names = ann["gene_name"].astype(str) if "gene_name" in ann.columns else pd.Series([], dtype=str)
    by_name = dict(zip(names, ids, strict=False))
    chosen: list[str] = []
    unknown: list[str] = []
    for g in wanted:
        gid = g.split(".")[0] if g.split(".")[0] in set(ids) else by_name.get(g)
        (chosen if gid is not None else unknown).append(gid if gid is not None else g)
    if unknown:
        msg = f"--genes: {len(unknown)} genes are not in {args.gtf}: {unknown[:5]}"
        raise _CliError(msg)
    chosen = list(dict.fromkeys(chosen))
    adata = ad.AnnData(var=pd.DataFrame(index=pd.Index(chosen, name="gene_id")))
    ge.pp.annotate_genes(adata, ann)
    ge.pp.extract_promoters(adata, args.genome)
    return adata


def run_predict(args: argparse.Namespace) -> None:
    """Profiles across the model's tissues from promoters (FASTA, or genes + genome + GTF)."""
    import geneimpute as ge
    from geneimpute._core.io import write_h5ad_atomic

    source = args.fasta if args.fasta is not None else _genes_from_annotation(args)
    prof = ge.tl.predict_profiles(source, args.model, tss_index=args.tss_index)
    write_h5ad_atomic(prof, args.output, compression="gzip")
    print(
        f"predicted {prof.n_vars} profiles x {prof.n_obs} tissues (log1p TPM in X, TPM in "
        f"layers['tpm'], 90% intervals) with "
        f"{prof.uns['predict_profiles']['params']['model']}; wrote {args.output}"
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
    d.add_argument("--seed", type=_seed, default=0, help="random seed (0 to 2**32-1)")
    d.add_argument(
        "--holdout", type=_fraction, default=0.1, help="fraction of genes held out, in (0, 1)"
    )
    d.add_argument(
        "--k-distance",
        type=_int_at_least(1),
        default=10,
        help="k of the distance-based method (>= 1)",
    )
    d.add_argument("--output", "-o", default="geneimpute_demo.h5ad", help="imputed .h5ad")
    d.add_argument("--json", default=None, help="write the metrics to this JSON file")
    d.add_argument("--quick", action="store_true", help="few epochs/trees (smoke test)")

    i = sub.add_parser("impute", help="impute the NaN profiles of IN.h5ad (tissues x genes)")
    i.add_argument("input", help=".h5ad file, tissues x genes")
    i.add_argument("--output", "-o", required=True, help="output .h5ad (may be the input)")
    i.add_argument(
        "--model",
        default=None,
        help="saved model directory or pretrained name, e.g. gtex_v8_37tissues "
        "(default: train one)",
    )
    i.add_argument(
        "--save-model", default=None, help="save the model trained here to this new directory"
    )
    i.add_argument("--genes", default=None, help="boolean var column of genes to impute")
    i.add_argument("--layer", default=None, help="expression layer instead of X")
    units = i.add_mutually_exclusive_group()
    units.add_argument(
        "--is-log1p",
        dest="is_log1p",
        action="store_const",
        const=True,
        default=None,
        help="values are log1p(TPM) (default: the model's units; TPM when training)",
    )
    units.add_argument(
        "--tpm", dest="is_log1p", action="store_const", const=False, help="values are TPM"
    )
    i.add_argument(
        "--estimate-missing-tissues",
        action="store_true",
        help="a model tissue absent from IN.h5ad is estimated for the neighbour inputs from "
        "the other tissues (default: error)",
    )
    i.add_argument("--seed", type=_seed, default=0, help="random seed when training")

    r = sub.add_parser(
        "predict", help="tissue profiles from promoter sequence alone (no expression table)"
    )
    src = r.add_argument_group("input (one of)")
    src.add_argument(
        "--fasta",
        default=None,
        help="promoters, transcription orientation, TSS at index 249 "
        "of 300 bp (-249..+50) unless --tss-index",
    )
    src.add_argument(
        "--genes", default=None, help="text file of gene IDs or names (with --genome and --gtf)"
    )
    src.add_argument("--genome", default=None, help="genome FASTA for --genes")
    src.add_argument("--gtf", default=None, help="GTF/GFF3/BED annotation for --genes")
    r.add_argument("--output", "-o", required=True, help="output .h5ad (tissues x genes)")
    r.add_argument(
        "--model",
        default="auto",
        help="sequence-only model directory or pretrained name (default: auto, "
        "gtex_v8_37tissues_promoter for promoters alone)",
    )
    r.add_argument(
        "--tss-index",
        type=_int_at_least(0),
        default=None,
        help="0-based TSS position in every FASTA record (default: 249, 300 bp records)",
    )
    return p


class _Signals:
    """SIGINT raises KeyboardInterrupt and SIGTERM :class:`_Terminated` in the main thread.

    Both unwind the stack, so the atomic writers remove their temporary files. Once the
    interruption is being reported (:meth:`stop`), further signals are ignored, so the user sees
    one line and no traceback whatever they press. Signals the parent process ignored stay
    ignored, as in Python itself.
    """

    def __init__(self) -> None:
        self.stopping = False
        self.reported = False
        self.received: int | None = None
        self.deferring = False
        self._previous_hook = sys.unraisablehook

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stopping:
            return
        self.received = signum
        if self.deferring:
            return  # acted on when :meth:`deferred` ends
        self._raise(signum)

    @staticmethod
    def _raise(signum: int) -> None:
        if signum == signal.SIGTERM:
            raise _Terminated
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold a signal received in the block back until the block has finished.

        For imports of native libraries: torch runs Python code from C++ while it loads, and an
        exception raised there by the handler makes pybind11 abort the process (SIGABRT, a C++
        message instead of the one line). The signal is acted on right after the import.
        """
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
        if self.received is not None and not self.stopping:
            self._raise(self.received)

    def _unraisable(self, args: Any) -> None:
        """Re-deliver an interruption that hit a finalizer or weakref callback.

        Python cannot raise from those: it prints "Exception ignored in ..." with a traceback
        and carries on. Instead the signal is sent again from a helper thread, so the handler
        runs once more at the main thread's next safe point.
        """
        exc = args.exc_value
        if isinstance(exc, KeyboardInterrupt | _Terminated) and not self.stopping:
            signum = signal.SIGTERM if isinstance(exc, _Terminated) else signal.SIGINT
            timer = threading.Timer(0.005, os.kill, (os.getpid(), signum))
            timer.daemon = True
            timer.start()
            return
        self._previous_hook(args)

    @contextlib.contextmanager
    def installed(self, *, restore: bool) -> Iterator[None]:
        """Install the handlers for the block.

        On exit the previous handlers come back, or, if not ``restore``, both signals are
        ignored: the process is about to exit and its work is done.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            # a signal ignored by the parent (``nohup``, ``cmd &`` in a script) stays ignored
            if signal.getsignal(signum) is not signal.SIG_IGN:
                previous[signum] = signal.signal(signum, self._handle)
        self._previous_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        try:
            yield
        finally:
            sys.unraisablehook = self._previous_hook
            for signum, handler in previous.items():
                if not restore:
                    handler = signal.SIG_IGN
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    def interrupted(self) -> int:
        """Report the signal received (SIGINT unless SIGTERM) and return the exit status."""
        if self.received == signal.SIGTERM:
            return self.stop(EXIT_SIGTERM, "terminated")
        return self.stop(EXIT_SIGINT, "interrupted")

    def stop(self, status: int, text: str) -> int:
        """Report an interruption once, as one line on stderr, and return ``status``."""
        self.stopping = True
        # A KeyboardInterrupt that escaped code run by exec()/eval() of a string (a dataclass
        # or namedtuple being built while a library imports) sets CPython's "unhandled
        # KeyboardInterrupt" flag, and the interpreter then kills itself with SIGINT at exit
        # although the exception was caught here; every string exec() resets that flag.
        exec("pass", {})
        if not self.reported:
            self.reported = True
            with contextlib.suppress(OSError, ValueError):
                print(f"geneimpute: {text}", file=sys.stderr, flush=True)
        return status


def _run(argv: list[str] | None, sig: _Signals) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        checks = {"demo": _check_demo, "impute": _check_impute, "predict": _check_predict}
        checks[args.command](args)
        with sig.deferred():
            import torch  # noqa: F401  (every command needs it; see _Signals.deferred)
            import xgboost  # noqa: F401

            import geneimpute as ge

        if args.no_progress:
            ge.settings.progress = False
        runs = {"demo": run_demo, "impute": run_impute, "predict": run_predict}
        runs[args.command](args)
    except Exception as err:
        if sig.received is not None:
            # the interruption hit C code (h5py, torch) that turned it into an error
            return sig.interrupted()
        if isinstance(err, _CliError):
            print(f"geneimpute: error: {err}", file=sys.stderr)
        elif isinstance(err, ERRORS):
            print(f"geneimpute: error: {_error_text(err)}", file=sys.stderr)
        else:
            raise  # a bug: keep its traceback
        return EXIT_ERROR
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``geneimpute`` command; returns the exit status.

    0 on success, 2 on a bad command line or an error (one ``geneimpute: error:`` line on
    stderr), 130 after Ctrl-C and 143 after SIGTERM (one line, no traceback; the files being
    written are left as they were). Called with ``argv=None`` (the console command), SIGINT and
    SIGTERM stay ignored after it returns, while the interpreter shuts down; with an ``argv``
    list the previous handlers are restored.
    """
    sig = _Signals()
    try:
        with sig.installed(restore=argv is not None):
            try:
                with warnings.catch_warnings():
                    warnings.showwarning = _show_warning
                    return _run(argv, sig)
            except (KeyboardInterrupt, _Terminated):
                return sig.interrupted()
    # a signal between the work's end and the handlers' removal
    except (KeyboardInterrupt, _Terminated):
        return sig.interrupted()


if __name__ == "__main__":
    sys.exit(main())

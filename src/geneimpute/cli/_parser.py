"""The command line: ``build_parser``, its argument types, and the path checks run before work.

Argument types turn a bad value into argparse's ``argument --x: <message>`` (exit 2); the checks
of :data:`CHECKS` refuse unusable paths with a :class:`~geneimpute.cli._output.CliError`
before any data is read or model trained.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from ._output import CliError

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

# --- the parser ---------------------------------------------------------------------------


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
    _add_demo(sub)
    _add_impute(sub)
    _add_predict(sub)
    return p


def _add_demo(sub) -> None:
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


def _add_impute(sub) -> None:
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


def _add_predict(sub) -> None:
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


# --- checks before any work ---------------------------------------------------------------


def _check_output(path: str, option: str) -> Path:
    """Fail early (before training) if ``path`` cannot be written as a file."""
    p = Path(path)
    parent = p.parent
    if p.is_dir():
        msg = f"{option} {path}: is a directory, expected a file name"
        raise CliError(msg)
    if not parent.is_dir():
        why = "does not exist" if not parent.exists() else "is not a directory"
        msg = f"{option} {path}: directory {str(parent)!r} {why}"
        raise CliError(msg)
    if not os.access(parent, os.W_OK | os.X_OK):
        msg = f"{option} {path}: directory {str(parent)!r} is not writable"
        raise CliError(msg)
    return p


def _check_input(path: str) -> Path:
    p = Path(path)
    if not p.exists():
        msg = f"input file {path!r} does not exist"
        raise CliError(msg)
    if not p.is_file():
        msg = f"input {path!r} is not a file"
        raise CliError(msg)
    if not os.access(p, os.R_OK):
        msg = f"input file {path!r} is not readable"
        raise CliError(msg)
    return p


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def check_demo(args: argparse.Namespace) -> None:
    """Refuse unwritable ``--output``/``--json`` paths, or both naming one file."""
    out = _check_output(args.output, "--output")
    if args.json is not None:
        js = _check_output(args.json, "--json")
        if _same_file(out, js):
            msg = f"--json and --output name the same file: {args.json}"
            raise CliError(msg)


def _check_model(name: str) -> None:
    from geneimpute.models._pretrained import PRETRAINED

    if not Path(name).is_dir() and name not in (*PRETRAINED, "auto"):
        msg = (
            f"--model {name}: neither a model directory nor a pretrained model "
            f"({', '.join(sorted(PRETRAINED))})"
        )
        raise CliError(msg)


def check_predict(args: argparse.Namespace) -> None:
    """Refuse a missing input (``--fasta``, or all of ``--genes``/``--genome``/``--gtf``)."""
    out = _check_output(args.output, "--output")
    if args.fasta is not None:
        if args.genes or args.genome or args.gtf:
            msg = "--fasta cannot be combined with --genes/--genome/--gtf"
            raise CliError(msg)
        if _same_file(_check_input(args.fasta), out):
            msg = "--output names the input FASTA"
            raise CliError(msg)
    else:
        missing = [
            o
            for o, v in (("--genes", args.genes), ("--genome", args.genome), ("--gtf", args.gtf))
            if v is None
        ]
        if missing:
            msg = f"give --fasta, or all of --genes, --genome and --gtf (missing {missing})"
            raise CliError(msg)
        for path in (args.genes, args.genome, args.gtf):
            _check_input(path)
    _check_model(args.model)


def check_impute(args: argparse.Namespace) -> None:
    """Refuse an unreadable input, an unwritable output or ``--save-model`` directory."""
    _check_input(args.input)
    _check_output(args.output, "--output")
    if args.model is not None:
        _check_model(args.model)
        if args.save_model is not None:
            msg = "--save-model saves a model trained here; it cannot be used with --model"
            raise CliError(msg)
    if args.save_model is not None:
        save = Path(args.save_model)
        if save.exists():
            msg = f"--save-model {args.save_model}: exists; choose a new directory"
            raise CliError(msg)
        if not save.parent.is_dir():
            msg = f"--save-model {args.save_model}: directory {str(save.parent)!r} does not exist"
            raise CliError(msg)
        if not os.access(save.parent, os.W_OK | os.X_OK):
            msg = f"--save-model {args.save_model}: directory {str(save.parent)!r} is not writable"
            raise CliError(msg)


#: the checks of each subcommand, run before any work
CHECKS = {"demo": check_demo, "impute": check_impute, "predict": check_predict}

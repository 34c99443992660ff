"""The command line: ``build_parser``, its argument types, and the path checks run before work."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path


class CliError(ValueError):
    """A bad command line found after parsing (paths): one ``geneimpute: error:`` line."""


def _number(kind: type, low: int, high: float = math.inf):
    """Return an argparse type: an integer in [low, high], or a float strictly inside."""
    bound = f">= {low}" if high == math.inf else f"between {low} and {high}"
    what = "a number strictly" if kind is float else "an integer"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = math.nan
        if not (low < value < high if kind is float else low <= value <= high):  # not NaN
            msg = f"must be {what} {bound}, got {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return value

    parse.__name__ = kind.__name__
    return parse


_seed, _fraction = _number(int, 0, 2**32 - 1), _number(float, 0, 1)


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

    demo = sub.add_parser("demo", help="hold out genes of the bundled GTEx data, impute, compare")
    demo.add_argument("--seed", type=_seed, default=0, help="random seed (0 to 2**32-1)")
    demo.add_argument("--holdout", type=_fraction, default=0.1, help="fraction held out, in (0, 1)")
    demo.add_argument("--k-distance", type=_number(int, 1), default=10, help="k of distance-based")
    demo.add_argument("--output", "-o", default="geneimpute_demo.h5ad", help="imputed .h5ad")
    demo.add_argument("--json", help="write the metrics to this JSON file")
    demo.add_argument("--quick", action="store_true", help="few epochs/trees (smoke test)")

    imp = sub.add_parser("impute", help="impute the NaN profiles of IN.h5ad (tissues x genes)")
    imp.add_argument("input", help=".h5ad file, tissues x genes")
    imp.add_argument("--output", "-o", required=True, help="output .h5ad (may be the input)")
    imp.add_argument("--model", help="model directory or pretrained name (default: train one)")
    imp.add_argument("--save-model", help="save the model trained here to this new directory")
    imp.add_argument("--genes", help="boolean var column of genes to impute")
    imp.add_argument("--layer", help="expression layer instead of X")
    units = imp.add_mutually_exclusive_group()
    log1p = "values are log1p(TPM) (default: the model's units; TPM when training)"
    units.add_argument("--is-log1p", dest="is_log1p", action="store_const", const=True, help=log1p)
    units.add_argument("--tpm", dest="is_log1p", action="store_const", const=False, help="TPM")
    estimate = "estimate a model tissue absent from IN.h5ad from the others (default: error)"
    imp.add_argument("--estimate-missing-tissues", action="store_true", help=estimate)
    imp.add_argument("--seed", type=_seed, default=0, help="random seed when training")

    pred = sub.add_parser("predict", help="tissue profiles from promoter sequence alone")
    src = pred.add_argument_group("input (one of)")
    src.add_argument("--fasta", help="promoters, TSS at index 249 of 300 bp unless --tss-index")
    src.add_argument("--genes", help="text file of gene IDs or names (with --genome and --gtf)")
    src.add_argument("--genome", help="genome FASTA for --genes")
    src.add_argument("--gtf", help="GTF/GFF3/BED annotation for --genes")
    pred.add_argument("--output", "-o", required=True, help="output .h5ad (tissues x genes)")
    pred.add_argument("--model", default="auto", help="sequence-only model or pretrained name")
    tss = "0-based TSS position (default 249)"
    pred.add_argument("--tss-index", type=_number(int, 0), help=tss)
    for command in (demo, imp, pred):  # also after the subcommand; absent: the global flag's
        command.add_argument("--no-progress", action="store_true", default=argparse.SUPPRESS)
    return p


def _check_dir(option: str, path: str, parent: Path) -> None:
    """Refuse a ``parent`` directory that is missing or not writable."""
    if not parent.is_dir():
        why = "does not exist" if not parent.exists() else "is not a directory"
    elif not os.access(parent, os.W_OK | os.X_OK):
        why = "is not writable"
    else:
        return
    msg = f"{option} {path}: directory {str(parent)!r} {why}"
    raise CliError(msg)


def _check_output(path: str, option: str) -> Path:
    """Refuse anything but a regular file or a new path (a directory, link, device, FIFO)."""
    p = Path(path)
    if p.is_dir() and not p.is_symlink():
        msg = f"{option} {path}: is a directory, expected a file name"
        raise CliError(msg)
    if p.is_symlink() or (p.exists() and not p.is_file()):
        msg = (
            f"{option} {path}: is a symbolic link or a special file (device, FIFO, socket), "
            "not a regular file; give a regular file or a new path"
        )
        raise CliError(msg)
    _check_dir(option, path, p.parent)
    return p


def _check_input(path: str) -> Path:
    p = Path(path)
    why = "does not exist" if not p.exists() else "is not a file" if not p.is_file() else ""
    if why or not os.access(p, os.R_OK):
        msg = f"input file {path!r} {why or 'is not readable'}"
        raise CliError(msg)
    return p


def _check_model(name: str) -> None:
    from geneimpute.models._pretrained import PRETRAINED

    if not Path(name).is_dir() and name not in (*PRETRAINED, "auto"):
        msg = (
            f"--model {name}: neither a model directory nor a pretrained model "
            f"({', '.join(sorted(PRETRAINED))})"
        )
        raise CliError(msg)


def check_demo(args: argparse.Namespace) -> None:
    """Refuse unwritable ``--output``/``--json`` paths, or both naming one file."""
    out = _check_output(args.output, "--output")
    if args.json is not None and _check_output(args.json, "--json").resolve() == out.resolve():
        msg = f"--json and --output name the same file: {args.json}"
        raise CliError(msg)


def check_predict(args: argparse.Namespace) -> None:
    """Refuse a missing input (``--fasta``, or all of ``--genes``/``--genome``/``--gtf``)."""
    out = _check_output(args.output, "--output")
    given = {o: getattr(args, o[2:]) for o in ("--genes", "--genome", "--gtf")}
    if args.fasta is not None:
        if any(given.values()):
            msg = "--fasta cannot be combined with --genes/--genome/--gtf"
            raise CliError(msg)
        if _check_input(args.fasta).resolve() == out.resolve():
            msg = "--output names the input FASTA"
            raise CliError(msg)
    elif missing := [o for o, v in given.items() if v is None]:
        msg = f"give --fasta, or all of --genes, --genome and --gtf (missing {missing})"
        raise CliError(msg)
    else:
        for path in given.values():
            _check_input(path)
    _check_model(args.model)


def check_impute(args: argparse.Namespace) -> None:
    """Refuse an unreadable input, an unwritable output or ``--save-model`` directory."""
    _check_input(args.input)
    _check_output(args.output, "--output")
    if args.model is not None:
        _check_model(args.model)
    if args.save_model is not None:
        if args.model is not None:
            msg = "--save-model saves a model trained here; it cannot be used with --model"
            raise CliError(msg)
        if os.path.lexists(args.save_model):
            msg = f"--save-model {args.save_model}: exists; choose a new directory"
            raise CliError(msg)
        _check_dir("--save-model", args.save_model, Path(args.save_model).parent)


#: the checks of each subcommand, run before any work
CHECKS = {"demo": check_demo, "impute": check_impute, "predict": check_predict}

"""The ``geneimpute`` command: ``main``, ``impute`` and ``predict``; files written atomically."""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import sys
import warnings
from pathlib import Path

from ._demo import run_demo
from ._parser import CHECKS, CliError, build_parser
from ._signals import Interrupted, Signals, report

__all__ = ["build_parser", "main"]

#: errors of geneimpute, its files (OSError) and the command line (CliError): one line each
ERRORS = (KeyError, ValueError, OSError, TypeError, ImportError, RuntimeError)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``geneimpute`` command; returns the exit status.

    Parameters
    ----------
    argv
        The arguments after ``geneimpute``; ``None``: ``sys.argv[1:]`` (the console command).

    Returns
    -------
    0 on success, 2 on a bad command line or an error (one ``geneimpute: error:`` line on
    stderr), 130 after Ctrl-C and 143 after SIGTERM (one line; the files being written are
    left as they were). With ``argv=None`` both signals stay ignored after it returns, while
    the interpreter shuts down; with an ``argv`` list the previous handlers are restored.
    """
    sig = Signals()
    try:
        with sig.installed(restore=argv is not None), warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return _run(argv, sig)
    except Interrupted as stop:
        return report(stop.signum)


def _run(argv: list[str] | None, sig: Signals) -> int:
    args = build_parser().parse_args(argv)
    log = logging.getLogger("geneimpute")
    if not any(isinstance(h, logging.StreamHandler) for h in log.handlers):
        h = _StderrHandler()
        h.setFormatter(logging.Formatter("%(levelname)s geneimpute: %(message)s"))
        h.addFilter(lambda record: record.funcName != "warn_data")  # shown as a warning already
        log.addHandler(h)
    log.setLevel(logging.INFO if args.verbose else logging.WARNING)
    try:
        CHECKS[args.command](args)
        with sig.deferred():  # see Signals.deferred: every command needs torch
            import torch  # noqa: F401
            import xgboost  # noqa: F401

            import geneimpute as ge
        if args.no_progress:
            ge.settings.progress = False
        {"demo": run_demo, "impute": _impute, "predict": _predict}[args.command](args)
    except Exception as err:
        if sig.received is not None:  # C code (h5py, torch) turned the signal into an error
            return report(sig.received)
        if not isinstance(err, ERRORS):
            raise  # a bug: keep its traceback
        print(f"geneimpute: error: {_one_line(err)}", file=sys.stderr)
        return 2
    return 0


def _impute(args: argparse.Namespace) -> None:
    """Impute all-NaN (or selected) genes of a user's ``.h5ad``."""
    import anndata as ad

    import geneimpute as ge
    from geneimpute._core.io import write_h5ad_atomic

    try:
        adata = ad.read_h5ad(args.input)
    except (OSError, KeyError, ValueError, TypeError) as err:
        msg = f"cannot read {args.input} as .h5ad: {_one_line(err)}"
        raise CliError(msg) from None
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
        key_added="imputed",  # the command's output: replaces an earlier run's
    )
    params = adata.uns["imputed"]["params"]
    write_h5ad_atomic(adata, args.output, compression="gzip")
    saved = f"; saved the model to {args.save_model}" if args.save_model else ""
    print(
        f"imputed {params['n_values_imputed']} values of {params['n_genes_imputed']} genes "
        f"from {params['n_reference_genes']} reference genes; wrote {args.output}{saved}"
    )


def _predict(args: argparse.Namespace) -> None:
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


def _genes_from_annotation(args: argparse.Namespace):
    """Build a genes-only AnnData for ``--genes``: coordinates from the GTF, promoters."""
    import anndata as ad
    import pandas as pd

    import geneimpute as ge

    wanted = Path(args.genes).read_text().split()
    if not wanted:
        msg = f"--genes {args.genes}: no gene IDs or names"
        raise CliError(msg)
    ann = ge.pp.read_annotation(args.gtf)
    ids = ann.index.astype(str).str.replace(r"\.\d+$", "", regex=True)
    names = ann["gene_name"].astype(str) if "gene_name" in ann.columns else []
    by_name, by_id = dict(zip(names, ids, strict=False)), dict(zip(ids, ids, strict=True))
    found = [by_id.get(g.split(".")[0], by_name.get(g)) for g in wanted]
    if unknown := [g for g, gid in zip(wanted, found, strict=True) if gid is None]:
        msg = f"--genes: {len(unknown)} genes are not in {args.gtf}: {unknown[:5]}"
        raise CliError(msg)
    adata = ad.AnnData(var=pd.DataFrame(index=pd.Index(list(dict.fromkeys(found)), name="gene_id")))
    ge.pp.annotate_genes(adata, ann)
    ge.pp.extract_promoters(adata, args.genome)
    return adata


class _StderrHandler(logging.StreamHandler):
    """Log to the current ``sys.stderr`` (which tests and notebooks may replace)."""

    stream = property(lambda self: sys.stderr, lambda self, value: None)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` for the command: one line per warning, no source line."""
    from_us = category.__name__ == "DataWarning" or "geneimpute" in str(filename)
    with contextlib.suppress(OSError, ValueError):
        print(
            f"geneimpute: {'warning' if from_us else category.__name__}: {_one_line(message)}",
            file=sys.stderr if file is None else file,
            flush=True,
        )


#: Python wording in geneimpute's messages -> the command's flags
_FLAGS = {
    " (command line: --estimate-missing-tissues)": "",
    "missing_tissues='estimate'": "--estimate-missing-tissues",
    "is_log1p=True": "--is-log1p",
    "is_log1p=False": "--tpm",
    "without tss_index": "without --tss-index",
}
_ARGUMENT = re.compile(r"\b(tss_index|genes|layer|model|save_model|accelerator)=(\S?)")


def _one_line(err: BaseException | Warning | str) -> str:
    """Return the message of ``err`` on one line (a ``KeyError``'s without its quotes).

    Python argument names become the command's flags: ``pass tss_index=`` -> ``pass --tss-index``.
    """
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        text = err.args[0]
    else:
        text = str(err) or type(err).__name__
    for python, flag in _FLAGS.items():
        text = text.replace(python, flag)
    text = _ARGUMENT.sub(lambda m: f"--{m[1].replace('_', '-')}{' ' * bool(m[2])}{m[2]}", text)
    return " ".join(text.split())

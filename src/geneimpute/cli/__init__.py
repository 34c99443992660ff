"""The ``geneimpute`` console command: ``demo``, ``impute`` and ``predict``.

Every file the command writes goes through :mod:`geneimpute._core.io` (a temporary file in the
target's directory, then ``os.replace``), so ``geneimpute impute X.h5ad -o X.h5ad`` interrupted
at any point leaves ``X.h5ad`` as it was, and a separate output is either absent, the previous
one, or complete. Ctrl-C prints one line and exits with status 130 (SIGTERM: 143); arguments and
output paths are checked before any work, errors are one line and exit with status 2.

Modules: ``_parser`` (arguments and path checks), ``_demo``, ``_commands`` (impute, predict),
``_signals`` (Ctrl-C, SIGTERM), ``_output`` (log records, warnings, errors).
"""

from __future__ import annotations

import sys
import warnings

from ._commands import run_impute, run_predict
from ._demo import run_demo
from ._output import CliError, error_text, setup_logging, show_warning
from ._parser import CHECKS, build_parser
from ._signals import Interrupted, Signals, report

__all__ = ["build_parser", "main"]

EXIT_ERROR = 2
#: errors of geneimpute and of the files it reads/writes, reported as one line (exit 2);
#: OSError covers FileNotFoundError, FileExistsError, PermissionError and a full disk
ERRORS = (KeyError, ValueError, OSError, TypeError, ImportError, RuntimeError)
RUNS = {"demo": run_demo, "impute": run_impute, "predict": run_predict}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``geneimpute`` command; returns the exit status.

    Parameters
    ----------
    argv
        The arguments after ``geneimpute``; ``None``: ``sys.argv[1:]`` (the console command).

    Returns
    -------
    0 on success, 2 on a bad command line or an error (one ``geneimpute: error:`` line on
    stderr), 130 after Ctrl-C and 143 after SIGTERM (one line, no traceback; the files being
    written are left as they were). Called with ``argv=None``, SIGINT and SIGTERM stay ignored
    after it returns, while the interpreter shuts down; with an ``argv`` list the previous
    handlers are restored.
    """
    sig = Signals()
    try:
        with sig.installed(restore=argv is not None), warnings.catch_warnings():
            warnings.showwarning = show_warning
            return _run(argv, sig)
    except Interrupted as stop:
        return report(stop.signum)


def _run(argv: list[str] | None, sig: Signals) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        CHECKS[args.command](args)
        with sig.deferred():  # see Signals.deferred: every command needs torch
            import torch  # noqa: F401
            import xgboost  # noqa: F401

            import geneimpute as ge
        if args.no_progress:
            ge.settings.progress = False
        RUNS[args.command](args)
    except Exception as err:
        if sig.received is not None:
            # the interruption hit C code (h5py, torch) that turned it into an error
            return report(sig.received)
        if isinstance(err, CliError):
            text = str(err)
        elif isinstance(err, ERRORS):
            text = error_text(err)
        else:
            raise  # a bug: keep its traceback
        print(f"geneimpute: error: {text}", file=sys.stderr)
        return EXIT_ERROR
    return 0

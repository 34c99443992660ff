"""What the command prints besides results: log records, warnings and errors, one line each."""

from __future__ import annotations

import contextlib
import logging
import sys


class CliError(Exception):
    """A bad command line found after parsing (paths): one ``geneimpute: error:`` line."""


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


def setup_logging(verbose: bool) -> None:
    """Log the ``geneimpute`` logger to stderr: INFO if ``verbose``, else WARNING."""
    log = logging.getLogger("geneimpute")
    if not any(isinstance(h, logging.StreamHandler) for h in log.handlers):
        h = _StderrHandler()
        h.setFormatter(logging.Formatter("%(levelname)s geneimpute: %(message)s"))
        h.addFilter(_not_a_data_warning)
        log.addHandler(h)
    log.setLevel(logging.INFO if verbose else logging.WARNING)


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` for the command: one line per warning, no source line."""
    stream = sys.stderr if file is None else file
    text = " ".join(str(message).split())
    from_us = category.__name__ == "DataWarning" or "geneimpute" in str(filename)
    kind = "warning" if from_us else category.__name__
    with contextlib.suppress(OSError, ValueError):
        print(f"geneimpute: {kind}: {text}", file=stream, flush=True)


def error_text(err: BaseException) -> str:
    """Return the message of ``err`` on one line (a ``KeyError``'s without its quotes)."""
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        text = err.args[0]
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())


def table(rows: list[list[str]], header: list[str]) -> str:
    """Plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        cells = enumerate(zip(r, widths, strict=True))
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in cells)

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])

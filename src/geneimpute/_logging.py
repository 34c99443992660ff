"""Package logger and user-visible data warnings."""

from __future__ import annotations

import logging
import warnings

logger = logging.getLogger("geneimpute")
logger.addHandler(logging.NullHandler())


class DataWarning(UserWarning):
    """A problem with the user's data that geneimpute worked around (genes dropped, etc.).

    A :class:`UserWarning`, so Python shows it without any logging set-up; filter it with
    ``warnings.filterwarnings("ignore", category=geneimpute.DataWarning)``.
    """


def warn_data(msg: str, *, stacklevel: int = 3) -> None:
    """Show ``msg`` as a :class:`DataWarning` (seen by default) and log it."""
    logger.warning(msg)
    warnings.warn(msg, DataWarning, stacklevel=stacklevel)

"""Stage timing shared by the models and tools, reported through the package logger.

Each stage timed with :func:`timed` is logged at ``DEBUG`` on the ``geneimpute`` logger with
the attributes ``stage``, ``seconds``, ``start`` and ``end`` (``time.perf_counter`` seconds), so
a :class:`logging.Handler` collects the spans without parsing messages (``benchmarks/scale.py``).
A stage timed with ``progress=True`` also writes one line ``geneimpute: <stage> ...`` to stderr
as it starts (through ``tqdm.write``, so it does not break a bar), unless
``ge.settings.progress`` is False.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ._logging import logger
from ._settings import settings


@contextmanager
def timed(
    stage: str, timings: dict[str, float] | None = None, *, progress: bool = False
) -> Iterator[None]:
    """Time a block: add its seconds to ``timings[stage]``, log its span at ``DEBUG``.

    ``progress``: announce the stage on stderr first (when ``settings.progress``).
    """
    if progress and settings.progress:
        from tqdm.auto import tqdm

        tqdm.write(f"geneimpute: {stage} ...", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        t1 = time.perf_counter()
        if timings is not None:
            timings[stage] = timings.get(stage, 0.0) + (t1 - t0)
        span = {"stage": stage, "seconds": t1 - t0, "start": t0, "end": t1}
        logger.debug("%s: %.2f s", stage, t1 - t0, extra=span)

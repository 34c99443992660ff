"""Stage timing shared by the models and tools, reported through the package logger.

Each stage timed with :func:`timed` is logged at ``DEBUG`` on the ``geneimpute`` logger with
the attributes ``stage``, ``seconds``, ``start`` and ``end`` (``time.perf_counter`` seconds), so
a :class:`logging.Handler` collects the spans without parsing messages (``benchmarks/scale.py``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from ._logging import logger


@contextmanager
def timed(stage: str, timings: dict[str, float] | None = None) -> Iterator[None]:
    """Time a block: add its seconds to ``timings[stage]`` and log its span at ``DEBUG``."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        t1 = time.perf_counter()
        if timings is not None:
            timings[stage] = timings.get(stage, 0.0) + (t1 - t0)
        span = {"stage": stage, "seconds": t1 - t0, "start": t0, "end": t1}
        logger.debug("%s: %.2f s", stage, t1 - t0, extra=span)

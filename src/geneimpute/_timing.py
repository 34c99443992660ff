"""Stage timing shared by the models and tools (read by ``benchmarks/scale.py``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from ._logging import logger

#: ``(stage, start, end)`` in ``time.perf_counter`` seconds, appended as stages finish.
SPANS: list[tuple[str, float, float]] = []
_MAX_SPANS = 10_000


@contextmanager
def timed(stage: str, timings: dict[str, float] | None = None) -> Iterator[None]:
    """Time a block: add its seconds to ``timings[stage]`` and record its span in ``SPANS``."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        t1 = time.perf_counter()
        if timings is not None:
            timings[stage] = timings.get(stage, 0.0) + (t1 - t0)
        if len(SPANS) >= _MAX_SPANS:
            del SPANS[: _MAX_SPANS // 2]
        SPANS.append((stage, t0, t1))
        logger.debug("%s: %.2f s", stage, t1 - t0)

"""Stage timing shared by the models and tools, reported through the package logger.

Every stage timed with :func:`timed` (gene features, promoter encoding, neighbour search,
tissue correlation, each network and XGBoost step, writing the layers, ...) is logged at
``DEBUG`` level on the ``geneimpute`` logger when it ends. The record carries the span in its
attributes ``stage`` (the name), ``seconds``, ``start`` and ``end`` (``time.perf_counter``
seconds), so a :class:`logging.Handler` collects them without parsing messages::

    import logging

    spans = []

    class Spans(logging.Handler):
        def emit(self, record):
            if hasattr(record, "stage"):
                spans.append((record.stage, record.start, record.end))

    log = logging.getLogger("geneimpute")
    log.addHandler(Spans())
    log.setLevel(logging.DEBUG)

``benchmarks/scale.py`` times every stage this way. Nothing is kept in the package.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ._logging import logger


@contextmanager
def timed(stage: str, timings: dict[str, float] | None = None) -> Iterator[None]:
    """Time a block: add its seconds to ``timings[stage]`` and log its span at ``DEBUG``.

    The log record has the attributes ``stage``, ``seconds``, ``start`` and ``end`` (see the
    module docstring).
    """
    t0 = time.perf_counter()
    try:
        yield
    finally:
        t1 = time.perf_counter()
        if timings is not None:
            timings[stage] = timings.get(stage, 0.0) + (t1 - t0)
        if logger.isEnabledFor(logging.DEBUG):
            span = {"stage": stage, "seconds": t1 - t0, "start": t0, "end": t1}
            logger.debug("%s: %.2f s", stage, t1 - t0, extra=span)

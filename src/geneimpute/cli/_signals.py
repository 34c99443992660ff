"""Ctrl-C and SIGTERM unwind the stack (the atomic writers clean up), print one line, exit."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

SIGNALS: dict[int, str] = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}


class Interrupted(BaseException):
    """SIGINT or SIGTERM, raised in the main thread by :class:`Signals`.

    Not a ``KeyboardInterrupt``, which makes CPython kill itself at exit after escaping code
    that ``exec()`` ran (as dataclasses do), even if it was caught.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Signals:
    """Raise :class:`Interrupted` on the first SIGINT or SIGTERM (``received``), ignore the rest."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._deferring = False
        self._hook = sys.unraisablehook

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is None:  # a later signal: the first one is unwinding the stack
            self.received = signum
            if not self._deferring:
                raise Interrupted(signum)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Act on a signal received in the block only when it has finished.

        For torch's import, which runs Python from C++: an exception there makes pybind11 abort.
        """
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self.received is not None:
            raise Interrupted(self.received)

    def _unraisable(self, args: Any) -> None:
        # raised in a finalizer, which Python only reports: send the signal again
        if isinstance(args.exc_value, Interrupted):
            self.received = None
            timer = threading.Timer(0.005, os.kill, (os.getpid(), args.exc_value.signum))
            timer.daemon = True
            timer.start()
        else:
            self._hook(args)

    @contextlib.contextmanager
    def installed(self, *, restore: bool) -> Iterator[None]:
        """Install the handlers for the block; then restore the old ones, or ignore both.

        Only in the main thread; a signal the parent ignored (``nohup``) stays ignored.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {
            signum: signal.signal(signum, self._handle)
            for signum in SIGNALS
            if signal.getsignal(signum) is not signal.SIG_IGN
        }
        self._hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        try:
            yield
        finally:
            sys.unraisablehook = self._hook
            for signum, handler in previous.items():
                signal.signal(signum, (handler or signal.SIG_DFL) if restore else signal.SIG_IGN)


def report(signum: int) -> int:
    """Print ``geneimpute: interrupted`` (SIGINT) or ``terminated``; return the exit status."""
    with contextlib.suppress(OSError, ValueError):
        print(f"geneimpute: {SIGNALS[signum]}", file=sys.stderr, flush=True)
    return 128 + signum

"""Ctrl-C and SIGTERM: unwind the stack, then one line and exit status 128 + signal number.

Unwinding runs the atomic writers' ``finally`` blocks, which remove their temporary files, so
the files being written are left as they were.
"""

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

    Not a ``KeyboardInterrupt``: one of those escaping code that ``exec()`` runs from a string
    (dataclasses and namedtuples are built so, also while a library imports) makes CPython
    kill itself with SIGINT at exit, although the exception was caught.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Signals:
    """Raise :class:`Interrupted` on the first SIGINT or SIGTERM; ignore the later ones.

    ``received`` is the signal number once one has arrived (``None`` before).
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._deferring = False
        self._hook = sys.unraisablehook

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None:
            return  # a later signal: the first one is unwinding the stack
        self.received = signum
        if not self._deferring:
            raise Interrupted(signum)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Act on a signal received in the block only when the block has finished.

        For imports of native libraries: torch runs Python code from C++ while it loads, and an
        exception raised there makes pybind11 abort the process (SIGABRT).
        """
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self.received is not None:
            raise Interrupted(self.received)

    def _unraisable(self, args: Any) -> None:
        # Raised in a finalizer or weakref callback, which Python only reports ("Exception
        # ignored in ..."): send the signal again, to be handled at the next safe point.
        if isinstance(args.exc_value, Interrupted):
            self.received = None
            timer = threading.Timer(0.005, os.kill, (os.getpid(), args.exc_value.signum))
            timer.daemon = True
            timer.start()
        else:
            self._hook(args)

    @contextlib.contextmanager
    def installed(self, *, restore: bool) -> Iterator[None]:
        """Install the handlers for the block (in the main thread only).

        On exit the previous handlers come back or, if not ``restore``, both signals are
        ignored: the process is about to exit and its work is done. A signal that the parent
        process ignored (``nohup``, ``cmd &`` in a script) stays ignored.
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

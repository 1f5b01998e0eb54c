"""Ctrl+C and SIGTERM that cancel instead of crashing.

A signal raised as ``KeyboardInterrupt`` can land anywhere: inside ``join()``
while worker threads are still in torch (the interpreter then exits under them
and aborts), or inside a library that swallows it. Instead, the first SIGINT or
SIGTERM only sets the job's cancel event; the work stops at its next check, the
threads are joined, and the command exits 130 with one line. A second signal
exits at once with status 130, without unwinding through native code.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

SIGNALS = tuple(s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None)) if s is not None)
EXIT_CANCELLED = 130


@contextlib.contextmanager
def cancel_on_signals(
    cancel: threading.Event,
    on_first: Callable[[int], None] | None = None,
    second_exits: bool = True,
) -> Iterator[threading.Event]:
    """Within this block SIGINT/SIGTERM set ``cancel`` rather than raise.

    ``on_first(signum)`` runs once, on the first signal (from the main thread,
    between bytecodes: keep it short, e.g. print a line). Does nothing when not
    called from the main thread, where Python can't install handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return
    received: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        if received and second_exits:
            with contextlib.suppress(Exception):
                sys.stderr.write("murmur: stopped\n")
                sys.stderr.flush()
            os._exit(EXIT_CANCELLED)
        received.append(signum)
        cancel.set()
        if on_first is not None:
            on_first(signum)

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield cancel
    finally:
        for s, old in previous.items():
            signal.signal(s, old)

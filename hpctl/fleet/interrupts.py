"""SIGINT and SIGTERM during a fleet write: the first asks the engine to stop starting operations; a second
SIGINT leaves at once (the journal's appends stay consistent: a torn last line is ignored on resume)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class Interrupt:
    """Which signal asked the run to stop (None while it runs on)."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.event = threading.Event()

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    @property
    def exit_code(self) -> int:
        return EXIT_SIGTERM if self.signal == signal.SIGTERM else EXIT_SIGINT

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.event.is_set() and signum == signal.SIGINT:
            os.write(2, b"\nInterrupted again: leaving now. The journal holds what was accepted; use --resume.\n")
            os._exit(EXIT_SIGINT)
        self.signal = self.signal or signum
        self.event.set()
        os.write(2, b"\nStopping: no new operations start; waiting briefly for those Azure accepted "
                    b"(Ctrl-C again to leave at once).\n")


@contextmanager
def interrupts() -> Iterator[Interrupt]:
    """Catch SIGINT/SIGTERM for the duration (only the main thread can; elsewhere nothing is caught)."""
    interrupt = Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield interrupt
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, interrupt._handle)
    try:
        yield interrupt
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

"""Progress for multi-VM work on stderr: a live bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hpctl.cli.common import settings


@contextmanager
def fleet_progress(total: int, label: str) -> Iterator[Callable[[str, bool], None]]:
    """Yield a callback `done(name, ok)` to call as each VM finishes."""
    quiet = settings().only_show_errors or total <= 1
    if quiet:
        yield lambda name, ok: None
        return
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(label, total=total)
            failed = 0

            def advance(name: str, ok: bool) -> None:
                nonlocal failed
                failed += 0 if ok else 1
                bar.update(task, advance=1, description=f"{label} ({failed} failed)" if failed else label)

            yield advance
        return
    lock = threading.Lock()
    count = 0

    def line(name: str, ok: bool) -> None:
        nonlocal count
        with lock:
            count += 1
            print(f"{label}: [{count}/{total}] {name} {'done' if ok else 'FAILED'}", file=sys.stderr, flush=True)

    yield line

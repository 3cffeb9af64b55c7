"""Progress for fleet writes on stderr: a live bar (done / failed / running) on a terminal, otherwise one
summary line every 30 s (CI logs)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hpctl.cli.common import settings

CI_EVERY = 30.0


@contextmanager
def fleet_progress(total: int, label: str) -> Iterator[Callable[[Any], None]]:
    """Yield a callback taking the engine's Progress (total, done, failed, running); it may be called from
    several runs in a row (one per subscription): counts add up."""
    base = {"done": 0, "failed": 0}
    last: dict[str, Any] = {"run": None, "done": 0, "failed": 0}

    def counts(progress: Any) -> tuple[int, int, int]:
        if last["run"] is not progress:
            base["done"] += last["done"]
            base["failed"] += last["failed"]
            last["run"] = progress
        last["done"], last["failed"] = progress.done, progress.failed
        return base["done"] + progress.done, base["failed"] + progress.failed, progress.running

    if settings().only_show_errors or total <= 1:
        yield lambda progress: None
        return
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(label, total=total)

            def update(progress: Any) -> None:
                done, failed, running = counts(progress)
                bar.update(task, completed=done, description=f"{label}: {running} running, {failed} failed")

            yield update
        return
    next_line = [time.monotonic() + CI_EVERY]

    def line(progress: Any) -> None:
        done, failed, running = counts(progress)
        if time.monotonic() >= next_line[0]:
            next_line[0] = time.monotonic() + CI_EVERY
            print(f"{label}: {done}/{total} done, {failed} failed, {running} running", file=sys.stderr, flush=True)

    yield line

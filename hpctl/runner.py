"""Run one read over many targets in parallel with a bound (GETs of named VMs, health checks); one failure never
stops the rest. Fleet writes go through hpctl.fleet instead."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_MAX_PARALLEL = 8
MAX_PARALLEL_LIMIT = 64


@dataclass
class Outcome(Generic[T, R]):
    """What happened to one target: a value, or the exception it raised."""

    target: T
    value: R | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_each(
    targets: Sequence[T],
    fn: Callable[[T], R],
    *,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    on_done: Callable[[Outcome[T, R]], None] | None = None,
) -> list[Outcome[T, R]]:
    """Call fn on every target, at most max_parallel at once; outcomes come back in target order."""
    outcomes: list[Outcome[T, R] | None] = [None] * len(targets)

    def one(index: int) -> Outcome[T, R]:
        try:
            return Outcome(targets[index], value=fn(targets[index]))
        except Exception as exc:  # noqa: BLE001 - every target's failure is reported, none aborts the run
            return Outcome(targets[index], error=exc)

    if not targets:
        return []
    workers = max(1, min(max_parallel, len(targets)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hpctl") as pool:
        futures = {pool.submit(one, i): i for i in range(len(targets))}
        for future in as_completed(futures):
            outcome = future.result()
            outcomes[futures[future]] = outcome
            if on_done is not None:
                on_done(outcome)
    return [o for o in outcomes if o is not None]

"""The fleet runner: bounded parallelism, order kept, one failure never stops or hides the others."""

from __future__ import annotations

import threading
import time

from hpctl.runner import run_each


def test_outcomes_in_target_order_with_failures_captured():
    def fn(n: int) -> int:
        if n % 3 == 0:
            raise RuntimeError(f"boom {n}")
        time.sleep(0.001 * (10 - n))
        return n * 10

    outcomes = run_each(list(range(10)), fn, max_parallel=4)
    assert [o.target for o in outcomes] == list(range(10))
    assert [o.value for o in outcomes if o.ok] == [10, 20, 40, 50, 70, 80]
    assert [str(o.error) for o in outcomes if not o.ok] == ["boom 0", "boom 3", "boom 6", "boom 9"]


def test_parallelism_is_bounded():
    active = 0
    peak = 0
    lock = threading.Lock()

    def fn(_: int) -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.01)
        with lock:
            active -= 1

    run_each(list(range(20)), fn, max_parallel=3)
    assert 1 < peak <= 3


def test_on_done_called_once_per_target():
    seen = []
    run_each(["a", "b", "c"], lambda t: t.upper(), on_done=lambda o: seen.append((o.target, o.ok)))
    assert sorted(seen) == [("a", True), ("b", True), ("c", True)]


def test_empty():
    assert run_each([], lambda t: t) == []

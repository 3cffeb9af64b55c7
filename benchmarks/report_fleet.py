"""Benchmark `hpctl report` over a large sandbox fleet against Resource Graph's quota floor: wall time, the
requests sent, and the report process's own peak memory.

The floor is the least time any client needs for the same queries under ARG's per-user quota (L queries per
T-second window, a window opening with its first query): Q queries need W = ceil(Q / L) windows, the last of
which opens (W - 1) * T after the first query, and then the sandbox still has to answer the last window's
queries. So floor = (W - 1) * T + (the sandbox's own time answering those last queries). Startup, converting
and writing the report are hpctl's, and count against it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from measure import machine_note, run_module, spread, start_sandbox


class GraphTimes:
    """When the sandbox counted each Resource Graph query against the quota, and how long it took to answer.

    Measurement only: it wraps two methods of the in-process sandbox's endpoint (hpctl is not touched).
    """

    def __init__(self, graph: Any) -> None:
        self.lock = threading.Lock()
        self.taken: list[tuple[float, bool]] = []  # (time, allowed)
        self.answers: list[tuple[float, float]] = []  # (start, end)
        take, answer = graph.quota.take, graph._answer

        def timed_take(user: str) -> tuple[bool, int, float]:
            result = take(user)
            with self.lock:
                self.taken.append((time.monotonic(), result[0]))
            return result

        def timed_answer(request: Any) -> Any:
            start = time.monotonic()
            try:
                return answer(request)
            finally:
                with self.lock:
                    self.answers.append((start, time.monotonic()))

        graph.quota.take, graph._answer = timed_take, timed_answer

    def clear(self) -> None:
        with self.lock:
            self.taken.clear()
            self.answers.clear()


def floor_of(times: GraphTimes, limit: int, window: float) -> dict[str, Any]:
    allowed = [t for t, ok in times.taken if ok]
    queries = len(allowed)
    windows = math.ceil(queries / limit)
    last = times.answers[(windows - 1) * limit:]
    serve_last = sum(end - start for start, end in last)
    # The windows as the sandbox opened them (a window opens with the first query after the last one ended):
    # for each that followed a spent window, how long after the spent one ended its first query came.
    opened: list[list[float]] = []
    for t in allowed:
        if not opened or t - opened[-1][0] >= window:
            opened.append([t])
        else:
            opened[-1].append(t)
    late = [round(opened[i][0] - (opened[i - 1][0] + window), 3)
            for i in range(1, len(opened)) if len(opened[i - 1]) == limit]
    return {
        "graph_queries": queries,
        "throttled_429": sum(1 for _, ok in times.taken if not ok),
        "windows": windows,
        "windows_used": len(opened),
        "floor_seconds": (windows - 1) * window + serve_last,
        "serve_last_window_seconds": serve_last,
        "window_late_seconds": late,
        # From the last window's first query to its last answer: the sandbox answering, hpctl reading and judging.
        "last_window_seconds": times.answers[-1][1] - opened[-1][0] if opened and times.answers else None,
        "first_query": allowed[0] if allowed else None,
        "last_answer": times.answers[-1][1] if times.answers else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fleet", type=int, default=10_000, help="simulated VMs (default 10000)")
    parser.add_argument("--runs", type=int, default=7, help="report runs to take the median of (default 7)")
    args = parser.parse_args()

    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="hpctl-bench-") as tmp:
        seeded = time.perf_counter()
        sandbox, day = start_sandbox(args.fleet, Path(tmp))
        seed_seconds = time.perf_counter() - seeded
        graph = sandbox._app.resource_graph  # type: ignore[union-attr]
        limit, window = graph.quota.limit, graph.quota.window
        times = GraphTimes(graph)
        env = {**os.environ, "HPCTL_SANDBOX_DIR": tmp}
        try:
            # One run first that is not counted: the sandbox's first query builds its tables' caches, which ARG
            # does not make a client wait for.
            for number in range(args.runs + 1):
                if number:
                    time.sleep(window)  # a fresh quota window for each run, as for a user running it once
                times.clear()
                before = len(sandbox.requests())
                run = run_module("hpctl", ["--cloud", "sandbox", "report", "--format", "json", "--as-of",
                                           day.isoformat()], env)
                if run.returncode not in (0, 5):
                    sys.exit(f"report exited {run.returncode}: {run.stderr[-500:]}")
                if not number:
                    continue
                report = json.loads(run.stdout)
                floor = floor_of(times, limit, window)
                runs.append({
                    "wall": run.wall,
                    "peak_mib": run.peak_mib,
                    "requests": len(sandbox.requests()) - before,
                    "stats": report.get("queries"),
                    "vms": report["summary"]["vmsChecked"],
                    "output_mb": len(run.stdout.encode()) / 1e6,
                    "startup": floor["first_query"] - run.started,
                    "tail": run.started + run.wall - floor["last_answer"],
                    **floor,
                })
        finally:
            sandbox.stop()
    walls = [r["wall"] for r in runs]
    ratios = [r["wall"] / r["floor_seconds"] for r in runs]
    peaks = [r["peak_mib"] for r in runs if r["peak_mib"] is not None]
    last = runs[-1]
    result = {
        "fleet": args.fleet,
        "seed_seconds": round(seed_seconds, 2),
        "runs": args.runs,
        "machine": machine_note(),
        "quota": f"{limit} queries per {window:g} s window",
        "arm_requests_per_report": last["requests"],
        "resource_graph": last["stats"],
        "windows": last["windows"],
        "vms_checked": last["vms"],
        "output_mb": round(last["output_mb"], 1),
        "wall_seconds": spread(walls),
        "floor_seconds": spread([r["floor_seconds"] for r in runs]),
        "floor_formula": f"({last['windows']} - 1) x {window:g} s + the sandbox's time answering the last "
                         f"window's {last['graph_queries'] - (last['windows'] - 1) * limit} queries",
        "wall_over_floor": spread(ratios),
        "startup_to_first_query_seconds": spread([r["startup"] for r in runs]),
        "windows_used": [r["windows_used"] for r in runs],
        "window_late_seconds": [r["window_late_seconds"] for r in runs],
        "last_window_seconds": spread([r["last_window_seconds"] for r in runs]),
        "after_last_answer_seconds": spread([r["tail"] for r in runs]),
        "throttled_429": sum(r["throttled_429"] for r in runs),
        "hpctl_peak_rss_mib": spread(peaks) if peaks else None,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

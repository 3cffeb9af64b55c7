"""Benchmark `hpctl report` over a large sandbox fleet: ARM requests sent, wall time, peak memory."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fleet", type=int, default=10_000, help="simulated VMs (default 10000)")
    parser.add_argument("--runs", type=int, default=3, help="report runs to take the median of")
    args = parser.parse_args()

    from hpctl.cli.sandbox import demo_day
    from hpctl.sandbox import Sandbox, SandboxConfig

    day = demo_day()
    with tempfile.TemporaryDirectory(prefix="hpctl-bench-") as tmp:
        seeded = time.perf_counter()
        sandbox = Sandbox(SandboxConfig(fleet=args.fleet, seed=7, date=day, time_scale=60000.0, state_dir=Path(tmp)))
        sandbox.start()
        seed_seconds = time.perf_counter() - seeded
        walls, requests, outputs = [], [], []
        env = {**os.environ, "HPCTL_SANDBOX_DIR": tmp}
        try:
            for _ in range(args.runs):
                before = len(sandbox.requests())
                start = time.perf_counter()
                # hpctl runs as its own process, as users run it; the sandbox serves from this one.
                done = subprocess.run([sys.executable, "-m", "hpctl", "--cloud", "sandbox", "report", "--format",
                                       "json", "--as-of", day.isoformat()], capture_output=True, text=True, env=env)
                walls.append(time.perf_counter() - start)
                requests.append(len(sandbox.requests()) - before)
                outputs.append(done.stdout)
                if done.returncode not in (0, 5):
                    sys.exit(f"report exited {done.returncode}: {done.stderr[-500:]}")
        finally:
            sandbox.stop()
    report = json.loads(outputs[-1])
    # ru_maxrss of children: the largest hpctl report process (KiB on Linux).
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = {
        "fleet": args.fleet,
        "seed_seconds": round(seed_seconds, 2),
        "runs": args.runs,
        "median_wall_seconds": round(statistics.median(walls), 2),
        "arm_requests_per_report": requests[-1],
        "resource_graph_queries": report.get("queries"),
        "vms_checked": report["summary"]["vmsChecked"] if "summary" in report else None,
        "hpctl_peak_rss_mib": round(peak_mib, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

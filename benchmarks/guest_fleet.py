"""Benchmark `hpctl vm patches` (a Run Command per VM through the fleet engine) over a sandbox fleet whose request
budgets refill at Azure's own pace: wall time, ARM requests, 429s met, peak memory."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fleet", type=int, default=1000, help="simulated VMs (default 1000)")
    parser.add_argument("--time-scale", type=float, default=600.0,
                        help="how much faster than Azure operations finish (budgets still refill in real time)")
    args = parser.parse_args()

    from hpctl.sandbox import Sandbox, SandboxConfig

    with tempfile.TemporaryDirectory(prefix="hpctl-bench-") as tmp:
        sandbox = Sandbox(SandboxConfig(fleet=args.fleet, seed=7, date="2026-05-20", time_scale=args.time_scale,
                                        budget_time_scale=1.0, state_dir=Path(tmp)))
        sandbox.start()
        env = {**os.environ, "HPCTL_SANDBOX_DIR": tmp, "HOME": tmp}
        try:
            start = time.perf_counter()
            # hpctl runs as its own process, as users run it; the sandbox serves from this one.
            done = subprocess.run([sys.executable, "-m", "hpctl", "--cloud", "sandbox", "vm", "patches", "--as-of",
                                   "2026-05-20"], capture_output=True, text=True, env=env)
            wall = time.perf_counter() - start
            log = sandbox.requests()
        finally:
            sandbox.stop()
    if done.returncode not in (0, 1):
        sys.exit(f"vm patches exited {done.returncode}: {done.stderr[-500:]}")
    rows = json.loads(done.stdout)
    statuses = Counter(str(r["status"]) for r in log)
    result = {
        "fleet": args.fleet,
        "wall_seconds": round(wall, 1),
        "outcomes": dict(Counter(r["outcome"] for r in rows)),
        "arm_requests": len(log),
        "run_commands": sum(1 for r in log if r["path"].lower().endswith("/runcommand")),
        "throttled_429": statuses.get("429", 0),
        "hpctl_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

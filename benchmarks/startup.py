"""Start-up benchmark: median wall time of `hpctl --help` and `hpctl assess --help` vs `python -c pass`, or
with --cpu the median CPU time (user + system), which other load on a shared machine disturbs far less."""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "hpctl --help": [sys.executable, "-m", "hpctl", "--help"],
    "hpctl assess --help": [sys.executable, "-m", "hpctl", "assess", "--help"],
}


def _cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def median_seconds(argv: list[str], runs: int, cpu: bool = False) -> float:
    subprocess.run(argv, capture_output=True, check=True)  # warm the bytecode cache
    clock = _cpu_seconds if cpu else time.perf_counter
    times = []
    for _ in range(runs):
        start = clock()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(clock() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--cpu", action="store_true", help="CPU time (user + system) instead of wall time")
    args = parser.parse_args()
    results = {name: median_seconds(argv, args.runs, args.cpu) for name, argv in COMMANDS.items()}
    base = results["python -c pass"]
    if args.json:
        print(json.dumps({"runs": args.runs, "clock": "cpu" if args.cpu else "wall", "median_seconds": results},
                         indent=2))
        return
    for name, seconds in results.items():
        extra = "" if name == "python -c pass" else f"  (+{seconds - base:.3f} s over bare Python)"
        print(f"{name:22} median {seconds:.3f} s over {args.runs} runs{extra}")


if __name__ == "__main__":
    main()

"""Run a Python module as a fresh process and measure it: wall time and that process's own peak RSS.

getrusage(RUSAGE_CHILDREN) is no use here: a child starts as a copy of its parent (the benchmark, which also
serves the sandbox's whole fleet), and its ru_maxrss keeps that peak after exec. The child reads its own high-water
mark (VmHWM in /proc/self/status, which exec resets) as it exits and leaves it in a file.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

PEAK_FILE_ENV = "HPCTL_BENCH_PEAK_FILE"
_CHILD = """
import atexit, os, runpy, sys
PEAK_FILE_ENV = "HPCTL_BENCH_PEAK_FILE"

def _peak():
    try:
        with open("/proc/self/status") as status:
            kib = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return
    with open(os.environ[PEAK_FILE_ENV], "w") as out:
        out.write(kib)

atexit.register(_peak)
module = sys.argv[1]
sys.argv = [module] + sys.argv[2:]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


@dataclass
class Run:
    """One measured process."""

    wall: float
    peak_mib: float | None
    returncode: int
    stdout: str
    stderr: str
    started: float  # time.monotonic() just before the process was started


def run_module(module: str, args: list[str], env: dict[str, str]) -> Run:
    """`python -m module args…` in a fresh process, with its wall time and its own peak RSS (MiB)."""
    with tempfile.TemporaryDirectory(prefix="hpctl-peak-") as tmp:
        peak_file, out_file = Path(tmp) / "peak", Path(tmp) / "stdout"
        # stdout goes to a file, as `hpctl … > report.json` would: a pipe would make the child wait on this
        # process (busy serving the sandbox) to read tens of megabytes.
        with out_file.open("w") as out:
            started = time.monotonic()
            done = subprocess.run([sys.executable, "-c", _CHILD, module, *args], stdout=out, stderr=subprocess.PIPE,
                                  text=True, env={**env, PEAK_FILE_ENV: str(peak_file)})
            wall = time.monotonic() - started
        peak = int(peak_file.read_text()) / 1024 if peak_file.exists() else None
        stdout = out_file.read_text()
    return Run(wall, peak, done.returncode, stdout, done.stderr, started)


def start_sandbox(fleet: int, state_dir: Path, budgets: dict[str, int] | None = None) -> tuple[Any, date]:
    """A seeded sandbox of `fleet` VMs serving from this process, on the demo's day, and that day."""
    from hpctl.cli.sandbox import demo_day
    from hpctl.sandbox import Sandbox, SandboxConfig

    day = demo_day()
    sandbox = Sandbox(SandboxConfig(fleet=fleet, seed=7, date=day, time_scale=60000.0, state_dir=state_dir,
                                    budgets=budgets))
    return sandbox.start(), day


def spread(values: list[float]) -> dict[str, float]:
    """Median, min and max, rounded for a report."""
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


def machine_note() -> str:
    """The load average when the benchmark ran: the numbers mean little on a busy machine."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"

"""Fault soak: `hpctl install` on every VM and Arc machine of a sandbox that answers with 429s, 500s, 503s, dropped
connections and failed operations, run after run, checking the promises against the sandbox's own record:
every VM exactly once in the output, no VM with two accepted installPatches, exit 1 iff a target failed,
and no row Failed whose operation in fact succeeded."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

FAULTS = "429=0.05,500=0.05,503=0.05,drop=0.05,fail=0.05"
INSTALL = ["install", "--classification", "Critical,Security", "--reboot-setting", "IfRequired", "--yes",
           "-o", "json"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fleet", type=int, default=400)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--faults", default=FAULTS)
    parser.add_argument("--first-seed", type=int, default=100, help="sandbox seed of the first run (default 100)")
    args = parser.parse_args()

    from hpctl.cli.sandbox import demo_day
    from hpctl.sandbox import Sandbox, SandboxConfig

    summary = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="hpctl-soak-") as tmp:
            state = Path(tmp) / "sandbox"
            sandbox = Sandbox(SandboxConfig(fleet=args.fleet, seed=args.first_seed + run, date=demo_day(),
                                            time_scale=60000.0, faults=args.faults, state_dir=state))
            sandbox.start()
            try:
                # Every target: the VMs and the Arc machines (both keep their installations the same way).
                machines = [*sandbox.backend.compute.list(), *sandbox.backend.hybrid.list()]
                vms = {vm.name: vm for vm in machines}
                assert len(vms) == len(machines), "a VM and an Arc machine share a name"
                before = {name: len(vm.installations) for name, vm in vms.items()}
                env = {**os.environ, "HOME": tmp, "HPCTL_SANDBOX_DIR": str(state), "HPCTL_POLLING_INTERVAL": "0.05"}
                start = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "hpctl", "--cloud", "sandbox", *INSTALL],
                                      capture_output=True, text=True, env=env, timeout=900)
                wall = time.perf_counter() - start
                rows = json.loads(done.stdout or "[]")
                accepted = Counter(
                    m.group(1) for r in sandbox.requests() if r["method"] == "POST" and r["status"] == 202
                    for m in [re.search(r"/(?:virtualMachines|machines)/([^/]+)/installPatches$", r["path"], re.I)]
                    if m)
                names = Counter(r["name"] for r in rows)
                failed = [r for r in rows if r["outcome"] == "Failed"]
                false_failures = [r["name"] for r in failed
                                  if any(i["status"] == "Succeeded"
                                         for i in vms[r["name"]].installations[before[r["name"]]:])]
                summary.append({
                    "run": run,
                    "exit": done.returncode,
                    "wall_s": round(wall, 1),
                    "rows": len(rows),
                    "every_vm_once": names == Counter({name: 1 for name in vms}),
                    "vms_with_two_accepted_installs": sum(1 for n in accepted.values() if n > 1),
                    "exit_1_iff_failed": (done.returncode == 1) == bool(failed),
                    "false_failures": false_failures,
                    "outcomes": dict(Counter(r["outcome"] for r in rows)),
                    "failure_reasons": dict(Counter(
                        re.sub(r"VM '[^']+'", "VM", ((r.get("error") or {}).get("message") or
                                                     ((r.get("installation") or {}).get("error") or {}).get("code")
                                                     or "?"))[:70] for r in failed)),
                    "faults_served": dict(Counter(str(r["status"]) for r in sandbox.requests()
                                                  if r["status"] in (429, 500, 503, "drop"))),
                })
                if not rows:
                    summary[-1]["stderr"] = done.stderr[-600:]
                print(json.dumps(summary[-1]), flush=True)
            finally:
                sandbox.stop()
    ok = all(s["every_vm_once"] and not s["vms_with_two_accepted_installs"] and s["exit_1_iff_failed"]
             and not s["false_failures"] for s in summary)
    print(json.dumps({"runs": len(summary), "all_promises_kept": ok}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

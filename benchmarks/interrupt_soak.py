"""Interrupt soak: start `hpctl install` (plain, and --rollout availability), hit it with SIGINT, SIGTERM or
kill -9 at a random moment, then `--resume` until it finishes; the sandbox's request log must show every VM of
the group accepted exactly once."""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

INSTALL = ["install", "-g", "rg-web", "--classification", "Critical,Security", "--reboot-setting", "IfRequired",
           "--yes", "-o", "json"]
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "kill -9": signal.SIGKILL}


def accepted(sandbox: object) -> Counter:
    seen: Counter = Counter()
    for item in sandbox.requests():  # type: ignore[attr-defined]
        match = re.search(r"/virtualMachines/([^/]+)/installPatches$", item["path"], re.IGNORECASE)
        if match and item["method"] == "POST" and item["status"] == 202:
            seen[match.group(1)] += 1
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from hpctl.cli.sandbox import demo_day
    from hpctl.sandbox import Sandbox, SandboxConfig

    rng = random.Random(args.seed)
    results = []
    for run in range(args.runs):
        mode = ["none", "availability"][run % 2]
        name, sig = list(SIGNALS.items())[(run // 2) % 3]
        delay = rng.uniform(0.2, 3.0)
        with tempfile.TemporaryDirectory(prefix="hpctl-intr-") as tmp:
            state = Path(tmp) / "sandbox"
            # Budgets on wall time and a small subscription bucket: sends spread over seconds, installs take
            # 1.5-3 s, so a signal can land before, during and after sends, polls and waves.
            box = Sandbox(SandboxConfig(fleet=200, seed=7, date=demo_day(), time_scale=600.0, state_dir=state,
                                        budgets={"VMGuestPatchOperationSubscriptionMaximum": 4},
                                        budget_time_scale=1.0))
            box.start()
            env = {**os.environ, "HOME": tmp, "HPCTL_SANDBOX_DIR": str(state), "HPCTL_CLOUD": "sandbox",
                   "HPCTL_POLLING_INTERVAL": "0.1"}
            command = [sys.executable, "-m", "hpctl", *INSTALL, "--rollout", mode, "--state-file",
                       str(Path(tmp) / "run.journal")]
            try:
                group = {vm.name for vm in box.backend.compute.list("rg-web")}
                first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                time.sleep(delay)
                first.send_signal(sig)
                first.communicate(timeout=120)
                first_accepted = sum(accepted(box).values())
                resumes, code = 0, None
                # Interrupted before its journal existed, nothing was sent: then the follow-up is a fresh run.
                follow_up = [*command, "--resume"] if (Path(tmp) / "run.journal").exists() else command
                while code != 0 and resumes < 5:
                    resumes += 1
                    again = subprocess.run(follow_up, env=env, capture_output=True, text=True, timeout=300)
                    follow_up = [*command, "--resume"]
                    code = again.returncode
                    if code not in (0, 1):
                        break
                rows = json.loads(again.stdout or "[]")
                counts = accepted(box)
                results.append({
                    "run": run, "rollout": mode, "signal": name, "after_s": round(delay, 2),
                    "first_exit": first.returncode, "accepted_before_follow_up": first_accepted,
                    "resumes": resumes, "last_exit": code,
                    "vms": len(group), "installed_once": counts == Counter({vm: 1 for vm in group}),
                    "vms_with_two_accepted_installs": sum(1 for n in counts.values() if n > 1),
                    "outcomes": dict(Counter(r["outcome"] for r in rows)),
                })
                print(json.dumps(results[-1]), flush=True)
            finally:
                box.stop()
    ok = all(r["installed_once"] and r["last_exit"] == 0 for r in results)
    print(json.dumps({"runs": len(results), "every_vm_installed_exactly_once": ok}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

"""Interrupting a real `hpctl install` process (SIGINT, SIGTERM, kill -9) and resuming it: the sandbox's
request log must show every VM accepted exactly once, however the first run ended."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from tests.conftest import SANDBOX_DATE

INSTALL = ["install", "-g", "rg-web", "--classification", "Critical,Security", "--reboot-setting", "IfRequired",
           "--yes", "-o", "json"]


def accepted_installs(sandbox) -> Counter:
    seen: Counter = Counter()
    for item in sandbox.requests():
        match = re.search(r"/virtualMachines/([^/]+)/installPatches$", item["path"], re.IGNORECASE)
        if match and item["method"] == "POST" and item["status"] == 202:
            seen[match.group(1)] += 1
    return seen


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "kill-9"])
def test_interrupted_install_then_resume_installs_each_vm_once(tmp_path, sig):
    from hpctl.sandbox import Sandbox, SandboxConfig

    state = tmp_path / "sandbox"
    # Budgets on wall time with a small subscription bucket: the run paces its sends over about 2 s, so the
    # signal lands while some VMs are accepted and others not yet sent. Installs take 1.5-3 s.
    box = Sandbox(SandboxConfig(fleet=24, seed=7, date=SANDBOX_DATE, time_scale=600.0, state_dir=state,
                                budgets={"VMGuestPatchOperationSubscriptionMaximum": 2}, budget_time_scale=1.0))
    box.start()
    env = {**os.environ, "HOME": str(tmp_path), "HPCTL_SANDBOX_DIR": str(state), "HPCTL_CLOUD": "sandbox",
           "HPCTL_POLLING_INTERVAL": "0.1"}
    journal = str(tmp_path / "run.journal")
    try:
        group = {vm.name for vm in box.backend.compute.list("rg-web")}
        first = subprocess.Popen([sys.executable, "-m", "hpctl", *INSTALL, "--state-file", journal], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not accepted_installs(box) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert accepted_installs(box), "the first run never got an install accepted"
        first.send_signal(sig)
        out, err = first.communicate(timeout=60)
        if sig == signal.SIGKILL:
            assert first.returncode == -signal.SIGKILL
        else:
            assert first.returncode == (130 if sig == signal.SIGINT else 143), err
            assert "Traceback" not in err
            outcomes = Counter(row["outcome"] for row in json.loads(out))
            assert sum(outcomes.values()) == len(group)
            assert set(outcomes) <= {"Succeeded", "Accepted", "NotStarted"}, outcomes
            assert re.search(r"\d+ started, \d+ finished, \d+ not started", err) and "--resume" in err
        resumed = subprocess.run([sys.executable, "-m", "hpctl", *INSTALL, "--state-file", journal, "--resume"],
                                 env=env, capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        rows = json.loads(resumed.stdout)
        assert {row["name"] for row in rows} == group
        assert {row["outcome"] for row in rows} <= {"Succeeded", "AlreadyDone"}
        assert accepted_installs(box) == Counter({name: 1 for name in group})
    finally:
        box.stop()

"""The sandbox's seeded fleet exercises every report rule and every hotpatch track (so the demo and the
recorded tests see each case), read through hpctl report as a user would."""

from __future__ import annotations

import json
from datetime import date

import pytest

from hpctl.core.compliance import RULES


def report(hpctl, monkeypatch, tmp_path, day: date) -> dict:
    from hpctl.sandbox import Sandbox, SandboxConfig

    sandbox = Sandbox(SandboxConfig(fleet=30, seed=7, date=day, time_scale=60000.0, state_dir=tmp_path)).start()
    try:
        monkeypatch.setenv("HPCTL_CLOUD", "sandbox")
        monkeypatch.setenv("HPCTL_SANDBOX_DIR", str(tmp_path))
        result = hpctl("report", "-o", "json", "--as-of", day.isoformat(), "--instance-views")
    finally:
        sandbox.stop()
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def tracks(doc: dict) -> set[str]:
    return {r["track"]["state"] for r in doc["resources"] if r.get("track")}


def test_every_rule_fires_somewhere_in_the_fleet(hpctl, monkeypatch, tmp_path):
    doc = report(hpctl, monkeypatch, tmp_path, date(2026, 5, 20))
    assert {f["ruleId"] for f in doc["findings"]} == {rule.id for rule in RULES}
    assert tracks(doc) >= {"hotpatch", "behind", "off-track", "unknown"}


@pytest.mark.parametrize("day", [date(2026, 4, 20), date(2025, 10, 20)])
def test_in_a_baseline_month_vms_are_on_the_current_baseline(hpctl, monkeypatch, tmp_path, day):
    # Between a baseline's release and the next hotpatch, an up-to-date VM is on the current baseline.
    assert "current-baseline" in tracks(report(hpctl, monkeypatch, tmp_path, day))

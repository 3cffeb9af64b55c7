"""install --rollout availability: zone by zone, one update domain at a time, stop on failure, resume."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.vcr
INSTALL = ["install", "--classification", "Critical,Security", "--reboot-setting", "IfRequired",
           "--rollout", "availability", "--yes"]


def rows_of(result):
    assert result.stdout, result.stderr
    return json.loads(result.stdout)


def test_waves_never_mix_zones(arm, hpctl, tmp_path):
    result = hpctl(*INSTALL, "-g", "rg-web", "--state-file", str(tmp_path / "state.json"))
    assert result.exit_code == 0, result.stderr
    rows = rows_of(result)
    assert all(r["outcome"] == "Succeeded" and r["health"] == "healthy" for r in rows)
    waves: dict[int, set[str]] = {}
    for row in rows:
        waves.setdefault(row["wave"], set()).add(row["waveLabel"].split(" batch")[0])
    assert len(waves) >= 3, "rg-web spans three zones"
    assert all(len(labels) == 1 for labels in waves.values())
    assert [line for line in result.stderr.splitlines() if line.startswith("Wave ")][0].startswith("Wave 1: zone 1")


def test_availability_set_one_update_domain_at_a_time(arm, hpctl, tmp_path):
    result = hpctl(*INSTALL, "-g", "rg-data", "--state-file", str(tmp_path / "state.json"))
    assert result.exit_code == 0, result.stderr
    rows = [r for r in rows_of(result) if "update domain" in r["waveLabel"]]
    assert rows
    per_wave: dict[int, int] = {}
    for row in rows:
        per_wave[row["wave"]] = per_wave.get(row["wave"], 0) + 1
    assert max(per_wave.values()) == 1  # a set under 10 VMs: one VM at a time


def test_a_failure_stops_the_rollout_and_resume_carries_on(arm, hpctl, tmp_path):
    state = str(tmp_path / "state.json")
    arm.arrange(lambda sb: sb.fail_next_operation(path_regex=r"web-01/installPatches$",
                                                  code="VMGuestPatchInternalError", message="Installation failed."))
    first = hpctl(*INSTALL, "-g", "rg-web", "--state-file", state)
    assert first.exit_code == 1
    rows = {r["name"]: r for r in rows_of(first)}
    assert rows["web-01"]["outcome"] == "Failed" and rows["web-01"]["wave"] == 1
    later = [r for r in rows.values() if r["wave"] > 1]
    assert later and all(r["outcome"] == "Skipped" for r in later)
    assert "stopped after wave 1" in first.stderr and "--resume" in first.stderr

    # --resume never sends installPatches again to a VM whose install Azure accepted: web-01 is read back
    # (still the failed run) and the rollout stops at wave 1 again.
    stuck = hpctl(*INSTALL, "-g", "rg-web", "--state-file", state, "--resume")
    assert stuck.exit_code == 1
    assert {r["name"]: r for r in rows_of(stuck)}["web-01"]["outcome"] == "Failed"
    assert "stopped after wave 1" in stuck.stderr

    # The operator fixes web-01 with an install of its own; --resume reads that success back and carries on.
    assert hpctl(*INSTALL, "-g", "rg-web", "-n", "web-01").exit_code == 0
    second = hpctl(*INSTALL, "-g", "rg-web", "--state-file", state, "--resume")
    assert second.exit_code == 0, second.stderr
    again = {r["name"]: r for r in rows_of(second)}
    assert again["web-01"]["outcome"] == "Succeeded"
    done_before = [r for name, r in again.items() if rows[name]["outcome"] == "Succeeded"]
    assert all(r["outcome"] == "AlreadyDone" for r in done_before)
    assert all(again[r["name"]]["outcome"] == "Succeeded" for r in later)


def test_resume_refuses_another_rollouts_state(arm, hpctl, tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"version": 2, "kind": "install-availability", "key": "0123456789abcdef",
                                 "settings": {}}) + "\n")
    result = hpctl(*INSTALL, "-g", "rg-web", "--state-file", str(state), "--resume")
    assert result.exit_code == 2
    assert "another run" in result.stderr

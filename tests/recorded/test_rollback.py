"""vm patches, rollback and restart --reboot-pending, recorded: one VM and a group, a VM failing mid-way, resume
after a stop and after an interruption, verification catching a VM that lands on the wrong build."""

from __future__ import annotations

import json
import signal
from collections import Counter
from contextlib import contextmanager

import pytest

import hpctl.edge.stepped as stepped

pytestmark = [pytest.mark.vcr, pytest.mark.usefixtures("serial_playback")]




@pytest.fixture
def calls(monkeypatch):
    """What hpctl asked Azure to do, per VM: inventory reads, package removals, restarts (in playback too)."""
    seen: Counter[tuple[str, str]] = Counter()
    run_command, restart = stepped.start_run_command, stepped.start_restart

    def spy_run(conn, group, name, body, *, token=None):
        if token is None:
            seen[(name, "remove" if body.get("parameters") else "read")] += 1
        return run_command(conn, group, name, body, token=token)

    def spy_restart(conn, group, name, *, token=None):
        if token is None:
            seen[(name, "restart")] += 1
        return restart(conn, group, name, token=token)

    monkeypatch.setattr(stepped, "start_run_command", spy_run)
    monkeypatch.setattr(stepped, "start_restart", spy_restart)
    return seen


def rows_of(result):
    assert result.stdout, result.stderr
    return {r["name"]: r for r in json.loads(result.stdout)}


def test_patches_of_one_vm(arm, hpctl):
    result = hpctl("vm", "patches", "-g", "rg-web", "-n", "web-01", "--as-of", "2026-05-20")
    assert result.exit_code == 0, result.stderr
    row = rows_of(result)["web-01"]
    assert row["outcome"] == "Succeeded"
    assert row["build"] == "26100.32772"
    assert row["buildIs"] == {"calendar": "hotpatch", "month": "2026-05", "kb": "KB5087423", "build": "26100.32772"}
    assert row["track"]["state"] == "hotpatch"
    assert row["lastKnownGoodBaseline"] == {"kb": "KB5082063", "build": "26100.32690", "month": "2026-04"}
    assert {h["kb"]: h["calendar"] for h in row["hotfixes"]} == {
        "KB5078736": "hotpatch", "KB5082063": "baseline", "KB5087423": "hotpatch"}
    assert [p["state"] for p in row["packages"] if p["calendar"] != "servicing stack"] == [
        "Superseded", "Installed", "Installed"]


def test_patches_of_a_group_give_each_vm_its_own_outcome(arm, hpctl, calls):
    arm.arrange(lambda sb: sb.backend.set_power("rg-app", "app-02", "deallocated"))
    arm.arrange(lambda sb: sb.backend.break_next_script("rg-app", "app-03", "Get-HotFix : Provider load failure"))
    result = hpctl("vm", "patches", "-g", "rg-app")
    assert result.exit_code == 1
    rows = rows_of(result)
    assert rows["app-01"]["outcome"] == "Succeeded" and rows["app-01"]["build"] == "20348.5020"
    assert rows["app-02"]["outcome"] == "Deallocated" and "deallocated" in rows["app-02"]["error"]["message"]
    assert rows["app-03"]["outcome"] == "ScriptFailed"
    assert "Get-HotFix : Provider load failure" in rows["app-03"]["error"]["message"]
    assert rows["app-03"]["stderr"].startswith("Get-HotFix : Provider load failure")
    assert rows["app-04"]["outcome"] == "AgentNotReady" and "agent" in rows["app-04"]["error"]["message"]
    assert ("app-02", "read") not in calls and ("app-04", "read") not in calls  # nothing sent to them
    assert "failed on 3 of" in result.stderr


def test_rollback_of_one_vm_lands_on_its_baseline(arm, hpctl, calls):
    result = hpctl("rollback", "-g", "rg-web", "-n", "web-01", "--yes")
    assert result.exit_code == 0, result.stderr
    row = rows_of(result)["web-01"]
    assert row["outcome"] == "Succeeded" and row["health"] == "healthy"
    assert row["build"] == "26100.32690"
    assert row["plan"]["remove"][0]["build"] == "26100.32772" and row["plan"]["baselinePresent"] is True
    assert "remove Package_for_RollupFix~31bf3856ad364e35~amd64~~26100.32772" in result.stderr
    assert calls[("web-01", "remove")] == 1 and calls[("web-01", "restart")] == 1
    after = rows_of(hpctl("vm", "patches", "-g", "rg-web", "-n", "web-01"))["web-01"]
    assert after["build"] == "26100.32690" and after["buildIs"]["calendar"] == "baseline"


def test_a_missing_baseline_is_installed_again(arm, hpctl, calls):
    def keep_only_the_newest(sb):
        history = sb.backend.vm("rg-web", "web-04").patch.history
        history[:] = history[-1:]  # the component store was cleaned: only the hotpatch's package is left

    arm.arrange(keep_only_the_newest)
    result = hpctl("rollback", "-g", "rg-web", "-n", "web-04", "--yes")
    assert result.exit_code == 0, result.stderr
    row = rows_of(result)["web-04"]
    assert row["plan"]["baselinePresent"] is False and row["plan"]["installBaseline"] == "KB5082063"
    assert "install KB5082063" in result.stderr
    assert row["outcome"] == "Succeeded" and row["build"] == "26100.32690"


def test_dry_run_plans_a_group_and_changes_nothing(arm, hpctl, calls):
    result = hpctl("rollback", "-g", "rg-web", "--dry-run")
    assert result.exit_code == 0, result.stderr
    rows = rows_of(result)
    planned = {n for n, r in rows.items() if r["outcome"] == "Planned"}
    assert planned == {"web-01", "web-04", "web-05"}
    assert rows["web-05"]["plan"]["baseline"] == {"kb": "KB5082142", "build": "20348.5020", "month": "2026-04"}
    assert rows["web-01"]["wave"] == rows["web-04"]["wave"] == 1 and rows["web-05"]["wave"] == 2  # zone by zone
    assert "itself" in rows["web-02"]["error"]["message"]
    assert "waiting for a restart" in rows["web-03"]["error"]["message"]
    assert not [k for k in calls if k[1] != "read"]


def test_a_vm_failing_mid_way_stops_the_rollback_and_resume_finishes_it(arm, hpctl, calls, tmp_path):
    state = str(tmp_path / "rollback.journal")
    arm.arrange(lambda sb: sb.fail_next_operation(path_regex=r"web-04/restart$"))
    first = hpctl("rollback", "-g", "rg-web", "--yes", "--state-file", state)
    assert first.exit_code == 1
    rows = rows_of(first)
    assert rows["web-01"]["outcome"] == "Succeeded"
    assert rows["web-04"]["outcome"] == "Failed" and rows["web-04"]["wave"] == 1
    assert rows["web-05"]["outcome"] == "Skipped"
    assert "stopped after wave 1" in first.stderr and "--resume" in first.stderr

    second = hpctl("rollback", "-g", "rg-web", "--yes", "--state-file", state, "--resume")
    assert second.exit_code == 0, second.stderr
    again = rows_of(second)
    assert again["web-01"]["outcome"] == "AlreadyDone"
    assert again["web-04"]["outcome"] == "Succeeded" and again["web-04"]["build"] == "26100.32690"
    assert again["web-05"]["outcome"] == "Succeeded" and again["web-05"]["build"] == "20348.5020"
    # No VM rolled back twice: one removal each, web-01 not touched again.
    assert calls[("web-01", "remove")] == calls[("web-04", "remove")] == calls[("web-05", "remove")] == 1
    assert calls[("web-01", "restart")] == 1 and calls[("web-04", "restart")] == 2


def test_resume_after_an_interruption_does_not_remove_again(arm, hpctl, calls, tmp_path):
    from hpctl import rollback as service
    from hpctl.fleet import interrupts
    from hpctl.fleet.guest_kinds import RunCommandKind

    state = str(tmp_path / "rollback.journal")
    interrupt = interrupts.Interrupt()

    @contextmanager
    def caught():
        yield interrupt

    class CtrlCAfterRemoval(RunCommandKind):
        def outcome(self, result):
            interrupt.signal = signal.SIGINT  # Ctrl-C right after the package was removed, before the restart
            interrupt.event.set()
            return super().outcome(result)

    with pytest.MonkeyPatch.context() as ctrl_c:
        ctrl_c.setattr(interrupts, "interrupts", caught)
        ctrl_c.setattr(service, "RunCommandKind", CtrlCAfterRemoval)
        stopped = hpctl("rollback", "-g", "rg-web", "-n", "web-04", "--yes", "--state-file", state)
    assert stopped.exit_code == 130
    assert rows_of(stopped)["web-04"]["outcome"] == "NotStarted"
    assert "--resume" in stopped.stderr
    assert calls[("web-04", "remove")] == 1 and calls[("web-04", "restart")] == 0

    resumed = hpctl("rollback", "-g", "rg-web", "-n", "web-04", "--yes", "--state-file", state, "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    row = rows_of(resumed)["web-04"]
    assert row["outcome"] == "Succeeded" and row["build"] == "26100.32690"
    assert row["plan"]["remove"] == []  # the removal was journalled: only the restart and the check remain
    assert calls[("web-04", "remove")] == 1 and calls[("web-04", "restart")] == 1


def test_verification_reads_the_guest_when_the_agent_reports_no_revision(arm, hpctl, calls):
    def old_agent(sb):
        sb.backend.vm("rg-web", "web-01").agent_reports_revision = False  # "Microsoft Windows NT 10.0.26100.0"

    arm.arrange(old_agent)
    result = hpctl("rollback", "-g", "rg-web", "-n", "web-01", "--yes")
    assert result.exit_code == 0, result.stderr
    row = rows_of(result)["web-01"]
    assert row["outcome"] == "Succeeded" and row["build"] == "26100.32690"
    assert calls[("web-01", "read")] == 2  # the plan's read, and the check after the restart


def test_verification_catches_a_vm_that_lands_on_the_wrong_build(arm, hpctl):
    arm.arrange(lambda sb: sb.backend.revert_next_servicing("rg-web", "web-01"))
    result = hpctl("rollback", "-g", "rg-web", "-n", "web-01", "--yes")
    assert result.exit_code == 1
    row = rows_of(result)["web-01"]
    assert row["outcome"] == "Failed"
    assert "ended on build 26100.32772, not on baseline KB5082063 (26100.32690)" in row["error"]["message"]


def test_restart_reboot_pending_restarts_only_those_waiting(arm, hpctl, calls):
    planned = hpctl("restart", "--reboot-pending", "-g", "rg-web", "--dry-run")
    assert planned.exit_code == 0, planned.stderr
    rows = rows_of(planned)
    assert rows["web-03"]["outcome"] == "WouldRestart" and rows["web-03"]["wave"] == 1
    assert all(r["outcome"] == "NothingPending" for n, r in rows.items() if n != "web-03")
    assert not calls
    done = hpctl("restart", "--reboot-pending", "-g", "rg-web", "--yes")
    assert done.exit_code == 0, done.stderr
    rows = rows_of(done)
    assert rows["web-03"]["outcome"] == "Succeeded" and rows["web-03"]["health"] == "healthy"
    assert calls == Counter({("web-03", "restart"): 1})
    status = rows_of(hpctl("status", "-g", "rg-web", "-n", "web-03", "--as-of", "2026-05-20"))["web-03"]
    assert status["osVersion"] == "10.0.26100.32690"


def test_restart_resume_restarts_no_vm_twice(arm, hpctl, calls, tmp_path):
    state = str(tmp_path / "restart.journal")
    arm.arrange(lambda sb: sb.fail_next_operation(path_regex=r"web-03/restart$"))
    first = hpctl("restart", "--reboot-pending", "-g", "rg-web", "-n", "web-03", "--yes", "--state-file", state)
    assert first.exit_code == 1
    assert rows_of(first)["web-03"]["outcome"] == "Failed"
    second = hpctl("restart", "--reboot-pending", "-g", "rg-web", "-n", "web-03", "--yes", "--state-file", state,
                   "--resume")
    assert second.exit_code == 0, second.stderr
    assert rows_of(second)["web-03"]["outcome"] == "Succeeded"
    third = hpctl("restart", "--reboot-pending", "-g", "rg-web", "-n", "web-03", "--yes", "--state-file", state,
                  "--resume")
    assert third.exit_code == 0, third.stderr
    assert rows_of(third)["web-03"]["outcome"] == "AlreadyDone"
    assert calls[("web-03", "restart")] == 2  # the failed one and the one that worked; none after

"""vm enable-hotpatch refusals on a live sandbox: exit 2, one line saying what is wrong and how to fix it, and
no write sent (the sandbox's request log: reads only, or nothing at all for input checked up front)."""

from __future__ import annotations

import pytest

from tests.cli.conftest import running_sandbox

WRITES = ("PUT", "PATCH", "DELETE")


def _a_dynamic_scope_over_rg_web(sandbox):
    """A dynamic scope that matches a hotpatch-eligible VM (web-02): hpctl must not edit a scope others share."""
    store = sandbox.backend.maintenance
    config = store.get_config("rg-api", "mc-api-saturday")
    store.put_assignment(f"/subscriptions/{sandbox.subscription_id}", "web-nightly", {"properties": {
        "maintenanceConfigurationId": config["id"],
        "filter": {"resourceGroups": ["rg-web"], "tagSettings": {"tags": {"env": ["prod"]}}},
    }}, dynamic=True)


@pytest.fixture(scope="module")
def live_sandbox(tmp_path_factory):
    state = tmp_path_factory.mktemp("sandbox")
    with running_sandbox(state, arrange=_a_dynamic_scope_over_rg_web) as sandbox:
        yield sandbox, state


ID = "/subscriptions/{sub}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/app-02"
REFUSED = {
    # (args, what the one line must say, whether reads may happen first)
    "in a schedule": (["-g", "rg-api", "-n", "api-04", "--yes"], "--leave-schedule", True),
    "in a dynamic scope": (["-g", "rg-web", "-n", "web-02", "--leave-schedule", "--yes"],
                           "dynamic scope web-nightly", True),
    "image can't hotpatch": (["-g", "rg-legacy", "-n", "legacy-02", "--yes"], "can't hotpatch", True),
    "no VM agent": (["-g", "rg-legacy", "-n", "legacy-04", "--yes"], "provisionVMAgent false", True),
    # A fleet write without --yes and without a terminal is refused before anything is read.
    "a group, not confirmed": (["-g", "rg-app"], "--yes", False),
    # One VM needs no question, unless it leaves a schedule.
    "one VM leaving a schedule, not confirmed": (["-g", "rg-api", "-n", "api-02", "--leave-schedule"], "--yes",
                                                 True),
    "bad reboot setting": (["-g", "rg-app", "-n", "app-02", "--reboot-setting", "Sometimes"], "--reboot-setting",
                           False),
    "name without group": (["-n", "app-02"], "-g/--resource-group", False),
    "ids with group": (["-g", "rg-app", "--ids", ID], "--ids", False),
    "malformed id": (["--ids", "/subscriptions/x/vm"], "--ids", False),
    "bad tag": (["--tag", "=prod"], "--tag", False),
}


@pytest.mark.parametrize("args,needle,reads", REFUSED.values(), ids=REFUSED.keys())
def test_refusals_exit_2_with_one_line_and_send_no_write(args, needle, reads, live_sandbox, hpctl, monkeypatch):
    sandbox, state = live_sandbox
    monkeypatch.setenv("HPCTL_CLOUD", "sandbox")
    monkeypatch.setenv("HPCTL_SANDBOX_DIR", str(state))
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    before = len(sandbox.requests())
    result = hpctl("vm", "enable-hotpatch", *[a.format(sub=sandbox.subscription_id) for a in args])
    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(lines) == 1 and needle in lines[0], result.stderr
    # Besides the error, only the plan (one line per change, per VM) and the question's summary: no hint lines.
    assert all(line.startswith(("ERROR", "rg-", "WARNING", "enable-hotpatch on", "  ")) for line in
               result.stderr.splitlines()), result.stderr
    sent = sandbox.requests()[before:]
    assert not [r for r in sent if r["method"] in WRITES], sent
    if not reads:
        assert sent == [], "input checked up front must send nothing at all"


def test_leaving_a_schedule_is_the_only_write_when_hotpatch_is_already_right(live_sandbox, hpctl, monkeypatch):
    # app-01 has every hotpatch setting (bypass off) but sits in a schedule: neither the schedule nor automatic
    # patching runs for it. --leave-schedule deletes the assignment and sends no PATCH.
    import json

    sandbox, state = live_sandbox
    monkeypatch.setenv("HPCTL_CLOUD", "sandbox")
    monkeypatch.setenv("HPCTL_SANDBOX_DIR", str(state))
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    store = sandbox.backend.maintenance
    vm = sandbox.backend.vm("rg-app", "app-01")
    store.put_assignment(vm.id, "mc-api-saturday", {"properties": {
        "maintenanceConfigurationId": store.get_config("rg-api", "mc-api-saturday")["id"]}}, dynamic=False)
    before = len(sandbox.requests())
    result = hpctl("vm", "enable-hotpatch", "-g", "rg-app", "-n", "app-01", "--leave-schedule", "--yes")
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["outcome"] == "Changed" and row["leftSchedules"] == ["mc-api-saturday"]
    assert [c["setting"] for c in row["changes"]] == ["schedule mc-api-saturday"]
    writes = [r["method"] for r in sandbox.requests()[before:] if r["method"] in WRITES]
    assert writes == ["DELETE"]
    assert store.assignments(vm.id) == []

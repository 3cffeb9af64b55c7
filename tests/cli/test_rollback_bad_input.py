"""Every refusal of rollback / restart / vm patches: exit 2, one line on stderr, nothing changed on Azure."""

from __future__ import annotations

import pytest

from tests.cli.conftest import running_sandbox

OPTION_ERRORS = {
    "restart without --reboot-pending": (["restart", "-g", "rg-web", "--yes"], "--reboot-pending"),
    "rollback batch size 0": (["rollback", "-g", "rg-web", "--yes", "--batch-size", "0"], "--batch-size"),
    "rollback resume without its journal": (["rollback", "-g", "rg-web", "--yes", "--resume", "--state-file",
                                             "/nonexistent/rollback.json"], "--resume"),
    "rollback resume and dry run": (["rollback", "-g", "rg-web", "--resume", "--dry-run"], "--dry-run"),
    "rollback with no terminal and no --yes": (["rollback", "-g", "rg-web"], "--yes"),
    "restart with no terminal and no --yes": (["restart", "--reboot-pending", "-g", "rg-web"], "--yes"),
    "rollback name without group": (["rollback", "-n", "web-01", "--yes"], "-g"),
    "vm patches bad tag": (["vm", "patches", "--tag", "=x"], "--tag"),
    "vm patches bad as-of": (["vm", "patches", "-g", "rg-web", "--as-of", "May"], "--as-of"),
}
# VM -> words of its refusal (the seeded fleet on SANDBOX_DATE; web-04 gets an emptied component store).
REFUSALS = {
    "web-02": "the newest update is baseline KB5082142 itself",
    "web-03": "waiting for a restart",
    "app-02": "the calendar doesn't know build 20348.5131",
    "legacy-01": "is not Windows Server 2022/2025",
    "web-04": "nothing is installed above baseline KB5082063",
}


@pytest.fixture(scope="module")
def live_sandbox(tmp_path_factory):
    state = tmp_path_factory.mktemp("sandbox")

    def no_cumulative_package(box):
        box.backend.vm("rg-web", "web-04").patch.history.clear()  # DISM lists no cumulative package any more

    with running_sandbox(state, arrange=no_cumulative_package) as sandbox:
        yield sandbox, state


@pytest.fixture
def on_sandbox(live_sandbox, monkeypatch, tmp_path):
    sandbox, state = live_sandbox
    monkeypatch.setenv("HPCTL_CLOUD", "sandbox")
    monkeypatch.setenv("HPCTL_SANDBOX_DIR", str(state))
    monkeypatch.setenv("HPCTL_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    return sandbox


def writes(requests):
    return [r for r in requests if r["method"] != "GET" and not r["path"].lower().endswith("/runcommand")]


@pytest.mark.parametrize("args,needle", OPTION_ERRORS.values(), ids=OPTION_ERRORS.keys())
def test_option_errors_exit_2_and_send_nothing(args, needle, on_sandbox, hpctl):
    before = len(on_sandbox.requests())
    result = hpctl("--cloud", "sandbox", *args)
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: ") and needle in lines[0]
    assert on_sandbox.requests()[before:] == []


@pytest.mark.parametrize("vm,words", REFUSALS.items(), ids=REFUSALS.keys())
def test_each_refusal_exits_2_with_one_line_and_changes_nothing(vm, words, on_sandbox, hpctl):
    group = "rg-" + vm.split("-")[0]
    before = len(on_sandbox.requests())
    result = hpctl("--cloud", "sandbox", "rollback", "-g", group, "-n", vm, "--yes")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ERROR: {vm}: ") and words in lines[0]
    sent = on_sandbox.requests()[before:]
    run_commands = [r for r in sent if r["path"].lower().endswith("/runcommand")]
    assert len(run_commands) <= 1  # the read-only inventory, nothing else
    assert writes(sent) == []


def test_a_group_where_every_vm_is_refused(on_sandbox, hpctl):
    before = len(on_sandbox.requests())
    result = hpctl("--cloud", "sandbox", "rollback", "-g", "rg-web", "-n", "web-02", "-n", "web-06", "--yes")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "No VM can be rolled back" in lines[0]
    assert writes(on_sandbox.requests()[before:]) == []


def test_show_script_sends_nothing(on_sandbox, hpctl):
    before = len(on_sandbox.requests())
    result = hpctl("--cloud", "sandbox", "vm", "patches", "-g", "rg-web", "--show-script")
    assert result.exit_code == 0
    assert "Get-HotFix" in result.stdout and "dism.exe" in result.stdout
    assert "Remove-Package" not in result.stdout
    assert on_sandbox.requests()[before:] == []

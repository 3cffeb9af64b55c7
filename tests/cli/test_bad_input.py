"""Bad input to the patching commands: exit 2, one line saying what is wrong and how to fix it, nothing sent."""

from __future__ import annotations

import pytest

from tests.cli.conftest import running_sandbox

GOOD_INSTALL = ["install", "-g", "rg-web", "--classification", "Critical,Security", "--reboot-setting", "IfRequired"]

BAD = {
    "install without reboot setting": (["install", "-g", "rg-web", "--classification", "Security"], "--reboot-setting"),
    "install unknown reboot setting": ([*GOOD_INSTALL[:-1], "Sometimes"], "--reboot-setting"),
    "install unknown classification": (["install", "-g", "rg-web", "--classification", "Bogus",
                                        "--reboot-setting", "Never"], "--classification"),
    "install nothing selected": (["install", "-g", "rg-web", "--reboot-setting", "Never"], "--classification"),
    "install malformed kb": ([*GOOD_INSTALL, "--kb-include", "KBabc"], "--kb-include"),
    "install kb included and excluded": ([*GOOD_INSTALL, "--kb-include", "KB5031364", "--kb-exclude", "5031364"],
                                         "5031364"),
    "install duration not iso": ([*GOOD_INSTALL, "--max-duration", "2h"], "--max-duration"),
    "install duration too long": ([*GOOD_INSTALL, "--max-duration", "PT5H"], "--max-duration"),
    "install duration too short": ([*GOOD_INSTALL, "--max-duration", "PT5M"], "--max-duration"),
    "install bad publish date": ([*GOOD_INSTALL, "--max-publish-date", "yesterday"], "--max-publish-date"),
    "install unknown rollout": ([*GOOD_INSTALL, "--rollout", "zones"], "--rollout"),
    "install on a group without a tty or --yes": (GOOD_INSTALL, "use --yes"),
    "install journal is a directory": ([*GOOD_INSTALL, "--yes", "--state-file", "/tmp"], "--state-file"),
    "install journal under a file": ([*GOOD_INSTALL, "--yes", "--state-file", "/dev/null/run.journal"],
                                     "--state-file"),
    "install batch size without rollout": ([*GOOD_INSTALL, "--batch-size", "5"], "--rollout availability"),
    "install max parallel 0": ([*GOOD_INSTALL, "--max-parallel", "0"], "--max-parallel"),
    "install rollout with no-wait": ([*GOOD_INSTALL, "--rollout", "availability", "--no-wait"], "--no-wait"),
    "install rollout batch size 0": ([*GOOD_INSTALL, "--rollout", "availability", "--batch-size", "0"],
                                     "--batch-size"),
    "install resume without its state": ([*GOOD_INSTALL, "--rollout", "availability", "--resume",
                                          "--state-file", "/nonexistent/rollout.json"], "--resume"),
    "assess name without group": (["assess", "-n", "web-01"], "-g"),
    "assess ids with group": (["assess", "-g", "rg-web", "--ids",
                               "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
                               "Microsoft.Compute/virtualMachines/vm"], "--ids"),
    "assess malformed id": (["assess", "--ids", "/subscriptions/x/vm"], "--ids"),
    "assess bad tag": (["assess", "--tag", "=prod"], "--tag"),
    "assess empty subscription": (["assess", "-s", "", "-g", "rg-web"], "-s/--subscription"),
    "report subscription name in --subscriptions": (["report", "--subscriptions", "my-sub"], "--subscriptions"),
    "status bad output": (["status", "-g", "rg-web", "-o", "xml"], "--output"),
    "status bad query": (["status", "-g", "rg-web", "--query", "[?"], "JMESPath"),
    "status bad cloud": (["status", "-g", "rg-web", "--cloud", "Mars"], "--cloud"),
    "status bad group name": (["status", "-g", "rg/web"], "-g"),
    "status unknown kind": (["status", "--kind", "hybrid"], "--kind"),
    "report unknown kind": (["report", "--kind", "vms"], "--kind"),
    "history arc id with kind vm": (["history", "--kind", "vm", "--ids",
                                     "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
                                     "Microsoft.HybridCompute/machines/m"], "--kind"),
    "status arc license id": (["status", "--ids", "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
                               "rg/providers/Microsoft.HybridCompute/licenses/l"], "--ids"),
    "status wide and columns": (["status", "-g", "rg-web", "--wide", "--columns", "Name"], "--wide"),
    "status empty columns": (["status", "-g", "rg-web", "--columns", ","], "--columns"),
    "status query calls no such function": (["status", "-g", "rg-web", "--query", "lenght(@)"], "lenght()"),
    "report markdown with query": (["report", "-o", "markdown", "--query", "summary"], "--query"),
}


@pytest.fixture(scope="module")
def live_sandbox(tmp_path_factory):
    state = tmp_path_factory.mktemp("sandbox")
    with running_sandbox(state, fleet=8) as sandbox:
        yield sandbox, state


def _refused(sandbox, hpctl, monkeypatch, state, args, needle, max_lines=1):
    """Exit 2, nothing on stdout, the message (and at most a line on how to fix it), nothing sent."""
    monkeypatch.setenv("HPCTL_CLOUD", "sandbox")
    monkeypatch.setenv("HPCTL_SANDBOX_DIR", str(state))
    before = len(sandbox.requests())
    result = hpctl(*args)
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("ERROR: ") and needle in lines[0], result.stderr
    assert len(lines) <= max_lines
    assert len(sandbox.requests()) == before, "a rejected input must send nothing"


@pytest.mark.parametrize("args,needle", BAD.values(), ids=BAD.keys())
def test_bad_input_exits_2_and_sends_nothing(args, needle, live_sandbox, hpctl, monkeypatch):
    sandbox, state = live_sandbox
    _refused(sandbox, hpctl, monkeypatch, state, args, needle, max_lines=2)


def test_max_parallel_out_of_range_is_usage_error(hpctl):
    result = hpctl("assess", "-g", "rg-web", "--max-parallel", "10001")
    assert result.exit_code == 2
    assert "1-10000" in result.stderr


def test_no_sandbox_running_says_how_to_start_one(hpctl, tmp_path, monkeypatch):
    monkeypatch.setenv("HPCTL_SANDBOX_DIR", str(tmp_path / "none"))
    result = hpctl("--cloud", "sandbox", "status", "-g", "rg-web")
    assert result.exit_code == 2
    assert "hpctl sandbox serve" in result.stderr


def test_no_subscription_for_real_azure(hpctl, monkeypatch):
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    monkeypatch.delenv("HPCTL_CLOUD", raising=False)
    result = hpctl("status", "-g", "rg-web")
    assert result.exit_code == 2
    assert "AZURE_SUBSCRIPTION_ID" in result.stderr


@pytest.mark.parametrize("content", ["[]", '{"version": 1, "key": "abc", "completed": {}}', "not json at all"],
                         ids=["a list", "an old rollout state", "garbage"])
def test_resume_from_a_wrong_shape_journal_exits_2(live_sandbox, hpctl, monkeypatch, tmp_path, content):
    sandbox, state = live_sandbox
    journal = tmp_path / "run.journal"
    journal.write_text(content + "\n")
    _refused(sandbox, hpctl, monkeypatch, state, [*GOOD_INSTALL, "--yes", "--state-file", str(journal), "--resume"],
             "not an hpctl journal")


def test_a_journal_another_process_holds_exits_2(live_sandbox, hpctl, monkeypatch, tmp_path):
    import os

    from hpctl.fleet.journal import Journal

    sandbox, state = live_sandbox
    journal = tmp_path / "run.journal"
    holder = Journal(journal, {})
    holder._acquire()  # as a running hpctl would hold it
    try:
        _refused(sandbox, hpctl, monkeypatch, state, [*GOOD_INSTALL, "--yes", "--state-file", str(journal)],
                 f"in use by another hpctl process (pid {os.getpid()})")
    finally:
        holder.close()


def test_a_read_only_journal_directory_exits_2(live_sandbox, hpctl, monkeypatch, tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes into read-only directories")
    sandbox, state = live_sandbox
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        _refused(sandbox, hpctl, monkeypatch, state,
                 [*GOOD_INSTALL, "--yes", "--state-file", str(locked / "run.journal")], "Can't write the journal")
    finally:
        locked.chmod(0o700)

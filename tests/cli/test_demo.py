"""`hpctl demo` walks the whole flow on its own sandbox and exits 0 (the README's first command)."""

from __future__ import annotations

import subprocess
import sys

from hpctl.cli.sandbox import DEMO_STEPS, DemoStep, run_step, step_verdict


def test_demo_runs_every_step_as_expected(tmp_path):
    # A user's own defaults (a group, a subscription, an output format) must not change the walkthrough.
    (tmp_path / ".hpctl").mkdir()
    (tmp_path / ".hpctl" / "config").write_text("[defaults]\ngroup = rg-data\n")
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "AZURE_CORE_OUTPUT": "yaml",
           "AZURE_SUBSCRIPTION_ID": "11111111-1111-1111-1111-111111111111"}
    done = subprocess.run([sys.executable, "-m", "hpctl", "demo"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    for step in DEMO_STEPS:
        assert f"# {step.title}" in done.stderr
    assert done.stderr.count("as expected)") == len(DEMO_STEPS)
    # What a user should see: the near miss explained, patches found and installed, the track shown.
    assert "2022-datacenter-azure-edition-hotpatch" in done.stderr
    assert "Succeeded" in done.stdout
    assert "Installed" in done.stdout
    assert "hotpatch 2026-" in done.stdout
    # When the real day is past the calendar's data, the demo says so once, with the refresh command.
    from datetime import date

    from hpctl.core.calendar import builtin_calendar

    stale = builtin_calendar().staleness(date.today()) is not None
    assert done.stderr.count("hpctl calendar refresh") == (1 if stale else 0)
    # The schedule conflict refused for the right reason, then resolved by leaving the schedule.
    assert "api-02 is assigned to customer-managed schedule mc-api-saturday" in done.stderr
    assert "api-02  rg-api         Changed  schedule mc-api-saturday" in done.stdout
    assert "wu-download-and-schedule-install" in done.stdout
    # The mixed fleet: Arc machines in status, one enrolled, and counted by the report.
    assert "arc-std-01" in done.stdout and "Enabled" in done.stdout
    assert "Arc machines" in done.stderr
    # The demo cleans up after itself: no sandbox left registered in the user's state directory.
    assert not (tmp_path / ".hpctl" / "sandbox" / "endpoint.json").exists()


REFUSE = DemoStep("Refuse an image that can't hotpatch", "", 2, "is not hotpatch-eligible")


def test_a_usage_error_is_not_the_expected_exit_2():
    code, said = run_step(["images", "check", "--no-such-flag", "2022-datacenter-azure-edition"])
    assert code == 2
    assert step_verdict(REFUSE, code, said) == "exited 2 with a usage error ('No such option')"


def test_the_right_exit_code_with_the_wrong_message_is_caught():
    code, said = run_step(["images", "check", "2019-datacenter"])
    assert code == 2 and "2019" in said
    problem = step_verdict(DemoStep("x", "", 2, "Azure does not support Uniform"), code, said)
    assert problem and "did not say" in problem


def test_the_step_that_says_what_it_should_passes():
    code, said = run_step(["images", "check", "MicrosoftWindowsServer:WindowsServer:2022-datacenter-azure-edition"])
    assert step_verdict(REFUSE, code, said) is None

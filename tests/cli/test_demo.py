"""`hpctl demo` walks the whole flow on its own sandbox and exits 0 (the README's first command)."""

from __future__ import annotations

import subprocess
import sys

from hpctl.cli.sandbox import DEMO_STEPS


def test_demo_runs_every_step_as_expected(tmp_path):
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "hpctl", "demo"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    for title, _line, _expected in DEMO_STEPS:
        assert f"# {title}" in done.stderr
    assert done.stderr.count("as expected)") == len(DEMO_STEPS)
    # What a user should see: the near miss explained, patches found and installed, the track shown.
    assert "2022-datacenter-azure-edition-hotpatch" in done.stderr
    assert "NeverReboots" in done.stdout
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

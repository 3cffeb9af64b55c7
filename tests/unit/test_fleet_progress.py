"""Fleet progress without a terminal (CI logs): a summary line at most every 30 s, counts adding up across
the runs of several subscriptions."""

from __future__ import annotations

import hpctl.cli.progress as progress_module
from hpctl.fleet.engine import Progress


def test_ci_gets_a_summary_line_every_interval(monkeypatch, capsys):
    clock = [0.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    with progress_module.fleet_progress(10, "install") as update:
        first = Progress(total=6, done=2, failed=1, running=3)
        update(first)  # before 30 s: nothing
        clock[0] = 31.0
        first.done = 6
        update(first)
        second = Progress(total=4, done=1, failed=0, running=2)  # the next subscription's run
        update(second)  # within 30 s of the last line: nothing
        clock[0] = 62.0
        update(second)
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["install: 6/10 done, 1 failed, 3 running", "install: 7/10 done, 1 failed, 2 running"]


def test_one_vm_shows_no_progress(capsys):
    with progress_module.fleet_progress(1, "assess") as update:
        update(Progress(total=1, done=1))
    assert capsys.readouterr().err == ""

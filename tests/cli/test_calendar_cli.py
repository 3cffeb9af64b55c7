"""`hpctl calendar`: the months a user sees, the next reboot, a newer calendar file, and bad input."""

from __future__ import annotations

import json

import pytest


def rows(result):
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_year_lists_both_os_lines_with_kinds(hpctl):
    data = rows(hpctl("calendar", "--year", "2024"))
    by_key = {(r["os"], r["month"]): r for r in data}
    assert len(data) == 12 + 2  # WS2022 all year; WS2025's program starts in November 2024
    august = by_key[("2022", "2024-08")]
    assert (august["kind"], august["kb"], august["build"], august["reboot"]) == (
        "unplanned-baseline", "KB5041160", "20348.2655", True)
    assert by_key[("2025", "2024-11")]["kind"] == "hotpatch" and by_key[("2025", "2024-11")]["reboot"] is False
    assert [r["date"] for r in data] == sorted(r["date"] for r in data)


def test_one_month_one_os(hpctl):
    data = rows(hpctl("calendar", "--os", "2025", "--month", "2026-04"))
    assert data == [{"os": "2025", "month": "2026-04", "date": "2026-04-14", "kind": "baseline", "kb": "KB5082063",
                     "build": "26100.32690", "reboot": True, "known": True, "note": data[0]["note"]}]


def test_next_reboot_after_a_hotpatch_month(hpctl):
    data = rows(hpctl("calendar", "--next-reboot", "--os", "2025", "--as-of", "2026-05-20"))
    assert [(r["month"], r["kind"], r["date"], r["known"]) for r in data] == [
        ("2026-07", "baseline", "2026-07-14", False)]


def test_table_output(hpctl):
    result = hpctl("calendar", "--os", "2022", "--year", "2025", "-o", "table")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["OS", "Month", "Date", "Kind", "KB", "Build", "Reboot", "Known"]
    assert len(lines) == 2 + 12


def test_newer_calendar_file_is_used(hpctl, tmp_path, monkeypatch):
    from importlib import resources

    data = json.loads(resources.files("hpctl.core").joinpath("data", "calendar.json").read_text())
    path = tmp_path / "calendar.json"
    path.write_text(json.dumps(data))
    monkeypatch.setenv("HPCTL_CALENDAR_FILE", str(path))
    assert rows(hpctl("calendar", "--os", "2025", "--month", "2026-05"))[0]["kb"] == "KB5087423"


@pytest.mark.parametrize("args,needle", [
    (["--os", "2019"], "2019"),
    (["--month", "2026-13"], "2026-13"),
    (["--month", "May"], "YYYY-MM"),
    (["--next-reboot", "--month", "2026-05"], "--next-reboot"),
    (["--as-of", "soon", "--next-reboot"], "--as-of"),
    (["--calendar-file", "/nonexistent/calendar.json"], "calendar"),
])
def test_bad_calendar_input_exits_2(hpctl, args, needle):
    result = hpctl("calendar", *args)
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    assert result.stderr.startswith("ERROR: ") and needle in result.stderr.splitlines()[0]

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


# --------------------------------------------------------------------------- --picture


def _strip_row(text: str, os_name: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(os_name))
    return line[len(os_name):].split()


def test_picture_draws_each_os_line_as_a_strip_of_months(hpctl):
    result = hpctl("calendar", "--picture", "--year", "2024")
    assert result.exit_code == 0, result.stderr
    assert "Hotpatch schedule 2024" in result.stdout
    # WS2022: quarterly planned baselines, the August unplanned baseline that replaced a hotpatch month.
    assert _strip_row(result.stdout, "Windows Server 2022") == ["B", "H", "H", "B", "H", "H", "B", "U", "H", "B",
                                                                "H", "H"]
    # WS2025's program starts in November 2024.
    assert _strip_row(result.stdout, "Windows Server 2025") == ["-"] * 10 + ["H", "H"]
    assert "planned baseline" in result.stdout and "predicted" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 120


def test_picture_marks_predicted_months(hpctl):
    data = rows(hpctl("calendar", "--year", "2027", "--os", "2025"))
    drawn = _strip_row(hpctl("calendar", "--picture", "--year", "2027", "--os", "2025").stdout, "Windows Server 2025")
    assert drawn == [("B" if r["kind"] == "baseline" else "H") + ("" if r["known"] else "?") for r in data]
    assert any(cell.endswith("?") for cell in drawn)


def test_svg_output_is_a_picture_of_the_year(hpctl):
    import xml.etree.ElementTree as ET

    result = hpctl("calendar", "--year", "2024", "-o", "svg")
    assert result.exit_code == 0, result.stderr
    root = ET.fromstring(result.stdout)
    ns = "{http://www.w3.org/2000/svg}"
    titles = [t.text for t in root.iter(f"{ns}title")]
    assert titles[0] == "Hotpatch schedule 2024"
    assert "2024-08 unplanned baseline KB5041160 (20348.2655)" in titles
    boxes = [g for g in root.iter(f"{ns}g")]
    assert len(boxes) == 12 + 2  # a box per month in the program; the 10 months before WS2025's are blank
    unplanned = next(g for g in boxes if "unplanned" in g.find(f"{ns}title").text)
    assert unplanned.find(f"{ns}rect").get("fill") == "#c0392b"
    future = ET.fromstring(hpctl("calendar", "--year", "2027", "--os", "2025", "-o", "svg").stdout)
    dashed = [r for r in future.iter(f"{ns}rect") if r.get("stroke-dasharray")]
    assert len(dashed) >= 2  # predicted months (and the legend's sample) are drawn dashed


def test_svg_file_is_written_beside_the_terminal_picture(hpctl, tmp_path):
    target = tmp_path / "hotpatch-2024.svg"
    result = hpctl("calendar", "--picture", "--year", "2024", "--svg-file", str(target))
    assert result.exit_code == 0, result.stderr
    assert "Hotpatch schedule 2024" in result.stdout and str(target) in result.stderr
    assert target.read_text().startswith("<svg ")


@pytest.mark.parametrize("args,needle", [
    (["--picture", "--month", "2026-01"], "--month"),
    (["--picture", "--next-reboot"], "--next-reboot"),
    (["--picture", "--year", "1999"], "1999"),
])
def test_bad_picture_options_exit_2_one_line(hpctl, args, needle):
    result = hpctl("calendar", *args)
    assert result.exit_code == 2 and result.stdout == ""
    first = result.stderr.strip().splitlines()[0]
    assert first.startswith("ERROR: ") and needle in first


def test_output_none_writes_only_the_svg_file(hpctl, tmp_path):
    target = tmp_path / "cal.svg"
    result = hpctl("calendar", "--picture", "--year", "2026", "--svg-file", str(target), "-o", "none")
    assert result.exit_code == 0 and result.stdout == ""
    assert "Hotpatch schedule 2026" in target.read_text()


def test_svg_file_in_a_missing_folder_exits_2(hpctl, tmp_path):
    result = hpctl("calendar", "--picture", "--svg-file", str(tmp_path / "nope" / "cal.svg"))
    assert result.exit_code == 2 and "--svg-file" in result.stderr


def test_svg_is_refused_where_there_is_no_picture(hpctl, tmp_path):
    (tmp_path / "t.json").write_text('{"resources": []}')
    result = hpctl("template", "lint", str(tmp_path / "t.json"), "-o", "svg")
    assert result.exit_code == 2 and result.stdout == ""
    assert "calendar --picture" in result.stderr.splitlines()[0]

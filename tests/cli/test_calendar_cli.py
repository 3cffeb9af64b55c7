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
                     "build": "26100.32690", "reboot": True, "known": True, "note": data[0]["note"],
                     "source": None}]


def test_next_reboot_after_a_hotpatch_month(hpctl):
    data = rows(hpctl("calendar", "--next-reboot", "--os", "2025", "--as-of", "2026-05-20"))
    assert [(r["month"], r["kind"], r["date"], r["known"]) for r in data] == [
        ("2026-06", "unplanned-baseline", "2026-06-09", True)]


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


# --- staleness and `calendar refresh --from` (saved documents) ------------------------------------------


def test_calendar_warns_once_when_the_day_is_past_its_data(hpctl):
    stale = hpctl("calendar", "--os", "2022", "--month", "2026-11", "--as-of", "2026-12-05")
    assert stale.exit_code == 0
    assert stale.stderr.count("\n") == 1 and stale.stderr.startswith("WARNING: ")
    assert "ends at 2026-09" in stale.stderr and "(2026-10..2026-11)" in stale.stderr
    assert "hpctl calendar refresh" in stale.stderr
    assert json.loads(stale.stdout)[0]["known"] is False
    current = hpctl("calendar", "--os", "2022", "--month", "2026-09", "--as-of", "2026-10-12")
    assert current.exit_code == 0 and current.stderr == ""


def test_builtin_months_after_2026_05_name_their_source(hpctl):
    data = rows(hpctl("calendar", "--year", "2026", "--as-of", "2026-10-01"))
    by_key = {(r["os"], r["month"]): r for r in data}
    june = by_key[("2025", "2026-06")]
    assert (june["kind"], june["kb"], june["build"]) == ("unplanned-baseline", "KB5094125", "26100.32995")
    assert "CVRF 2026-Jun" in june["source"]
    assert by_key[("2022", "2026-08")]["kb"] == "KB5120229" and "[SECONDARY]" in by_key[("2022", "2026-08")]["source"]
    assert by_key[("2022", "2026-09")]["kind"] == "unplanned-baseline"


def test_refresh_from_saved_documents_writes_the_calendar_file(hpctl, shared, tmp_path):
    target = tmp_path / "cal.json"
    june = str(shared / "msrc-samples" / "msrc-cvrf-2026-Jun-excerpt.xml")
    may = str(shared / "msrc-samples" / "msrc-cvrf-2026-May-excerpt.xml")
    result = hpctl("calendar", "refresh", "--from", june, "--from", may, "--calendar-file", str(target))
    assert result.exit_code == 0, result.stderr
    # Both months are known already and agree with MSRC: nothing changes, but the file is written.
    assert json.loads(result.stdout) == []
    assert "Read 2026-May, 2026-Jun: 0 month(s) changed" in result.stderr
    assert json.loads(target.read_text())["os"]["2025"]["months"][-1]["month"] == "2026-09"
    listed = rows(hpctl("calendar", "--calendar-file", str(target), "--os", "2025", "--month", "2026-05"))
    assert listed[0]["kb"] == "KB5087423"


def test_refresh_never_replaces_a_known_month_with_less(hpctl, shared, tmp_path):
    # A 2024-05 document without hotpatch entries (as MSRC's are before 2025-11) says nothing about 2024-05.
    text = (shared / "msrc-samples" / "msrc-cvrf-2026-Jun-excerpt.xml").read_text()
    text = (text.replace("June 2026", "July 2024").replace("2026-Jun", "2024-Jul")
            .replace("2026-06-09T07:00:00", "2024-07-09T07:00:00")
            .replace("20348.5256", "20348.2590").replace("26100.32995", "26100.1"))
    saved = tmp_path / "2024-Jul.xml"
    saved.write_text(text)
    target = tmp_path / "cal.json"
    result = hpctl("calendar", "refresh", "--from", str(saved), "--calendar-file", str(target))
    assert result.exit_code == 0, result.stderr
    kept = json.loads(result.stdout)
    assert [(c["os"], c["month"], c["change"], c["kb"]) for c in kept] == [("2022", "2024-07", "kept", "KB5040437")]
    assert "KB5094128" in kept[0]["reason"]
    month = rows(hpctl("calendar", "--calendar-file", str(target), "--os", "2022", "--month", "2024-07"))[0]
    assert (month["kb"], month["build"]) == ("KB5040437", "20348.2582")


@pytest.mark.parametrize(("content", "needle"), [
    (None, "no such file"),
    ("<html>Service Unavailable</html>", "not a CVRF document"),
    ('{"value": []}', "not a CVRF document"),
])
def test_refresh_from_bad_files_exits_2_and_keeps_the_file(hpctl, tmp_path, content, needle):
    target = tmp_path / "cal.json"
    target.write_text("{}")
    saved = tmp_path / "doc.xml"
    if content is not None:
        saved.write_text(content)
    result = hpctl("calendar", "refresh", "--from", str(saved), "--calendar-file", str(target))
    assert result.exit_code == 2
    assert result.stdout == "" and needle in result.stderr.splitlines()[0]
    assert target.read_text() == "{}"


@pytest.mark.parametrize(("args", "needle"), [
    (["--endpoint", "ftp://example.com/cvrf"], "--endpoint"),
    (["--endpoint", "not a url"], "--endpoint"),
    (["--since", "2026/10"], "--since"),
    (["--from", "x.xml", "--since", "2026-10"], "--from"),
])
def test_refresh_bad_options_exit_2_before_any_request(hpctl, args, needle):
    result = hpctl("calendar", "refresh", *args)
    assert result.exit_code == 2
    assert result.stdout == "" and needle in result.stderr.splitlines()[0]


def test_refresh_fills_a_known_month_that_lacks_its_build(hpctl, shared, tmp_path):
    # hotpatch-program.md §9.2: the 2022-Feb document lists hotpatch KB5010456 with FixedBuild 20348.525; the
    # built-in calendar knows that KB from a release-note fragment, without a build.
    text = (shared / "msrc-samples" / "msrc-cvrf-2026-May-excerpt.xml").read_text()
    text = (text.replace("May 2026", "February 2022").replace("2026-May", "2022-Feb")
            .replace("2026-05-12T07:00:00", "2022-02-08T07:00:00")
            .replace("5087424", "5010456").replace("20348.5074", "20348.525")
            .replace("5087545", "5010354").replace("20348.5139", "20348.524"))
    text = text.replace("20348.524<", "20348.587<")  # the month's LCU above the hotpatch
    saved = tmp_path / "2022-Feb.xml"
    saved.write_text(text)
    target = tmp_path / "cal.json"
    result = hpctl("calendar", "refresh", "--from", str(saved), "--calendar-file", str(target), "-o", "table")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[2].split()[:6] == ["2022", "2022-02", "updated", "hotpatch", "KB5010456",
                                                         "20348.525"]
    february = rows(hpctl("calendar", "--calendar-file", str(target), "--os", "2022", "--month", "2022-02"))[0]
    assert (february["kb"], february["build"]) == ("KB5010456", "20348.525")
    assert february["source"].startswith("MSRC CVRF 2022-Feb")

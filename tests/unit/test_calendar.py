"""Tests for hpctl.core.calendar against the tables of shared/reference/hotpatch-program.md §2."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from hpctl.core.calendar import (
    CALENDAR_ENV,
    Calendar,
    Release,
    load_calendar,
    normalize_os,
    parse_month,
    patch_tuesday,
)
from hpctl.errors import EXIT_INPUT_REJECTED, InputError

# Copied by hand from hotpatch-program.md §2.2 (WS2025) and §2.3 (WS2022 table and its notes), and §9.1 for
# 2026-06..2026-09, so a wrong row in calendar.json fails here. Columns: month, kind, date, build, KB.
WS2025_TABLE = """
2024-11 hotpatch 2024-11-12 26100.2240 KB5046696
2024-12 hotpatch 2024-12-10 26100.2528 KB5048794
2025-01 baseline 2025-01-14 26100.2894 KB5050009
2025-02 hotpatch 2025-02-11 26100.3107 KB5052105
2025-03 hotpatch 2025-03-11 26100.3403 KB5053636
2025-04 baseline 2025-04-08 26100.3775 KB5055523
2025-05 hotpatch 2025-05-13 26100.3981 KB5058497
2025-06 hotpatch 2025-06-10 26100.4270 KB5060841
2025-07 baseline 2025-07-08 26100.4652 KB5062553
2025-08 hotpatch 2025-08-12 26100.4851 KB5064010
2025-09 hotpatch 2025-09-09 26100.6508 KB5065474
2025-10 baseline 2025-10-14 26100.6899 KB5066835
2025-11 hotpatch 2025-11-11 26100.7092 KB5068966
2025-12 hotpatch 2025-12-09 26100.7392 KB5072014
2026-01 baseline 2026-01-13 26100.32230 KB5073379
2026-02 hotpatch 2026-02-10 26100.32313 KB5075942
2026-03 hotpatch 2026-03-10 26100.32463 KB5078736
2026-04 baseline 2026-04-14 26100.32690 KB5082063
2026-05 hotpatch 2026-05-12 26100.32772 KB5087423
2026-06 unplanned-baseline 2026-06-09 26100.32995 KB5094125
2026-07 baseline 2026-07-14 26100.33158 KB5099536
2026-08 hotpatch 2026-08-11 26100.33222 KB5120228
2026-09 unplanned-baseline 2026-09-08 26100.33438 KB5122871
"""

WS2022_TABLE = """
2022-02 hotpatch 2022-02-08 - KB5010456
2022-03 hotpatch 2022-03-08 - KB5011580
2023-10 baseline 2023-10-10 20348.2031 KB5031364
2023-11 hotpatch 2023-11-14 20348.2091 KB5032304
2024-01 baseline 2024-01-09 20348.2227 KB5034129
2024-02 hotpatch 2024-02-13 20348.2277 KB5034860
2024-03 hotpatch 2024-03-12 20348.2333 KB5035959
2024-04 baseline 2024-04-09 20348.2402 KB5036909
2024-05 hotpatch 2024-05-14 20348.2458 KB5037848
2024-06 hotpatch 2024-06-11 20348.2522 KB5039330
2024-07 baseline 2024-07-09 20348.2582 KB5040437
2024-08 unplanned-baseline 2024-08-13 20348.2655 KB5041160
2024-09 hotpatch 2024-09-10 20348.2695 KB5042880
2024-10 baseline 2024-10-08 20348.2762 KB5044281
2024-11 hotpatch 2024-11-12 20348.2819 KB5046698
2024-12 hotpatch 2024-12-10 20348.2908 KB5048800
2025-01 baseline 2025-01-14 20348.3091 KB5049983
2025-02 hotpatch 2025-02-11 20348.3148 KB5052106
2025-03 hotpatch 2025-03-11 20348.3270 KB5053638
2025-04 baseline 2025-04-08 20348.3453 KB5055526
2025-05 hotpatch 2025-05-13 20348.3630 KB5058500
2025-06 hotpatch 2025-06-10 20348.3745 KB5060525
2025-07 baseline 2025-07-08 20348.3932 KB5062572
2025-08 hotpatch 2025-08-12 20348.3989 KB5063812
2025-09 hotpatch 2025-09-09 20348.4106 KB5065306
2025-10 baseline 2025-10-14 20348.4294 KB5066782
2025-11 hotpatch 2025-11-11 20348.4346 KB5068840
2025-12 hotpatch 2025-12-09 20348.4467 KB5071413
2026-01 baseline 2026-01-13 20348.4648 KB5073457
2026-02 hotpatch 2026-02-10 20348.4711 KB5075943
2026-03 hotpatch 2026-03-10 20348.4830 KB5078737
2026-04 baseline 2026-04-14 20348.5020 KB5082142
2026-05 hotpatch 2026-05-12 20348.5074 KB5087424
2026-06 unplanned-baseline 2026-06-09 20348.5256 KB5094128
2026-07 baseline 2026-07-14 20348.5386 KB5099540
2026-08 hotpatch 2026-08-11 20348.5440 KB5120229
2026-09 unplanned-baseline 2026-09-08 20348.5622 KB5122882
"""

# WS2025 out-of-band LCUs (§2.2 observations): KB, date, build where stated.
WS2025_OUT_OF_BAND = [
    ("KB5059087", "2025-04-16", None),
    ("KB5061977", "2025-05-27", None),
    ("KB5064489", "2025-07-13", None),
    ("KB5068221", "2025-09-22", None),
    ("KB5070773", "2025-10-20", None),
    ("KB5070881", "2025-10-23", "26100.6905"),
    ("KB5070893", "2025-10-24", None),
    ("KB5072359", "2025-11-18", None),
    ("KB5077793", "2026-01-17", None),
    ("KB5078135", "2026-01-24", None),
    ("KB5091157", "2026-04-19", None),
    ("KB5091470", "2026-04-19", None),  # §9.1: the hotpatch-track variant of KB5091157
    ("KB5129235", "2026-09-14", "26100.33451"),  # §9.1
]


def _rows(os_line: str, table: str) -> list[tuple[str, str, str, str, str | None, str]]:
    rows = []
    for line in table.strip().splitlines():
        month, kind, day, build, kb = line.split()
        rows.append((os_line, month, kind, day, None if build == "-" else build, kb))
    return rows


REFERENCE = _rows("2025", WS2025_TABLE) + _rows("2022", WS2022_TABLE)


@pytest.fixture(scope="module")
def cal() -> Calendar:
    return load_calendar()


@pytest.fixture(autouse=True)
def _no_user_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own HPCTL_CALENDAR_FILE must not change what these tests see.
    monkeypatch.delenv(CALENDAR_ENV, raising=False)


# --- every month of the reference tables -------------------------------------------------------------


@pytest.mark.parametrize(("os_line", "month", "kind", "day", "build", "kb"), REFERENCE, ids=lambda v: str(v))
def test_known_month_matches_reference(
    cal: Calendar, os_line: str, month: str, kind: str, day: str, build: str | None, kb: str
) -> None:
    release = cal.month(os_line, month)
    assert release.os == os_line
    assert release.month == month
    assert release.date == date.fromisoformat(day)
    assert release.kind == kind
    assert release.kb == kb
    assert release.build == build
    assert release.reboot is (kind != "hotpatch")
    assert release.known is True
    year, number = int(month[:4]), int(month[5:])
    assert cal.release(os_line, year, number) == release


@pytest.mark.parametrize("os_line", ["2022", "2025"])
def test_known_releases_are_exactly_the_reference_rows(cal: Calendar, os_line: str) -> None:
    expected = [row[1] for row in REFERENCE if row[0] == os_line]
    assert [r.month for r in cal.releases(os_line)] == expected


def test_reference_counts() -> None:
    # Guards the hand-copied tables themselves: 19 WS2025 months, 29 WS2022 table rows + 4 fragments, and
    # 4 months of §9.1 each.
    assert sum(1 for r in REFERENCE if r[0] == "2025") == 23
    assert sum(1 for r in REFERENCE if r[0] == "2022") == 37


def test_unplanned_baseline_august_2024(cal: Calendar) -> None:
    release = cal.month("2022", "2024-08")
    assert (release.kind, release.reboot, release.kb, release.build) == (
        "unplanned-baseline",
        True,
        "KB5041160",
        "20348.2655",
    )
    # The same month is a hotpatch month on WS2025? No: WS2025's program starts 2024-11.
    with pytest.raises(InputError, match="before 2024-11"):
        cal.month("2025", "2024-08")


def test_no_unplanned_baselines_for_ws2025_before_june_2026(cal: Calendar) -> None:
    unplanned = [r.month for r in cal.releases("2025") if r.kind == "unplanned-baseline"]
    assert unplanned == ["2026-06", "2026-09"]
    assert all(r.source for r in cal.releases("2025") if r.month >= "2026-06")


def test_out_of_band_ws2025(cal: Calendar) -> None:
    got = [(u.kb, u.date.isoformat(), u.build) for u in cal.out_of_band("2025")]
    assert got == WS2025_OUT_OF_BAND
    by_kb = {u.kb: u for u in cal.out_of_band("2025")}
    assert by_kb["KB5070881"].keeps_track is False
    assert by_kb["KB5070881"].ubr == 6905
    # KB5070893 was the update meant for hotpatch machines instead of KB5070881.
    assert by_kb["KB5070893"].keeps_track is True
    assert by_kb["KB5091470"].keeps_track is True
    assert [(u.kb, u.keeps_track) for u in cal.out_of_band("2022")] == [
        ("KB5078238", True), ("KB5091575", False), ("KB5091576", True), ("KB5129237", False)]


def test_hotpatch_month_lcu_ws2025(cal: Calendar) -> None:
    lcus = {u.month: u for u in cal.lcus("2025")}
    assert sorted(lcus) == ["2025-11", "2025-12", "2026-02", "2026-03", "2026-05", "2026-08"]
    lcu = lcus["2026-02"]
    assert (lcu.kb, lcu.month, lcu.build) == ("KB5075899", "2026-02", "26100.32370")
    for month, lcu in lcus.items():
        assert lcu.ubr > cal.month("2025", month).ubr  # the LCU is above the hotpatch build
    assert {u.month: u.kb for u in cal.lcus("2022")}["2026-08"] == "KB5120242"


def test_ws2025_initial_ga_build(cal: Calendar) -> None:
    initial = cal.line("2025").initial
    assert initial is not None
    assert (initial.build, initial.date) == ("26100.1742", date(2024, 11, 1))
    assert cal.line("2022").initial is None


def test_line_metadata(cal: Calendar) -> None:
    assert cal.line("2025").build_prefix == "26100"
    assert cal.line("2022").build_prefix == "20348"
    assert cal.line("2025").first_month == "2024-11"
    assert cal.line("2022").first_month == "2022-02"
    assert cal.line("2022").last_month == "2027-10"
    assert cal.line("2025").last_month is None
    assert cal.schema_version == 1
    assert cal.as_of == date(2026, 10, 6)
    assert cal.origin == "built-in"


# --- the rule for months the data does not list ------------------------------------------------------


# Second Tuesdays worked out by hand from the weekday of the 1st (e.g. 2026-07-01 is a Wednesday).
@pytest.mark.parametrize(
    ("os_line", "month", "kind", "day"),
    [
        ("2025", "2026-10", "baseline", "2026-10-13"),
        ("2025", "2026-11", "hotpatch", "2026-11-10"),
        ("2025", "2026-12", "hotpatch", "2026-12-08"),
        ("2025", "2027-01", "baseline", "2027-01-12"),
        ("2025", "2029-11", "hotpatch", "2029-11-13"),
        ("2022", "2026-11", "hotpatch", "2026-11-10"),
        ("2022", "2027-10", "baseline", "2027-10-12"),
        # Gaps inside the WS2022 range (2022-2023 history is not known) follow the rule too.
        ("2022", "2022-04", "baseline", "2022-04-12"),
        ("2022", "2023-12", "hotpatch", "2023-12-12"),
    ],
)
def test_predicted_months_follow_the_rule(
    cal: Calendar, os_line: str, month: str, kind: str, day: str
) -> None:
    release = cal.month(os_line, month)
    assert release.kind == kind
    assert release.date == date.fromisoformat(day)
    assert release.reboot is (kind == "baseline")
    assert release.known is False
    assert release.kb is None
    assert release.build is None
    assert release.ubr is None


def test_year_lists_known_and_predicted(cal: Calendar) -> None:
    year = cal.year("2025", 2026)
    assert [r.month for r in year] == [f"2026-{m:02d}" for m in range(1, 13)]
    assert [r.known for r in year] == [True] * 9 + [False] * 3
    assert [r.kind for r in year] == ["baseline", "hotpatch", "hotpatch", "baseline", "hotpatch",
                                      "unplanned-baseline", "baseline", "hotpatch", "unplanned-baseline",
                                      "baseline", "hotpatch", "hotpatch"]


def test_year_is_clipped_to_the_program(cal: Calendar) -> None:
    assert [r.month for r in cal.year("2025", 2024)] == ["2024-11", "2024-12"]
    assert [r.month for r in cal.year("2022", 2027)][-1] == "2027-10"
    assert len(cal.year("2022", 2027)) == 10
    with pytest.raises(InputError, match="no hotpatch program for WS2025 before 2024-11"):
        cal.year("2025", 2023)
    with pytest.raises(InputError, match="hotpatch for WS2022 ends with 2027-10"):
        cal.year("2022", 2028)


def test_year_2024_ws2022_has_the_unplanned_baseline(cal: Calendar) -> None:
    kinds = [r.kind for r in cal.year("2022", 2024)]
    assert kinds[7] == "unplanned-baseline"
    assert kinds.count("hotpatch") == 7
    assert sum(r.reboot for r in cal.year("2022", 2024)) == 5


def test_before_program_start_is_rejected(cal: Calendar) -> None:
    with pytest.raises(InputError) as info:
        cal.release("2025", 2024, 10)
    assert info.value.message == "no hotpatch program for WS2025 before 2024-11 (asked for 2024-10)"
    assert info.value.exit_code == EXIT_INPUT_REJECTED
    with pytest.raises(InputError, match="no hotpatch program for WS2022 before 2022-02"):
        cal.month("2022", "2022-01")


def test_after_program_end_is_rejected(cal: Calendar) -> None:
    with pytest.raises(InputError) as info:
        cal.month("2022", "2027-11")
    assert "ends with 2027-10" in info.value.message
    assert CALENDAR_ENV in (info.value.hint or "")
    # WS2025 has no documented end: far-future months follow the rule.
    assert cal.month("2025", "2031-04").kind == "baseline"


# --- patch_tuesday -----------------------------------------------------------------------------------


PATCH_TUESDAYS = sorted({(row[1], row[3]) for row in REFERENCE}) + [
    # Lifecycle dates from REL-INFO (§2.3 notes), which Microsoft puts on Patch Tuesdays.
    ("2026-10", "2026-10-13"),  # WS2022 mainstream end
    ("2029-11", "2029-11-13"),  # WS2025 mainstream end
    ("2031-10", "2031-10-14"),  # WS2022 extended end
    ("2034-11", "2034-11-14"),  # WS2025 extended end
    # Months whose 1st is a Tuesday (the second Tuesday is the 8th) and a Wednesday (the 14th).
    ("2026-09", "2026-09-08"),
    ("2026-07", "2026-07-14"),
]


@pytest.mark.parametrize(("month", "day"), PATCH_TUESDAYS)
def test_patch_tuesday(month: str, day: str) -> None:
    assert patch_tuesday(int(month[:4]), int(month[5:])) == date.fromisoformat(day)


def test_patch_tuesday_is_a_tuesday_between_8_and_14() -> None:
    for year in (2024, 2025, 2026, 2027, 2028):
        for month in range(1, 13):
            day = patch_tuesday(year, month)
            assert day.isoweekday() == 2
            assert 8 <= day.day <= 14


@pytest.mark.parametrize(
    ("year", "month"), [(2026, 0), (2026, 13), (1999, 5), (2101, 1), (True, 1), (2026, "7")]
)
def test_patch_tuesday_rejects_bad_input(year: Any, month: Any) -> None:
    with pytest.raises(InputError):
        patch_tuesday(year, month)


# --- next_reboot / latest_release / latest_baseline --------------------------------------------------


@pytest.mark.parametrize(
    ("os_line", "after", "month", "known"),
    [
        ("2025", "2025-10-15", "2026-01", True),  # across a year end, from a baseline day + 1
        ("2025", "2025-12-31", "2026-01", True),
        ("2025", "2026-01-13", "2026-01", True),  # on the baseline day itself
        ("2025", "2026-01-14", "2026-04", True),
        ("2025", "2026-05-20", "2026-06", True),  # the unplanned June 2026 baseline (§9.1)
        ("2025", "2026-09-20", "2026-10", False),  # past the data: the rule
        ("2025", "2026-10-14", "2027-01", False),  # across a year end, predicted
        ("2025", "2024-06-01", "2025-01", True),  # before the program: the first baseline
        ("2022", "2024-07-10", "2024-08", True),  # the unplanned baseline counts
        ("2022", "2024-08-14", "2024-10", True),
        ("2022", "2024-12-11", "2025-01", True),
        ("2022", "2027-10-12", "2027-10", False),  # the last WS2022 baseline
    ],
)
def test_next_reboot(cal: Calendar, os_line: str, after: str, month: str, known: bool) -> None:
    release = cal.next_reboot(os_line, date.fromisoformat(after))
    assert release.month == month
    assert release.reboot is True
    assert release.known is known
    assert release.date >= date.fromisoformat(after)


def test_next_reboot_after_program_end(cal: Calendar) -> None:
    with pytest.raises(InputError, match="no WS2022 baseline on or after 2027-10-13"):
        cal.next_reboot("2022", date(2027, 10, 13))


def test_next_reboot_accepts_datetime_and_iso_string(cal: Calendar) -> None:
    assert cal.next_reboot("2025", datetime(2025, 10, 15, 23, 59)).month == "2026-01"
    assert cal.next_reboot("2025", "2025-10-15").month == "2026-01"  # type: ignore[arg-type]
    with pytest.raises(InputError, match="expected a date"):
        cal.next_reboot("2025", "next week")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("os_line", "on", "month"),
    [
        ("2025", "2026-02-09", "2026-01"),  # the day before Patch Tuesday
        ("2025", "2026-02-10", "2026-02"),  # Patch Tuesday itself
        ("2025", "2026-01-01", "2025-12"),  # across a year end
        ("2025", "2024-11-12", "2024-11"),
        ("2025", "2026-06-30", "2026-06"),  # predicted
        ("2022", "2024-08-31", "2024-08"),
        ("2022", "2030-01-01", "2027-10"),  # after the program's end: its last release
    ],
)
def test_latest_release(cal: Calendar, os_line: str, on: str, month: str) -> None:
    assert cal.latest_release(os_line, date.fromisoformat(on)).month == month


def test_latest_release_before_the_program(cal: Calendar) -> None:
    with pytest.raises(InputError, match="no WS2025 hotpatch release on or before 2024-11-11"):
        cal.latest_release("2025", date(2024, 11, 11))


@pytest.mark.parametrize(
    ("os_line", "on", "month"),
    [
        ("2025", "2026-03-20", "2026-01"),
        ("2025", "2026-04-14", "2026-04"),
        ("2022", "2024-09-20", "2024-08"),
        ("2025", "2026-08-01", "2026-07"),
    ],
)
def test_latest_baseline(cal: Calendar, os_line: str, on: str, month: str) -> None:
    assert cal.latest_baseline(os_line, date.fromisoformat(on)).month == month


def test_latest_baseline_before_any(cal: Calendar) -> None:
    with pytest.raises(InputError, match="no WS2025 hotpatch baseline on or before 2024-12-31"):
        cal.latest_baseline("2025", date(2024, 12, 31))


def test_releases_between(cal: Calendar) -> None:
    got = cal.releases_between("2025", date(2025, 10, 14), date(2026, 2, 20))
    assert [r.month for r in got] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert cal.releases_between("2025", date(2026, 2, 20), date(2026, 1, 1)) == []


# --- input validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("ws2025", "Did you mean 2025?"),
        ("2022-datacenter-azure-edition-core", "Did you mean 2022?"),
        ("10.0.26100", "Did you mean 2025?"),
        ("2019", "Use 2022"),
        ("", "Use 2022"),
        (None, "Use 2022"),
        (True, "Use 2022"),
    ],
)
def test_bad_os_is_rejected(cal: Calendar, value: Any, hint: str) -> None:
    with pytest.raises(InputError) as info:
        cal.month(value, "2026-01")
    assert info.value.message.startswith(f"unknown OS line {value!r}: use 2022")
    assert hint in (info.value.hint or "")
    assert info.value.exit_code == EXIT_INPUT_REJECTED


def test_os_is_normalised() -> None:
    assert normalize_os(" 2025 ") == "2025"
    assert normalize_os(2022) == "2022"


@pytest.mark.parametrize(
    "value", ["2025-1", "2025/01", "25-01", "2025-13", "2025-00", "", "January", None, 202601]
)
def test_bad_month_is_rejected(cal: Calendar, value: Any) -> None:
    with pytest.raises(InputError):
        cal.month("2025", value)


def test_bad_month_message(cal: Calendar) -> None:
    with pytest.raises(InputError, match=r"month must be YYYY-MM, e.g. 2026-07 \(got '2025-1'\)"):
        cal.month("2025", "2025-1")
    with pytest.raises(InputError, match="month must be a number from 1 to 12"):
        parse_month("2025-13")


@pytest.mark.parametrize(
    ("year", "message"), [(1999, "out of range"), (20260, "out of range"), ("2026", "whole")]
)
def test_bad_year_is_rejected(cal: Calendar, year: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        cal.year("2025", year)
    with pytest.raises(InputError, match=message):
        cal.release("2025", year, 1)


@pytest.mark.parametrize("month", [0, 13, -1, "1"])
def test_bad_month_number_is_rejected(cal: Calendar, month: Any) -> None:
    with pytest.raises(InputError, match="month must be a number from 1 to 12"):
        cal.release("2025", 2026, month)


def test_release_is_frozen_and_serialisable(cal: Calendar) -> None:
    release = cal.month("2025", "2026-01")
    with pytest.raises(dataclasses.FrozenInstanceError):
        release.kb = "KB1"  # type: ignore[misc]
    assert json.loads(json.dumps(release.as_dict()))["date"] == "2026-01-13"
    assert release.describe() == "2026-01 baseline KB5073379 (26100.32230)"
    assert cal.month("2025", "2026-10").describe() == "2026-10 baseline (predicted)"
    assert isinstance(release, Release)


# --- user calendar files -----------------------------------------------------------------------------


def _minimal_doc() -> dict[str, Any]:
    """A small valid calendar written for these tests (KB numbers and builds are made up)."""

    def line(prefix: str) -> dict[str, Any]:
        return {
            "name": f"test line {prefix}",
            "build_prefix": prefix,
            "months": [
                {"month": "2025-01", "kind": "baseline", "date": "2025-01-14", "kb": "KB1000001",
                 "build": f"{prefix}.100"},
                {"month": "2025-02", "kind": "hotpatch", "date": "2025-02-11", "kb": "KB1000002",
                 "build": f"{prefix}.200"},
                {"month": "2025-03", "kind": "unplanned-baseline", "date": "2025-03-11", "kb": "KB1000003",
                 "build": f"{prefix}.300"},
            ],
            "out_of_band": [{"kb": "KB1000009", "date": "2025-02-20", "build": f"{prefix}.250"}],
            "lcus": [{"month": "2025-02", "kb": "KB1000008", "date": "2025-02-11", "build": f"{prefix}.210"}],
        }

    return {"schema_version": 1, "as_of": "2025-03-20", "os": {"2022": line("20348"), "2025": line("26100")}}


def _write(tmp_path: Path, doc: Any, name: str = "calendar.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def test_user_calendar_via_path(tmp_path: Path) -> None:
    cal = load_calendar(_write(tmp_path, _minimal_doc()))
    march = cal.month("2025", "2025-03")
    got = (march.kind, march.kb, march.known, march.reboot)
    assert got == ("unplanned-baseline", "KB1000003", True, True)
    assert cal.line("2025").first_month == "2025-01"
    assert cal.month("2025", "2025-04").known is False
    assert cal.origin == str(tmp_path / "calendar.json")
    with pytest.raises(InputError, match="before 2025-01"):
        cal.month("2025", "2024-12")


def test_user_calendar_via_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CALENDAR_ENV, str(_write(tmp_path, _minimal_doc())))
    cal = load_calendar()
    assert cal.month("2022", "2025-02").kb == "KB1000002"
    assert cal.as_of == date(2025, 3, 20)


def test_path_argument_wins_over_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_doc = _minimal_doc()
    env_doc["os"]["2025"]["months"][1]["kb"] = "KB2000002"
    monkeypatch.setenv(CALENDAR_ENV, str(_write(tmp_path, env_doc, "env.json")))
    cal = load_calendar(_write(tmp_path, _minimal_doc(), "arg.json"))
    assert cal.month("2025", "2025-02").kb == "KB1000002"


def test_empty_env_means_built_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CALENDAR_ENV, "  ")
    assert load_calendar().origin == "built-in"


def test_user_calendar_can_add_a_newer_month(tmp_path: Path) -> None:
    # The point of the file: follow a new Microsoft release (here a made-up November 2026 baseline) without
    # upgrading hpctl. Start from the packaged data so the rest stays realistic.
    doc = json.loads(
        (Path(__file__).parents[2] / "hpctl" / "core" / "data" / "calendar.json").read_text(encoding="utf-8")
    )
    doc["os"]["2025"]["months"].append(
        {"month": "2026-11", "kind": "unplanned-baseline", "date": "2026-11-10", "kb": "KB5999999",
         "build": "26100.33900", "note": "made up for this test"}
    )
    cal = load_calendar(_write(tmp_path, doc))
    november = cal.month("2025", "2026-11")
    assert (november.kind, november.known, november.reboot) == ("unplanned-baseline", True, True)
    assert cal.next_reboot("2025", date(2026, 10, 20)).month == "2026-11"


def _mutate(change: Any) -> Any:
    doc = copy.deepcopy(_minimal_doc())
    result = change(doc)
    return doc if result is None else result


def _set(path: list[Any], value: Any) -> Any:
    def change(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _delete(path: list[Any]) -> Any:
    def change(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


M25 = ["os", "2025", "months"]

MALFORMED = [
    ("not-json", lambda d: '{"schema_version": 1,', "line 1 column 22: not valid JSON"),
    ("top-list", lambda d: [], "top level: must be a JSON object (got a list)"),
    ("no-version", _delete(["schema_version"]), "top level: missing key 'schema_version'"),
    ("version-2", _set(["schema_version"], 2), "version 2 is not supported by this hpctl"),
    ("version-str", _set(["schema_version"], "1"), 'schema_version: must be the integer 1 (got "1")'),
    ("top-typo", _set(["oss"], {}), "top level: unknown key 'oss'"),
    ("bad-as-of", _set(["as_of"], "yesterday"), "'as_of' must be a date YYYY-MM-DD"),
    ("no-2022", _delete(["os", "2022"]), "os: missing OS line '2022'"),
    ("bad-line", _set(["os", "ws2025"], {}), "os: unknown OS line 'ws2025' (use '2022' or '2025')"),
    ("os-list", _set(["os"], []), "os: must be a JSON object keyed by OS line"),
    ("no-prefix", _delete(["os", "2025", "build_prefix"]), "os '2025': missing key 'build_prefix'"),
    ("bad-prefix", _set(["os", "2025", "build_prefix"], "26100x"), "'build_prefix' must be the build number"),
    ("no-months", _set(M25, []), "os '2025': 'months' must be a non-empty list"),
    ("month-typo", _set([*M25, 0, "bulid"], "26100.1"), "months[0] (2025-01): unknown key 'bulid'"),
    ("no-kind", _delete([*M25, 1, "kind"]), "os '2025' months[1] (2025-02): missing key 'kind'"),
    ("bad-kind", _set([*M25, 1, "kind"], "hot"),
     "'kind' must be one of baseline, unplanned-baseline, hotpatch"),
    ("baseline-feb", _set([*M25, 1, "kind"], "baseline"), "use 'unplanned-baseline'"),
    ("unplanned-jan", _set([*M25, 0, "kind"], "unplanned-baseline"),
     "in a planned baseline month; use 'baseline'"),
    ("bad-month", _set([*M25, 1, "month"], "2025-2"),
     "'month' must be YYYY-MM, e.g. 2026-07 (got \"2025-2\")"),
    ("month-13", _set([*M25, 2, "month"], "2025-13"), "'month' 2025-13 is not a month"),
    ("bad-date", _set([*M25, 1, "date"], "11/02/2025"), "(2025-02): 'date' must be a date YYYY-MM-DD"),
    ("unreal-date", _set([*M25, 1, "date"], "2025-02-30"), "'date' 2025-02-30 is not a real date"),
    ("date-month", _set([*M25, 1, "date"], "2025-03-11"), "'date' 2025-03-11 is not in month 2025-02"),
    ("bad-kb", _set([*M25, 1, "kb"], "5052105"), "'kb' must look like KB5046696 (got \"5052105\")"),
    ("wrong-prefix", _set([*M25, 1, "build"], "20348.200"), "'build' must be '26100.<revision>'"),
    ("build-int", _set([*M25, 1, "build"], 26100.2), "'build' must be '26100.<revision>'"),
    ("order", _set([*M25, 1], {"month": "2024-12", "kind": "hotpatch", "date": "2024-12-10"}),
     "months[1] (2024-12): months must be in ascending order: 2024-12 comes after 2025-01"),
    ("twice", _set([*M25, 1], {"month": "2025-01", "kind": "baseline", "date": "2025-01-20"}),
     "months[1] (2025-01): month 2025-01 appears twice"),
    ("builds-fall", _set([*M25, 2, "build"], "26100.150"), "'build' 26100.150 is not higher than 26100.200"),
    ("end-early", _set(["os", "2025", "last_month"], "2025-02"), "'last_month' 2025-02 is before"),
    ("oob-track", _set(["os", "2025", "out_of_band", 0, "keeps_track"], "yes"), "'keeps_track' must be true"),
    ("oob-kb", _delete(["os", "2025", "out_of_band", 0, "kb"]), "out_of_band[0]: missing key 'kb'"),
    ("lcu-date", _set(["os", "2025", "lcus", 0, "date"], "2025-03-11"),
     "lcus[0]: 'date' 2025-03-11 is not in"),
    ("initial-late", _set(["os", "2025", "initial"], {"date": "2025-01-01", "build": "26100.150"}),
     "initial: 'build' 26100.150 is not lower than 26100.100"),
    ("notes", _set(["os", "2025", "notes"], "one note"), "'notes' must be a list of strings"),
]


@pytest.mark.parametrize(("change", "expected"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_file(tmp_path: Path, change: Any, expected: str) -> None:
    path = _write(tmp_path, _mutate(change))
    with pytest.raises(InputError) as info:
        load_calendar(path)
    assert info.value.exit_code == EXIT_INPUT_REJECTED
    assert info.value.message.startswith(f"calendar file {path}: ")
    assert expected in info.value.message
    assert "built-in calendar" in (info.value.hint or "")


def test_malformed_env_file_hints_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CALENDAR_ENV, str(_write(tmp_path, _mutate(_set(["schema_version"], 9)))))
    with pytest.raises(InputError) as info:
        load_calendar()
    assert f"unset {CALENDAR_ENV}" in (info.value.hint or "")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_calendar(tmp_path / "nope.json")


def test_missing_file_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CALENDAR_ENV, str(tmp_path / "nope.json"))
    with pytest.raises(InputError) as info:
        load_calendar()
    missing = tmp_path / "nope.json"
    assert info.value.message == f"calendar file {missing} (from {CALENDAR_ENV}) does not exist"


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot be read"):
        load_calendar(tmp_path)


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "calendar.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="is not UTF-8 text"):
        load_calendar(path)


def test_calendar_is_immutable(cal: Calendar) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        cal.origin = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        cal.lines["2019"] = cal.lines["2022"]  # type: ignore[index]
    releases = cal.releases("2025")
    releases.clear()
    assert len(cal.releases("2025")) == 23


# --- ~/.hpctl/calendar.json (written by `calendar refresh`) ------------------------------------------------


def test_refreshed_file_is_read_and_an_older_one_never_hides_builtin_months(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(CALENDAR_ENV, raising=False)
    assert load_calendar().origin == "built-in"
    doc = json.loads((Path(__file__).parents[2] / "hpctl" / "core" / "data" / "calendar.json").read_text())
    for key, build in (("2022", "20348.5700"), ("2025", "26100.33600")):
        months = [m for m in doc["os"][key]["months"] if m["month"] <= "2026-05"]  # refreshed before June
        months.append({"month": "2026-10", "kind": "baseline", "date": "2026-10-13", "kb": "KB5999990",
                       "build": build, "source": "made up for this test"})
        doc["os"][key]["months"] = months
    path = tmp_path / ".hpctl" / "calendar.json"
    path.parent.mkdir()
    path.write_text(json.dumps(doc))
    cal = load_calendar()
    assert cal.origin == str(path)
    assert cal.month("2022", "2026-10").kb == "KB5999990"  # the refreshed month
    assert cal.month("2022", "2026-06").kb == "KB5094128"  # the built-in months it lacked
    assert cal.staleness(date(2026, 11, 1)) is None and cal.staleness(date(2026, 11, 10)) is not None
    path.write_text("{")
    with pytest.raises(InputError, match="not valid JSON") as raised:
        load_calendar()
    assert "calendar refresh" in (raised.value.hint or "")

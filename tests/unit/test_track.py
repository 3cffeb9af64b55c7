"""Tests for hpctl.core.track: a VM's hotpatch track from its OS build, using builds from the reference."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from hpctl.core.calendar import CALENDAR_ENV, Calendar, load_calendar
from hpctl.core.track import STATES, Track, parse_build, patch_evidence, track_of
from hpctl.errors import InputError


@pytest.fixture(scope="module")
def cal() -> Calendar:
    return load_calendar()


@pytest.fixture(autouse=True)
def _no_user_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CALENDAR_ENV, raising=False)


# --- parse_build ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.0.26100.32772", ("26100", 32772)),
        ("26100.32772", ("26100", 32772)),
        (" 10.0.20348.2655 ", ("20348", 2655)),
        ("20348.2655", ("20348", 2655)),
        ("10.0.17763.5000", ("17763", 5000)),  # WS2019: parsed, but not a hotpatch line
        ("6.3.9600.20000", ("9600", 20000)),
        (None, None),
        ("", None),
        ("22.04", None),  # what a Linux instance view reports
        ("5.15.0-1051-azure", None),
        ("5.15.0.1051", None),
        ("Ubuntu 22.04.4 LTS", None),
        ("garbage", None),
        ("10.0.26100", None),  # no update revision
        ("10.0.26100.abc", None),
        ("26100.", None),
        ("11.0.26100.1", None),
        (26100.32772, None),
    ],
)
def test_parse_build(value: Any, expected: tuple[str, int] | None) -> None:
    assert parse_build(value) == expected


# --- states with realistic builds ----------------------------------------------------------------------

# (osVersion, today, state, os, build, month, missing months, next reboot month, words in the detail)
CASES = [
    # WS2025 (hotpatch-program.md §2.2)
    ("10.0.26100.32230", "2026-01-20", "current-baseline", "2025", "26100.32230", "2026-01", [], "2026-04",
     ["2026-01 baseline KB5073379", "no hotpatch released since", "next reboot", "2026-04-14"]),
    ("10.0.26100.32230", "2026-02-20", "behind", "2025", "26100.32230", "2026-01", ["2026-02"], "2026-04",
     ["missing 1 release", "2026-02 hotpatch KB5075942"]),
    ("26100.32313", "2026-02-25", "hotpatch", "2025", "26100.32313", "2026-02", [], "2026-04",
     ["current hotpatch", "KB5075942"]),
    ("26100.32313", "2026-03-09", "hotpatch", "2025", "26100.32313", "2026-02", [], "2026-04", []),
    ("26100.32313", "2026-03-10", "behind", "2025", "26100.32313", "2026-02", ["2026-03"], "2026-04",
     ["2026-03 hotpatch KB5078736"]),
    # Hotpatches apply only on top of their baseline: 2025-11/12 are not missing, 2026-01 and 2026-02 are.
    ("26100.6899", "2026-02-20", "behind", "2025", "26100.6899", "2025-10", ["2026-01", "2026-02"], "2026-04",
     ["missing 2 releases", "2026-01 baseline KB5073379", "needs a reboot"]),
    ("26100.6899", "2025-10-20", "current-baseline", "2025", "26100.6899", "2025-10", [], "2026-01", []),
    ("26100.7392", "2026-01-13", "behind", "2025", "26100.7392", "2025-12", ["2026-01"], "2026-01", []),
    ("26100.32690", "2026-04-14", "current-baseline", "2025", "26100.32690", "2026-04", [], "2026-06",
     ["2026-06 unplanned baseline KB5094125"]),
    ("26100.32772", "2026-05-20", "hotpatch", "2025", "26100.32772", "2026-05", [], "2026-06", []),
    # The unplanned June 2026 baseline (hotpatch-program.md §9.1) replaced the planned hotpatch.
    ("26100.32772", "2026-06-20", "behind", "2025", "26100.32772", "2026-05", ["2026-06"], "2026-07",
     ["2026-06 unplanned baseline KB5094125"]),
    ("26100.32772", "2026-08-20", "behind", "2025", "26100.32772", "2026-05", ["2026-07", "2026-08"],
     "2026-09", []),
    # Past the calendar's data: nothing predicted counts as released, and the detail says what is open.
    ("20348.5622", "2026-12-05", "unknown", "2022", "20348.5622", "2026-09", [], "2027-01",
     ["last release the calendar knows", "calendar ends at 2026-09", "(2026-10..2026-11)", "calendar refresh"]),
    ("20348.5386", "2026-12-05", "behind", "2022", "20348.5386", "2026-07", ["2026-09"], "2027-01",
     ["2026-09 unplanned baseline KB5122882", "releases after 2026-09 are not counted"]),
    # The WS2025 GA image build is the baseline the first two hotpatches apply to.
    ("10.0.26100.1742", "2024-11-05", "current-baseline", "2025", "26100.1742", None, [], "2025-01",
     ["GA image build 26100.1742"]),
    ("10.0.26100.1742", "2024-12-20", "behind", "2025", "26100.1742", None, ["2024-11", "2024-12"], "2025-01",
     []),
    ("26100.2240", "2024-11-20", "hotpatch", "2025", "26100.2240", "2024-11", [], "2025-01", []),
    ("26100.2528", "2025-01-20", "behind", "2025", "26100.2528", "2024-12", ["2025-01"], "2025-04", []),
    # Off the track: KB5070881 (26100.6905), the out-of-band LCU some hotpatch VMs took in Oct 2025.
    ("10.0.26100.6905", "2025-10-24", "off-track", "2025", "26100.6905", None, [], "2026-01",
     ["out-of-band update KB5070881", "left the hotpatch track", "the next is the 2026-01 baseline"]),
    ("10.0.26100.6905", "2025-12-20", "off-track", "2025", "26100.6905", None, [], "2026-01", ["KB5070881"]),
    ("10.0.26100.6905", "2026-02-20", "off-track", "2025", "26100.6905", None, ["2026-01", "2026-02"],
     "2026-04", ["installing the 2026-01 baseline KB5073379", "puts it back on track"]),
    # The month's regular LCU is above the hotpatch build.
    ("26100.32370", "2026-02-20", "off-track", "2025", "26100.32370", None, [], "2026-04",
     ["KB5075899", "2026-02 regular cumulative update", "KB5075942"]),
    ("26100.6950", "2025-11-05", "off-track", "2025", "26100.6950", None, [], "2026-01",
     ["lies between the 2025-10 baseline", "2025-11 hotpatch"]),
    # Higher than the latest release while the data still covers today: a regular/preview update.
    ("26100.33500", "2026-09-20", "off-track", "2025", "26100.33500", None, [], "2026-10",
     ["newer than the 2026-09 unplanned baseline KB5122871", "the latest release as of 2026-09-20"]),
    # Higher than anything known once a release day has passed that the calendar doesn't list: can't tell.
    ("26100.33500", "2026-10-20", "unknown", "2025", "26100.33500", None, [], "2027-01",
     ["calendar ends at 2026-09", "hpctl calendar refresh"]),
    ("26100.1000", "2026-02-20", "unknown", "2025", "26100.1000", None, ["2026-01", "2026-02"], "2026-04",
     ["older than the WS2025 GA image build"]),
    ("26100.1000", "2024-12-01", "unknown", "2025", "26100.1000", None, [], "2025-01", []),
    # WS2022 (§2.3), including the August 2024 unplanned baseline.
    ("10.0.20348.2655", "2024-08-20", "current-baseline", "2022", "20348.2655", "2024-08", [], "2024-10",
     ["2024-08 unplanned baseline KB5041160"]),
    ("20348.2582", "2024-08-20", "behind", "2022", "20348.2582", "2024-07", ["2024-08"], "2024-10",
     ["unplanned baseline", "needs a reboot"]),
    ("20348.2582", "2024-09-20", "behind", "2022", "20348.2582", "2024-07", ["2024-08", "2024-09"],
     "2024-10", []),
    ("20348.2522", "2024-08-20", "behind", "2022", "20348.2522", "2024-06", ["2024-08"], "2024-10", []),
    ("20348.2655", "2024-09-20", "behind", "2022", "20348.2655", "2024-08", ["2024-09"], "2024-10", []),
    ("20348.2695", "2024-09-20", "hotpatch", "2022", "20348.2695", "2024-09", [], "2024-10", []),
    ("20348.2620", "2024-08-20", "off-track", "2022", "20348.2620", None, ["2024-08"], "2024-10",
     ["lies between the 2024-07 baseline", "2024-08 unplanned baseline"]),
    # Between 2023-11 and 2024-01 the calendar has no 2023-12 build: it may be that release.
    ("20348.2150", "2024-09-20", "unknown", "2022", "20348.2150", None, ["2024-08", "2024-09"], "2024-10",
     ["may be an unlisted release"]),
    ("20348.1900", "2024-09-20", "unknown", "2022", "20348.1900", None, ["2024-08", "2024-09"], "2024-10",
     ["older than the 2023-10 baseline KB5031364"]),
    ("20348.2031", "2023-10-20", "current-baseline", "2022", "20348.2031", "2023-10", [], "2024-01", []),
    ("20348.2091", "2023-12-20", "behind", "2022", "20348.2091", "2023-11", ["2023-12"], "2024-01", []),
    ("20348.5074", "2026-05-20", "hotpatch", "2022", "20348.5074", "2026-05", [], "2026-06", []),
    # After WS2022 hotpatch ends (2027-10) there is no next reboot to announce; the calendar's data ends at
    # 2026-09, so only what it lists is counted as missing.
    ("20348.5074", "2028-01-15", "behind", "2022", "20348.5074", "2026-05", ["2026-09"], None,
     ["releases after 2026-09 are not counted"]),
]


@pytest.mark.parametrize(
    ("version", "today", "state", "os_line", "build", "month", "missing", "reboot", "words"),
    CASES,
    ids=[f"{c[0]}@{c[1]}" for c in CASES],
)
def test_track_states(
    cal: Calendar,
    version: str,
    today: str,
    state: str,
    os_line: str,
    build: str,
    month: str | None,
    missing: list[str],
    reboot: str | None,
    words: list[str],
) -> None:
    day = date.fromisoformat(today)
    track = track_of(version, day, cal)
    assert track.state == state
    assert track.os == os_line
    assert track.build == build
    assert track.month == month
    assert [r.month for r in track.missing] == missing
    assert all(r.date <= day for r in track.missing)
    assert (track.next_reboot.month if track.next_reboot else None) == reboot
    if track.next_reboot is not None:
        assert track.next_reboot.reboot
    for word in words:
        assert word in track.detail
    assert track.on_track is (state in ("current-baseline", "hotpatch"))


def test_every_state_is_covered() -> None:
    assert {c[2] for c in CASES} == set(STATES)


@pytest.mark.parametrize(
    ("version", "words"),
    [
        (None, "no OS version reported"),
        ("", "no OS version reported"),
        ("   ", "no OS version reported"),
        ("22.04", "not a Windows build number"),
        ("5.15.0-1051-azure", "not a Windows build number"),
        ("garbage", "not a Windows build number"),
        ("10.0.26100.abc", "not a Windows build number"),
    ],
)
def test_unknown_without_a_build(cal: Calendar, version: str | None, words: str) -> None:
    track = track_of(version, date(2026, 2, 20), cal)
    assert (track.state, track.os, track.build, track.month, track.missing, track.next_reboot) == (
        "unknown",
        None,
        None,
        None,
        (),
        None,
    )
    assert words in track.detail


def test_unknown_other_windows_build(cal: Calendar) -> None:
    track = track_of("10.0.17763.5000", date(2026, 2, 20), cal)
    assert (track.state, track.os, track.build) == ("unknown", None, "17763.5000")
    assert "WS2022 is 20348.x, WS2025 is 26100.x" in track.detail


def test_unknown_without_update_revision(cal: Calendar) -> None:
    track = track_of("10.0.26100", date(2026, 2, 20), cal)
    assert (track.state, track.os, track.build) == ("unknown", "2025", None)
    assert "doesn't report the update revision" in track.detail


def test_with_and_without_the_10_0_prefix_agree(cal: Calendar) -> None:
    day = date(2026, 2, 20)
    for bare in ("26100.6899", "26100.6905", "20348.4711", "26100.32313"):
        assert track_of(f"10.0.{bare}", day, cal) == track_of(bare, day, cal)


def test_vm_on_a_release_newer_than_today(cal: Calendar) -> None:
    # A clock behind the VM's update (or a stale --date) must not turn a current VM into an odd state.
    track = track_of("26100.32772", date(2026, 5, 1), cal)
    assert (track.state, track.month, track.missing) == ("hotpatch", "2026-05", ())
    assert "after 2026-05-01" in track.detail


def test_detail_is_one_sentence(cal: Calendar) -> None:
    for case in CASES:
        detail = track_of(case[0], date.fromisoformat(case[1]), cal).detail
        assert "\n" not in detail
        assert ". " not in detail


def test_today_may_be_a_datetime(cal: Calendar) -> None:
    assert track_of("26100.32313", datetime(2026, 2, 25, 6, 0), cal).state == "hotpatch"


def test_bad_today_is_rejected(cal: Calendar) -> None:
    with pytest.raises(InputError, match="expected a date"):
        track_of("26100.32313", "soon", cal)  # type: ignore[arg-type]


def test_track_is_frozen_and_serialisable(cal: Calendar) -> None:
    track = track_of("26100.6899", date(2026, 2, 20), cal)
    assert isinstance(track, Track)
    with pytest.raises(dataclasses.FrozenInstanceError):
        track.state = "hotpatch"  # type: ignore[misc]
    data = json.loads(json.dumps(track.as_dict()))
    assert data["state"] == "behind"
    assert [m["month"] for m in data["missing"]] == ["2026-01", "2026-02"]
    assert data["next_reboot"]["date"] == "2026-04-14"
    assert json.loads(json.dumps(track_of(None, date(2026, 2, 20), cal).as_dict()))["next_reboot"] is None


def test_out_of_band_update_that_keeps_the_track(tmp_path: Path) -> None:
    # KB5070893 was meant for hotpatch VMs on baseline KB5066835 and keeps them on the track. The
    # reference gives no build for it, so this test gives it a made-up one through a user calendar file.
    text = resources.files("hpctl.core").joinpath("data/calendar.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    for update in doc["os"]["2025"]["out_of_band"]:
        if update["kb"] == "KB5070893":
            update["build"] = "26100.6901"
    path = tmp_path / "calendar.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    cal = load_calendar(path)

    track = track_of("26100.6901", date(2025, 10, 30), cal)
    assert (track.state, track.month) == ("current-baseline", "2025-10")
    assert "KB5070893" in track.detail
    later = track_of("26100.6901", date(2025, 11, 20), cal)
    assert (later.state, [r.month for r in later.missing]) == ("behind", ["2025-11"])
    # KB5070881 still drops a VM off the track.
    assert track_of("26100.6905", date(2025, 10, 30), cal).state == "off-track"


def test_spec_example_os_version_form_is_parsed():
    from hpctl.core.track import parse_build

    assert parse_build("Microsoft Windows NT 10.0.26100.32772") == ("26100", 32772)
    assert parse_build("microsoft windows nt 10.0.20348.2227") == ("20348", 2227)


# --- osVersion as Azure writes it (azure-wire.md §9.2) and the evidence that stands in for the revision ---


def test_old_agent_form_is_never_read_as_revision_0(cal: Calendar) -> None:
    # Old agents always write ".0": reading it as revision 0 called such VMs "missing the baseline".
    track = track_of("Microsoft Windows NT 10.0.20348.0", date(2026, 8, 20), cal)
    assert (track.state, track.os, track.build, track.missing) == ("unknown", "2022", None, ())
    assert track.detail.startswith("unknown — the VM agent doesn't report the update revision")
    assert "missing" not in track.detail and track.next_reboot is None
    assert parse_build("Microsoft Windows NT 10.0.14393.0") is None
    assert parse_build("10.0.20348.0") is None


def test_deallocated_vm_says_so(cal: Calendar) -> None:
    track = track_of(None, date(2026, 8, 20), cal, os_hint="2025", power_state="deallocated")
    assert (track.state, track.os) == ("unknown", "2025")
    assert "the VM is deallocated, so it reports no OS version" in track.detail


def test_installed_kbs_place_a_vm_without_revision(cal: Calendar) -> None:
    evidence = patch_evidence(["5099540", "890830", "KB5120229"], [])
    track = track_of("Microsoft Windows NT 10.0.20348.0", date(2026, 8, 20), cal, evidence=evidence)
    assert (track.state, track.build, track.month) == ("hotpatch", "20348.5440", "2026-08")
    assert track.detail.startswith("from installed KB5120229 (Resource Graph installation records, as the VM agent")
    later = track_of("Microsoft Windows NT 10.0.20348.0", date(2026, 9, 20), cal, evidence=evidence)
    assert (later.state, [r.month for r in later.missing]) == ("behind", ["2026-09"])


def test_installed_lcu_of_a_hotpatch_month_means_off_track(cal: Calendar) -> None:
    evidence = patch_evidence(["KB5099540", "KB5120242"], [])  # August 2026's LCU, not its hotpatch
    track = track_of(None, date(2026, 8, 20), cal, evidence=evidence, os_hint="2022", power_state="deallocated")
    assert track.state == "off-track" and "KB5120242" in track.detail and "deallocated" in track.detail


def test_an_available_calendar_kb_means_behind(cal: Calendar) -> None:
    evidence = patch_evidence([], ["5120228", "890830"], assessed_at="2026-08-20T06:00:00Z")
    track = track_of("Microsoft Windows NT 10.0.26100.0", date(2026, 8, 20), cal, evidence=evidence)
    assert (track.state, track.os, track.build, [r.month for r in track.missing]) == (
        "behind", "2025", None, ["2026-08"])
    assert "lists the 2026-08 hotpatch KB5120228" in track.detail and "2026-08-20T06:00:00Z" in track.detail
    assert track.next_reboot is not None and track.next_reboot.month == "2026-09"


def test_kbs_of_no_calendar_release_leave_it_unknown(cal: Calendar) -> None:
    evidence = patch_evidence(["890830"], ["2267602"])
    track = track_of("Microsoft Windows NT 10.0.20348.0", date(2026, 8, 20), cal, evidence=evidence)
    assert track.state == "unknown" and "doesn't report the update revision" in track.detail

"""Hotpatch track of a VM, from the OS build in its instance view and the release calendar."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from hpctl.core.calendar import CALENDAR_ENV, HOTPATCH, Calendar, OsLine, OtherUpdate, Release, to_date
from hpctl.errors import InputError

CURRENT_BASELINE = "current-baseline"
ON_HOTPATCH = "hotpatch"
BEHIND = "behind"
OFF_TRACK = "off-track"
UNKNOWN = "unknown"
STATES = (CURRENT_BASELINE, ON_HOTPATCH, BEHIND, OFF_TRACK, UNKNOWN)

# Instance views report "10.0.<build>.<UBR>"; registry-style values drop the "10.0.". Windows builds have
# four or five digits, which keeps Linux versions such as "22.04" or "5.15.0.1051" from matching.
# The instance view writes "10.0.26100.32772"; the spec example writes "Microsoft Windows NT 10.0.14393.0".
_BUILD_RE = re.compile(r"^(?:Microsoft Windows NT\s+)?(?:(?:10|6)\.\d{1,2}\.)?(\d{4,5})\.(\d{1,7})$", re.IGNORECASE)
_NO_UBR_RE = re.compile(r"^(?:10|6)\.\d{1,2}\.(\d{4,5})$")


@dataclass(frozen=True)
class Track:
    """Where a VM stands on the hotpatch track on a given day."""

    state: str  # one of STATES
    os: str | None  # "2022", "2025", or None when the build is not of a hotpatch OS line
    build: str | None  # normalised "<build>.<UBR>", e.g. "26100.32772"
    month: str | None  # YYYY-MM of the release the build is, if it is one
    missing: tuple[Release, ...]  # releases dated on or before the day that the VM still needs, oldest first
    detail: str  # one human sentence
    next_reboot: Release | None  # the next scheduled baseline the VM will reboot for

    @property
    def on_track(self) -> bool:
        """True when the VM is on the current baseline or hotpatch."""
        return self.state in (CURRENT_BASELINE, ON_HOTPATCH)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (releases as dicts, dates as ISO strings)."""
        return {
            "state": self.state,
            "os": self.os,
            "build": self.build,
            "month": self.month,
            "missing": [r.as_dict() for r in self.missing],
            "detail": self.detail,
            "next_reboot": self.next_reboot.as_dict() if self.next_reboot else None,
        }


def parse_build(os_version: str | None) -> tuple[str, int] | None:
    """("26100", 32772) from "10.0.26100.32772" or "26100.32772"; None when it is not a Windows build."""
    if not isinstance(os_version, str):
        return None
    match = _BUILD_RE.match(os_version.strip())
    if not match:
        return None
    return match.group(1), int(match.group(2))


def track_of(os_version: str | None, today: date, calendar: Calendar) -> Track:
    """The hotpatch track of a VM whose instance view reports `os_version`, as of `today`."""
    today = to_date(today)
    raw = os_version.strip() if isinstance(os_version, str) else os_version
    if raw is None or raw == "":
        return _unknown(None, None, "no OS build reported (the VM may be stopped or its VM agent not ready)")
    parsed = parse_build(raw)
    if parsed is None:
        no_ubr = _NO_UBR_RE.match(raw) if isinstance(raw, str) else None
        line = _line_for_prefix(calendar, no_ubr.group(1)) if no_ubr else None
        if line is not None:
            return _unknown(
                line.os,
                None,
                f"osVersion {raw!r} has no update revision, so the {line.label} release cannot be told",
            )
        return _unknown(
            None,
            None,
            f"osVersion {raw!r} is not a Windows build number such as 10.0.26100.32772; "
            "hotpatch applies only to Windows Server 2022/2025 Datacenter: Azure Edition",
        )
    prefix, ubr = parsed
    build = f"{prefix}.{ubr}"
    line = _line_for_prefix(calendar, prefix)
    if line is None:
        known = ", ".join(f"{ln.label} is {ln.build_prefix}.x" for ln in calendar.lines.values())
        return _unknown(
            None, build, f"build {build} is not of a hotpatch OS line ({known}), so hotpatch does not apply"
        )
    return _Tracker(calendar, line, today).track(build, ubr)


class _Tracker:
    """Places one build of a known OS line against the calendar as of one day."""

    def __init__(self, calendar: Calendar, line: OsLine, today: date):
        self.calendar = calendar
        self.line = line
        self.today = today
        # Releases with a known build, in build order (the loader checks builds rise month by month), with
        # the line's initial build (WS2025 GA image) first: it is the baseline the first hotpatches need.
        self.anchors: list[Release] = [r for r in line.releases if r.build]
        if line.initial is not None:
            self.anchors.insert(0, line.initial)
        self.current = self._latest(baseline=False)
        self.baseline = self._latest(baseline=True)

    def track(self, build: str, ubr: int) -> Track:
        match = next((r for r in self.anchors if r.ubr == ubr), None)
        if match is not None:
            return self._on_release(build, match, via=None)
        other = next((u for u in self.line.other_updates if u.ubr == ubr), None)
        below = [r for r in self.anchors if (r.ubr or 0) < ubr]
        above = [r for r in self.anchors if (r.ubr or 0) > ubr]
        anchor = below[-1] if below else None
        after = above[0] if above else None
        if other is not None and other.keeps_track and anchor is not None:
            return self._on_release(build, anchor, via=other)
        if other is not None:
            return self._off_track(build, anchor, self._describe_other(build, other))
        if anchor is None:
            return self._older_than_known(build)
        if after is None:
            return self._newer_than_known(build, anchor)
        if not self._adjacent(anchor, after):
            missing = self._missing(anchor, hotpatches_without_baseline=False)
            return Track(
                UNKNOWN,
                self.line.os,
                build,
                None,
                missing,
                f"build {build} lies between {self._label(anchor)} and {self._label(after)}, where the "
                f"calendar has months without a known build, so it may be an unlisted release"
                + self._missing_clause(missing),
                self._next_reboot(self.today),
            )
        what = (
            f"build {build} lies between {self._label(anchor)} and {self._label(after)}: it is a regular "
            "cumulative, preview or out-of-band update"
        )
        return self._off_track(build, anchor, what)

    def _on_release(self, build: str, release: Release, via: OtherUpdate | None) -> Track:
        label = self._label(release)
        if via is not None:
            kept = "which keeps it on the hotpatch track"
            label = f"{via.kb} ({via.date.isoformat()}) on top of {label}, {kept}"
        month = None if release is self.line.initial else release.month
        next_reboot = self._next_reboot(max(self.today, release.date + timedelta(days=1)))
        if self.current is None or release.date >= self.current.date:
            state = ON_HOTPATCH if release.kind == HOTPATCH else CURRENT_BASELINE
            if release.date > self.today:
                when = f"released {release.date.isoformat()}, after {self.today.isoformat()}"
            elif state == ON_HOTPATCH:
                when = f"the current hotpatch as of {self.today.isoformat()}"
            else:
                when = f"the latest release as of {self.today.isoformat()}, with no hotpatch released since"
            detail = f"on {label}, {when}; {self._reboot_clause(next_reboot)}"
            return Track(state, self.line.os, build, month, (), detail, next_reboot)
        missing = self._missing(release, hotpatches_without_baseline=True)
        count = f"{len(missing)} release" + ("s" if len(missing) > 1 else "")
        detail = f"on {label} but, as of {self.today.isoformat()}, missing {count}: {self._list(missing)}"
        if any(r.reboot for r in missing):
            detail += "; installing the baseline needs a reboot"
        return Track(BEHIND, self.line.os, build, month, missing, detail, next_reboot)

    def _off_track(self, build: str, anchor: Release | None, what: str) -> Track:
        missing = self._missing(anchor, hotpatches_without_baseline=False) if anchor else ()
        next_reboot = self._next_reboot(self.today)
        consequence = (
            f"{what}, not a hotpatch baseline or hotpatch, so the VM has left the hotpatch track and gets "
            "regular cumulative updates, each with a reboot, until it installs a baseline"
        )
        if missing:
            steps = " and then ".join(self._label(r) for r in missing)
            detail = f"{consequence}; installing {steps} puts it back on track"
        elif next_reboot is not None:
            when = next_reboot.date.isoformat()
            detail = f"{consequence}; the next is {self._label(next_reboot)} on {when}"
        else:
            detail = f"{consequence}, and the calendar has no further baseline for {self.line.label}"
        return Track(OFF_TRACK, self.line.os, build, None, missing, detail, next_reboot)

    def _older_than_known(self, build: str) -> Track:
        first = self.anchors[0]
        missing: tuple[Release, ...] = ()
        # A build older than the initial (GA) build predates the program: no release list applies to it.
        if self.baseline is not None and self.baseline is not self.line.initial:
            missing = self._missing(None, hotpatches_without_baseline=False)
        detail = (
            f"build {build} is older than {self._label(first)}, the oldest {self.line.label} build hpctl "
            "knows, so its release cannot be told" + self._missing_clause(missing)
        )
        return Track(UNKNOWN, self.line.os, build, None, missing, detail, self._next_reboot(self.today))

    def _newer_than_known(self, build: str, newest: Release) -> Track:
        # When the newest known build is also the latest release as of today, no later hotpatch or baseline
        # exists yet, so a higher build can only be a regular, preview or out-of-band update.
        if self.current == newest and newest.known:
            what = (
                f"build {build} is newer than {self._label(newest)}, the latest release as of "
                f"{self.today.isoformat()}: it is a regular cumulative, preview or out-of-band update"
            )
            return self._off_track(build, newest, what)
        detail = (
            f"build {build} is newer than {self._label(newest)}, the newest {self.line.label} build in the "
            f"calendar ({self.calendar.origin}); upgrade hpctl or point {CALENDAR_ENV} at a newer calendar"
        )
        return Track(UNKNOWN, self.line.os, build, None, (), detail, self._next_reboot(self.today))

    def _missing(self, since: Release | None, *, hotpatches_without_baseline: bool) -> tuple[Release, ...]:
        """What a VM at `since` still needs as of today.

        Hotpatches apply only on top of their own baseline, so once a newer baseline is out, the VM needs
        that baseline and the hotpatches after it, not the hotpatches it skipped before it.
        """
        start = since.date if since is not None else date.min
        baseline = self.baseline
        if baseline is not None and baseline.date > start:
            if baseline is self.line.initial:
                return ()
            later = self.calendar.releases_between(self.line.os, baseline.date, self.today)
            return (baseline, *later)
        if not hotpatches_without_baseline or since is None:
            return ()
        return tuple(self.calendar.releases_between(self.line.os, start, self.today))

    def _latest(self, *, baseline: bool) -> Release | None:
        try:
            if baseline:
                found: Release | None = self.calendar.latest_baseline(self.line.os, self.today)
            else:
                found = self.calendar.latest_release(self.line.os, self.today)
        except InputError:
            found = None
        initial = self.line.initial
        # Before the first listed baseline, the initial (GA) build is the baseline VMs hotpatch on top of.
        if initial is not None and initial.date <= self.today:
            if found is None or found.date < initial.date:
                found = initial
        return found

    def _next_reboot(self, after: date) -> Release | None:
        try:
            return self.calendar.next_reboot(self.line.os, after)
        except InputError:
            return None

    def _adjacent(self, older: Release, newer: Release) -> bool:
        """True when no month lies between two anchors, so the calendar lists every release in between."""
        if older is self.line.initial:
            return newer.month == self.line.first_month
        year, month = int(older.month[:4]), int(older.month[5:])
        following = f"{year + month // 12:04d}-{month % 12 + 1:02d}"
        return newer.month == following

    def _describe_other(self, build: str, other: OtherUpdate) -> str:
        if other.month is not None:
            hotpatch = self.line.known_month(other.month)
            instead = ""
            if hotpatch is not None and hotpatch.kb:
                instead = f" (that month's hotpatch is {hotpatch.kb})"
            return f"build {build} is {other.kb}, the {other.month} regular cumulative update{instead}"
        return f"build {build} is out-of-band update {other.kb} ({other.date.isoformat()})"

    def _label(self, release: Release) -> str:
        if release is self.line.initial:
            return f"the {self.line.label} GA image build {release.build} ({release.date.isoformat()})"
        return f"the {release.describe()}"

    def _list(self, releases: tuple[Release, ...]) -> str:
        return ", ".join(self._label(r) for r in releases)

    def _missing_clause(self, missing: tuple[Release, ...]) -> str:
        return f"; it is at least missing {self._list(missing)}" if missing else ""

    def _reboot_clause(self, next_reboot: Release | None) -> str:
        if next_reboot is None:
            return f"the calendar has no further baseline for {self.line.label}"
        return f"next reboot: {self._label(next_reboot)} on {next_reboot.date.isoformat()}"


def _line_for_prefix(calendar: Calendar, prefix: str) -> OsLine | None:
    return next((line for line in calendar.lines.values() if line.build_prefix == prefix), None)


def _unknown(os: str | None, build: str | None, detail: str) -> Track:
    return Track(UNKNOWN, os, build, None, (), detail, None)

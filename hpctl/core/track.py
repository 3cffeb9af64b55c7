"""Hotpatch track of a VM, from the OS build in its instance view and the release calendar."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from hpctl.core.calendar import (
    HOTPATCH,
    REFRESH_COMMAND,
    Calendar,
    OsLine,
    OtherUpdate,
    Release,
    patch_tuesday,
    to_date,
)
from hpctl.core.os_version import NO_REVISION, NOT_REPORTED, WITH_REVISION, OsVersion, parse_os_version
from hpctl.errors import InputError

CURRENT_BASELINE = "current-baseline"
ON_HOTPATCH = "hotpatch"
BEHIND = "behind"
OFF_TRACK = "off-track"
UNKNOWN = "unknown"
STATES = (CURRENT_BASELINE, ON_HOTPATCH, BEHIND, OFF_TRACK, UNKNOWN)

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


@dataclass(frozen=True)
class PatchEvidence:
    """What Azure's patch records say about a VM whose agent does not report the update revision: the KBs its
    recent installations installed (Resource Graph patchinstallationresources) and those its last assessment
    still lists as available."""

    installed: tuple[str, ...] = ()  # "KB5087424", …
    available: tuple[str, ...] = ()
    assessed_at: str | None = None  # ISO time of the assessment that listed `available`

    @property
    def empty(self) -> bool:
        return not self.installed and not self.available


def patch_evidence(installed_kbs: Iterable[Any], available_kbs: Iterable[Any],
                   assessed_at: str | None = None) -> PatchEvidence:
    """PatchEvidence from KB ids as Azure writes them ("5087424" or "KB5087424")."""
    return PatchEvidence(tuple(sorted({k for k in map(_kb, installed_kbs) if k})),
                         tuple(sorted({k for k in map(_kb, available_kbs) if k})), assessed_at)


def needs_evidence(vm: dict[str, Any]) -> bool:
    """True for a VM with hotpatch on whose instance view has no usable update revision (an old agent's ".0",
    or null when deallocated): its track then comes from its patch records."""
    props = vm.get("properties") or {}
    patch = ((props.get("osProfile") or {}).get("windowsConfiguration") or {}).get("patchSettings") or {}
    if not patch.get("enableHotpatching"):
        return False
    view = props.get("instanceView") or (props.get("extended") or {}).get("instanceView") or {}
    return parse_os_version(view.get("osVersion")).form in (NO_REVISION, NOT_REPORTED)


def track_summary(track: Track) -> dict[str, Any]:
    """The track as `hpctl status` shows it."""
    return {
        "state": track.state,
        "month": track.month,
        "missing": [r.month for r in track.missing],
        "nextReboot": track.next_reboot.date.isoformat() if track.next_reboot else None,
        "detail": track.detail,
    }


def parse_build(os_version: str | None) -> tuple[str, int] | None:
    """("26100", 32772) from "10.0.26100.32772" or "26100.32772"; None when it is not a Windows build with its
    update revision (old agents' "Microsoft Windows NT 10.0.14393.0" has none: the 0 is not a revision)."""
    parsed = parse_os_version(os_version)
    if parsed.form != WITH_REVISION or parsed.build is None or parsed.revision is None:
        return None
    return parsed.build, parsed.revision


def track_of(os_version: str | None, today: date, calendar: Calendar, *, evidence: PatchEvidence | None = None,
             os_hint: str | None = None, power_state: str | None = None) -> Track:
    """The hotpatch track of a VM whose instance view reports `os_version`, as of `today`.

    With no usable revision (an old agent's ".0", or null when deallocated), the track comes from the VM's
    installed KBs, else from KBs its last assessment lists as available (behind), else it is unknown and says
    why. `os_hint` is the OS line the image says ("2022"/"2025"), `power_state` e.g. "deallocated".
    """
    today = to_date(today)
    parsed = parse_os_version(os_version)
    if parsed.form == WITH_REVISION and parsed.build and parsed.revision is not None:
        build = parsed.full or ""
        line = _line_for_prefix(calendar, parsed.build)
        if line is None:
            known = ", ".join(f"{ln.label} is {ln.build_prefix}.x" for ln in calendar.lines.values())
            return _unknown(
                None, build, f"build {build} is not of a hotpatch OS line ({known}), so hotpatch does not apply"
            )
        return _Tracker(calendar, line, today).track(build, parsed.revision)
    if parsed.form in (NO_REVISION, NOT_REPORTED):
        line = _line_for_prefix(calendar, parsed.build) if parsed.build else None
        if parsed.build and line is None:
            return _unknown(None, None, f"osVersion {parsed.raw!r} is build {parsed.build}, not of a hotpatch OS "
                                        "line, so hotpatch does not apply")
        if line is None and os_hint in calendar.lines:
            line = calendar.line(os_hint or "")
        return _without_revision(calendar, today, parsed, line, evidence or PatchEvidence(), power_state)
    return _unknown(
        None,
        None,
        f"osVersion {parsed.raw!r} is not a Windows build number such as 10.0.26100.32772; "
        "hotpatch applies only to Windows Server 2022/2025 Datacenter: Azure Edition",
    )


def _why_no_revision(parsed: OsVersion, power_state: str | None) -> str:
    if parsed.form == NOT_REPORTED:
        if (power_state or "").lower() in ("deallocated", "stopped", "deallocating"):
            return f"the VM is {power_state.lower()}, so it reports no OS version"  # type: ignore[union-attr]
        return "no OS version reported (the VM may be deallocated or its VM agent not ready)"
    return f"the VM agent doesn't report the update revision: osVersion {parsed.raw!r}"


def _without_revision(calendar: Calendar, today: date, parsed: OsVersion, line: OsLine | None,
                      evidence: PatchEvidence, power_state: str | None) -> Track:
    why = _why_no_revision(parsed, power_state)
    lines = [line] if line is not None else list(calendar.lines.values())
    # Installed KBs: the newest calendar release (or LCU/out-of-band update) among them is where the VM is.
    found: list[tuple[date, OsLine, Release | OtherUpdate]] = []
    for candidate in lines:
        for release in (*candidate.releases, *candidate.other_updates):
            if release.kb in evidence.installed and release.build:
                found.append((release.date, candidate, release))
    if found:
        _, on_line, newest = max(found, key=lambda item: (item[0], item[2].ubr or 0))
        track = _Tracker(calendar, on_line, today).track(newest.build or "", newest.ubr or 0)
        how = f"from installed {newest.kb} (Resource Graph installation records, as {why})"
        return replace(track, detail=f"{how}: {track.detail}")
    # Available KBs: a calendar release the last assessment still offers is one the VM is missing.
    missing = sorted(
        (r for candidate in lines for r in candidate.releases if r.kb in evidence.available and r.date <= today),
        key=lambda r: r.date,
    )
    if missing:
        os_key = missing[0].os
        when = f" of {evidence.assessed_at}" if evidence.assessed_at else ""
        labels = ", ".join(f"the {r.describe()}" for r in missing)
        next_reboot = _next_reboot_of(calendar, os_key, today)
        detail = (f"its last assessment{when} lists {labels} as available, so it is behind (the exact build is "
                  f"not known: {why})")
        return Track(BEHIND, os_key, None, None, tuple(missing), detail, next_reboot)
    return _unknown(line.os if line else None, None, f"unknown — {why}")


def _next_reboot_of(calendar: Calendar, os_key: str, after: date) -> Release | None:
    try:
        return calendar.next_reboot(os_key, after)
    except InputError:
        return None


def _kb(value: Any) -> str | None:
    text = str(value or "").strip().upper()
    if not text:
        return None
    return text if text.startswith("KB") else f"KB{text}"


class _Tracker:
    """Places one build of a known OS line against the calendar as of one day."""

    def __init__(self, calendar: Calendar, line: OsLine, today: date):
        self.calendar = calendar
        self.line = line
        self.asked = today
        # Past the calendar's data, judge as of the day before the first release it doesn't list, so
        # nothing predicted is counted as released; what that leaves open is said in the detail.
        self.unknown = calendar.unknown_months(line.os, today)
        if self.unknown:
            year, month = int(self.unknown[0][:4]), int(self.unknown[0][5:])
            today = patch_tuesday(year, month) - timedelta(days=1)
        self.today = today
        # Releases with a known build, in build order (the loader checks builds rise month by month), with
        # the line's initial build (WS2025 GA image) first: it is the baseline the first hotpatches need.
        self.anchors: list[Release] = [r for r in line.releases if r.build]
        if line.initial is not None:
            self.anchors.insert(0, line.initial)
        self.current = self._latest(baseline=False)
        self.baseline = self._latest(baseline=True)

    def track(self, build: str, ubr: int) -> Track:
        found = self._track(build, ubr)
        if not self.unknown:
            return found
        return self._past_the_data(found)

    def _past_the_data(self, found: Track) -> Track:
        ends = self.line.known_until
        span = self.unknown[0] if len(self.unknown) == 1 else f"{self.unknown[0]}..{self.unknown[-1]}"
        gap = (f"the calendar ends at {ends} and {len(self.unknown)} Patch Tuesday"
               f"{'s' if len(self.unknown) > 1 else ''} since ({span}) are not in it; run `{REFRESH_COMMAND}`")
        next_reboot = self._next_reboot(self.asked)
        if found.state in (CURRENT_BASELINE, ON_HOTPATCH):
            detail = f"{found.detail.split(';')[0]}, the last release the calendar knows; whether it is current " \
                     f"can't be told: {gap}"
            return replace(found, state=UNKNOWN, detail=detail, next_reboot=next_reboot)
        if found.state == UNKNOWN:
            return replace(found, detail=f"{found.detail}; {gap}", next_reboot=next_reboot)
        return replace(found, detail=f"{found.detail}; releases after {ends} are not counted: {gap}",
                       next_reboot=next_reboot)

    def _track(self, build: str, ubr: int) -> Track:
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
        next_reboot = self._next_reboot(max(self.asked, release.date + timedelta(days=1)))
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
        if self.current == newest and newest.known and not self.unknown:
            what = (
                f"build {build} is newer than {self._label(newest)}, the latest release as of "
                f"{self.today.isoformat()}: it is a regular cumulative, preview or out-of-band update"
            )
            return self._off_track(build, newest, what)
        detail = (
            f"build {build} is newer than {self._label(newest)}, the newest {self.line.label} build in the "
            f"calendar ({self.calendar.origin})"
            + ("" if self.unknown else f"; run `{REFRESH_COMMAND}` or upgrade hpctl")
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

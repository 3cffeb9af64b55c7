"""The simulated patch world: releases, what an assessment finds, and what an install does."""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from hpctl.sandbox.clock import UTC, patch_tuesday
from hpctl.sandbox.ids import stable_guid

BASELINE = "baseline"
UNPLANNED = "unplanned-baseline"
HOTPATCH = "hotpatch"
LCU = "lcu"
OOB = "oob"

CLASSIFICATIONS = (
    "Critical",
    "Security",
    "UpdateRollUp",
    "FeaturePack",
    "ServicePack",
    "Definition",
    "Tools",
    "Updates",
)

# Rough per-month steps of the build revision and KB number, for months the reference does not list yet.
_UBR_STEP = {"2025": 90, "2022": 70}
_KB_STEP = 3700
_LCU_KB_OFFSET = 43  # 2026-02: hotpatch KB5075942 vs LCU KB5075899


def load_json(name: str) -> Any:
    """One of the sandbox's own data files (hpctl/sandbox/data/)."""
    return json.loads(
        resources.files("hpctl.sandbox").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    )


def month_key(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _month_add(month: str, count: int) -> str:
    year, mon = (int(part) for part in month.split("-"))
    index = year * 12 + (mon - 1) + count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _month_diff(later: str, earlier: str) -> int:
    ly, lm = (int(p) for p in later.split("-"))
    ey, em = (int(p) for p in earlier.split("-"))
    return (ly - ey) * 12 + (lm - em)


def _tuesday(month: str) -> dt.date:
    year, mon = (int(part) for part in month.split("-"))
    return patch_tuesday(year, mon)


def _kb_number(kb: str) -> int:
    return int(kb.upper().removeprefix("KB"))


@dataclass(frozen=True)
class Release:
    """One cumulative update of one OS line: a baseline, a hotpatch, a regular LCU or an out-of-band LCU."""

    os: str
    month: str
    kind: str
    date: dt.date
    kb: str
    build: str
    projected: bool = False

    @property
    def ubr(self) -> int:
        return int(self.build.split(".")[1])

    @property
    def is_baseline(self) -> bool:
        return self.kind in (BASELINE, UNPLANNED)

    @property
    def keeps_track(self) -> bool:
        """Whether a hotpatch-enrolled VM on this release is on the hotpatch track."""
        return self.kind in (BASELINE, UNPLANNED, HOTPATCH)


@dataclass(frozen=True)
class Month:
    """A release month: the hotpatch (if it is a hotpatch month) and the regular LCU everyone else gets."""

    os: str
    month: str
    date: dt.date
    hotpatch: Release | None
    lcu: Release

    @property
    def track_release(self) -> Release | None:
        """What a VM on the hotpatch track installs this month (the hotpatch, or the baseline)."""
        if self.hotpatch is not None:
            return self.hotpatch
        return self.lcu if self.lcu.is_baseline else None


@dataclass(frozen=True)
class OsLine:
    """A Windows Server version the world knows."""

    key: str
    name: str
    os_name: str
    wu_product: str
    build_prefix: str
    hotpatch: bool
    hotpatch_until: str | None


class Calendar:
    """Release months per OS line, from data/releases.json, projected forward to cover `until`."""

    def __init__(self, until: dt.date, data: dict[str, Any] | None = None) -> None:
        data = data or load_json("releases.json")
        self.until = month_key(until)
        self.lines: dict[str, OsLine] = {}
        self._months: dict[str, list[Month]] = {}
        self._oob: dict[str, list[Release]] = {}
        for key, body in data["os"].items():
            self.lines[key] = OsLine(
                key,
                body["name"],
                body["osName"],
                body["wuProduct"],
                body["buildPrefix"],
                True,
                body.get("hotpatchUntil"),
            )
            self._months[key] = self._hotpatch_line(key, body)
            self._oob[key] = [
                Release(
                    key,
                    month_key(dt.date.fromisoformat(item["date"])),
                    OOB,
                    dt.date.fromisoformat(item["date"]),
                    item["kb"],
                    item["build"],
                )
                for item in body.get("outOfBand", [])
                if item.get("build")
            ]
        for key, body in data["regularOnly"].items():
            if key.startswith("_"):
                continue
            self.lines[key] = OsLine(
                key, body["name"], body["osName"], body["wuProduct"], body["buildPrefix"], False, None
            )
            self._months[key] = self._regular_line(key, body)
            self._oob[key] = []

    # -- building -------------------------------------------------------------------------------------

    def _hotpatch_line(self, os_key: str, body: dict[str, Any]) -> list[Month]:
        prefix = body["buildPrefix"]
        until_hotpatch = body.get("hotpatchUntil")
        rows: list[dict[str, Any]] = []
        for item in body["releases"]:
            rows.append(
                {
                    "month": item["month"],
                    "kind": item["kind"],
                    "date": dt.date.fromisoformat(item["date"]),
                    "kb": item["kb"],
                    "ubr": int(item["build"].split(".")[1]),
                    "projected": False,
                    "lcu": item.get("lcu"),
                }
            )
        last = rows[-1]
        step = _UBR_STEP.get(os_key, 80)
        month = last["month"]
        ubr = last["ubr"]
        kb = _kb_number(last["kb"])
        count = 0
        while month < self.until:
            month = _month_add(month, 1)
            count += 1
            ubr += step
            in_program = until_hotpatch is None or month <= until_hotpatch
            if not in_program:
                kind = LCU
            elif int(month[5:]) in (1, 4, 7, 10):
                kind = BASELINE
            else:
                kind = HOTPATCH
            rows.append(
                {
                    "month": month,
                    "kind": kind,
                    "date": _tuesday(month),
                    "kb": f"KB{kb + _KB_STEP * count}",
                    "ubr": ubr,
                    "projected": True,
                    "lcu": None,
                }
            )
        months: list[Month] = []
        for index, row in enumerate(rows):
            build = f"{prefix}.{row['ubr']}"
            main = Release(os_key, row["month"], row["kind"], row["date"], row["kb"], build, row["projected"])
            if row["kind"] != HOTPATCH:
                months.append(Month(os_key, row["month"], row["date"], None, main))
                continue
            if row["lcu"]:
                lcu = Release(
                    os_key,
                    row["month"],
                    LCU,
                    row["date"],
                    row["lcu"]["kb"],
                    row["lcu"]["build"],
                    row["projected"],
                )
            else:
                # The regular LCU of a hotpatch month has a higher build than the hotpatch and a lower one
                # than next month's release (the one documented pair, 2026-02, fits that).
                nxt = rows[index + 1]["ubr"] if index + 1 < len(rows) else row["ubr"] + 2 * step
                lcu_ubr = row["ubr"] + max(1, min(57, (nxt - row["ubr"]) // 2))
                lcu = Release(
                    os_key,
                    row["month"],
                    LCU,
                    row["date"],
                    f"KB{_kb_number(row['kb']) - _LCU_KB_OFFSET}",
                    f"{prefix}.{lcu_ubr}",
                    True,
                )
            months.append(Month(os_key, row["month"], row["date"], main, lcu))
        return months

    def _regular_line(self, os_key: str, body: dict[str, Any]) -> list[Month]:
        anchor = body["anchor"]
        prefix = body["buildPrefix"]
        month = anchor["month"]
        ubr = int(anchor["build"].split(".")[1])
        kb = _kb_number(anchor["kb"])
        months = [
            Month(
                os_key,
                month,
                dt.date.fromisoformat(anchor["date"]),
                None,
                Release(
                    os_key, month, LCU, dt.date.fromisoformat(anchor["date"]), anchor["kb"], anchor["build"]
                ),
            )
        ]
        count = 0
        while month < self.until:
            month = _month_add(month, 1)
            count += 1
            release = Release(
                os_key,
                month,
                LCU,
                _tuesday(month),
                f"KB{kb + _KB_STEP * count}",
                f"{prefix}.{ubr + body['ubrStep'] * count}",
                True,
            )
            months.append(Month(os_key, month, release.date, None, release))
        return months

    # -- lookups --------------------------------------------------------------------------------------

    def months(self, os_key: str) -> list[Month]:
        return self._months[os_key]

    def month_at(self, os_key: str, on: dt.date) -> Month:
        """The latest release month out on `on` (a month counts from its Patch Tuesday)."""
        released = [m for m in self._months[os_key] if m.date <= on]
        if not released:
            return self._months[os_key][0]
        return released[-1]

    def month(self, os_key: str, month: str) -> Month:
        """A release month by key (YYYY-MM), clamped to the first month known."""
        for entry in self._months[os_key]:
            if entry.month == month:
                return entry
        return self._months[os_key][0]

    def months_back(self, os_key: str, on: dt.date, count: int) -> Month:
        """The release month `count` months before the current one (clamped to the first known)."""
        released = [m for m in self._months[os_key] if m.date <= on]
        if not released:
            return self._months[os_key][0]
        return released[max(0, len(released) - 1 - count)]

    def releases(self, os_key: str) -> Iterable[Release]:
        for month in self._months[os_key]:
            if month.hotpatch is not None:
                yield month.hotpatch
            yield month.lcu
        yield from self._oob[os_key]

    def oob(self, os_key: str, kb: str) -> Release:
        for release in self._oob[os_key]:
            if release.kb.upper() == kb.upper():
                return release
        raise KeyError(f"no out-of-band release {kb} with a known build for {os_key}")

    def release_for_build(self, os_key: str, build: str) -> Release:
        """The release a VM on `build` has installed; an unknown build counts as an off-track LCU."""
        for release in self.releases(os_key):
            if release.build == build:
                return release
        ubr = int(build.split(".")[1])
        older = [m for m in self._months[os_key] if m.lcu.ubr <= ubr]
        base = older[-1] if older else self._months[os_key][0]
        return Release(os_key, base.month, LCU, base.date, "", build, True)

    def baseline_of(self, release: Release) -> Release | None:
        """The baseline a release sits on, if it keeps the VM on the hotpatch track."""
        if release.is_baseline:
            return release
        if release.kind != HOTPATCH:
            return None
        earlier = [m.lcu for m in self._months[release.os] if m.month < release.month and m.lcu.is_baseline]
        return earlier[-1] if earlier else None

    def latest_baseline(self, os_key: str, on: dt.date) -> Release | None:
        baselines = [m.lcu for m in self._months[os_key] if m.date <= on and m.lcu.is_baseline]
        return baselines[-1] if baselines else None


@dataclass(frozen=True)
class Patch:
    """One update as an assessment lists it and an installation handles it."""

    kb: str  # digits only, as kbId is on the wire
    name: str
    classifications: tuple[str, ...]
    reboot_behavior: str  # NeverReboots | CanRequestReboot | AlwaysRequiresReboot
    needs_reboot: bool  # whether installing it really leaves a reboot to do
    published: dt.datetime
    kind: str  # cumulative | definition | msrt | dotnet
    month: str
    minutes: int  # simulated install time
    release: Release | None = None

    @property
    def patch_id(self) -> str:
        return stable_guid("patch", self.kind, self.kb, self.month, self.release.os if self.release else "")

    @property
    def critical_or_security(self) -> bool:
        return bool({"Critical", "Security"} & set(self.classifications))


@dataclass
class PatchState:
    """What is installed on one VM: its cumulative level, the build it runs, the extras it has."""

    os: str
    level: Release  # the last cumulative update installed (maybe awaiting a reboot)
    running: Release  # the one the running OS reports (differs from level while a reboot is pending)
    extras: dict[str, str] = field(default_factory=dict)  # kind -> month installed
    reboot_pending: bool = False
    # The cumulative updates in the component store, oldest first (the guest's servicing packages); the last
    # one is `level`. Removing one (DISM) takes it out here and leaves it in `removing` until a restart.
    history: list[Release] = field(default_factory=list)
    removing: list[Release] = field(default_factory=list)

    @property
    def build(self) -> str:
        return self.running.build


@dataclass(frozen=True)
class InstallRequest:
    """installPatches parameters, already validated (windowsParameters + rebootSetting + maximumDuration)."""

    reboot_setting: str
    maximum_minutes: float | None = None
    classifications: tuple[str, ...] = ()
    kb_include: tuple[str, ...] = ()
    kb_exclude: tuple[str, ...] = ()
    exclude_reboot: bool = False
    max_publish: dt.datetime | None = None
    name_include: tuple[str, ...] = ()
    name_exclude: tuple[str, ...] = ()


@dataclass
class InstallPlan:
    """Per-patch outcome of an installation, before it is applied."""

    outcomes: list[tuple[Patch, str]]  # (patch, Installed|Failed|Excluded|NotSelected|Pending)
    reboot: bool  # whether the VM reboots at the end
    reboot_status: str  # NotNeeded | Required | Completed
    window_exceeded: bool
    minutes: float


class World:
    """The rules of the simulated world, on the calendar as of `today`."""

    def __init__(self, today: dt.date) -> None:
        self.today = today
        self.calendar = Calendar(today)

    # -- what a VM runs -------------------------------------------------------------------------------

    def line(self, os_key: str) -> OsLine:
        return self.calendar.lines[os_key]

    def hotpatch_active(self, os_key: str, on: dt.date) -> bool:
        line = self.calendar.lines[os_key]
        if not line.hotpatch:
            return False
        return line.hotpatch_until is None or month_key(on) <= line.hotpatch_until

    def state_on_build(self, os_key: str, build: str) -> PatchState:
        release = self.calendar.release_for_build(os_key, build)
        return PatchState(
            os_key,
            release,
            release,
            extras={k: release.month for k in ("msrt", "dotnet")},
            history=self.history_for(release),
        )

    def state_for(self, os_key: str, enrolled: bool, standing: str, on: dt.date) -> PatchState:
        """A VM's state for a named standing: current, behind1, behind2, offtrack, reboot-pending."""
        cal = self.calendar
        track = enrolled and self.hotpatch_active(os_key, on)

        def level_months_back(count: int) -> Release:
            month = cal.months_back(os_key, on, count)
            if track and month.track_release is not None:
                # A VM on the track that is `count` months behind is on that month's track release.
                return month.track_release
            return month.lcu

        running: Release | None = None
        pending = False
        if standing == "current":
            level = level_months_back(0)
        elif standing == "behind1":
            level = level_months_back(1)
        elif standing == "behind2":
            level = level_months_back(2)
        elif standing == "offtrack":
            if os_key == "2025":
                level = cal.oob("2025", "KB5070881")
            else:
                level = cal.months_back(os_key, on, 1).lcu
                if level.kind != LCU:
                    level = cal.months_back(os_key, on, 2).lcu
        elif standing == "reboot-pending":
            # The month's cumulative update is installed but the VM has not restarted into it yet.
            if track:
                level = cal.latest_baseline(os_key, on) or cal.month_at(os_key, on).lcu
                before = cal.month(os_key, _month_add(level.month, -1))
                running = before.track_release or before.lcu
            else:
                level = cal.month_at(os_key, on).lcu
                running = cal.months_back(os_key, on, 1).lcu
            pending = True
        else:
            raise ValueError(f"unknown standing {standing!r}")
        return PatchState(
            os_key,
            level,
            running or level,
            extras={"msrt": level.month, "dotnet": level.month, "definition": _month_add(level.month, -1)},
            reboot_pending=pending,
            history=self.history_for(level),
        )

    def history_for(self, level: Release) -> list[Release]:
        """The cumulative updates a VM at `level` has in its component store, oldest first.

        On the hotpatch track (and for an out-of-band update on top of it): the baseline the level sits on,
        the hotpatches since, and the release before that baseline (superseded, still in the store). A
        regular LCU supersedes the previous month's LCU, which stays in the store too.
        """
        cal = self.calendar
        if level.kind == LCU:
            before = cal.month(level.os, _month_add(level.month, -1)).lcu
            return [before, level] if before.ubr < level.ubr else [level]
        baselines = [
            m.lcu for m in cal.months(level.os) if m.lcu.is_baseline and m.lcu.ubr <= level.ubr
        ]
        if not baselines:
            return [level]
        base = baselines[-1]
        history: list[Release] = []
        previous = cal.month(level.os, _month_add(base.month, -1))
        earlier = previous.track_release or previous.lcu
        if earlier.ubr < base.ubr:
            history.append(earlier)
        history.append(base)
        for month in cal.months(level.os):
            hotpatch = month.hotpatch
            if hotpatch is not None and base.ubr < hotpatch.ubr <= level.ubr and hotpatch.month > base.month:
                history.append(hotpatch)
        if history[-1] != level:
            history.append(level)
        return history

    # -- assessment -----------------------------------------------------------------------------------

    def available(self, state: PatchState, enrolled: bool, on: dt.date) -> list[Patch]:
        """What an assessment on `on` finds on a VM."""
        cal = self.calendar
        month = cal.month_at(state.os, on)
        patches: list[Patch] = []
        release = self._cumulative_offer(state, enrolled, month, on)
        if release is not None:
            patches.append(self.cumulative_patch(release))
        for extra in self.monthly_extras(state.os, month):
            if state.extras.get(extra.kind, "") < extra.month:
                patches.append(extra)
        return patches

    def _cumulative_offer(
        self, state: PatchState, enrolled: bool, month: Month, on: dt.date
    ) -> Release | None:
        level = state.level
        if enrolled and self.hotpatch_active(state.os, on):
            current_baseline = self.calendar.latest_baseline(state.os, on)
            on_track = level.keeps_track and self.calendar.baseline_of(level) == current_baseline
            if on_track:
                target = month.hotpatch
                return target if target is not None and level.ubr < target.ubr else None
            # Off the track, or on an older baseline: Windows Update offers the month's regular LCU, which
            # needs a restart and (in a hotpatch month) keeps the VM off the track until the next baseline.
        target = month.lcu
        return target if level.ubr < target.ubr else None

    def cumulative_patch(self, release: Release) -> Patch:
        line = self.calendar.lines[release.os]
        published = dt.datetime.combine(release.date, dt.time(0, 0), tzinfo=UTC)
        if release.kind == HOTPATCH:
            name = (
                f"{release.month} Security Hotpatch Update for {line.wu_product} for x64-based Systems "
                f"({release.kb})"
            )
            return Patch(
                release.kb.removeprefix("KB"),
                name,
                ("Security",),
                "NeverReboots",
                False,
                published,
                "cumulative",
                release.month,
                8,
                release,
            )
        name = f"{release.month} Cumulative Update for {line.wu_product} for x64-based Systems ({release.kb})"
        return Patch(
            release.kb.removeprefix("KB"),
            name,
            ("Security",),
            "AlwaysRequiresReboot",
            True,
            published,
            "cumulative",
            release.month,
            20,
            release,
        )

    def monthly_extras(self, os_key: str, month: Month) -> list[Patch]:
        """The monthly non-cumulative updates: Defender intelligence, MSRT, the .NET Framework update."""
        line = self.calendar.lines[os_key]
        index = _month_diff(month.month, "2024-08")
        published = dt.datetime.combine(month.date, dt.time(0, 0), tzinfo=UTC)
        definition = Patch(
            "2267602",
            f"Security Intelligence Update for Microsoft Defender Antivirus - KB2267602 "
            f"(Version 1.{415 + index}.{(index * 37) % 500 + 100}.0) - Current Channel (Broad)",
            ("Definition",),
            "NeverReboots",
            False,
            published,
            "definition",
            month.month,
            1,
        )
        # MSRT v5.127 shipped in August 2024 (seen in the real installPatches recording).
        msrt = Patch(
            "890830",
            f"Windows Malicious Software Removal Tool x64 - v5.{127 + index} (KB890830)",
            ("UpdateRollUp",),
            "CanRequestReboot",
            False,
            published,
            "msrt",
            month.month,
            3,
        )
        dotnet_kb = str(_kb_number(month.lcu.kb) + 11)
        dotnet = Patch(
            dotnet_kb,
            f"{month.month} Cumulative Update for .NET Framework 3.5, 4.8 and 4.8.1 for "
            f"{line.wu_product} for x64 (KB{dotnet_kb})",
            ("Updates",),
            "CanRequestReboot",
            True,
            published,
            "dotnet",
            month.month,
            10,
        )
        return [definition, msrt, dotnet]

    # -- installation ---------------------------------------------------------------------------------

    def plan(
        self,
        available: list[Patch],
        request: InstallRequest,
        reboot_pending: bool,
        fail_kbs: Iterable[str] = (),
    ) -> InstallPlan:
        """Which patches an installation picks, which it installs, and whether the VM reboots."""
        failing = {kb.upper().removeprefix("KB") for kb in fail_kbs}
        include_kbs = {kb.upper().removeprefix("KB") for kb in request.kb_include}
        exclude_kbs = {kb.upper().removeprefix("KB") for kb in request.kb_exclude}
        wanted = set(request.classifications)
        outcomes: list[tuple[Patch, str]] = []
        minutes = 0.0
        budget = request.maximum_minutes
        window_exceeded = False
        needs_reboot = False
        for patch in available:
            state = "Pending"
            selected = bool(wanted & set(patch.classifications)) or patch.kb in include_kbs
            if request.name_include and not any(
                fnmatch.fnmatch(patch.name.lower(), m.lower()) for m in request.name_include
            ):
                selected = selected and patch.kb in include_kbs
            if not selected:
                state = "Excluded"  # real CRP reports classification misses as Excluded, not NotSelected
            elif patch.kb in exclude_kbs:
                state = "Excluded"
            elif any(fnmatch.fnmatch(patch.name.lower(), m.lower()) for m in request.name_exclude):
                state = "Excluded"
            elif request.exclude_reboot and patch.reboot_behavior != "NeverReboots":
                state = "Excluded"
            elif request.max_publish is not None and patch.published > request.max_publish:
                state = "NotSelected"
            if state == "Pending":
                if budget is not None and minutes + patch.minutes > budget:
                    window_exceeded = True
                elif patch.kb in failing:
                    minutes += patch.minutes
                    state = "Failed"
                else:
                    minutes += patch.minutes
                    state = "Installed"
                    needs_reboot = needs_reboot or patch.needs_reboot
            outcomes.append((patch, state))
        setting = request.reboot_setting
        if setting == "Always" or (setting == "IfRequired" and (needs_reboot or reboot_pending)):
            return InstallPlan(outcomes, True, "Completed", window_exceeded, minutes + 5)
        if needs_reboot or reboot_pending:
            return InstallPlan(outcomes, False, "Required", window_exceeded, minutes)
        return InstallPlan(outcomes, False, "NotNeeded", window_exceeded, minutes)

    @staticmethod
    def apply(state: PatchState, plan: InstallPlan) -> None:
        """Change the VM as the installation did."""
        for patch, outcome in plan.outcomes:
            if outcome != "Installed":
                continue
            if patch.kind == "cumulative" and patch.release is not None:
                state.level = patch.release
                if patch.release not in state.history:
                    state.history.append(patch.release)
                if patch.needs_reboot:
                    state.reboot_pending = True
                elif not state.reboot_pending:
                    state.running = patch.release  # a hotpatch takes effect in memory at once
            else:
                state.extras[patch.kind] = patch.month
                if patch.needs_reboot:
                    state.reboot_pending = True
        if plan.reboot:
            World.restart(state)

    @staticmethod
    def restart(state: PatchState) -> None:
        """A restart brings up the installed level and finishes pending removals."""
        state.running = state.level
        state.reboot_pending = False
        state.removing.clear()

    def remove(self, state: PatchState, release: Release) -> None:
        """Uninstall a cumulative update (DISM /Remove-Package): the newest one left becomes the level, and
        the VM runs the removed one until it restarts. With none left in the store, the OS falls back to what
        preceded the release's baseline (so the baseline has to be installed again)."""
        state.history.remove(release)
        state.removing.append(release)
        if state.history:
            state.level = state.history[-1]
        else:
            base = self.calendar.baseline_of(release) or release
            before = self.calendar.month(release.os, _month_add(base.month, -1))
            state.level = before.track_release or before.lcu
        state.reboot_pending = True

    def requested(self, state: PatchState, request: InstallRequest, available: list[Patch]) -> list[Patch]:
        """Baselines an install asks for by KB that are newer than the VM's level and not offered already
        (how a rollback puts a missing baseline back)."""
        wanted = {kb.upper().removeprefix("KB") for kb in request.kb_include}
        offered = {p.kb for p in available}
        return [
            self.cumulative_patch(r)
            for r in self.calendar.releases(state.os)
            if r.is_baseline and r.kb.upper().removeprefix("KB") in wanted and r.ubr > state.level.ubr
            and r.kb.removeprefix("KB") not in offered and r.date <= self.today
        ]

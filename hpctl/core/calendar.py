"""The hotpatch release calendar: known releases per OS line from data, the quarterly rule for the rest."""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hpctl.errors import InputError

CALENDAR_ENV = "HPCTL_CALENDAR_FILE"
# Where `hpctl calendar refresh` writes by default, and where every command then reads the calendar from.
DEFAULT_CALENDAR_FILE = "~/.hpctl/calendar.json"
REFRESH_COMMAND = "hpctl calendar refresh"
SCHEMA_VERSION = 1

OS_LINES = ("2022", "2025")
BASELINE = "baseline"
UNPLANNED_BASELINE = "unplanned-baseline"
HOTPATCH = "hotpatch"
KINDS = (BASELINE, UNPLANNED_BASELINE, HOTPATCH)
PLANNED_BASELINE_MONTHS = (1, 4, 7, 10)

OUT_OF_BAND = "out-of-band"
LCU = "lcu"

# Outside these years a year is a typo (e.g. 20260 or 26), not a question about the hotpatch program.
MIN_YEAR = 2000
MAX_YEAR = 2100

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_KB_RE = re.compile(r"^KB\d{6,8}$", re.IGNORECASE)
_PREFIX_RE = re.compile(r"^\d{4,5}$")
_KIND_WORDS = {BASELINE: "baseline", UNPLANNED_BASELINE: "unplanned baseline", HOTPATCH: "hotpatch"}
_OS_HELP = (
    "use 2022 (Windows Server 2022 Datacenter: Azure Edition, builds 20348.x) "
    "or 2025 (Windows Server 2025 Datacenter: Azure Edition, builds 26100.x)"
)


def patch_tuesday(year: int, month: int) -> date:
    """The second Tuesday of the month: the monthly "B" release day."""
    _check_year(year)
    _check_month_number(month)
    first = date(year, month, 1)
    # Monday is 0, so Tuesday is 1.
    to_first_tuesday = (1 - first.weekday()) % 7
    return first + timedelta(days=to_first_tuesday + 7)


@dataclass(frozen=True)
class Release:
    """One month of an OS line's hotpatch calendar: a baseline (reboot) or a hotpatch (no reboot)."""

    os: str
    month: str
    date: date
    kind: str
    kb: str | None
    build: str | None
    reboot: bool
    # True when the month comes from the calendar data; False when predicted by the quarterly rule.
    known: bool
    note: str | None = None
    # Where the month's facts come from (a reference section, MSRC document), when the data says.
    source: str | None = None

    @property
    def ubr(self) -> int | None:
        """The update build revision (the part after the dot of the build), if the build is known."""
        return int(self.build.split(".", 1)[1]) if self.build else None

    def describe(self) -> str:
        """A short human label, e.g. '2026-01 baseline KB5073379 (26100.32230)'."""
        text = f"{self.month} {_KIND_WORDS.get(self.kind, self.kind)}"
        if self.kb:
            text += f" {self.kb}"
        if self.build:
            text += f" ({self.build})"
        if not self.known:
            text += " (predicted)"
        return text

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (dates as ISO strings)."""
        return {
            "os": self.os,
            "month": self.month,
            "date": self.date.isoformat(),
            "kind": self.kind,
            "kb": self.kb,
            "build": self.build,
            "reboot": self.reboot,
            "known": self.known,
            "note": self.note,
            "source": self.source,
        }


@dataclass(frozen=True)
class OtherUpdate:
    """An update of an OS line outside the hotpatch calendar: an out-of-band update or a month's LCU."""

    os: str
    kind: str  # OUT_OF_BAND or LCU
    kb: str
    date: date
    build: str | None
    # False when installing it moves a hotpatch VM off the track (to regular LCUs until the next baseline).
    keeps_track: bool
    month: str | None = None
    note: str | None = None

    @property
    def ubr(self) -> int | None:
        """The update build revision, if the build is known."""
        return int(self.build.split(".", 1)[1]) if self.build else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (dates as ISO strings)."""
        return {
            "os": self.os,
            "kind": self.kind,
            "kb": self.kb,
            "date": self.date.isoformat(),
            "build": self.build,
            "keeps_track": self.keeps_track,
            "month": self.month,
            "note": self.note,
        }


@dataclass(frozen=True)
class OsLine:
    """The calendar data of one OS line (2022 or 2025)."""

    os: str
    name: str
    build_prefix: str
    first_month: str
    last_month: str | None
    releases: tuple[Release, ...]
    other_updates: tuple[OtherUpdate, ...] = ()
    # The build VMs start on before the first listed baseline (WS2025's GA image); an anchor, not a month.
    initial: Release | None = None
    source: str | None = None
    notes: tuple[str, ...] = ()
    _by_month: Mapping[str, Release] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_month", MappingProxyType({r.month: r for r in self.releases}))

    def known_month(self, month: str) -> Release | None:
        """The release listed in the data for a YYYY-MM month, or None."""
        return self._by_month.get(month)

    @property
    def known_until(self) -> str:
        """The last month the data lists (later months are predicted by the rule)."""
        return self.releases[-1].month

    @property
    def label(self) -> str:
        """Short name used in messages, e.g. 'WS2025'."""
        return f"WS{self.os}"


@dataclass(frozen=True)
class Staleness:
    """The calendar is older than the day: Patch Tuesdays have passed that its data does not list."""

    origin: str
    ends: str  # the last month the data lists (the earliest such month among the stale OS lines)
    months: tuple[str, ...]  # the months released since, oldest first
    lines: tuple[str, ...]  # the OS lines concerned

    @property
    def message(self) -> str:
        """One line: what is old and what that means."""
        span = self.months[0] if len(self.months) == 1 else f"{self.months[0]}..{self.months[-1]}"
        count = f"{len(self.months)} Patch Tuesday" + ("s" if len(self.months) > 1 else "")
        return (f"the hotpatch calendar ({self.origin}) ends at {self.ends}; {count} since ({span}) are not in it, "
                "so tracks and reboot dates after it are not known")

    @property
    def hint(self) -> str:
        return f"Run `{REFRESH_COMMAND}` to update it from Microsoft's Security Update Guide."

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields for reports."""
        return {"origin": self.origin, "endsAt": self.ends, "unknownMonths": list(self.months),
                "osLines": list(self.lines), "message": self.message, "fix": REFRESH_COMMAND}


@dataclass(frozen=True)
class Calendar:
    """Known releases of both OS lines, plus the rule (Jan/Apr/Jul/Oct baseline, else hotpatch)."""

    lines: Mapping[str, OsLine]
    schema_version: int = SCHEMA_VERSION
    as_of: date | None = None
    origin: str = "built-in"

    def staleness(self, today: date) -> Staleness | None:
        """Whether a release day has passed that the data does not list (None when the data is current)."""
        today = to_date(today)
        months: set[str] = set()
        stale_lines: list[str] = []
        ends: list[str] = []
        for key, line in self.lines.items():
            unknown = self.unknown_months(key, today)
            if unknown:
                months.update(unknown)
                stale_lines.append(key)
                ends.append(line.known_until)
        if not months:
            return None
        return Staleness(self.origin, min(ends), tuple(sorted(months)), tuple(stale_lines))

    def unknown_months(self, os: str, today: date) -> list[str]:
        """Months after the line's data whose Patch Tuesday is on or before `today` (inside its program)."""
        line = self.line(os)
        _, last = self._bounds(line)
        index = _index(*parse_month(line.known_until)) + 1
        stop = min(last, _index(today.year, today.month))
        found = []
        while index <= stop:
            year, month = divmod(index, 12)
            if patch_tuesday(year, month + 1) <= today:
                found.append(_month_str(index))
            index += 1
        return found

    def line(self, os: str) -> OsLine:
        """The data of one OS line; os is "2022" or "2025"."""
        key = normalize_os(os)
        try:
            return self.lines[key]
        except KeyError:
            raise InputError(f"the calendar ({self.origin}) has no OS line {key}", hint=_OS_HELP) from None

    def release(self, os: str, year: int, month: int) -> Release:
        """The release of one month: from the data when known, else predicted by the rule."""
        line = self.line(os)
        _check_year(year)
        _check_month_number(month)
        self._check_in_program(line, _index(year, month))
        return self._at(line, _index(year, month))

    def month(self, os: str, month: str) -> Release:
        """The release of a month given as "YYYY-MM"."""
        year, number = parse_month(month)
        return self.release(os, year, number)

    def year(self, os: str, year: int) -> list[Release]:
        """The releases of one calendar year (only the months inside the OS line's hotpatch program)."""
        line = self.line(os)
        _check_year(year)
        first, last = self._bounds(line)
        months = [i for i in range(_index(year, 1), _index(year, 12) + 1) if first <= i <= last]
        if not months:
            # Reuse the before-start / after-end messages, which say what range exists.
            self._check_in_program(line, _index(year, 1) if _index(year, 1) > last else _index(year, 12))
        return [self._at(line, i) for i in months]

    def releases(self, os: str) -> list[Release]:
        """The known (data) releases of an OS line, oldest first."""
        return list(self.line(os).releases)

    def out_of_band(self, os: str) -> list[OtherUpdate]:
        """Documented out-of-band updates of an OS line, oldest first."""
        return [u for u in self.line(os).other_updates if u.kind == OUT_OF_BAND]

    def lcus(self, os: str) -> list[OtherUpdate]:
        """Documented regular LCUs of hotpatch months (a VM on one is off the hotpatch track)."""
        return [u for u in self.line(os).other_updates if u.kind == LCU]

    def releases_between(self, os: str, after: date, until: date) -> list[Release]:
        """Releases (known or predicted) dated after `after` and on or before `until`, oldest first."""
        line = self.line(os)
        after, until = to_date(after), to_date(until)
        first, last = self._bounds(line)
        start = max(first, _index(after.year, after.month))
        stop = min(last, _index(until.year, until.month))
        found = [self._at(line, i) for i in range(start, stop + 1)]
        return [r for r in found if after < r.date <= until]

    def latest_release(self, os: str, on: date) -> Release:
        """The latest release dated on or before `on`."""
        return self._latest(os, on, reboot_only=False)

    def latest_baseline(self, os: str, on: date) -> Release:
        """The latest baseline (planned or unplanned) dated on or before `on`."""
        return self._latest(os, on, reboot_only=True)

    def next_reboot(self, os: str, after: date) -> Release:
        """The first baseline (a release that reboots) dated on or after `after`."""
        line = self.line(os)
        after = to_date(after)
        _check_year(after.year)
        first, last = self._bounds(line)
        index = max(first, _index(after.year, after.month))
        # Planned baselines come every three months, so the rule always finds one within a few months.
        stop = min(last, index + 12)
        while index <= stop:
            release = self._at(line, index)
            if release.reboot and release.date >= after:
                return release
            index += 1
        raise InputError(
            f"no {line.label} baseline on or after {after.isoformat()}: "
            f"hotpatch for {line.label} ends with {line.last_month}",
            hint=_newer_calendar_hint(),
        )

    def _latest(self, os: str, on: date, *, reboot_only: bool) -> Release:
        line = self.line(os)
        on = to_date(on)
        _check_year(on.year)
        first, last = self._bounds(line)
        index = min(last, _index(on.year, on.month))
        while index >= first:
            release = self._at(line, index)
            if release.date <= on and (release.reboot or not reboot_only):
                return release
            index -= 1
        what = "baseline" if reboot_only else "release"
        first_release = self._at(line, first)
        raise InputError(
            f"no {line.label} hotpatch {what} on or before {on.isoformat()}: "
            f"the {line.label} calendar starts with {first_release.month} ({first_release.date.isoformat()})"
        )

    def _bounds(self, line: OsLine) -> tuple[int, int]:
        first = _index(*parse_month(line.first_month))
        last = _index(*parse_month(line.last_month)) if line.last_month else _index(MAX_YEAR, 12)
        return first, last

    def _check_in_program(self, line: OsLine, index: int) -> None:
        first, last = self._bounds(line)
        if index < first:
            raise InputError(
                f"no hotpatch program for {line.label} before {line.first_month} "
                f"(asked for {_month_str(index)})",
                hint=f"{line.label} hotpatch releases start with {line.first_month}.",
            )
        if index > last:
            raise InputError(
                f"hotpatch for {line.label} ends with {line.last_month} (asked for {_month_str(index)})",
                hint=_newer_calendar_hint(),
            )

    def _at(self, line: OsLine, index: int) -> Release:
        key = _month_str(index)
        known = line.known_month(key)
        if known is not None:
            return known
        year, month = divmod(index, 12)
        month += 1
        kind = BASELINE if month in PLANNED_BASELINE_MONTHS else HOTPATCH
        return Release(
            os=line.os,
            month=key,
            date=patch_tuesday(year, month),
            kind=kind,
            kb=None,
            build=None,
            reboot=kind != HOTPATCH,
            known=False,
        )


def normalize_os(os: str | int) -> str:
    """The OS line, "2022" or "2025", from user input; anything else is an InputError saying what to use."""
    text = str(os).strip().lower() if isinstance(os, (str, int)) and not isinstance(os, bool) else ""
    if text in OS_LINES:
        return text
    hint = _OS_HELP[0].upper() + _OS_HELP[1:] + "."
    for line, prefix in (("2022", "20348"), ("2025", "26100")):
        if line in text or prefix in text:
            hint = f"Did you mean {line}? The OS line is just the year: 2022 or 2025."
    raise InputError(f"unknown OS line {os!r}: {_OS_HELP}", hint=hint)


def parse_month(text: str) -> tuple[int, int]:
    """(year, month) from "YYYY-MM"; anything else is an InputError."""
    match = _MONTH_RE.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise InputError(f"month must be YYYY-MM, e.g. 2026-07 (got {text!r})")
    year, month = int(match.group(1)), int(match.group(2))
    _check_year(year)
    _check_month_number(month)
    return year, month


def default_calendar_file() -> Path:
    """~/.hpctl/calendar.json: what `hpctl calendar refresh` writes and every command reads first."""
    return Path(DEFAULT_CALENDAR_FILE).expanduser()


def calendar_file_in_use(path: Path | str | None = None) -> Path | None:
    """The calendar file a command would read (None: the built-in one)."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(CALENDAR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    default = default_calendar_file()
    return default if default.is_file() else None


def load_calendar(path: Path | str | None = None) -> Calendar:
    """The calendar from `path`, else from $HPCTL_CALENDAR_FILE, else from ~/.hpctl/calendar.json (written
    by `hpctl calendar refresh`), else the one packaged with hpctl.

    A newer calendar file lets users follow Microsoft's releases without upgrading hpctl. The refreshed
    file is merged with the built-in data, so a newer hpctl's months are never hidden by an older refresh.
    """
    if path is not None:
        file = Path(path).expanduser()
        hint = "Fix the file, or leave out the calendar file to use hpctl's built-in calendar."
        return _parse(_read(file, "", hint), str(file), hint)
    env = os.environ.get(CALENDAR_ENV, "").strip()
    if env:
        file = Path(env).expanduser()
        hint = f"Fix the file, or unset {CALENDAR_ENV} to use hpctl's built-in calendar."
        return _parse(_read(file, f" (from {CALENDAR_ENV})", hint), str(file), hint)
    builtin = builtin_calendar()
    default = default_calendar_file()
    if not default.is_file():
        return builtin
    hint = f"Fix or delete {default}, or run `{REFRESH_COMMAND}` to write it again."
    refreshed = _parse(_read(default, "", hint), str(default), hint)
    from hpctl.core.calendar_merge import merge_calendars

    return merge_calendars(refreshed, builtin).calendar


def builtin_calendar() -> Calendar:
    """The calendar packaged with hpctl."""
    text = resources.files("hpctl.core").joinpath("data/calendar.json").read_text(encoding="utf-8")
    hint = f"hpctl's built-in calendar is damaged: reinstall hpctl, or point {CALENDAR_ENV} at a good file."
    return _parse(text, "built-in", hint)


def parse_calendar(text: str, origin: str, hint: str) -> Calendar:
    """A calendar from the text of a calendar file (validated as load_calendar does)."""
    return _parse(text, origin, hint)


def _read(file: Path, how: str, hint: str) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"calendar file {file}{how} does not exist", hint=hint) from None
    except UnicodeDecodeError:
        raise InputError(f"calendar file {file}{how} is not UTF-8 text", hint=hint) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"calendar file {file}{how} cannot be read: {reason}", hint=hint) from None


class _Reader:
    """Validates a decoded calendar document; every error names the place in the file and the fix."""

    def __init__(self, origin: str, hint: str):
        self.origin = origin
        self.hint = hint

    def fail(self, where: str, message: str) -> InputError:
        place = f"calendar file {self.origin}" if self.origin != "built-in" else "built-in calendar"
        return InputError(f"{place}: {where}: {message}", hint=self.hint)

    def obj(self, value: Any, where: str, required: set[str], optional: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a JSON object (got {_json_type(value)})")
        for key in sorted(required - value.keys()):
            raise self.fail(where, f"missing key '{key}'")
        for key in sorted(value.keys() - required - optional):
            allowed = ", ".join(sorted(required | optional))
            raise self.fail(where, f"unknown key '{key}' (allowed: {allowed})")
        return value

    def text(self, value: Any, where: str, key: str, *, nullable: bool = False) -> str | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"'{key}' must be a non-empty string (got {_show(value)})")
        return value

    def month(self, value: Any, where: str, key: str) -> str:
        if not isinstance(value, str) or not _MONTH_RE.match(value):
            raise self.fail(where, f"'{key}' must be YYYY-MM, e.g. 2026-07 (got {_show(value)})")
        year, month = int(value[:4]), int(value[5:])
        if not 1 <= month <= 12 or not MIN_YEAR <= year <= MAX_YEAR:
            raise self.fail(where, f"'{key}' {value} is not a month between {MIN_YEAR}-01 and {MAX_YEAR}-12")
        return value

    def day(self, value: Any, where: str, key: str) -> date:
        if not isinstance(value, str) or not _DATE_RE.match(value):
            raise self.fail(where, f"'{key}' must be a date YYYY-MM-DD (got {_show(value)})")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(where, f"'{key}' {value} is not a real date") from None

    def kb(self, value: Any, where: str, *, nullable: bool) -> str | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not _KB_RE.match(value):
            raise self.fail(where, f"'kb' must look like KB5046696 (got {_show(value)})")
        return value.upper()

    def build(self, value: Any, where: str, prefix: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not re.fullmatch(rf"{prefix}\.\d{{1,7}}", value):
            example = f"'{prefix}.<revision>', e.g. {prefix}.1234"
            raise self.fail(where, f"'build' must be {example} (got {_show(value)})")
        return value


# Keyed by the file's text, not its path: code that judges VMs one at a time may load the calendar for each (status
# did: re-parsing cost a third of it on 1,000 VMs); a changed file is a new key, so it is always seen.
@functools.lru_cache(maxsize=8)
def _parse(text: str, origin: str, hint: str) -> Calendar:
    reader = _Reader(origin, hint)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise reader.fail(f"line {exc.lineno} column {exc.colno}", f"not valid JSON: {exc.msg}") from None
    top = reader.obj(doc, "top level", {"schema_version", "os"}, {"as_of", "source", "notes"})
    version = top["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise reader.fail("schema_version", f"must be the integer {SCHEMA_VERSION} (got {_show(version)})")
    if version != SCHEMA_VERSION:
        raise reader.fail(
            "schema_version",
            f"version {version} is not supported by this hpctl (it reads version {SCHEMA_VERSION}); "
            "upgrade hpctl or use a version-1 file",
        )
    as_of = reader.day(top["as_of"], "top level", "as_of") if top.get("as_of") is not None else None
    lines_doc = top["os"]
    if not isinstance(lines_doc, dict):
        raise reader.fail("os", f"must be a JSON object keyed by OS line (got {_json_type(lines_doc)})")
    for key in lines_doc:
        if key not in OS_LINES:
            raise reader.fail("os", f"unknown OS line '{key}' (use '2022' or '2025')")
    for key in OS_LINES:
        if key not in lines_doc:
            raise reader.fail("os", f"missing OS line '{key}' (a calendar file must define 2022 and 2025)")
    lines = {key: _parse_line(reader, key, lines_doc[key]) for key in OS_LINES}
    return Calendar(lines=MappingProxyType(lines), schema_version=version, as_of=as_of, origin=origin)


def _parse_line(reader: _Reader, os_key: str, doc: Any) -> OsLine:
    where = f"os '{os_key}'"
    body = reader.obj(
        doc,
        where,
        {"name", "build_prefix", "months"},
        {"last_month", "source", "notes", "initial", "out_of_band", "lcus"},
    )
    name = reader.text(body["name"], where, "name")
    prefix = body["build_prefix"]
    if not isinstance(prefix, str) or not _PREFIX_RE.match(prefix):
        raise reader.fail(where, f"'build_prefix' must be the build number, e.g. 26100 (got {_show(prefix)})")
    source = reader.text(body.get("source"), where, "source", nullable=True)
    notes = body.get("notes") or []
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise reader.fail(where, "'notes' must be a list of strings")

    months = body["months"]
    if not isinstance(months, list) or not months:
        raise reader.fail(where, "'months' must be a non-empty list of releases")
    releases: list[Release] = []
    for position, entry in enumerate(months):
        release = _parse_month_entry(reader, os_key, prefix, position, entry)
        if releases:
            previous = releases[-1]
            at = f"{where} months[{position}] ({release.month})"
            if release.month == previous.month:
                raise reader.fail(at, f"month {release.month} appears twice")
            if release.month < previous.month:
                order = f"{release.month} comes after {previous.month}"
                raise reader.fail(at, f"months must be in ascending order: {order}")
            last_built = next((r for r in reversed(releases) if r.build), None)
            if release.build and last_built and (release.ubr or 0) <= (last_built.ubr or 0):
                raise reader.fail(
                    at,
                    f"'build' {release.build} is not higher than {last_built.build} of {last_built.month}; "
                    "builds must increase month by month",
                )
        releases.append(release)

    last_month = body.get("last_month")
    if last_month is not None:
        last_month = reader.month(last_month, where, "last_month")
        if last_month < releases[-1].month:
            listed = releases[-1].month
            raise reader.fail(where, f"'last_month' {last_month} is before the last listed month {listed}")

    initial = None
    if body.get("initial") is not None:
        initial = _parse_initial(reader, os_key, prefix, body["initial"], releases)

    others: list[OtherUpdate] = []
    for key, kind in (("out_of_band", OUT_OF_BAND), ("lcus", LCU)):
        entries = body.get(key) or []
        if not isinstance(entries, list):
            raise reader.fail(where, f"'{key}' must be a list")
        for position, entry in enumerate(entries):
            others.append(_parse_other(reader, os_key, prefix, kind, f"{where} {key}[{position}]", entry))
    others.sort(key=lambda u: u.date)

    return OsLine(
        os=os_key,
        name=name or "",
        build_prefix=prefix,
        first_month=releases[0].month,
        last_month=last_month,
        releases=tuple(releases),
        other_updates=tuple(others),
        initial=initial,
        source=source,
        notes=tuple(notes),
    )


def _parse_month_entry(reader: _Reader, os_key: str, prefix: str, position: int, entry: Any) -> Release:
    where = f"os '{os_key}' months[{position}]"
    if isinstance(entry, dict) and isinstance(entry.get("month"), str):
        where += f" ({entry['month']})"
    body = reader.obj(entry, where, {"month", "kind", "date"}, {"kb", "build", "note", "source"})
    month = reader.month(body["month"], where, "month")
    number = int(month[5:])
    kind = body["kind"]
    if kind not in KINDS:
        raise reader.fail(where, f"'kind' must be one of {', '.join(KINDS)} (got {_show(kind)})")
    if kind == BASELINE and number not in PLANNED_BASELINE_MONTHS:
        raise reader.fail(
            where,
            "'kind' is 'baseline' (planned), but planned baselines are only in January, April, July and "
            "October; use 'unplanned-baseline' for a baseline that replaced a hotpatch month",
        )
    if kind == UNPLANNED_BASELINE and number in PLANNED_BASELINE_MONTHS:
        raise reader.fail(where, "'kind' is 'unplanned-baseline' in a planned baseline month; use 'baseline'")
    released = reader.day(body["date"], where, "date")
    if released.strftime("%Y-%m") != month:
        raise reader.fail(where, f"'date' {released.isoformat()} is not in month {month}")
    return Release(
        os=os_key,
        month=month,
        date=released,
        kind=kind,
        kb=reader.kb(body.get("kb"), where, nullable=True),
        build=reader.build(body.get("build"), where, prefix),
        reboot=kind != HOTPATCH,
        known=True,
        note=reader.text(body.get("note"), where, "note", nullable=True),
        source=reader.text(body.get("source"), where, "source", nullable=True),
    )


def _parse_initial(reader: _Reader, os_key: str, prefix: str, entry: Any, releases: list[Release]) -> Release:
    where = f"os '{os_key}' initial"
    body = reader.obj(entry, where, {"date", "build"}, {"note"})
    started = reader.day(body["date"], where, "date")
    build = reader.build(body["build"], where, prefix)
    if build is None:
        raise reader.fail(where, "'build' is required")
    first = releases[0]
    if started > first.date:
        raise reader.fail(where, f"'date' {started.isoformat()} is after the first release {first.month}")
    first_built = next((r for r in releases if r.build), None)
    if first_built and int(build.split(".")[1]) >= (first_built.ubr or 0):
        later = f"{first_built.build} of {first_built.month}"
        raise reader.fail(where, f"'build' {build} is not lower than {later}")
    return Release(
        os=os_key,
        month=started.strftime("%Y-%m"),
        date=started,
        kind=BASELINE,
        kb=None,
        build=build,
        reboot=True,
        known=True,
        note=reader.text(body.get("note"), where, "note", nullable=True),
    )


def _parse_other(reader: _Reader, os_key: str, prefix: str, kind: str, where: str, entry: Any) -> OtherUpdate:
    if kind == LCU:
        body = reader.obj(entry, where, {"month", "kb", "date"}, {"build", "note"})
        month: str | None = reader.month(body["month"], where, "month")
    else:
        body = reader.obj(entry, where, {"kb", "date"}, {"build", "keeps_track", "note"})
        month = None
    released = reader.day(body["date"], where, "date")
    if month is not None and released.strftime("%Y-%m") != month:
        raise reader.fail(where, f"'date' {released.isoformat()} is not in month {month}")
    keeps_track = body.get("keeps_track", False)
    if not isinstance(keeps_track, bool):
        raise reader.fail(where, f"'keeps_track' must be true or false (got {_show(keeps_track)})")
    return OtherUpdate(
        os=os_key,
        kind=kind,
        kb=reader.kb(body["kb"], where, nullable=False) or "",
        date=released,
        build=reader.build(body.get("build"), where, prefix),
        keeps_track=keeps_track,
        month=month,
        note=reader.text(body.get("note"), where, "note", nullable=True),
    )


def to_date(value: date | str) -> date:
    """A date from a date, a datetime or a YYYY-MM-DD string; anything else is an InputError."""
    # datetime is a date subclass, but comparing one with a date raises TypeError.
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InputError(f"expected a date YYYY-MM-DD (got {value!r})")


def _check_year(year: int) -> None:
    if isinstance(year, bool) or not isinstance(year, int):
        raise InputError(f"year must be a whole number such as 2026 (got {year!r})")
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InputError(f"year {year} is out of range ({MIN_YEAR}-{MAX_YEAR})")


def _check_month_number(month: int) -> None:
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise InputError(f"month must be a number from 1 to 12 (got {month!r})")


def _index(year: int, month: int) -> int:
    return year * 12 + month - 1


def _month_str(index: int) -> str:
    year, month = divmod(index, 12)
    return f"{year:04d}-{month + 1:02d}"


def _newer_calendar_hint() -> str:
    return f"If Microsoft has extended the program, run `{REFRESH_COMMAND}` (or point {CALENDAR_ENV} at a newer file)."


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, (dict, list)) else _json_type(value)

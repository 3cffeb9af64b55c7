"""Merging calendar data without ever losing facts, and writing a calendar back out as a calendar file."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hpctl.core.calendar import (
    DEFAULT_CALENDAR_FILE,
    OS_LINES,
    OUT_OF_BAND,
    REFRESH_COMMAND,
    SCHEMA_VERSION,
    Calendar,
    OsLine,
    OtherUpdate,
    Release,
    parse_calendar,
)

ADDED = "added"
UPDATED = "updated"
KEPT = "kept"


@dataclass(frozen=True)
class Change:
    """What a merge did to one month of one OS line."""

    os: str
    month: str
    action: str  # ADDED, UPDATED or KEPT (new data disagreed, the existing month was kept)
    now: Release
    was: Release | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """One row for `hpctl calendar refresh` output."""
        return {
            "os": self.os,
            "month": self.month,
            "change": self.action,
            "kind": self.now.kind,
            "kb": self.now.kb,
            "build": self.now.build,
            "was": self.was.describe() if self.was is not None and self.action != ADDED else None,
            "source": self.now.source,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class MergeResult:
    """The merged calendar and the month-by-month changes that made it."""

    calendar: Calendar
    changes: tuple[Change, ...] = field(default=())


def merge_calendars(base: Calendar, incoming: Calendar) -> MergeResult:
    """`base` with every month `incoming` adds; a month `base` already knows is never replaced by less."""
    months = {key: list(incoming.line(key).releases) for key in OS_LINES}
    others = {key: list(incoming.line(key).other_updates) for key in OS_LINES}
    return merge_months(base, months, others, as_of=incoming.as_of)


def merge_months(
    base: Calendar,
    months: Mapping[str, Iterable[Release]],
    others: Mapping[str, Iterable[OtherUpdate]] | None = None,
    *,
    as_of: date | None = None,
) -> MergeResult:
    """Add months (and LCU/out-of-band updates) to `base`; the result is validated like a calendar file."""
    changes: list[Change] = []
    doc = calendar_document(base)
    for key in OS_LINES:
        line_doc = doc["os"][key]
        line = base.line(key)
        by_month = {entry["month"]: entry for entry in line_doc["months"]}
        for release in sorted(months.get(key, ()), key=lambda r: r.month):
            existing = line.known_month(release.month)
            change = _decide(existing, release)
            if change is None:
                continue
            changes.append(change)
            if change.action != KEPT:
                by_month[release.month] = _month_entry(release)
        line_doc["months"] = [by_month[m] for m in sorted(by_month)]
        listed = {(u["kb"], "lcu" if "month" in u else OUT_OF_BAND) for u in line_doc["lcus"] + line_doc["out_of_band"]}
        for update in (others or {}).get(key, ()):
            if (update.kb, update.kind) in listed:
                continue
            target = line_doc["out_of_band"] if update.kind == OUT_OF_BAND else line_doc["lcus"]
            target.append(_other_entry(update))
            listed.add((update.kb, update.kind))
        line_doc["lcus"].sort(key=lambda u: u["date"])
        line_doc["out_of_band"].sort(key=lambda u: u["date"])
    newest = max((d for d in (base.as_of, as_of) if d is not None), default=None)
    doc["as_of"] = newest.isoformat() if newest else None
    hint = (f"The merged data is inconsistent; keep the calendar as it is and report it, or delete "
            f"{DEFAULT_CALENDAR_FILE}.")
    merged = parse_calendar(json.dumps(doc), base.origin, hint)
    return MergeResult(merged, tuple(changes))


def _decide(existing: Release | None, new: Release) -> Change | None:
    if existing is None:
        return Change(new.os, new.month, ADDED, new)
    same = (existing.kind, existing.kb, existing.build) == (new.kind, new.kb, new.build)
    if same:
        return None
    complete = existing.kb is not None and existing.build is not None
    if not complete and new.kind == existing.kind and new.kb and new.build and existing.kb in (None, new.kb):
        return Change(new.os, new.month, UPDATED, new, existing, "the new data adds the missing KB or build")
    # Known facts win: MSRC's documents miss hotpatch entries in many older months (hotpatch-program.md §9.2).
    return Change(new.os, new.month, KEPT, existing, existing,
                  f"the calendar already knows this month; the new data says {new.describe()}")


def calendar_document(cal: Calendar) -> dict[str, Any]:
    """A calendar as the JSON document load_calendar reads (schema version 1)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "as_of": cal.as_of.isoformat() if cal.as_of else None,
        "source": f"Written by `{REFRESH_COMMAND}` (hpctl's built-in calendar plus Microsoft's Security Update "
                  "Guide data); each month names its source.",
        "os": {key: _line_document(cal.line(key)) for key in OS_LINES},
    }


def _line_document(line: OsLine) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": line.name, "build_prefix": line.build_prefix}
    if line.last_month:
        doc["last_month"] = line.last_month
    if line.source:
        doc["source"] = line.source
    doc["notes"] = list(line.notes)
    if line.initial is not None:
        initial: dict[str, Any] = {"date": line.initial.date.isoformat(), "build": line.initial.build}
        if line.initial.note:
            initial["note"] = line.initial.note
        doc["initial"] = initial
    doc["out_of_band"] = [_other_entry(u) for u in line.other_updates if u.kind == OUT_OF_BAND]
    doc["lcus"] = [_other_entry(u) for u in line.other_updates if u.kind != OUT_OF_BAND]
    doc["months"] = [_month_entry(r) for r in line.releases]
    return doc


def _month_entry(release: Release) -> dict[str, Any]:
    entry: dict[str, Any] = {"month": release.month, "kind": release.kind, "date": release.date.isoformat(),
                             "kb": release.kb, "build": release.build}
    if release.note:
        entry["note"] = release.note
    if release.source:
        entry["source"] = release.source
    return entry


def _other_entry(update: OtherUpdate) -> dict[str, Any]:
    entry: dict[str, Any] = {"kb": update.kb, "date": update.date.isoformat(), "build": update.build}
    if update.kind == OUT_OF_BAND:
        entry["keeps_track"] = update.keeps_track
    else:
        entry["month"] = update.month
    if update.note:
        entry["note"] = update.note
    return entry

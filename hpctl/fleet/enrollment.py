"""Hotpatch enrollment of Arc machines (`hpctl arc enable-hotpatch` / `disable-hotpatch`): check every target
before anything is sent, print the requests (--dry-run), or run the license-profile writes through the engine
and report each machine's outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hpctl.core.arc_enrollment import (
    ALREADY,
    DISENROLL,
    ENROLL,
    NOT_NEEDED,
    REFUSE,
    Verdict,
    disenroll_body,
    disenroll_verdict,
    enroll_body,
    enroll_verdict,
)
from hpctl.core.arc_facts import arc_facts
from hpctl.edge import hybridcompute
from hpctl.errors import InputError
from hpctl.fleet.arc_kinds import LicenseKind
from hpctl.fleet.commands import Part
from hpctl.fleet.engine import Progress, RunStats
from hpctl.fleet.interrupts import Interrupt
from hpctl.fleet.writes import WriteOptions, outcome_row, run_write, summary_line
from hpctl.patching import FleetResult, Target, base_row

# Outcomes of machines nothing was sent for.
ALREADY_OUTCOME = {True: "AlreadyEnrolled", False: "NotEnrolled"}
NOT_NEEDED_OUTCOME = "NotNeeded"
SKIPPED = "Skipped"


@dataclass
class Planned:
    """One target with what to do about it."""

    part: Part
    target: Target
    verdict: Verdict


@dataclass
class Plan:
    """Every target's verdict, grouped: what will be sent, and what won't (with the reason)."""

    enable: bool
    items: list[Planned] = field(default_factory=list)

    @property
    def to_send(self) -> list[Planned]:
        return [p for p in self.items if p.verdict.action in (ENROLL, DISENROLL)]

    @property
    def refused(self) -> list[Planned]:
        return [p for p in self.items if p.verdict.action == REFUSE]


def plan(parts: list[Part], *, enable: bool, named: bool) -> Plan:
    """Judge every machine before anything is sent. Named targets (-n, --ids) that can't be enrolled refuse
    the whole command (exit 2, one line); in a group, tag or subscription they are skipped with the reason,
    unless nothing at all could be done."""
    result = Plan(enable)
    judge = enroll_verdict if enable else disenroll_verdict
    for part in parts:
        if part.error is not None:
            raise part.error
        for target in part.targets or []:
            if target.error is not None:
                raise target.error  # a named machine that can't be read (not found: exit 3)
            result.items.append(Planned(part, target, judge(arc_facts(target.vm or {}))))
    refused = result.refused
    if refused and (named or len(refused) == len(result.items)):
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise InputError(refused[0].verdict.reason.rstrip(".") + more + ".")
    return result


def requests(p: Plan) -> list[dict[str, Any]]:
    """The writes the plan would send, as --dry-run prints them: method, URL (with api-version) and body."""
    out = []
    for item in p.to_send:
        conn, target = item.part.conn, item.target
        assert conn is not None
        location = str((target.vm or {}).get("location") or "")
        out.append({
            "id": (target.vm or {}).get("id"),
            "name": target.name,
            "resourceGroup": target.resource_group,
            "method": "PUT" if p.enable else "PATCH",
            "url": hybridcompute.request_url(conn, target.resource_group, target.name,
                                             "enroll" if p.enable else "disenroll"),
            "body": enroll_body(location) if p.enable else disenroll_body(),
        })
    return out


def _unsent_row(item: Planned, enable: bool) -> dict[str, Any]:
    action = item.verdict.action
    outcome = {ALREADY: ALREADY_OUTCOME[enable], NOT_NEEDED: NOT_NEEDED_OUTCOME}.get(action, SKIPPED)
    row = base_row(item.target)
    row.update({"outcome": outcome, "enrollment": None, "reason": item.verdict.reason, "error": None})
    return row


def run(p: Plan, *, interrupt: Interrupt, max_parallel: int,
        on_progress: Callable[[Progress], None] | None = None) -> FleetResult:
    """Send the plan's writes through the engine (per subscription) and list every machine's outcome in the
    order the targets came, unsent ones with their reason."""
    result = FleetResult()
    rows: dict[int, dict[str, Any]] = {}
    position = {id(item): index for index, item in enumerate(p.items)}
    by_part: dict[int, list[Planned]] = {}
    for item in p.to_send:
        by_part.setdefault(id(item.part), []).append(item)
    kind_name = "arc-enroll" if p.enable else "arc-disenroll"
    stats = RunStats()
    for items in by_part.values():
        conn = items[0].part.conn
        assert conn is not None
        kind = LicenseKind(conn, p.enable)
        options = WriteOptions(interrupt, max_parallel, True, None, on_progress)
        outcomes, part_stats = run_write(conn, kind, [item.target for item in items], options)
        stats.throttled += part_stats.throttled
        for item, outcome in zip(items, outcomes, strict=True):
            rows[position[id(item)]] = outcome_row(item.target, outcome, kind.detail_key)
    for index, item in enumerate(p.items):
        row = rows.get(index) or _unsent_row(item, p.enable)
        row.setdefault("reason", None)
        result.rows.append(row)
        if row["outcome"] == "Failed":
            result.failed.append(row)
    sent = [r for r in result.rows if r["outcome"] not in (*ALREADY_OUTCOME.values(), NOT_NEEDED_OUTCOME, SKIPPED)]
    left = len(result.rows) - len(sent)
    result.summary = summary_line(kind_name, sent, stats) + (f"; {left} left alone (see Reason)" if left else "")
    if interrupt.requested:
        result.interrupted = interrupt.exit_code
    return result

"""Run one operation kind over resolved targets through the engine, and shape a row per target."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpctl.edge.clients import Connection
from hpctl.fleet.budgets import Gate
from hpctl.fleet.engine import Engine, Progress, RunStats
from hpctl.fleet.interrupts import Interrupt
from hpctl.fleet.journal import Journal
from hpctl.fleet.kinds import (
    ACCEPTED,
    FAILED,
    NOT_STARTED,
    SUCCEEDED,
    UNKNOWN,
    FleetTarget,
    OperationKind,
    Outcome,
)
from hpctl.patching import FleetResult, Target, as_error, base_row, error_dict

# The most operations --max-parallel may keep in flight. With no --max-parallel every target may be (the budgets
# bind, not a cap): a cap below the fleet's size would hold the last VMs back until the first ones end.
MAX_IN_FLIGHT = 10000
DEFAULT_IN_FLIGHT = MAX_IN_FLIGHT


def default_state_dir() -> Path:
    return Path(os.environ.get("HPCTL_STATE_DIR") or Path.home() / ".hpctl" / "rollouts")


def run_key(kind: str, targets: list[Target], settings: dict[str, Any]) -> str:
    """Identifies a run: the same operation on the same VMs with the same settings."""
    ids = sorted(target_id(t) for t in targets)
    digest = hashlib.sha256(json.dumps({"kind": kind, "vms": ids, "settings": settings},
                                       sort_keys=True).encode()).hexdigest()
    return digest[:16]


def target_id(target: Target) -> str:
    return str((target.vm or {}).get("id") or f"{target.resource_group}/{target.name}").lower()


def open_journal(kind: str, targets: list[Target], settings: dict[str, Any], state_file: Path | None,
                 resume: bool) -> Journal:
    """The run's journal (default ~/.hpctl/rollouts/<key>.journal), locked and proven writable."""
    key = run_key(kind, targets, settings)
    path = state_file or default_state_dir() / f"{key}.journal"
    return Journal.open(path, kind, key, settings, resume=resume)


@dataclass
class WriteOptions:
    """How to run a write: in-flight cap, waiting, the journal, progress, the interrupt to watch."""

    interrupt: Interrupt
    max_parallel: int = DEFAULT_IN_FLIGHT
    wait: bool = True
    journal: Journal | None = None
    on_progress: Callable[[Progress], None] | None = None


def fleet_targets(targets: list[Target], step: Callable[[Target], str] | None = None) -> list[FleetTarget]:
    """Engine targets; with `step`, each id is the VM's id + "#" + its step (several writes of one run on one VM,
    e.g. a rollback's removal and restart, each journalled on its own)."""
    return [FleetTarget(target_id(t) + (f"#{step(t)}" if step else ""), t.resource_group, t.name, t.vm or {})
            for t in targets]


def run_write(conn: Connection, kind: OperationKind, targets: list[Target], options: WriteOptions,
              step: Callable[[Target], str] | None = None, kinds: list[OperationKind] | None = None
              ) -> tuple[list[Outcome], RunStats]:
    """The engine over the targets that could be read; outcomes in target order. `kinds`, one per target, runs
    targets of different kinds (VMs and Arc machines) in one run, side by side."""
    engine = Engine(kind, gate=Gate(scale=conn.time_scale), interrupt=options.interrupt,
                    max_parallel=options.max_parallel, journal=options.journal, wait=options.wait,
                    time_scale=conn.time_scale, on_progress=options.on_progress)
    outcomes = engine.run(fleet_targets(targets, step), kinds)
    engine.stats.throttled = engine.gate.throttled_count
    return outcomes, engine.stats


def outcome_row(target: Target, outcome: Outcome, detail_key: str) -> dict[str, Any]:
    row = base_row(target)
    row.update({"id": (target.vm or {}).get("id"), "outcome": outcome.status, detail_key: outcome.detail,
                "error": error_dict(outcome.error) if outcome.error is not None else None})
    if outcome.note:
        row["note"] = outcome.note
    return row


def write_result(kind: OperationKind, targets: list[Target], outcomes: dict[int, Outcome], stats: RunStats,
                 options: WriteOptions, *, single: bool) -> FleetResult:
    """Rows for every target (unreadable ones Failed), the failures, and the summary of the run."""
    result = FleetResult()
    for index, target in enumerate(targets):
        if target.error is not None:
            row = base_row(target)
            row.update({"outcome": FAILED, kind.detail_key: None, "error": error_dict(target.error)})
            result.failed.append(row)
            result.rows.append(row)
            continue
        row = outcome_row(target, outcomes[index], kind.detail_key)
        result.rows.append(row)
        if row["outcome"] == FAILED:
            result.failed.append(row)
    if single and len(targets) == 1:
        # One VM: its own error (and exit code, e.g. 3 for not found) instead of a one-row table.
        only = targets[0].error or outcomes[0].error
        if only is not None and result.failed:
            result.single_error = as_error(only)
    result.summary = summary_line(kind.name, result.rows, stats)
    if options.interrupt.requested:
        result.interrupted = options.interrupt.exit_code
    if options.journal is not None:
        result.state_path = str(options.journal.path)
    return result


def noun_of(rows: list[dict[str, Any]]) -> str:
    """What the rows are called in messages: rows are VMs and Arc machines alike."""
    return "VMs" if all(row.get("kind", "vm") == "vm" for row in rows) else "machines"


def summary_line(name: str, rows: list[dict[str, Any]], stats: RunStats) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.get("outcome") or "?"] = counts.get(row.get("outcome") or "?", 0) + 1
    started = sum(n for status, n in counts.items() if status != NOT_STARTED)
    finished = counts.get(SUCCEEDED, 0) + counts.get(FAILED, 0)
    parts = [f"{name}: {len(rows)} {noun_of(rows)}", f"{started} started", f"{finished} finished",
             f"{counts.get(NOT_STARTED, 0)} not started"]
    parts += [f"{n} {status}" for status, n in sorted(counts.items()) if status not in (NOT_STARTED,)]
    if stats.throttled:
        parts.append(f"{stats.throttled} throttled requests waited out")
    text = ", ".join(parts)
    if counts.get(ACCEPTED) or counts.get(UNKNOWN):
        text += "; follow up with `hpctl status` or rerun with --resume"
    return text

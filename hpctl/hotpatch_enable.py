"""`vm enable-hotpatch` over any targets: plan each VM (what hotpatch needs, drift, schedules, refusals) from
one read of the VMs and one of the schedules, then apply the plans through the fleet engine."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from hpctl.core.hotpatch_settings import HotpatchPlan, plan_enable_hotpatch
from hpctl.edge.clients import Connection
from hpctl.errors import HpctlError, InputError
from hpctl.fleet.hotpatch_kind import EnableHotpatchKind
from hpctl.fleet.kinds import SUCCEEDED, Outcome
from hpctl.fleet.writes import WriteOptions, run_write, target_id
from hpctl.patching import Target, as_error

PLANNED, UNCHANGED, REFUSED, UNREADABLE = "planned", "unchanged", "refused", "unreadable"


@dataclass
class Item:
    """One target VM: its plan, or why there is none (refused before anything is sent, or unreadable)."""

    target: Target
    plan: HotpatchPlan | None = None
    problem: HpctlError | None = None

    @property
    def state(self) -> str:
        if self.plan is not None:
            return UNCHANGED if self.plan.already_enabled else PLANNED
        return REFUSED if isinstance(self.problem, InputError) else UNREADABLE


def plan_items(conn: Connection, targets: list[Target], *, reboot_setting: str | None = None,
               leave_schedule: bool = False, named: bool = False) -> list[Item]:
    """Plan each target VM from its model and the subscription's schedules (read once; for named VMs only
    their own assignments). Nothing is written."""
    from hpctl.fleet_reads import schedule_index

    read = [t.vm["id"] for t in targets if t.vm]
    index = schedule_index(conn, [conn.subscription_id], vm_ids=read if named else ()) if read else None
    items = []
    for target in targets:
        if target.vm is None:
            items.append(Item(target, problem=as_error(target.error or RuntimeError("not read"))))
            continue
        try:
            plan = plan_enable_hotpatch(target.vm, reboot_setting, index.for_vm(target.vm) if index else (),
                                        leave_schedule=leave_schedule)
        except InputError as exc:
            items.append(Item(target, problem=exc))
            continue
        items.append(Item(target, plan=plan))
    return items


def apply(conn: Connection, items: list[Item], options: WriteOptions) -> dict[int, Outcome]:
    """Run the planned items through the fleet engine (budget-paced, one shared poller, interrupts); the
    outcome of each by id(item)."""
    planned = [i for i in items if i.state == PLANNED and i.plan is not None]
    kind = EnableHotpatchKind(conn, {target_id(i.target): i.plan for i in planned if i.plan is not None})
    outcomes, _stats = run_write(conn, kind, [i.target for i in planned], options)
    return {id(item): outcome for item, outcome in zip(planned, outcomes, strict=True)}


def _changes(plan: HotpatchPlan | None) -> list[dict[str, Any]]:
    if plan is None:
        return []
    rows = [{"setting": f"schedule {s.schedule.name}", "before": f"assigned ({s.assignment_name})",
             "after": "removed"} for s in plan.leave]
    return rows + [{"setting": c.setting, "before": c.before, "after": c.after} for c in plan.changes]


def row(item: Item, outcome: str, applied: dict[str, Any] | None = None,
        error: HpctlError | None = None) -> dict[str, Any]:
    """The output row of one VM: what was (or would be) changed, the drift left alone, the outcome."""
    plan, target = item.plan, item.target
    problem = error if error is not None else item.problem
    out: dict[str, Any] = {
        "id": plan.vm_id if plan else (target.vm or {}).get("id"),
        "name": target.name,
        "resourceGroup": target.resource_group,
        "outcome": outcome,
        "changed": outcome == "Changed",
        "changes": _changes(plan),
        "leftSchedules": [s.schedule.name for s in plan.leave] if plan else [],
        "drift": [{"setting": d.setting, "value": d.value, "recommended": d.recommended, "why": d.why,
                   "fix": d.fix} for d in plan.drift] if plan else [],
        "error": {"message": problem.message, "exitCode": problem.exit_code} if problem else None,
        # A short reason for tables; the error's message says it in full.
        "note": getattr(problem, "short", None) or (problem.message if problem else None),
    }
    if applied:
        out["patchSettings"] = applied.get("patchSettings")
    return out


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """-o table: one line per change (the diff), one line for a VM with none."""
    out = []
    for r in rows:
        base = {"name": r["name"], "resourceGroup": r["resourceGroup"], "outcome": r["outcome"],
                "note": r["note"]}
        for change in r["changes"] or [None]:
            line = dict(base)
            if change:
                # The last part of the setting's path: the full path is in the JSON.
                line.update(setting=change["setting"].rsplit(".", 1)[-1], before=change["before"],
                            after=change["after"])
            out.append(line)
    return out


def leaving_lines(items: list[Item]) -> list[str]:
    """For the confirmation: each VM that leaves a schedule, and the assignment that is deleted."""
    return [f"  {i.target.resource_group}/{i.target.name} leaves schedule {s.schedule.name} (assignment "
            f"{s.assignment_name} is deleted)"
            for i in items if i.state == PLANNED and i.plan is not None for s in i.plan.leave]


def _label(item: Item) -> str:
    return f"{item.target.resource_group}/{item.target.name}"


def _names(items: list[Item]) -> str:
    return ", ".join(_label(i) for i in items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")


def describe(items: list[Item], say: Callable[[str], None], warn: Callable[[str], None]) -> None:
    """The plan on stderr: each change and each drift per VM; VMs left alone and VMs refused are one line per
    reason in a fleet (every row also says it), in full for one VM."""
    drifted: dict[str, list[Item]] = {}
    for item in items:
        for change in _changes(item.plan):
            say(f"{_label(item)}: {change['setting']}: {change['before']} -> {change['after']}")
        for d in item.plan.drift if item.plan else ():
            if len(items) == 1:
                warn(f"{_label(item)}: {d.setting} is {d.value} ({d.why}); not changed, hotpatch doesn't need it: "
                     f"{d.fix}")
            drifted.setdefault(d.setting, []).append(item)
    for setting, group in drifted.items() if len(items) > 1 else ():
        d = next(x for x in group[0].plan.drift if x.setting == setting)  # type: ignore[union-attr]
        warn(f"{setting} is not {d.recommended} on {_names(group)} ({d.why}); not changed, hotpatch doesn't need "
             "it: -o json gives each VM's az vm update command.")
    unchanged = [i for i in items if i.state == UNCHANGED]
    problems = [i for i in items if i.problem is not None]
    if len(items) == 1:
        if unchanged:
            say(f"{_label(items[0])}: already has every hotpatch setting; nothing to change.")
        if problems:
            warn(f"{_label(items[0])}: not changed: {problems[0].problem.message}")  # type: ignore[union-attr]
        return
    if unchanged:
        say(f"{len(unchanged)} VM{'s' if len(unchanged) != 1 else ''} already have every hotpatch setting; "
            f"nothing to change ({_names(unchanged)}).")
    by_reason: dict[str, list[Item]] = {}
    for item in problems:
        by_reason.setdefault(getattr(item.problem, "short", None) or "not readable", []).append(item)
    for reason, group in by_reason.items():
        warn(f"not changed, {reason}: {_names(group)} (-o json says why in full).")


@dataclass
class EnableResult:
    """Rows for the renderer (one per VM), and what the exit code needs to know."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    interrupted: int | None = None  # the exit code an interrupt asks for
    single_error: HpctlError | None = None  # one VM: its own error instead of a one-row table


def _outcome_row(item: Item, outcome: Outcome | None, dry_run: bool) -> dict[str, Any]:
    if outcome is None:
        idle = {UNCHANGED: "Unchanged", REFUSED: "Refused", UNREADABLE: "Unreadable", PLANNED: "NotStarted"}
        out = row(item, "WouldChange" if dry_run and item.state == PLANNED else idle[item.state])
        if dry_run:
            out["dryRun"] = True
        return out
    status = "Changed" if outcome.status == SUCCEEDED else outcome.status
    return row(item, status, applied=outcome.detail, error=outcome.error)


def enable(parts: list[Any], *, reboot_setting: str | None, leave_schedule: bool, named: bool, single: bool,
           dry_run: bool, in_flight: int, confirm: Callable[[list[Item]], None],
           progress: Callable[[int], AbstractContextManager[Callable[[Any], None]]],
           say: Callable[[str], None], warn: Callable[[str], None]) -> EnableResult:
    """Plan every target of every subscription part (hpctl.fleet.commands.Part), show the plan, then (unless
    dry_run) confirm and write through the fleet engine under one interrupt and one progress display."""
    from hpctl.fleet.interrupts import interrupts

    plans = [(part, [] if part.error is not None else plan_items(
        part.conn, part.targets or [], reboot_setting=reboot_setting, leave_schedule=leave_schedule, named=named))
        for part in parts]
    items = [item for _, part_items in plans for item in part_items]
    if single and items and items[0].problem is not None:
        raise items[0].problem  # one VM refused (exit 2) or unreadable (its own code): nothing was sent
    describe(items, say, warn)
    result = EnableResult()
    outcomes: dict[int, Outcome] = {}
    if not dry_run and any(i.state == PLANNED for i in items):
        confirm(items)
        with interrupts() as interrupt, progress(sum(i.state == PLANNED for i in items)) as on_progress:
            options = WriteOptions(interrupt, in_flight, True, None, on_progress)
            for part, part_items in plans:
                if part.conn is not None and part_items:
                    outcomes.update(apply(part.conn, part_items, options))
            result.interrupted = interrupt.exit_code if interrupt.requested else None
    result.rows = [_outcome_row(item, outcomes.get(id(item)), dry_run) for item in items]
    for part, _ in plans:
        if part.error is not None:
            result.rows += [{"name": vm.name, "resourceGroup": vm.resource_group, "outcome": "Failed",
                             "changed": False, "changes": [], "note": part.error.message,
                             "error": {"message": part.error.message, "exitCode": part.error.exit_code}}
                            for vm in part.spec.vms]
    result.failed = [r for r in result.rows if r["outcome"] not in ("Changed", "Unchanged", "WouldChange")]
    if single and result.failed and result.interrupted is None:
        result.single_error = next((o.error for o in outcomes.values() if o.error is not None), None)
    return result

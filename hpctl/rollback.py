"""`hpctl rollback` and `hpctl restart --reboot-pending` through the fleet engine: back to the last known good
baseline, and restarts of VMs waiting for one, availability-first (the rollout's waves and health gate),
journalled step by step so that --resume never does a step twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from hpctl.core.calendar import Calendar, load_calendar
from hpctl.core.guest_scripts import REMOVE_SCRIPT
from hpctl.core.rollback_plan import RollbackPlan, RollbackRefused, plan_rollback
from hpctl.core.rollout import Wave, health_problem, plan_waves
from hpctl.core.track import parse_build
from hpctl.edge import compute
from hpctl.edge.clients import Connection
from hpctl.errors import AzureOperationError
from hpctl.fleet.guest_kinds import RestartKind, RunCommandKind
from hpctl.fleet.installs import install_kind
from hpctl.fleet.journal import DONE, Journal
from hpctl.fleet.kinds import ALREADY_DONE, FAILED, NOT_STARTED, SUCCEEDED, Outcome
from hpctl.fleet.waves import availability_first, rollout_target
from hpctl.fleet.writes import WriteOptions, outcome_row, run_write, target_id
from hpctl.installed_patches import inventories, key_of
from hpctl.patching import FleetResult, Target, as_error, error_dict
from hpctl.runner import run_each

REFUSED = "Refused"
NOTHING_PENDING = "NothingPending"
BASELINE_INSTALL_WINDOW = "PT2H"  # installPatches maximumDuration for a missing baseline
VERIFY_READS = 8


def unjournalled(options: WriteOptions) -> WriteOptions:
    """The same run's options for reads (the inventory script): a read changes nothing, so it isn't journalled."""
    return replace(options, journal=None, on_progress=None)


def done_before(target: Target, journal: Journal | None) -> bool:
    """Whether the journal shows this VM finished (verified) in an earlier run."""
    entry = (journal.entries.get(target_id(target)) if journal else None) or {}
    return entry.get("state") == DONE and entry.get("outcome") == SUCCEEDED


def _removal_step(package: str) -> str:
    return f"remove:{package}"


def started_removing(target: Target, journal: Journal | None) -> bool:
    prefix = target_id(target) + "#remove:"
    return bool(journal) and any(key.startswith(prefix) for key in journal.entries)  # type: ignore[union-attr]


@dataclass
class Planned:
    """Each VM's plan or refusal, and the rows that show them."""

    plans: dict[str, RollbackPlan] = field(default_factory=dict)  # key_of(target) -> plan
    rows: list[dict[str, Any]] = field(default_factory=list)
    refused: list[RollbackRefused] = field(default_factory=list)
    unreadable: list[dict[str, Any]] = field(default_factory=list)


def plan(conn: Connection, targets: list[Target], options: WriteOptions, *,
         calendar: Calendar | None = None) -> Planned:
    """Read each VM's inventory (the read-only Run Command, through the engine) and plan its rollback, or say
    why not. VMs the journal shows done are not read again; VMs it shows part-way are planned as resuming."""
    calendar = calendar or load_calendar()
    planned = Planned()
    todo = [t for t in targets if not done_before(t, options.journal)]
    found, unreadable, _ = inventories(conn, todo, unjournalled(options))
    planned.unreadable = unreadable
    for target in todo:
        inventory = found.get(key_of(target))
        if inventory is None:
            continue
        row: dict[str, Any] = {"name": target.name, "resourceGroup": target.resource_group,
                               "id": (target.vm or {}).get("id")}
        try:
            vm_plan = plan_rollback(target.name, calendar, inventory,
                                    resuming=started_removing(target, options.journal))
        except RollbackRefused as refusal:
            planned.refused.append(refusal)
            row.update({"outcome": REFUSED, "plan": None, "error": error_dict(refusal)})
        else:
            planned.plans[key_of(target)] = vm_plan
            row.update({"outcome": "Planned", "plan": vm_plan.as_dict(), "error": None})
        planned.rows.append(row)
    planned.rows += unreadable
    return planned


def waves_of(targets: list[Target], batch_size: int) -> dict[str, Wave]:
    """Which wave each VM goes in (for the plan and --dry-run)."""
    by_id = {rollout_target(t).id: key_of(t) for t in targets}
    return {by_id[m.id]: wave for wave in plan_waves([rollout_target(t) for t in targets], batch_size)
            for m in wave.members}


def current_build(conn: Connection, target: Target, options: WriteOptions) -> str:
    """The build the VM runs: the instance view's osVersion, or the guest's registry when the agent reports no
    update revision (a trailing `.0` or the `Microsoft Windows NT` form: azure-wire.md §9.2)."""
    vm = compute.get_vm(conn, target.resource_group, target.name, instance_view=True)
    parsed = parse_build(((vm.get("properties") or {}).get("instanceView") or {}).get("osVersion"))
    if parsed is not None and parsed[1] != 0:
        return f"{parsed[0]}.{parsed[1]}"
    found, rows, _ = inventories(conn, [target], unjournalled(options))
    if key_of(target) not in found:
        raise AzureOperationError(f"{target.name}: its build could not be read after the restart "
                                  f"({(rows[0].get('error') or {}).get('message') if rows else 'no answer'}).")
    return found[key_of(target)].build


class _Wave:
    """One wave of a rollback: each step through the engine for the VMs still on course, then the check."""

    def __init__(self, conn: Connection, plans: dict[str, RollbackPlan], options: WriteOptions) -> None:
        self.conn = conn
        self.plans = plans
        self.options = options
        self.outcomes: dict[str, Outcome] = {}  # key_of(target) -> where the VM stopped, if it did
        self.throttled = 0

    def _on_course(self, members: list[Target]) -> list[Target]:
        return [t for t in members if key_of(t) not in self.outcomes]

    def _step(self, kind: Any, targets: list[Target], step: Callable[[Target], str]) -> None:
        if not targets or self.options.interrupt.requested:
            for t in targets:
                self.outcomes.setdefault(key_of(t), Outcome(NOT_STARTED, note="interrupted"))
            return
        outcomes, stats = run_write(self.conn, kind, targets, self.options, step=step)
        self.throttled += stats.throttled
        for t, outcome in zip(targets, outcomes, strict=True):
            if outcome.status not in (SUCCEEDED, ALREADY_DONE):
                self.outcomes[key_of(t)] = outcome

    def run(self, members: list[Target], labels: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
        journal = self.options.journal
        todo = []
        for t in members:
            if done_before(t, journal):
                self.outcomes[key_of(t)] = Outcome(ALREADY_DONE, note="rolled back in an earlier run")
            else:
                todo.append(t)
        depth = max((len(self.plans[key_of(t)].remove) for t in todo), default=0)
        for index in range(depth):
            batch = [t for t in self._on_course(todo) if len(self.plans[key_of(t)].remove) > index]
            package = {target_id(t): self.plans[key_of(t)].remove[index].identity for t in batch}
            kind = RunCommandKind(self.conn, REMOVE_SCRIPT, "removal", parameters={
                f"{vm}#{_removal_step(name)}": {"PackageName": name} for vm, name in package.items()})
            self._step(kind, batch, lambda t, names=package: _removal_step(names[target_id(t)]))
        missing: dict[str, list[Target]] = {}
        for t in self._on_course(todo):
            kb = self.plans[key_of(t)].install_kb
            if kb:
                missing.setdefault(kb, []).append(t)
        for kb, batch in missing.items():
            body = {"maximumDuration": BASELINE_INSTALL_WINDOW, "rebootSetting": "Never",
                    "windowsParameters": {"kbNumbersToInclude": [kb.upper().removeprefix("KB")]}}
            self._step(install_kind(self.conn, body), batch, lambda t: "install-baseline")
        self._step(RestartKind(self.conn), self._on_course(todo), lambda t: "restart")
        for outcome in run_each(self._on_course(todo), self._verify, max_parallel=VERIFY_READS):
            if outcome.error is not None:
                self.outcomes[key_of(outcome.target)] = Outcome(FAILED, error=as_error(outcome.error))
            elif journal is not None:
                # Verified on its baseline: --resume never touches this VM again.
                journal.record(target_id(outcome.target), DONE, outcome=SUCCEEDED)
        rows = []
        for t in members:
            outcome = self.outcomes.get(key_of(t)) or Outcome(SUCCEEDED, detail=None)
            row = outcome_row(t, outcome, "step") | labels
            vm_plan = self.plans.get(key_of(t))
            row["plan"] = vm_plan.as_dict() if vm_plan else None
            if outcome.status == SUCCEEDED and vm_plan:
                row["build"] = vm_plan.baseline.build
            rows.append(row)
        return rows, self.throttled

    def _verify(self, target: Target) -> None:
        vm_plan = self.plans[key_of(target)]
        landed = current_build(self.conn, target, self.options)
        if landed != vm_plan.baseline.build:
            raise AzureOperationError(
                f"{target.name} ended on build {landed}, not on baseline {vm_plan.baseline.kb} "
                f"({vm_plan.baseline.build}); the guest may have reverted the removal at its restart",
                hint="Read it with `hpctl vm patches`.")


def _after_restart(vm: dict[str, Any]) -> str | None:
    return health_problem(vm, installs=False)


def execute(conn: Connection, targets: list[Target], planned: Planned, options: WriteOptions, *, batch_size: int,
            on_wave: Callable[[Wave], None] | None = None) -> FleetResult:
    """Roll the planned VMs back availability-first, each verified on its baseline's build and health-checked,
    then journalled done; VMs refused or unreadable are listed, never touched."""
    runnable = [t for t in targets if key_of(t) in planned.plans or done_before(t, options.journal)]
    wave = _Wave(conn, planned.plans, options)
    result, _ = availability_first(conn, runnable, options, name="rollback", batch_size=batch_size,
                                   run_wave=wave.run, on_wave=on_wave, health=_after_restart)
    result.rows += [r for r in planned.rows if r.get("outcome") == REFUSED] + planned.unreadable
    result.failed += [r for r in planned.unreadable if r.get("outcome") not in ("NotStarted", "Accepted")]
    return result


def pending_restarts(targets: list[Target], journal: Journal | None) -> tuple[list[Target], list[dict[str, Any]]]:
    """VMs whose patch status says a reboot is pending (or that the journal shows restarted in an earlier run),
    and rows for the ones left alone."""
    pending: list[Target] = []
    left: list[dict[str, Any]] = []
    for target in targets:
        view = ((target.vm or {}).get("properties") or {}).get("instanceView") or {}
        summary = (view.get("patchStatus") or {}).get("availablePatchSummary") or {}
        if target.error is None and (summary.get("rebootPending") is True or target_id(target) in (
                journal.entries if journal else {})):
            pending.append(target)
        else:
            left.append({**target.row(), "outcome": NOTHING_PENDING, "wave": None,
                         "error": error_dict(target.error) if target.error else None})
    return pending, left


def restart_pending(conn: Connection, pending: list[Target], left: list[dict[str, Any]], options: WriteOptions, *,
                    batch_size: int, on_wave: Callable[[Wave], None] | None = None) -> FleetResult:
    """Restart the VMs availability-first (health-gated, stopping on a failure); the others are listed."""
    kind = RestartKind(conn)

    def run_wave(members: list[Target], labels: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
        outcomes, stats = run_write(conn, kind, members, options)
        return [outcome_row(t, o, kind.detail_key) | labels for t, o in zip(members, outcomes, strict=True)], \
            stats.throttled

    result, _ = availability_first(conn, pending, options, name="restart", batch_size=batch_size,
                                   run_wave=run_wave, on_wave=on_wave, health=_after_restart)
    result.rows += left
    result.failed += [r for r in left if r.get("error")]
    return result

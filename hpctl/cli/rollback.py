"""`hpctl rollback` and `hpctl restart --reboot-pending`: availability-first fleet writes through the engine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hpctl.cli.common import GroupOpt, IdsOpt, NameOpt, TagOpt, command, info, settings
from hpctl.cli.confirm import YesOpt
from hpctl.cli.patch import InFlightOpt, StateFileOpt
from hpctl.errors import AzureOperationError, InputError
from hpctl.output import Column, render

DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Show the plan (who, what, in which wave); change nothing.")]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", metavar="N", show_default=False,
                                           help="VMs per wave outside zones and availability sets (default 10).")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue an interrupted or stopped run from its journal: "
                                         "steps done are skipped, accepted ones followed up, no VM done twice.")]


def check_run_options(*, dry_run: bool, batch_size: int, state_file: Path | None, resume: bool) -> None:
    """What about the options can be refused before anything is read or sent (exit 2)."""
    if not 1 <= batch_size <= 1000:
        raise InputError(f"--batch-size {batch_size} is out of range; use 1-1000 VMs per wave.")
    if resume and dry_run:
        raise InputError("--resume carries on a run and --dry-run only plans one; give one of them.")
    if resume and state_file is not None and not state_file.exists():
        raise InputError(f"--resume: no journal at {state_file}; run without --resume to start one.")


def _setup(spec: Any, *, yes: bool, dry_run: bool, state_file: Path | None, in_flight: int) -> Any:
    """Refuse what can be refused before sending, then resolve the targets (one subscription)."""
    from hpctl.cli.confirm import require_tty_or_yes
    from hpctl.cli.patch import _pool
    from hpctl.fleet.commands import resolve_parts
    from hpctl.fleet.journal import Journal

    if not dry_run:
        require_tty_or_yes(yes=yes, may_be_many=spec.scope != "vms" or len(spec.vms) > 1)
        if state_file is not None:
            Journal.preflight(state_file)
    s = settings()
    parts = resolve_parts(s.cloud, s.subscription, spec, instance_view=True, pool_size=_pool(in_flight))
    if len(parts) != 1:
        raise InputError("The --ids span several subscriptions; run this one subscription at a time.")
    part = parts[0]
    if part.error is not None:
        raise part.error
    return part


def _plan_line(row: dict[str, Any]) -> str:
    where = f"  {row['resourceGroup']}/{row['name']}"
    if row.get("outcome") != "Planned":
        return f"{where}: {row.get('outcome')}: {(row.get('error') or {}).get('message')}"
    plan = row["plan"]
    removes = ", ".join(p["package"] for p in plan["remove"]) or "nothing more (resuming)"
    install = f"; install {plan['installBaseline']}" if plan.get("installBaseline") else ""
    return (f"{where} (wave {row.get('wave')}): remove {removes}{install}; restart; land on baseline "
            f"{plan['baseline']['kb']} ({plan['baseline']['build']})")


def _rollback_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        plan = r.get("plan") or {}
        baseline = plan.get("baseline") or {}
        out.append({**r, "removeList": ", ".join((p.get("build") or "") for p in plan.get("remove") or []),
                    "baselineText": f"{baseline.get('kb') or ''} {baseline.get('build') or ''}".strip(),
                    "errorMessage": (r.get("error") or {}).get("message")})
    return out


ROLLBACK_COLUMNS = [Column("Name", "name"), Column("ResourceGroup", "resourceGroup"), Column("Wave", "wave"),
                    Column("Outcome", "outcome"), Column("From", "plan.build"), Column("Remove", "removeList"),
                    Column("Baseline", "baselineText"), Column("Build", "build"), Column("Health", "health"),
                    Column("Error", "errorMessage"), Column("Id", "id", wide=True)]


def _finish(result: Any, what: str, columns: list[Column], table_view: Any) -> None:
    from hpctl.cli.patch import _finish as finish_fleet

    if result.stopped:
        info(f"{result.stopped}; fix it, then rerun with --resume (the journal is {result.state_path}).")
    elif result.interrupted and result.state_path:
        info(f"Journal: {result.state_path}; rerun with --resume to carry on.")
    finish_fleet(result, columns=columns, table_view=table_view, what=what)


@command
def rollback(
    name: NameOpt = None,
    resource_group: GroupOpt = None,
    ids: IdsOpt = None,
    tag: TagOpt = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    batch_size: BatchSizeOpt = 10,
    state_file: StateFileOpt = None,
    resume: ResumeOpt = False,
    max_parallel: InFlightOpt = None,
) -> None:
    """Roll VMs back to their last known good baseline: remove the updates above it (DISM, through Run Command),
    install the baseline if it is missing, restart, and verify the VM runs the baseline's build.

    Hotpatch has no automatic rollback. hpctl first reads each VM (read-only) and shows the plan: the packages
    to remove, the baseline it lands on, the restart. It refuses (exit 2) a VM with nothing above its baseline,
    a build the calendar doesn't know, or a baseline that is itself the newest update. Several VMs go
    availability-first (zones one at a time, one update domain at a time, health-checked, stopping on a
    failure), after a confirmation (--yes skips it); every step is journalled, so --resume carries on and
    never rolls a VM back twice.

    Example:

        hpctl rollback -g rg-web -n web-01 --dry-run

        hpctl rollback -g rg-web --tag app=storefront --yes
    """
    from hpctl import rollback as service
    from hpctl.cli.confirm import confirm_write
    from hpctl.cli.patch import _in_flight, _targets
    from hpctl.fleet.interrupts import interrupts
    from hpctl.fleet.writes import WriteOptions, open_journal

    check_run_options(dry_run=dry_run, batch_size=batch_size, state_file=state_file, resume=resume)
    in_flight = _in_flight(max_parallel)
    spec = _targets(name, resource_group, ids, tag)
    part = _setup(spec, yes=yes, dry_run=dry_run, state_file=state_file, in_flight=in_flight)
    readable = [t for t in part.targets if t.error is None]
    journal = None if dry_run else open_journal("rollback", readable, {"rollback": 1}, state_file, resume)
    try:
        with interrupts() as interrupt:
            options = WriteOptions(interrupt, in_flight, True, journal, None)
            planned = service.plan(part.conn, part.targets, options)
            if interrupt.requested:  # Ctrl-C while reading: nothing was changed, nothing will be
                render(planned.rows, settings().output, settings().query, columns=ROLLBACK_COLUMNS,
                       table_view=_rollback_table)
                raise typer.Exit(interrupt.exit_code)
            if len(part.targets) == 1 and planned.refused:
                raise planned.refused[0]
            if len(part.targets) == 1 and planned.unreadable:
                error = planned.unreadable[0].get("error") or {}
                raise AzureOperationError(error.get("message") or f"{part.targets[0].name} could not be read.")
            waves = service.waves_of([t for t in part.targets if service.key_of(t) in planned.plans], batch_size)
            for row in planned.rows:
                wave = waves.get(f"{row['name'].lower()}@{row['resourceGroup'].lower()}")
                row["wave"] = wave.number if wave else None
            if dry_run or not planned.plans:
                _no_rollback(planned, dry_run=dry_run, journal=journal)
                return
            lines = [_plan_line(row) for row in planned.rows]
            confirm_write("rollback (remove updates, restart)", len(planned.plans), lines, yes=yes)
            if len(planned.plans) <= 1 or yes:
                info("Rollback plan:\n" + "\n".join(lines))

            def on_wave(wave: Any) -> None:
                info(f"Wave {wave.number}: {wave.label} ({len(wave.members)} VM"
                     f"{'s' if len(wave.members) != 1 else ''})")

            result = service.execute(part.conn, part.targets, planned, options, batch_size=batch_size,
                                     on_wave=on_wave)
    finally:
        if journal is not None:
            journal.close()
    _finish(result, "rollback", ROLLBACK_COLUMNS, _rollback_table)


def _no_rollback(planned: Any, *, dry_run: bool, journal: Any) -> None:
    """The plan as rows (--dry-run, or nothing to roll back), and the exit that says why."""
    s = settings()
    render(planned.rows, s.output, s.query, columns=ROLLBACK_COLUMNS, table_view=_rollback_table)
    if planned.plans or (dry_run and planned.rows and not planned.unreadable):
        return
    if planned.unreadable:
        raise AzureOperationError(f"No VM can be rolled back: {len(planned.unreadable)} could not be read and "
                                  f"{len(planned.refused)} were refused.")
    if planned.refused:
        raise InputError(f"No VM can be rolled back ({len(planned.refused)} refused); first: "
                         f"{planned.refused[0].message}")
    info("Every VM was rolled back in an earlier run; nothing to do.")


RebootPendingOpt = Annotated[bool, typer.Option("--reboot-pending", help="Restart the VMs whose patch status says "
                                                "a reboot is pending (the only mode).")]
RESTART_COLUMNS = [Column("Name", "name"), Column("ResourceGroup", "resourceGroup"), Column("Wave", "wave"),
                   Column("WaveLabel", "waveLabel"), Column("Outcome", "outcome"), Column("Health", "health"),
                   Column("Error", "error.message"), Column("Id", "id", wide=True)]


@command
def restart(
    reboot_pending: RebootPendingOpt = False,
    name: NameOpt = None,
    resource_group: GroupOpt = None,
    ids: IdsOpt = None,
    tag: TagOpt = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    batch_size: BatchSizeOpt = 10,
    state_file: StateFileOpt = None,
    resume: ResumeOpt = False,
    max_parallel: InFlightOpt = None,
) -> None:
    """Restart, availability-first, the VMs whose patch status says a reboot is pending (after a baseline month,
    or an install with --reboot-setting Never). VMs with nothing pending are left alone.

    Zones one at a time, one update domain at a time, a health check after each wave, a stop on the first
    failure, after a confirmation (--yes skips it); --dry-run lists who would restart in which wave; the run
    is journalled and --resume restarts no VM twice.

    Example:

        hpctl restart --reboot-pending -g rg-web --dry-run -o table

        hpctl restart --reboot-pending --tag env=prod --yes
    """
    from hpctl import rollback as service
    from hpctl.cli.confirm import confirm_write, target_lines
    from hpctl.cli.patch import _in_flight, _targets
    from hpctl.fleet.interrupts import interrupts
    from hpctl.fleet.writes import WriteOptions, open_journal

    if not reboot_pending:
        raise InputError("hpctl restart only restarts VMs waiting for a reboot; add --reboot-pending.")
    check_run_options(dry_run=dry_run, batch_size=batch_size, state_file=state_file, resume=resume)
    in_flight = _in_flight(max_parallel)
    spec = _targets(name, resource_group, ids, tag)
    part = _setup(spec, yes=yes, dry_run=dry_run, state_file=state_file, in_flight=in_flight)
    readable = [t for t in part.targets if t.error is None]
    s = settings()
    journal = None if dry_run else open_journal("restart-reboot-pending", readable, {"batchSize": batch_size},
                                               state_file, resume)
    try:
        pending, left = service.pending_restarts(part.targets, journal)
        if dry_run or not pending:
            waves = service.waves_of(pending, batch_size)
            rows = sorted(({**t.row(), "outcome": "WouldRestart",
                            "wave": waves[service.key_of(t)].number, "waveLabel": waves[service.key_of(t)].label,
                            "error": None} for t in pending), key=lambda row: row["wave"])
            if not pending:
                info("No VM is waiting for a reboot; nothing to restart.")
            render(rows + left, s.output, s.query, columns=RESTART_COLUMNS)
            return
        confirm_write("restart", len(pending), target_lines(pending), yes=yes)
        with interrupts() as interrupt:
            options = WriteOptions(interrupt, in_flight, True, journal, None)
            result = service.restart_pending(part.conn, pending, left, options, batch_size=batch_size,
                                             on_wave=lambda w: info(f"Wave {w.number}: {w.label} "
                                                                    f"({len(w.members)} VMs)"))
    finally:
        if journal is not None:
            journal.close()
    _finish(result, "restart", RESTART_COLUMNS, None)

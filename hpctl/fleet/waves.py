"""Availability-first rollouts: wave by wave through the engine (every VM of a wave at once), a health gate
after each wave, a stop at the first failure, the journal for --resume."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from hpctl import arc_machines
from hpctl.core.arc_facts import arc_facts
from hpctl.core.patch_results import succeeded
from hpctl.core.rollout import RolloutTarget, Wave, health_problem, plan_waves
from hpctl.core.targets import ARC_KIND
from hpctl.core.vm_facts import vm_facts
from hpctl.edge import compute
from hpctl.edge.clients import Connection
from hpctl.fleet.installs import fill_arc_installed_patches, install_kind, run_install
from hpctl.fleet.kinds import ALREADY_DONE
from hpctl.fleet.writes import WriteOptions, outcome_row, summary_line
from hpctl.patching import FleetResult, Target, error_dict
from hpctl.runner import run_each

log = logging.getLogger(__name__)
HEALTH_READS = 8  # parallel GETs for the health gate


def rollout_target(target: Target) -> RolloutTarget:
    vm = target.vm or {}
    facts = vm_facts(vm)
    view = (vm.get("properties") or {}).get("instanceView") or {}
    avset = facts.availability_set.rstrip("/").rsplit("/", 1)[-1] if facts.availability_set else None
    return RolloutTarget(id=facts.id.lower(), resource_group=target.resource_group, name=target.name,
                         zone=facts.zones[0] if facts.zones else None, availability_set=avset,
                         update_domain=view.get("platformUpdateDomain"))


def wave_lines(targets: list[Target], batch_size: int, shown: int = 8) -> list[str]:
    """The waves a rollout would run, for the confirmation: one line each (the first `shown`)."""
    waves = plan_waves([rollout_target(t) for t in targets if t.error is None], batch_size)
    lines = [f"  {len(waves)} availability-first waves, health-checked, stopping at the first failure:"]
    lines += [f"    wave {w.number}: {w.label} ({len(w.members)} VMs)" for w in waves[:shown]]
    if len(waves) > shown:
        lines.append(f"    … and {len(waves) - shown} more")
    return lines


WaveRunner = Callable[[list[Target], dict[str, Any]], tuple[list[dict[str, Any]], int]]


def install_availability_first(
    conn: Connection, targets: list[Target], body: dict[str, Any], options: WriteOptions, *, batch_size: int,
    on_wave: Callable[[Wave], None] | None = None,
) -> tuple[FleetResult, list[Wave]]:
    """Install wave by wave; after each wave check its VMs (and Arc machines) are healthy; stop at the first
    failure. Arc machines have no zones or update domains: they go in --batch-size waves."""
    kind = install_kind(conn, body)

    def run_wave(members: list[Target], labels: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
        by_index, stats = run_install(conn, members, body, options)
        fill_arc_installed_patches(conn, members, by_index)
        return [outcome_row(t, by_index[i], kind.detail_key) | labels for i, t in enumerate(members)], \
            stats.throttled

    return availability_first(conn, targets, options, name="install", batch_size=batch_size, run_wave=run_wave,
                              on_wave=on_wave)


def availability_first(
    conn: Connection, targets: list[Target], options: WriteOptions, *, name: str, batch_size: int,
    run_wave: WaveRunner, on_wave: Callable[[Wave], None] | None = None,
    health: Callable[[dict[str, Any]], str | None] = health_problem,
) -> tuple[FleetResult, list[Wave]]:
    """Any fleet write wave by wave: `run_wave(members, labels)` does one wave's work and returns its rows (and
    the throttled requests it waited out); then the VMs it finished are health-checked; stop at the first
    failure or interrupt (rollback and restart use this with their own steps)."""
    result = FleetResult()
    readable = [t for t in targets if t.error is None]
    for t in targets:
        if t.error is not None:
            row = {**t.row(), "outcome": "Failed", "wave": None,
                   "error": error_dict(t.error)}
            result.rows.append(row)
            result.failed.append(row)
    by_id = {rollout_target(t).id: t for t in readable}
    waves = plan_waves([rollout_target(t) for t in readable], batch_size)
    stopped: str | None = None
    throttled = 0
    for wave in waves:
        members = [by_id[m.id] for m in wave.members]
        labels = {"wave": wave.number, "waveLabel": wave.label}
        if stopped is not None or options.interrupt.requested:
            reason = stopped or "interrupted"
            for t in members:
                result.rows.append({**t.row(), "outcome": "Skipped",
                                    **labels, "error": None, "reason": reason})
            continue
        if on_wave is not None:
            on_wave(wave)
        rows, waited = run_wave(members, labels)
        throttled += waited
        fresh = [(t, r) for t, r in zip(members, rows, strict=True) if succeeded(r["outcome"])]
        healthy = _health_gate(conn, fresh, health)
        result.rows += rows
        failed = [r for r in rows if not (succeeded(r["outcome"]) or r["outcome"] == ALREADY_DONE) or
                  str(r.get("health", "healthy")) != "healthy"]
        result.failed += [r for r in failed if r["outcome"] != "Accepted" and r["outcome"] != "Unknown"
                          and r["outcome"] != "NotStarted"]
        if failed and not options.interrupt.requested:
            stopped = f"stopped after wave {wave.number} ({wave.label}): a VM failed or is unhealthy"
            log.warning(stopped)
        elif not healthy:
            stopped = f"stopped after wave {wave.number} ({wave.label}): a VM is unhealthy"
    result.stopped = stopped
    if options.journal is not None:
        result.state_path = str(options.journal.path)
    from hpctl.fleet.engine import RunStats

    result.summary = summary_line(name, result.rows, RunStats(throttled=throttled))
    if options.interrupt.requested:
        result.interrupted = options.interrupt.exit_code
    return result, waves


def _arc_health_problem(machine: dict[str, Any]) -> str | None:
    """An Arc machine is healthy when its Connected Machine agent still reports after the wave."""
    facts = arc_facts(machine)
    return None if facts.connected else f"the Connected Machine agent is {facts.agent_status or 'not reporting'}"


def _read_back(conn: Connection, target: Target) -> dict[str, Any]:
    if target.kind == ARC_KIND:
        return arc_machines.read_machine(conn, target)
    return compute.get_vm(conn, target.resource_group, target.name, instance_view=True)


def _health_gate(conn: Connection, installed: list[tuple[Target, dict[str, Any]]],
                 health: Callable[[dict[str, Any]], str | None] = health_problem) -> bool:
    """Read each VM (or Arc machine) a wave finished back; mark its row healthy or not. True when all are."""
    checked = run_each([t for t, _ in installed], lambda t: _read_back(conn, t), max_parallel=HEALTH_READS)
    healthy = True
    for (target, row), outcome in zip(installed, checked, strict=True):
        check = _arc_health_problem if target.kind == ARC_KIND else health
        problem = check(outcome.value or {}) if outcome.ok else f"could not be read: {outcome.error}"
        row["health"] = "healthy" if problem is None else f"unhealthy: {problem}"
        healthy = healthy and problem is None
    return healthy

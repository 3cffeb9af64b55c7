"""Fleet writes as the CLI runs them: targets resolved per subscription (--ids may span several), then the
write per subscription under one interrupt, one progress display and one result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hpctl.core.rollout import Wave
from hpctl.core.targets import TargetSpec
from hpctl.edge.clients import Connection, connect
from hpctl.errors import HpctlError, InputError
from hpctl.fleet.engine import Progress
from hpctl.fleet.installs import assess, install, resolve
from hpctl.fleet.interrupts import Interrupt
from hpctl.fleet.waves import install_availability_first
from hpctl.fleet.writes import DEFAULT_IN_FLIGHT, WriteOptions, open_journal
from hpctl.patching import FleetResult, Target, as_error, error_dict


@dataclass
class Part:
    """The targets of one subscription, or why they could not be read."""

    subscription: str | None
    spec: TargetSpec
    conn: Connection | None = None
    targets: list[Target] | None = None
    error: HpctlError | None = None


def subscriptions_of(subscription: str | None, spec: TargetSpec) -> list[str | None]:
    """--ids carry their own subscription (as in az); the chosen one (-s, environment, defaults, the Azure
    CLI's) is for -n/-g and whole-subscription runs."""
    return list(spec.subscriptions) if spec.subscriptions else [subscription]


def resolve_parts(cloud: str, subscription: str | None, spec: TargetSpec, *, instance_view: bool = False,
                  pool_size: int = 10) -> list[Part]:
    """Resolve the targets in each subscription; one subscription's failure is kept, not raised, when there
    are several (a one-subscription run raises it: not found is exit 3)."""
    subscriptions = subscriptions_of(subscription, spec)
    parts = []
    for sub in subscriptions:
        part_spec = spec if len(subscriptions) == 1 else replace(
            spec, vms=tuple(vm for vm in spec.vms if vm.subscription == sub))
        part = Part(sub, part_spec)
        try:
            part.conn = connect(cloud, sub)
            part.conn.pool_size = pool_size
            part.targets = resolve(part.conn, part_spec, instance_view=instance_view)
        except HpctlError as exc:
            if len(subscriptions) == 1 or isinstance(exc, InputError):
                raise
            part.error = exc
        except Exception as exc:  # noqa: BLE001 - reported for every VM of that subscription
            if len(subscriptions) == 1:
                raise
            part.error = as_error(exc)
        parts.append(part)
    return parts


def target_count(parts: list[Part]) -> int:
    return sum(len(p.targets or []) if p.error is None else len(p.spec.vms) for p in parts)


def all_targets(parts: list[Part]) -> list[Target]:
    return [t for p in parts for t in (p.targets or [])]


def _failed_part(part: Part) -> FleetResult:
    result = FleetResult()
    assert part.error is not None
    for vm in part.spec.vms:
        row = {"id": vm.resource_id(part.subscription), "name": vm.name, "resourceGroup": vm.resource_group,
               "subscription": part.subscription,
               "outcome": "Failed", "error": error_dict(part.error)}
        result.rows.append(row)
        result.failed.append(row)
    return result


def _merge(parts: list[Part], run: Callable[[Part], FleetResult]) -> FleetResult:
    if len(parts) == 1 and parts[0].error is None:
        return run(parts[0])
    merged = FleetResult()
    summaries = []
    for part in parts:
        result = _failed_part(part) if part.error is not None else run(part)
        merged.rows += result.rows
        merged.failed += result.failed
        merged.interrupted = merged.interrupted or result.interrupted
        merged.stopped = merged.stopped or result.stopped
        merged.state_path = merged.state_path or result.state_path
        if result.summary:
            summaries.append(f"{part.subscription}: {result.summary}")
    merged.summary = "; ".join(summaries) or None
    return merged


def for_each_subscription(cloud: str, subscription: str | None, spec: TargetSpec,
                          action: Callable[[Connection, TargetSpec], FleetResult]) -> FleetResult:
    """`action(conn, spec)` once per subscription the targets live in (reads such as status); a failing
    subscription of several is reported for each of its VMs."""
    subscriptions = subscriptions_of(subscription, spec)
    if len(subscriptions) == 1:
        return action(connect(cloud, subscriptions[0]), spec)
    parts = [Part(sub, replace(spec, vms=tuple(vm for vm in spec.vms if vm.subscription == sub)))
             for sub in subscriptions]

    def run(part: Part) -> FleetResult:
        try:
            return action(connect(cloud, part.subscription), part.spec)
        except Exception as exc:  # noqa: BLE001 - one subscription's failure is reported, not raised
            part.error = as_error(exc)
            return _failed_part(part)

    return _merge(parts, run)


def assess_fleet(parts: list[Part], *, interrupt: Interrupt, wait: bool = True,
                 max_parallel: int = DEFAULT_IN_FLIGHT, on_progress: Callable[[Progress], None] | None = None
                 ) -> FleetResult:
    single = target_count(parts) == 1

    def run(part: Part) -> FleetResult:
        assert part.conn is not None and part.targets is not None
        options = WriteOptions(interrupt, max_parallel, wait, None, on_progress)
        return assess(part.conn, part.targets, options, single=single)

    return _merge(parts, run)


def install_fleet(parts: list[Part], body: dict[str, Any], *, interrupt: Interrupt, rollout: str = "none",
                  batch_size: int = 10, state_file: Path | None = None, resume: bool = False, wait: bool = True,
                  max_parallel: int = DEFAULT_IN_FLIGHT, on_progress: Callable[[Progress], None] | None = None,
                  on_wave: Callable[[Wave], None] | None = None) -> FleetResult:
    """Plain or availability-first installs, each journalled; every journal is opened (locked, proven
    writable) before the first request of any subscription is sent."""
    live = [p for p in parts if p.error is None]
    if state_file is not None and len(live) > 1:
        raise InputError("--state-file names one journal, but the --ids span several subscriptions; run one "
                         "subscription at a time, or leave --state-file out (each gets its own journal).")
    kind = "install" if rollout == "none" else f"install-{rollout}"
    settings = {"body": body, "batchSize": batch_size} if rollout != "none" else {"body": body}
    journals = {}
    try:
        for part in live:
            readable = [t for t in part.targets or [] if t.error is None]
            journals[id(part)] = open_journal(kind, readable, settings, state_file, resume)
        single = target_count(parts) == 1

        def run(part: Part) -> FleetResult:
            assert part.conn is not None and part.targets is not None
            options = WriteOptions(interrupt, max_parallel, wait, journals[id(part)], on_progress)
            if rollout == "availability":
                return install_availability_first(part.conn, part.targets, body, options, batch_size=batch_size,
                                                  on_wave=on_wave)[0]
            return install(part.conn, part.targets, body, options, single=single)

        return _merge(parts, run)
    finally:
        for journal in journals.values():
            journal.close()


def dry_run_fleet(parts: list[Part], body: dict[str, Any], *, rollout: str = "none", batch_size: int = 10
                  ) -> FleetResult:
    """`install --dry-run` over every subscription's targets: reads only."""
    from hpctl.fleet.dry_run import dry_run

    def run(part: Part) -> FleetResult:
        assert part.conn is not None and part.targets is not None
        return dry_run(part.conn, part.targets, body, rollout=rollout, batch_size=batch_size)

    return _merge(parts, run)

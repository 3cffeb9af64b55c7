"""assess and install on a fleet through the engine (rollout waves: hpctl.fleet.waves)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hpctl.core.patch_options import parse_duration_seconds
from hpctl.core.targets import VM_KIND, TargetSpec
from hpctl.edge.clients import Connection
from hpctl.errors import NotFoundError
from hpctl.fleet.patch_kinds import AssessKind, InstallKind
from hpctl.fleet.writes import WriteOptions, run_write, write_result
from hpctl.patching import FleetResult, Target, select_targets


def resolve(conn: Connection, spec: TargetSpec, *, instance_view: bool = False) -> list[Target]:
    """The target VMs (exit 3 when nothing matches)."""
    # VMs only until Arc assess/install are operation kinds of the engine.
    targets = select_targets(conn, replace(spec, kind=VM_KIND), instance_view=instance_view)
    if not targets:
        raise NotFoundError("No VM matched the targets given.",
                            hint="Check -g/--resource-group, -n/--name, --ids and --tag.")
    return targets


def assess(conn: Connection, targets: list[Target], options: WriteOptions, *, single: bool = True) -> FleetResult:
    """assessPatches on every target VM; ineligible VMs are assessed too, but flagged."""
    kind = AssessKind(conn)
    readable = [t for t in targets if t.error is None]
    outcomes, stats = run_write(conn, kind, readable, options)
    by_index = _by_index(targets, readable, outcomes)
    return write_result(kind, targets, by_index, stats, options, single=single)


def install_kind(conn: Connection, body: dict[str, Any]) -> InstallKind:
    return InstallKind(conn, body, max_seconds=parse_duration_seconds(str(body.get("maximumDuration") or "PT2H")))


def install(conn: Connection, targets: list[Target], body: dict[str, Any], options: WriteOptions, *,
            single: bool = True) -> FleetResult:
    """installPatches with one validated body on every target VM, journalled (options.journal)."""
    kind = install_kind(conn, body)
    readable = [t for t in targets if t.error is None]
    outcomes, stats = run_write(conn, kind, readable, options)
    return write_result(kind, targets, _by_index(targets, readable, outcomes), stats, options, single=single)


def _by_index(targets: list[Target], readable: list[Target], outcomes: list[Any]) -> dict[int, Any]:
    position = {id(t): i for i, t in enumerate(targets)}
    return {position[id(t)]: outcome for t, outcome in zip(readable, outcomes, strict=True)}

"""assess and install on a fleet of VMs and Arc machines through the engine (rollout waves: hpctl.fleet.waves):
each kind of machine runs as its own operation kind, and the rows come back in target order."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hpctl import arc_machines
from hpctl.core.patch_options import parse_duration_seconds
from hpctl.core.targets import ARC_KIND, TargetSpec
from hpctl.edge.clients import Connection
from hpctl.edge.errors import translate
from hpctl.errors import NotFoundError
from hpctl.fleet.arc_kinds import ArcAssessKind, ArcInstallKind
from hpctl.fleet.engine import RunStats
from hpctl.fleet.kinds import FAILED, SUCCEEDED, OperationKind, Outcome
from hpctl.fleet.patch_kinds import AssessKind, InstallKind
from hpctl.fleet.writes import WriteOptions, run_write, target_id, write_result
from hpctl.patching import FleetResult, Target, select_targets

log = logging.getLogger(__name__)


def resolve(conn: Connection, spec: TargetSpec, *, instance_view: bool = False) -> list[Target]:
    """The target VMs and Arc machines (exit 3 when nothing matches)."""
    targets = select_targets(conn, spec, instance_view=instance_view)
    if not targets:
        raise NotFoundError("No VM or Arc machine matched the targets given.",
                            hint="Check -g/--resource-group, -n/--name, --ids, --tag and --kind.")
    return targets


def run_kinds(conn: Connection, targets: list[Target], options: WriteOptions, vm_kind: OperationKind,
              arc_kind: OperationKind) -> tuple[dict[int, Outcome], RunStats]:
    """The readable targets through one engine run, VMs as `vm_kind` and Arc machines as `arc_kind`, side by side
    (each kind draws on its own budgets; one schedule, one progress, one journal); outcomes by position."""
    readable = [t for t in targets if t.error is None]
    if not readable:
        return {}, RunStats()
    kinds = [arc_kind if t.kind == ARC_KIND else vm_kind for t in readable]
    outcomes, stats = run_write(conn, vm_kind, readable, options, kinds=kinds)
    return _by_index(targets, readable, outcomes), stats


def assess(conn: Connection, targets: list[Target], options: WriteOptions, *, single: bool = True) -> FleetResult:
    """assessPatches on every target VM and Arc machine; ineligible ones are assessed too, but flagged. An Arc
    result has counts only: the patches found are read from Resource Graph afterwards (one query)."""
    kind = AssessKind(conn)
    by_index, stats = run_kinds(conn, targets, options, kind, ArcAssessKind(conn))
    arc_done = {target_id(targets[i]): o for i, o in by_index.items()
                if targets[i].kind == ARC_KIND and o.status == SUCCEEDED and o.detail is not None}
    if arc_done:
        with _rows_kept("the patches Arc machines' assessments found"):
            found = arc_machines.latest_results(conn, [str(targets[i].vm["id"]) for i in by_index
                                                      if target_id(targets[i]) in arc_done], patches=True)
            for key, outcome in arc_done.items():
                assert outcome.detail is not None
                outcome.detail["patches"] = (found.get(key) or {}).get("patchList") or []
    return write_result(kind, targets, by_index, stats, options, single=single)


def install_kind(conn: Connection, body: dict[str, Any]) -> InstallKind:
    return InstallKind(conn, body, max_seconds=parse_duration_seconds(str(body.get("maximumDuration") or "PT2H")))


def arc_install_kind(conn: Connection, body: dict[str, Any], targets: list[Target]) -> ArcInstallKind:
    """Arc's install kind, knowing each machine's latest installation before sending (one Resource Graph query),
    so that a lost answer can be reconciled."""
    ids = [str(t.vm["id"]) for t in targets if t.kind == ARC_KIND and t.vm and t.error is None]
    known = arc_machines.known_installations(conn, ids) if ids else {}
    return ArcInstallKind(conn, body, max_seconds=parse_duration_seconds(str(body.get("maximumDuration") or "PT2H")),
                          known=known)


def run_install(conn: Connection, targets: list[Target], body: dict[str, Any], options: WriteOptions
                ) -> tuple[dict[int, Outcome], RunStats]:
    """installPatches with one body on VMs and Arc machines (the same body for both)."""
    return run_kinds(conn, targets, options, install_kind(conn, body), arc_install_kind(conn, body, targets))


def install(conn: Connection, targets: list[Target], body: dict[str, Any], options: WriteOptions, *,
            single: bool = True) -> FleetResult:
    """installPatches with one validated body on every target VM and Arc machine, journalled (options.journal)."""
    by_index, stats = run_install(conn, targets, body, options)
    fill_arc_installed_patches(conn, targets, by_index)
    return write_result(install_kind(conn, body), targets, by_index, stats, options, single=single)


def fill_arc_installed_patches(conn: Connection, targets: list[Target], by_index: dict[int, Outcome]) -> None:
    """Arc's install result has counts only: fill each finished run's patches from Resource Graph (one query)."""
    done = {i: o for i, o in by_index.items() if targets[i].kind == ARC_KIND and o.detail
            and o.detail.get("installationActivityId") and o.status in (SUCCEEDED, FAILED)}
    if not done:
        return
    with _rows_kept("the patches Arc machines' installations touched"):
        found = arc_machines.installation_patches(conn, [str(targets[i].vm["id"]) for i in done])
        for i, outcome in done.items():
            assert outcome.detail is not None
            key = (target_id(targets[i]), str(outcome.detail["installationActivityId"]).lower())
            outcome.detail["patches"] = [{k: p.get(k) for k in ("kbId", "name", "classifications",
                                                                "installationState")} for p in found.get(key, [])]


@contextmanager
def _rows_kept(what: str) -> Iterator[None]:
    """A read that only adds detail after the operations ended: if Azure fails it, the run's rows still come out
    (without that detail, and a warning), instead of being lost to an error."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - only Azure's errors are kept; anything else is raised again
        error = translate(exc)
        if error is None:
            raise
        log.warning("Could not read %s (%s); the rows below lack them: %s", what, error, error.hint or "retry")


def _by_index(targets: list[Target], readable: list[Target], outcomes: list[Any]) -> dict[int, Any]:
    position = {id(t): i for i, t in enumerate(targets)}
    return {position[id(t)]: outcome for t, outcome in zip(readable, outcomes, strict=True)}

"""Which VMs and Arc machines a patch command targets, their rows, and `status` (reads); writes go through
hpctl.fleet."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hpctl import arc_machines
from hpctl.core.calendar import Calendar, load_calendar
from hpctl.core.patch_results import hotpatch_incompatible, patch_status_row
from hpctl.core.targets import ALL_KINDS, ARC_KIND, VM_KIND, TargetSpec, VmRef
from hpctl.core.track import PatchEvidence, needs_evidence, track_of, track_summary
from hpctl.core.vm_facts import power_state, resource_group_of, vm_facts
from hpctl.edge import compute
from hpctl.edge.clients import Connection
from hpctl.edge.errors import translate
from hpctl.errors import EXIT_NOT_FOUND, HpctlError, NotFoundError
from hpctl.runner import DEFAULT_MAX_PARALLEL, run_each

log = logging.getLogger(__name__)


@dataclass
class Target:
    """One VM or Arc machine to act on: its model when it could be read, else the error reading it gave."""

    resource_group: str
    name: str
    vm: dict[str, Any] | None = None
    error: BaseException | None = None
    kind: str = VM_KIND  # "vm" (Microsoft.Compute) or "arc" (Microsoft.HybridCompute)
    id: str = ""  # the resource id (so every row can feed --ids), known even when it couldn't be read

    def row(self) -> dict[str, Any]:
        """The keys every row about this VM or machine starts with."""
        return {"id": self.id, "name": self.name, "resourceGroup": self.resource_group, "kind": self.kind}


@dataclass
class FleetResult:
    """Rows for the renderer, plus what the exit code needs to know."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    single_error: HpctlError | None = None
    stopped: str | None = None  # why an availability-first rollout stopped early
    state_path: str | None = None  # the journal of a write (for --resume)
    interrupted: int | None = None  # the exit code an interrupt asks for (130 SIGINT, 143 SIGTERM)
    summary: str | None = None  # one line on what a fleet write started, finished and did not start


def as_error(exc: BaseException) -> HpctlError:
    return exc if isinstance(exc, HpctlError) else (translate(exc) or HpctlError(f"{type(exc).__name__}: {exc}"))


def error_dict(exc: BaseException) -> dict[str, Any]:
    err = as_error(exc)
    return {"message": err.message, "exitCode": err.exit_code, "hint": err.hint}


def _read_named(conn: Connection, ref: VmRef, instance_view: bool) -> tuple[str, dict[str, Any]]:
    """(kind, model) of a named target: a VM, or under --kind all an Arc machine when no VM has the name."""
    if ref.kind in (VM_KIND, ALL_KINDS):
        try:
            return VM_KIND, compute.get_vm(conn, ref.resource_group, ref.name, instance_view=instance_view)
        except Exception as exc:  # noqa: BLE001 - only "not found" moves on to Arc; the rest is this target's error
            if ref.kind == VM_KIND or as_error(exc).exit_code != EXIT_NOT_FOUND:
                raise
    try:
        return ARC_KIND, arc_machines.read_machine(conn, ref)
    except Exception as exc:  # noqa: BLE001
        error = as_error(exc)
        # No VM of that name, and no Arc machine either (or no Arc provider registered at all): not found.
        if ref.kind == ALL_KINDS and (error.exit_code == EXIT_NOT_FOUND or arc_machines.unregistered(exc)):
            raise NotFoundError(f"Not found: no VM or Arc machine named '{ref.name}' in resource group "
                                f"'{ref.resource_group}'.", hint="Check -g/--resource-group, -n/--name and "
                                "-s/--subscription (or --kind).", request_id=error.request_id) from exc
        raise


def select_targets(conn: Connection, spec: TargetSpec, *, instance_view: bool = False,
                   max_parallel: int = DEFAULT_MAX_PARALLEL) -> list[Target]:
    """Resolve -n/-g/--ids/--tag/--kind (or the whole subscription) to VMs and Arc machines, reading each model."""
    if spec.vms:
        refs = list(spec.vms)
        outcomes = run_each(refs, lambda ref: _read_named(conn, ref, instance_view), max_parallel=max_parallel)
        targets = []
        for o in outcomes:
            kind, model = o.value if o.value is not None else (o.target.kind, None)
            kind = ARC_KIND if kind == ARC_KIND else VM_KIND
            targets.append(Target(o.target.resource_group, o.target.name, vm=model, error=o.error, kind=kind,
                                  id=(model or {}).get("id") or o.target.resource_id(conn.subscription_id, kind)))
        return [t for t in targets if t.vm is None or spec.matches_tags(t.vm.get("tags"))]
    targets = []
    if spec.includes(VM_KIND):
        vms = compute.list_vms(conn, spec.resource_group, instance_view=instance_view)
        vms = [vm for vm in vms if spec.matches_tags(vm.get("tags"))]
        vms.sort(key=lambda vm: (resource_group_of(vm.get("id", "")).lower(), vm.get("name", "").lower()))
        targets += [Target(resource_group_of(vm["id"]), vm["name"], vm=vm, id=vm["id"]) for vm in vms]
    if spec.includes(ARC_KIND):
        targets += [Target(resource_group_of(m["id"]), m["name"], vm=m, kind=ARC_KIND, id=m.get("id", ""))
                    for m in arc_machines.list_in_scope(conn, spec)]
    return targets


def base_row(target: Target) -> dict[str, Any]:
    if target.kind == ARC_KIND and target.vm:
        return arc_machines.base_row(target.vm)
    row: dict[str, Any] = target.row()
    if target.vm:
        facts = vm_facts(target.vm)
        row.update({
            "image": facts.image,
            "eligible": facts.eligible,
            "hotpatch": facts.hotpatch,
            "patchMode": facts.patch_mode,
            "flags": list(facts.flags),
        })
    return row


def status_row(target: Target, today: date, evidence: PatchEvidence | None = None,
               calendar: Calendar | None = None, schedules: Any = None) -> dict[str, Any]:
    row = base_row(target)
    vm = target.vm or {}
    facts = vm_facts(vm) if vm else None
    instance_view = (vm.get("properties") or {}).get("instanceView") or {}
    patch_status = patch_status_row(instance_view)
    track = None
    if facts is not None and facts.eligible:
        track = track_summary(track_of(instance_view.get("osVersion"), today, calendar or load_calendar(),
                                       evidence=evidence, os_hint=facts.os_line,
                                       power_state=power_state(instance_view)))
    row.update({
        "location": facts.location if facts else None,
        "zone": ",".join(facts.zones) if facts else None,
        "assessmentMode": facts.assessment_mode if facts else None,
        "rebootSetting": facts.reboot_setting if facts else None,
        "osVersion": instance_view.get("osVersion"),
        "powerState": power_state(instance_view),
        "track": track,
        # Update Manager schedules the VM is in (None when they could not be read).
        "schedules": [s.as_dict() for s in schedules.for_vm(vm)] if schedules is not None and vm else None,
    })
    row.update(patch_status)
    if hotpatch_incompatible(patch_status["hotPatchStatus"]):
        row["flags"] = [*row.get("flags", []), "hotpatch-incompatible"]
    return row


def status(conn: Connection, spec: TargetSpec, *, today: date,
           max_parallel: int = DEFAULT_MAX_PARALLEL) -> FleetResult:
    """Patch settings and the last assessment/installation of every target VM (instance view) and Arc machine
    (the machine, then its latest results from Resource Graph in one query)."""
    targets = select_targets(conn, spec, instance_view=True, max_parallel=max_parallel)
    if not targets:
        raise NotFoundError("No VM or Arc machine matched the targets given.",
                            hint="Check -g/--resource-group, -n/--name, --ids, --tag and --kind.")
    vm_targets = [t for t in targets if t.kind != ARC_KIND]
    evidence = _evidence(conn, vm_targets)
    calendar = load_calendar()  # once: a refreshed calendar file is parsed and merged on each load
    from hpctl.fleet_reads import schedule_index

    read = [t.vm["id"] for t in vm_targets if t.vm]
    schedules = None
    if read:
        try:
            # Named VMs: only their own assignments are read (and every dynamic scope).
            schedules = schedule_index(conn, [conn.subscription_id], vm_ids=read if spec.vms else ())
        except Exception as exc:  # noqa: BLE001 - status stands without schedules; say why they are missing
            log.warning("Update Manager schedules could not be read (%s); the schedules column is left empty.",
                        as_error(exc).message)
    arc_ids = [t.vm["id"] for t in targets if t.kind == ARC_KIND and t.vm]
    arc_results = arc_machines.latest_results(conn, arc_ids) if arc_ids else {}
    result = FleetResult()
    for target in targets:
        if target.error is not None:
            row = {**target.row(), "error": error_dict(target.error)}
            result.failed.append(row)
            if len(targets) == 1:
                result.single_error = as_error(target.error)
        elif target.kind == ARC_KIND and target.vm:
            row = arc_machines.status_row(target.vm, arc_results.get(target.vm["id"].lower()), today)
            row["error"] = None
        else:
            row = status_row(target, today, evidence.get(str((target.vm or {}).get("id", "")).lower()), calendar,
                             schedules)
            row["error"] = None
        result.rows.append(row)
    return result


def _evidence(conn: Connection, targets: list[Target]) -> dict[str, PatchEvidence]:
    """Installed and available KBs (one Resource Graph query) for the hotpatch VMs whose agent reports no
    update revision: their track comes from these instead."""
    from hpctl.fleet_reads import patch_evidence

    ids = [t.vm["id"] for t in targets if t.vm and needs_evidence(t.vm)]
    return patch_evidence(conn, ids) if ids else {}

"""Arc machines as hpctl targets: find them (-n/-g/--ids/--tag/--kind), read their latest Update Manager
results from Resource Graph (Arc's ARM API has no patchStatus), and shape rows whose columns mean what they
mean for VMs."""

from __future__ import annotations

from datetime import date
from typing import Any

from hpctl.core import graph_queries as q
from hpctl.core.arc_facts import ArcFacts, arc_facts
from hpctl.core.calendar import load_calendar
from hpctl.core.compliance import assessment_summary, installation_summary
from hpctl.core.patch_results import arc_patch_list
from hpctl.core.targets import ALL_KINDS, ARC_KIND, TargetSpec
from hpctl.core.track import track_of, track_summary
from hpctl.edge import hybridcompute, resourcegraph
from hpctl.edge.clients import Connection
from hpctl.fleet_reads import PatchResults

ID_BATCH = 200


def unregistered(exc: BaseException) -> bool:
    """Whether a HybridCompute call failed because the subscription never registered the provider."""
    return hybridcompute.is_unregistered(exc)


def read_machine(conn: Connection, ref: Any) -> dict[str, Any]:
    """GET one Arc machine with its instance view; `ref` has resource_group and name (a VmRef or a Target)."""
    return hybridcompute.get_machine(conn, ref.resource_group, ref.name)


def list_in_scope(conn: Connection, spec: TargetSpec) -> list[dict[str, Any]]:
    """The Arc machines of a group (or the subscription) that pass the --tag filters, in name order. Under
    --kind all a subscription without the Arc provider registered just has none."""
    listed = hybridcompute.list_machines(conn, spec.resource_group, unregistered_is_empty=spec.kind == ALL_KINDS)
    machines = [m for m in listed if spec.matches_tags(m.get("tags"))]
    return sorted(machines, key=lambda m: (arc_facts(m).resource_group.lower(), m.get("name", "").lower()))


def latest_results(conn: Connection, machine_ids: list[str], *, patches: bool = False
                   ) -> dict[str, dict[str, Any]]:
    """Each machine's latest assessment and installation (+ the assessment's patches), from Resource Graph: one
    paged query per ID_BATCH machines, keyed by lower-case machine id."""
    results = PatchResults()
    for rows in _result_pages(conn, machine_ids):
        results.add(rows)
    by_machine = results.by_vm
    if not patches:
        return by_machine
    return {key: {**slot, "patchList": arc_patch_list(slot.get("patches") or [])} for key, slot in by_machine.items()}


def _result_pages(conn: Connection, machine_ids: list[str]) -> list[list[dict[str, Any]]]:
    """The machines' latest patch-result rows, one paged query per ID_BATCH machines."""
    pages = []
    for start in range(0, len(machine_ids), ID_BATCH):
        kql = q.latest_patch_results_query(None, machine_ids[start:start + ID_BATCH], kinds=(ARC_KIND,))
        rows, _ = resourcegraph.query(conn, kql, [conn.subscription_id] if conn.subscription_id else None)
        pages.append(rows)
    return pages


def base_row(machine: dict[str, Any]) -> dict[str, Any]:
    """The columns every command shows first, as for a VM (image = the agent's osSku)."""
    f = arc_facts(machine)
    return {"id": machine.get("id"), "name": f.name, "resourceGroup": f.resource_group, "kind": "arc",
            "image": f.os_sku,
            "eligible": f.eligible, "hotpatch": f.hotpatch, "patchMode": f.patch_mode, "flags": list(f.flags)}


def _arc_columns(f: ArcFacts) -> dict[str, Any]:
    return {"agentStatus": f.agent_status, "enrollment": f.enrollment, "azureLocal": f.azure_local,
            "enablementError": f.enablement_error}


def status_row(machine: dict[str, Any], slot: dict[str, Any] | None, today: date) -> dict[str, Any]:
    """A status row: settings from the machine, the track from its build, the last runs from Resource Graph."""
    f = arc_facts(machine)
    slot = slot or {}
    return {
        **base_row(machine),
        "location": f.location,
        "zone": None,
        "assessmentMode": f.assessment_mode,
        "rebootSetting": None,
        "osVersion": f.os_version,
        "track": track_summary(track_of(f.os_version, today, load_calendar())) if f.eligible else None,
        "lastAssessment": assessment_summary(slot.get("assessment")),
        "lastInstallation": installation_summary(slot.get("installation")),
        "configurationStatuses": [],
        **_arc_columns(f),
    }


def _latest_installations(conn: Connection, machine_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each machine's latest installation record as Azure wrote it (its properties), by lower-case id: the
    activity id and times the report's summaries leave out."""
    latest: dict[str, dict[str, Any]] = {}
    for rows in _result_pages(conn, machine_ids):
        for row in rows:
            if q.record_kind(row.get("type")) != q.INSTALLATION:
                continue
            props = row.get("properties") or {}
            key = q.vm_id_of(row.get("id", ""))
            when = str(props.get("lastModifiedDateTime") or "")
            if key not in latest or when > str(latest[key].get("lastModifiedDateTime") or ""):
                latest[key] = props
    return latest


def latest_installation(conn: Connection, machine_id: str) -> dict[str, Any] | None:
    """One machine's latest installation record's properties (Update Manager's, from Resource Graph)."""
    return _latest_installations(conn, [machine_id]).get(machine_id.lower())


def known_installations(conn: Connection, machine_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The latest installation of each machine before an install is sent (journalled as `before`, so that a
    lost answer can be told apart from an older run): activity id and time, by lower-case id."""
    return {key: {"installationActivityId": props.get("installationActivityId"),
                  "startTime": str(props.get("startDateTime") or "")}
            for key, props in _latest_installations(conn, machine_ids).items()}


def installation_patches(conn: Connection, machine_ids: list[str]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Each recent installation's patches (Arc's install result lists none): (machine id, activity id), both
    lower case -> the patches, from one paged Resource Graph query per ID_BATCH machines."""
    from hpctl.core.history import timelines

    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for start in range(0, len(machine_ids), ID_BATCH):
        kql = q.history_query(1, None, machine_ids[start:start + ID_BATCH], patches=True, kinds=(ARC_KIND,))
        rows, _ = resourcegraph.query(conn, kql, [conn.subscription_id] if conn.subscription_id else None)
        for machine in timelines(rows):
            for event in machine["events"]:
                if event["kind"] == "installation" and event.get("activityId"):
                    out[(machine["id"], str(event["activityId"]).lower())] = event.get("patches") or []
    return out

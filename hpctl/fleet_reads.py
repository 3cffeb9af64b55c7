"""Fleet-wide reads through Azure Resource Graph: update history and the facts the report judges."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hpctl.core import graph_queries as q
from hpctl.core.history import timelines
from hpctl.core.targets import TargetSpec
from hpctl.edge import resourcegraph
from hpctl.edge.clients import Connection
from hpctl.errors import NotFoundError

ID_BATCH = 200


@dataclass
class GraphScope:
    """Which subscriptions (None: all the identity can read) and which VMs inside them."""

    subscriptions: list[str] | None
    resource_group: str | None
    vm_ids: list[str]
    tags: list[tuple[str, str | None]]


def scope_of(spec: TargetSpec, subscriptions: Sequence[str] | None) -> GraphScope:
    vm_ids = [vm.resource_id(vm.subscription or (subscriptions[0] if subscriptions else None))
              for vm in spec.vms]
    subs = list(subscriptions) if subscriptions else None
    if spec.subscriptions:
        subs = sorted(set(subs or []) | set(spec.subscriptions))
    return GraphScope(subs, spec.resource_group if not spec.vms else None, vm_ids,
                      [(t.key, t.value) for t in spec.tag_filters])


@dataclass
class GraphResult:
    rows: list[dict[str, Any]]
    pages: int


def _run(conn: Connection, kql: str, scope: GraphScope, stats: dict[str, int]) -> list[dict[str, Any]]:
    rows, pages = resourcegraph.query(conn, kql, scope.subscriptions)
    stats["queries"] = stats.get("queries", 0) + 1
    stats["pages"] = stats.get("pages", 0) + pages
    return rows


def tagged_vm_ids(conn: Connection, scope: GraphScope, stats: dict[str, int]) -> list[str]:
    """Patch records carry no tags: resolve --tag to VM ids first."""
    rows = _run(conn, q.vms_query(scope.resource_group, scope.vm_ids, scope.tags), scope, stats)
    return [r["id"] for r in rows]


def require_group_if_empty(conn: Connection, scope: GraphScope, found: int) -> None:
    """Resource Graph answers a misspelt group with no rows; say it doesn't exist (exit 3) instead of
    reporting an empty, green fleet."""
    if found or not scope.resource_group:
        return
    from hpctl.edge.clients import connect
    from hpctl.edge.deployments import resource_group_location

    subscriptions = scope.subscriptions or ([conn.subscription_id] if conn.subscription_id else [])
    for subscription in subscriptions:
        if resource_group_location(connect(conn.cloud, subscription), scope.resource_group) is not None:
            return
    if subscriptions:
        raise NotFoundError(f"Resource group '{scope.resource_group}' was not found in "
                            f"{', '.join(subscriptions)}.", hint="Check -g/--resource-group and --subscriptions.")


def schedule_index(conn: Connection, subscriptions: Sequence[str] | None,
                   stats: dict[str, int] | None = None, vm_ids: Sequence[str] = ()) -> Any:
    """Update Manager schedules and their assignments (static and dynamic) in two paged queries; with vm_ids,
    only those VMs' static assignments are read (dynamic scopes always are: any VM may match one)."""
    from hpctl.core.schedules import ScheduleIndex

    stats = {} if stats is None else stats
    scope = GraphScope(list(subscriptions) if subscriptions else None, None, [], [])
    configurations = _run(conn, q.maintenance_configurations_query(), scope, stats)
    assignments = _run(conn, q.maintenance_assignments_query(vm_ids[:ID_BATCH] if len(vm_ids) <= ID_BATCH else ()),
                       scope, stats)
    return ScheduleIndex(configurations, assignments)


def history(conn: Connection, scope: GraphScope, days: int, *, patches: bool = False) -> dict[str, Any]:
    """Per-VM timelines for the last `days` days (one paged query; two when filtering by tag)."""
    stats: dict[str, int] = {}
    vm_ids = scope.vm_ids
    if scope.tags:
        vm_ids = tagged_vm_ids(conn, scope, stats)
        if not vm_ids:
            return {"vms": [], "stats": stats}
    records = _run(conn, q.history_query(days, scope.resource_group, vm_ids, patches=patches), scope, stats)
    vms = timelines(records)
    require_group_if_empty(conn, scope, len(vms))
    return {"vms": vms, "stats": stats}


def fleet(conn: Connection, scope: GraphScope) -> dict[str, Any]:
    """VMs (model + osVersion), scale sets, and patch results in three paged queries."""
    stats: dict[str, int] = {}
    vms = _run(conn, q.vms_query(scope.resource_group, scope.vm_ids, scope.tags), scope, stats)
    scale_sets = [] if scope.vm_ids else _run(conn, q.scale_sets_query(scope.resource_group, scope.tags), scope,
                                              stats)
    records: list[dict[str, Any]] = []
    if vms and (scope.tags or scope.vm_ids):
        ids = [vm["id"] for vm in vms]
        # Keep each KQL text a reasonable size: ids go in batches.
        for start in range(0, len(ids), ID_BATCH):
            records += _run(conn, q.latest_patch_results_query(None, ids[start:start + ID_BATCH]), scope, stats)
    elif vms:
        records = _run(conn, q.latest_patch_results_query(scope.resource_group), scope, stats)
    return {"vms": vms, "scaleSets": scale_sets, "records": records, "stats": stats}


def records_by_vm(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each VM's latest assessment (+ its pending patches) and latest installation, from patch-result rows."""
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        vm_id = q.vm_id_of(record.get("id", ""))
        slot = out.setdefault(vm_id, {"assessment": None, "installation": None, "patches": []})
        kind = (record.get("type") or "").lower()
        when = str((record.get("properties") or {}).get("lastModifiedDateTime") or "")
        if kind == q.ASSESSMENT_TYPE:
            if slot["assessment"] is None or when > slot["_a"]:
                slot["assessment"], slot["_a"] = record, when
        elif kind == q.INSTALLATION_TYPE:
            if slot["installation"] is None or when > slot["_i"]:
                slot["installation"], slot["_i"] = record, when
        elif kind == q.ASSESSMENT_PATCH_TYPE:
            slot["patches"].append(record)
    return out


def patch_evidence(conn: Connection, vm_ids: list[str], scope: GraphScope | None = None,
                   stats: dict[str, int] | None = None) -> dict[str, Any]:
    """{vm id (lower case): PatchEvidence} from Resource Graph's installation and assessment patch rows."""
    from hpctl.core.patch_results import evidence_kbs
    from hpctl.core.track import patch_evidence as evidence

    if scope is None:
        scope = GraphScope([conn.subscription_id] if conn.subscription_id else None, None, vm_ids, [])
    stats = {} if stats is None else stats
    rows: list[dict[str, Any]] = []
    for start in range(0, len(vm_ids), ID_BATCH):
        rows += _run(conn, q.patch_evidence_query(vm_ids[start:start + ID_BATCH]), scope, stats)
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for row in rows:
        slot = grouped.setdefault(q.vm_id_of(row.get("id", "")), {"installed": [], "available": []})
        is_install = (row.get("type") or "").lower() == q.INSTALLATION_PATCH_TYPE
        slot["installed" if is_install else "available"].append(row)
    return {vm: evidence(evidence_kbs(slot["installed"], "installationState", "Installed"),
                         evidence_kbs(slot["available"], "installationState"))
            for vm, slot in grouped.items()}


def compliance_inputs(conn: Connection, scope: GraphScope, *, instance_views: bool = False
                      ) -> tuple[list[Any], list[Any], dict[str, int]]:
    """VmRecords and ScaleSetRecords for the report, from the fleet's Resource Graph reads (plus, for VMs whose
    agent reports no update revision, their installed KBs; and with instance_views, Compute instance views)."""
    from hpctl.core.compliance import scale_set_record, vm_record
    from hpctl.core.track import needs_evidence

    data = fleet(conn, scope)
    require_group_if_empty(conn, scope, len(data["vms"]) + len(data["scaleSets"]))
    by_vm = records_by_vm(data["records"])
    stats = data["stats"]
    without_revision = [vm["id"] for vm in data["vms"] if needs_evidence(vm)]
    evidence = patch_evidence(conn, without_revision, scope, stats) if without_revision else {}
    views = compute_instance_views(conn, scope, data["vms"], stats) if instance_views else {}
    schedules = schedule_index(conn, scope.subscriptions, stats) if data["vms"] else None
    vms = []
    for vm in data["vms"]:
        key = vm["id"].lower()
        slot = by_vm.get(key, {})
        vms.append(vm_record(vm, instance_view=views.get(key), assessment=slot.get("assessment"),
                             installation=slot.get("installation"), patches=slot.get("patches") or (),
                             installed_kbs=evidence[key].installed if key in evidence else (),
                             schedules=schedules.for_vm(vm) if schedules is not None else None))
    return vms, [scale_set_record(s) for s in data["scaleSets"]], stats


def compute_instance_views(conn: Connection, scope: GraphScope, vms: list[dict[str, Any]],
                           stats: dict[str, int]) -> dict[str, dict[str, Any]]:
    """{vm id (lower case): instance view} through Compute: one paged list ($expand=instanceView) per
    subscription (per group with -g) holding the VMs, for what Resource Graph doesn't copy (patchStatus)."""
    from hpctl.edge.clients import connect
    from hpctl.edge.compute import list_vms

    views: dict[str, dict[str, Any]] = {}
    for subscription in sorted({str(vm.get("subscriptionId") or conn.subscription_id) for vm in vms}):
        sub_conn = conn if subscription == conn.subscription_id else connect(conn.cloud, subscription)
        for vm in list_vms(sub_conn, scope.resource_group, instance_view=True):
            views[str(vm.get("id", "")).lower()] = (vm.get("properties") or {}).get("instanceView") or {}
        stats["computeLists"] = stats.get("computeLists", 0) + 1
    return views

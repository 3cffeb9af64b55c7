"""Fleet-wide reads through Azure Resource Graph: update history and the facts the report judges."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from hpctl.core import graph_queries as q
from hpctl.core.compliance import (
    Evaluation,
    Report,
    ResourceResult,
    ScaleSetRecord,
    VmModel,
    VmRecord,
    assessment_summary,
    complete_record,
    installation_summary,
    scale_set_record,
    vm_model,
)
from hpctl.core.gc_pause import cyclic_gc_paused
from hpctl.core.history import timelines
from hpctl.core.targets import ALL_KINDS, ARC_KIND, VM_KIND, TargetSpec
from hpctl.edge import resourcegraph
from hpctl.edge.clients import Connection
from hpctl.errors import NotFoundError

ID_BATCH = 200

log = logging.getLogger(__name__)


@dataclass
class GraphScope:
    """Which subscriptions (None: all the identity can read), which VMs / Arc machines inside them, and which
    kinds of machine (vm, arc)."""

    subscriptions: list[str] | None
    resource_group: str | None
    vm_ids: list[str]
    tags: list[tuple[str, str | None]]
    kinds: tuple[str, ...] = q.ALL


def scope_of(spec: TargetSpec, subscriptions: Sequence[str] | None) -> GraphScope:
    kinds = q.ALL if spec.kind == ALL_KINDS else (spec.kind,)
    vm_ids = []
    for vm in spec.vms:
        subscription = vm.subscription or (subscriptions[0] if subscriptions else None)
        # A name under --kind all may be either: both ids are looked up (only one exists).
        for kind in ((VM_KIND, ARC_KIND) if vm.kind == ALL_KINDS else (vm.kind,)):
            vm_ids.append(vm.resource_id(subscription, kind))
    subs = list(subscriptions) if subscriptions else None
    if spec.subscriptions:
        subs = sorted(set(subs or []) | set(spec.subscriptions))
    return GraphScope(subs, spec.resource_group if not spec.vms else None, vm_ids,
                      [(t.key, t.value) for t in spec.tag_filters], kinds)


def _ids_of(ids: list[str], kind: str) -> list[str]:
    marker = f"/providers/{q.VM_TYPE if kind == VM_KIND else q.ARC_TYPE}/"
    return [i for i in ids if marker in i.lower()]


def _pages(conn: Connection, kql: str, scope: GraphScope, stats: dict[str, int],
           quota: resourcegraph.QuotaClock | None = None) -> Iterator[list[dict[str, Any]]]:
    stats["queries"] = stats.get("queries", 0) + 1
    for page in resourcegraph.pages(conn, kql, scope.subscriptions, quota=quota):
        stats["pages"] = stats.get("pages", 0) + 1
        yield page


def _run(conn: Connection, kql: str, scope: GraphScope, stats: dict[str, int],
         quota: resourcegraph.QuotaClock | None = None) -> list[dict[str, Any]]:
    return [row for page in _pages(conn, kql, scope, stats, quota) for row in page]


def _machines(conn: Connection, scope: GraphScope, kind: str, stats: dict[str, int],
              quota: resourcegraph.QuotaClock | None = None) -> list[dict[str, Any]]:
    """The VMs or Arc machines in scope (none when the kind is not asked for, or no id of it was named)."""
    if kind not in scope.kinds:
        return []
    ids = _ids_of(scope.vm_ids, kind)
    if scope.vm_ids and not ids:
        return []
    query = q.vms_query if kind == VM_KIND else q.arc_machines_query
    return _run(conn, query(scope.resource_group, ids, scope.tags), scope, stats, quota)


def tagged_vm_ids(conn: Connection, scope: GraphScope, stats: dict[str, int]) -> list[str]:
    """Patch records carry no tags: resolve --tag to VM and Arc machine ids first."""
    return [r["id"] for kind in scope.kinds for r in _machines(conn, scope, kind, stats)]


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
                   stats: dict[str, int] | None = None, vm_ids: Sequence[str] = (),
                   quota: resourcegraph.QuotaClock | None = None) -> Any:
    """Update Manager schedules and their assignments (static and dynamic) in two paged queries; with vm_ids,
    only those VMs' static assignments are read (dynamic scopes always are: any VM may match one)."""
    from hpctl.core.schedules import ScheduleIndex

    stats = {} if stats is None else stats
    scope = GraphScope(list(subscriptions) if subscriptions else None, None, [], [])
    configurations = _run(conn, q.maintenance_configurations_query(), scope, stats, quota)
    assignments = _run(conn, q.maintenance_assignments_query(vm_ids[:ID_BATCH] if len(vm_ids) <= ID_BATCH else ()),
                       scope, stats, quota)
    return ScheduleIndex(configurations, assignments)


def history(conn: Connection, scope: GraphScope, days: int, *, patches: bool = False) -> dict[str, Any]:
    """Per-VM timelines for the last `days` days (one paged query; two when filtering by tag)."""
    stats: dict[str, int] = {}
    vm_ids = scope.vm_ids
    if scope.tags:
        vm_ids = tagged_vm_ids(conn, scope, stats)
        if not vm_ids:
            return {"vms": [], "stats": stats}
    records = _run(conn, q.history_query(days, scope.resource_group, vm_ids, patches=patches, kinds=scope.kinds),
                   scope, stats)
    vms = timelines(records)
    require_group_if_empty(conn, scope, len(vms))
    return {"vms": vms, "stats": stats}


class PatchResults:
    """Each VM's latest assessment (+ its pending patches) and latest installation, folded in a page of
    patch-result rows at a time so that only those are kept."""

    def __init__(self) -> None:
        self.by_vm: dict[str, dict[str, Any]] = {}

    def add(self, records: Iterable[dict[str, Any]]) -> set[str]:
        """Fold in rows; returns the (lower-case) ids of the VMs they belong to."""
        touched: set[str] = set()
        for record in records:
            vm_id = q.vm_id_of(record.get("id", ""))
            touched.add(vm_id)
            slot = self.by_vm.setdefault(vm_id, {"assessment": None, "installation": None, "patches": []})
            # VMs' and Arc machines' records alike (the same tables, their own types).
            kind = q.record_kind(record.get("type"))
            props = record.get("properties")
            when = str((props or {}).get("lastModifiedDateTime") or "")
            # The latest assessment and installation are kept as their summaries, not as rows.
            if kind == q.ASSESSMENT:
                if slot["assessment"] is None or when > slot["_a"]:
                    slot["assessment"], slot["_a"] = assessment_summary(record), when
            elif kind == q.INSTALLATION:
                if slot["installation"] is None or when > slot["_i"]:
                    slot["installation"], slot["_i"] = installation_summary(record), when
            elif kind == q.ASSESSMENT_PATCH:
                # What pending_patches reads: the properties, and the row's name (the patchId) to tell patches apart.
                name = record.get("name")
                slot["patches"].append({"name": name, "id": None if name else record.get("id"), "properties": props})
        return touched

    def complete(self, model: VmModel, installed_kbs: Iterable[str] = ()) -> VmRecord:
        slot = self.by_vm.get(model.facts.id.lower(), {})
        return complete_record(model, assessment=slot.get("assessment"), installation=slot.get("installation"),
                               patches=slot.get("patches") or (), installed_kbs=installed_kbs)


def latest_patch_results(conn: Connection, vm_ids: list[str], scope: GraphScope) -> PatchResults:
    """These VMs' latest assessments (with their pending patches) and installations (install --dry-run)."""
    results = PatchResults()
    stats: dict[str, int] = {}
    for start in range(0, len(vm_ids), ID_BATCH):
        for page in _pages(conn, q.latest_patch_results_query(None, vm_ids[start:start + ID_BATCH]), scope, stats):
            results.add(page)
    return results


def patch_evidence(conn: Connection, vm_ids: list[str], scope: GraphScope | None = None,
                   stats: dict[str, int] | None = None, quota: resourcegraph.QuotaClock | None = None
                   ) -> dict[str, Any]:
    """{vm id (lower case): PatchEvidence} from Resource Graph's installation and assessment patch rows."""
    from hpctl.core.patch_results import evidence_kbs
    from hpctl.core.track import patch_evidence as evidence

    if scope is None:
        scope = GraphScope([conn.subscription_id] if conn.subscription_id else None, None, vm_ids, [])
    stats = {} if stats is None else stats
    rows: list[dict[str, Any]] = []
    for start in range(0, len(vm_ids), ID_BATCH):
        rows += _run(conn, q.patch_evidence_query(vm_ids[start:start + ID_BATCH]), scope, stats, quota)
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for row in rows:
        slot = grouped.setdefault(q.vm_id_of(row.get("id", "")), {"installed": [], "available": []})
        is_install = (row.get("type") or "").lower() == q.INSTALLATION_PATCH_TYPE
        slot["installed" if is_install else "available"].append(row)
    return {vm: evidence(evidence_kbs(slot["installed"], "installationState", "Installed"),
                         evidence_kbs(slot["available"], "installationState"))
            for vm, slot in grouped.items()}


def _read_vms(conn: Connection, scope: GraphScope, stats: dict[str, int], quota: resourcegraph.QuotaClock,
              instance_views: bool) -> tuple[list[VmModel], list[ScaleSetRecord], set[str]]:
    if VM_KIND not in scope.kinds or (scope.vm_ids and not _ids_of(scope.vm_ids, VM_KIND)):
        return [], [], set()  # --kind arc, or only Arc machines named
    vm_ids = _ids_of(scope.vm_ids, VM_KIND)
    """The VMs' models, the scale sets, and the ids (lower case) of the VMs whose track needs patch evidence.

    Each page is converted as it arrives, inside the wait for the quota's next window, and only what the rules
    read is kept (VmModel), not the rows; with instance_views the rows wait for Compute's instance views."""
    from hpctl.core.track import needs_evidence

    vms: list[dict[str, Any]] = []
    models: list[VmModel] = []
    needing: set[str] = set()
    # Which Update Manager schedules each VM is in is worked out as its row arrives: the schedules come first.
    schedules = schedule_index(conn, scope.subscriptions, stats, quota=quota)
    for page in _pages(conn, q.vm_facts_query(scope.resource_group, vm_ids, scope.tags), scope, stats, quota):
        for row in page:
            vm = q.vm_from_facts_row(row)
            if needs_evidence(vm):
                needing.add(str(vm.get("id", "")).lower())
            if instance_views:
                vms.append(vm)
            else:
                models.append(vm_model(vm, schedules=schedules.for_vm(vm)))
    scale_sets = [] if scope.vm_ids else [
        scale_set_record(row)
        for page in _pages(conn, q.scale_sets_query(scope.resource_group, scope.tags), scope, stats, quota)
        for row in page]
    if vms:
        views = compute_instance_views(
            conn, scope, {str(vm.get("subscriptionId") or conn.subscription_id) for vm in vms}, stats)
        models = [vm_model(vm, instance_view=views.get(str(vm.get("id", "")).lower()), schedules=schedules.for_vm(vm))
                  for vm in vms]
    return models, scale_sets, needing


def _patch_pages(conn: Connection, scope: GraphScope, models: list[VmModel], stats: dict[str, int],
                 quota: resourcegraph.QuotaClock) -> Iterator[list[dict[str, Any]]]:
    if models and (scope.tags or scope.vm_ids):
        ids = [m.facts.id for m in models]
        # Keep each KQL text a reasonable size: ids go in batches.
        for start in range(0, len(ids), ID_BATCH):
            yield from _pages(conn, q.latest_patch_results_query(None, ids[start:start + ID_BATCH]), scope, stats,
                              quota)
    elif models:
        yield from _pages(conn, q.latest_patch_results_query(scope.resource_group), scope, stats, quota)


def compliance_report(conn: Connection, scope: GraphScope, evaluation: Evaluation, *, instance_views: bool = False,
                      on_judged: Callable[[ResourceResult], None] | None = None) -> tuple[Report, dict[str, int]]:
    """The compliance Report of the fleet in scope, judging each VM while the quota holds back the next page
    (plus, for VMs whose agent reports no update revision, their installed KBs; and with instance_views,
    Compute instance views).

    Patch results come ordered by id, so once a page has moved past a VM's id its results are all in: it is
    judged then, not after the last page. Should a later row belong to a VM already judged (ids whose case
    sorts them elsewhere), that VM is judged again at the end; the report never rests on the guess.
    `on_judged` sees each result judged before the last page, while the quota holds the next one back (the
    CLI lays its JSON out then); a VM judged again later is a new result.
    """
    with cyclic_gc_paused():
        return _judge_fleet(conn, scope, evaluation, instance_views, on_judged or (lambda result: None))


def _judge_arc(conn: Connection, scope: GraphScope, evaluation: Evaluation, stats: dict[str, int],
               quota: resourcegraph.QuotaClock) -> list[ResourceResult]:
    """The Arc machines in scope, judged on their latest Update Manager records (two queries)."""
    from hpctl.core.compliance import arc_record

    machines = _machines(conn, scope, ARC_KIND, stats, quota)
    if not machines:
        return []
    ids = [m["id"] for m in machines]
    results = PatchResults()
    if scope.tags or scope.vm_ids:
        for start in range(0, len(ids), ID_BATCH):
            results.add(_run(conn, q.latest_patch_results_query(None, ids[start:start + ID_BATCH], (ARC_KIND,)),
                             scope, stats, quota))
    else:
        results.add(_run(conn, q.latest_patch_results_query(scope.resource_group, kinds=(ARC_KIND,)), scope, stats,
                         quota))
    judged = []
    for machine in machines:
        slot = results.by_vm.get(machine["id"].lower(), {})
        judged.append(evaluation.arc(arc_record(machine, assessment=slot.get("assessment"),
                                                installation=slot.get("installation"),
                                                patches=slot.get("patches") or ())))
    return judged


def _judge_fleet(conn: Connection, scope: GraphScope, evaluation: Evaluation, instance_views: bool,
                 on_judged: Callable[[ResourceResult], None]) -> tuple[Report, dict[str, int]]:
    stats: dict[str, int] = {}
    quota = resourcegraph.QuotaClock()
    models, scale_sets, needing = _read_vms(conn, scope, stats, quota, instance_views)
    arc_results = _judge_arc(conn, scope, evaluation, stats, quota)
    for result in arc_results:
        on_judged(result)
    require_group_if_empty(conn, scope, len(models) + len(scale_sets) + len(arc_results))
    results = PatchResults()
    # One ordered query (a group or the subscription) allows judging early; id batches each start over. VMs that
    # need patch evidence wait for its query.
    early = not (scope.tags or scope.vm_ids)
    order = sorted(range(len(models)), key=lambda i: models[i].facts.id.lower()) if early else []
    judged: dict[int, ResourceResult] = {}
    judged_ids: dict[str, int] = {}
    again: set[int] = set()
    cursor = 0
    for page in _patch_pages(conn, scope, models, stats, quota):
        for vm_id in results.add(page):
            if vm_id in judged_ids:
                again.add(judged_ids[vm_id])
        if not early or not page:
            continue
        last = q.vm_id_of(page[-1].get("id", "")) + "/"
        while cursor < len(order):
            index = order[cursor]
            key = models[index].facts.id.lower() + "/"
            if key >= last:
                break
            if key[:-1] not in needing:
                judged[index] = evaluation.vm(results.complete(models[index]))
                judged_ids[key[:-1]] = index
                on_judged(judged[index])
            cursor += 1
    evidence = patch_evidence(conn, [m.facts.id for m in models if m.facts.id.lower() in needing], scope, stats,
                              quota) if needing else {}
    log.debug("Judged %d of %d VMs as their patch results came in (%d of them again at the end)",
              len(judged), len(models), len(again))
    vm_results = []
    for i, model in enumerate(models):
        if i in judged and i not in again:
            vm_results.append(judged[i])
            continue
        key = model.facts.id.lower()
        vm_results.append(evaluation.vm(results.complete(
            model, installed_kbs=evidence[key].installed if key in evidence else ())))
    return evaluation.report(vm_results, [evaluation.scale_set(s) for s in scale_sets], arc_results), stats


def compute_instance_views(conn: Connection, scope: GraphScope, subscriptions: Iterable[str],
                           stats: dict[str, int]) -> dict[str, dict[str, Any]]:
    """{vm id (lower case): instance view} through Compute: one paged list ($expand=instanceView) per
    subscription (per group with -g) holding the VMs, for what Resource Graph doesn't copy (patchStatus)."""
    from hpctl.edge.clients import connect
    from hpctl.edge.compute import list_vms

    views: dict[str, dict[str, Any]] = {}
    for subscription in sorted(set(subscriptions)):
        sub_conn = conn if subscription == conn.subscription_id else connect(conn.cloud, subscription)
        for vm in list_vms(sub_conn, scope.resource_group, instance_view=True):
            views[str(vm.get("id", "")).lower()] = (vm.get("properties") or {}).get("instanceView") or {}
        stats["computeLists"] = stats.get("computeLists", 0) + 1
    return views

"""Azure Resource Graph in the sandbox: tables built from sandbox state, and the paged KQL query endpoint."""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import gc
import hashlib
import json
import math
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hpctl.sandbox import kql
from hpctl.sandbox.armerrors import ArmError
from hpctl.sandbox.compute import ASSESSMENT_DAYS, INSTALLATION_DAYS, PatchOwner, VirtualMachine
from hpctl.sandbox.maintenance import assignment_bodies, configuration_bodies

if TYPE_CHECKING:
    from hpctl.sandbox.backend import Backend
    from hpctl.sandbox.routes import ArmApp, Request, Response

VM_TYPE = "microsoft.compute/virtualmachines"
ASSESSMENT_TYPE = VM_TYPE + "/patchassessmentresults"
INSTALLATION_TYPE = VM_TYPE + "/patchinstallationresults"
ASSESSMENT_PATCH_TYPE = ASSESSMENT_TYPE + "/softwarepatches"
INSTALLATION_PATCH_TYPE = INSTALLATION_TYPE + "/softwarepatches"
SUBSCRIPTION_TYPE = "microsoft.resources/subscriptions"
GROUP_TYPE = SUBSCRIPTION_TYPE + "/resourcegroups"

# The columns every ARG table has (query-logs.md; most "left blank for future use" in the patch tables).
COLUMNS: dict[str, str] = {
    "id": kql.STRING,
    "name": kql.STRING,
    "type": kql.STRING,
    "tenantId": kql.STRING,
    "kind": kql.STRING,
    "location": kql.STRING,
    "resourceGroup": kql.STRING,
    "subscriptionId": kql.STRING,
    "managedBy": kql.STRING,
    "sku": kql.OBJECT,
    "plan": kql.OBJECT,
    "properties": kql.OBJECT,
    "tags": kql.OBJECT,
    "identity": kql.OBJECT,
    "zones": kql.OBJECT,
    "extendedLocation": kql.OBJECT,
}
TABLES = ("resources", "resourcecontainers", "patchassessmentresources", "patchinstallationresources",
          "maintenanceresources")

# Paging: the current work-with-data doc says 1000 rows by default and at most 1000 ($top); older pages said 100.
DEFAULT_PAGE = 1000
MAX_PAGE = 1000
SNAPSHOTS = 4  # result sets kept for $skipToken pages

# Verbatim texts of ARG's error bodies (public issue threads quoting real responses, see docs/sandbox-kql.md).
SUPPORT_MESSAGE = "Please provide below info when asking for support: timestamp = {stamp}, correlationId = {cid}."
THROTTLED_DETAIL = (
    "Client application has been throttled and should not attempt to repeat the request until an amount of time "
    "has elapsed. Please see https://aka.ms/resourcegraph-throttling for help."
)
ACCESS_DENIED_DETAIL = "Access is denied to the requested resource. The user might not have enough permission."

# The patch table's counts by classification, keyed the way availablePatchCountByClassification spells them.
_CLASS_KEYS = {
    "critical": "critical",
    "security": "security",
    "updaterollup": "updateRollup",
    "featurepack": "featurePack",
    "servicepack": "servicePack",
    "definition": "definition",
    "tools": "tools",
    "updates": "updates",
}

# Extra sources of `resources` rows (ARM GET bodies), for resource kinds other modules add (e.g. scale sets):
# RESOURCE_SOURCES.append(lambda backend: (body_of(s) for s in ...)).
ResourceSource = Callable[["Backend"], Iterable[dict[str, Any]]]


def _scale_sets(backend: Backend) -> Iterable[dict[str, Any]]:
    # Scale sets live in backend.scalesets (list() and body(), as for GET) when the sandbox has that store;
    # looked up by name so that this module works with and without it.
    store: Any = getattr(backend, "scalesets", None)
    if store is None:
        return []
    return [store.body(scale_set) for scale_set in store.list()]


RESOURCE_SOURCES: list[ResourceSource] = [_scale_sets, configuration_bodies]


# ---------------------------------------------------------------------------------------------- tables


def _group_of(resource_id: str) -> str:
    parts = resource_id.split("/")
    lowered = [p.lower() for p in parts]
    return parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered else ""


def _subscription_of(resource_id: str) -> str:
    parts = resource_id.split("/")
    return parts[2] if len(parts) > 2 and parts[1].lower() == "subscriptions" else ""


def _common(backend: Backend, resource_id: str, name: str, kind_of: str, location: str | None,
            group: str | None = None) -> dict[str, Any]:
    # ARG lower-cases type and resourceGroup; blank-for-future-use columns are "" or null.
    return {
        "id": resource_id,
        "name": name,
        "type": kind_of,
        "tenantId": backend.tenant_id,
        "kind": "",
        "location": (location or "").lower(),
        "resourceGroup": (_group_of(resource_id) if group is None else group).lower(),
        "subscriptionId": _subscription_of(resource_id),
        "managedBy": "",
        "sku": None,
        "plan": None,
        "tags": None,
        "identity": None,
        "zones": None,
        "extendedLocation": None,
    }


def arm_resource_row(backend: Backend, body: dict[str, Any]) -> dict[str, Any]:
    """A `resources` row from an ARM GET body (what ARG does for every resource type it indexes)."""
    row = _common(backend, body["id"], body.get("name", ""), str(body.get("type", "")).lower(), body.get("location"))
    row.update(
        kind=body.get("kind") or "",
        managedBy=body.get("managedBy") or "",
        sku=body.get("sku"),
        plan=body.get("plan"),
        tags=dict(body.get("tags") or {}),
        identity=body.get("identity"),
        zones=list(body["zones"]) if body.get("zones") else None,
        extendedLocation=body.get("extendedLocation"),
        properties=body.get("properties") or {},
    )
    return row


def instance_extract(view: dict[str, Any]) -> dict[str, Any]:
    """What ARG copies of a VM's instance view into properties.extended.instanceView."""
    extract: dict[str, Any] = {
        key: view[key] for key in ("computerName", "osName", "osVersion", "hyperVGeneration") if key in view
    }
    power = next((s for s in view.get("statuses", []) if str(s.get("code", "")).startswith("PowerState/")), None)
    if power is not None:
        extract["powerState"] = {key: power[key] for key in ("code", "level", "displayStatus") if key in power}
    return extract


def _vm_properties(source: tuple[Backend, VirtualMachine]) -> dict[str, Any]:
    backend, vm = source
    props = backend.compute.vm_body(vm)["properties"]
    props["extended"] = {"instanceView": instance_extract(backend.compute.instance_view(vm))}
    return props


_VM_LOADERS = {"properties": _vm_properties}


def vm_row(backend: Backend, vm: VirtualMachine) -> kql.LazyRow:
    """A VM in `resources`: cheap columns now, properties (model + instance-view extract) when read."""
    eager = _common(backend, vm.id, vm.name, VM_TYPE, vm.model.location, vm.group)
    eager["tags"] = dict(vm.model.tags)
    eager["zones"] = list(vm.model.zones) if vm.model.zones else None
    return kql.LazyRow(eager, _VM_LOADERS, (backend, vm))


def _os_type(vm: PatchOwner) -> str:
    return "Windows" if vm.is_windows else "Linux"


def _service(vm: PatchOwner) -> str:
    # Windows Update for Windows; the sandbox's only Linux images are Ubuntu's (APT).
    return "WU" if vm.is_windows else "APT"


def _result_types(owner: PatchOwner) -> tuple[str, str]:
    """(assessment type, installation type) under the owner's own type: Compute VMs and Arc machines alike."""
    base = owner.resource_type.lower()
    return base + "/patchassessmentresults", base + "/patchinstallationresults"


def _class_counts(patches: Iterable[dict[str, Any]]) -> dict[str, int]:
    counts = {key: 0 for key in (*_CLASS_KEYS.values(), "other")}
    for patch in patches:
        first = next(iter(patch.get("classifications") or []), "")
        counts[_CLASS_KEYS.get(str(first).lower(), "other")] += 1
    return counts


def _reboot_required(behavior: str | None) -> bool:
    # Derived the same way for assessment and installation rows so that one KB reads the same in both.
    return behavior == "AlwaysRequiresReboot"


def _child(backend: Backend, vm: PatchOwner, resource_id: str, name: str, kind_of: str,
           properties: dict[str, Any]) -> dict[str, Any]:
    row = _common(backend, resource_id, name, kind_of, vm.location, vm.group)
    row["properties"] = properties
    return row


def assessment_rows(backend: Backend, vm: PatchOwner, latest: dict[str, Any]) -> list[dict[str, Any]]:
    """A VM's (or Arc machine's) latest assessment record as ARG's summary row and its softwarepatches children."""
    assessment_type, _ = _result_types(vm)
    base = f"{vm.id}/patchAssessmentResults/latest"
    available = latest.get("availablePatches") or []
    rows = [
        _child(
            backend,
            vm,
            base,
            latest["assessmentActivityId"],
            assessment_type,
            {
                "status": latest["status"],
                "rebootPending": latest["rebootPending"],
                "patchServiceUsed": _service(vm),
                "osType": latest.get("osType") or _os_type(vm),
                "startDateTime": latest["startDateTime"],
                "lastModifiedDateTime": latest["lastModifiedDateTime"],
                "startedBy": latest.get("startedBy") or "User",
                "errorDetails": latest.get("error"),
                "availablePatchCountByClassification": _class_counts(available),
            },
        )
    ]
    for patch in available:
        rows.append(
            _child(
                backend,
                vm,
                f"{base}/softwarePatches/{patch['patchId']}",
                patch["name"],
                assessment_type + "/softwarepatches",
                {
                    "patchName": patch["name"],
                    "kbId": patch.get("kbId"),
                    "version": "",
                    "classifications": list(patch.get("classifications") or []),
                    "rebootRequired": _reboot_required(patch.get("rebootBehavior")),
                    "rebootBehavior": patch.get("rebootBehavior"),
                    "publishedDateTime": patch.get("publishedDate"),
                    "lastModifiedDateTime": patch.get("lastModifiedDateTime") or latest["lastModifiedDateTime"],
                    "patchId": patch["patchId"],
                },
            )
        )
    return rows


def installation_rows(backend: Backend, vm: PatchOwner, record: dict[str, Any]) -> list[dict[str, Any]]:
    """One installation record as ARG's summary row and its softwarepatches children."""
    _, installation_type = _result_types(vm)
    activity = record["installationActivityId"]
    base = f"{vm.id}/patchInstallationResults/{activity}"
    summary = {
        "installationActivityId": activity,
        "status": record["status"],
        "rebootStatus": record["rebootStatus"],
        "maintenanceWindowExceeded": record["maintenanceWindowExceeded"],
        "lastModifiedDateTime": record["lastModifiedDateTime"],
        "startDateTime": record["startDateTime"],
        "startedBy": record.get("startedBy") or "User",
        "installedPatchCount": record["installedPatchCount"],
        "failedPatchCount": record["failedPatchCount"],
        "pendingPatchCount": record["pendingPatchCount"],
        "excludedPatchCount": record["excludedPatchCount"],
        "notSelectedPatchCount": record["notSelectedPatchCount"],
        "patchServiceUsed": _service(vm),
        "osType": _os_type(vm),
        "errorDetails": record.get("error"),
        "maintenanceRunId": None,  # on-demand and seeded runs belong to no maintenance configuration
    }
    rows = [_child(backend, vm, base, activity, installation_type, summary)]
    listed = record.get("patches") or []
    # The Patch objects (kept by Compute beside the result body) give reboot behaviour and publish date.
    outcomes = record.get("_outcomes") or [(None, p["installationState"]) for p in listed]
    for entry, (patch, state) in zip(listed, outcomes, strict=True):
        behavior = patch.reboot_behavior if patch is not None else None
        published = patch.published.strftime("%Y-%m-%dT%H:%M:%SZ") if patch is not None else None
        rows.append(
            _child(
                backend,
                vm,
                f"{base}/softwarePatches/{entry['patchId']}",
                entry["name"],
                installation_type + "/softwarepatches",
                {
                    "installationState": state,
                    "patchName": entry["name"],
                    "kbId": entry.get("kbId"),
                    "version": "",
                    "classifications": list(entry.get("classifications") or []),
                    "rebootRequired": _reboot_required(behavior),
                    "rebootBehavior": behavior,
                    "publishedDateTime": published,
                    "lastModifiedDateTime": record["lastModifiedDateTime"],
                    "patchId": entry["patchId"],
                },
            )
        )
    return rows


def container_rows(backend: Backend) -> list[dict[str, Any]]:
    """resourcecontainers: the subscription and its resource groups."""
    sub = backend.subscription_id
    subscription = _common(backend, f"/subscriptions/{sub}", "hpctl sandbox", SUBSCRIPTION_TYPE, None, "")
    subscription.update(subscriptionId=sub, tags={}, properties={"state": "Enabled"})
    rows = [subscription]
    for group in backend.groups.list():
        row = _common(backend, group.id, group.name, GROUP_TYPE, group.location, group.name)
        row.update(tags=dict(group.tags), properties={"provisioningState": "Succeeded"})
        rows.append(row)
    return rows


RowCache = dict[int, tuple[dict[str, Any], list[dict[str, Any]]]]


class HistoryCache:
    """History rows by record, built once: records never change after Compute makes them, and each entry holds
    its record so that the record's id() cannot be reused by another while the entry lives."""

    def __init__(self) -> None:
        self.tables: dict[str, RowCache] = {"assessments": {}, "installations": {}}

    def rows(self, table: str, records: Iterable[tuple[dict[str, Any], Callable[[], list[dict[str, Any]]]]]
             ) -> Iterator[dict[str, Any]]:
        """The rows of (record, build) pairs; afterwards the cache keeps only the records just read."""
        old = self.tables[table]
        fresh: RowCache = {}
        for record, build in records:
            entry = old.get(id(record))
            if entry is None or entry[0] is not record:
                entry = (record, build())
            fresh[id(record)] = entry
            yield from entry[1]
        self.tables[table] = fresh


def _arc_machines(backend: Backend) -> list[Any]:
    hybrid: Any = getattr(backend, "hybrid", None)
    return hybrid.list() if hybrid is not None else []


def arc_row(backend: Backend, machine: Any) -> dict[str, Any]:
    """An Arc machine in `resources`: its GET body with the instance-view fields (licenseProfile) [inferred]."""
    return arm_resource_row(backend, backend.hybrid.machine_body(machine, expand=True))


def tables(backend: Backend, now: dt.datetime, cache: HistoryCache | None = None) -> dict[str, kql.Table]:
    """The tables as they stand at `now` (history windows: 7 days of assessments, 30 of installations)."""
    arc = _arc_machines(backend)
    # Update Manager keeps Arc machines' results in the same tables, under their own types (azure-wire.md §9.8).
    vms: list[PatchOwner] = [*backend.compute.list(), *arc]
    cache = cache or HistoryCache()

    def resources() -> Iterator[dict[str, Any]]:
        for vm in backend.compute.list():
            yield vm_row(backend, vm)
        for machine in arc:
            yield arc_row(backend, machine)
        for source in RESOURCE_SOURCES:
            for body in source(backend):
                yield arm_resource_row(backend, body)

    def latest_assessments() -> Iterator[tuple[dict[str, Any], Callable[[], list[dict[str, Any]]]]]:
        since = now - dt.timedelta(days=ASSESSMENT_DAYS)
        for vm in vms:
            recent = [a for a in vm.assessments if a.get("_end") is not None and a["_end"] >= since]
            if recent:
                latest = max(recent, key=lambda a: a["_end"])
                yield latest, lambda vm=vm, latest=latest: assessment_rows(backend, vm, latest)

    def recent_installations() -> Iterator[tuple[dict[str, Any], Callable[[], list[dict[str, Any]]]]]:
        since = now - dt.timedelta(days=INSTALLATION_DAYS)
        for vm in vms:
            for record in vm.installations:
                if record.get("_end") is not None and record["_end"] >= since:
                    yield record, lambda vm=vm, record=record: installation_rows(backend, vm, record)

    return {
        "resources": kql.Table(COLUMNS, resources),
        "resourcecontainers": kql.Table(COLUMNS, lambda: container_rows(backend)),
        "patchassessmentresources": kql.Table(COLUMNS, lambda: cache.rows("assessments", latest_assessments())),
        "patchinstallationresources": kql.Table(
            COLUMNS, lambda: cache.rows("installations", recent_installations())
        ),
        # Update Manager's schedule data: configuration assignments (static and dynamic scopes).
        "maintenanceresources": kql.Table(
            COLUMNS, lambda: [arm_resource_row(backend, body) for body in assignment_bodies(backend)]
        ),
    }


# -------------------------------------------------------------------------------------------- throttling


class UserQuota:
    """ARG's per-user quota: `limit` queries per fixed `window` that starts with a user's first query."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # user -> (window start, queries taken)

    def take(self, user: str) -> tuple[bool, int, float]:
        """(allowed, remaining after this query, seconds until the window resets)."""
        now = self._clock()
        with self._lock:
            start, used = self._windows.get(user, (now, 0))
            if now - start >= self.window:
                start, used = now, 0
            allowed = used < self.limit
            if allowed:
                used += 1
            self._windows[user] = (start, used)
            return allowed, max(self.limit - used, 0), max(start + self.window - now, 0.0)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a query is answered: with a 10,000-VM world in memory, the
    collections that tens of thousands of new row dicts trigger cost more than the query itself (measured 3x)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _hms(seconds: float) -> str:
    whole = math.ceil(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


# ---------------------------------------------------------------------------------------------- endpoint


@dataclass
class _Page:
    offset: int
    size: int
    snapshot: int | None


class ResourceGraph:
    """POST /providers/Microsoft.ResourceGraph/resources for one ArmApp (same backend, throttle and headers)."""

    def __init__(self, app: ArmApp) -> None:
        self.app = app
        self.backend: Backend = app.backend
        limit, window = app.throttle.graph["ResourceGraphUserQuota"]
        self.quota = UserQuota(limit, window)
        self._snapshots: OrderedDict[int, tuple[str, kql.Result]] = OrderedDict()
        self._next_snapshot = 1
        self._history = HistoryCache()

    # -- errors in ARG's shape

    def _support(self, request: Request | None) -> str:
        # The correlation id in the message is the one the response header carries.
        cid = (
            request.headers.setdefault("x-ms-correlation-request-id", str(uuid.uuid4()))
            if request is not None
            else str(uuid.uuid4())
        )
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
        return SUPPORT_MESSAGE.format(stamp=stamp, cid=cid)

    def _bad_request(self, request: Request, details: list[dict[str, Any]]) -> ArmError:
        return ArmError(400, "BadRequest", self._support(request), details=details)

    def _invalid(self, request: Request, code: str, message: str) -> ArmError:
        # Request-shape errors (not the query's): ARG's envelope, detail codes of the sandbox's own choosing.
        return self._bad_request(request, [{"code": code, "message": message}])

    def throttled_error(self, retry_after: int | None = None, request: Request | None = None) -> ArmError:
        """ARG's 429 (RateLimiting); an injected fault adds its Retry-After."""
        error = ArmError(
            429,
            "RateLimiting",
            self._support(request),
            details=[{"code": "RateLimiting", "message": THROTTLED_DETAIL}],
        )
        if retry_after is not None:
            error.headers["Retry-After"] = str(retry_after)
        return error

    # -- the request

    def query(self, request: Request, params: dict[str, str]) -> Response:
        user = hashlib.sha256(request.headers.get("authorization", "").encode()).hexdigest()
        allowed, remaining, resets = self.quota.take(user)
        quota_headers = {"x-ms-user-quota-remaining": str(remaining), "x-ms-user-quota-resets-after": _hms(resets)}
        try:
            if not allowed:
                # No Retry-After: ARG documents only the x-ms-user-quota-* headers; clients back off on their own.
                raise self.throttled_error(request=request)
            with _no_gc():  # the whole answer: one collection of a 10,000-VM heap costs more than the query
                body = self._answer(request)
                return self.app._json(
                    request, 200, body, pretty=False, extra=list(quota_headers.items()), reason=None
                )
        except ArmError as exc:
            exc.headers.update(quota_headers)
            return self.app._error(request, exc, None)  # the app's error rendering, headers and all

    def _answer(self, request: Request) -> dict[str, Any]:
        body = request.json()
        if not isinstance(body, dict):
            raise self._invalid(request, "InvalidRequestContent", "The request content must be a JSON object.")
        text = body.get("query")
        if not isinstance(text, str) or not text.strip():
            raise self._invalid(request, "InvalidRequestContent", "The 'query' property is required.")
        subscriptions = self._scope(request, body)
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise self._invalid(request, "InvalidRequestContent", "The 'options' property must be an object.")
        top = self._count(request, options, "$top", 1, MAX_PAGE)
        skip = self._count(request, options, "$skip", 0, None)
        result_format = options.get("resultFormat") or "objectArray"
        if not isinstance(result_format, str) or result_format.lower() not in ("objectarray", "table"):
            raise self._invalid(
                request,
                "InvalidParameter",
                f"The value '{result_format}' of 'resultFormat' is not valid. Allowed values are: table, objectArray.",
            )
        try:
            parsed = kql.parse(text, TABLES)
        except kql.KqlError as exc:
            raise self._bad_request(request, exc.details()) from None
        fingerprint = hashlib.sha256(
            json.dumps([text, sorted(s.lower() for s in subscriptions)]).encode()
        ).hexdigest()[:16]
        page = self._page(request, options.get("$skipToken"), fingerprint)
        # $top and $skip override the page size and offset a $skipToken carries (QueryRequestOptions).
        page.offset = skip if skip is not None else page.offset
        page.size = top or page.size
        try:
            result = self._result(parsed, page, fingerprint)
        except kql.KqlError as exc:  # names resolve when the query runs: unknown functions and columns
            raise self._bad_request(request, exc.details()) from None
        offset, size = page.offset, page.size
        rows = result.page(offset, size)
        total = len(result)
        more = offset + len(rows) < total
        answer: dict[str, Any] = {}
        if more and result.pageable:
            answer["$skipToken"] = self._token(fingerprint, offset + len(rows), size, page.snapshot)
        answer["totalRecords"] = total
        answer["count"] = len(rows)
        if result_format.lower() == "table":
            answer["data"] = {
                "columns": list(kql.column_types(result)),
                "rows": [[row[name] for name, _ in result.columns] for row in rows],
            }
        else:
            answer["data"] = rows
        answer["facets"] = []
        # Truncated means rows exist that no $skipToken can reach (limit/take, or only dynamic columns).
        answer["resultTruncated"] = "true" if more and not result.pageable else "false"
        return answer

    def _scope(self, request: Request, body: dict[str, Any]) -> list[str]:
        subscriptions = body.get("subscriptions")
        if subscriptions is None or subscriptions == []:
            return [self.backend.subscription_id]  # no scope: every subscription the caller can read
        if not isinstance(subscriptions, list) or not all(isinstance(s, str) for s in subscriptions):
            raise self._invalid(request, "InvalidRequestContent", "The 'subscriptions' property must be a list.")
        if any(s.lower() != self.backend.subscription_id.lower() for s in subscriptions):
            raise ArmError(
                403,
                "AccessDenied",
                self._support(request),
                details=[{"code": "AccessDenied", "message": ACCESS_DENIED_DETAIL}],
            )
        return list(subscriptions)

    def _count(self, request: Request, options: dict[str, Any], key: str, low: int, high: int | None) -> int | None:
        value = options.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise self._invalid(request, "InvalidParameter", f"The value of '{key}' must be a whole number {bounds}.")
        return value

    # -- paging

    def _token(self, fingerprint: str, offset: int, size: int, snapshot: int | None) -> str:
        state = {"q": fingerprint, "o": offset, "n": size, "s": snapshot}
        return base64.b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()

    def _page(self, request: Request, token: Any, fingerprint: str) -> _Page:
        if token is None:
            return _Page(0, DEFAULT_PAGE, None)
        try:
            state = json.loads(base64.b64decode(str(token).encode(), validate=True).decode())
            offset, size, snapshot, owner = int(state["o"]), int(state["n"]), state.get("s"), state["q"]
            if offset < 0 or not 1 <= size <= MAX_PAGE or (snapshot is not None and not isinstance(snapshot, int)):
                raise ValueError(state)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, binascii.Error, json.JSONDecodeError):
            raise self._invalid(request, "InvalidSkipToken", "The $skipToken is not valid.") from None
        if owner != fingerprint:
            # A token belongs to one query and scope (QueryResponse.$skipToken: "together with the same query
            # and scopes"); the sandbox refuses it for any other.
            raise self._invalid(
                request, "InvalidSkipToken", "The $skipToken was issued for a different query or scope."
            )
        return _Page(offset, size, snapshot)

    def _result(self, parsed: kql.Query, page: _Page, fingerprint: str) -> kql.Result:
        """Later pages read the snapshot the first page made, so that every row comes exactly once; a page whose
        snapshot is gone runs the query again (as ARG does for every page)."""
        if page.snapshot is not None:
            kept = self._snapshots.get(page.snapshot)
            if kept is not None and kept[0] == fingerprint:
                self._snapshots.move_to_end(page.snapshot)
                return kept[1]
        now = self.backend.clock.now()
        result = kql.run(parsed, tables(self.backend, now, self._history), now)
        if result.pageable and len(result) > page.offset + page.size:
            # Kept only when a next page can ask for it: a 10,000-VM history result is tens of thousands of rows.
            snapshot = self._next_snapshot
            self._next_snapshot += 1
            self._snapshots[snapshot] = (fingerprint, result)
            while len(self._snapshots) > SNAPSHOTS:
                self._snapshots.popitem(last=False)
            page.snapshot = snapshot
        return result

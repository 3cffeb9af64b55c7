"""Per-VM timelines of assessments and installations from Resource Graph's Update Manager records."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hpctl.core.graph_queries import (
    ARC_TYPE,
    ASSESSMENT,
    ASSESSMENT_PATCH,
    INSTALLATION,
    INSTALLATION_PATCH,
    record_kind,
    vm_id_of,
)
from hpctl.core.vm_facts import iso

MAX_DAYS = 30  # ARG keeps installation history 30 days (assessments 7).

_CLASSES = ("critical", "security", "updateRollup", "featurePack", "servicePack", "definition", "tools", "updates",
            "other")


def _errors(props: dict[str, Any]) -> list[dict[str, Any]]:
    details = props.get("errorDetails") or props.get("error") or {}
    if isinstance(details, dict):
        items = details.get("details") or ([details] if details.get("code") not in (None, "", "0", "Success") else [])
    else:
        items = list(details)
    return [{"code": e.get("code"), "message": e.get("message")} for e in items if isinstance(e, dict)]


def _vm_name(vm_id: str) -> str:
    return vm_id.rstrip("/").rsplit("/", 1)[-1]


def _run_id(record_id: str) -> str:
    # .../patchInstallationResults/<run>/softwarePatches/<patch> or .../patchAssessmentResults/latest/...
    parts = record_id.split("/")
    lowered = [p.lower() for p in parts]
    for marker in ("patchinstallationresults", "patchassessmentresults"):
        if marker in lowered:
            return parts[lowered.index(marker) + 1]
    return ""


def event_of(record: dict[str, Any]) -> dict[str, Any] | None:
    """One assessment or installation as a timeline event (None for other record types)."""
    props = record.get("properties") or {}
    kind = record_kind(record.get("type"))
    common = {
        "time": iso(props.get("lastModifiedDateTime")),
        "startTime": iso(props.get("startDateTime")),
        "startedBy": props.get("startedBy"),
        "errors": _errors(props),
    }
    if kind == ASSESSMENT:
        counts = props.get("availablePatchCountByClassification") or {}
        return {
            "kind": "assessment",
            **common,
            "status": props.get("status") or ("Failed" if common["errors"] else "Succeeded"),
            "rebootPending": props.get("rebootPending"),
            "criticalAndSecurityPatchCount": (counts.get("critical") or 0) + (counts.get("security") or 0),
            "otherPatchCount": sum(counts.get(c) or 0 for c in _CLASSES if c not in ("critical", "security")),
            "activityId": record.get("name"),
        }
    if kind == INSTALLATION:
        return {
            "kind": "installation",
            **common,
            "status": props.get("status"),
            "rebootStatus": props.get("rebootStatus"),
            "installedPatchCount": props.get("installedPatchCount"),
            "failedPatchCount": props.get("failedPatchCount"),
            "pendingPatchCount": props.get("pendingPatchCount"),
            "excludedPatchCount": props.get("excludedPatchCount"),
            "notSelectedPatchCount": props.get("notSelectedPatchCount"),
            "maintenanceWindowExceeded": props.get("maintenanceWindowExceeded"),
            "activityId": props.get("installationActivityId") or record.get("name"),
        }
    return None


def patch_of(record: dict[str, Any]) -> dict[str, Any]:
    props = record.get("properties") or {}
    kb = props.get("kbId")
    return {
        # One KB can be two patches; the patchId tells them apart (azure-wire.md §9.4).
        "patchId": props.get("patchId") or str(record.get("id", "")).rsplit("/", 1)[-1] or None,
        "kbId": f"KB{kb}" if kb and not str(kb).upper().startswith("KB") else kb,
        "name": props.get("patchName"),
        "classifications": list(props.get("classifications") or []),
        "rebootBehavior": props.get("rebootBehavior"),
        "installationState": props.get("installationState"),
        "publishedDate": iso(props.get("publishedDateTime")),
    }


def timelines(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group records by VM: events newest first, with their patches when those were queried."""
    events: dict[str, list[dict[str, Any]]] = defaultdict(list)
    patches: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    meta: dict[str, dict[str, Any]] = {}
    for record in records:
        vm_id = vm_id_of(record.get("id", ""))
        meta.setdefault(vm_id, {"resourceGroup": record.get("resourceGroup"),
                                "subscriptionId": record.get("subscriptionId")})
        kind = record_kind(record.get("type"))
        if kind in (ASSESSMENT_PATCH, INSTALLATION_PATCH):
            patches[(vm_id, _run_id(record.get("id", "")).lower())].append(patch_of(record))
            continue
        event = event_of(record)
        if event is not None:
            event["_run"] = _run_id(record.get("id", "")).lower()
            events[vm_id].append(event)
    out = []
    for vm_id in sorted(set(events) | {k[0] for k in patches}):
        vm_events = sorted(events.get(vm_id, []), key=lambda e: e.get("time") or "", reverse=True)
        for event in vm_events:
            run = event.pop("_run")
            found = patches.get((vm_id, run))
            if found is not None:
                event["patches"] = sorted(found, key=lambda p: p.get("kbId") or p.get("name") or "")
        # Arc machines' records live under Microsoft.HybridCompute/machines ids; the columns mean the same.
        machine_kind = "arc" if f"/providers/{ARC_TYPE}/" in vm_id else "vm"
        out.append({"vm": _vm_name(vm_id), "kind": machine_kind, "id": vm_id, **meta[vm_id], "events": vm_events})
    return out

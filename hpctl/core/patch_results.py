"""Shape assessPatches / installPatches results and instance-view patchStatus into hpctl's rows."""

from __future__ import annotations

from typing import Any

from hpctl.core.vm_facts import iso


def _error(error: Any) -> dict[str, Any] | None:
    """Azure reports success as an error object too ({"code": "Success"} or "0"); drop those."""
    if not isinstance(error, dict):
        return None
    code = error.get("code")
    if code in (None, "", "Success", "0") and not error.get("details"):
        return None
    return {"code": code, "message": error.get("message")}


def _kb(value: Any) -> str | None:
    return f"KB{value}" if value and not str(value).upper().startswith("KB") else (value or None)


def patches_of(result: dict[str, Any], key: str, state_key: str) -> list[dict[str, Any]]:
    """Patches listed once per KB: the real service can list the same KB twice with two patchIds."""
    seen: dict[str, dict[str, Any]] = {}
    for patch in result.get(key) or []:
        kb = _kb(patch.get("kbId"))
        ident = kb or patch.get("patchId") or patch.get("name") or str(len(seen))
        row = {
            "kbId": kb,
            "name": patch.get("name"),
            "classifications": list(patch.get("classifications") or []),
            state_key: patch.get(state_key),
        }
        if "publishedDate" in patch:
            row["publishedDate"] = iso(patch.get("publishedDate"))
        if ident in seen:
            merged = seen[ident]
            merged["classifications"] = sorted(set(merged["classifications"]) | set(row["classifications"]))
            continue
        seen[ident] = row
    return list(seen.values())


def assessment_row(result: dict[str, Any]) -> dict[str, Any]:
    """The part of an assess result hpctl shows per VM."""
    return {
        "status": result.get("status"),
        "assessmentActivityId": result.get("assessmentActivityId"),
        "startTime": iso(result.get("startDateTime")),
        "criticalAndSecurityPatchCount": result.get("criticalAndSecurityPatchCount"),
        "otherPatchCount": result.get("otherPatchCount"),
        "rebootPending": result.get("rebootPending"),
        "patches": patches_of(result, "availablePatches", "rebootBehavior"),
        "error": _error(result.get("error")),
    }


def installation_row(result: dict[str, Any]) -> dict[str, Any]:
    """The part of an install result hpctl shows per VM."""
    return {
        "status": result.get("status"),
        "installationActivityId": result.get("installationActivityId"),
        "startTime": iso(result.get("startDateTime")),
        "rebootStatus": result.get("rebootStatus"),
        "maintenanceWindowExceeded": result.get("maintenanceWindowExceeded"),
        "installedPatchCount": result.get("installedPatchCount"),
        "failedPatchCount": result.get("failedPatchCount"),
        "pendingPatchCount": result.get("pendingPatchCount"),
        "excludedPatchCount": result.get("excludedPatchCount"),
        "notSelectedPatchCount": result.get("notSelectedPatchCount"),
        "patches": patches_of(result, "patches", "installationState"),
        "error": _error(result.get("error")),
    }


def patch_status_row(instance_view: dict[str, Any] | None) -> dict[str, Any]:
    """Last assessment and installation from the instance view's patchStatus (absent on a new VM)."""
    status = (instance_view or {}).get("patchStatus") or {}
    summary = status.get("availablePatchSummary") or {}
    install = status.get("lastPatchInstallationSummary") or {}
    return {
        "lastAssessment": {
            "time": iso(summary.get("lastModifiedTime") or summary.get("startTime")),
            "status": summary.get("status"),
            "criticalAndSecurityPatchCount": summary.get("criticalAndSecurityPatchCount"),
            "otherPatchCount": summary.get("otherPatchCount"),
            "rebootPending": summary.get("rebootPending"),
            "error": _error(summary.get("error")),
        }
        if summary
        else None,
        "lastInstallation": {
            "time": iso(install.get("lastModifiedTime") or install.get("startTime")),
            "status": install.get("status"),
            "installedPatchCount": install.get("installedPatchCount"),
            "failedPatchCount": install.get("failedPatchCount"),
            "pendingPatchCount": install.get("pendingPatchCount"),
            "maintenanceWindowExceeded": install.get("maintenanceWindowExceeded"),
            "error": _error(install.get("error")),
        }
        if install
        else None,
        "configurationStatuses": [
            {"code": s.get("code"), "level": s.get("level")} for s in status.get("configurationStatuses") or []
        ],
    }

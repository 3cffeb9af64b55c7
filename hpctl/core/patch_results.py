"""Shape assessPatches / installPatches results and instance-view patchStatus into hpctl's rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hpctl.core.vm_facts import iso

SUCCEEDED = "Succeeded"
# The operation completed, but Azure reported errors or a truncated list (error.code "1"/"2", or status
# CompletedWithWarnings): its own outcome, not a failure (azure-wire.md §9.5).
SUCCEEDED_WITH_WARNINGS = "SucceededWithWarnings"
FAILED = "Failed"
_SUCCESS_CODES = (None, "", "Success", "0")
_COMPLETED = ("succeeded", "completedwithwarnings", "warning")


def error_of(error: Any) -> dict[str, Any] | None:
    """The `error` of a result or summary, or None when it reports success: Windows writes
    {"code": "Success", "message": "0 error/s reported", "details": []}, Linux {"code": "0"}.
    Resource Graph keeps the first errors as a list."""
    if isinstance(error, list):
        error = next((e for e in error if isinstance(e, dict)), None)
    if not isinstance(error, dict):
        return None
    code = error.get("code")
    details = [d for d in error.get("details") or [] if isinstance(d, dict)]
    if code in _SUCCESS_CODES and not details:
        return None
    found: dict[str, Any] = {"code": code, "message": error.get("message")}
    if details:
        found["details"] = [{"code": d.get("code"), "message": d.get("message")} for d in details]
    return found


def outcome_of(status: Any, error: Any) -> str:
    """Succeeded, SucceededWithWarnings or Failed, from a result's status and error.

    Status says whether the operation failed; a non-success error code ("1" errors, "2" list truncated) under
    Succeeded or CompletedWithWarnings means completed with warnings.
    """
    text = str(status or "").lower()
    if text not in _COMPLETED:
        return FAILED
    if text != "succeeded" or error_of(error) is not None:
        return SUCCEEDED_WITH_WARNINGS
    return SUCCEEDED


def succeeded(outcome: Any) -> bool:
    """True for Succeeded and SucceededWithWarnings."""
    return outcome in (SUCCEEDED, SUCCEEDED_WITH_WARNINGS)


def _kb(value: Any) -> str | None:
    return f"KB{value}" if value and not str(value).upper().startswith("KB") else (value or None)


def patches_of(result: dict[str, Any], key: str, state_key: str) -> list[dict[str, Any]]:
    """One row per patchId: the real service lists one KB twice with two patchIds (e.g. the 2019-03 and
    2019-09 KB4474419, azure-wire.md §9.4), and its counts count both."""
    seen: dict[str, dict[str, Any]] = {}
    for position, patch in enumerate(result.get(key) or []):
        row = {
            "patchId": patch.get("patchId"),
            "kbId": _kb(patch.get("kbId")),
            "name": patch.get("name"),
            "classifications": list(patch.get("classifications") or []),
            state_key: patch.get(state_key),
        }
        if "publishedDate" in patch:
            row["publishedDate"] = iso(patch.get("publishedDate"))
        ident = patch.get("patchId") or f"#{position}"
        if ident in seen:
            # The same patchId twice is one patch listed twice.
            merged = seen[ident]
            merged["classifications"] = sorted(set(merged["classifications"]) | set(row["classifications"]))
            continue
        seen[ident] = row
    return list(seen.values())


def hot_patch_status(patch_status: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """patchStatus.hotPatchStatus (undocumented; azure-wire.md §9.3) as hpctl shows it, or None when absent."""
    block = (patch_status or {}).get("hotPatchStatus")
    if not isinstance(block, dict):
        return None
    error = block.get("error") if isinstance(block.get("error"), dict) else {}
    details = [d for d in (error or {}).get("details") or [] if isinstance(d, dict)]
    return {
        "compatibility": block.get("hotPatchCompatibility"),
        "optInStatus": block.get("hotPatchOptInCompletionStatus"),
        "lastCumulativeUpdateStatus": block.get("lastInstalledCumulativeUpdateHotPatchStatus"),
        "time": iso(block.get("lastRefreshedTime")),
        "errors": [{"code": d.get("code"), "message": d.get("message")} for d in details]
        + ([{"code": error.get("code"), "message": error.get("message")}] if error and error.get("code") else []),
    }


def hotpatch_incompatible(status: Mapping[str, Any] | None) -> bool:
    """True when Azure says the VM can't hotpatch (hotPatchCompatibility Incompatible)."""
    return str((status or {}).get("compatibility") or "").lower() == "incompatible"


def evidence_kbs(records: Iterable[Mapping[str, Any]], state_key: str, state: str | None = None) -> list[str]:
    """KB ids of patch rows (results' patches or Resource Graph softwarepatches rows), optionally only those in
    one installation state."""
    found = []
    for record in records:
        props = record.get("properties") if isinstance(record.get("properties"), dict) else record
        if state is not None and str(props.get(state_key) or "").lower() != state.lower():
            continue
        kb = _kb(props.get("kbId"))
        if kb:
            found.append(kb)
    return found
def _counts(result: dict[str, Any]) -> tuple[Any, Any]:
    """(critical+security, other): Compute's two counts, or the sums of Arc's counts by classification."""
    by_class = result.get("availablePatchCountByClassification")
    if "criticalAndSecurityPatchCount" in result or not isinstance(by_class, dict):
        return result.get("criticalAndSecurityPatchCount"), result.get("otherPatchCount")
    urgent = sum(int(by_class.get(k) or 0) for k in ("critical", "security"))
    return urgent, sum(int(v or 0) for k, v in by_class.items() if k not in ("critical", "security"))


def assessment_row(result: dict[str, Any]) -> dict[str, Any]:
    """The part of an assess result hpctl shows per VM or Arc machine (Arc: counts by classification,
    errorDetails, no patch list: that comes from Resource Graph)."""
    critical, other = _counts(result)
    return {
        "status": result.get("status"),
        "assessmentActivityId": result.get("assessmentActivityId"),
        "startTime": iso(result.get("startDateTime")),
        "criticalAndSecurityPatchCount": critical,
        "otherPatchCount": other,
        "rebootPending": result.get("rebootPending"),
        "patches": patches_of(result, "availablePatches", "rebootBehavior"),
        "error": error_of(result.get("error") or result.get("errorDetails")),
        "outcome": outcome_of(result.get("status"), result.get("error") or result.get("errorDetails")),
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
        "error": error_of(result.get("error") or result.get("errorDetails")),
        "outcome": outcome_of(result.get("status"), result.get("error") or result.get("errorDetails")),
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
            "error": error_of(summary.get("error")),
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
            "error": error_of(install.get("error")),
        }
        if install
        else None,
        "configurationStatuses": [
            {"code": s.get("code"), "level": s.get("level")} for s in status.get("configurationStatuses") or []
        ],
        "hotPatchStatus": hot_patch_status(status),
    }


def arc_patch_list(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An Arc assessment's patches, from Resource Graph softwarepatches rows (Arc's result has only counts),
    in the shape assessment_row lists them."""
    rows = [{**(r.get("properties") or {}), "name": (r.get("properties") or {}).get("patchName"),
             "publishedDate": (r.get("properties") or {}).get("publishedDateTime")} for r in records]
    return patches_of({"availablePatches": rows}, "availablePatches", "rebootBehavior")

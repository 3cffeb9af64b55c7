"""`install --dry-run`: which of a VM's last assessed patches an installPatches body would install, and
which of those may reboot (Azure's own selection rules, azure-wire.md §3.1 and hotpatch-program.md §4)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hpctl.core.compliance import ReportConfig
from hpctl.core.vm_facts import parse_time

STALE_AFTER = timedelta(days=ReportConfig().assessment_max_age_days)


def _kb(value: Any) -> str:
    return str(value or "").upper().removeprefix("KB")


def selection(patch: dict[str, Any], body: dict[str, Any]) -> str | None:
    """None when the body would install this patch; otherwise why not (as Azure reports it: Excluded or
    NotSelected, with the reason)."""
    windows = body.get("windowsParameters") or {}
    kb = _kb(patch.get("kbId"))
    classes = set(windows.get("classificationsToInclude") or [])
    include = {_kb(k) for k in windows.get("kbNumbersToInclude") or []}
    exclude = {_kb(k) for k in windows.get("kbNumbersToExclude") or []}
    if not (classes & set(patch.get("classifications") or [])) and kb not in include:
        return "Excluded: classification not selected"
    if kb in exclude:
        return "Excluded: --kb-exclude"
    if windows.get("excludeKbsRequiringReboot") and patch.get("rebootBehavior") != "NeverReboots":
        return "Excluded: may reboot (--exclude-reboot-required)"
    cutoff = parse_time(windows.get("maxPatchPublishDate"))
    published = parse_time(patch.get("publishedDateTime") or patch.get("publishedDate"))
    if cutoff is not None and published is not None and published > cutoff:
        return "NotSelected: published after --max-publish-date"
    return None


def preview_vm(assessment: dict[str, Any] | None, patches: list[dict[str, Any]], body: dict[str, Any],
               now: datetime) -> dict[str, Any]:
    """One VM's dry-run row fields: the patches that would install, which may reboot, the assessment's age."""
    if assessment is None:
        return {"assessment": "missing", "wouldInstall": [], "mayReboot": False,
                "advice": "no assessment on record: run `hpctl assess` first"}
    # A summary in patch_status_row's shape ("time"), or a Resource Graph row's properties.
    when = parse_time(assessment.get("time") or (assessment.get("properties") or {}).get("lastModifiedDateTime"))
    stale = when is None or now - when > STALE_AFTER
    chosen = []
    for patch in patches:
        props = patch.get("properties") or patch
        if selection(props, body) is None:
            chosen.append({"kbId": f"KB{_kb(props.get('kbId'))}" if props.get("kbId") else None,
                           "name": props.get("patchName") or props.get("name"),
                           "classifications": list(props.get("classifications") or []),
                           "rebootBehavior": props.get("rebootBehavior")})
    row: dict[str, Any] = {
        "assessment": "stale" if stale else "current",
        "assessedAt": when.isoformat() if when else None,
        "wouldInstall": chosen,
        "mayReboot": any(p["rebootBehavior"] != "NeverReboots" for p in chosen),
    }
    if stale:
        row["advice"] = f"the last assessment is older than {STALE_AFTER.days} days: run `hpctl assess` first"
    return row

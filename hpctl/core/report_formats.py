"""Render a compliance Report as JSON (documented schema), Markdown (job summary), JUnit XML and table rows."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

from hpctl.core.calendar import Calendar, Release
from hpctl.core.compliance import (
    INFO,
    LOW,
    SEVERITIES,
    VM,
    VMSS,
    ArcRecord,
    Finding,
    Report,
    ResourceResult,
    Rule,
    ScaleSetRecord,
    VmRecord,
    parse_severity,
    severity_rank,
)
from hpctl.core.gc_pause import cyclic_gc_paused
from hpctl.core.track import Track
from hpctl.errors import InputError

# Bump when a key is removed or changes meaning; adding keys keeps the version (docs/report-schema.md).
SCHEMA_VERSION = 1
# Rows per severity section in Markdown: GitHub caps a job summary at 1 MiB, and nobody reads 10,000 rows there.
MARKDOWN_MAX_ROWS = 100
# XML 1.0 can't carry these control characters at all, even escaped; Azure error texts sometimes contain them.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# --------------------------------------------------------------------------- JSON


def _release(release: Release | None) -> dict[str, Any] | None:
    return release.as_dict() if release is not None else None


def _track(track: Track | None) -> dict[str, Any] | None:
    if track is None:
        return None
    return {
        "state": track.state,
        "os": track.os,
        "build": track.build,
        "month": track.month,
        "missing": [r.as_dict() for r in track.missing],
        "detail": track.detail,
    }


def _rule(rule: Rule, report: Report) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "title": rule.title,
        "severity": rule.severity,
        "severityNote": rule.severity_note,
        "severityOverride": report.config.severity_overrides.get(rule.id),
        "appliesTo": list(rule.applies_to),
        "fix": rule.fix,
    }


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "ruleId": finding.rule_id,
        "rule": finding.rule.name,
        "severity": finding.severity,
        "kind": finding.kind,
        "resourceId": finding.resource_id,
        "resourceName": finding.resource_name,
        "resourceGroup": finding.resource_group,
        "subscription": finding.subscription,
        "message": finding.message,
        "fix": finding.fix,
        "evidence": dict(finding.evidence),
    }


def resource_json(result: ResourceResult) -> dict[str, Any]:
    """One resource's entry in the report's `resources`."""
    rec = result.record
    row: dict[str, Any] = {
        "kind": result.kind,
        "id": result.id,
        "name": result.name,
        "resourceGroup": result.resource_group,
        "subscription": result.subscription,
        "compliant": result.compliant,
        "worstSeverity": result.worst_severity,
        "findings": [f.rule_id for f in result.findings],
    }
    # Every key is present for both kinds (null when it does not apply), so consumers need no per-kind code.
    if isinstance(rec, (VmRecord, ArcRecord)):
        f = rec.facts
        vm = isinstance(rec, VmRecord)
        row.update({
            "location": f.location,
            "image": rec.facts.image if isinstance(rec, VmRecord) else rec.facts.os_sku,
            "eligible": f.eligible,
            "hotpatch": f.hotpatch,
            "patchMode": f.patch_mode,
            "assessmentMode": f.assessment_mode,
            "bypassPlatformSafetyChecksOnUserSchedule": rec.facts.bypass_safety_checks if vm else None,
            "provisionVMAgent": rec.facts.provision_vm_agent if vm else None,
            "orchestrationMode": None,
            "extensions": None,
            "osVersion": rec.os_version,
            "track": _track(result.track),
            "nextReboot": _release(result.next_reboot),
            "lastAssessment": rec.last_assessment,
            "lastInstallation": rec.last_installation,
            "pendingPatches": [dict(p) for p in rec.pending_patches],
            "schedules": ([s.as_dict() for s in rec.schedules] if rec.schedules is not None else None) if vm
            else None,
            # Arc machines only (null for VMs and scale sets).
            "agentStatus": None if vm else rec.facts.agent_status,
            "enrollment": None if vm else rec.facts.enrollment,
            "azureLocal": None if vm else rec.facts.azure_local,
        })
    elif isinstance(rec, ScaleSetRecord):
        row.update({
            "location": rec.location,
            "image": rec.image,
            "eligible": rec.eligible,
            "hotpatch": rec.hotpatch,
            "patchMode": rec.patch_mode,
            "assessmentMode": rec.assessment_mode,
            "bypassPlatformSafetyChecksOnUserSchedule": rec.bypass_safety_checks,
            "provisionVMAgent": rec.provision_vm_agent,
            "orchestrationMode": rec.orchestration_mode,
            "extensions": list(rec.extensions),
            "osVersion": None,
            "track": None,
            "nextReboot": None,
            "lastAssessment": None,
            "lastInstallation": None,
            "pendingPatches": None,
            "schedules": None,
            "agentStatus": None,
            "enrollment": None,
            "azureLocal": None,
        })
    return row


def to_json(report: Report, made: Mapping[int, tuple[ResourceResult, Any]] | None = None) -> dict[str, Any]:
    """The whole report as JSON-ready data; the schema is documented in docs/report-schema.md. `made` holds
    resources' entries made ahead ({id(result): (result, entry)}: e.g. JSON text laid out while the quota
    waited); a result judged again since is a new object, and gets its entry made here."""
    with cyclic_gc_paused():  # a million small dicts and lists for 10,000 VMs, none of them in a cycle
        return _document(report, made or {})


def _entry(result: ResourceResult, made: Mapping[int, tuple[ResourceResult, Any]]) -> Any:
    ahead = made.get(id(result))
    return ahead[1] if ahead is not None and ahead[0] is result else resource_json(result)


def _document(report: Report, made: Mapping[int, tuple[ResourceResult, Any]]) -> dict[str, Any]:
    s = report.summary
    config = report.config
    return {
        "schemaVersion": SCHEMA_VERSION,
        "generatedAt": report.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "today": report.today.isoformat(),
        "calendar": {
            "origin": report.calendar_origin,
            "asOf": report.calendar_as_of.isoformat() if report.calendar_as_of else None,
        },
        "config": {
            "assessmentMaxAgeDays": config.assessment_max_age_days,
            "pendingMaxAgeDays": config.pending_max_age_days,
            "rebootDueWithinDays": config.reboot_due_within_days,
            "behindGraceDays": config.behind_grace_days,
            "rules": sorted(config.rules) if config.rules is not None else None,
            "skipRules": sorted(config.skip_rules),
            "severityOverrides": dict(config.severity_overrides),
        },
        "summary": {
            "vmsChecked": s.vms_checked,
            "scaleSetsChecked": s.scale_sets_checked,
            "resourcesChecked": s.resources_checked,
            "compliant": s.compliant,
            "nonCompliant": s.non_compliant,
            "vmsCompliant": s.vms_compliant,
            "scaleSetsCompliant": s.scale_sets_compliant,
            "arcMachinesChecked": s.arc_machines_checked,
            "arcMachinesCompliant": s.arc_machines_compliant,
            "findingsBySeverity": {sev: s.findings_by_severity.get(sev, 0) for sev in SEVERITIES},
            "findingsTotal": s.findings_total,
            "worstSeverity": s.worst_severity,
            "nextReboot": {
                "date": s.next_reboot.isoformat(),
                "releases": [r.as_dict() for r in s.next_reboot_releases],
            } if s.next_reboot else None,
            "calendarStale": s.calendar_stale.as_dict() if s.calendar_stale else None,
        },
        "rules": [_rule(r, report) for r in report.rules],
        "resources": [_entry(r, made) for r in report.results],
        "findings": [_finding(f) for f in report.findings],
    }


# --------------------------------------------------------------------------- Markdown


def md_cell(value: Any) -> str:
    """Text safe inside a GitHub Markdown table cell: HTML escaped, '|' escaped, newlines as <br>."""
    if value is None:
        return ""
    text = html.escape(str(value), quote=False).replace("|", "\\|")
    return re.sub(r"\r\n|\r|\n", "<br>", text)


def _md_table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    head = [md_cell(h) for h in header]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return lines


def _next_reboot_text(report: Report) -> str:
    s = report.summary
    if s.next_reboot is None:
        return "none scheduled (no hotpatch VMs, or past the calendar)"
    what = ", ".join(
        f"WS{r.os} {r.month} baseline" + (f" {r.kb}" if r.kb else "") for r in s.next_reboot_releases
    )
    days = (s.next_reboot - report.today).days
    when = "today" if days == 0 else f"in {days} day{'' if days == 1 else 's'}"
    return f"{s.next_reboot.isoformat()} ({what}; {when})"


def to_markdown(report: Report, *, fail_on: str | None = None, max_rows: int = MARKDOWN_MAX_ROWS,
                calendar: Calendar | None = None) -> str:
    """A GitHub job summary: heading, summary table, findings grouped by severity (capped per group), and with
    `calendar` the year's hotpatch schedule as a strip of months."""
    s = report.summary
    counts = s.findings_by_severity
    lines = [
        "## Hotpatch compliance report",
        "",
        f"As of {report.today.isoformat()} (generated {report.generated_at.strftime('%Y-%m-%dT%H:%M:%SZ')}; "
        f"calendar: {md_cell(report.calendar_origin)}"
        + (f", as of {report.calendar_as_of.isoformat()}" if report.calendar_as_of else "") + ").",
        "",
    ]
    summary_rows: list[tuple[str, Any]] = [
        ("VMs checked", s.vms_checked),
        ("Scale sets checked", s.scale_sets_checked),
        *([("Arc machines checked", s.arc_machines_checked)] if s.arc_machines_checked else []),
        ("Compliant", f"{s.compliant} of {s.resources_checked} ({s.vms_compliant} of {s.vms_checked} VMs, "
                      f"{s.scale_sets_compliant} of {s.scale_sets_checked} scale sets"
                      + (f", {s.arc_machines_compliant} of {s.arc_machines_checked} Arc machines"
                         if s.arc_machines_checked else "") + ")"),
        *[(f"{sev.capitalize()} findings", counts.get(sev, 0)) for sev in SEVERITIES],
        ("Next reboot", _next_reboot_text(report)),
    ]
    if s.calendar_stale is not None:
        summary_rows.append(("Calendar", f"out of date: {s.calendar_stale.message}; run "
                                         f"`{s.calendar_stale.as_dict()['fix']}`"))
    if fail_on is not None:
        level = parse_severity(fail_on)
        verdict = "**fails**" if report.exceeds(level) else "passes"
        summary_rows.append(("Result", f"{verdict} --fail-on {level}"))
    lines += _md_table(("Summary", ""), summary_rows)
    lines.append("")
    if not report.findings:
        lines += ["No findings: every VM, scale set and Arc machine checked is compliant.", ""]
        return "\n".join(lines + _calendar_section(report, calendar))
    several_subscriptions = len({f.subscription for f in report.findings}) > 1
    header = ["Resource", "Kind", "Resource group"] + (["Subscription"] if several_subscriptions else [])
    header += ["Rule", "Finding", "Fix"]
    for sev in SEVERITIES:
        group = [f for f in report.findings if f.severity == sev]
        if not group:
            continue
        lines += [f"### {sev.capitalize()} ({len(group)})", ""]
        rows = []
        for f in group[:max_rows]:
            row = [f.resource_name, f.kind, f.resource_group]
            row += [f.subscription] if several_subscriptions else []
            row += [f"{f.rule_id} {f.rule.name}", f.message, f.fix]
            rows.append(row)
        lines += _md_table(header, rows)
        if len(group) > max_rows:
            lines += ["", f"… and {len(group) - max_rows} more; see the JSON artifact."]
        lines.append("")
    return "\n".join(lines + _calendar_section(report, calendar))


def _calendar_section(report: Report, calendar: Calendar | None) -> list[str]:
    """The year's schedule (as `hpctl calendar --picture` draws it) for the report's day."""
    if calendar is None:
        return []
    from hpctl.core.calendar_strip import markdown_strip, year_strips

    year = report.today.year
    strips = year_strips(calendar, year, [line for line in calendar.lines if _has_year(calendar, line, year)])
    if not strips:
        return []
    return [f"### Hotpatch schedule {year}", "", *markdown_strip(strips), "",
            f"`hpctl calendar --picture --year {year} --svg-file hotpatch-{year}.svg` draws it as a picture.", ""]


def _has_year(calendar: Calendar, line: str, year: int) -> bool:
    try:
        return bool(calendar.year(line, year))
    except InputError:
        return False


# --------------------------------------------------------------------------- JUnit


def _xml_text(value: Any) -> str:
    return _XML_ILLEGAL.sub("", "" if value is None else str(value))


def _finding_line(f: Finding) -> str:
    return f"[{f.severity}] {f.rule_id} {f.rule.name}: {f.message}\n  Fix: {f.fix}"


def _case_name(result: ResourceResult) -> str:
    # A VM, a scale set and an Arc machine may share a name in one group; keep test case names unique.
    return result.name if result.kind == VM else f"{'vmss' if result.kind == VMSS else result.kind}/{result.name}"


def to_junit(report: Report, fail_on: str = LOW) -> str:
    """JUnit XML: one testsuite per subscription, one testcase per VM or scale set; findings at or above
    `fail_on` are a <failure>, those below it a <system-out> note."""
    level = severity_rank(parse_severity(fail_on))
    timestamp = report.generated_at.strftime("%Y-%m-%dT%H:%M:%S")
    by_subscription: dict[str, list[ResourceResult]] = {}
    for result in report.results:
        by_subscription.setdefault(result.subscription or "(no subscription)", []).append(result)

    def failing(result: ResourceResult) -> list[Finding]:
        return [f for f in result.findings if f.severity != INFO and severity_rank(f.severity) >= level]

    total_failures = sum(1 for r in report.results if failing(r))
    root = ET.Element("testsuites", {
        "name": "hpctl report", "tests": str(len(report.results)), "failures": str(total_failures),
        "errors": "0", "skipped": "0", "time": "0",
    })
    for subscription in sorted(by_subscription, key=str.lower):
        results = by_subscription[subscription]
        suite = ET.SubElement(root, "testsuite", {
            "name": _xml_text(subscription), "tests": str(len(results)),
            "failures": str(sum(1 for r in results if failing(r))), "errors": "0", "skipped": "0",
            "time": "0", "timestamp": timestamp,
        })
        props = ET.SubElement(suite, "properties")
        for name, value in (("failOn", fail_on.strip().lower()), ("today", report.today.isoformat()),
                            ("schemaVersion", str(SCHEMA_VERSION))):
            ET.SubElement(props, "property", {"name": name, "value": value})
        for result in results:
            case = ET.SubElement(suite, "testcase", {
                "classname": _xml_text(f"{result.subscription}.{result.resource_group}"),
                "name": _xml_text(_case_name(result)), "time": "0",
            })
            fails = failing(result)
            below = [f for f in result.findings if not any(f is g for g in fails)]
            if fails:
                ids = ",".join(dict.fromkeys(f.rule_id for f in fails))
                message = "; ".join(f"{f.rule_id} ({f.severity}) {f.message}" for f in fails)
                failure = ET.SubElement(case, "failure", {"message": _xml_text(message), "type": ids})
                failure.text = _xml_text("\n".join(_finding_line(f) for f in fails))
            if below:
                out = ET.SubElement(case, "system-out")
                note = f"Findings below --fail-on {fail_on.strip().lower()} (not failing):\n"
                out.text = _xml_text(note + "\n".join(_finding_line(f) for f in below))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --------------------------------------------------------------------------- table


def _track_text(result: ResourceResult) -> str:
    if result.track is None:
        return ""
    return result.track.state + (f" {result.track.month}" if result.track.month else "")


def _schedule_text(result: ResourceResult) -> str:
    schedules = getattr(result.record, "schedules", None) or ()
    return ", ".join(s.schedule.name for s in schedules)


def to_table_rows(report: Report) -> list[dict[str, Any]]:
    """One flat row per resource for -o table/tsv (scalars only, so the renderer shows every column)."""
    return [
        {
            "id": r.id,
            "name": r.name,
            "resourceGroup": r.resource_group,
            "kind": r.kind,
            "compliant": r.compliant,
            "worstSeverity": r.worst_severity or "",
            "findings": ", ".join(f.rule_id for f in r.findings),
            "track": _track_text(r),
            "nextReboot": r.next_reboot.date.isoformat() if r.next_reboot else "",
            "schedule": _schedule_text(r),
        }
        for r in report.results
    ]

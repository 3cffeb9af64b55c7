"""Report formats: stable JSON matching docs/report-schema.md, Markdown job summary, JUnit XML, table rows."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from hpctl.core.compliance import RULES, ReportConfig, evaluate, scale_set_record, vm_record
from hpctl.core.report_formats import SCHEMA_VERSION, md_cell, to_json, to_junit, to_markdown, to_table_rows
from hpctl.errors import InputError
from tests.unit.test_compliance import (
    HOTPATCH_SETTINGS,
    NOW,
    SUB,
    SUB2,
    TODAY,
    calendar,  # noqa: F401  (the fixture)
    instance_view,
    security_patch,
    vm_json,
    vmss_json,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "report-schema.md"


def fleet():
    """Two subscriptions: compliant VMs, one of each severity, and two scale sets."""
    vms = [
        vm_record(vm_json(name="web-01"), instance_view=instance_view()),
        vm_record(vm_json(name="web-02"), instance_view=instance_view(reboot_pending=True)),  # low
        vm_record(vm_json(name="web-03", patch={**HOTPATCH_SETTINGS, "assessmentMode": "ImageDefault"}),
                  instance_view=instance_view()),  # medium
        vm_record(vm_json(name="db-01", group="rg-db", sub=SUB2,
                          patch={**HOTPATCH_SETTINGS, "enableHotpatching": False}),
                  instance_view=instance_view(install_status="Failed", failed=1,
                                              install_error={"code": "X", "message": "disk | full\nretry later"})),
        vm_record(vm_json(name="legacy-01", group="rg-db", sub=SUB2, sku="2019-datacenter",
                          patch={"patchMode": "AutomaticByPlatform", "assessmentMode": "AutomaticByPlatform"}),
                  instance_view=instance_view(os_version="10.0.17763.6000")),  # info only
    ]
    scale_sets = [scale_set_record(vmss_json(name="ss-uniform", orchestration="Uniform")),
                  scale_set_record(vmss_json(name="ss-flex"))]
    return vms, scale_sets


@pytest.fixture()
def report(calendar):  # noqa: F811
    vms, scale_sets = fleet()
    return evaluate(vms, scale_sets, today=TODAY, now=NOW, calendar=calendar)


# --------------------------------------------------------------------------- JSON

TOP_KEYS = ["schemaVersion", "generatedAt", "today", "calendar", "config", "summary", "rules", "resources", "findings"]
SUMMARY_KEYS = ["vmsChecked", "scaleSetsChecked", "resourcesChecked", "compliant", "nonCompliant", "vmsCompliant",
                "scaleSetsCompliant", "arcMachinesChecked", "arcMachinesCompliant", "findingsBySeverity",
                "findingsTotal", "worstSeverity", "nextReboot", "calendarStale"]
CONFIG_KEYS = ["assessmentMaxAgeDays", "pendingMaxAgeDays", "rebootDueWithinDays", "behindGraceDays", "rules",
               "skipRules", "severityOverrides"]
RULE_KEYS = ["id", "name", "title", "severity", "severityNote", "severityOverride", "appliesTo", "fix"]
RESOURCE_KEYS = ["kind", "id", "name", "resourceGroup", "subscription", "compliant", "worstSeverity", "findings",
                 "location", "image", "eligible", "hotpatch", "patchMode", "assessmentMode",
                 "bypassPlatformSafetyChecksOnUserSchedule", "provisionVMAgent", "orchestrationMode", "extensions",
                 "osVersion", "track", "nextReboot", "lastAssessment", "lastInstallation", "pendingPatches",
                 "schedules", "agentStatus", "enrollment", "azureLocal"]
FINDING_KEYS = ["ruleId", "rule", "severity", "kind", "resourceId", "resourceName", "resourceGroup", "subscription",
                "message", "fix", "evidence"]
RELEASE_KEYS = ["os", "month", "date", "kind", "kb", "build", "reboot", "known", "note", "source"]


def test_json_keys_are_stable(report):
    doc = to_json(report)
    assert list(doc) == TOP_KEYS and doc["schemaVersion"] == SCHEMA_VERSION == 1
    assert list(doc["summary"]) == SUMMARY_KEYS and list(doc["config"]) == CONFIG_KEYS
    assert list(doc["calendar"]) == ["origin", "asOf"]
    assert list(doc["summary"]["findingsBySeverity"]) == ["high", "medium", "low", "info"]
    assert list(doc["summary"]["nextReboot"]) == ["date", "releases"]
    assert all(list(r) == RULE_KEYS for r in doc["rules"])
    # Both kinds carry every key, so consumers need no per-kind code.
    assert {r["kind"] for r in doc["resources"]} == {"vm", "vmss"}
    assert all(list(r) == RESOURCE_KEYS for r in doc["resources"])
    assert all(list(f) == FINDING_KEYS for f in doc["findings"])
    vm = next(r for r in doc["resources"] if r["name"] == "web-01")
    assert list(vm["track"]) == ["state", "os", "build", "month", "missing", "detail"]
    assert list(vm["nextReboot"]) == RELEASE_KEYS
    assert list(vm["lastAssessment"]) == ["time", "status", "criticalAndSecurityPatchCount", "otherPatchCount",
                                          "rebootPending", "error"]
    assert list(vm["lastInstallation"]) == ["time", "status", "installedPatchCount", "failedPatchCount",
                                            "pendingPatchCount", "maintenanceWindowExceeded", "rebootStatus", "error"]


def test_json_values(report):
    doc = to_json(report)
    assert doc["generatedAt"] == "2026-05-20T06:00:00Z" and doc["today"] == "2026-05-20"
    s = doc["summary"]
    assert (s["vmsChecked"], s["scaleSetsChecked"], s["resourcesChecked"]) == (5, 2, 7)
    assert (s["compliant"], s["nonCompliant"]) == (3, 4)
    assert s["findingsBySeverity"] == {"high": 3, "medium": 1, "low": 1, "info": 1}
    assert s["worstSeverity"] == "high" and s["nextReboot"]["date"] == "2026-06-09"
    assert s["calendarStale"] is None  # 2026-05-20 is inside the calendar's data
    assert [r["id"] for r in doc["rules"]] == [r.id for r in RULES]
    # Sorted by subscription, group, name.
    assert [(r["subscription"], r["resourceGroup"], r["name"]) for r in doc["resources"]] == [
        (SUB, "rg-web", "ss-flex"), (SUB, "rg-web", "ss-uniform"), (SUB, "rg-web", "web-01"),
        (SUB, "rg-web", "web-02"), (SUB, "rg-web", "web-03"), (SUB2, "rg-db", "db-01"), (SUB2, "rg-db", "legacy-01"),
    ]
    db = next(f for f in doc["findings"] if f["ruleId"] == "HP009")
    assert db["evidence"]["error"] == {"code": "X", "message": "disk | full\nretry later"}


def test_json_is_serialisable_and_deterministic(calendar):  # noqa: F811
    vms, scale_sets = fleet()
    first = json.dumps(to_json(evaluate(vms, scale_sets, today=TODAY, now=NOW, calendar=calendar)), sort_keys=False)
    again = json.dumps(to_json(evaluate(vms[::-1], scale_sets[::-1], today=TODAY, now=NOW, calendar=calendar)))
    assert first == again


def test_json_echoes_the_config(calendar):  # noqa: F811
    vms, scale_sets = fleet()
    config = ReportConfig(pending_max_age_days=30, skip_rules=frozenset({"HP014"}),
                          severity_overrides={"HP008": "medium"})
    doc = to_json(evaluate(vms, scale_sets, today=TODAY, now=NOW, calendar=calendar, config=config))
    assert doc["config"]["pendingMaxAgeDays"] == 30 and doc["config"]["skipRules"] == ["HP014"]
    assert doc["config"]["rules"] is None and doc["config"]["severityOverrides"] == {"HP008": "medium"}
    assert "HP014" not in [r["id"] for r in doc["rules"]]
    assert next(r for r in doc["rules"] if r["id"] == "HP008")["severityOverride"] == "medium"


def test_schema_doc_lists_every_key_and_rule():
    text = DOC.read_text(encoding="utf-8")
    for key in TOP_KEYS + SUMMARY_KEYS + CONFIG_KEYS + RULE_KEYS + RESOURCE_KEYS + FINDING_KEYS + RELEASE_KEYS:
        assert f"`{key}`" in text, key
    rows = {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(
        r"^\| (HP\d{3}) \| ([a-z-]+) \| ([a-z]+)", text, flags=re.MULTILINE)}
    assert rows == {r.id: (r.name, r.severity) for r in RULES}


# --------------------------------------------------------------------------- Markdown


def test_markdown_structure(report):
    md = to_markdown(report, fail_on="high")
    lines = md.splitlines()
    assert lines[0] == "## Hotpatch compliance report"
    assert "| VMs checked | 5 |" in lines and "| Scale sets checked | 2 |" in lines
    assert "| Compliant | 3 of 7 (2 of 5 VMs, 1 of 2 scale sets) |" in lines
    assert "| High findings | 3 |" in lines and "| Info findings | 1 |" in lines
    assert any(line.startswith("| Next reboot | 2026-06-09 (WS2025 2026-06 baseline") for line in lines)
    assert "| Result | **fails** --fail-on high |" in lines
    headings = [line for line in lines if line.startswith("### ")]
    assert headings == ["### High (3)", "### Medium (1)", "### Low (1)", "### Info (1)"]
    # Two subscriptions: the subscription column is shown.
    assert "| Resource | Kind | Resource group | Subscription | Rule | Finding | Fix |" in lines
    assert any("| ss-uniform | vmss | rg-web |" in line and "HP012 uniform-scale-set" in line for line in lines)


def test_markdown_escapes_cells(report):
    md = to_markdown(report)
    row = next(line for line in md.splitlines() if "HP009" in line)
    assert "disk \\| full retry later" in row  # the finding is one line; the pipe is escaped
    # The row still has exactly its 7 columns (8 unescaped pipes).
    assert len(re.findall(r"(?<!\\)\|", row)) == 8
    assert md_cell("a|b\r\nc<d>&") == "a\\|b<br>c&lt;d&gt;&amp;"
    assert md_cell(None) == ""


def test_markdown_caps_large_tables(calendar):  # noqa: F811
    vms = [vm_record(vm_json(name=f"vm-{i:03d}"), instance_view=instance_view(reboot_pending=True))
           for i in range(7)]
    md = to_markdown(evaluate(vms, [], today=TODAY, now=NOW, calendar=calendar), max_rows=5)
    rows = [line for line in md.splitlines() if line.startswith("| vm-")]
    assert len(rows) == 5 and rows[0].startswith("| vm-000 |")
    assert "… and 2 more; see the JSON artifact." in md
    # One subscription: no subscription column.
    assert "| Resource | Kind | Resource group | Rule | Finding | Fix |" in md


def test_markdown_without_findings(calendar):  # noqa: F811
    report = evaluate([vm_record(vm_json(), instance_view=instance_view())], [], today=TODAY, now=NOW,
                      calendar=calendar)
    md = to_markdown(report, fail_on="low")
    assert "No findings: every VM, scale set and Arc machine checked is compliant." in md
    assert "| Result | passes --fail-on low |" in md and "### " not in md


def test_markdown_carries_the_years_schedule_strip(report, calendar):  # noqa: F811
    md = to_markdown(report, calendar=calendar)
    lines = md.splitlines()
    year = report.today.year
    start = lines.index(f"### Hotpatch schedule {year}")
    assert lines[start + 2] == "| OS | Jan | Feb | Mar | Apr | May | Jun | Jul | Aug | Sep | Oct | Nov | Dec |"
    ws2025 = next(line for line in lines[start:] if line.startswith("| Windows Server 2025 |"))
    cells = [c.strip() for c in ws2025.strip("|").split("|")][1:]
    expected = [("B" if r.kind == "baseline" else "U" if r.kind == "unplanned-baseline" else "H")
                + ("" if r.known else "?") for r in calendar.year("2025", year)]
    assert cells == expected and cells[0] == "B" and cells[3].startswith("B")
    assert f"--svg-file hotpatch-{year}.svg" in md
    assert "### Hotpatch schedule" not in to_markdown(report), "without a calendar nothing is added"


# --------------------------------------------------------------------------- JUnit


def _parse(xml_text):
    assert xml_text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(xml_text.split("\n", 1)[1])


def _cases(root):
    return {case.get("name"): case for case in root.iter("testcase")}


def test_junit_is_well_formed_with_counts(report):
    root = _parse(to_junit(report))
    assert root.tag == "testsuites" and (root.get("tests"), root.get("failures")) == ("7", "4")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [SUB, SUB2]
    assert [(s.get("tests"), s.get("failures"), s.get("errors")) for s in suites] == [("5", "3", "0"),
                                                                                      ("2", "1", "0")]
    for suite in suites:
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
        assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))
        assert {p.get("name"): p.get("value") for p in suite.find("properties")}["failOn"] == "low"
    cases = _cases(root)
    assert cases["web-01"].get("classname") == f"{SUB}.rg-web" and list(cases["web-01"]) == []
    assert cases["vmss/ss-uniform"].find("failure").get("type") == "HP012"
    failure = cases["db-01"].find("failure")
    assert failure.get("type") == "HP001,HP009" and "HP009 (high)" in failure.get("message")
    assert "Fix: " in failure.text and "disk | full" in failure.text
    # Info findings are never failures.
    assert cases["legacy-01"].find("failure") is None
    assert "HP014" in cases["legacy-01"].find("system-out").text


def test_junit_failures_only_at_or_above_threshold(report):
    root = _parse(to_junit(report, fail_on="high"))
    assert (root.get("tests"), root.get("failures")) == ("7", "2")
    cases = _cases(root)
    assert cases["web-02"].find("failure") is None and "HP008" in cases["web-02"].find("system-out").text
    assert cases["web-03"].find("failure") is None and "HP003" in cases["web-03"].find("system-out").text
    assert cases["db-01"].find("failure") is not None
    medium = _cases(_parse(to_junit(report, fail_on="medium")))
    assert medium["web-03"].find("failure").get("type") == "HP003" and medium["web-02"].find("failure") is None


def test_junit_strips_characters_xml_cannot_carry(calendar):  # noqa: F811
    rec = vm_record(vm_json(), instance_view=instance_view(install_status="Failed", failed=1,
                                                           install_error={"code": "X", "message": "bad\x00\x1bbyte"}))
    root = _parse(to_junit(evaluate([rec], [], today=TODAY, now=NOW, calendar=calendar)))
    assert "badbyte" in root.find(".//failure").text


def test_junit_rejects_info_threshold(report):
    with pytest.raises(InputError, match="info findings never fail"):
        to_junit(report, fail_on="info")


def test_junit_of_an_empty_report(calendar):  # noqa: F811
    root = _parse(to_junit(evaluate([], [], today=TODAY, now=NOW, calendar=calendar)))
    assert (root.get("tests"), root.get("failures"), root.findall("testsuite")) == ("0", "0", [])


# --------------------------------------------------------------------------- table


def test_table_rows(report):
    rows = to_table_rows(report)
    assert len(rows) == 7
    assert list(rows[0]) == ["id", "name", "resourceGroup", "kind", "compliant", "worstSeverity", "findings",
                             "track", "nextReboot", "schedule"]
    by_name = {r.pop("id").rsplit("/", 1)[1]: r for r in rows}
    assert by_name["web-01"] == {"name": "web-01", "resourceGroup": "rg-web", "kind": "vm", "compliant": True,
                                 "worstSeverity": "", "findings": "", "track": "hotpatch 2026-05",
                                 "nextReboot": "2026-06-09", "schedule": ""}
    assert by_name["db-01"]["findings"] == "HP001, HP009" and by_name["db-01"]["worstSeverity"] == "high"
    assert by_name["ss-uniform"]["kind"] == "vmss" and by_name["ss-uniform"]["track"] == ""
    assert all(not isinstance(v, (dict, list)) for r in rows for v in r.values())


def test_pending_patches_in_json(calendar):  # noqa: F811
    rec = vm_record(vm_json(), instance_view=instance_view(critical=1),
                    patches=[security_patch(published="2026-05-01T00:00:00Z")])
    doc = to_json(evaluate([rec], [], today=TODAY, now=NOW, calendar=calendar))
    assert doc["resources"][0]["pendingPatches"] == [{
        "kbId": "KB5087423", "name": "2026-05 Security Update (KB5087423)", "classifications": ["Security Updates"],
        "rebootBehavior": "NeverReboots", "publishedDate": "2026-05-01T00:00:00Z"}]
    finding = doc["findings"][0]
    assert finding["ruleId"] == "HP007" and finding["evidence"]["patches"][0]["ageDays"] == 19.2
    assert date.fromisoformat(doc["today"]) == TODAY
    assert datetime.strptime(doc["generatedAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) == NOW


def test_a_report_past_the_calendar_says_so_in_json_and_markdown(calendar):  # noqa: F811
    vms, scale_sets = fleet()
    late = date(2026, 12, 5)
    stale = evaluate(vms, scale_sets, today=late, now=datetime(2026, 12, 5, 6, 0, tzinfo=timezone.utc),
                     calendar=calendar)
    doc = to_json(stale)
    flag = doc["summary"]["calendarStale"]
    assert (flag["endsAt"], flag["unknownMonths"], flag["fix"]) == ("2026-09", ["2026-10", "2026-11"],
                                                                    "hpctl calendar refresh")
    assert "ends at 2026-09" in flag["message"]
    assert any(line.startswith("| Calendar | out of date: the hotpatch calendar") and "calendar refresh" in line
               for line in to_markdown(stale).splitlines())
    tracks = [r["track"] for r in doc["resources"] if r["track"]]
    assert tracks and all(t["state"] in ("unknown", "behind", "off-track") for t in tracks)
    assert all("calendar ends at 2026-09" in t["detail"] for t in tracks if t["state"] == "unknown")

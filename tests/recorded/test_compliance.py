"""history and report against recorded Resource Graph traffic."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import SANDBOX_DATE

pytestmark = pytest.mark.vcr
AS_OF = SANDBOX_DATE.isoformat()


def test_history_of_a_group_is_a_timeline_per_vm(arm, hpctl):
    result = hpctl("history", "-g", "rg-data", "--days", "30")
    assert result.exit_code == 0, result.stderr
    vms = {vm["vm"]: vm for vm in json.loads(result.stdout)}
    assert "sql-01" in vms
    events = vms["sql-01"]["events"]
    assert [e["time"] for e in events] == sorted((e["time"] for e in events), reverse=True)
    installs = [e for e in events if e["kind"] == "installation"]
    assert installs and installs[0]["status"] == "Failed"
    assert {"kind", "time", "status", "startedBy", "errors"} <= set(installs[0])


def test_history_with_patches_and_table_output(arm, hpctl):
    result = hpctl("history", "-g", "rg-web", "-n", "web-02", "--patches", "-o", "table")
    assert result.exit_code == 0, result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header[:4] == ["VM", "ResourceGroup", "Kind", "Time"]
    assert "web-02" in result.stdout


def test_history_by_tag(arm, hpctl):
    result = hpctl("history", "--tag", "env=dev", "--days", "7")
    assert result.exit_code == 0, result.stderr
    names = {vm["vm"] for vm in json.loads(result.stdout)}
    assert "web-01" not in names


def test_report_json_has_findings_with_rule_ids_and_fixes(arm, hpctl):
    result = hpctl("report", "-o", "json", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    summary = doc["summary"]
    assert summary["vmsChecked"] >= 12 and summary["compliant"] < summary["vmsChecked"]
    findings = {(f["resourceName"], f["ruleId"]) for f in doc["findings"]}
    assert ("api-01", "HP010") in findings  # off the hotpatch track (KB5070881)
    assert ("api-02", "HP001") in findings  # eligible image, hotpatch off (and on a customer-managed schedule)
    assert ("app-02", "HP001") in findings
    assert ("sql-01", "HP009") in findings  # last installation failed
    assert ("legacy-01", "HP014") in findings  # ineligible image (info)
    assert all(f["fix"] for f in doc["findings"])
    # VMs, scale sets, patch results (and patch evidence), the schedules (configurations, assignments), and the
    # Arc machines with their own patch results.
    assert doc["queries"]["queries"] <= 8


def test_report_flags_schedule_conflicts_and_vms_nothing_patches(arm, hpctl):
    result = hpctl("report", "-o", "json", "--as-of", AS_OF, "--rule", "HP016,HP017,HP018")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    findings = {(f["resourceName"], f["ruleId"]): f for f in doc["findings"]}
    # api-04: hotpatch on, statically assigned to the customer-managed mc-api-saturday.
    hp016 = findings[("api-04", "HP016")]
    assert "mc-api-saturday (static)" in hp016["message"] and "--leave-schedule" in hp016["fix"]
    assert hp016["evidence"]["schedules"][0]["customerManaged"] is True
    # sql-02: Manual patch mode and no schedule: nothing patches it.
    assert "Manual" in findings[("sql-02", "HP017")]["message"]
    # legacy-05 is Manual too, but the dynamic scope over rg-legacy's dev VMs schedules it; api-02 (bypass on)
    # has its schedule.
    assert ("legacy-05", "HP017") not in findings and ("api-02", "HP017") not in findings
    # ...but the schedule can't run on a Manual VM (HP018); api-02 (AutomaticByPlatform, bypass on) is what a
    # schedule needs.
    assert "patchMode is Manual" in findings[("legacy-05", "HP018")]["message"]
    assert ("api-02", "HP018") not in findings
    assert {name for name, rule in findings if rule == "HP016"} == {"api-04"}
    resources = {r["name"]: r for r in doc["resources"]}
    assert [(s["name"], s["how"]) for s in resources["legacy-05"]["schedules"]] == [("mc-legacy-monthly", "dynamic")]
    assert resources["web-01"]["schedules"] == []


def test_report_fail_on_high_exits_5_and_writes_every_format(arm, hpctl, tmp_path):
    result = hpctl("report", "-g", "rg-api", "--as-of", AS_OF, "--fail-on", "high",
                   "--json-file", str(tmp_path / "r.json"), "--markdown-file", str(tmp_path / "r.md"),
                   "--junit-file", str(tmp_path / "r.xml"))
    assert result.exit_code == 5
    assert "Non-compliant" in result.stderr
    assert "Name" in result.stdout.splitlines()[0]
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["summary"]["vmsChecked"] >= 2
    # The summary counts the resources with a high finding, not every non-compliant one.
    high = [f for f in doc["findings"] if f["severity"] == "high"]
    resources = len({f["resourceId"].lower() for f in high})
    assert f"{len(high)} finding(s) at or above --fail-on high on {resources} of " in result.stderr
    markdown = (tmp_path / "r.md").read_text()
    assert markdown.startswith("#") and "| " in markdown
    suite = ET.parse(tmp_path / "r.xml").getroot()
    cases = suite.iter("testcase")
    assert any(case.find("failure") is not None for case in cases)


@pytest.mark.vcr("test_report_json_has_findings_with_rule_ids_and_fixes.yaml")
def test_report_query_selects_from_the_json_document(arm, hpctl):
    result = hpctl("report", "--query", "summary", "-o", "yaml", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("vmsChecked: ") and "findingsBySeverity:" in result.stdout


def test_report_format_is_a_deprecated_alias_of_o(hpctl):
    both = hpctl("report", "--format", "json", "-o", "tsv")
    assert both.exit_code == 2 and both.stdout == ""
    assert "--format json and -o tsv disagree" in both.stderr
    markdown_elsewhere = hpctl("status", "-o", "markdown")
    assert markdown_elsewhere.exit_code == 2 and markdown_elsewhere.stdout == ""
    assert "--output 'markdown' is not a format hpctl knows" in markdown_elsewhere.stderr


def test_report_markdown_to_stdout(arm, hpctl):
    result = hpctl("report", "-g", "rg-web", "-o", "markdown", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("#") and "Next reboot" in result.stdout


def test_report_junit_only_selected_rule(arm, hpctl):
    result = hpctl("report", "-g", "rg-api", "-o", "junit", "--rule", "HP010", "--as-of", AS_OF,
                   "--fail-on", "medium")
    assert result.exit_code == 5
    root = ET.fromstring(result.stdout)
    failures = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert failures and all("HP010" in c.find("failure").get("type", "") for c in failures)


def test_report_on_a_misspelt_group_exits_3(arm, hpctl):
    result = hpctl("report", "-g", "rg-wbe", "--fail-on", "high")
    assert result.exit_code == 3
    assert "rg-wbe" in result.stderr and "not found" in result.stderr


def test_report_reads_each_os_version_form_and_hot_patch_status(arm, hpctl):
    result = hpctl("report", "-g", "rg-agents", "-o", "json", "--as-of", AS_OF, "--instance-views")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    tracks = {r["name"]: r["track"] for r in doc["resources"]}
    assert (tracks["oldagent-01"]["state"], tracks["oldagent-01"]["month"]) == ("hotpatch", "2026-05")
    assert tracks["oldagent-02"]["state"] == "behind" and tracks["oldagent-02"]["build"] is None
    assert tracks["oldagent-03"]["state"] == "unknown" and tracks["oldagent-03"]["missing"] == []
    assert tracks["stopped-02"]["state"] == "unknown" and "deallocated" in tracks["stopped-02"]["detail"]
    findings = {(f["resourceName"], f["ruleId"]): f for f in doc["findings"]}
    assert ("gen1-01", "HP015") in findings and findings[("gen1-01", "HP015")]["severity"] == "high"
    assert "UNSUPPORTED_VM_SIZE_FOR_GEN1" in findings[("gen1-01", "HP015")]["message"]
    behind = findings[("oldagent-02", "HP011")]["message"]
    assert "None" not in behind and "KB5087423" in behind
    # A VM whose release can't be told is not called off-track or behind.
    for name in ("oldagent-03", "stopped-02"):
        assert not {rule for vm, rule in findings if vm == name} & {"HP010", "HP011"}
    # One extra Resource Graph query for the VMs without a revision, one Compute list for the instance views.
    assert doc["queries"]["computeLists"] == 1


def test_report_without_instance_views_cannot_see_hot_patch_status(arm, hpctl):
    result = hpctl("report", "-g", "rg-agents", "-n", "gen1-01", "-o", "json", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    assert not [f for f in json.loads(result.stdout)["findings"] if f["ruleId"] == "HP015"]


def test_report_past_the_calendar_says_so(arm, hpctl):
    result = hpctl("report", "-g", "rg-web", "-o", "json", "--as-of", "2026-12-05")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("WARNING:") == 1 and "hpctl calendar refresh" in result.stderr
    doc = json.loads(result.stdout)
    stale = doc["summary"]["calendarStale"]
    assert stale["endsAt"] == "2026-09" and stale["unknownMonths"] == ["2026-10", "2026-11"]
    tracks = [r["track"] for r in doc["resources"] if r["track"]]
    # Nothing predicted is counted as released: every track says where the calendar's data ends.
    assert tracks and all(t["state"] in ("behind", "off-track", "unknown") for t in tracks)
    assert all("calendar ends at 2026-09" in t["detail"] for t in tracks)
    assert all(m["month"] <= "2026-09" and m["known"] for t in tracks for m in t["missing"])

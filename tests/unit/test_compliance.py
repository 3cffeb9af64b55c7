"""Compliance rules: records from ARM JSON, every rule firing and not firing, thresholds, selection, config files."""

from __future__ import annotations

import copy
import json
import random
import re
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

import hpctl.core
from hpctl.core.calendar import load_calendar
from hpctl.core.compliance import (
    RULES,
    ReportConfig,
    evaluate,
    load_report_config,
    parse_rule_ids,
    parse_severity,
    scale_set_record,
    vm_record,
)
from hpctl.errors import InputError

SUB = "0b1f6471-1bf0-4dda-aec3-111111111111"
SUB2 = "0b1f6471-1bf0-4dda-aec3-222222222222"
TODAY = date(2026, 5, 20)
NOW = datetime(2026, 5, 20, 6, 0, tzinfo=timezone.utc)
MAY_2026_HOTPATCH_2025 = "10.0.26100.32772"  # KB5087423, released 2026-05-12
APRIL_2026_BASELINE_2025 = "10.0.26100.32690"  # KB5082063
FEB_2026_LCU_2025 = "10.0.26100.32370"  # KB5075899: the regular LCU, not the hotpatch
KB5070881_BUILD = "10.0.26100.6905"  # the October 2025 out-of-band update that knocked VMs off the track

HOTPATCH_SETTINGS = {
    "patchMode": "AutomaticByPlatform",
    "enableHotpatching": True,
    "assessmentMode": "AutomaticByPlatform",
    "automaticByPlatformSettings": {"rebootSetting": "IfRequired", "bypassPlatformSafetyChecksOnUserSchedule": False},
}


@pytest.fixture(scope="module")
def calendar():
    # The packaged calendar, whatever HPCTL_CALENDAR_FILE says in the environment running the tests.
    return load_calendar(Path(hpctl.core.__file__).parent / "data" / "calendar.json")


def vm_json(name="web-01", group="rg-web", sub=SUB, sku="2025-datacenter-azure-edition", patch=None, windows=None,
            publisher="MicrosoftWindowsServer", offer="WindowsServer"):
    """A VM as GET .../virtualMachines/{vm} returns it (and Resource Graph's resources table)."""
    win = {"provisionVMAgent": True, "enableAutomaticUpdates": True,
           "patchSettings": copy.deepcopy(HOTPATCH_SETTINGS if patch is None else patch)}
    win.update(windows or {})
    return {
        "id": f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/{name}",
        "name": name,
        "type": "Microsoft.Compute/virtualMachines",
        "location": "westeurope",
        "zones": ["1"],
        "tags": {"env": "prod"},
        "properties": {
            "vmId": "0f47b100-583c-48e3-a4c0-aefc2c9bbcc1",
            "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
            "storageProfile": {
                "imageReference": {"publisher": publisher, "offer": offer, "sku": sku, "version": "latest"},
                "osDisk": {"osType": "Windows", "name": f"{name}_OsDisk_1", "createOption": "FromImage"},
            },
            "osProfile": {"computerName": name, "adminUsername": "azureuser", "windowsConfiguration": win},
            "provisioningState": "Succeeded",
        },
    }


def instance_view(os_version=MAY_2026_HOTPATCH_2025, assessed="2026-05-19T21:02:04.2556154Z", critical=0,
                  reboot_pending=False, installed="2026-05-14T02:13:45.1234567Z", install_status="Succeeded",
                  failed=0, install_error=None, assessment_status="Succeeded", assessment_error=None):
    """GET .../instanceView, shaped like the VirtualMachine_Get_InstanceView spec example."""
    status = {"configurationStatuses": [
        {"code": "PatchModeConfigurationState/Ready", "level": "Info"},
        {"code": "AssessmentModeConfigurationState/Ready", "level": "Info"},
    ]}
    if assessed is not None:
        status["availablePatchSummary"] = {
            "status": assessment_status, "assessmentActivityId": "68f8b292-dfc2-4646-9781-33cc88631968",
            "rebootPending": reboot_pending, "criticalAndSecurityPatchCount": critical, "otherPatchCount": 0,
            "startTime": assessed, "lastModifiedTime": assessed, "error": assessment_error,
        }
    if installed is not None:
        status["lastPatchInstallationSummary"] = {
            "status": install_status, "installationActivityId": "68f8b292-dfc2-4646-9981-33cc88631968",
            "maintenanceWindowExceeded": False, "notSelectedPatchCount": 0, "excludedPatchCount": 0,
            "pendingPatchCount": 0, "installedPatchCount": 1, "failedPatchCount": failed,
            "startTime": installed, "lastModifiedTime": installed, "error": install_error,
        }
    return {"computerName": "web-01", "osName": "Windows Server 2025 Datacenter Azure Edition",
            "osVersion": os_version, "patchStatus": status}


def security_patch(kb="5087423", published="2026-05-12T00:00:00Z", classification="Security Updates"):
    """One availablePatches entry of an assessPatches result."""
    return {"patchId": f"{kb}-id", "name": f"2026-05 Security Update (KB{kb})", "version": "", "kbId": kb,
            "classifications": [classification], "rebootBehavior": "NeverReboots", "publishedDate": published,
            "lastModifiedDateTime": "2026-05-19T21:18:45.2830263Z", "assessmentState": "Available"}


def vmss_json(name="ss-web", group="rg-web", sub=SUB, orchestration="Flexible", sku="2025-datacenter-azure-edition",
              patch=None, extensions=("ApplicationHealthWindows",), windows=None):
    """A scale set as GET .../virtualMachineScaleSets/{vmss} returns it."""
    props = {
        "singlePlacementGroup": False,
        "platformFaultDomainCount": 1,
        "virtualMachineProfile": {
            "storageProfile": {
                "imageReference": {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer", "sku": sku,
                                   "version": "latest"},
                "osDisk": {"osType": "Windows", "createOption": "FromImage"},
            },
            "osProfile": {"computerNamePrefix": name, "adminUsername": "azureuser", "windowsConfiguration": {
                "provisionVMAgent": True, "enableAutomaticUpdates": True,
                "patchSettings": copy.deepcopy(HOTPATCH_SETTINGS if patch is None else patch),
                **(windows or {}),
            }},
            "extensionProfile": {"extensions": [
                {"name": f"{t}-ext", "properties": {"publisher": "Microsoft.ManagedServices", "type": t,
                                                    "typeHandlerVersion": "2.0",
                                                    "settings": {"protocol": "http", "port": 80,
                                                                 "requestPath": "/health"}}}
                for t in extensions
            ]},
        },
        "provisioningState": "Succeeded",
    }
    if orchestration is not None:
        props["orchestrationMode"] = orchestration
    return {
        "id": f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}",
        "name": name, "type": "Microsoft.Compute/virtualMachineScaleSets", "location": "westeurope",
        "sku": {"name": "Standard_D2s_v5", "capacity": 2}, "properties": props,
    }


def compliant_vm(**overrides):
    return vm_record(vm_json(**overrides), instance_view=instance_view())


def run(vms=(), scale_sets=(), *, calendar, today=TODAY, now=NOW, config=None):
    return evaluate(list(vms), list(scale_sets), today=today, now=now, calendar=calendar, config=config)


def ids(report):
    return [f.rule_id for f in report.findings]


def only(report, rule_id):
    found = [f for f in report.findings if f.rule_id == rule_id]
    assert len(found) == 1, (rule_id, ids(report))
    return found[0]


# --------------------------------------------------------------------------- records


def test_vm_record_from_compute_json(calendar):
    rec = vm_record(vm_json(), instance_view=instance_view(critical=2, reboot_pending=True))
    assert rec.subscription == SUB and rec.name == "web-01" and rec.resource_group == "rg-web"
    assert rec.facts.eligible and rec.facts.hotpatch
    assert rec.os_version == MAY_2026_HOTPATCH_2025
    assert rec.last_assessment == {"time": "2026-05-19T21:02:04Z", "status": "Succeeded",
                                   "criticalAndSecurityPatchCount": 2, "otherPatchCount": 0,
                                   "rebootPending": True, "error": None}
    assert rec.last_installation["time"] == "2026-05-14T02:13:45Z"
    assert rec.last_installation["status"] == "Succeeded" and rec.last_installation["failedPatchCount"] == 0
    assert rec.pending_patches == ()


def test_vm_record_reads_embedded_instance_view():
    doc = vm_json()
    doc["properties"]["instanceView"] = instance_view(os_version="10.0.26100.32690")
    assert vm_record(doc).os_version == "10.0.26100.32690"
    graph = vm_json()
    graph["properties"]["extended"] = {"instanceView": {"osVersion": "10.0.20348.5074",
                                                        "powerState": {"code": "PowerState/running"}}}
    graph["subscriptionId"] = SUB2
    rec = vm_record(graph)
    assert rec.os_version == "10.0.20348.5074" and rec.subscription == SUB2 and rec.last_assessment is None


def test_vm_record_from_resource_graph_patch_rows():
    assessment = {
        "id": f"/subscriptions/{SUB}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-01"
              "/patchAssessmentResults/latest",
        "type": "microsoft.compute/virtualmachines/patchassessmentresults",
        "properties": {
            "status": "Succeeded", "rebootPending": False, "patchServiceUsed": "WU-WSUS", "osType": "Windows",
            "startDateTime": "2026-05-19T21:00:00.1234567Z", "lastModifiedDateTime": "2026-05-19T21:02:04.1234567Z",
            "startedBy": "Platform", "errorDetails": None,
            "availablePatchCountByClassification": {"critical": 1, "security": 2, "updateRollup": 1, "definition": 3},
        },
    }
    installation = {"properties": {
        "status": "Failed", "rebootStatus": "NotNeeded", "startDateTime": "2026-05-18T01:00:00Z",
        "lastModifiedDateTime": "2026-05-18T01:30:00Z", "installedPatchCount": 0, "failedPatchCount": 1,
        "pendingPatchCount": 0, "maintenanceWindowExceeded": False,
        "errorDetails": {"code": "VMGuestPatchInternalError", "message": "Installation failed"},
    }}
    patches = [{"properties": {"kbId": "5087423", "patchName": "2026-05 Security Update",
                               "classifications": ["Security"], "rebootBehavior": "NeverReboots",
                               "publishedDateTime": "2026-05-12T17:00:00Z", "rebootRequired": False}}]
    rec = vm_record(vm_json(), instance_view=instance_view(), assessment=assessment, installation=installation,
                    patches=patches)
    assert rec.last_assessment["time"] == "2026-05-19T21:02:04Z"
    assert rec.last_assessment["criticalAndSecurityPatchCount"] == 3 and rec.last_assessment["otherPatchCount"] == 4
    assert rec.last_installation["status"] == "Failed"
    assert rec.last_installation["error"] == {"code": "VMGuestPatchInternalError", "message": "Installation failed"}
    assert rec.pending_patches == ({"kbId": "KB5087423", "name": "2026-05 Security Update",
                                    "classifications": ["Security"], "rebootBehavior": "NeverReboots",
                                    "publishedDate": "2026-05-12T17:00:00Z"},)


def test_vm_record_takes_patches_from_an_assess_result():
    result = {"status": "Succeeded", "rebootPending": False, "criticalAndSecurityPatchCount": 1,
              "otherPatchCount": 0, "startDateTime": "2026-05-19T21:02:04.2556154Z",
              "availablePatches": [security_patch(), security_patch()], "error": None}
    rec = vm_record(vm_json(), assessment=result)
    assert [p["kbId"] for p in rec.pending_patches] == ["KB5087423"]  # listed twice, kept once
    assert rec.last_assessment["time"] == "2026-05-19T21:02:04Z"


def test_scale_set_record_fields():
    s = scale_set_record(vmss_json())
    assert (s.name, s.resource_group, s.subscription, s.location) == ("ss-web", "rg-web", SUB, "westeurope")
    assert s.orchestration_mode == "Flexible" and not s.uniform
    assert s.eligible and s.hotpatch and s.patch_mode == "AutomaticByPlatform" and s.provision_vm_agent is True
    assert s.extensions == ("ApplicationHealthWindows",) and s.has_health_extension
    assert s.image == "MicrosoftWindowsServer:WindowsServer:2025-datacenter-azure-edition"
    missing = scale_set_record(vmss_json(orchestration=None, extensions=()))
    assert missing.orchestration_mode is None and missing.uniform and missing.extensions == ()
    bare = scale_set_record({"id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/"
                                   "virtualMachineScaleSets/flex", "name": "flex",
                             "properties": {"orchestrationMode": "Flexible"}})
    assert bare.patch_mode is None and bare.image is None and not bare.eligible


# --------------------------------------------------------------------------- the compliant baseline


def test_fully_compliant_hotpatch_vm_and_scale_set_have_no_findings(calendar):
    report = run([compliant_vm()], [scale_set_record(vmss_json())], calendar=calendar)
    assert report.findings == ()
    vm_result = next(r for r in report.results if r.kind == "vm")
    assert vm_result.compliant and vm_result.worst_severity is None
    assert vm_result.track.state == "hotpatch" and vm_result.track.month == "2026-05"
    assert vm_result.next_reboot.date == date(2026, 6, 9)  # the unplanned June 2026 baseline
    assert report.summary.compliant == 2 and report.summary.worst_severity is None
    assert not report.exceeds("low")


# --------------------------------------------------------------------------- every rule fires


def _vm(today=TODAY, patch_changes=None, windows=None, sku="2025-datacenter-azure-edition", patches=(), **view):
    patch = {**HOTPATCH_SETTINGS, **(patch_changes or {})}
    return vm_record(vm_json(sku=sku, patch=patch, windows=windows), instance_view=instance_view(**view),
                     patches=patches)


VM_CASES = [
    ("HP001", "high", {"patch_changes": {"enableHotpatching": False}}, "enableHotpatching is off"),
    ("HP002", "high", {"patch_changes": {"patchMode": "AutomaticByOS", "enableHotpatching": False}},
     "patchMode is AutomaticByOS"),
    ("HP002", "medium", {"sku": "2022-datacenter-azure-edition",
                         "patch_changes": {"patchMode": "Manual", "enableHotpatching": False}},
     "patchMode is Manual"),
    ("HP003", "medium", {"patch_changes": {"assessmentMode": "ImageDefault"}}, "assessmentMode is ImageDefault"),
    ("HP004", "high", {"patch_changes": {"automaticByPlatformSettings": {
        "bypassPlatformSafetyChecksOnUserSchedule": True}}}, "customer-managed schedules"),
    ("HP005", "high", {"windows": {"provisionVMAgent": False}}, "provisionVMAgent is false"),
    ("HP006", "medium", {"assessed": "2026-05-16T02:00:00Z"}, "4.2 days ago (limit 3 days)"),
    ("HP006", "medium", {"assessment_status": "Failed",
                         "assessment_error": {"code": "AssessmentFailed", "message": "WU service stopped"}},
     "failed: WU service stopped"),
    ("HP007", "high", {"critical": 1, "patches": [security_patch(published="2026-05-12T00:00:00Z")]},
     "1 critical/security patch pending longer than 7 days: KB5087423"),
    ("HP008", "low", {"reboot_pending": True}, "A reboot is pending (reported by the last assessment"),
    ("HP009", "high", {"install_status": "Failed", "failed": 1,
                       "install_error": {"code": "PatchInstallationFailed", "message": "0x80070005"}},
     "ended Failed: 1 patch failed (0x80070005)"),
    ("HP009", "high", {"install_status": "CompletedWithWarnings", "failed": 2}, "2 patches failed"),
    ("HP010", "high", {"os_version": FEB_2026_LCU_2025}, "Off the hotpatch track"),
    ("HP011", "medium", {"os_version": APRIL_2026_BASELINE_2025}, "missing 2026-05 hotpatch KB5087423"),
    ("HP014", "info", {"sku": "2022-datacenter-azure-edition", "patch_changes": {"enableHotpatching": False}},
     "not hotpatch-eligible"),
]


@pytest.mark.parametrize("rule_id,severity,kwargs,text", VM_CASES, ids=[f"{c[0]}-{c[1]}-{i}"
                                                                        for i, c in enumerate(VM_CASES)])
def test_each_vm_rule_fires(calendar, rule_id, severity, kwargs, text):
    report = run([_vm(**kwargs)], calendar=calendar)
    finding = only(report, rule_id)
    assert finding.severity == severity
    assert text in finding.message
    assert finding.fix and "\n" not in finding.message and "\n" not in finding.fix
    assert finding.kind == "vm" and finding.resource_name == "web-01" and finding.subscription == SUB
    assert report.results[0].compliant is (severity == "info")


def test_multi_line_azure_errors_make_one_line_findings(calendar):
    rec = _vm(install_status="Failed", failed=1,
              install_error={"code": "X", "message": "Windows Update failed.\r\n  Error 0x80240022\n"})
    finding = only(run([rec], calendar=calendar), "HP009")
    assert "(Windows Update failed. Error 0x80240022)" in finding.message
    assert finding.evidence["error"]["message"] == "Windows Update failed.\r\n  Error 0x80240022\n"


def test_never_assessed_vm(calendar):
    rec = vm_record(vm_json(), instance_view=instance_view(assessed=None, installed=None))
    report = run([rec], calendar=calendar)
    finding = only(report, "HP006")
    assert finding.message.startswith("Never assessed") and "hpctl assess -g rg-web -n web-01" in finding.fix
    assert ids(report) == ["HP006"]
    # No instance view at all (e.g. a Resource Graph row without patch data) is never assessed too.
    assert ids(run([vm_record(vm_json())], calendar=calendar)) == ["HP006"]


def test_missing_assessment_mode_counts_as_image_default(calendar):
    patch = {k: v for k, v in HOTPATCH_SETTINGS.items() if k != "assessmentMode"}
    rec = vm_record(vm_json(patch=patch), instance_view=instance_view())
    assert "ImageDefault" in only(run([rec], calendar=calendar), "HP003").message


def test_pending_patch_age_uses_published_date_then_assessment_time(calendar):
    fresh = _vm(critical=1, patches=[security_patch(published="2026-05-15T00:00:00Z")])
    assert "HP007" not in ids(run([fresh], calendar=calendar))
    other = _vm(patches=[security_patch(published="2026-04-01T00:00:00Z", classification="Definition Updates")])
    assert "HP007" not in ids(run([other], calendar=calendar))
    # No publishedDate: measured from the last assessment, here 10 days ago.
    undated = _vm(assessed="2026-05-10T06:00:00Z", patches=[security_patch(published=None)])
    finding = only(run([undated], calendar=calendar), "HP007")
    assert finding.evidence["patches"][0]["measuredFrom"] == "assessment"
    # Instance view only (no patch list): the count is pending at least since the assessment.
    counted = _vm(assessed="2026-05-10T06:00:00Z", critical=3)
    assert "3 critical/security patches pending since at least" in only(run([counted], calendar=calendar),
                                                                          "HP007").message


def test_off_track_after_kb5070881(calendar):
    rec = _vm(os_version=KB5070881_BUILD, assessed="2025-11-19T21:00:00Z", installed="2025-11-12T02:00:00Z")
    report = run([rec], calendar=calendar, today=date(2025, 11, 20), now=datetime(2025, 11, 20, 6, tzinfo=timezone.utc))
    finding = only(report, "HP010")
    assert "KB5070881" in finding.message and finding.severity == "high"
    assert "2026-01" in finding.fix


def test_off_track_fix_names_the_baseline_to_install(calendar):
    finding = only(run([_vm(os_version=FEB_2026_LCU_2025)], calendar=calendar), "HP010")
    assert "--kb-include KB5082063" in finding.fix


def test_behind_waits_for_the_grace_period(calendar):
    rec = _vm(os_version=APRIL_2026_BASELINE_2025, assessed="2026-05-14T21:00:00Z")
    early = dict(today=date(2026, 5, 15), now=datetime(2026, 5, 15, 6, tzinfo=timezone.utc))
    assert "HP011" not in ids(run([rec], calendar=calendar, **early))
    no_grace = ReportConfig(behind_grace_days=0)
    assert "HP011" in ids(run([rec], calendar=calendar, config=no_grace, **early))


def test_track_rules_only_for_hotpatch_vms(calendar):
    rec = _vm(os_version=FEB_2026_LCU_2025, patch_changes={"enableHotpatching": False})
    report = run([rec], calendar=calendar)
    assert ids(report) == ["HP001"] and report.results[0].track is None and report.results[0].next_reboot is None


def test_spec_style_os_version_is_understood(calendar):
    rec = _vm(os_version="Microsoft Windows NT 10.0.26100.32772")
    report = run([rec], calendar=calendar)
    assert report.findings == () and report.results[0].track.state == "hotpatch"


def test_linux_vm_only_gets_the_info_finding(calendar):
    doc = vm_json(publisher="Canonical", offer="ubuntu-24_04-lts", sku="server")
    doc["properties"]["osProfile"] = {"computerName": "lnx", "linuxConfiguration": {"provisionVMAgent": True}}
    doc["properties"]["storageProfile"]["osDisk"]["osType"] = "Linux"
    report = run([vm_record(doc)], calendar=calendar)
    assert ids(report) == ["HP014"] and report.results[0].compliant


def test_specialized_disk_vm_is_ineligible_info(calendar):
    doc = vm_json()
    doc["properties"]["storageProfile"].pop("imageReference")
    doc["properties"]["osProfile"]["windowsConfiguration"]["patchSettings"]["enableHotpatching"] = False
    finding = only(run([vm_record(doc, instance_view=instance_view())], calendar=calendar), "HP014")
    assert "No image reference" in finding.message


def test_near_miss_image_suggests_the_eligible_one(calendar):
    finding = only(run([_vm(sku="2022-datacenter-azure-edition", patch_changes={"enableHotpatching": False})],
                       calendar=calendar), "HP014")
    assert "WindowsServer:2022-datacenter-azure-edition-hotpatch:latest" in finding.fix


# --------------------------------------------------------------------------- reboot severity and the calendar


def test_reboot_pending_severity_follows_next_baseline(calendar):
    # 2026-06-30: the July 2026 baseline is on 2026-07-14, 14 days later.
    today, now = date(2026, 6, 30), datetime(2026, 6, 30, 6, tzinfo=timezone.utc)
    rec = _vm(reboot_pending=True, assessed="2026-06-29T21:00:00Z")
    low = only(run([rec], calendar=calendar, today=today, now=now), "HP008")
    assert low.severity == "low" and low.evidence["nextBaseline"] == "2026-07-14"
    assert low.evidence["daysUntilBaseline"] == 14
    medium = only(run([rec], calendar=calendar, today=today, now=now,
                      config=ReportConfig(reboot_due_within_days=14)), "HP008")
    assert medium.severity == "medium" and "2026-07 baseline on 2026-07-14, in 14 days" in medium.message
    # Four days before the baseline the default (7 days) is enough.
    close = only(run([rec], calendar=calendar, today=date(2026, 7, 10),
                     now=datetime(2026, 7, 10, tzinfo=timezone.utc)), "HP008")
    assert close.severity == "medium"


def test_reboot_pending_from_a_newer_installation(calendar):
    rec = vm_record(vm_json(), instance_view=instance_view(),
                    installation={"status": "Succeeded", "rebootStatus": "Required",
                                  "lastModifiedDateTime": "2026-05-19T23:00:00Z"})
    assert "last installation" in only(run([rec], calendar=calendar), "HP008").message


# --------------------------------------------------------------------------- scale sets


@pytest.mark.parametrize("orchestration,extensions,expected", [
    ("Uniform", ("ApplicationHealthWindows",), ["HP012"]),
    (None, ("ApplicationHealthWindows",), ["HP012"]),
    ("Flexible", ("ApplicationHealthWindows",), []),
    ("Flexible", (), ["HP013"]),
    ("Flexible", ("IaaSAntimalware",), ["HP013"]),
])
def test_scale_set_orchestration_and_health(calendar, orchestration, extensions, expected):
    report = run(scale_sets=[scale_set_record(vmss_json(orchestration=orchestration, extensions=extensions))],
                 calendar=calendar)
    assert ids(report) == expected
    if expected == ["HP012"]:
        finding = report.findings[0]
        assert finding.severity == "high" and finding.kind == "vmss"
        assert ("no orchestrationMode, which Azure treats as Uniform" in finding.message) is (orchestration is None)
    if expected == ["HP013"]:
        assert report.findings[0].severity == "medium"


def test_scale_set_settings_rules(calendar):
    patch = {"patchMode": "AutomaticByOS", "enableHotpatching": False}
    report = run(scale_sets=[scale_set_record(vmss_json(patch=patch, windows={"provisionVMAgent": False}))],
                 calendar=calendar)
    assert ids(report) == ["HP001", "HP002", "HP003", "HP005"]
    assert "az vmss update -g rg-web -n ss-web" in only(report, "HP002").fix
    bypass = {**HOTPATCH_SETTINGS, "automaticByPlatformSettings": {"bypassPlatformSafetyChecksOnUserSchedule": True}}
    assert ids(run(scale_sets=[scale_set_record(vmss_json(patch=bypass))], calendar=calendar)) == ["HP004"]


def test_uniform_scale_set_on_ineligible_image_is_info_only(calendar):
    doc = vmss_json(orchestration="Uniform", sku="2019-datacenter", patch={"patchMode": "AutomaticByOS"})
    assert ids(run(scale_sets=[scale_set_record(doc)], calendar=calendar)) == ["HP014"]


# --------------------------------------------------------------------------- thresholds, selection, severities


def test_thresholds_are_configurable(calendar):
    stale = _vm(assessed="2026-05-16T02:00:00Z")
    assert "HP006" in ids(run([stale], calendar=calendar))
    assert "HP006" not in ids(run([stale], calendar=calendar, config=ReportConfig(assessment_max_age_days=5)))
    pending = _vm(critical=1, patches=[security_patch(published="2026-05-12T00:00:00Z")])
    assert "HP007" in ids(run([pending], calendar=calendar))
    assert "HP007" not in ids(run([pending], calendar=calendar, config=ReportConfig(pending_max_age_days=10)))


def _noisy():
    return _vm(sku="2022-datacenter-azure-edition", patch_changes={"patchMode": "Manual", "enableHotpatching": False,
                                                                   "assessmentMode": "ImageDefault"},
               reboot_pending=True)


def test_rule_selection_and_skipping(calendar):
    assert ids(run([_noisy()], calendar=calendar)) == ["HP002", "HP003", "HP008", "HP014"]
    only_two = ReportConfig(rules=parse_rule_ids(["HP002,reboot-pending"]))
    assert ids(run([_noisy()], calendar=calendar, config=only_two)) == ["HP002", "HP008"]
    skipped = ReportConfig(skip_rules=parse_rule_ids(["hp014", "assessment-mode"], option="--skip-rule"))
    assert ids(run([_noisy()], calendar=calendar, config=skipped)) == ["HP002", "HP008"]
    both = ReportConfig(rules=frozenset({"HP002", "HP003"}), skip_rules=frozenset({"HP003"}))
    report = run([_noisy()], calendar=calendar, config=both)
    assert ids(report) == ["HP002"] and [r.id for r in report.rules] == ["HP002"]


def test_severity_overrides(calendar):
    config = ReportConfig(severity_overrides={"HP014": "low", "reboot-pending": "high"})
    report = run([_noisy()], calendar=calendar, config=config)
    assert only(report, "HP014").severity == "low" and only(report, "HP008").severity == "high"
    assert config.severity_overrides == {"HP008": "high", "HP014": "low"}


def test_parse_rule_ids_rejects_unknown_ids():
    with pytest.raises(InputError) as err:
        parse_rule_ids(["HP001", "HP099"], option="--skip-rule")
    assert "--skip-rule 'HP099' is not a rule" in err.value.message
    assert "HP001 (hotpatch-off)" in err.value.message and "HP014 (ineligible-image)" in err.value.message


def test_parse_severity():
    assert parse_severity(" HIGH ") == "high" and parse_severity("low") == "low"
    assert parse_severity("info", allow_info=True) == "info"
    with pytest.raises(InputError, match="info findings never fail"):
        parse_severity("info")
    with pytest.raises(InputError, match="'critical' is not a severity; use high, medium or low"):
        parse_severity("critical")


def test_config_rejects_bad_values_in_code():
    with pytest.raises(InputError, match="assessment_max_age_days must be a whole number"):
        ReportConfig(assessment_max_age_days=-1)
    with pytest.raises(InputError, match="is not a rule"):
        ReportConfig(rules=frozenset({"HP100"}))
    with pytest.raises(InputError, match="rules is empty"):
        ReportConfig(rules=frozenset())
    with pytest.raises(InputError, match="is not a severity"):
        ReportConfig(severity_overrides={"HP001": "urgent"})


# --------------------------------------------------------------------------- exceeds, summary, ordering


def test_exceeds_semantics(calendar):
    medium = run([_vm(patch_changes={"assessmentMode": "ImageDefault"})], calendar=calendar)
    assert medium.summary.worst_severity == "medium"
    assert medium.exceeds("low") and medium.exceeds("medium") and not medium.exceeds("high")
    assert not medium.exceeds(None)
    info_only = run([_vm(sku="2022-datacenter-azure-edition", patch_changes={"enableHotpatching": False})],
                    calendar=calendar)
    assert ids(info_only) == ["HP014"] and info_only.summary.worst_severity == "info"
    # Info findings never fail a run, whatever the threshold.
    assert not any(info_only.exceeds(level) for level in ("high", "medium", "low", "info"))
    assert run([], calendar=calendar).exceeds("low") is False
    with pytest.raises(InputError):
        medium.exceeds("severe")


def test_summary_counts_and_next_reboot(calendar):
    v2022 = vm_record(vm_json(name="app-01", sku="2022-datacenter-azure-edition-hotpatch"),
                      instance_view=instance_view(os_version="10.0.20348.5074"))
    report = run([compliant_vm(), v2022, _noisy()], [scale_set_record(vmss_json(orchestration=None))],
                 calendar=calendar)
    s = report.summary
    assert (s.vms_checked, s.scale_sets_checked, s.resources_checked) == (3, 1, 4)
    assert (s.compliant, s.vms_compliant, s.scale_sets_compliant, s.non_compliant) == (2, 2, 0, 2)
    assert dict(s.findings_by_severity) == {"high": 1, "medium": 2, "low": 1, "info": 1}
    assert s.findings_total == 5 and s.worst_severity == "high"
    assert s.next_reboot == date(2026, 6, 9)
    assert sorted(r.os for r in s.next_reboot_releases) == ["2022", "2025"]


def test_no_hotpatch_vms_means_no_next_reboot(calendar):
    assert run([_noisy()], calendar=calendar).summary.next_reboot is None


def test_results_are_ordered_by_subscription_group_name(calendar):
    records = [
        vm_record(vm_json(name="b", group="rg-b", sub=SUB2), instance_view=instance_view()),
        vm_record(vm_json(name="a", group="RG-b", sub=SUB), instance_view=instance_view()),
        vm_record(vm_json(name="Z", group="rg-a", sub=SUB), instance_view=instance_view()),
        vm_record(vm_json(name="c", group="rg-a", sub=SUB), instance_view=instance_view(assessed=None)),
    ]
    expected = [(SUB, "rg-a", "c"), (SUB, "rg-a", "Z"), (SUB, "RG-b", "a"), (SUB2, "rg-b", "b")]
    for seed in range(3):
        shuffled = records[:]
        random.Random(seed).shuffle(shuffled)
        report = run(shuffled, calendar=calendar)
        assert [(r.subscription, r.resource_group, r.name) for r in report.results] == expected


# --------------------------------------------------------------------------- config files


def test_config_file_yaml_and_json(tmp_path):
    yml = tmp_path / "hpctl-report.yaml"
    yml.write_text(
        "# thresholds for the morning job\n"
        "assessment_max_age_days: 2\n"
        "pending-max-age-days: 30\n"
        "reboot_due_within_days: 14\n"
        "behind_grace_days: 10\n"
        "skip_rules: [HP014, reboot-pending]\n"
        "severity_overrides:\n  HP003: high\n",
        encoding="utf-8",
    )
    config = load_report_config(yml)
    assert config == ReportConfig(assessment_max_age_days=2, pending_max_age_days=30, reboot_due_within_days=14,
                                  behind_grace_days=10, skip_rules=frozenset({"HP014", "HP008"}),
                                  severity_overrides={"HP003": "high"})
    js = tmp_path / "report.json"
    js.write_text(json.dumps({"rules": ["HP001", "HP010"], "severity_overrides": {"off-track": "medium"}}))
    config = load_report_config(js)
    assert config.rules == frozenset({"HP001", "HP010"}) and config.severity_overrides == {"HP010": "medium"}
    assert config.assessment_max_age_days == 3
    empty = tmp_path / "empty.yml"
    empty.write_text("# nothing yet\n")
    assert load_report_config(empty) == ReportConfig()


@pytest.mark.parametrize("name,text,message", [
    ("c.yaml", "assesment_max_age_days: 3\n",
     "unknown key 'assesment_max_age_days'; did you mean 'assessment_max_age_days'? valid keys:"),
    ("c.yaml", "color: blue\n", "unknown key 'color'; valid keys: assessment_max_age_days"),
    ("c.yaml", "assessment_max_age_days: three\n",
     "assessment_max_age_days must be a whole number of days, 0 or more (got 'three'); "
     "e.g. assessment_max_age_days: 3"),
    ("c.yaml", "pending_max_age_days: -1\n", "pending_max_age_days must be a whole number of days"),
    ("c.yaml", "reboot_due_within_days: true\n", "reboot_due_within_days must be a whole number of days"),
    ("c.yaml", "assessment_max_age_days: 2.5\n", "assessment_max_age_days must be a whole number of days"),
    ("c.yaml", "skip_rules: [HP014, HP042]\n", "skip_rules: 'HP042' is not a rule; use one of HP001 (hotpatch-off)"),
    ("c.yaml", "rules: []\n", "rules is empty; list rule ids, or remove the key to run every rule"),
    ("c.yaml", "rules: {HP001: true}\n", "rules must be a list of rule ids"),
    ("c.yaml", "severity_overrides: {HP014: critical}\n",
     "severity_overrides.HP014: 'critical' is not a severity; use high, medium, low or info"),
    ("c.yaml", "severity_overrides: {HP077: low}\n", "severity_overrides: 'HP077' is not a rule"),
    ("c.yaml", "severity_overrides: [HP001]\n", "severity_overrides must map rule ids to severities"),
    ("c.yaml", "- HP001\n- HP002\n", "must be a mapping of settings such as 'assessment_max_age_days: 3' (got a list)"),
    ("c.yaml", "rules: [HP001\n", "is not valid YAML"),
    ("c.json", '{"rules": ["HP001",]}', "is not valid JSON"),
    ("c.json", '{"skip_rules": ["HP001"], "skip-rules": ["HP002"]}', "key 'skip-rules' is given twice"),
])
def test_bad_config_files(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_report_config(path)
    assert message in err.value.message
    assert str(path) in err.value.message
    assert "\n" not in err.value.message


def test_missing_config_file(tmp_path):
    with pytest.raises(InputError, match="does not exist; check the path, or leave it out to use the defaults"):
        load_report_config(tmp_path / "nope.yaml")


def test_rule_table_is_stable():
    # Ids are a public contract (CI configs skip them by id): changing one is a breaking change.
    assert [(r.id, r.name, r.severity) for r in RULES] == [
        ("HP001", "hotpatch-off", "high"),
        ("HP002", "patch-mode", "high"),
        ("HP003", "assessment-mode", "medium"),
        ("HP004", "bypass-safety-checks", "high"),
        ("HP005", "vm-agent-off", "high"),
        ("HP006", "assessment-stale", "medium"),
        ("HP007", "security-patches-pending", "high"),
        ("HP008", "reboot-pending", "low"),
        ("HP009", "installation-failed", "high"),
        ("HP010", "off-track", "high"),
        ("HP011", "behind", "medium"),
        ("HP012", "uniform-scale-set", "high"),
        ("HP013", "no-health-extension", "medium"),
        ("HP014", "ineligible-image", "info"),
        ("HP015", "hotpatch-incompatible", "high"),
        ("HP016", "hotpatch-on-schedule", "high"),
        ("HP017", "no-patching", "high"),
        ("HP018", "schedule-not-running", "high"),
        ("HP020", "arc-not-enrolled", "medium"),
        ("HP021", "arc-enrollment-incomplete", "high"),
        ("HP022", "arc-vbs-not-running", "high"),
        ("HP023", "arc-disconnected", "high"),
    ]


# --- HP015 and the osVersion forms --------------------------------------------------------------------------

INCOMPATIBLE = {"hotPatchCompatibility": "Incompatible", "hotPatchOptInCompletionStatus": "Unknown",
                "lastInstalledCumulativeUpdateHotPatchStatus": "Unknown",
                "lastRefreshedTime": "2026-05-19T09:33:52.3417145-04:00",
                "error": {"details": [{"code": "UNSUPPORTED_VM_SIZE_FOR_GEN1",
                                       "message": "Incompatible VM Size Standard_DS1_v2 for Generation 1 VMs."}]}}


def _with_hot_patch_status(view, block):
    view["patchStatus"] = {"hotPatchStatus": block, **view["patchStatus"]}
    return view


def test_hotpatch_incompatible_is_high_when_hotpatch_is_on_and_low_when_off(calendar):
    on = vm_record(vm_json(name="gen1-on"), instance_view=_with_hot_patch_status(instance_view(), INCOMPATIBLE))
    off_settings = {**HOTPATCH_SETTINGS, "enableHotpatching": False}
    off = vm_record(vm_json(name="gen1-off", patch=off_settings),
                    instance_view=_with_hot_patch_status(instance_view(), INCOMPATIBLE))
    fine = vm_record(vm_json(name="gen2"), instance_view=_with_hot_patch_status(
        instance_view(), {**INCOMPATIBLE, "hotPatchCompatibility": "Compatible", "error": None}))
    report = run([on, off, fine], calendar=calendar)
    found = {(f.resource_name, f.severity) for f in report.findings if f.rule_id == "HP015"}
    assert found == {("gen1-on", "high"), ("gen1-off", "low")}
    high = next(f for f in report.findings if f.rule_id == "HP015" and f.resource_name == "gen1-on")
    assert "UNSUPPORTED_VM_SIZE_FOR_GEN1" in high.message and "enableHotpatching is on" in high.message
    assert high.evidence["hotPatchStatus"]["compatibility"] == "Incompatible"


@pytest.mark.parametrize(("os_version", "words"), [
    ("Microsoft Windows NT 10.0.26100.0", "doesn't report the update revision"),
    (None, "no OS version reported"),
])
def test_no_revision_is_unknown_not_behind(calendar, os_version, words):
    report = run([vm_record(vm_json(), instance_view=instance_view(os_version=os_version))], calendar=calendar)
    result = report.results[0]
    assert result.track.state == "unknown" and words in result.track.detail
    assert not {"HP010", "HP011"} & set(ids(report))


def test_no_revision_but_installed_kb_places_the_vm(calendar):
    record = vm_record(vm_json(), instance_view=instance_view(os_version="Microsoft Windows NT 10.0.26100.0"),
                       installed_kbs=["KB5082063"])  # the April 2026 baseline; the May hotpatch is then missing
    report = run([record], calendar=calendar, today=date(2026, 5, 30),
                 now=datetime(2026, 5, 30, 6, 0, tzinfo=timezone.utc))
    assert (report.results[0].track.state, report.results[0].track.month) == ("behind", "2026-04")
    assert "HP011" in ids(report)


@pytest.mark.parametrize("today", [date(2026, 5, 20), date(2026, 8, 20), date(2026, 11, 20), date(2027, 2, 20)])
def test_off_track_fix_agrees_with_the_track(calendar, today):
    """HP010's fix installs the baseline the row's track names, even a predicted one, never 'wait for the next'."""
    now = datetime(today.year, today.month, today.day, 6, tzinfo=timezone.utc)
    report = run([_vm(os_version=FEB_2026_LCU_2025, today=today)], calendar=calendar, today=today, now=now)
    finding = only(report, "HP010")
    track = report.results[0].track
    baseline = next((r for r in track.missing if r.reboot), None)
    if baseline is not None:
        assert f"Install the {baseline.month} baseline" in finding.fix and "when it ships" not in finding.fix
        # Where the track's account names a baseline to install, it is the same one.
        named = re.findall(r"installing the (\d{4}-\d{2}) baseline", track.detail)
        assert named[:1] in ([], [baseline.month])
    else:
        assert "when it ships" in finding.fix

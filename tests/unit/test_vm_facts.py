"""VM facts from ARM JSON: image eligibility, patch settings and Azure's defaults, flags, timestamps."""

from __future__ import annotations

import pytest

from hpctl.core.patch_results import assessment_row, installation_row, patch_status_row
from hpctl.core.vm_facts import iso, parse_time, resource_group_of, vm_facts

VM_ID = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/RG-Web/providers/"
         "Microsoft.Compute/virtualMachines/web-01")


def vm(sku="2025-datacenter-azure-edition-core", publisher="MicrosoftWindowsServer", patch=None, win=None, **extra):
    windows = {"provisionVMAgent": True, "enableAutomaticUpdates": True}
    if patch is not None:
        windows["patchSettings"] = patch
    windows.update(win or {})
    return {
        "id": VM_ID, "name": "web-01", "location": "westeurope", "zones": ["2"], "tags": {"env": "prod"},
        "properties": {
            "storageProfile": {"imageReference": {"publisher": publisher, "offer": "WindowsServer", "sku": sku,
                                                  "version": "latest"}},
            "osProfile": {"windowsConfiguration": windows},
            **extra,
        },
    }


HOTPATCH = {"patchMode": "AutomaticByPlatform", "enableHotpatching": True, "assessmentMode": "AutomaticByPlatform",
            "automaticByPlatformSettings": {"rebootSetting": "IfRequired",
                                            "bypassPlatformSafetyChecksOnUserSchedule": False}}


def test_hotpatch_vm_has_no_flags():
    f = vm_facts(vm(patch=HOTPATCH))
    assert f.eligible and f.hotpatch and f.patch_mode == "AutomaticByPlatform"
    assert f.resource_group == "RG-Web" and f.zones == ("2",) and f.reboot_setting == "IfRequired"
    assert f.flags == ()


def test_missing_patch_mode_defaults_like_azure():
    assert vm_facts(vm()).patch_mode == "AutomaticByOS"
    assert vm_facts(vm(win={"enableAutomaticUpdates": False})).patch_mode == "Manual"


@pytest.mark.parametrize("kwargs,flag", [
    ({"sku": "2022-datacenter-azure-edition", "patch": HOTPATCH}, "image-not-eligible"),
    ({"publisher": "Canonical", "patch": HOTPATCH}, "image-not-eligible"),
    ({"patch": {**HOTPATCH, "enableHotpatching": False}}, "hotpatch-off"),
    ({"patch": {"patchMode": "Manual"}}, "patch-mode-Manual"),
    ({"patch": {**HOTPATCH, "automaticByPlatformSettings": {"bypassPlatformSafetyChecksOnUserSchedule": True}}},
     "bypass-safety-checks-on"),
    ({"patch": HOTPATCH, "win": {"provisionVMAgent": False}}, "vm-agent-off"),
])
def test_flags(kwargs, flag):
    assert flag in vm_facts(vm(**kwargs)).flags


def test_gallery_image_is_not_eligible():
    doc = vm(patch=HOTPATCH)
    doc["properties"]["storageProfile"]["imageReference"] = {"id": "/subscriptions/x/resourceGroups/g/providers/"
                                                            "Microsoft.Compute/galleries/gal/images/ws"}
    f = vm_facts(doc)
    assert not f.eligible and f.image.endswith("/images/ws") and "image-not-eligible" in f.flags


@pytest.mark.parametrize("text,expected", [
    ("2020-08-12T15:06:40.0086941-04:00", "2020-08-12T19:06:40Z"),
    ("2024-08-26T09:52:07+00:00", "2024-08-26T09:52:07Z"),
    ("2024-08-26T09:52:07Z", "2024-08-26T09:52:07Z"),
    ("2024-08-26T09:52:07.1234567Z", "2024-08-26T09:52:07Z"),
    ("2024-08-26T09:52:07", "2024-08-26T09:52:07Z"),
])
def test_timestamps_normalised_to_utc(text, expected):
    assert iso(text) == expected


@pytest.mark.parametrize("text", [None, "", "yesterday", "2024-13-40T00:00:00Z"])
def test_unparseable_timestamps_are_none(text):
    assert parse_time(text) is None


def test_resource_group_of_is_case_insensitive():
    assert resource_group_of(VM_ID.replace("resourceGroups", "resourcegroups")) == "RG-Web"
    assert resource_group_of("/subscriptions/x") == ""


def test_assessment_row_keeps_two_patches_with_one_kb_and_drops_success_errors():
    # Real assessments list KB4474419 twice (2019-03 and 2019-09, two patchIds) and count both (§9.4).
    row = assessment_row({
        "status": "Succeeded", "criticalAndSecurityPatchCount": 2, "otherPatchCount": 0, "rebootPending": False,
        "availablePatches": [
            {"patchId": "dde351ae", "kbId": "4474419", "name": "2019-03 Security Update (KB4474419)",
             "classifications": ["Security"], "rebootBehavior": "CanRequestReboot"},
            {"patchId": "ac54099f", "kbId": "4474419", "name": "2019-09 Security Update (KB4474419)",
             "classifications": ["Security"], "rebootBehavior": "CanRequestReboot"},
            {"patchId": "ac54099f", "kbId": "4474419", "name": "2019-09 Security Update (KB4474419)",
             "classifications": ["Critical"], "rebootBehavior": "CanRequestReboot"},
        ],
        "error": {"code": "Success", "message": "0 error/s reported", "details": []},
    })
    assert [(p["patchId"], p["kbId"], p["name"][:7]) for p in row["patches"]] == [
        ("dde351ae", "KB4474419", "2019-03"), ("ac54099f", "KB4474419", "2019-09")]
    assert row["patches"][1]["classifications"] == ["Critical", "Security"]  # one patchId listed twice is one
    assert row["error"] is None and row["outcome"] == "Succeeded"


@pytest.mark.parametrize(("status", "error", "outcome"), [
    ("Succeeded", {"code": "Success", "message": "0 error/s reported", "details": []}, "Succeeded"),
    ("Succeeded", {"code": "0"}, "Succeeded"),
    ("Succeeded", None, "Succeeded"),
    ("Succeeded", {"code": "1", "details": [{"code": "PACKAGE_MANAGER_FAILURE", "message": "x"}]},
     "SucceededWithWarnings"),
    ("CompletedWithWarnings", {"code": "2", "details": [{"code": "PACKAGE_LIST_TRUNCATED"}]},
     "SucceededWithWarnings"),
    ("CompletedWithWarnings", None, "SucceededWithWarnings"),
    ("Failed", {"code": "Failed", "message": "1 error/s reported."}, "Failed"),
    ("InProgress", None, "Failed"),
])
def test_result_error_semantics(status, error, outcome):
    row = installation_row({"status": status, "error": error})
    assert row["outcome"] == outcome
    if outcome != "Succeeded":
        assert row["error"] is not None or status == "CompletedWithWarnings" or status == "InProgress"


def test_installation_row_keeps_real_errors():
    row = installation_row({"status": "Failed", "error": {"code": "InternalExecutionError", "message": "boom"}})
    assert row["error"] == {"code": "InternalExecutionError", "message": "boom"} and row["outcome"] == "Failed"


def test_patch_status_row_reads_instance_view():
    row = patch_status_row({"patchStatus": {
        "availablePatchSummary": {"status": "Succeeded", "criticalAndSecurityPatchCount": 2, "otherPatchCount": 1,
                                  "rebootPending": True, "lastModifiedTime": "2026-06-19T10:00:00.5+02:00"},
        "lastPatchInstallationSummary": {"status": "Failed", "installedPatchCount": 0, "failedPatchCount": 1,
                                         "startTime": "2026-06-18T01:00:00Z"},
        "configurationStatuses": [{"code": "PatchModeConfigurationState/Ready", "level": "Info"}],
    }})
    assert row["lastAssessment"]["time"] == "2026-06-19T08:00:00Z"
    assert row["lastAssessment"]["rebootPending"] is True
    assert row["lastInstallation"]["status"] == "Failed" and row["lastInstallation"]["time"] == "2026-06-18T01:00:00Z"
    assert row["configurationStatuses"][0]["code"] == "PatchModeConfigurationState/Ready"


def test_hot_patch_status_block_is_read_when_present():
    row = patch_status_row({"patchStatus": {
        "hotPatchStatus": {"hotPatchCompatibility": "Incompatible", "hotPatchOptInCompletionStatus": "Unknown",
                           "lastInstalledCumulativeUpdateHotPatchStatus": "Unknown",
                           "lastRefreshedTime": "2020-08-26T09:33:52.3417145-04:00",
                           "error": {"details": [{"code": "UNSUPPORTED_VM_SIZE_FOR_GEN1", "message": "Incompatible"}]}},
        "availablePatchSummary": {"status": "Succeeded"}}})
    status = row["hotPatchStatus"]
    assert (status["compatibility"], status["time"]) == ("Incompatible", "2020-08-26T13:33:52Z")
    assert status["errors"] == [{"code": "UNSUPPORTED_VM_SIZE_FOR_GEN1", "message": "Incompatible"}]
    assert patch_status_row({"patchStatus": {"availablePatchSummary": {}}})["hotPatchStatus"] is None

"""assess, install and status against recorded ARM traffic (recorded on the sandbox, replayed offline)."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import SANDBOX_DATE
from tests.recording import ZERO_GUID

pytestmark = pytest.mark.vcr
AS_OF = SANDBOX_DATE.isoformat()


def rows_of(result):
    assert result.stdout, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


def subscription(arm) -> str:
    return arm.sandbox.subscription_id if arm.sandbox is not None else ZERO_GUID


def test_assess_one_vm(arm, hpctl):
    result = hpctl("assess", "-g", "rg-web", "-n", "web-01")
    assert result.exit_code == 0, result.stderr
    rows = rows_of(result)
    assert list(rows) == ["web-01"]
    row = rows["web-01"]
    assert row["outcome"] == "Succeeded" and row["eligible"] is True and row["flags"] == []
    assessment = row["assessment"]
    assert assessment["status"] == "Succeeded"
    assert isinstance(assessment["criticalAndSecurityPatchCount"], int)
    assert all(p["kbId"] is None or p["kbId"].startswith("KB") for p in assessment["patches"])


def test_assess_group_in_parallel_finds_the_missing_hotpatch(arm, hpctl):
    result = hpctl("assess", "-g", "rg-web", "--max-parallel", "4")
    assert result.exit_code == 0, result.stderr
    rows = rows_of(result)
    assert {"web-01", "web-02", "web-03"} <= set(rows)
    assert all(r["outcome"] == "Succeeded" for r in rows.values())
    # web-02 (WS2022) is one release behind: May 2026's hotpatch KB5087424 installs without a reboot.
    patches = {p["kbId"]: p for p in rows["web-02"]["assessment"]["patches"]}
    assert patches["KB5087424"]["rebootBehavior"] == "NeverReboots"
    assert "Security" in patches["KB5087424"]["classifications"]


def test_assess_flags_vms_that_cannot_hotpatch(arm, hpctl):
    result = hpctl("assess", "-g", "rg-legacy", "-n", "legacy-01", "-n", "legacy-02")
    assert result.exit_code == 0, result.stderr
    rows = rows_of(result)
    assert "image-not-eligible" in rows["legacy-01"]["flags"]
    assert "patch-mode-AutomaticByOS" in rows["legacy-01"]["flags"]
    assert "image-not-eligible" in rows["legacy-02"]["flags"]
    assert all(r["assessment"]["status"] == "Succeeded" for r in rows.values())


def test_install_hotpatch_then_status_shows_the_track(arm, hpctl):
    result = hpctl("install", "-g", "rg-web", "-n", "web-02", "--kb-include", "KB5087424",
                   "--exclude-reboot-required", "--reboot-setting", "Never")
    assert result.exit_code == 0, result.stderr
    installation = rows_of(result)["web-02"]["installation"]
    assert installation["status"] == "Succeeded"
    assert installation["installedPatchCount"] >= 1
    assert {p["kbId"]: p["installationState"] for p in installation["patches"]}["KB5087424"] == "Installed"

    status = hpctl("status", "-g", "rg-web", "-n", "web-02", "--as-of", AS_OF)
    assert status.exit_code == 0, status.stderr
    row = rows_of(status)["web-02"]
    assert row["osVersion"].endswith("20348.5074")
    assert row["track"]["state"] == "hotpatch" and row["track"]["month"] == "2026-05"
    assert row["lastInstallation"]["status"] == "Succeeded"


def test_install_group_with_classifications(arm, hpctl):
    result = hpctl("install", "-g", "rg-web", "--classification", "Critical,Security", "--reboot-setting",
                   "IfRequired", "--max-duration", "PT3H", "--yes")
    assert result.exit_code == 0, result.stderr
    rows = rows_of(result)
    assert {"web-01", "web-02", "web-03"} <= set(rows)
    assert all(r["installation"]["status"] in ("Succeeded", "CompletedWithWarnings") for r in rows.values())


def test_status_table_has_a_row_per_vm_and_the_track(arm, hpctl):
    result = hpctl("status", "-g", "rg-web", "-o", "table", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["Name", "ResourceGroup"] and "Track" in lines[0]
    assert sum(1 for line in lines[2:] if line.startswith("web-")) >= 3


def test_status_shows_each_vms_schedule(arm, hpctl):
    result = hpctl("status", "-g", "rg-api", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    rows = rows_of(result)
    (schedule,) = rows["api-02"]["schedules"]
    assert schedule["name"] == "mc-api-saturday" and schedule["how"] == "static"
    assert schedule["customerManaged"] is True and schedule["recurEvery"] == "1Week Saturday"
    assert rows["api-01"]["schedules"] == []
    table = hpctl("status", "-g", "rg-legacy", "-o", "table", "--as-of", AS_OF)
    assert table.exit_code == 0, table.stderr
    assert "Schedule" in table.stdout.splitlines()[0]
    # The dynamic scope covers rg-legacy's env=dev VMs only.
    lines = {line.split()[0]: line for line in table.stdout.splitlines()[2:]}
    assert "mc-legacy-monthly" in lines["legacy-01"] and "mc-legacy-monthly" in lines["legacy-05"]
    assert "mc-legacy-monthly" not in lines["legacy-02"]


def test_status_without_resource_graph_still_shows_the_vms(arm, hpctl):
    # Schedules come from Resource Graph; when it refuses, status shows the VMs and says what is missing.
    arm.arrange(lambda sb: sb.inject(method="POST", path_regex=r"Microsoft.ResourceGraph/resources$", status=403,
                                     times=2, code="AuthorizationFailed",
                                     message="The client does not have authorization to perform action "
                                             "'Microsoft.ResourceGraph/resources/read'."))
    result = hpctl("status", "-g", "rg-api", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    rows = rows_of(result)
    assert "api-02" in rows and rows["api-02"]["schedules"] is None
    assert "Update Manager schedules could not be read" in result.stderr and "ResourceGraph" in result.stderr


def test_status_by_tag_across_the_subscription(arm, hpctl):
    result = hpctl("status", "--tag", "env=dev", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    rows = rows_of(result)
    assert "legacy-01" in rows
    assert "web-01" not in rows


def test_assess_by_ids(arm, hpctl):
    vm_id = (f"/subscriptions/{subscription(arm)}/resourceGroups/rg-app/providers/Microsoft.Compute/"
             "virtualMachines/app-01")
    result = hpctl("assess", "--ids", vm_id)
    assert result.exit_code == 0, result.stderr
    assert rows_of(result)["app-01"]["assessment"]["status"] == "Succeeded"


def test_assess_no_wait_returns_once_accepted(arm, hpctl):
    result = hpctl("assess", "-g", "rg-web", "-n", "web-01", "--no-wait")
    assert result.exit_code == 0, result.stderr
    row = rows_of(result)["web-01"]
    assert row["outcome"] == "Accepted" and row["assessment"] is None


def test_unknown_vm_exits_3(arm, hpctl):
    result = hpctl("assess", "-g", "rg-web", "-n", "web-99")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.startswith("ERROR: Not found") and "web-99" in result.stderr
    assert "Traceback" not in result.stderr and "Request id" not in result.stderr


def test_unknown_group_exits_3(arm, hpctl):
    result = hpctl("status", "-g", "rg-nope")
    assert result.exit_code == 3
    assert "rg-nope" in result.stderr


def test_vm_without_agent_fails_with_azures_reason(arm, hpctl):
    result = hpctl("assess", "-g", "rg-legacy", "-n", "legacy-04")
    assert result.exit_code == 1
    assert "VMAgentStatusCommunicationError" in result.stderr and "HTTP 200" not in result.stderr


def test_operation_that_ends_failed_exits_1(arm, hpctl):
    arm.arrange(lambda sb: sb.fail_next_operation(path_regex=r"web-01/installPatches$",
                                                  code="VMGuestPatchInternalError",
                                                  message="An internal execution error occurred. Please retry later."))
    result = hpctl("install", "-g", "rg-web", "-n", "web-01", "--classification", "Security",
                   "--reboot-setting", "IfRequired")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "VMGuestPatchInternalError" in result.stderr
    assert "Windows Update" in result.stderr  # the fix hpctl knows for this error


def test_one_failure_never_hides_the_others(arm, hpctl):
    arm.arrange(lambda sb: sb.fail_next_operation(path_regex=r"web-02/assessPatches$", code="InternalExecutionError",
                                                  message="Assessment failed on the VM."))
    result = hpctl("assess", "-g", "rg-web")
    assert result.exit_code == 1
    rows = rows_of(result)
    assert rows["web-02"]["outcome"] == "Failed"
    assert "InternalExecutionError" in rows["web-02"]["error"]["message"]
    assert all(r["outcome"] == "Succeeded" for name, r in rows.items() if name != "web-02")
    assert "1 of" in result.stderr and "web-02" in result.stderr


def test_operation_already_in_progress_409(arm, hpctl):
    arm.arrange(lambda sb: sb.inject(method="POST", path_regex=r"web-01/assessPatches$", status=409, times=1))
    result = hpctl("assess", "-g", "rg-web", "-n", "web-01")
    assert result.exit_code == 1
    assert "409" in result.stderr or "Conflict" in result.stderr or "OperationNotAllowed" in result.stderr
    assert "in progress" in result.stderr


def exchanged(arm, vcr, method: str, path_regex: str) -> list[int]:
    """Statuses of the exchanges that happened for method + path, in order: the sandbox's request log while
    recording, the responses the cassette actually played back otherwise."""
    if arm.sandbox is not None:
        return [r["status"] for r in arm.sandbox.requests()
                if r["method"] == method and re.search(path_regex, r["path"], re.IGNORECASE)]
    pairs = enumerate(zip(vcr.requests, vcr.responses, strict=True))
    return [response["status"]["code"] for index, (request, response) in pairs
            if vcr.play_counts[index] and request.method == method
            and re.search(path_regex, request.path, re.IGNORECASE)]


def test_throttled_429_then_success(arm, hpctl, vcr):
    arm.arrange(lambda sb: sb.inject(method="POST", path_regex=r"web-01/assessPatches$", status=429, times=1,
                                     retry_after=0))
    result = hpctl("assess", "-g", "rg-web", "-n", "web-01")
    assert result.exit_code == 0, result.stderr
    assert rows_of(result)["web-01"]["assessment"]["status"] == "Succeeded"
    # The 429 was received and the POST sent again (not accepted the first time, so no double assessment).
    assert exchanged(arm, vcr, "POST", r"web-01/assessPatches$") == [429, 202]


def test_server_error_500_then_success(arm, hpctl, vcr):
    arm.arrange(lambda sb: sb.inject(method="GET", path_regex=r"virtualMachines/web-01$", status=500, times=1))
    result = hpctl("status", "-g", "rg-web", "-n", "web-01", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    assert rows_of(result)["web-01"]["hotpatch"] is True
    assert exchanged(arm, vcr, "GET", r"virtualMachines/web-01$") == [500, 200]


def test_image_offered_in_region_with_latest_version(arm, hpctl):
    result = hpctl("images", "check", "2025-datacenter-azure-edition-core", "--location", "eastus")
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["offered"] is True and row["latestVersion"].startswith("26100.")


def test_image_not_offered_in_region_exits_2(arm, hpctl):
    result = hpctl("images", "check", "2025-datacenter-azure-edition-core", "--location", "northcentralus")
    assert result.exit_code == 2
    assert "not offered in northcentralus" in result.stderr


def test_debug_adds_the_request_id_and_traceback(arm, hpctl):
    result = hpctl("assess", "-g", "rg-web", "-n", "web-98", "--debug")
    assert result.exit_code == 3
    assert "Request id: " in result.stderr
    assert "Traceback (most recent call last)" in result.stderr


# --- Azure's fields as Azure writes them (azure-wire.md §9.2-§9.5), on the sandbox's rg-agents VMs ------------


def test_status_reads_each_os_version_form(arm, hpctl):
    result = hpctl("status", "-g", "rg-agents", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # 2026-05-20 is inside the calendar's data: no staleness warning
    rows = rows_of(result)
    # Today's agents: the revision places the VM.
    assert rows["gen1-01"]["osVersion"] == "10.0.20348.5074"
    assert (rows["gen1-01"]["track"]["state"], rows["gen1-01"]["track"]["month"]) == ("hotpatch", "2026-05")
    # Old agents ("Microsoft Windows NT 10.0.20348.0"): never revision 0, never "missing the baseline".
    old = rows["oldagent-01"]
    assert old["osVersion"] == "Microsoft Windows NT 10.0.20348.0"
    assert (old["track"]["state"], old["track"]["month"]) == ("hotpatch", "2026-05")
    assert old["track"]["detail"].startswith("from installed KB5087424 (Resource Graph installation records")
    offered = rows["oldagent-02"]["track"]
    assert (offered["state"], offered["missing"]) == ("behind", ["2026-05"])
    assert "lists the 2026-05 hotpatch KB5087423 as available" in offered["detail"].replace(" (26100.32772)", "")
    nothing = rows["oldagent-03"]["track"]
    assert (nothing["state"], nothing["missing"], nothing["nextReboot"]) == ("unknown", [], None)
    assert nothing["detail"].startswith("unknown — the VM agent doesn't report the update revision")
    for name in ("oldagent-01", "oldagent-02", "oldagent-03"):
        assert "baseline" not in " ".join(rows[name]["track"]["missing"])
    # Deallocated: osVersion null.
    stopped = rows["stopped-02"]
    assert (stopped["osVersion"], stopped["powerState"], stopped["track"]["state"]) == (None, "deallocated", "unknown")
    assert "the VM is deallocated" in stopped["track"]["detail"]
    assert rows["stopped-01"]["track"]["state"] == "hotpatch"  # from its installed KB
    # hotPatchStatus is shown, and flagged when Azure says the VM can't hotpatch.
    block = rows["gen1-01"]["hotPatchStatus"]
    assert block["compatibility"] == "Incompatible" and block["errors"][0]["code"] == "UNSUPPORTED_VM_SIZE_FOR_GEN1"
    assert "hotpatch-incompatible" in rows["gen1-01"]["flags"] and rows["gen1-01"]["hotpatch"] is True
    assert rows["oldagent-01"]["hotPatchStatus"] is None and "hotpatch-incompatible" not in rows["oldagent-01"]["flags"]


def test_status_table_shows_the_forms(arm, hpctl):
    result = hpctl("status", "-g", "rg-agents", "--as-of", AS_OF, "-o", "table")
    assert result.exit_code == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[2:]}
    assert "Microsoft Windows NT 10.0.20348.0" in lines["oldagent-01"] and "hotpatch 2026-05" in lines["oldagent-01"]
    assert "unknown" in lines["stopped-02"] and "hotpatch-incompatible" in lines["gen1-01"]


def test_an_assessment_with_error_code_2_succeeded_with_warnings(arm, hpctl):
    result = hpctl("assess", "-g", "rg-agents", "-n", "warn-01")
    assert result.exit_code == 0, result.stderr
    row = rows_of(result)["warn-01"]
    assert row["outcome"] == "SucceededWithWarnings"
    assert result.stderr == ("WARNING: assessment completed with warnings on 1 of 1 VMs: "
                             "warn-01 (code 2: PACKAGE_LIST_TRUNCATED)\n")
    assert row["assessment"]["status"] == "Succeeded" and row["assessment"]["error"]["code"] == "2"
    assert row["assessment"]["error"]["details"][0]["code"] == "PACKAGE_LIST_TRUNCATED"


def test_two_patches_with_one_kb_are_both_kept(arm, hpctl):
    result = hpctl("assess", "-g", "rg-agents", "-n", "dupkb-01")
    assert result.exit_code == 0, result.stderr
    assessment = rows_of(result)["dupkb-01"]["assessment"]
    patches = assessment["patches"]
    assert len(patches) == assessment["criticalAndSecurityPatchCount"] + assessment["otherPatchCount"]
    kbs = [p["kbId"] for p in patches]
    (twice,) = {kb for kb in kbs if kbs.count(kb) == 2}
    pair = [p for p in patches if p["kbId"] == twice]
    assert pair[0]["patchId"] != pair[1]["patchId"] and pair[0]["publishedDate"] != pair[1]["publishedDate"]

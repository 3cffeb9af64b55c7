"""status, history and report on Arc machines (Azure Local VMs too) and on mixed fleets of VMs and Arc machines,
against recorded ARM traffic (recorded on the sandbox, replayed offline)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SANDBOX_DATE
from tests.recording import ZERO_GUID

pytestmark = pytest.mark.vcr
AS_OF = SANDBOX_DATE.isoformat()


def rows_of(result) -> dict:
    assert result.stdout, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


def subscription(arm) -> str:
    return arm.sandbox.subscription_id if arm.sandbox is not None else ZERO_GUID


def arc_id(arm, group: str, name: str) -> str:
    base = f"/subscriptions/{subscription(arm)}/resourceGroups/{group}"
    return f"{base}/providers/Microsoft.HybridCompute/machines/{name}"


def vm_id(arm, group: str, name: str) -> str:
    base = f"/subscriptions/{subscription(arm)}/resourceGroups/{group}"
    return f"{base}/providers/Microsoft.Compute/virtualMachines/{name}"


def test_status_of_arc_machines_reads_like_vms(arm, hpctl):
    result = hpctl("status", "--kind", "arc", "-g", "rg-arc-onprem", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    rows = rows_of(result)
    assert set(rows) == {"arc-dc-01", "arc-dc-04", "arc-std-01", "arc-vbs-01", "arc-ws22-01"}
    enrolled = rows["arc-dc-01"]
    assert enrolled["kind"] == "arc" and enrolled["hotpatch"] is True and enrolled["enrollment"] == "enabled"
    assert enrolled["image"] == "Windows Server 2025 Datacenter" and enrolled["agentStatus"] == "Connected"
    assert enrolled["track"]["state"] == "hotpatch" and enrolled["track"]["month"] == "2026-05"
    # The last runs come from Resource Graph (Arc's API has no patchStatus), in the VM columns' shape.
    assessed = enrolled["lastAssessment"]
    assert assessed["status"] == "Succeeded" and assessed["time"].startswith("2026-05-19")
    assert set(assessed) >= {"criticalAndSecurityPatchCount", "otherPatchCount", "rebootPending", "error"}
    assert rows["arc-dc-04"]["track"]["state"] == "behind"
    assert rows["arc-dc-04"]["lastAssessment"]["criticalAndSecurityPatchCount"] == 1
    assert rows["arc-std-01"]["enrollment"] == "not-enrolled" and "hotpatch-not-enrolled" in rows["arc-std-01"]["flags"]
    assert rows["arc-vbs-01"]["flags"] == ["enrollment-action-required", "vbs-not-running"]
    assert rows["arc-ws22-01"]["eligible"] is False and rows["arc-ws22-01"]["track"] is None


def test_status_of_a_mixed_fleet_by_ids_in_one_table(arm, hpctl):
    result = hpctl("status", "--ids", vm_id(arm, "rg-web", "web-01"), "--ids", arc_id(arm, "rg-arc-branch",
                   "arc-dc-02"), "-o", "table", "--as-of", AS_OF,
                   "--columns", "Name,ResourceGroup,Kind,Flags")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Name", "ResourceGroup", "Kind", "Flags"]
    by_name = {line.split()[0]: line.split() for line in lines[2:]}
    assert by_name["web-01"][2] == "vm" and by_name["arc-dc-02"][2] == "arc"
    assert "agent-disconnected" in lines[[line.split()[0] for line in lines].index("arc-dc-02")]


def test_a_name_under_kind_all_finds_the_azure_local_vm(arm, hpctl):
    result = hpctl("status", "-g", "rg-hci-vms", "-n", "hci-vm-01", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    row = rows_of(result)["hci-vm-01"]
    assert row["kind"] == "arc" and row["azureLocal"] is True and "azure-local" in row["flags"]
    # Datacenter: Azure Edition hotpatches without enrollment.
    assert row["enrollment"] == "built-in" and row["hotpatch"] is True


def test_unknown_name_under_kind_all_is_not_found(arm, hpctl):
    result = hpctl("status", "-g", "rg-arc-onprem", "-n", "nope-01")
    assert result.exit_code == 3 and result.stdout == ""
    assert "no VM or Arc machine named 'nope-01'" in result.stderr


def test_kind_vm_leaves_arc_machines_out(arm, hpctl):
    result = hpctl("status", "--kind", "vm", "-g", "rg-arc-onprem")
    assert result.exit_code == 3 and "No VM or Arc machine matched" in result.stderr


def test_history_of_arc_machines(arm, hpctl):
    result = hpctl("history", "--kind", "arc", "-g", "rg-arc-onprem", "--patches")
    assert result.exit_code == 0, result.stderr
    timelines = {t["vm"]: t for t in json.loads(result.stdout)}
    assert set(timelines) >= {"arc-dc-01", "arc-std-01"} and all(t["kind"] == "arc" for t in timelines.values())
    events = timelines["arc-dc-01"]["events"]
    assessment = next(e for e in events if e["kind"] == "assessment")
    installation = next(e for e in events if e["kind"] == "installation")
    # Arc records: counts by classification summed into the VM columns; startedBy as Azure wrote it.
    assert assessment["otherPatchCount"] == 1 and assessment["startedBy"] == "Platform"
    assert installation["status"] == "Succeeded" and installation["installedPatchCount"] == 1
    assert all(p["kbId"] for p in assessment["patches"])


def test_report_on_arc_machines_proves_each_arc_rule(arm, hpctl):
    result = hpctl("report", "--kind", "arc", "--format", "json", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    rules = {}
    for finding in doc["findings"]:
        rules.setdefault(finding["ruleId"], set()).add(finding["resourceName"])
    assert rules["HP020"] == {"arc-std-01", "hci-vm-02"}
    assert rules["HP021"] == {"arc-std-02", "arc-dc-03", "arc-std-03"}
    assert rules["HP022"] == {"arc-vbs-01"}
    assert rules["HP023"] == {"arc-dc-02"}
    assert rules["HP011"] == {"arc-dc-04"}
    assert doc["summary"]["arcMachinesChecked"] == 12 and doc["summary"]["vmsChecked"] == 0
    compliant = {r["name"] for r in doc["resources"] if r["compliant"]}
    assert compliant == {"arc-dc-01", "hci-vm-01"}


def test_report_of_the_whole_mixed_fleet(arm, hpctl):
    result = hpctl("report", "--format", "json", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    kinds = {r["kind"] for r in doc["resources"]}
    assert kinds == {"vm", "vmss", "arc"}
    assert doc["summary"]["arcMachinesChecked"] == 12
    assert doc["summary"]["vmsChecked"] == sum(1 for r in doc["resources"] if r["kind"] == "vm")
    # The Arc machines cost one query; their patch results come in the same query as the VMs'.
    patch_result_queries = doc["queries"]["queries"]
    arc_only = json.loads(hpctl("report", "--kind", "arc", "--format", "json", "--as-of", AS_OF).stdout)
    assert arc_only["queries"]["queries"] == 2 and patch_result_queries >= 4
    arc = next(r for r in doc["resources"] if r["name"] == "arc-dc-02")
    assert arc["agentStatus"] == "Disconnected" and arc["enrollment"] == "enabled"
    web = next(r for r in doc["resources"] if r["name"] == "web-01")
    assert web["agentStatus"] is None and web["enrollment"] is None


def test_report_markdown_counts_arc_machines(arm, hpctl):
    result = hpctl("report", "-g", "rg-hci-vms", "--format", "markdown", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    assert "| Arc machines checked | 2 |" in result.stdout
    assert "HP020 arc-not-enrolled" in result.stdout and "hpctl arc enable-hotpatch -g rg-hci-vms -n hci-vm-02" in \
        result.stdout


UNREGISTERED = ("The subscription is not registered to use namespace 'Microsoft.HybridCompute'. See "
                "https://aka.ms/rps-not-found for how to register subscriptions.")


def _unregistered(sandbox) -> None:
    sandbox.inject("GET", r"(?i)providers/Microsoft\.HybridCompute/machines$", 409, times=2,
                   code="MissingSubscriptionRegistration", message=UNREGISTERED)


def test_without_the_arc_provider_registered_kind_all_reads_the_vms(arm, hpctl):
    arm.arrange(_unregistered)
    result = hpctl("status", "-g", "rg-web", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    assert rows_of(result) and all(r["kind"] == "vm" for r in rows_of(result).values())


def test_without_the_arc_provider_registered_kind_arc_says_how_to_register(arm, hpctl):
    arm.arrange(_unregistered)
    result = hpctl("status", "--kind", "arc", "-g", "rg-web")
    assert result.exit_code == 1 and result.stdout == ""
    assert "MissingSubscriptionRegistration" in result.stderr
    assert "az provider register --namespace NAMESPACE" in result.stderr

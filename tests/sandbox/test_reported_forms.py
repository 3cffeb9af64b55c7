"""The sandbox writes what it knows about a VM as Azure does: the three osVersion forms, deallocated VMs, a
hotPatchStatus block, one KB listed twice, an error under Succeeded (azure-wire.md §9.2-§9.5)."""

from __future__ import annotations

from .conftest import Arm

AGENTS = "rg-agents"


def test_old_agents_write_the_nt_prefix_and_revision_0(fleet_arm: Arm) -> None:
    view = fleet_arm.instance_view(AGENTS, "oldagent-01")
    assert view["osVersion"] == "Microsoft Windows NT 10.0.20348.0"
    assert view["osName"] == "Windows Server 2022 Datacenter Azure Edition"
    assert fleet_arm.instance_view("rg-web", "web-01")["osVersion"] == "10.0.26100.32772"  # today's agents


def test_a_deallocated_vm_reports_no_os_and_cannot_be_patched(fleet_arm: Arm) -> None:
    view = fleet_arm.instance_view(AGENTS, "stopped-01")
    assert "osVersion" not in view and "osName" not in view
    assert view["vmAgent"]["statuses"][0]["displayStatus"] == "Not Ready"
    assert [s["code"] for s in view["statuses"]][-1] == "PowerState/deallocated"
    assert view["patchStatus"]["lastPatchInstallationSummary"]["status"] == "Succeeded"  # from before it stopped
    done = fleet_arm.assess(AGENTS, "stopped-02")
    assert done["status"] == "Failed" and done["error"]["code"] == "VMAgentStatusCommunicationError"


def test_hot_patch_status_comes_first_in_patch_status(fleet_arm: Arm) -> None:
    status = fleet_arm.instance_view(AGENTS, "gen1-01")["patchStatus"]
    assert list(status)[0] == "hotPatchStatus"
    block = status["hotPatchStatus"]
    assert block["hotPatchCompatibility"] == "Incompatible"
    assert block["error"]["details"][0]["code"] == "UNSUPPORTED_VM_SIZE_FOR_GEN1"
    assert "code" not in block["error"]  # the real block had only details
    assert "hotPatchStatus" not in (fleet_arm.instance_view("rg-web", "web-01").get("patchStatus") or {})


def test_an_assessment_can_list_one_kb_twice_and_count_both(fleet_arm: Arm) -> None:
    result = fleet_arm.assess(AGENTS, "dupkb-01")
    patches = result["availablePatches"]
    kbs = [p["kbId"] for p in patches]
    twice = {kb for kb in kbs if kbs.count(kb) == 2}
    assert len(twice) == 1
    pair = [p for p in patches if p["kbId"] in twice]
    assert pair[0]["patchId"] != pair[1]["patchId"] and pair[0]["name"] != pair[1]["name"]
    assert result["criticalAndSecurityPatchCount"] + result["otherPatchCount"] == len(patches)


def test_a_successful_assessment_can_carry_error_code_2(fleet_arm: Arm) -> None:
    result = fleet_arm.assess(AGENTS, "warn-01")
    assert result["status"] == "Succeeded"
    assert result["error"]["code"] == "2" and result["error"]["details"][0]["code"] == "PACKAGE_LIST_TRUNCATED"
    clean = fleet_arm.assess("rg-web", "web-04")
    assert clean["status"] == "Succeeded" and "error" not in clean  # Windows assess: no error key

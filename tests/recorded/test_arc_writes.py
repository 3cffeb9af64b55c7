"""assess, install (plain and --rollout) and arc enable-/disable-hotpatch on Arc machines and mixed fleets,
through the fleet engine, against recorded ARM traffic (recorded on the sandbox, replayed offline)."""

from __future__ import annotations

import json

import pytest

from tests.recording import ZERO_GUID

pytestmark = [pytest.mark.vcr, pytest.mark.usefixtures("serial_playback")]
WRITES = ("PUT", "PATCH", "POST", "DELETE")


def rows_of(result) -> dict:
    assert result.stdout, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


def subscription(arm) -> str:
    return arm.sandbox.subscription_id if arm.sandbox is not None else ZERO_GUID


def machine_id(arm, group: str, name: str, provider: str = "Microsoft.HybridCompute/machines") -> str:
    return f"/subscriptions/{subscription(arm)}/resourceGroups/{group}/providers/{provider}/{name}"


def sent(vcr, method: str) -> list[str]:
    """Paths of the recorded requests with this method (the cassette is what was sent)."""
    return [r.path for r in vcr.requests if r.method == method]


def test_assess_arc_machines_reads_the_patches_from_resource_graph(arm, hpctl):
    result = hpctl("assess", "--kind", "arc", "-g", "rg-arc-onprem")
    assert result.exit_code == 0, result.stderr
    rows = rows_of(result)
    assert set(rows) == {"arc-dc-01", "arc-dc-04", "arc-std-01", "arc-vbs-01", "arc-ws22-01"}
    behind = rows["arc-dc-04"]["assessment"]
    # Arc's result has counts by classification only; the columns mean what they mean for VMs.
    assert behind["status"] == "Succeeded" and behind["criticalAndSecurityPatchCount"] == 1
    patches = {p["kbId"]: p for p in behind["patches"]}
    assert patches["KB5087423"]["rebootBehavior"] == "NeverReboots"  # the May 2026 hotpatch, from ARG
    assert rows["arc-ws22-01"]["flags"] == ["os-not-eligible"]


def test_assess_a_mixed_fleet_by_ids(arm, hpctl):
    result = hpctl("assess", "--ids", machine_id(arm, "rg-web", "web-01", "Microsoft.Compute/virtualMachines"),
                   "--ids", machine_id(arm, "rg-arc-branch", "arc-std-02"), "-o", "table",
                   "--columns", "Name,ResourceGroup,Kind,Status")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Name", "ResourceGroup", "Kind", "Status"]
    kinds = {line.split()[0]: (line.split()[2], line.split()[3]) for line in lines[2:]}
    assert kinds == {"web-01": ("vm", "Succeeded"), "arc-std-02": ("arc", "Succeeded")}


def test_assess_of_a_disconnected_machine_fails_with_its_reason(arm, hpctl):
    result = hpctl("assess", "-g", "rg-arc-branch", "-n", "arc-dc-02")
    assert result.exit_code == 1
    row = rows_of(result)["arc-dc-02"]
    assert row["outcome"] == "Failed" and row["assessment"]["status"] == "Failed"
    assert row["assessment"]["error"]["code"] == "MachineDisconnected"
    assert "arc-dc-02" in result.stderr


def test_install_the_hotpatch_on_an_arc_machine_then_status_shows_the_track(arm, hpctl):
    result = hpctl("install", "-g", "rg-arc-onprem", "-n", "arc-dc-04", "--kb-include", "KB5087423",
                   "--exclude-reboot-required", "--reboot-setting", "Never")
    assert result.exit_code == 0, result.stderr
    installation = rows_of(result)["arc-dc-04"]["installation"]
    assert installation["status"] == "Succeeded" and installation["installedPatchCount"] == 1
    assert installation["rebootStatus"] == "NotNeeded" and installation["error"] is None
    # Arc's result has counts only: the patches come from Update Manager's records in Resource Graph.
    states = {p["kbId"]: p["installationState"] for p in installation["patches"]}
    assert states["KB5087423"] == "Installed" and states["KB2267602"] == "Excluded"
    status = hpctl("status", "--kind", "arc", "-g", "rg-arc-onprem", "-n", "arc-dc-04", "--as-of", "2026-05-20")
    row = rows_of(status)["arc-dc-04"]
    assert row["osVersion"].endswith("26100.32772") and row["track"]["state"] == "hotpatch"


def test_install_rollout_on_a_mixed_fleet(arm, hpctl):
    result = hpctl("install", "--ids", machine_id(arm, "rg-web", "web-03", "Microsoft.Compute/virtualMachines"),
                   "--ids", machine_id(arm, "rg-arc-onprem", "arc-dc-01"), "--ids",
                   machine_id(arm, "rg-hci-vms", "hci-vm-01"), "--classification", "Critical,Security",
                   "--reboot-setting", "IfRequired", "--rollout", "availability", "--batch-size", "2", "--yes")
    assert result.exit_code == 0, result.stderr
    rows = rows_of(result)
    assert {r["kind"] for r in rows.values()} == {"vm", "arc"}
    assert all(r["outcome"] == "Succeeded" and r["health"] == "healthy" for r in rows.values())
    assert rows["arc-dc-01"]["installation"]["patches"], "the Arc run's patches, read from Resource Graph"
    # The zonal VM goes in its zone's wave; the Arc machines (no zones, no update domains) in a batch.
    assert rows["arc-dc-01"]["wave"] == rows["hci-vm-01"]["wave"] != rows["web-03"]["wave"]


def test_enable_hotpatch_enrolls_once_and_then_leaves_it_alone(arm, hpctl, vcr):
    result = hpctl("arc", "enable-hotpatch", "-g", "rg-arc-onprem", "-n", "arc-std-01", "--yes")
    assert result.exit_code == 0, result.stderr
    row = rows_of(result)["arc-std-01"]
    assert row["outcome"] == "Succeeded" and row["enrollment"]["status"] == "Enabled"
    assert row["enrollment"]["billingStartDate"] is None  # free since 2026-05-19
    assert "Billing: since 2026-05-19" in result.stderr
    again = hpctl("arc", "enable-hotpatch", "-g", "rg-arc-onprem", "-n", "arc-std-01", "--yes")
    assert again.exit_code == 0, again.stderr
    assert rows_of(again)["arc-std-01"]["outcome"] == "AlreadyEnrolled"
    assert "already enrolled" in again.stderr
    puts = sent(vcr, "PUT")
    assert len(puts) == 1 and puts[0].endswith("/machines/arc-std-01/licenseProfiles/default")
    status = hpctl("status", "--kind", "arc", "-g", "rg-arc-onprem", "-n", "arc-std-01")
    assert rows_of(status)["arc-std-01"]["enrollment"] == "enabled"


def test_enable_hotpatch_without_vbs_fails_with_azures_reason(arm, hpctl):
    result = hpctl("arc", "enable-hotpatch", "-g", "rg-arc-onprem", "-n", "arc-vbs-01", "--yes")
    assert result.exit_code == 1
    row = rows_of(result)["arc-vbs-01"]
    assert row["outcome"] == "Failed" and "virtualization-based security" in row["error"]["message"]
    assert "enrollment failed on 1 of 1" in result.stderr


def test_enable_hotpatch_on_a_group_skips_what_it_must_and_says_why(arm, hpctl, vcr):
    result = hpctl("arc", "enable-hotpatch", "-g", "rg-hci-vms", "--yes", "-o", "table")
    assert result.exit_code == 0, result.stderr
    table = result.stdout  # the Reason column wraps inside its cell: a row's text may span lines
    first, second = table.index("hci-vm-01"), table.index("hci-vm-02")
    assert "NotNeeded" in table[first:second] and "built in" in " ".join(table[first:second].split())
    assert "Succeeded" in table[second:] and "Enabled" in table[second:]
    assert [p.rsplit("/", 3)[1] for p in sent(vcr, "PUT")] == ["hci-vm-02"]


def test_disable_hotpatch_patches_with_disable(arm, hpctl, vcr):
    result = hpctl("arc", "disable-hotpatch", "-g", "rg-arc-onprem", "-n", "arc-dc-01")
    assert result.exit_code == 0, result.stderr
    row = rows_of(result)["arc-dc-01"]
    assert row["outcome"] == "Succeeded" and row["enrollment"]["status"] == "Disabled"
    assert row["enrollment"]["disenrollmentDate"]
    (patched,) = [r for r in vcr.requests if r.method == "PATCH"]
    body = json.loads(patched.body)
    assert body["properties"]["productProfile"]["productFeatures"] == [{"name": "Hotpatch",
                                                                         "subscriptionStatus": "Disable"}]


def test_dry_run_prints_the_requests_and_sends_nothing(arm, hpctl, vcr):
    result = hpctl("arc", "enable-hotpatch", "-g", "rg-arc-branch", "--dry-run")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["dryRun"] is True
    requests = {r["name"]: r for r in doc["requests"]}
    # Failed and action-required enrollments are tried again; pending, disconnected and old builds are not.
    assert set(requests) == {"arc-std-02", "arc-std-03"}
    request = requests["arc-std-02"]
    assert request["method"] == "PUT" and request["url"].endswith(
        "/machines/arc-std-02/licenseProfiles/default?api-version=2024-07-10")
    assert request["body"]["location"] == "westus2"
    reasons = {r["name"]: r["reason"] for r in doc["notSent"]}
    assert "under way" in reasons["arc-dc-03"] and "Disconnected" in reasons["arc-dc-02"]
    assert "below 26100.1742" in reasons["arc-old-01"]
    assert not [r for r in vcr.requests if r.method in WRITES]


def test_an_install_whose_fate_is_unknown_is_reconciled_from_resource_graph_and_sent_once(arm, hpctl, vcr):
    # A 500 on the send: the install may or may not have started, and an install is never sent twice blindly.
    # hpctl reads the machine's latest installation back from Resource Graph: still the one from before, so
    # nothing started, and it sends the install again (once).
    arm.arrange(lambda sandbox: sandbox.inject("POST", r"(?i)/machines/arc-dc-04/installPatches$", 500))
    result = hpctl("install", "--kind", "arc", "-g", "rg-arc-onprem", "-n", "arc-dc-04", "--classification",
                   "Critical,Security", "--reboot-setting", "Never")
    assert result.exit_code == 0, result.stderr
    assert rows_of(result)["arc-dc-04"]["installation"]["status"] == "Succeeded"
    posts = [p for p in sent(vcr, "POST") if p.endswith("/installPatches")]
    graph = [p for p in sent(vcr, "POST") if p.endswith("/Microsoft.ResourceGraph/resources")]
    assert len(posts) == 2  # the one answered 500, and the one sent after the reconciliation
    assert len(graph) >= 2  # the installations known before sending, and the reconciliation's read

"""The sandbox's Microsoft.HybridCompute: Arc machines, license-profile enrollment as an LRO, Arc assess/install
result shapes, Azure Local VMs, the Resource Graph tables; on the wire and through azure-mgmt-hybridcompute."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.mgmt.hybridcompute import HybridComputeManagementClient

from hpctl.sandbox import Sandbox, SandboxConfig
from hpctl.sandbox.backend import Backend

from .conftest import FAST, TODAY, Arm, make_sandbox

HC_API = "2024-07-10"


class FakeCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("t", int(time.time()) + 86400)


@pytest.fixture
def arc_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    sandbox = make_sandbox(tmp_path, fleet=24)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def client(arc_sandbox: Sandbox) -> HybridComputeManagementClient:
    return HybridComputeManagementClient(FakeCredential(), arc_sandbox.subscription_id, base_url=arc_sandbox.url,
                                         connection_verify=arc_sandbox.ca_file, polling_interval=0.02)


def machine_path(arm: Arm, group: str, name: str) -> str:
    return f"/subscriptions/{arm.sub}/resourceGroups/{group}/providers/Microsoft.HybridCompute/machines/{name}"


def enroll_body(status: str = "Enabled", location: str = "eastus") -> dict[str, Any]:
    return {"location": location, "properties": {"productProfile": {
        "subscriptionStatus": status, "productType": "WindowsServer",
        "productFeatures": [{"name": "Hotpatch", "subscriptionStatus": status}]}}}


def as_io(body: dict[str, Any]) -> io.BytesIO:
    return io.BytesIO(json.dumps(body).encode())


def test_arc_machines_are_added_without_changing_the_vms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = {"fleet": 24, "seed": 7, "date": TODAY, "time_scale": FAST, "state_dir": tmp_path}
    with_arc = Backend(SandboxConfig(**config))
    monkeypatch.setattr("hpctl.sandbox.arcfleet.plan_arc", lambda count, seed: [])
    without = Backend(SandboxConfig(**config))
    assert with_arc.hybrid.list() and not without.hybrid.list()
    body = [with_arc.compute.vm_body(vm, True) for vm in with_arc.compute.list()]
    # Time stamps in instance views move with the wall clock; everything else must be identical.
    strip = json.dumps(body).split('"time"')[0]
    assert strip == json.dumps([without.compute.vm_body(vm, True) for vm in without.compute.list()]).split('"time"')[0]
    assert [vm.last_assessment["assessmentActivityId"] for vm in with_arc.compute.list() if vm.last_assessment] == \
        [vm.last_assessment["assessmentActivityId"] for vm in without.compute.list() if vm.last_assessment]
    # The shared GUID stream (operation ids of later requests) is where it was.
    assert with_arc.guids.next() == without.guids.next()


def test_machine_get_has_the_agent_report_and_license_only_with_instance_view(arc_sandbox: Sandbox) -> None:
    arm = Arm(arc_sandbox)
    plain = arm.get(machine_path(arm, "rg-arc-onprem", "arc-dc-01"), api_version=HC_API)
    assert plain.status_code == 200, plain.text
    props = plain.json()["properties"]
    assert plain.json()["type"] == "Microsoft.HybridCompute/machines"
    assert props["status"] == "Connected" and props["osType"] == "windows"
    assert props["osSku"] == "Windows Server 2025 Datacenter" and props["osEdition"] == "serverdatacenter"
    assert props["osVersion"].startswith("10.0.26100.")
    assert props["osProfile"]["windowsConfiguration"]["patchSettings"]["status"]["hotpatchEnablementStatus"] == \
        "Enabled"
    assert "licenseProfile" not in props
    expanded = arm.get(machine_path(arm, "rg-arc-onprem", "arc-dc-01"), api_version=HC_API,
                       params={"$expand": "instanceView"}).json()["properties"]
    product = expanded["licenseProfile"]["productProfile"]
    assert product["subscriptionStatus"] == "Enabled"
    assert product["productFeatures"][0]["name"] == "Hotpatch"
    bad = arm.get(machine_path(arm, "rg-arc-onprem", "arc-dc-01"), api_version=HC_API, params={"$expand": "x"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidParameter"
    missing = arm.get(machine_path(arm, "rg-arc-onprem", "nope"), api_version=HC_API)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ResourceNotFound"


def test_azure_local_vms_are_arc_machines_with_a_parent_cluster(arc_sandbox: Sandbox) -> None:
    arm = Arm(arc_sandbox)
    listed = arm.get(f"/subscriptions/{arm.sub}/resourceGroups/rg-hci-vms/providers/Microsoft.HybridCompute/machines",
                     api_version=HC_API).json()["value"]
    by_name = {m["name"]: m for m in listed}
    assert set(by_name) == {"hci-vm-01", "hci-vm-02"}
    assert all(m["kind"] == "HCI" for m in listed)
    assert all("/Microsoft.AzureStackHCI/clusters/" in m["properties"]["parentClusterResourceId"] for m in listed)
    assert by_name["hci-vm-01"]["properties"]["osSku"] == "Windows Server 2025 Datacenter: Azure Edition"
    assert by_name["hci-vm-01"]["properties"]["osEdition"] == "serverazureeditioncore"


def test_seeded_machines_cover_each_state(arc_sandbox: Sandbox) -> None:
    machines = {m.name: m for m in arc_sandbox.backend.hybrid.list()}
    assert machines["arc-dc-02"].status == "Disconnected"
    assert machines["arc-vbs-01"].vbs is False and machines["arc-vbs-01"].hotpatch_status == "ActionRequired"
    assert machines["arc-std-02"].license.feature == "Failed"
    assert machines["arc-dc-03"].license.feature == "Enabling"
    assert machines["arc-std-03"].hotpatch_status == "ActionRequired" and machines["arc-std-03"].vbs
    assert machines["arc-std-01"].license is None and machines["arc-std-01"].arc_capable
    assert not machines["arc-old-01"].arc_capable and not machines["arc-ws22-01"].arc_capable


def test_enrollment_is_a_long_running_put_enabling_then_enabled(arc_sandbox: Sandbox,
                                                                 client: HybridComputeManagementClient) -> None:
    arm = Arm(arc_sandbox)
    url = machine_path(arm, "rg-arc-onprem", "arc-std-01") + "/licenseProfiles/default"
    started = arm.put(url, enroll_body(), api_version=HC_API)
    assert started.status_code == 201, started.text
    assert started.json()["properties"]["productProfile"]["subscriptionStatus"] == "Enabling"
    assert {"Location", "Azure-AsyncOperation", "Retry-After"} <= set(started.headers)
    assert "/Microsoft.HybridCompute/locations/eastus/operationStatus/" in started.headers["Azure-AsyncOperation"]
    deadline = time.monotonic() + 20
    while True:
        status = arm.get(started.headers["Azure-AsyncOperation"], api_version=None).json()["status"]
        if status != "InProgress":
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert status == "Succeeded"
    final = arm.get(url, api_version=HC_API).json()["properties"]["productProfile"]
    assert final["subscriptionStatus"] == "Enabled" and final["productFeatures"][0]["subscriptionStatus"] == "Enabled"
    # After 2026-05-19 enrollment is free: no billing start (hotpatch-program.md §1.4).
    assert final["billingStartDate"] is None and final["enrollmentDate"]
    # Idempotent: the same PUT again is a plain 200, no operation.
    again = arm.put(url, enroll_body(), api_version=HC_API)
    assert again.status_code == 200 and "Azure-AsyncOperation" not in again.headers
    machine = client.machines.get("rg-arc-onprem", "arc-std-01")
    assert machine.os_profile.windows_configuration.status.hotpatch_enablement_status == "Enabled"
    # Disenroll: PATCH with the update value Disable, 202 with the three headers, then Disabled.
    feature = {"name": "Hotpatch", "subscriptionStatus": "Disable"}
    update = {"properties": {"productProfile": {"subscriptionStatus": "Disable", "productType": "WindowsServer",
                                                "productFeatures": [feature]}}}
    result = client.license_profiles.begin_update("rg-arc-onprem", "arc-std-01", as_io(update)).result()
    product = result.serialize(keep_readonly=True)["properties"]["productProfile"]
    assert product["subscriptionStatus"] == "Disabled" and product["disenrollmentDate"]


def test_enrollment_without_vbs_fails_and_asks_for_action(arc_sandbox: Sandbox,
                                                         client: HybridComputeManagementClient) -> None:
    arc_sandbox.backend.hybrid.get("rg-arc-onprem", "arc-vbs-01").license = None
    with pytest.raises(HttpResponseError) as failed:
        client.license_profiles.begin_create_or_update("rg-arc-onprem", "arc-vbs-01", as_io(enroll_body())).result()
    assert "virtualization-based security" in str(failed.value)
    machine = client.machines.get("rg-arc-onprem", "arc-vbs-01", expand="instanceView").serialize(keep_readonly=True)
    assert machine["properties"]["licenseProfile"]["productProfile"]["subscriptionStatus"] == "Failed"
    status = machine["properties"]["osProfile"]["windowsConfiguration"]["patchSettings"]["status"]
    assert status["hotpatchEnablementStatus"] == "ActionRequired" and status["error"]["code"]


@pytest.mark.parametrize(("body", "code"), [
    ({"properties": {}}, "LocationRequired"),
    (enroll_body(location="westus2"), "InvalidParameter"),
    (enroll_body(status="Enable"), "InvalidParameter"),
    ({"location": "eastus", "properties": {}}, "InvalidParameter"),
])
def test_bad_license_bodies_are_refused(arc_sandbox: Sandbox, body: dict[str, Any], code: str) -> None:
    arm = Arm(arc_sandbox)
    response = arm.put(machine_path(arm, "rg-arc-onprem", "arc-std-01") + "/licenseProfiles/default", body,
                       api_version=HC_API)
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert arc_sandbox.backend.hybrid.get("rg-arc-onprem", "arc-std-01").license is None


def test_patch_of_a_profile_that_does_not_exist_is_404(arc_sandbox: Sandbox) -> None:
    arm = Arm(arc_sandbox)
    body = {"properties": {"productProfile": {"subscriptionStatus": "Disable"}}}
    response = arm.patch(machine_path(arm, "rg-arc-onprem", "arc-std-01") + "/licenseProfiles/default", body,
                         api_version=HC_API)
    assert response.status_code == 404


def test_arc_assess_and_install_answer_with_arcs_result_shapes(arc_sandbox: Sandbox,
                                                               client: HybridComputeManagementClient) -> None:
    arm = Arm(arc_sandbox)
    started = arm.post(machine_path(arm, "rg-arc-onprem", "arc-dc-04") + "/assessPatches", api_version=HC_API)
    assert started.status_code == 202 and "Location" in started.headers
    assert "Azure-AsyncOperation" not in started.headers
    while True:
        polled = arm.get(started.headers["Location"], api_version=None)
        if polled.status_code != 202:
            break
        time.sleep(0.02)
    assessed = polled.json()
    assert polled.status_code == 200
    assert set(assessed) == {"status", "assessmentActivityId", "rebootPending", "startDateTime",
                             "lastModifiedDateTime", "availablePatchCountByClassification", "startedBy", "osType",
                             "errorDetails"}
    counts = assessed["availablePatchCountByClassification"]
    assert counts["security"] == 1 and assessed["errorDetails"] is None and assessed["startedBy"] == "User"
    body = {"maximumDuration": "PT2H", "rebootSetting": "IfRequired",
            "windowsParameters": {"classificationsToInclude": ["Critical", "Security"]}}
    installed = client.machines.begin_install_patches("rg-arc-onprem", "arc-dc-04", as_io(body)).result()
    wire = installed.serialize(keep_readonly=True)
    assert wire["status"] == "Succeeded" and wire["installedPatchCount"] == 1 and "patches" not in wire
    assert wire["rebootStatus"] == "NotNeeded"  # a hotpatch: no restart


def test_a_disconnected_machine_reports_a_failed_run(arc_sandbox: Sandbox,
                                                    client: HybridComputeManagementClient) -> None:
    result = client.machines.begin_assess_patches("rg-arc-branch", "arc-dc-02").result()
    assert result.status == "Failed"
    assert result.error_details.code == "MachineDisconnected"


def test_resource_graph_has_arc_machines_and_their_patch_results(arc_sandbox: Sandbox) -> None:
    arm = Arm(arc_sandbox)

    def query(text: str) -> list[dict[str, Any]]:
        response = arm.post("/providers/Microsoft.ResourceGraph/resources", {"query": text},
                            api_version="2024-04-01")
        assert response.status_code == 200, response.text
        return response.json()["data"]

    machines = query("resources | where type =~ 'microsoft.hybridcompute/machines' | project name, properties")
    assert len(machines) == 12
    by_name = {m["name"]: m["properties"] for m in machines}
    assert by_name["arc-dc-02"]["status"] == "Disconnected"
    assert by_name["arc-dc-03"]["licenseProfile"]["productProfile"]["subscriptionStatus"] == "Enabling"
    results = query("patchassessmentresources | where type =~ "
                    "'microsoft.hybridcompute/machines/patchassessmentresults' | project id, properties")
    assert {r["id"].split("/")[8] for r in results} >= {"arc-dc-01", "arc-std-01"}
    assert all("availablePatchCountByClassification" in r["properties"] for r in results)
    patches = query("patchassessmentresources | where type =~ "
                    "'microsoft.hybridcompute/machines/patchassessmentresults/softwarepatches' | project properties")
    assert patches and all(p["properties"]["kbId"] for p in patches)

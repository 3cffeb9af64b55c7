"""The sandbox's wire against published spec examples and real recorded ARM traffic (shared/)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml

from hpctl.sandbox import Sandbox

from .conftest import Arm, hotpatch_vm_body, make_sandbox, shared_dir, spec_example

# Header names a CDN in front of real ARM adds; not part of what CRP/ARM send.
EDGE_HEADERS = {"x-cache", "x-msedge-ref"}


def install_recording() -> list[dict[str, Any]]:
    data = yaml.safe_load(
        (shared_dir() / "azure-recordings" / "azcli_install_patches_extract.yaml").read_text()
    )
    return data["interactions"]


def assess_recording() -> list[dict[str, Any]]:
    return json.loads((shared_dir() / "azure-recordings" / "azps_patch_assessment_extract.json").read_text())


def names(headers: Any) -> set[str]:
    return {name.lower() for name in headers}


def keys_deep(value: Any, prefix: str = "") -> set[str]:
    """Every key path in a JSON value (list items merged), e.g. properties.osProfile.computerName."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            found.add(path)
            found |= keys_deep(item, path)
    elif isinstance(value, list):
        for item in value:
            found |= keys_deep(item, prefix + "[]")
    return found


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


@pytest.fixture
def slow_sandbox(tmp_path: Path) -> Any:
    """time x600: a 10-minute assessment takes about a second, so polls see InProgress first."""
    sandbox = make_sandbox(tmp_path, fleet=6, time_scale=600.0)
    yield sandbox
    sandbox.stop()


def test_install_lro_sequence_matches_the_real_recording(slow_sandbox: Sandbox) -> None:
    arm = Arm(slow_sandbox)
    real = install_recording()
    real_post = real[1]["response"]
    body = json.loads(real[1]["request"]["body"])  # the real request body, replayed
    started = arm.post(arm.vm("rg-web", "web-02") + "/installPatches", body)

    assert started.status_code == real_post["status"]["code"] == 202
    assert started.reason == ""  # CRP's empty reason phrase
    assert started.content == b"" and started.headers["Content-Length"] == "0"
    assert "Retry-After" not in started.headers and "retry-after" not in names(real_post["headers"])
    assert names(real_post["headers"]) - EDGE_HEADERS <= names(started.headers)
    assert started.headers["Azure-AsyncNotification"] == "Enabled"
    assert (
        started.headers["x-ms-ratelimit-remaining-resource"]
        == real_post["headers"]["x-ms-ratelimit-remaining-resource"][0]
    )

    async_url, location = started.headers["Azure-AsyncOperation"], started.headers["Location"]
    real_async = real_post["headers"]["azure-asyncoperation"][0]
    shape = r"^https://[^/]+/subscriptions/[^/]+/providers/Microsoft\.Compute/locations/[^/]+/operations/[0-9a-f-]{36}$"
    assert re.match(shape, async_url.split("?")[0]) and re.match(shape, real_async.split("?")[0])
    assert urlsplit(async_url).path == urlsplit(location).path
    assert urlsplit(async_url).query.startswith("p=") and urlsplit(real_async).query.startswith("p=")
    assert _query(location) == {**_query(async_url), "monitor": "true"}
    op_id = urlsplit(async_url).path.rsplit("/", 1)[1]
    assert started.headers["x-ms-request-id"] == op_id

    early = arm.get(location, api_version=None)
    assert early.status_code == 202 and early.content == b""  # a Location monitor answers 202 while running

    polls = arm.poll(started)
    statuses = [p.json().get("status") if p.content else None for p in polls[:-1]]
    assert statuses[0] == "InProgress" and statuses[-1] == "Succeeded"
    assert set(statuses[:-1]) == {"InProgress"}
    real_polls = [i["response"] for i in real[2:8]]
    real_progress = json.loads(real_polls[0]["body"]["string"])
    real_done = json.loads(real_polls[-1]["body"]["string"])
    real_monitor = json.loads(real[8]["response"]["body"]["string"])
    for poll in polls[:-1]:
        assert poll.status_code == 200 and poll.reason == ""
        assert "Retry-After" not in poll.headers
        assert int(poll.headers["Content-Length"]) == len(poll.content)
        parts = [p.split(";")[0] for p in poll.headers["x-ms-ratelimit-remaining-resource"].split(",")]
        real_parts = [
            p.split(";")[0]
            for p in real_polls[0]["headers"]["x-ms-ratelimit-remaining-resource"][0].split(",")
        ]
        assert parts == real_parts
    assert list(polls[0].json()) == list(real_progress)
    done = polls[-2].json()
    assert list(done) == list(real_done)
    assert done["name"] == op_id
    assert list(done["properties"]["output"]) == list(real_done["properties"]["output"])
    monitor = polls[-1]
    assert monitor.status_code == 200
    assert monitor.json() == done["properties"]["output"]
    assert list(monitor.json()) == list(real_monitor)
    assert monitor.json()["installationActivityId"] == op_id
    patch_keys = {tuple(p) for p in monitor.json()["patches"]}
    assert patch_keys == {tuple(p) for p in real_monitor["patches"]}
    assert (
        monitor.json()["error"]
        == real_monitor["error"]
        == {"details": [], "code": "Success", "message": "0 error/s reported"}
    )
    # Patches outside the requested classifications come back Excluded, as in the recording.
    assert {
        p["installationState"] for p in monitor.json()["patches"] if p["classifications"] != ["Security"]
    } == {"Excluded"}


def test_assess_result_matches_the_real_recording_and_the_spec(fleet_arm: Arm) -> None:
    real = assess_recording()
    real_post, real_done, real_monitor = real[1], real[23], real[24]
    started = fleet_arm.post(fleet_arm.vm("rg-web", "web-06") + "/assessPatches")
    assert started.status_code == real_post["StatusCode"] == 202
    assert real_post["ResponseBody"] == "" and started.content == b""
    assert "Retry-After" not in started.headers and "Retry-After" not in real_post["ResponseHeaders"]
    assert {"Location", "Azure-AsyncOperation"} <= set(real_post["ResponseHeaders"])
    polls = fleet_arm.poll(started)
    done, monitor = polls[-2].json(), polls[-1].json()
    real_output = json.loads(real_done["ResponseBody"])["properties"]["output"]
    assert list(done) == list(json.loads(real_done["ResponseBody"]))
    assert (
        set(monitor) == set(real_output) == set(json.loads(real_monitor["ResponseBody"]))
    )  # no error on success
    assert monitor["assessmentActivityId"] == done["name"]  # as in the PS recording
    real_patch_keys = set(real_output["availablePatches"][0])
    assert all(set(p) == real_patch_keys for p in monitor["availablePatches"])
    spec = spec_example("VirtualMachine_AssessPatches.json")["responses"]["200"]["body"]
    assert set(monitor) <= set(spec)
    assert set(monitor["availablePatches"][0]) <= set(spec["availablePatches"][0])
    enum_like = {
        "Critical",
        "Security",
        "UpdateRollUp",
        "FeaturePack",
        "ServicePack",
        "Definition",
        "Tools",
        "Updates",
    }
    assert {c for p in monitor["availablePatches"] for c in p["classifications"]} <= enum_like
    assert monitor["criticalAndSecurityPatchCount"] + monitor["otherPatchCount"] == len(
        monitor["availablePatches"]
    )


def test_vm_put_answers_like_real_crp(tmp_path: Path) -> None:
    sandbox = make_sandbox(tmp_path, time_scale=1.0)  # unscaled: Retry-After 10 as on Azure
    try:
        arm = Arm(sandbox)
        real = assess_recording()[0]
        assert (
            arm.put(
                f"/subscriptions/{arm.sub}/resourcegroups/rg1",
                {"location": "eastus"},
                api_version="2025-04-01",
            ).status_code
            == 201
        )
        response = arm.put(arm.vm("rg1", "vm1"), hotpatch_vm_body())
        assert response.status_code == real["StatusCode"] == 201
        real_headers = set(real["ResponseHeaders"])
        for header in (
            "Azure-AsyncOperation",
            "Azure-AsyncNotification",
            "Retry-After",
            "x-ms-ratelimit-remaining-resource",
            "x-ms-request-id",
            "x-ms-correlation-request-id",
        ):
            assert header in real_headers and header in response.headers
        assert "Location" not in response.headers and "Location" not in real_headers
        assert response.headers["Retry-After"] == real["ResponseHeaders"]["Retry-After"][0] == "10"
        # The 2019 recording shows the older 3Min/30Min scheme; today's budgets are the published token buckets
        # (azure-wire.md §9.1: Put VM 12 per VM, 1,500 per subscription), in the same header format.
        assert real["ResponseHeaders"]["x-ms-ratelimit-remaining-resource"][0].startswith("Microsoft.Compute/PutVM")
        assert (
            response.headers["x-ms-ratelimit-remaining-resource"]
            == "Microsoft.Compute/PutVMSubscriptionMaximum;1499,Microsoft.Compute/PutVMResource;11"
        )
        body = response.json()
        real_body = json.loads(real["ResponseBody"])
        assert (
            body["properties"]["provisioningState"]
            == real_body["properties"]["provisioningState"]
            == "Creating"
        )
        assert "adminPassword" not in response.text and "S3cure" not in response.text
        assert keys_deep(real_body) - {
            "properties.priority",
            "properties.evictionPolicy",
            "properties.billingProfile",
            "properties.billingProfile.maxPrice",
            "properties.diagnosticsProfile",
            "properties.diagnosticsProfile.bootDiagnostics",
            "properties.diagnosticsProfile.bootDiagnostics.enabled",
            "properties.diagnosticsProfile.bootDiagnostics.storageUri",
        } <= keys_deep(body)
        assert (
            response.headers["x-ms-request-id"]
            == response.headers["Azure-AsyncOperation"].split("?")[0][-36:]
        )
    finally:
        sandbox.stop()


def test_vm_create_completes_via_async_operation_then_get(arm: Arm) -> None:
    arm.put(f"/subscriptions/{arm.sub}/resourcegroups/rg1", {"location": "eastus"}, api_version="2025-04-01")
    response = arm.put(arm.vm("rg1", "vm1"), hotpatch_vm_body())
    polls = arm.poll(response)
    assert list(polls[-1].json()) == ["startTime", "endTime", "status", "name"]
    vm = arm.get(arm.vm("rg1", "vm1")).json()
    assert vm["properties"]["provisioningState"] == "Succeeded"
    settings = vm["properties"]["osProfile"]["windowsConfiguration"]["patchSettings"]
    real = json.loads(install_recording()[0]["response"]["body"]["string"])
    real_settings = real["properties"]["osProfile"]["windowsConfiguration"]["patchSettings"]
    assert set(real_settings) <= set(settings)
    assert set(real["properties"]["storageProfile"]["imageReference"]) == set(
        vm["properties"]["storageProfile"]["imageReference"]
    )
    view = arm.instance_view("rg1", "vm1")
    assert "patchStatus" not in view  # a fresh VM has not been assessed yet


def test_spec_example_create_bodies_are_accepted(arm: Arm) -> None:
    arm.put(
        f"/subscriptions/{arm.sub}/resourcegroups/myResourceGroup",
        {"location": "westus"},
        api_version="2025-04-01",
    )
    example = spec_example("VirtualMachine_Create_WindowsVmWithAutomaticByPlatformSettings.json")
    body = json.loads(json.dumps(example["parameters"]["parameters"]))
    body["properties"]["osProfile"]["adminPassword"] = "Ex4mple!Passw0rd"  # the placeholder fails complexity
    response = arm.put(arm.vm("myResourceGroup", "myVM"), body)
    assert response.status_code == 201, response.text
    expected = example["responses"]["201"]["body"]["properties"]["osProfile"]["windowsConfiguration"]
    assert response.json()["properties"]["osProfile"]["windowsConfiguration"] == expected
    assert keys_deep(example["responses"]["201"]["body"]) - {
        "properties.networkProfile.networkInterfaces[].properties",
        "properties.networkProfile.networkInterfaces[].properties.primary",
    } <= keys_deep(response.json())


def test_vm_get_has_the_spec_shape(fleet_arm: Arm) -> None:
    body = fleet_arm.get(fleet_arm.vm("rg-web", "web-01")).json()
    spec = spec_example("VirtualMachine_Get.json")["responses"]["200"]["body"]
    optional = {
        "resources",
        "managedBy",
        "tags.myTag1",
        "properties.applicationProfile",
        "properties.userData",
        "properties.proximityPlacementGroup",
        "properties.availabilitySet",
        "properties.diagnosticsProfile",
        "properties.extensionsTimeBudget",
        "properties.storageProfile.dataDisks[]",
    }
    wanted = {
        k for k in keys_deep(spec) if not any(k == o or k.startswith((o + ".", o + "[")) for o in optional)
    }
    assert wanted <= keys_deep(body)
    assert body["type"] == spec["type"] and body["etag"].startswith('"')
    assert body["zones"] == ["1"] and body["location"] == "eastus"
    image = body["properties"]["storageProfile"]["imageReference"]
    assert image["exactVersion"].startswith("26100.") and image["version"] == "latest"


def test_instance_view_has_the_spec_shape(fleet_arm: Arm) -> None:
    view = fleet_arm.instance_view(
        "rg-data", "sql-01"
    )  # in an availability set, assessed, last install failed
    spec = spec_example("VirtualMachine_Get_InstanceView.json")["responses"]["200"]["body"]
    for key in (
        "platformUpdateDomain",
        "platformFaultDomain",
        "computerName",
        "osName",
        "osVersion",
        "vmAgent",
        "disks",
        "hyperVGeneration",
        "patchStatus",
        "statuses",
    ):
        assert key in spec and key in view, key
    status, spec_status = view["patchStatus"], spec["patchStatus"]
    assert set(status) == set(spec_status)
    assert set(status["availablePatchSummary"]) == set(spec_status["availablePatchSummary"])
    assert set(status["lastPatchInstallationSummary"]) == set(spec_status["lastPatchInstallationSummary"])
    assert all(
        set(s) == set(spec_status["configurationStatuses"][0]) for s in status["configurationStatuses"]
    )
    assert status["lastPatchInstallationSummary"]["status"] == "Failed"
    assert [s["code"] for s in view["statuses"]] == [s["code"] for s in spec["statuses"]]
    assert re.fullmatch(r"10\.0\.20348\.\d+", view["osVersion"])
    handlers = [h["type"] for h in view["vmAgent"]["extensionHandlers"]]
    assert "Microsoft.CPlat.Core.WindowsPatchExtension" in handlers


def test_image_lists_are_bare_arrays_with_capitalised_ids(fleet_arm: Arm) -> None:
    base = f"/subscriptions/{fleet_arm.sub}/providers/Microsoft.Compute/locations/westus2"
    spec = spec_example("VirtualMachineImage_ListSkus_MinimumSet_Gen.json")["responses"]["200"]["body"]
    skus = fleet_arm.get(
        base + "/publishers/MicrosoftWindowsServer/artifacttypes/vmimage/offers/WindowsServer/skus"
    )
    assert skus.status_code == 200 and isinstance(skus.json(), list)
    assert all(set(item) == set(spec[0]) for item in skus.json())
    eligible = {
        "2022-datacenter-azure-edition-core",
        "2022-datacenter-azure-edition-core-smalldisk",
        "2022-datacenter-azure-edition-hotpatch",
        "2022-datacenter-azure-edition-hotpatch-smalldisk",
        "2025-datacenter-azure-edition",
        "2025-datacenter-azure-edition-smalldisk",
        "2025-datacenter-azure-edition-core",
        "2025-datacenter-azure-edition-core-smalldisk",
    }
    listed = {item["name"] for item in skus.json()}
    assert (
        eligible <= listed
        and {"2022-datacenter-azure-edition", "2019-datacenter", "2025-datacenter"} <= listed
    )
    assert skus.json()[0]["id"].startswith(
        f"/Subscriptions/{fleet_arm.sub}/Providers/Microsoft.Compute/Locations/"
        "westus2/Publishers/MicrosoftWindowsServer/ArtifactTypes/VMImage/Offers/"
        "WindowsServer/Skus/"
    )
    versions = fleet_arm.get(
        base + "/publishers/MicrosoftWindowsServer/artifacttypes/vmimage/offers/WindowsServer"
        "/skus/2022-datacenter-azure-edition-hotpatch/versions",
        params={"$top": "1", "$orderby": "name desc"},
    )
    recorded = yaml.safe_load(
        (shared_dir() / "azure-recordings" / "test_linux_vm_patch_mode.yaml").read_text()
    )
    real_list, real_get = recorded["interactions"][2]["response"], recorded["interactions"][3]["response"]
    assert [set(v) for v in versions.json()] == [set(json.loads(real_list["body"]["string"])[0])]
    version = versions.json()[0]["name"]
    assert re.fullmatch(r"20348\.\d+\.\d{6}", version)
    assert [p.split(";")[0] for p in versions.headers["x-ms-ratelimit-remaining-resource"].split(",")] == [
        p.split(";")[0] for p in real_list["headers"]["x-ms-ratelimit-remaining-resource"][0].split(",")
    ]
    got = fleet_arm.get(
        base + "/publishers/MicrosoftWindowsServer/artifacttypes/vmimage/offers/WindowsServer/skus/"
        f"2022-datacenter-azure-edition-hotpatch/versions/{version}"
    )
    real_body = json.loads(real_get["body"]["string"])
    assert set(got.json()) == set(real_body)
    assert set(real_body["properties"]) - {"replicaCount"} <= set(got.json()["properties"])
    assert got.json()["properties"]["hyperVGeneration"] == "V2"


def test_resource_group_bodies_match_the_recording(arm: Arm) -> None:
    real = yaml.safe_load((shared_dir() / "azure-recordings" / "test_linux_vm_patch_mode.yaml").read_text())
    real_body = json.loads(real["interactions"][0]["response"]["body"]["string"])
    path = f"/subscriptions/{arm.sub}/resourcegroups/rg-x"
    created = arm.put(path, {"location": "West US", "tags": {"a": "b"}}, api_version="2025-04-01")
    assert created.status_code == 201 and created.reason == "Created"
    assert list(created.json()) == list(real_body)
    again = arm.put(path, {"location": "westus", "tags": {"a": "c"}}, api_version="2025-04-01")
    assert again.status_code == 200 and again.json()["tags"] == {"a": "c"}
    assert arm.request("HEAD", path, api_version="2025-04-01").status_code == 204
    listed = arm.get(f"/subscriptions/{arm.sub}/resourcegroups", api_version="2025-04-01").json()
    assert [g["name"] for g in listed["value"]] == ["rg-x"]


def test_operation_urls_use_the_host_the_client_used(sandbox: Sandbox) -> None:
    arm = Arm(sandbox)
    sandbox.backend.add_vm("rg1", "vm1")
    port = sandbox.url.rsplit(":", 1)[1]
    arm.sandbox.url = f"https://localhost:{port}"  # same server, reached by name
    try:
        started = arm.post(arm.vm("rg1", "vm1") + "/assessPatches")
        assert started.headers["Azure-AsyncOperation"].startswith(f"https://localhost:{port}/subscriptions/")
        assert started.headers["Location"].startswith(f"https://localhost:{port}/subscriptions/")
        assert arm.poll(started)[-1].status_code == 200
    finally:
        arm.sandbox.url = f"https://127.0.0.1:{port}"


def test_rebuilt_operation_urls_are_not_found(fleet_arm: Arm) -> None:
    started = fleet_arm.post(fleet_arm.vm("rg-web", "web-05") + "/assessPatches")
    url = started.headers["Azure-AsyncOperation"]
    rebuilt = url.split("?")[0]
    response = fleet_arm.get(rebuilt)  # api-version only, no opaque p=
    assert response.status_code == 404 and response.json()["error"]["code"] == "NotFound"
    fleet_arm.poll(started)


def test_vm_put_on_an_existing_vm_is_an_update(arm: Arm) -> None:
    arm.sandbox.backend.add_resource_group("rg1")
    body = hotpatch_vm_body()
    arm.poll(arm.put(arm.vm("rg1", "vm1"), body))
    body["tags"] = {"env": "prod"}
    del body["properties"]["osProfile"]["adminPassword"]  # not needed to update
    updated = arm.put(arm.vm("rg1", "vm1"), body)
    assert updated.status_code == 200
    assert updated.json()["properties"]["provisioningState"] == "Updating"
    assert "Azure-AsyncOperation" in updated.headers and "Location" not in updated.headers
    assert arm.poll(updated)[-1].json()["status"] == "Succeeded"
    assert arm.get(arm.vm("rg1", "vm1")).json()["tags"] == {"env": "prod"}
    body["properties"]["storageProfile"]["imageReference"]["sku"] = "2025-datacenter-azure-edition-core"
    changed = arm.put(arm.vm("rg1", "vm1"), body)
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "PropertyChangeNotAllowed"


def test_vm_create_polls_carry_retry_after_when_unscaled(tmp_path: Path) -> None:
    sandbox = make_sandbox(tmp_path, time_scale=1.0)
    try:
        arm = Arm(sandbox)
        sandbox.backend.add_resource_group("rg1")
        created = arm.put(arm.vm("rg1", "vm1"), hotpatch_vm_body())
        poll = arm.get(created.headers["Azure-AsyncOperation"], api_version=None)
        assert poll.json()["status"] == "InProgress"
        assert poll.headers["Retry-After"] == "50"  # as the first poll of the real VM PUT said
    finally:
        sandbox.stop()


def test_lists_page_with_absolute_next_links(arm: Arm) -> None:
    for index in range(55):
        arm.sandbox.backend.add_vm("rg1", f"vm{index:02d}")
    first = arm.get(
        f"/subscriptions/{arm.sub}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines",
        params={"$expand": "instanceView"},
    )
    body = first.json()
    assert len(body["value"]) == 50 and "instanceView" in body["value"][0]["properties"]
    link = body["nextLink"]
    assert link.startswith(arm.sandbox.url + "/subscriptions/") and "$skiptoken=" in link
    assert _query(link)["api-version"] == "2026-04-01"
    second = arm.get(link, api_version=None).json()
    assert len(second["value"]) == 5 and "nextLink" not in second
    assert "instanceView" in second["value"][0]["properties"]
    names = [vm["name"] for vm in body["value"] + second["value"]]
    assert names == sorted(names) and len(set(names)) == 55
    bad = arm.get(
        f"/subscriptions/{arm.sub}/providers/Microsoft.Compute/virtualMachines",
        params={"$skiptoken": "garbage!"},
    )
    assert bad.status_code == 400
    assert arm.get(arm.vm("rg1", "vm00"), params={"$expand": "everything"}).status_code == 400

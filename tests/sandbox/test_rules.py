"""Azure's rules and error shapes: VM model validation, installPatches bodies, 404s, the front door."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from hpctl.sandbox import Sandbox

from .conftest import RG_API, Arm, hotpatch_vm_body, make_sandbox

HOTPATCH_REQUIRES = (
    "EnableHotpatching cannot be set to true. For enableHotpatching, the 'provisionVMAgent' must be "
    "set to true and 'patchMode' must be set to 'AutomaticByPlatform'."
)
BYPASS = (
    "Hotpatch updates require platform safety checks. The 'BypassPlatformSafetyChecksOnUserSchedule' flag "
    "must be set to false to enable hotpatching."
)
BY_OS = (
    "The patchMode 'AutomaticByOS' is invalid. For patchMode 'AutomaticByOS', the property "
    "'enableAutomaticUpdates' must be set to true."
)


def _windows(body: dict[str, Any]) -> dict[str, Any]:
    return body["properties"]["osProfile"]["windowsConfiguration"]


def _agent_off(body: dict[str, Any]) -> None:
    _windows(body)["provisionVMAgent"] = False


def _by_os_hotpatch(body: dict[str, Any]) -> None:
    _windows(body)["patchSettings"]["patchMode"] = "AutomaticByOS"


def _bypass(body: dict[str, Any]) -> None:
    _windows(body)["patchSettings"]["automaticByPlatformSettings"][
        "bypassPlatformSafetyChecksOnUserSchedule"
    ] = True


def _no_patch_settings(body: dict[str, Any]) -> None:
    del _windows(body)["patchSettings"]
    body["properties"]["storageProfile"]["imageReference"]["sku"] = "2025-Datacenter-Azure-Edition-Core"


def _by_os_without_updates(body: dict[str, Any]) -> None:
    _windows(body)["enableAutomaticUpdates"] = False
    _windows(body)["patchSettings"] = {"patchMode": "AutomaticByOS"}


def _manual_with_updates(body: dict[str, Any]) -> None:
    _windows(body)["patchSettings"] = {"patchMode": "Manual"}


@pytest.mark.parametrize(
    ("change", "message", "target"),
    [
        (_agent_off, HOTPATCH_REQUIRES, "windowsConfiguration.patchSettings.enableHotpatching"),
        (_by_os_hotpatch, HOTPATCH_REQUIRES, "windowsConfiguration.patchSettings.enableHotpatching"),
        (_bypass, BYPASS, None),
        (_no_patch_settings, "PatchSettings must be specified for hotpatch compatible VMs.", None),
        (_by_os_without_updates, BY_OS, "windowsConfiguration.patchSettings.patchMode"),
        (
            _manual_with_updates,
            "The patchMode 'Manual' is invalid. For patchMode 'Manual', the property "
            "'enableAutomaticUpdates' must be set to false.",
            "windowsConfiguration.patchSettings.patchMode",
        ),
    ],
)
def test_vm_put_rejects_invalid_patch_settings_with_azures_message(
    arm: Arm, change: Any, message: str, target: str | None
) -> None:
    arm.sandbox.backend.add_resource_group("rg1")
    body = hotpatch_vm_body()
    change(body)
    response = arm.put(arm.vm("rg1", "vm1"), body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "InvalidParameter"
    assert error["message"] == message
    assert error.get("target") == target
    assert arm.get(arm.vm("rg1", "vm1")).status_code == 404  # nothing was created


@pytest.mark.parametrize("sku", ["2019-datacenter", "2022-datacenter-azure-edition", "2025-datacenter-g2"])
def test_hotpatch_on_an_image_that_cannot_hotpatch_is_refused(arm: Arm, sku: str) -> None:
    from hpctl.sandbox.vmrules import MSG_HOTPATCH_IMAGE

    arm.sandbox.backend.add_resource_group("rg1")
    response = arm.put(arm.vm("rg1", "vm1"), hotpatch_vm_body(sku=sku))
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["message"], error["target"]) == (
        "InvalidParameter", MSG_HOTPATCH_IMAGE, "windowsConfiguration.patchSettings.enableHotpatching")
    assert arm.get(arm.vm("rg1", "vm1")).status_code == 404
    # Without hotpatch the same VM is created, and turning hotpatch on later is refused: nothing is stored.
    body = hotpatch_vm_body(sku=sku)
    _windows(body)["patchSettings"]["enableHotpatching"] = False
    created = arm.put(arm.vm("rg1", "vm2"), body)
    assert created.status_code == 201, created.text
    arm.poll(created)
    turned_on = arm.patch(arm.vm("rg1", "vm2"), {"properties": {"osProfile": {"windowsConfiguration": {
        "patchSettings": {"patchMode": "AutomaticByPlatform", "enableHotpatching": True}}}}})
    assert turned_on.status_code == 400 and turned_on.json()["error"]["message"] == MSG_HOTPATCH_IMAGE
    stored = arm.get(arm.vm("rg1", "vm2")).json()
    assert _windows(stored)["patchSettings"]["enableHotpatching"] is False


def test_patch_mode_defaults_follow_enable_automatic_updates(arm: Arm) -> None:
    arm.sandbox.backend.add_resource_group("rg1")
    for name, updates, expected in (("vm1", True, "AutomaticByOS"), ("vm2", False, "Manual")):
        body = hotpatch_vm_body(sku="2019-datacenter")
        _windows(body).pop("patchSettings")
        _windows(body)["enableAutomaticUpdates"] = updates
        response = arm.put(arm.vm("rg1", name), body)
        assert response.status_code == 201, response.text
        assert _windows(response.json())["patchSettings"]["patchMode"] == expected


def test_vm_patch_rules(arm: Arm) -> None:
    backend = arm.sandbox.backend
    backend.add_vm("rg1", "hot")
    backend.add_vm(
        "rg1",
        "off",
        image="MicrosoftWindowsServer:WindowsServer:2022-datacenter-azure-edition-core:latest",
        hotpatch=False,
    )
    immutable = arm.patch(
        arm.vm("rg1", "hot"),
        {"properties": {"osProfile": {"windowsConfiguration": {"enableAutomaticUpdates": False}}}},
    )
    assert immutable.status_code == 409
    assert immutable.json()["error"]["code"] == "PropertyChangeNotAllowed"
    bypass = arm.patch(
        arm.vm("rg1", "hot"),
        {
            "properties": {
                "osProfile": {
                    "windowsConfiguration": {
                        "patchSettings": {
                            "automaticByPlatformSettings": {"bypassPlatformSafetyChecksOnUserSchedule": True}
                        }
                    }
                }
            }
        },
    )
    assert bypass.status_code == 400 and bypass.json()["error"]["message"] == BYPASS
    # Turning hotpatch on for an eligible VM is a PATCH Azure accepts; the VM then joins the program.
    enable = arm.patch(
        arm.vm("rg1", "off"),
        {
            "properties": {
                "osProfile": {"windowsConfiguration": {"patchSettings": {"enableHotpatching": True}}}
            }
        },
    )
    assert enable.status_code == 200, enable.text
    assert enable.json()["properties"]["provisioningState"] == "Updating"
    assert arm.poll(enable)[-1].json()["status"] == "Succeeded"
    vm = arm.get(arm.vm("rg1", "off")).json()
    assert _windows(vm)["patchSettings"]["enableHotpatching"] is True
    assert vm["properties"]["provisioningState"] == "Succeeded"
    assert backend.vm("rg1", "off").enrolled


@pytest.mark.parametrize(
    ("edit", "status", "code", "message"),
    [
        (
            lambda b: b["properties"]["osProfile"].pop("adminPassword"),
            400,
            "InvalidParameter",
            "Required parameter 'adminPassword' is missing (null).",
        ),
        (
            lambda b: b["properties"]["osProfile"].update(adminPassword="password"),
            400,
            "InvalidParameter",
            "The supplied password must be between 8-123 characters long",
        ),
        (
            lambda b: b["properties"]["osProfile"].update(adminUsername="admin"),
            400,
            "InvalidParameter",
            "The Admin Username specified is not allowed.",
        ),
        (
            lambda b: b["properties"]["osProfile"].update(computerName="a-very-long-computer-name"),
            400,
            "InvalidParameter",
            "Windows computer name cannot be more than 15 characters long",
        ),
        (
            lambda b: b.pop("location"),
            400,
            "LocationRequired",
            "The location property is required for this definition.",
        ),
        (
            lambda b: b.update(location="atlantis"),
            400,
            "LocationNotAvailableForResourceType",
            "The provided location",
        ),
        (
            lambda b: b["properties"]["hardwareProfile"].pop("vmSize"),
            400,
            "InvalidParameter",
            "Required parameter 'vmSize' is missing (null).",
        ),
        (
            lambda b: b.update(location="northcentralus"),
            404,
            "PlatformImageNotFound",
            "The platform image 'MicrosoftWindowsServer:WindowsServer:2025-datacenter-azure-edition:latest' "
            "is not available.",
        ),
        (
            lambda b: b["properties"]["storageProfile"]["imageReference"].update(
                sku="2025-datacenter-azure-editon"
            ),
            404,
            "PlatformImageNotFound",
            "The platform image",
        ),
        (
            lambda b: _windows(b)["patchSettings"].update(enableHotpatching="true"),
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized",
        ),
        (
            lambda b: _windows(b)["patchSettings"].update(patchMode="Sometimes"),
            400,
            "InvalidParameter",
            "The value 'Sometimes' of parameter 'patchMode' is not valid.",
        ),
        (lambda b: b.update(zones=["4"]), 400, "InvalidParameter", "The value"),
    ],
)
def test_vm_put_rejects_bad_input(arm: Arm, edit: Any, status: int, code: str, message: str) -> None:
    arm.sandbox.backend.add_resource_group("rg1")
    body = hotpatch_vm_body()
    edit(body)
    response = arm.put(arm.vm("rg1", "vm1"), body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"].startswith(message)


def test_vm_put_rejects_malformed_json(arm: Arm) -> None:
    arm.sandbox.backend.add_resource_group("rg1")
    for raw in (b"{not json", b"[1, 2]", b"\xff\xfe"):
        response = arm.request(
            "PUT", arm.vm("rg1", "vm1"), raw=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "InvalidRequestContent"


def test_admin_password_is_never_echoed(arm: Arm) -> None:
    arm.sandbox.backend.add_resource_group("rg1")
    created = arm.put(arm.vm("rg1", "vm1"), hotpatch_vm_body())
    arm.poll(created)
    for response in (
        created,
        arm.get(arm.vm("rg1", "vm1")),
        arm.get(arm.vm("rg1", "vm1"), params={"$expand": "instanceView"}),
        arm.get(f"/subscriptions/{arm.sub}/providers/Microsoft.Compute/virtualMachines"),
    ):
        assert "adminPassword" not in response.text and "S3cure!Passw0rd#1" not in response.text


GOOD_INSTALL = {
    "maximumDuration": "PT4H",
    "rebootSetting": "IfRequired",
    "windowsParameters": {"classificationsToInclude": ["Critical", "Security"]},
}


def _without(key: str) -> dict[str, Any]:
    body = copy.deepcopy(GOOD_INSTALL)
    body.pop(key)
    return body


def _with(**windows: Any) -> dict[str, Any]:
    body = copy.deepcopy(GOOD_INSTALL)
    body["windowsParameters"].update(windows)
    return body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_without("rebootSetting"), "Required parameter 'rebootSetting' is missing (null)."),
        (
            {**GOOD_INSTALL, "rebootSetting": "Sometimes"},
            "The value 'Sometimes' of parameter 'rebootSetting'",
        ),
        (
            {**GOOD_INSTALL, "maximumDuration": "PT5H"},
            "The value 'PT5H' of parameter 'maximumDuration' is out of range",
        ),
        (
            {**GOOD_INSTALL, "maximumDuration": "PT0S"},
            "The value 'PT0S' of parameter 'maximumDuration' is out of range",
        ),
        (
            {**GOOD_INSTALL, "maximumDuration": "4 hours"},
            "The value '4 hours' of parameter 'maximumDuration' is not a valid ISO 8601 duration",
        ),
        (
            _with(classificationsToInclude=["Security Updates"]),
            "The value 'Security Updates' of parameter 'classificationsToInclude' is not valid.",
        ),
        (
            _with(kbNumbersToInclude=["KB-12"]),
            "The value 'KB-12' of parameter 'kbNumbersToInclude' is not a KB number.",
        ),
        (_with(maxPatchPublishDate="yesterday"), "The value 'yesterday' of parameter 'maxPatchPublishDate'"),
        (
            _with(patchNameMasksToInclude=["*;rm*"]),
            "The value '*;rm*' of parameter 'patchNameMasksToInclude'",
        ),
    ],
)
def test_install_patches_rejects_invalid_bodies(fleet_arm: Arm, body: dict[str, Any], message: str) -> None:
    response = fleet_arm.post(fleet_arm.vm("rg-web", "web-01") + "/installPatches", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "InvalidParameter"
    assert response.json()["error"]["message"].startswith(message)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[]",
        json.dumps(_with(excludeKbsRequiringReboot="yes")).encode(),
        json.dumps({**GOOD_INSTALL, "windowsParameters": []}).encode(),
    ],
)
def test_install_patches_rejects_undecodable_bodies(fleet_arm: Arm, raw: bytes) -> None:
    response = fleet_arm.request(
        "POST",
        fleet_arm.vm("rg-web", "web-01") + "/installPatches",
        raw=raw,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "InvalidRequestContent"


@pytest.mark.parametrize("duration", ["PT4H", "PT04H00M00S", "PT90M", "P0DT1H30M"])
def test_install_patches_accepts_iso_durations(arm: Arm, duration: str) -> None:
    arm.sandbox.backend.add_vm("rg1", "vm1")
    result = arm.install("rg1", "vm1", {**GOOD_INSTALL, "maximumDuration": duration})
    assert result["status"] == "Succeeded"


def test_second_patch_operation_on_a_busy_vm_is_409(tmp_path: Path) -> None:
    sandbox = make_sandbox(tmp_path, time_scale=600.0)  # an assessment takes about a second
    try:
        arm = Arm(sandbox)
        sandbox.backend.add_vm("rg1", "vm1")
        sandbox.backend.add_vm("rg1", "vm2")
        path = arm.vm("rg1", "vm1")
        first = arm.post(path + "/assessPatches")
        assert first.status_code == 202
        for second in (arm.post(path + "/assessPatches"), arm.post(path + "/installPatches", GOOD_INSTALL)):
            assert second.status_code == 409
            error = second.json()["error"]
            assert error["code"] == "Conflict"
            assert "conflict with a concurrent request" in error["message"]
        assert (
            arm.post(arm.vm("rg1", "vm2") + "/assessPatches").status_code == 202
        )  # other VMs are not blocked
        arm.poll(first)
        assert arm.post(path + "/assessPatches").status_code == 202  # free again once it is done
    finally:
        sandbox.stop()


def test_not_found_shapes(fleet_arm: Arm) -> None:
    missing_vm = fleet_arm.get(fleet_arm.vm("rg-web", "web-99"))
    assert missing_vm.status_code == 404
    assert missing_vm.json() == {
        "error": {
            "code": "ResourceNotFound",
            "message": "The Resource 'Microsoft.Compute/virtualMachines/web-99' under resource group "
            "'rg-web' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
        }
    }
    for path in (fleet_arm.vm("rg-nope", "web-01"), fleet_arm.vm("rg-nope", "web-01") + "/assessPatches"):
        method = "POST" if path.endswith("Patches") else "GET"
        response = fleet_arm.request(method, path)
        assert response.status_code == 404
        assert response.json()["error"] == {
            "code": "ResourceGroupNotFound",
            "message": "Resource group 'rg-nope' could not be found.",
        }
    for suffix in ("/instanceView", "/assessPatches"):
        method = "POST" if suffix == "/assessPatches" else "GET"
        response = fleet_arm.request(method, fleet_arm.vm("rg-web", "web-99") + suffix)
        assert response.status_code == 404 and response.json()["error"]["code"] == "ResourceNotFound"
    other = fleet_arm.get(
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-web/providers/"
        "Microsoft.Compute/virtualMachines/web-01"
    )
    assert other.status_code == 404 and other.json()["error"]["code"] == "SubscriptionNotFound"
    group = fleet_arm.get(f"/subscriptions/{fleet_arm.sub}/resourcegroups/rg-nope", api_version=RG_API)
    assert group.status_code == 404 and group.json()["error"]["code"] == "ResourceGroupNotFound"
    assert (
        fleet_arm.request(
            "HEAD", f"/subscriptions/{fleet_arm.sub}/resourcegroups/rg-nope", api_version=RG_API
        ).status_code
        == 404
    )
    unknown_type = fleet_arm.get(
        f"/subscriptions/{fleet_arm.sub}/resourceGroups/rg-web/providers/Microsoft.Compute/"
        "virtualMachineWidgets/x"
    )
    assert unknown_type.status_code == 404 and unknown_type.json()["error"]["code"] == "InvalidResourceType"
    operation = fleet_arm.get(
        f"/subscriptions/{fleet_arm.sub}/providers/Microsoft.Compute/locations/eastus/"
        "operations/00000000-0000-0000-0000-000000000000",
        params={"p": "x"},
    )
    assert operation.status_code == 404


def test_image_not_found_and_bad_locations(fleet_arm: Arm) -> None:
    base = f"/subscriptions/{fleet_arm.sub}/providers/Microsoft.Compute/locations"
    for path in (
        "/eastus/publishers/NoSuchPublisher/artifacttypes/vmimage/offers",
        "/eastus/publishers/MicrosoftWindowsServer/artifacttypes/vmimage/offers/NoSuchOffer/skus",
        "/eastus/publishers/MicrosoftWindowsServer/artifacttypes/vmimage/offers/WindowsServer/skus/"
        "2025-datacenter-azure-edition/versions/1.2.3",
        "/northcentralus/publishers/MicrosoftWindowsServer/artifacttypes/vmimage/offers/WindowsServer/skus/"
        "2025-datacenter-azure-edition/versions",
    ):
        response = fleet_arm.get(base + path)
        assert response.status_code == 404, path
        assert response.json()["error"] == {"code": "NotFound", "message": "Artifact: VMImage was not found."}
    bad = fleet_arm.get(base + "/atlantis/publishers")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "LocationNotAvailableForResourceType"
    north = fleet_arm.get(
        base + "/northcentralus/publishers/MicrosoftWindowsServer/artifacttypes/vmimage/offers/"
        "WindowsServer/skus"
    ).json()
    assert not [s for s in north if s["name"].startswith("2025-datacenter-azure-edition")]
    assert [s for s in north if s["name"] == "2022-datacenter-azure-edition-hotpatch"]
    for params in ({"$top": "0"}, {"$top": "x"}, {"$orderby": "date"}):
        response = fleet_arm.get(
            base + "/eastus/publishers/MicrosoftWindowsServer/artifacttypes/vmimage/offers/"
            "WindowsServer/skus/2019-datacenter/versions",
            params=params,
        )
        assert response.status_code == 400, params


def test_front_door_checks(fleet_sandbox: Sandbox, fleet_arm: Arm) -> None:
    path = fleet_arm.vm("rg-web", "web-01")
    no_auth = fleet_arm.get(path, auth=None)
    assert no_auth.status_code == 401
    assert no_auth.json() == {
        "error": {
            "code": "AuthenticationFailed",
            "message": "Authentication failed. The 'Authorization' header is missing.",
        }
    }
    assert no_auth.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    basic = fleet_arm.get(path, auth="Basic dXNlcjpwYXNz")
    assert basic.status_code == 401 and basic.json()["error"]["code"] == "AuthenticationFailedInvalidHeader"
    assert fleet_arm.get(path, auth="Bearer ").status_code == 401
    no_version = fleet_arm.get(path, api_version=None)
    assert no_version.status_code == 400
    assert no_version.json()["error"] == {
        "code": "MissingApiVersionParameter",
        "message": "The api-version query parameter (?api-version=) is required for all requests.",
    }
    assert fleet_arm.get(path, api_version="latest").json()["error"]["code"] == "InvalidApiVersionParameter"
    assert fleet_arm.post(path).status_code == 405
    shouting = path.upper().replace(fleet_arm.sub.upper(), fleet_arm.sub)
    assert fleet_arm.get(shouting).status_code == 200  # ARM paths are case-insensitive
    assert fleet_arm.get(path.replace("resourceGroups", "resourcegroups")).json()["name"] == "web-01"
    before = len(fleet_sandbox.requests())
    log = fleet_arm.session.get(f"{fleet_sandbox.url}/_sandbox/requests", timeout=10)
    assert log.status_code == 200 and len(log.json()) == before
    assert len(fleet_sandbox.requests()) == before  # control paths are not logged
    assert all("?" not in item["path"] for item in log.json())
    last = log.json()[-1]
    assert {k: last[k] for k in ("method", "path", "status")} == {
        "method": "GET",
        "path": path.replace("resourceGroups", "resourcegroups"),
        "status": 200,
    }
    assert log.json()[-2]["at"] <= last["at"]  # when each was answered, in order


_JUNK: list[Any] = [None, 0, -1, 1.5, "", "x", [], {}, [1], {"a": 1}, True, "\u0000", "é" * 300]


def _mutate(rng: random.Random, value: Any, depth: int = 0) -> None:
    """Replace one random leaf or subtree of a JSON value with junk."""
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        if rng.random() < 0.5 and depth < 6:
            _mutate(rng, value[key], depth + 1)
        else:
            value[key] = copy.deepcopy(rng.choice(_JUNK))
    elif isinstance(value, list) and value:
        index = rng.randrange(len(value))
        if rng.random() < 0.5 and depth < 6:
            _mutate(rng, value[index], depth + 1)
        else:
            value[index] = copy.deepcopy(rng.choice(_JUNK))


def test_mangled_bodies_get_arm_errors_never_5xx(tmp_path: Path) -> None:
    budgets = {
        "PutVMResource": 10000,
        "PutVMSubscriptionMaximum": 10000,
        "VMGuestPatchOperationResource": 10000,
        "subscription-writes": 10000,
        "GetOperationResource": 10000,
    }
    sandbox = make_sandbox(tmp_path, fleet=1, budgets=budgets)
    try:
        arm = Arm(sandbox)
        rng = random.Random(11)
        outcomes: dict[int, int] = {}
        for index in range(150):
            body = hotpatch_vm_body()
            for _ in range(rng.randint(1, 3)):
                _mutate(rng, body)
            response = arm.put(arm.vm("rg-web", f"fuzz{index}"), body)
            outcomes[response.status_code] = outcomes.get(response.status_code, 0) + 1
            assert response.status_code in (201, 400, 404, 409), response.text
            if response.status_code >= 400:
                assert set(response.json()["error"]) >= {"code", "message"}
            assert "S3cure!Passw0rd#1" not in response.text
        for _ in range(100):
            body = copy.deepcopy(
                {
                    **GOOD_INSTALL,
                    "windowsParameters": {
                        **GOOD_INSTALL["windowsParameters"],
                        "kbNumbersToInclude": ["5087423"],
                        "maxPatchPublishDate": "2026-06-01T00:00:00Z",
                        "patchNameMasksToExclude": ["*Preview*"],
                    },
                }
            )
            for _ in range(rng.randint(1, 3)):
                _mutate(rng, body)
            response = arm.post(arm.vm("rg-web", "web-01") + "/installPatches", body)
            assert response.status_code in (202, 400), response.text
            if response.status_code == 202:
                assert arm.poll(response)[-1].status_code == 200
        assert outcomes.get(201) and outcomes.get(400)
    finally:
        sandbox.stop()


def test_linux_and_client_images_have_nothing_to_patch(arm: Arm) -> None:
    arm.sandbox.backend.add_resource_group("rg1")
    body = hotpatch_vm_body()
    body["properties"]["storageProfile"]["imageReference"] = {
        "publisher": "Canonical",
        "offer": "ubuntu-24_04-lts",
        "sku": "server",
        "version": "latest",
    }
    body["properties"]["osProfile"] = {
        "computerName": "lin1",
        "adminUsername": "hpadmin",
        "linuxConfiguration": {"disablePasswordAuthentication": True},
    }
    created = arm.put(arm.vm("rg1", "lin1"), body)
    assert created.status_code == 201, created.text
    arm.poll(created)
    assert created.json()["properties"]["storageProfile"]["osDisk"]["osType"] == "Linux"
    result = arm.assess("rg1", "lin1")
    assert result["status"] == "Succeeded" and result["availablePatches"] == []
    assert arm.instance_view("rg1", "lin1")["osName"] == "ubuntu"

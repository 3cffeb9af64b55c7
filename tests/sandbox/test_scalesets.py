"""Scale sets: orchestration modes, Azure's hotpatch refusals, the fleet's seeded sets, the SDK's view."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.mgmt.compute import ComputeManagementClient

from hpctl.sandbox import Sandbox
from hpctl.sandbox.scalesets import MSG_FLEX_NEEDS_HEALTH, MSG_UNIFORM_HOTPATCH
from hpctl.sandbox.vmrules import MSG_HOTPATCH_BYPASS, MSG_PATCHSETTINGS_REQUIRED

from .conftest import Arm

HEALTH = {
    "name": "HealthExtension",
    "properties": {
        "publisher": "Microsoft.ManagedServices",
        "type": "ApplicationHealthWindows",
        "typeHandlerVersion": "2.0",
        "autoUpgradeMinorVersion": True,
        "settings": {"protocol": "tcp", "port": 3389},
    },
}


class FakeCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("t", int(time.time()) + 86400)


def vmss_path(arm: Arm, group: str, name: str) -> str:
    return f"/subscriptions/{arm.sub}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}"


def vmss_body(
    mode: str | None = "Flexible",
    sku: str = "2025-datacenter-azure-edition-core",
    health: bool = True,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A scale set PUT body like `hpctl vmss create` deploys (2026-04-01 Flexible example, hotpatch settings)."""
    patch = {
        "patchMode": "AutomaticByPlatform",
        "enableHotpatching": True,
        "assessmentMode": "AutomaticByPlatform",
        "automaticByPlatformSettings": {
            "rebootSetting": "IfRequired",
            "bypassPlatformSafetyChecksOnUserSchedule": False,
        },
    }
    if settings is not None:
        patch = settings
    props: dict[str, Any] = {
        "virtualMachineProfile": {
            "storageProfile": {
                "imageReference": {
                    "publisher": "MicrosoftWindowsServer",
                    "offer": "WindowsServer",
                    "sku": sku,
                    "version": "latest",
                },
                "osDisk": {"createOption": "FromImage", "managedDisk": {"storageAccountType": "Premium_LRS"}},
            },
            "osProfile": {
                "computerNamePrefix": "api",
                "adminUsername": "hpadmin",
                "adminPassword": "S3cure!Passw0rd#1",
                "windowsConfiguration": {
                    "provisionVMAgent": True,
                    "enableAutomaticUpdates": True,
                    "patchSettings": patch,
                },
            },
            "networkProfile": {
                "networkApiVersion": "2020-11-01",
                "networkInterfaceConfigurations": [
                    {"name": "api-nic", "properties": {"primary": True, "ipConfigurations": [{"name": "ipconfig1"}]}}
                ],
            },
        }
    }
    if health:
        props["virtualMachineProfile"]["extensionProfile"] = {"extensions": [copy.deepcopy(HEALTH)]}
    if mode is not None:
        props["orchestrationMode"] = mode
    if mode == "Flexible":
        props["platformFaultDomainCount"] = 1
        props["singlePlacementGroup"] = False
    else:
        props["upgradePolicy"] = {"mode": "Manual"}
    return {
        "location": "eastus",
        "sku": {"name": "Standard_D2s_v5", "tier": "Standard", "capacity": 2},
        "properties": props,
    }


@pytest.fixture
def group(arm: Arm) -> Arm:
    arm.sandbox.backend.add_resource_group("rg1", "eastus")
    return arm


@pytest.mark.parametrize("mode", ["Uniform", None])
def test_uniform_on_a_hotpatch_image_is_refused(group: Arm, mode: str | None) -> None:
    response = group.put(vmss_path(group, "rg1", "u1"), vmss_body(mode, settings={"patchMode": "AutomaticByOS"}))
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "InvalidParameter",
        "message": MSG_UNIFORM_HOTPATCH,
        "target": "orchestrationMode",
    }
    assert group.get(vmss_path(group, "rg1", "u1")).status_code == 404


def test_flexible_with_automatic_by_platform_needs_the_health_extension(group: Arm) -> None:
    response = group.put(vmss_path(group, "rg1", "f1"), vmss_body(health=False))
    assert response.status_code == 400
    assert response.json()["error"]["message"] == MSG_FLEX_NEEDS_HEALTH
    # Without AutomaticByPlatform there is nothing for the health gate to watch: accepted.
    manual = vmss_body(health=False, sku="2022-datacenter-azure-edition", settings={"patchMode": "AutomaticByOS"})
    assert group.put(vmss_path(group, "rg1", "f2"), manual).status_code == 201


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {
                "patchMode": "AutomaticByPlatform",
                "enableHotpatching": True,
                "automaticByPlatformSettings": {"bypassPlatformSafetyChecksOnUserSchedule": True},
            },
            MSG_HOTPATCH_BYPASS,
        ),
        (None, MSG_PATCHSETTINGS_REQUIRED),
    ],
)
def test_the_vm_hotpatch_rules_apply_to_the_profile(group: Arm, settings: Any, message: str) -> None:
    body = vmss_body()
    windows = body["properties"]["virtualMachineProfile"]["osProfile"]["windowsConfiguration"]
    if settings is None:
        windows.pop("patchSettings")
    else:
        windows["patchSettings"] = settings
    response = group.put(vmss_path(group, "rg1", "r1"), body)
    assert response.status_code == 400 and response.json()["error"]["message"] == message


def test_flexible_hotpatch_set_is_created(group: Arm) -> None:
    created = group.put(vmss_path(group, "rg1", "api"), vmss_body())
    assert created.status_code == 201, created.text
    assert "Azure-AsyncOperation" in created.headers and "Location" not in created.headers
    body = created.json()
    assert body["properties"]["provisioningState"] == "Creating"
    assert body["properties"]["orchestrationMode"] == "Flexible"
    assert "adminPassword" not in body["properties"]["virtualMachineProfile"]["osProfile"]
    assert group.poll(created)[-1].json()["status"] == "Succeeded"
    done = group.get(vmss_path(group, "rg1", "api")).json()
    assert done["properties"]["provisioningState"] == "Succeeded" and done["properties"]["uniqueId"]
    assert done["properties"]["upgradePolicy"] == {"mode": "Manual"}
    settings = done["properties"]["virtualMachineProfile"]["osProfile"]["windowsConfiguration"]["patchSettings"]
    assert settings["enableHotpatching"] is True
    # orchestrationMode cannot change after creation.
    changed = group.put(vmss_path(group, "rg1", "api"), vmss_body("Uniform", sku="2019-datacenter", health=False))
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "PropertyChangeNotAllowed"
    updates = group.patch(
        vmss_path(group, "rg1", "api"),
        {
            "properties": {
                "virtualMachineProfile": {"osProfile": {"windowsConfiguration": {"enableAutomaticUpdates": False}}}
            }
        },
    )
    assert updates.status_code == 409 and updates.json()["error"]["code"] == "PropertyChangeNotAllowed"


def test_uniform_without_a_mode_is_echoed_without_one(group: Arm) -> None:
    settings = {"patchMode": "AutomaticByOS"}
    omitted = group.put(vmss_path(group, "rg1", "old"), vmss_body(None, "2019-datacenter", False, settings))
    assert omitted.status_code == 201, omitted.text
    assert "orchestrationMode" not in omitted.json()["properties"]  # the 2026-04-01 Uniform example: not echoed
    explicit = group.put(vmss_path(group, "rg1", "new"), vmss_body("Uniform", "2019-datacenter", False, settings))
    assert explicit.json()["properties"]["orchestrationMode"] == "Uniform"


def test_fleet_has_seeded_scale_sets_the_sdk_lists(fleet_sandbox: Sandbox, fleet_arm: Arm) -> None:
    client = ComputeManagementClient(
        FakeCredential(),
        fleet_sandbox.subscription_id,
        base_url=fleet_sandbox.url,
        connection_verify=fleet_sandbox.ca_file,
    )
    sets = {s.name: s for s in client.virtual_machine_scale_sets.list_all()}
    assert set(sets) == {"api-flex", "api-flex-nohealth", "legacy-uniform", "app-uniform-2019"}
    assert sets["api-flex"].orchestration_mode == "Flexible"
    assert sets["api-flex"].virtual_machine_profile.extension_profile.extensions[0].name == "HealthExtension"
    assert sets["api-flex-nohealth"].virtual_machine_profile.extension_profile is None
    assert sets["legacy-uniform"].orchestration_mode is None  # missing means Uniform
    assert sets["legacy-uniform"].virtual_machine_profile.storage_profile.image_reference.sku == (
        "2022-datacenter-azure-edition-core"
    )
    assert sets["app-uniform-2019"].orchestration_mode == "Uniform"
    in_api = [s.name for s in client.virtual_machine_scale_sets.list("rg-api")]
    assert in_api == ["api-flex", "api-flex-nohealth"]
    raw = fleet_arm.get(vmss_path(fleet_arm, "rg-legacy", "legacy-uniform")).json()
    assert "orchestrationMode" not in raw["properties"]
    assert raw["properties"]["provisioningState"] == "Succeeded"
    subnet = raw["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]
    subnet_id = subnet["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"]
    assert fleet_arm.get(subnet_id, api_version="2023-11-01").status_code == 200  # the seeded VNet's subnet
    missing = fleet_arm.get(vmss_path(fleet_arm, "rg-api", "nope"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ResourceNotFound"


def test_small_fleets_have_no_scale_sets(sandbox: Sandbox) -> None:
    assert sandbox.backend.scalesets.list() == []


FLEX_HOTPATCH_REQUIRED = (
    "'EnableHotpatching' must be set to 'true' on Virtual Machine Scale Sets running Hotpatch-compatible images."
)


def _settings_without_hotpatch(value: bool | None) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "patchMode": "AutomaticByPlatform",
        "assessmentMode": "AutomaticByPlatform",
        "automaticByPlatformSettings": {"rebootSetting": "IfRequired",
                                        "bypassPlatformSafetyChecksOnUserSchedule": False},
    }
    if value is not None:
        settings["enableHotpatching"] = value
    return settings


@pytest.mark.parametrize("value", [False, None])
def test_flexible_set_on_a_hotpatch_image_cannot_turn_hotpatch_off(group: Arm, value: bool | None) -> None:
    # Azure's own text (a Microsoft engineer on terraform-provider-azurerm#24335, azure-wire.md §9.6).
    refused = group.put(vmss_path(group, "rg1", "h1"), vmss_body(settings=_settings_without_hotpatch(value)))
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["code"], error["message"]) == ("InvalidParameter", FLEX_HOTPATCH_REQUIRED)
    assert group.get(vmss_path(group, "rg1", "h1")).status_code == 404
    # An existing hotpatch set: a PATCH that leaves enableHotpatching out or false is refused too.
    created = group.put(vmss_path(group, "rg1", "h2"), vmss_body())
    assert created.status_code == 201, created.text
    group.poll(created)
    off = {"properties": {"virtualMachineProfile": {"osProfile": {"windowsConfiguration": {
        "patchSettings": _settings_without_hotpatch(value)}}}}}
    patched = group.patch(vmss_path(group, "rg1", "h2"), off)
    assert patched.status_code == 400 and patched.json()["error"]["message"] == FLEX_HOTPATCH_REQUIRED
    stored = group.get(vmss_path(group, "rg1", "h2")).json()["properties"]["virtualMachineProfile"]
    assert stored["osProfile"]["windowsConfiguration"]["patchSettings"]["enableHotpatching"] is True
    # On an image that can't hotpatch the same settings are fine.
    plain = vmss_body(sku="2022-datacenter-azure-edition", settings=_settings_without_hotpatch(value))
    assert group.put(vmss_path(group, "rg1", "h3"), plain).status_code == 201

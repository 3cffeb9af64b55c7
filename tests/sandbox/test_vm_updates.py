"""VM PATCH/PUT updates: Azure's patch-mode transition rules and create-only properties, and enabling hotpatch."""

from __future__ import annotations

import time
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.mgmt.compute import ComputeManagementClient

from hpctl.sandbox.vmrules import MSG_HOTPATCH_REQUIRES

from .conftest import Arm

AE_CORE = "MicrosoftWindowsServer:WindowsServer:2022-datacenter-azure-edition-core:latest"
MSG_AUTOMATIC_BY_OS = (
    "The patchMode 'AutomaticByOS' is invalid. For patchMode 'AutomaticByOS', the property "
    "'enableAutomaticUpdates' must be set to true."
)
MSG_MANUAL = (
    "The patchMode 'Manual' is invalid. For patchMode 'Manual', the property 'enableAutomaticUpdates' must be "
    "set to false."
)


class FakeCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("t", int(time.time()) + 86400)


def windows(**values: Any) -> dict[str, Any]:
    return {"properties": {"osProfile": {"windowsConfiguration": values}}}


def settings(**values: Any) -> dict[str, Any]:
    return windows(patchSettings=values)


@pytest.fixture
def vms(arm: Arm) -> Arm:
    add = arm.sandbox.backend.add_vm
    add("rg1", "byos", image=AE_CORE, patch_mode="AutomaticByOS")  # enableAutomaticUpdates true
    add("rg1", "manual", image=AE_CORE, patch_mode="Manual")  # enableAutomaticUpdates false
    add("rg1", "abp-off", image=AE_CORE, enable_automatic_updates=False)  # hotpatch on, updates false
    add("rg1", "abp-on", image=AE_CORE)  # hotpatch on, updates true
    return arm


@pytest.mark.parametrize(
    ("vm", "body", "status", "code", "message"),
    [
        (
            "abp-on",
            windows(enableAutomaticUpdates=False),
            409,
            "PropertyChangeNotAllowed",
            "Changing property 'windowsConfiguration.enableAutomaticUpdates' is not allowed.",
        ),
        (
            "abp-on",
            windows(provisionVMAgent=False),
            409,
            "PropertyChangeNotAllowed",
            "Changing property 'windowsConfiguration.provisionVMAgent' is not allowed.",
        ),
        # AutomaticByPlatform -> Manual needs enableAutomaticUpdates false, which this VM cannot change to.
        ("abp-on", settings(patchMode="Manual", enableHotpatching=False), 400, "InvalidParameter", MSG_MANUAL),
        # AutomaticByPlatform -> AutomaticByOS needs enableAutomaticUpdates true.
        (
            "abp-off",
            settings(patchMode="AutomaticByOS", enableHotpatching=False),
            400,
            "InvalidParameter",
            MSG_AUTOMATIC_BY_OS,
        ),
        # AutomaticByOS <-> Manual is never possible: enableAutomaticUpdates would have to change.
        ("byos", settings(patchMode="Manual"), 400, "InvalidParameter", MSG_MANUAL),
        ("manual", settings(patchMode="AutomaticByOS"), 400, "InvalidParameter", MSG_AUTOMATIC_BY_OS),
        # Hotpatch only under AutomaticByPlatform.
        ("byos", settings(enableHotpatching=True), 400, "InvalidParameter", MSG_HOTPATCH_REQUIRES),
        ("abp-on", settings(patchMode="AutomaticByOS"), 400, "InvalidParameter", MSG_HOTPATCH_REQUIRES),
    ],
)
def test_patch_mode_transition_rules(
    vms: Arm, vm: str, body: dict[str, Any], status: int, code: str, message: str
) -> None:
    before = vms.get(vms.vm("rg1", vm)).json()
    response = vms.patch(vms.vm("rg1", vm), body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["message"]) == (code, message)
    assert vms.get(vms.vm("rg1", vm)).json()["properties"] == before["properties"]  # nothing changed


@pytest.mark.parametrize(
    ("vm", "body", "mode"),
    [
        ("abp-off", settings(patchMode="Manual", enableHotpatching=False), "Manual"),
        ("manual", settings(patchMode="AutomaticByPlatform"), "AutomaticByPlatform"),
        ("abp-on", settings(patchMode="AutomaticByOS", enableHotpatching=False), "AutomaticByOS"),
    ],
)
def test_allowed_transitions(vms: Arm, vm: str, body: dict[str, Any], mode: str) -> None:
    response = vms.patch(vms.vm("rg1", vm), body)
    assert response.status_code == 200, response.text
    assert vms.poll(response)[-1].json()["status"] == "Succeeded"
    assert vms.get(vms.vm("rg1", vm)).json()["properties"]["osProfile"]["windowsConfiguration"]["patchSettings"][
        "patchMode"
    ] == mode


def test_enable_hotpatch_on_an_automatic_by_os_vm_through_the_sdk(vms: Arm) -> None:
    """What `hpctl vm enable-hotpatch` sends: a PATCH via begin_update; CRP answers 200 + Azure-AsyncOperation."""
    sandbox = vms.sandbox
    client = ComputeManagementClient(
        FakeCredential(),
        sandbox.subscription_id,
        base_url=sandbox.url,
        connection_verify=sandbox.ca_file,
        polling_interval=0.05,
    )
    assert not sandbox.backend.vm("rg1", "byos").enrolled
    body = settings(
        patchMode="AutomaticByPlatform",
        enableHotpatching=True,
        assessmentMode="AutomaticByPlatform",
        automaticByPlatformSettings={"rebootSetting": "IfRequired", "bypassPlatformSafetyChecksOnUserSchedule": False},
    )
    vm = client.virtual_machines.begin_update("rg1", "byos", body).result()
    result = vm.os_profile.windows_configuration
    assert result.enable_automatic_updates is True
    assert (result.patch_settings.patch_mode, result.patch_settings.enable_hotpatching) == ("AutomaticByPlatform", True)
    assert vm.provisioning_state == "Succeeded"
    assert sandbox.backend.vm("rg1", "byos").enrolled
    patch_log = [{k: r[k] for k in ("method", "path", "status")} for r in sandbox.requests() if r["method"] == "PATCH"]
    assert patch_log == [{"method": "PATCH", "path": vms.vm("rg1", "byos"), "status": 200}]
    with pytest.raises(ResourceExistsError) as caught:  # the SDK maps CRP's 409 to ResourceExistsError
        client.virtual_machines.begin_update("rg1", "byos", windows(enableAutomaticUpdates=False)).result()
    assert caught.value.error.code == "PropertyChangeNotAllowed"
    with pytest.raises(HttpResponseError) as refused:
        client.virtual_machines.begin_update("rg1", "manual", settings(patchMode="AutomaticByOS")).result()
    assert refused.value.status_code == 400 and refused.value.error.message == MSG_AUTOMATIC_BY_OS


def test_a_put_update_applies_the_same_rules(vms: Arm) -> None:
    body = vms.get(vms.vm("rg1", "abp-on")).json()
    body["properties"]["osProfile"]["windowsConfiguration"]["enableAutomaticUpdates"] = False
    response = vms.put(vms.vm("rg1", "abp-on"), body)
    assert response.status_code == 409 and response.json()["error"]["code"] == "PropertyChangeNotAllowed"

"""The real Azure SDK (azure-mgmt-compute 39.0.0, azure-mgmt-resource 26.0.0) driven against the sandbox."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import VirtualMachineInstallPatchesParameters, WindowsParameters
from azure.mgmt.resource.resources import ResourceManagementClient

from hpctl.sandbox import Sandbox

from .conftest import hotpatch_vm_body, make_sandbox


class FakeCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("t", int(time.time()) + 86400)


def compute_client(sandbox: Sandbox, **kw: Any) -> ComputeManagementClient:
    return ComputeManagementClient(
        FakeCredential(),
        sandbox.subscription_id,
        base_url=sandbox.url,
        connection_verify=sandbox.ca_file,
        polling_interval=0.05,
        **kw,
    )


def test_assess_and_install_through_the_sdk_lro(fleet_sandbox: Sandbox) -> None:
    client = compute_client(fleet_sandbox)
    assessed = client.virtual_machines.begin_assess_patches("rg-web", "web-02").result()
    # Parsed from the Location (monitor) body: the result fields are filled, not left under properties.output.
    assert assessed.status == "Succeeded"
    assert assessed.critical_and_security_patch_count == 1
    assert assessed.assessment_activity_id
    hotpatch = [p for p in assessed.available_patches if p.classifications == ["Security"]]
    assert hotpatch and hotpatch[0].reboot_behavior == "NeverReboots"

    params = VirtualMachineInstallPatchesParameters(
        maximum_duration=dt.timedelta(hours=4),
        reboot_setting="IfRequired",
        windows_parameters=WindowsParameters(classifications_to_include=["Critical", "Security"]),
    )
    installed = client.virtual_machines.begin_install_patches("rg-web", "web-02", params).result()
    assert installed.status == "Succeeded"
    assert installed.installed_patch_count == 1
    assert installed.excluded_patch_count is not None and installed.excluded_patch_count >= 1
    assert installed.reboot_status == "NotNeeded"
    assert installed.error.code == "Success"

    vm = client.virtual_machines.get("rg-web", "web-02", expand="instanceView")
    summary = vm.instance_view.patch_status.available_patch_summary
    assert summary.critical_and_security_patch_count == 0
    # web-02 was on the April 2026 baseline; the May hotpatch KB5087424 moves it to 20348.5074 with no reboot.
    assert hotpatch[0].kb_id == "5087424"
    assert vm.instance_view.os_version == "10.0.20348.5074"


def test_sdk_create_vm_with_hotpatch_then_list_paged(sandbox: Sandbox) -> None:
    resources = ResourceManagementClient(
        FakeCredential(), sandbox.subscription_id, base_url=sandbox.url, connection_verify=sandbox.ca_file
    )
    group = resources.resource_groups.create_or_update("rg-new", {"location": "eastus"})
    assert group.properties.provisioning_state == "Succeeded"
    assert resources.resource_groups.check_existence("rg-new") is True
    assert resources.resource_groups.check_existence("rg-nope") is False

    client = compute_client(sandbox)
    vm = client.virtual_machines.begin_create_or_update("rg-new", "vm1", hotpatch_vm_body()).result()
    assert vm.provisioning_state == "Succeeded"
    settings = vm.os_profile.windows_configuration.patch_settings
    assert settings.enable_hotpatching is True and settings.patch_mode == "AutomaticByPlatform"
    assert vm.os_profile.admin_password is None
    assert vm.storage_profile.image_reference.exact_version.startswith("26100.")

    for index in range(2, 62):
        sandbox.backend.add_vm("rg-new", f"vm{index}")
    names = [v.name for v in client.virtual_machines.list("rg-new")]
    assert len(names) == 61 and len(set(names)) == 61
    assert len(list(client.virtual_machines.list_all())) == 61
    pages = [r for r in sandbox.requests() if r["path"].endswith("/virtualMachines")]
    assert len([r for r in pages if "/resourceGroups/" in r["path"]]) == 2  # 50 + 11: one nextLink

    updated = client.virtual_machines.begin_update("rg-new", "vm1", {"tags": {"env": "prod"}}).result()
    assert updated.tags == {"env": "prod"} and updated.provisioning_state == "Succeeded"
    client.virtual_machines.begin_delete("rg-new", "vm1").result()
    with pytest.raises(ResourceNotFoundError):
        client.virtual_machines.get("rg-new", "vm1")


def test_sdk_errors_map_to_azure_core_exceptions(tmp_path: Path) -> None:
    sandbox = make_sandbox(tmp_path, fleet=5, time_scale=600.0)  # assessments take about a second
    try:
        client = compute_client(sandbox, retry_total=0)
        with pytest.raises(ResourceNotFoundError) as missing:
            client.virtual_machines.get("rg-web", "web-99")
        assert missing.value.error.code == "ResourceNotFound"

        poller = client.virtual_machines.begin_assess_patches("rg-web", "web-01")
        with pytest.raises(ResourceExistsError) as busy:
            client.virtual_machines.begin_assess_patches("rg-web", "web-01")
        assert busy.value.status_code == 409
        poller.result()

        sandbox.fail_next_operation(
            r"web-01/installPatches$",
            code="InternalExecutionError",
            message="An internal execution error occurred. Please retry later.",
        )
        params = VirtualMachineInstallPatchesParameters(
            reboot_setting="Never",
            windows_parameters=WindowsParameters(classifications_to_include=["Security"]),
        )
        with pytest.raises(HttpResponseError) as failed:
            client.virtual_machines.begin_install_patches(
                "rg-web", "web-01", params, polling_interval=0.2
            ).result()
        assert "InternalExecutionError" in str(failed.value)
    finally:
        sandbox.stop()


def test_sdk_lists_images(fleet_sandbox: Sandbox) -> None:
    client = compute_client(fleet_sandbox)
    skus = [
        s.name
        for s in client.virtual_machine_images.list_skus("eastus", "MicrosoftWindowsServer", "WindowsServer")
    ]
    assert "2025-datacenter-azure-edition" in skus and "2022-datacenter-azure-edition" in skus
    versions = client.virtual_machine_images.list(
        "eastus",
        "MicrosoftWindowsServer",
        "WindowsServer",
        "2022-datacenter-azure-edition-hotpatch",
        top=1,
        orderby="name desc",
    )
    assert len(versions) == 1
    image = client.virtual_machine_images.get(
        "eastus",
        "MicrosoftWindowsServer",
        "WindowsServer",
        "2022-datacenter-azure-edition-hotpatch",
        versions[0].name,
    )
    assert image.hyper_v_generation == "V2"
    assert image.os_disk_image.operating_system == "Windows"

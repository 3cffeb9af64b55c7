"""Resource-group deployments of the repo's templates: SDK round trips, wire shapes, validation and failures."""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.resource.deployments import DeploymentsMgmtClient

from hpctl.sandbox import Sandbox
from hpctl.sandbox.deployments import MSG_DEPLOYMENT_FAILED, MSG_TERMINAL_FAILED
from hpctl.sandbox.vmrules import MSG_HOTPATCH_BYPASS

from .conftest import Arm, make_sandbox

REPO = Path(__file__).resolve().parents[2]
DEPLOY_API = "2026-06-01"
PASSWORD = "S3cure!Passw0rd#1"


class FakeCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("t", int(time.time()) + 86400)


def deployments_client(sandbox: Sandbox) -> DeploymentsMgmtClient:
    return DeploymentsMgmtClient(
        FakeCredential(),
        sandbox.subscription_id,
        base_url=sandbox.url,
        connection_verify=sandbox.ca_file,
        polling_interval=0.05,
    )


def compute_client(sandbox: Sandbox) -> ComputeManagementClient:
    return ComputeManagementClient(
        FakeCredential(),
        sandbox.subscription_id,
        base_url=sandbox.url,
        connection_verify=sandbox.ca_file,
        polling_interval=0.05,
    )


def load(name: str) -> dict[str, Any]:
    return json.loads((REPO / "templates" / name).read_text())


def vm_parameters(name: str = "web-09", **extra: Any) -> dict[str, Any]:
    values = {"vmName": name, "adminUsername": "hpadmin", "adminPassword": PASSWORD, **extra}
    return {key: {"value": value} for key, value in values.items()}


def deployment_body(template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    return {"properties": {"mode": "Incremental", "template": template, "parameters": parameters}}


def deployment_path(arm: Arm, group: str, name: str) -> str:
    return f"/subscriptions/{arm.sub}/resourcegroups/{group}/providers/Microsoft.Resources/deployments/{name}"


def network_path(arm: Arm, group: str, type_name: str, name: str) -> str:
    return f"/subscriptions/{arm.sub}/resourceGroups/{group}/providers/Microsoft.Network/{type_name}/{name}"


def wait_for(arm: Arm, response: Any) -> list[dict[str, Any]]:
    """Poll a deployment's Azure-AsyncOperation to its end; the status bodies seen."""
    seen = []
    deadline = time.monotonic() + 20
    while True:
        poll = arm.get(response.headers["Azure-AsyncOperation"], api_version=None)
        assert poll.status_code == 200, poll.text
        seen.append(poll.json())
        if seen[-1]["status"] != "Running":
            return seen
        assert time.monotonic() < deadline
        time.sleep(0.02)


@pytest.fixture
def world(sandbox: Sandbox) -> Sandbox:
    sandbox.backend.add_resource_group("rg-new", "westeurope")
    return sandbox


def test_vm_template_deploys_a_secure_hotpatch_vm_through_the_sdk(world: Sandbox, arm: Arm) -> None:
    client = deployments_client(world)
    result = client.deployments.begin_create_or_update(
        "rg-new", "hpctl-vm-web-09", deployment_body(load("hotpatch-vm.json"), vm_parameters())
    ).result()
    props = result.properties
    assert props.provisioning_state == "Succeeded"
    assert props.mode == "Incremental" and props.correlation_id and props.template_hash.isdigit()
    assert re.fullmatch(r"PT(\d+M)?[\d.]+S", props.duration)
    assert props.parameters["adminPassword"] == {"type": "SecureString"}  # never echoed
    assert props.parameters["vmName"] == {"type": "String", "value": "web-09"}
    assert props.outputs["patchSettings"]["value"]["enableHotpatching"] is True
    assert props.outputs["vmId"]["value"].endswith("/virtualMachines/web-09")
    kinds = sorted(r.id.split("/providers/")[1].rsplit("/", 1)[0] for r in props.output_resources)
    assert kinds == [
        "Microsoft.Compute/virtualMachines",
        "Microsoft.Network/networkInterfaces",
        "Microsoft.Network/networkSecurityGroups",
        "Microsoft.Network/virtualNetworks",
    ]  # no public IP by default
    namespaces = {p.namespace for p in props.providers}
    assert namespaces == {"Microsoft.Network", "Microsoft.Compute"}

    vm = compute_client(world).virtual_machines.get("rg-new", "web-09", expand="instanceView")
    settings = vm.os_profile.windows_configuration.patch_settings
    assert (settings.patch_mode, settings.enable_hotpatching, settings.assessment_mode) == (
        "AutomaticByPlatform",
        True,
        "AutomaticByPlatform",
    )
    assert settings.automatic_by_platform_settings.bypass_platform_safety_checks_on_user_schedule is False
    assert vm.security_profile.security_type == "TrustedLaunch"
    assert vm.security_profile.uefi_settings.secure_boot_enabled and vm.security_profile.uefi_settings.v_tpm_enabled
    assert vm.os_profile.windows_configuration.provision_vm_agent is True
    assert vm.location == "westeurope" and vm.provisioning_state == "Succeeded"
    assert vm.instance_view.os_version.startswith("10.0.26100.")  # a 2025 build, like the fleet's VMs
    assert "web-09" in [v.name for v in compute_client(world).virtual_machines.list_all()]

    nsg = arm.get(network_path(arm, "rg-new", "networkSecurityGroups", "web-09-nsg"), api_version="2023-11-01")
    assert nsg.status_code == 200 and nsg.json()["properties"]["securityRules"] == []  # no inbound RDP
    nic = arm.get(network_path(arm, "rg-new", "networkInterfaces", "web-09-nic"), api_version="2023-11-01").json()
    config = nic["properties"]["ipConfigurations"][0]["properties"]
    assert config["privateIPAddress"] == "10.0.0.4" and "publicIPAddress" not in config
    assert nic["properties"]["virtualMachine"]["id"] == vm.id
    subnet = arm.get(
        network_path(arm, "rg-new", "virtualNetworks", "web-09-vnet") + "/subnets/default", api_version="2023-11-01"
    ).json()
    assert subnet["properties"]["networkSecurityGroup"]["id"].endswith("/networkSecurityGroups/web-09-nsg")
    pip = arm.get(network_path(arm, "rg-new", "publicIPAddresses", "web-09-pip"), api_version="2023-11-01")
    assert pip.status_code == 404 and pip.json()["error"]["code"] == "ResourceNotFound"

    operations = list(client.deployment_operations.list("rg-new", "hpctl-vm-web-09"))
    assert [o.properties.provisioning_operation for o in operations][0] == "EvaluateDeploymentOutput"
    created = sorted(o.properties.target_resource.resource_type for o in operations[1:])
    assert created == kinds
    assert all(o.properties.provisioning_state == "Succeeded" for o in operations)


def test_public_ip_and_rdp_rule_only_when_asked(world: Sandbox, arm: Arm) -> None:
    client = deployments_client(world)
    parameters = vm_parameters("web-10", createPublicIp=True, rdpSourceAddressPrefix="203.0.113.0/24", zone="2")
    client.deployments.begin_create_or_update(
        "rg-new", "d-web-10", deployment_body(load("hotpatch-vm.json"), parameters)
    ).result()
    rules = arm.get(network_path(arm, "rg-new", "networkSecurityGroups", "web-10-nsg")).json()["properties"]
    assert [(r["properties"]["sourceAddressPrefix"], r["properties"]["destinationPortRange"]) for r in
            rules["securityRules"]] == [("203.0.113.0/24", "3389")]
    pip = arm.get(network_path(arm, "rg-new", "publicIPAddresses", "web-10-pip")).json()
    assert pip["sku"]["name"] == "Standard" and pip["zones"] == ["2"] and pip["properties"]["ipAddress"]
    nic = arm.get(network_path(arm, "rg-new", "networkInterfaces", "web-10-nic")).json()
    assert nic["properties"]["ipConfigurations"][0]["properties"]["publicIPAddress"]["id"] == pip["id"]
    assert compute_client(world).virtual_machines.get("rg-new", "web-10").zones == ["2"]


def test_vmss_template_deploys_a_flexible_set_with_the_health_extension(world: Sandbox) -> None:
    parameters = {
        "vmssName": {"value": "api"},
        "adminUsername": {"value": "hpadmin"},
        "adminPassword": {"value": PASSWORD},
        "computerNamePrefix": {"value": "api"},
        "instanceCount": {"value": 2},
        "zones": {"value": ["1", "2"]},
    }
    result = deployments_client(world).deployments.begin_create_or_update(
        "rg-new", "hpctl-vmss-api", deployment_body(load("hotpatch-vmss-flex.json"), parameters)
    ).result()
    assert result.properties.provisioning_state == "Succeeded"
    assert result.properties.outputs["patchSettings"]["value"]["enableHotpatching"] is True
    compute = compute_client(world)
    vmss = compute.virtual_machine_scale_sets.get("rg-new", "api")
    assert vmss.orchestration_mode == "Flexible" and vmss.provisioning_state == "Succeeded"
    extension = vmss.virtual_machine_profile.extension_profile.extensions[0]
    assert (extension.properties.publisher, extension.properties.type) == (
        "Microsoft.ManagedServices",
        "ApplicationHealthWindows",
    )
    settings = vmss.virtual_machine_profile.os_profile.windows_configuration.patch_settings
    assert settings.enable_hotpatching is True and settings.patch_mode == "AutomaticByPlatform"
    assert vmss.virtual_machine_profile.os_profile.admin_password is None
    # A Flexible set's instances are ordinary VMs, listed with the others and spread over the zones.
    members = [vm for vm in compute.virtual_machines.list("rg-new") if vm.virtual_machine_scale_set]
    assert len(members) == 2 and sorted(vm.zones[0] for vm in members) == ["1", "2"]
    assert all(vm.name.startswith("api_") and vm.os_profile.computer_name.startswith("api") for vm in members)


def test_deployment_wire_shapes(world: Sandbox, arm: Arm) -> None:
    path = deployment_path(arm, "rg-new", "d1")
    body = deployment_body(load("hotpatch-vm.json"), vm_parameters("vm1"))
    created = arm.put(path, body, api_version=DEPLOY_API)
    assert created.status_code == 201, created.text
    assert created.reason == "Created"
    async_url = created.headers["Azure-AsyncOperation"]
    assert re.fullmatch(
        rf"{re.escape(world.url or '')}/subscriptions/{arm.sub}/resourcegroups/rg-new/providers/Microsoft.Resources/"
        rf"deployments/d1/operationStatuses/\d{{20}}\?api-version={DEPLOY_API}",
        async_url,
    )
    assert "Location" not in created.headers
    accepted = created.json()
    assert accepted["id"] == (
        f"/subscriptions/{arm.sub}/resourceGroups/rg-new/providers/Microsoft.Resources/deployments/d1"
    )
    assert accepted["type"] == "Microsoft.Resources/deployments"
    assert accepted["properties"]["provisioningState"] == "Accepted"
    assert list(accepted["properties"])[:4] == ["templateHash", "parameters", "mode", "provisioningState"]
    assert "outputResources" not in accepted["properties"] and accepted["properties"]["dependencies"]
    assert created.text.startswith('{"id":')  # ARM writes compact JSON
    statuses = wait_for(arm, created)
    assert statuses[-1] == {"status": "Succeeded"} and all(s == {"status": "Running"} for s in statuses[:-1])
    done = arm.get(path, api_version=DEPLOY_API).json()["properties"]
    assert done["provisioningState"] == "Succeeded" and done["outputs"]["vmId"]["type"] == "String"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", done["timestamp"])
    # The same name again is a re-deployment: 200, a new run.
    again = arm.put(path, body, api_version=DEPLOY_API)
    assert again.status_code == 200 and again.headers["Azure-AsyncOperation"] != async_url
    assert wait_for(arm, again)[-1] == {"status": "Succeeded"}
    listed = arm.get(path.rsplit("/", 1)[0], api_version=DEPLOY_API).json()["value"]
    assert [d["name"] for d in listed] == ["d1"]
    assert arm.request("HEAD", path, api_version=DEPLOY_API).status_code == 204
    assert arm.request("HEAD", path + "x", api_version=DEPLOY_API).status_code == 404
    missing = arm.get(path + "x", api_version=DEPLOY_API)
    assert missing.status_code == 404 and missing.json()["error"] == {
        "code": "DeploymentNotFound",
        "message": "Deployment 'd1x' could not be found.",
    }
    # The old run's status URL still answers with how that run ended.
    assert arm.get(async_url, api_version=None).json() == {"status": "Succeeded"}
    no_group = arm.put(deployment_path(arm, "rg-nope", "d1"), body, api_version=DEPLOY_API)
    assert no_group.status_code == 404 and no_group.json()["error"]["code"] == "ResourceGroupNotFound"


def _edit_vm(template: dict[str, Any], edit: Any) -> dict[str, Any]:
    doc = copy.deepcopy(template)
    edit(doc)
    return doc


def _set_var(doc: dict[str, Any], name: str, value: Any) -> None:
    doc["variables"][name] = value


@pytest.mark.parametrize(
    ("edit", "parameters", "message"),
    [
        (
            lambda t: _set_var(t, "nsgName", "[formatx('{0}-nsg', parameters('vmName'))]"),
            vm_parameters(),
            "The template variable 'nsgName' is not valid: The template function 'formatx' is not valid.",
        ),
        (
            lambda t: t["resources"][-1]["properties"]["hardwareProfile"].update(vmSize="[parameters('size')]"),
            vm_parameters(),
            "is not valid: The template parameter 'size' is not found.",
        ),
        (
            lambda t: None,
            {k: v for k, v in vm_parameters().items() if k != "adminPassword"},
            "The value for the template parameter 'adminPassword' at line '",
        ),
        (
            lambda t: None,
            vm_parameters(imageSku="2022-datacenter-azure-edition"),
            "The provided value for the template parameter 'imageSku' is not valid. The value "
            "'2022-datacenter-azure-edition' is not part of the allowed value(s)",
        ),
        (
            lambda t: None,
            vm_parameters(createPublicIp="yes"),
            "Template parameter JToken type is not valid. Expected 'Boolean'. Actual 'String'.",
        ),
        (lambda t: None, vm_parameters(colour="blue"), "The template parameters 'colour' in the parameters file"),
    ],
)
def test_template_errors_are_invalid_template_400s_and_create_nothing(
    world: Sandbox, arm: Arm, edit: Any, parameters: dict[str, Any], message: str
) -> None:
    template = _edit_vm(load("hotpatch-vm.json"), edit)
    with pytest.raises(HttpResponseError) as caught:
        deployments_client(world).deployments.begin_create_or_update(
            "rg-new", "bad", deployment_body(template, parameters)
        )
    error = caught.value
    assert error.status_code == 400 and error.error.code == "InvalidTemplate"
    assert error.error.message.startswith("Deployment template validation failed: '")
    assert message in error.error.message
    assert error.error.additional_info[0].type == "TemplateViolation"
    # ARM validates before anything runs: no deployment record, no resource.
    assert arm.get(deployment_path(arm, "rg-new", "bad"), api_version=DEPLOY_API).status_code == 404
    assert world.backend.network.ids_in("rg-new") == [] and world.backend.compute.list("rg-new") == []
    assert [r["status"] for r in world.requests() if "/deployments/" in r["path"]] == [400, 404]


def test_missing_parameter_points_at_its_line_and_column(world: Sandbox, arm: Arm) -> None:
    parameters = {k: v for k, v in vm_parameters().items() if k != "adminPassword"}
    raw = json.dumps(deployment_body(load("hotpatch-vm.json"), parameters), indent=2).encode()
    response = arm.request(
        "PUT",
        deployment_path(arm, "rg-new", "bad"),
        raw=raw,
        api_version=DEPLOY_API,
        headers={"Content-Type": "application/json"},
    )
    error = response.json()["error"]
    line = next(i for i, text in enumerate(raw.decode().splitlines(), 1) if '"adminPassword": {' in text)
    assert f"at line '{line}' and column '" in error["message"]
    assert error["additionalInfo"][0]["info"]["path"] == "properties.template.parameters.adminPassword"
    assert error["additionalInfo"][0]["info"]["lineNumber"] == line


def test_null_parameter_value_and_bad_requests(world: Sandbox, arm: Arm) -> None:
    path = deployment_path(arm, "rg-new", "bad")
    null = arm.put(path, deployment_body(load("hotpatch-vm.json"), {"vmName": {"value": None}}), api_version=DEPLOY_API)
    assert null.status_code == 400 and null.json()["error"] == {
        "code": "InvalidDeploymentParameterValue",
        "message": "The value of deployment parameter 'vmName' is null.",
    }
    no_mode = arm.put(path, {"properties": {"template": load("hotpatch-vm.json")}}, api_version=DEPLOY_API)
    assert no_mode.status_code == 400 and no_mode.json()["error"]["code"] == "InvalidRequestContent"
    link = arm.put(
        path,
        {"properties": {"mode": "Incremental", "templateLink": {"uri": "https://example.com/t.json"}}},
        api_version=DEPLOY_API,
    )
    assert link.status_code == 400 and link.json()["error"]["code"] == "InvalidContentLink"
    name = arm.put(deployment_path(arm, "rg-new", "bad name"), {}, api_version=DEPLOY_API)
    assert name.status_code == 400 and name.json()["error"]["code"] == "InvalidDeploymentName"


def test_a_vm_that_breaks_a_hotpatch_rule_fails_the_deployment_with_the_vms_message(world: Sandbox, arm: Arm) -> None:
    template = load("hotpatch-vm.json")
    settings = template["resources"][-1]["properties"]["osProfile"]["windowsConfiguration"]["patchSettings"]
    settings["automaticByPlatformSettings"]["bypassPlatformSafetyChecksOnUserSchedule"] = True
    client = deployments_client(world)
    with pytest.raises(HttpResponseError) as caught:
        client.deployments.begin_create_or_update(
            "rg-new", "bypass", deployment_body(template, vm_parameters("vm2"))
        ).result()
    error = caught.value.error
    assert error.code == "DeploymentFailed" and error.message == MSG_DEPLOYMENT_FAILED
    assert error.target.endswith("/providers/Microsoft.Resources/deployments/bypass")
    assert (error.details[0].code, error.details[0].message) == ("InvalidParameter", MSG_HOTPATCH_BYPASS)

    # The raw status body of the failed run, as azure-wire.md §5.1 shows it.
    path = deployment_path(arm, "rg-new", "bypass")
    failed = arm.get(path, api_version=DEPLOY_API).json()["properties"]
    assert failed["provisioningState"] == "Failed"
    assert failed["error"] == {
        "code": "DeploymentFailed",
        "target": f"/subscriptions/{arm.sub}/resourceGroups/rg-new/providers/Microsoft.Resources/deployments/bypass",
        "message": MSG_DEPLOYMENT_FAILED,
        "details": [{"code": "InvalidParameter", "message": MSG_HOTPATCH_BYPASS}],
    }
    assert arm.get(arm.vm("rg-new", "vm2")).status_code == 404  # the VM was refused
    assert len(failed["outputResources"]) == 3  # what came before it stays, as on Azure
    operations = list(client.deployment_operations.list("rg-new", "bypass"))
    vm_op = next(o for o in operations if o.properties.target_resource.resource_type.endswith("virtualMachines"))
    assert vm_op.properties.provisioning_state == "Failed" and vm_op.properties.status_code == "BadRequest"
    assert vm_op.properties.status_message.error.message == MSG_HOTPATCH_BYPASS
    assert not any(o.properties.provisioning_operation == "EvaluateDeploymentOutput" for o in operations)


def test_a_resource_whose_operation_fails_is_a_resource_deployment_failure(tmp_path: Path) -> None:
    sandbox = make_sandbox(tmp_path, time_scale=600.0)  # the VM's create operation lasts ~0.2 s
    try:
        arm = Arm(sandbox)
        sandbox.backend.add_resource_group("rg1", "eastus")
        response = arm.put(
            deployment_path(arm, "rg1", "d"),
            deployment_body(load("hotpatch-vm.json"), vm_parameters("vm1")),
            api_version=DEPLOY_API,
        )
        deadline = time.monotonic() + 20
        while True:  # wait for the VM's create operation, then make it end Failed
            with sandbox.backend.lock:
                vm = sandbox.backend.compute.find("rg1", "vm1")
                op = sandbox.backend.operations.running(vm.id, ("create",)) if vm else None
                if op is not None:
                    op.failure = ("AllocationFailed", "Allocation failed. Please try again later.")
                    break
            assert time.monotonic() < deadline
            arm.get(response.headers["Azure-AsyncOperation"], api_version=None)
            time.sleep(0.01)
        status = wait_for(arm, response)[-1]
        assert status["status"] == "Failed"
        detail = status["error"]["details"][0]
        assert detail == {
            "code": "ResourceDeploymentFailure",
            "target": vm.id,
            "message": MSG_TERMINAL_FAILED,
            "details": [{"code": "AllocationFailed", "message": "Allocation failed. Please try again later."}],
        }
    finally:
        sandbox.stop()


def test_a_running_deployment_cannot_be_replaced(tmp_path: Path) -> None:
    sandbox = make_sandbox(tmp_path, time_scale=1.0)  # nothing finishes during this test
    try:
        arm = Arm(sandbox)
        sandbox.backend.add_resource_group("rg1", "eastus")
        body = deployment_body(load("hotpatch-vm.json"), vm_parameters("vm1"))
        assert arm.put(deployment_path(arm, "rg1", "d"), body, api_version=DEPLOY_API).status_code == 201
        again = arm.put(deployment_path(arm, "rg1", "d"), body, api_version=DEPLOY_API)
        assert again.status_code == 409 and again.json()["error"]["code"] == "DeploymentActive"
        message = again.json()["error"]["message"]
        assert "Unable to edit or replace deployment 'd': previous deployment from '" in message
        running = arm.get(deployment_path(arm, "rg1", "d"), api_version=DEPLOY_API).json()["properties"]
        assert running["provisioningState"] in ("Accepted", "Running")
    finally:
        sandbox.stop()


def test_outputs_that_fail_fail_the_deployment(world: Sandbox) -> None:
    template = load("hotpatch-vm.json")
    template["outputs"]["broken"] = {"type": "string", "value": "[reference('nothere').x]"}
    with pytest.raises(HttpResponseError) as caught:
        deployments_client(world).deployments.begin_create_or_update(
            "rg-new", "outputs", deployment_body(template, vm_parameters("vm3"))
        ).result()
    error = caught.value.error
    assert error.code == "DeploymentOutputEvaluationFailed"
    assert error.details[0].target == "broken"
    assert "The template reference 'nothere' is not valid: could not find template resource" in error.details[0].message


VAULT_TEMPLATE = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "parameters": {"secret": {"type": "securestring"}, "enabled": {"type": "bool"}},
    "resources": [
        {"type": "Microsoft.KeyVault/vaults", "apiVersion": "2023-07-01", "name": "kv-ops", "location": "westeurope",
         "properties": {"tenantId": "[subscription().tenantId]", "sku": {"family": "A", "name": "standard"},
                        "enabledForTemplateDeployment": "[parameters('enabled')]", "accessPolicies": []}},
        {"type": "Microsoft.KeyVault/vaults/secrets", "apiVersion": "2023-07-01", "name": "kv-ops/vm-admin",
         "dependsOn": ["[resourceId('Microsoft.KeyVault/vaults', 'kv-ops')]"],
         "properties": {"value": "[parameters('secret')]"}},
    ],
}


def make_vault(world: Sandbox, secret: str, enabled: bool = True) -> str:
    """A vault with one secret, deployed the way users make them (a template); returns the vault id."""
    deployments_client(world).deployments.begin_create_or_update(
        "rg-new", "vault", deployment_body(VAULT_TEMPLATE, {"secret": {"value": secret}, "enabled": {"value": enabled}})
    ).result()
    return world.backend.network.resource_id("rg-new", "Microsoft.KeyVault/vaults", "kv-ops")


def key_vault_parameters(name: str, vault_id: str, secret: str = "vm-admin") -> dict[str, Any]:
    parameters = vm_parameters(name)
    parameters["adminPassword"] = {"reference": {"keyVault": {"id": vault_id}, "secretName": secret}}
    return parameters


def test_key_vault_reference_is_resolved_from_the_vault(world: Sandbox) -> None:
    vault_id = make_vault(world, PASSWORD)
    secret = world.backend.network.find(vault_id + "/secrets/vm-admin")
    assert secret is not None and "value" not in secret["properties"], "a secret's value is never shown"
    client = deployments_client(world)
    validated = client.deployments.begin_validate(
        "rg-new", "check", deployment_body(load("hotpatch-vm.json"), key_vault_parameters("vm4", vault_id))
    ).result()
    assert validated.properties.provisioning_state == "Succeeded"
    assert world.backend.compute.list("rg-new") == []  # validation creates nothing
    result = client.deployments.begin_create_or_update(
        "rg-new", "kv", deployment_body(load("hotpatch-vm.json"), key_vault_parameters("vm4", vault_id))
    ).result()
    assert result.properties.provisioning_state == "Succeeded"
    assert result.properties.outputs["privateIpAddress"]["value"].startswith("10.0.0.")


def test_a_weak_secret_reaches_the_vm_and_is_refused_there(world: Sandbox) -> None:
    vault_id = make_vault(world, "weakweakweak")
    with pytest.raises(HttpResponseError) as caught:
        deployments_client(world).deployments.begin_create_or_update(
            "rg-new", "kvweak", deployment_body(load("hotpatch-vm.json"), key_vault_parameters("vm6", vault_id))
        ).result()
    assert "password" in str(caught.value).lower()


@pytest.mark.parametrize("case,code,text", [
    ("no vault", "KeyVaultParameterReferenceNotFound", "could not be found"),
    ("not enabled", "KeyVaultParameterReferenceSecretRetrieveFailed", "'Forbidden'"),
    ("no secret", "KeyVaultParameterReferenceSecretRetrieveFailed", "'NotFound'"),
])
def test_key_vault_reference_failures_fail_the_request(world: Sandbox, case: str, code: str, text: str) -> None:
    vault_id = make_vault(world, PASSWORD, enabled=case != "not enabled")
    if case == "no vault":
        vault_id = vault_id.replace("kv-ops", "kv-gone")
    parameters = key_vault_parameters("vm7", vault_id, "other" if case == "no secret" else "vm-admin")
    with pytest.raises(HttpResponseError) as caught:
        deployments_client(world).deployments.begin_create_or_update(
            "rg-new", "kvbad", deployment_body(load("hotpatch-vm.json"), parameters))
    assert caught.value.status_code == 400
    assert caught.value.error.code == code and text in caught.value.error.message
    assert world.backend.compute.list("rg-new") == []


def test_complete_mode_removes_what_the_template_does_not_declare(world: Sandbox, arm: Arm) -> None:
    world.backend.network.put("rg-new", "Microsoft.Network/networkSecurityGroups", "stray", {"location": "westeurope"})
    body = deployment_body(load("hotpatch-vm.json"), vm_parameters("vm5"))
    body["properties"]["mode"] = "Complete"
    deployments_client(world).deployments.begin_create_or_update("rg-new", "complete", body).result()
    assert arm.get(network_path(arm, "rg-new", "networkSecurityGroups", "stray")).status_code == 404
    assert arm.get(network_path(arm, "rg-new", "networkSecurityGroups", "vm5-nsg")).status_code == 200


def _resource(type_name: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"type": type_name, "apiVersion": "2023-11-01", "name": name, "location": "westeurope", **extra}


def test_generic_child_and_referenced_resources(world: Sandbox, arm: Arm) -> None:
    subnet_id = "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'v', 's1')]"
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [
            _resource("Microsoft.Storage/storageAccounts", "st1", sku={"name": "Standard_LRS"}, kind="StorageV2"),
            _resource(
                "Microsoft.Network/virtualNetworks",
                "v",
                properties={"addressSpace": {"addressPrefixes": ["10.1.0.0/16"]}},
            ),
            _resource(
                "Microsoft.Network/virtualNetworks/subnets",
                "v/s1",
                dependsOn=["v"],
                properties={"addressPrefix": "10.1.1.0/24"},
            ),
            _resource(
                "Microsoft.Network/networkInterfaces",
                "n",
                dependsOn=["v/s1"],
                properties={"ipConfigurations": [{"name": "c", "properties": {"subnet": {"id": subnet_id}}}]},
            ),
        ],
        "outputs": {
            "storage": {"type": "string", "value": "[reference('st1').provisioningState]"},
            "prefix": {"type": "string", "value": f"[reference({subnet_id[1:-1]}).addressPrefix]"},
            "ip": {"type": "string", "value": "[reference('n').ipConfigurations[0].properties.privateIPAddress]"},
        },
    }
    result = deployments_client(world).deployments.begin_create_or_update(
        "rg-new", "generic", deployment_body(template, {})
    ).result()
    outputs = {name: item["value"] for name, item in result.properties.outputs.items()}
    assert outputs == {"storage": "Succeeded", "prefix": "10.1.1.0/24", "ip": "10.1.1.4"}
    vnet = arm.get(network_path(arm, "rg-new", "virtualNetworks", "v")).json()
    assert [s["name"] for s in vnet["properties"]["subnets"]] == ["s1"]  # the child landed in its parent

    # A NIC on a subnet that does not exist: the Network RP's refusal is the deployment's detail.
    template["resources"][3]["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"] = subnet_id.replace(
        "'s1'", "'s9'"
    )
    with pytest.raises(HttpResponseError) as caught:
        deployments_client(world).deployments.begin_create_or_update(
            "rg-new", "missing-subnet", deployment_body({**template, "outputs": {}}, {})
        ).result()
    assert caught.value.error.details[0].code == "InvalidResourceReference"


def test_nested_deployments_are_refused_plainly(world: Sandbox) -> None:
    template = {
        "contentVersion": "1.0.0.0",
        "resources": [{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "inner"}],
    }
    with pytest.raises(HttpResponseError) as caught:
        deployments_client(world).deployments.begin_create_or_update("rg-new", "nested", deployment_body(template, {}))
    assert caught.value.status_code == 400 and "does not run nested deployments" in caught.value.error.message

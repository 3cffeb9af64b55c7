"""templates/: well-formed ARM, hotpatch settings exact, no secrets, RDP closed unless asked for."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hpctl.core.images import eligible_images

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "templates"
VM = "hotpatch-vm.json"
VMSS = "hotpatch-vmss-flex.json"
ROLE = "hpctl-operator.role.json"
DEPLOYMENT_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
PARAMETERS_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#"

# The template functions the sandbox must implement; a template using any other one fails this test first.
TEMPLATE_FUNCTIONS = {
    "parameters",
    "variables",
    "resourcegroup",
    "resourceid",
    "format",
    "if",
    "empty",
    "equals",
    "and",
    "or",
    "json",
    "reference",
}

HOTPATCH_WINDOWS_CONFIGURATION = {
    "provisionVMAgent": True,
    "enableAutomaticUpdates": True,
    "patchSettings": {
        "patchMode": "AutomaticByPlatform",
        "enableHotpatching": True,
        "assessmentMode": "AutomaticByPlatform",
        "automaticByPlatformSettings": {
            "rebootSetting": "[parameters('rebootSetting')]",
            "bypassPlatformSafetyChecksOnUserSchedule": False,
        },
    },
}
TRUSTED_LAUNCH = {
    "securityType": "TrustedLaunch",
    "uefiSettings": {"secureBootEnabled": True, "vTpmEnabled": True},
    "encryptionAtHost": "[parameters('encryptionAtHost')]",
}


def load(name: str) -> dict[str, Any]:
    return json.loads((TEMPLATES / name).read_text(encoding="utf-8"))


def resource(doc: dict[str, Any], rtype: str) -> dict[str, Any]:
    found = [r for r in doc["resources"] if r["type"] == rtype]
    assert len(found) == 1, f"expected one {rtype}"
    return found[0]


def strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in strings(key) + strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return []


def test_every_file_is_valid_json() -> None:
    files = sorted(TEMPLATES.glob("*.json"))
    assert {f.name for f in files} >= {
        VM,
        VMSS,
        ROLE,
        "hotpatch-vm.parameters.example.json",
        "hotpatch-vmss-flex.parameters.example.json",
    }
    for path in files:
        json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", [VM, VMSS])
def test_arm_schema_keys(name: str) -> None:
    doc = load(name)
    assert doc["$schema"] == DEPLOYMENT_SCHEMA
    assert doc["contentVersion"] == "1.0.0.0"
    assert set(doc) <= {
        "$schema",
        "contentVersion",
        "metadata",
        "parameters",
        "variables",
        "resources",
        "outputs",
    }
    for pname, spec in doc["parameters"].items():
        assert spec["type"] in {"string", "securestring", "int", "bool", "object", "array"}, pname
        assert spec.get("metadata", {}).get("description"), f"{pname} has no description"
    for res in doc["resources"]:
        assert {"type", "apiVersion", "name"} <= set(res)


@pytest.mark.parametrize("name", [VM, VMSS])
def test_only_the_agreed_template_functions_are_used(name: str) -> None:
    used: set[str] = set()
    for text in strings(load(name)):
        if text.startswith("[") and not text.startswith("[["):
            used |= {m.lower() for m in re.findall(r"([A-Za-z][A-Za-z0-9]*)\s*\(", text)}
    assert used <= TEMPLATE_FUNCTIONS, used - TEMPLATE_FUNCTIONS


@pytest.mark.parametrize("name", [VM, VMSS])
def test_api_versions(name: str) -> None:
    for res in load(name)["resources"]:
        if res["type"].startswith("Microsoft.Compute/"):
            assert res["apiVersion"] >= "2024-07-01"
        if res["type"].startswith("Microsoft.Network/"):
            assert res["apiVersion"] >= "2023-11-01"


@pytest.mark.parametrize("name", [VM, VMSS])
def test_image_skus_are_exactly_the_eligible_ones(name: str) -> None:
    param = load(name)["parameters"]["imageSku"]
    eligible = [image.sku.lower() for image in eligible_images()]
    assert sorted(v.lower() for v in param["allowedValues"]) == sorted(eligible)
    assert param["defaultValue"].lower() in eligible


def test_vm_has_exactly_the_hotpatch_settings() -> None:
    vm = resource(load(VM), "Microsoft.Compute/virtualMachines")
    props = vm["properties"]
    assert props["osProfile"]["windowsConfiguration"] == HOTPATCH_WINDOWS_CONFIGURATION
    assert props["securityProfile"] == TRUSTED_LAUNCH
    image = props["storageProfile"]["imageReference"]
    assert image == {
        "publisher": "MicrosoftWindowsServer",
        "offer": "WindowsServer",
        "sku": "[parameters('imageSku')]",
        "version": "[parameters('imageVersion')]",
    }
    assert props["storageProfile"]["osDisk"]["createOption"] == "FromImage"
    assert (
        props["storageProfile"]["osDisk"]["managedDisk"]["storageAccountType"] == "[parameters('osDiskType')]"
    )
    assert props["diagnosticsProfile"] == {"bootDiagnostics": {"enabled": True}}  # managed storage
    assert vm["zones"] == "[if(empty(parameters('zone')), json('null'), variables('zoneList'))]"
    assert props["availabilitySet"].startswith("[if(empty(parameters('availabilitySetId')), json('null')")


def test_vmss_is_flexible_with_health_extension_and_the_same_settings() -> None:
    vmss = resource(load(VMSS), "Microsoft.Compute/virtualMachineScaleSets")
    props = vmss["properties"]
    assert props["orchestrationMode"] == "Flexible"
    assert props["platformFaultDomainCount"] == 1
    assert props["singlePlacementGroup"] is False
    profile = props["virtualMachineProfile"]
    assert profile["osProfile"]["windowsConfiguration"] == HOTPATCH_WINDOWS_CONFIGURATION
    assert profile["securityProfile"] == TRUSTED_LAUNCH
    assert profile["networkProfile"]["networkApiVersion"] == "2020-11-01"
    assert profile["networkProfile"]["networkInterfaceConfigurations"]
    (ext,) = profile["extensionProfile"]["extensions"]
    assert ext["properties"]["publisher"] == "Microsoft.ManagedServices"
    assert ext["properties"]["type"] == "ApplicationHealthWindows"
    assert ext["properties"]["typeHandlerVersion"] in ("1.0", "2.0")
    params = load(VMSS)["parameters"]
    assert (params["healthProtocol"]["defaultValue"], params["healthPort"]["defaultValue"]) == ("tcp", 3389)


@pytest.mark.parametrize("name", [VM, VMSS])
def test_password_is_a_securestring_without_a_default(name: str) -> None:
    doc = load(name)
    spec = doc["parameters"]["adminPassword"]
    assert spec["type"] == "securestring"
    assert "defaultValue" not in spec
    assert spec["minLength"] == 12
    # Only ever passed through, never built or output.
    uses = [s for s in strings(doc) if "adminPassword" in s and s.startswith("[")]
    assert uses == ["[parameters('adminPassword')]"]
    assert "adminPassword" not in json.dumps(doc.get("outputs", {}))


SECRET_KEYS = re.compile(r"password|secret|key$|token|connectionstring", re.IGNORECASE)


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.json")), ids=lambda p: p.name)
def test_no_literal_secrets(path: Path) -> None:
    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                # secretName names a Key Vault secret; it is not one.
                if SECRET_KEYS.search(key) and key != "secretName" and isinstance(value, str):
                    assert value.startswith("[") or value == "", f"literal secret at {where}.{key}"
                if key == "adminPassword" and isinstance(value, dict) and "value" in value:
                    pytest.fail(f"{where}.adminPassword has a literal value: use a Key Vault reference")
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{where}[{i}]")

    walk(json.loads(path.read_text()), path.name)


@pytest.mark.parametrize(
    ("example", "template"),
    [
        ("hotpatch-vm.parameters.example.json", VM),
        ("hotpatch-vmss-flex.parameters.example.json", VMSS),
    ],
)
def test_example_parameter_files(example: str, template: str) -> None:
    params = load(example)
    declared = load(template)["parameters"]
    assert params["$schema"] == PARAMETERS_SCHEMA
    assert set(params["parameters"]) <= set(declared)
    assert {k for k, v in declared.items() if "defaultValue" not in v} <= set(params["parameters"])
    ref = params["parameters"]["adminPassword"]["reference"]
    assert ref["keyVault"]["id"].endswith("/providers/Microsoft.KeyVault/vaults/{keyVaultName}")
    assert ref["secretName"]
    for name, value in params["parameters"].items():
        allowed = declared[name].get("allowedValues")
        if allowed and "value" in value:
            assert value["value"] in allowed, name


@pytest.mark.parametrize("name", [VM, VMSS])
def test_rdp_rule_only_when_a_source_is_given(name: str) -> None:
    doc = load(name)
    nsg = resource(doc, "Microsoft.Network/networkSecurityGroups")
    rules = nsg["properties"]["securityRules"]
    assert rules == (
        "[if(empty(parameters('rdpSourceAddressPrefix')), "
        "variables('noInboundRules'), variables('rdpInboundRules'))]"
    )
    assert doc["variables"]["noInboundRules"] == []
    (rule,) = doc["variables"]["rdpInboundRules"]
    props = rule["properties"]
    assert props["sourceAddressPrefix"] == "[parameters('rdpSourceAddressPrefix')]"
    assert (props["direction"], props["access"], props["protocol"]) == ("Inbound", "Allow", "Tcp")
    assert props["destinationPortRange"] == "3389"
    assert doc["parameters"]["rdpSourceAddressPrefix"]["defaultValue"] == ""
    # No other rule anywhere opens anything.
    all_rules = [s for s in strings(doc) if s in ("Allow",)]
    assert len(all_rules) == 1


def test_no_public_ip_by_default() -> None:
    doc = load(VM)
    assert doc["parameters"]["createPublicIp"]["defaultValue"] is False
    pip = resource(doc, "Microsoft.Network/publicIPAddresses")
    assert pip["condition"] == "[parameters('createPublicIp')]"
    assert pip["sku"]["name"] == "Standard"
    assert pip["properties"]["publicIPAllocationMethod"] == "Static"


@pytest.mark.parametrize("name", [VM, VMSS])
def test_vnet_only_without_subnet_id_and_nsg_on_its_subnet(name: str) -> None:
    doc = load(name)
    vnet = resource(doc, "Microsoft.Network/virtualNetworks")
    (subnet,) = vnet["properties"]["subnets"]
    assert "networkSecurityGroups" in subnet["properties"]["networkSecurityGroup"]["id"]
    text = json.dumps(doc)
    if name == VM:
        # The VM template also takes a VNet by name: it creates the VNet, adds a subnet to it, or uses both.
        assert vnet["condition"] == "[variables('createsVnet')]"
        assert doc["variables"]["createsVnet"].startswith("[and(empty(parameters('subnetId')), ")
        added = resource(doc, "Microsoft.Network/virtualNetworks/subnets")
        assert added["condition"] == "[variables('createsSubnet')]"
        assert "networkSecurityGroups" in added["properties"]["networkSecurityGroup"]["id"]
        # With a subnet it did not create (not ours to change) the NSG goes on the NIC, so deny-by-default holds.
        assert ("\"networkSecurityGroup\": \"[if(or(variables('createsVnet'), variables('createsSubnet')), "
                "json('null'), variables('nsgRef'))]\"") in text
        return
    assert vnet["condition"] == "[empty(parameters('subnetId'))]"
    # With an existing subnet (not ours to change) the NSG goes on the NIC instead, so deny-by-default holds.
    assert (
        "\"networkSecurityGroup\": \"[if(empty(parameters('subnetId')), json('null'), variables('nsgRef'))]\""
        in text
    )


@pytest.mark.parametrize("name", [VM, VMSS])
def test_outputs_read_back_the_patch_settings(name: str) -> None:
    outputs = load(name)["outputs"]
    assert outputs["patchSettings"]["type"] == "object"
    assert outputs["patchSettings"]["value"].endswith("windowsConfiguration.patchSettings]")


# --------------------------------------------------------------------------- role


def test_role_definition_is_least_privilege() -> None:
    role = load(ROLE)
    assert set(role) == {
        "Name",
        "IsCustom",
        "Description",
        "Actions",
        "NotActions",
        "DataActions",
        "NotDataActions",
        "AssignableScopes",
    }
    assert role["IsCustom"] is True
    assert role["AssignableScopes"] == ["/subscriptions/{subscriptionId}"]
    actions = role["Actions"]
    assert len(actions) == len(set(actions))
    assert role["NotActions"] == [] and role["DataActions"] == [] and role["NotDataActions"] == []
    # The one delete: vm enable-hotpatch --leave-schedule removes a VM's schedule assignment (tests/test_role.py).
    deletes = {"Microsoft.Maintenance/configurationAssignments/delete"}
    for action in actions:
        assert "*" not in action, action
        assert not action.endswith("/delete") or action in deletes, action
        assert re.fullmatch(r"Microsoft\.[A-Za-z]+(/[A-Za-z]+)+", action), action
        assert action.split("/")[-1] in ("read", "write", "action", "delete"), action
    must = {
        "Microsoft.Compute/virtualMachines/read",
        "Microsoft.Compute/virtualMachines/write",
        "Microsoft.Compute/virtualMachines/assessPatches/action",
        "Microsoft.Compute/virtualMachines/installPatches/action",
        "Microsoft.Compute/virtualMachineScaleSets/read",
        "Microsoft.Compute/virtualMachineScaleSets/write",
        "Microsoft.Compute/locations/operations/read",
        "Microsoft.Compute/locations/publishers/artifacttypes/offers/skus/versions/read",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Resources/subscriptions/resourceGroups/write",
        "Microsoft.Resources/deployments/read",
        "Microsoft.Resources/deployments/write",
        "Microsoft.Resources/deployments/operationstatuses/read",
        "Microsoft.ResourceGraph/resources/read",
    }
    assert must <= set(actions), must - set(actions)


def test_role_covers_every_resource_type_the_templates_deploy() -> None:
    actions = set(load(ROLE)["Actions"])
    for name in (VM, VMSS):
        for res in load(name)["resources"]:
            assert f"{res['type']}/write" in actions, res["type"]
            assert f"{res['type']}/read" in actions, res["type"]


# --------------------------------------------------------------------------- checkov


def _checkov() -> str | None:
    return os.environ.get("HPCTL_CHECKOV") or shutil.which("checkov")


@pytest.mark.skipif(
    _checkov() is None, reason="checkov is not installed (set HPCTL_CHECKOV or put it on PATH)"
)
def test_checkov_passes_with_only_reasoned_skips() -> None:
    proc = subprocess.run(
        [_checkov(), "-d", str(TEMPLATES), "--framework", "arm", "-o", "json", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [c for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    assert failed == [], [(c["check_id"], c["resource"]) for c in failed]
    summary = [r.get("summary", {}) for r in reports]
    assert sum(s.get("failed", 0) for s in summary) == 0
    assert sum(s.get("parsing_errors", 0) for s in summary) == 0
    assert sum(s.get("resource_count", 0) for s in summary) >= 6, "checkov parsed too few resources"
    skipped = [c for r in reports for c in r.get("results", {}).get("skipped_checks", [])]
    assert len(skipped) == sum(s.get("skipped", 0) for s in summary)
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert reason and reason != "No comment provided", check["check_id"]

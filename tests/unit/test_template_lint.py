"""Each hotpatch lint rule fires on a minimal bad template, and hpctl's own templates lint clean."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from hpctl.core.template_lint import RULES, Finding, lint_template

ROOT = Path(__file__).resolve().parents[2]
HOT_SKU = "2025-datacenter-azure-edition-core"
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


def _template(
    *resources: dict[str, Any], parameters: dict | None = None, variables: dict | None = None
) -> dict:
    return {
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "parameters": parameters or {},
        "variables": variables or {},
        "resources": list(resources),
    }


def _good_windows_config() -> dict[str, Any]:
    return {
        "provisionVMAgent": True,
        "enableAutomaticUpdates": True,
        "patchSettings": {
            "patchMode": "AutomaticByPlatform",
            "enableHotpatching": True,
            "assessmentMode": "AutomaticByPlatform",
            "automaticByPlatformSettings": {
                "rebootSetting": "IfRequired",
                "bypassPlatformSafetyChecksOnUserSchedule": False,
            },
        },
    }


def _vm(sku: Any = HOT_SKU, windows: Any = None, api: str = "2024-07-01") -> dict[str, Any]:
    return {
        "type": "Microsoft.Compute/virtualMachines",
        "apiVersion": api,
        "name": "vm1",
        "location": "westeurope",
        "properties": {
            "storageProfile": {
                "imageReference": {
                    "publisher": "MicrosoftWindowsServer",
                    "offer": "WindowsServer",
                    "sku": sku,
                    "version": "latest",
                }
            },
            "osProfile": {
                "computerName": "vm1",
                "adminUsername": "ops",
                "windowsConfiguration": _good_windows_config() if windows is None else windows,
            },
        },
    }


HEALTH_EXT = {
    "name": "health",
    "properties": {
        "publisher": "Microsoft.ManagedServices",
        "type": "ApplicationHealthWindows",
        "typeHandlerVersion": "2.0",
        "settings": {"protocol": "tcp", "port": 3389},
    },
}


def _vmss(
    mode: str | None = "Flexible", extensions: list | None = None, windows: Any = None
) -> dict[str, Any]:
    props: dict[str, Any] = {
        "virtualMachineProfile": {
            "storageProfile": {
                "imageReference": {
                    "publisher": "MicrosoftWindowsServer",
                    "offer": "WindowsServer",
                    "sku": HOT_SKU,
                }
            },
            "osProfile": {
                "computerNamePrefix": "api",
                "windowsConfiguration": _good_windows_config() if windows is None else windows,
            },
            "extensionProfile": {"extensions": [HEALTH_EXT] if extensions is None else extensions},
        }
    }
    if mode is not None:
        props["orchestrationMode"] = mode
    return {
        "type": "Microsoft.Compute/virtualMachineScaleSets",
        "apiVersion": "2024-07-01",
        "name": "api",
        "location": "westeurope",
        "sku": {"name": "Standard_D2s_v5", "capacity": 2},
        "properties": props,
    }


def _nsg(source: Any, port: Any = "3389", access: str = "Allow") -> dict[str, Any]:
    return {
        "type": "Microsoft.Network/networkSecurityGroups",
        "apiVersion": "2023-11-01",
        "name": "nsg1",
        "properties": {
            "securityRules": [
                {
                    "name": "rdp",
                    "properties": {
                        "priority": 100,
                        "direction": "Inbound",
                        "access": access,
                        "protocol": "Tcp",
                        "sourcePortRange": "*",
                        "sourceAddressPrefix": source,
                        "destinationPortRange": port,
                        "destinationAddressPrefix": "*",
                    },
                }
            ]
        },
    }


def _ids(findings: list[Finding]) -> list[str]:
    return [f.rule_id for f in findings]


def _load(name: str) -> dict:
    return json.loads((ROOT / "templates" / name).read_text())


# --------------------------------------------------------------------------- hpctl's own templates


@pytest.mark.parametrize("name", ["hotpatch-vm.json", "hotpatch-vmss-flex.json"])
def test_hpctl_templates_lint_clean(name: str) -> None:
    assert lint_template(_load(name)) == []


def test_a_good_minimal_vm_and_scale_set_lint_clean() -> None:
    assert lint_template(_template(_vm(), _vmss(), _nsg("203.0.113.0/24"))) == []


# --------------------------------------------------------------------------- each rule fires


def _patch(**changes: Any) -> dict[str, Any]:
    config = _good_windows_config()
    for dotted, value in changes.items():
        target = config
        *path, last = dotted.split("__")
        for key in path:
            target = target[key]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return config


BAD: list[tuple[str, dict, str]] = [
    ("no-patch-settings", _template(_vm(windows=_patch(patchSettings=KeyError))), "HP-T001"),
    ("no-windows-config", _template(_vm(windows={})), "HP-T001"),
    ("hotpatch-false", _template(_vm(windows=_patch(patchSettings__enableHotpatching=False))), "HP-T002"),
    (
        "hotpatch-missing",
        _template(_vm(windows=_patch(patchSettings__enableHotpatching=KeyError))),
        "HP-T002",
    ),
    ("patchmode-os", _template(_vm(windows=_patch(patchSettings__patchMode="AutomaticByOS"))), "HP-T003"),
    ("patchmode-missing", _template(_vm(windows=_patch(patchSettings__patchMode=KeyError))), "HP-T003"),
    ("agent-off", _template(_vm(windows=_patch(provisionVMAgent=False))), "HP-T004"),
    (
        "bypass-on",
        _template(
            _vm(
                windows=_patch(
                    patchSettings__automaticByPlatformSettings__bypassPlatformSafetyChecksOnUserSchedule=True
                )
            )
        ),
        "HP-T005",
    ),
    (
        "assessment-default",
        _template(_vm(windows=_patch(patchSettings__assessmentMode="ImageDefault"))),
        "HP-T006",
    ),
    ("vmss-uniform", _template(_vmss(mode="Uniform")), "HP-T007"),
    ("vmss-no-mode", _template(_vmss(mode=None)), "HP-T007"),
    ("vmss-flex-no-health", _template(_vmss(extensions=[])), "HP-T008"),
    (
        "hotpatch-on-ineligible",
        _template(_vm(sku="2022-datacenter-azure-edition")),  # the trap: not the -hotpatch SKU
        "HP-T009",
    ),
    ("rdp-star", _template(_nsg("*")), "HP-T010"),
    ("rdp-internet", _template(_nsg("Internet")), "HP-T010"),
    ("rdp-all-v4", _template(_nsg("0.0.0.0/0")), "HP-T010"),
    ("rdp-any-port", _template(_nsg("*", port="*")), "HP-T010"),
    ("rdp-range", _template(_nsg("Internet", port="3000-4000")), "HP-T010"),
    ("unresolvable-sku", _template(_vm(sku="[parameters('sku')]")), "HP-T011"),
    ("old-api", _template(_vm(api="2020-06-01")), "HP-T012"),
]


@pytest.mark.parametrize(("case", "doc", "rule"), BAD, ids=[b[0] for b in BAD])
def test_rule_fires(case: str, doc: dict, rule: str) -> None:
    findings = lint_template(doc)
    assert rule in _ids(findings), findings
    finding = next(f for f in findings if f.rule_id == rule)
    assert finding.severity == RULES[rule][0]
    assert finding.message and finding.fix
    assert "\n" not in finding.message and "\n" not in finding.fix
    assert finding.resource.startswith(("Microsoft.Compute/", "Microsoft.Network/"))


def test_every_rule_has_a_test() -> None:
    assert {b[2] for b in BAD} == set(RULES)


def test_severities() -> None:
    assert RULES["HP-T006"][0] == "low"  # assessment mode is a lesser problem than the hotpatch settings
    assert RULES["HP-T011"][0] == "info"
    assert {sev for sev, _ in RULES.values()} <= {"high", "medium", "low", "info"}


def test_rdp_from_a_trusted_prefix_or_denied_is_fine() -> None:
    assert lint_template(_template(_nsg("203.0.113.0/24"))) == []
    assert lint_template(_template(_nsg("*", access="Deny"))) == []
    assert lint_template(_template(_nsg("*", port="443"))) == []


def test_rdp_rule_as_child_resource_and_plural_prefixes() -> None:
    rule = {
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        "apiVersion": "2023-11-01",
        "name": "nsg1/rdp",
        "properties": {
            "direction": "Inbound",
            "access": "Allow",
            "protocol": "*",
            "sourceAddressPrefixes": ["10.0.0.0/8", "0.0.0.0/0"],
            "destinationPortRanges": ["443", "3389"],
        },
    }
    assert _ids(lint_template(_template(rule))) == ["HP-T010"]


# --------------------------------------------------------------------------- parameter resolution


def test_parameter_default_is_followed() -> None:
    params = {
        "sku": {"type": "string", "defaultValue": HOT_SKU},
        "hot": {"type": "bool", "defaultValue": False},
    }
    windows = _patch(patchSettings__enableHotpatching="[parameters('hot')]")
    doc = _template(_vm(sku="[parameters('sku')]", windows=windows), parameters=params)
    assert _ids(lint_template(doc)) == ["HP-T002"]


def test_allowed_values_count_for_images() -> None:
    # No default: any allowed SKU may be deployed, and one of them is a hotpatch image.
    params = {"sku": {"type": "string", "allowedValues": ["2022-datacenter", HOT_SKU]}}
    doc = _template(_vm(sku="[parameters('sku')]", windows={}), parameters=params)
    assert "HP-T001" in _ids(lint_template(doc))


def test_allowed_values_count_for_images_even_with_an_ineligible_default() -> None:
    params = {
        "sku": {
            "type": "string",
            "defaultValue": "2022-datacenter",
            "allowedValues": ["2022-datacenter", HOT_SKU],
        }
    }
    doc = _template(_vm(sku="[parameters('sku')]", windows={}), parameters=params)
    assert "HP-T001" in _ids(lint_template(doc))


def test_variables_and_if_empty_are_followed() -> None:
    params = {"rdpFrom": {"type": "string", "defaultValue": ""}}
    variables = {
        "none": [],
        "open": [
            {"name": "rdp", "properties": {**_nsg("*")["properties"]["securityRules"][0]["properties"]}}
        ],
    }
    nsg = _nsg("x")
    nsg["properties"]["securityRules"] = (
        "[if(empty(parameters('rdpFrom')), variables('none'), variables('open'))]"
    )
    assert lint_template(_template(nsg, parameters=params, variables=variables)) == []
    params["rdpFrom"]["defaultValue"] = "10.0.0.0/8"
    assert _ids(lint_template(_template(nsg, parameters=params, variables=variables))) == ["HP-T010"]


def test_undecidable_if_considers_both_branches() -> None:
    variables = {"open": [_nsg("Internet")["properties"]["securityRules"][0]]}
    nsg = _nsg("x")
    nsg["properties"]["securityRules"] = (
        "[if(equals(resourceGroup().location, 'x'), createArray(), variables('open'))]"
    )
    assert _ids(lint_template(_template(nsg, variables=variables))) == ["HP-T010"]


def test_parameter_default_can_open_rdp() -> None:
    params = {"src": {"type": "string", "defaultValue": "*"}}
    assert _ids(lint_template(_template(_nsg("[parameters('src')]"), parameters=params))) == ["HP-T010"]


def test_unresolvable_is_info_and_says_so() -> None:
    findings = lint_template(_template(_vm(sku="[parameters('sku')]")))
    assert _ids(findings) == ["HP-T011"]
    assert findings[0].severity == "info"
    assert "could not be resolved" in findings[0].message


def test_whole_image_reference_from_a_variable() -> None:
    variables = {"image": {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer", "sku": HOT_SKU}}
    vm = _vm(windows={})
    vm["properties"]["storageProfile"]["imageReference"] = "[variables('image')]"
    assert _ids(lint_template(_template(vm, variables=variables))) == ["HP-T001"]


def test_escaped_brackets_are_literals() -> None:
    # "[[x]" is the literal "[x]": a (nonsense) SKU, not an expression, so hotpatch on it is flagged.
    findings = lint_template(_template(_vm(sku="[[not-an-expression]")))
    assert _ids(findings) == ["HP-T009"]
    assert "[not-an-expression]" in findings[0].message


def test_custom_image_with_hotpatch_is_flagged() -> None:
    vm = _vm()
    vm["properties"]["storageProfile"]["imageReference"] = {"id": "/subscriptions/x/images/golden"}
    assert _ids(lint_template(_template(vm))) == ["HP-T009"]


def test_linux_or_non_hotpatch_vm_without_hotpatch_is_ignored() -> None:
    vm = _vm(sku="2022-datacenter-g2", windows={})
    assert lint_template(_template(vm)) == []


def test_case_insensitive_keys_and_values() -> None:
    vm = _vm(sku=HOT_SKU.upper())
    vm["properties"]["osProfile"]["windowsConfiguration"]["patchSettings"]["patchMode"] = (
        "automaticbyplatform"
    )
    vm["TYPE"] = vm.pop("type")
    assert lint_template(_template(vm)) == []


def test_nested_deployment_is_linted() -> None:
    nested = {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2022-09-01",
        "name": "inner",
        "properties": {"mode": "Incremental", "template": _template(_vmss(mode="Uniform"))},
    }
    assert _ids(lint_template(_template(nested))) == ["HP-T007"]


def test_symbolic_name_resources() -> None:
    doc = _template()
    doc["languageVersion"] = "2.0"
    doc["resources"] = {"vm": _vm(windows={})}
    assert _ids(lint_template(doc)) == ["HP-T001"]


def test_health_extension_as_separate_resource() -> None:
    ext = {
        "type": "Microsoft.Compute/virtualMachineScaleSets/extensions",
        "apiVersion": "2024-07-01",
        "name": "api/health",
        "properties": copy.deepcopy(HEALTH_EXT["properties"]),
    }
    assert lint_template(_template(_vmss(extensions=[]), ext)) == []
    nested = _vmss(extensions=[])
    nested["resources"] = [{**ext, "type": "extensions", "name": "health"}]
    assert lint_template(_template(nested)) == []


def test_injected_eligibility_predicate() -> None:
    doc = _template(_vm(sku="my-sku", windows={}))
    assert lint_template(doc) == []
    assert _ids(lint_template(doc, is_eligible=lambda p, o, s: s == "my-sku")) == ["HP-T001"]


def test_mutated_hpctl_template_is_caught() -> None:
    doc = _load("hotpatch-vm.json")
    vm = next(r for r in doc["resources"] if r["type"] == "Microsoft.Compute/virtualMachines")
    vm["properties"]["osProfile"]["windowsConfiguration"]["patchSettings"]["enableHotpatching"] = False
    doc["parameters"]["rdpSourceAddressPrefix"]["defaultValue"] = "Internet"
    assert _ids(lint_template(doc)) == ["HP-T002", "HP-T010"]
    doc = _load("hotpatch-vmss-flex.json")
    vmss = next(r for r in doc["resources"] if r["type"] == "Microsoft.Compute/virtualMachineScaleSets")
    vmss["properties"]["virtualMachineProfile"]["extensionProfile"]["extensions"] = []
    assert _ids(lint_template(doc)) == ["HP-T008"]
    vmss["properties"]["orchestrationMode"] = "Uniform"
    assert _ids(lint_template(doc)) == ["HP-T007"]


def test_not_a_template() -> None:
    assert _ids(lint_template([])) == ["HP-T011"]  # type: ignore[arg-type]
    assert lint_template({}) == []


def test_findings_are_sorted_most_severe_first() -> None:
    doc = _template(_vm(windows=_patch(patchSettings__assessmentMode="ImageDefault", provisionVMAgent=False)))
    assert [f.severity for f in lint_template(doc)] == ["high", "low"]

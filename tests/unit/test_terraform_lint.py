"""The template rules on Terraform plans (`terraform show -json`): a fixture per rule, same ids as for ARM."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from hpctl.core.template_lint import RULES, lint_template, lint_terraform_plan
from hpctl.core.terraform_model import is_terraform_plan

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "terraform"
RULE_FIXTURES = sorted(FIXTURES.glob("hp-t*.tfplan.json"))


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def rule_of(path: Path) -> str:
    return path.name[:7].upper()  # hp-t002-… → HP-T002


def test_every_rule_has_a_terraform_fixture():
    assert {rule_of(p) for p in RULE_FIXTURES} == set(RULES)


def test_a_good_plan_lints_clean():
    doc = load("good.tfplan.json")
    assert is_terraform_plan(doc)
    assert lint_terraform_plan(doc) == []


@pytest.mark.parametrize("path", RULE_FIXTURES, ids=[p.name for p in RULE_FIXTURES])
def test_each_fixture_fires_exactly_its_rule(path: Path):
    findings = lint_terraform_plan(json.loads(path.read_text()))
    assert {f.rule_id for f in findings} == {rule_of(path)}, findings
    for finding in findings:
        assert finding.severity == RULES[finding.rule_id][0]
        assert finding.resource.startswith(("azurerm_", "azapi_")), finding.resource
        assert "\n" not in finding.message + finding.fix and finding.fix


def test_findings_name_the_azurerm_attributes():
    (finding,) = lint_terraform_plan(load("hp-t002-hotpatch-off.tfplan.json"))
    assert "hotpatching_enabled" in finding.message and finding.fix == "set hotpatching_enabled to true"
    (finding,) = lint_terraform_plan(load("hp-t005-bypass.tfplan.json"))
    assert "bypass_platform_safety_checks_on_user_schedule_enabled" in finding.fix
    (finding,) = lint_terraform_plan(load("hp-t007-uniform-scale-set.tfplan.json"))
    assert "azurerm_orchestrated_virtual_machine_scale_set" in finding.fix
    (finding,) = lint_terraform_plan(load("hp-t012-azapi-old-api.tfplan.json"))
    assert "2020-06-01" in finding.message  # azapi bodies are ARM's shape: read with the ARM words


def test_both_rdp_forms_are_found():
    findings = lint_terraform_plan(load("hp-t010-rdp-open.tfplan.json"))
    assert {f.resource for f in findings} == {"azurerm_network_security_group.web",
                                              "azurerm_network_security_rule.rdp_any"}


def test_planned_values_alone_and_state_json_are_read_too():
    doc = load("hp-t003-patch-mode-os.tfplan.json")
    planned = {k: v for k, v in doc.items() if k != "resource_changes"}
    assert [f.rule_id for f in lint_terraform_plan(planned)] == ["HP-T003"]
    state = {"format_version": "1.0", "terraform_version": "1.9.8", "values": doc["planned_values"]}
    assert [f.rule_id for f in lint_terraform_plan(state)] == ["HP-T003"]


def test_modules_are_walked():
    doc = load("hp-t004-agent-off.tfplan.json")
    resources = doc["planned_values"]["root_module"].pop("resources")
    for r in resources:
        r["address"] = "module.web." + r["address"]
    doc["planned_values"]["root_module"]["child_modules"] = [{"address": "module.web", "resources": resources}]
    del doc["resource_changes"]
    (finding,) = lint_terraform_plan(doc)
    assert finding.rule_id == "HP-T004" and finding.resource == "module.web.azurerm_windows_virtual_machine.web"


def test_a_resource_being_destroyed_is_not_linted():
    doc = load("hp-t002-hotpatch-off.tfplan.json")
    doc["resource_changes"][0]["change"]["actions"] = ["delete"]
    doc["resource_changes"][0]["change"]["after"] = None
    assert lint_terraform_plan(doc) == []


def test_left_out_settings_take_the_azurerm_defaults():
    doc = load("good.tfplan.json")
    vm = doc["resource_changes"][0]["change"]["after"]
    for key in ("patch_mode", "patch_assessment_mode", "hotpatching_enabled"):
        vm[key] = None  # not set in the configuration: azurerm sends its default
    ids = {f.rule_id for f in lint_terraform_plan(doc)}
    assert ids == {"HP-T002", "HP-T003", "HP-T006"}


def test_a_health_extension_resource_counts_for_a_flexible_scale_set():
    doc = load("hp-t008-flexible-without-health.tfplan.json")
    extension = {"address": "azurerm_virtual_machine_scale_set_extension.health", "mode": "managed",
                 "type": "azurerm_virtual_machine_scale_set_extension", "name": "health",
                 "change": {"actions": ["create"], "after": {
                     "name": "health", "publisher": "Microsoft.ManagedServices", "type": "ApplicationHealthWindows",
                     "type_handler_version": "2.0"}, "after_unknown": {"virtual_machine_scale_set_id": True}}}
    doc["resource_changes"].append(extension)
    assert lint_terraform_plan(doc) == []
    other = copy.deepcopy(extension)
    other["change"]["after"]["publisher"] = "Microsoft.Azure.Monitor"
    doc["resource_changes"][-1] = other
    assert [f.rule_id for f in lint_terraform_plan(doc)] == ["HP-T008"]


def test_the_same_mistake_gets_the_same_rule_id_in_arm_and_terraform():
    arm = json.loads((Path(__file__).resolve().parents[2] / "templates" / "hotpatch-vm.json").read_text())
    for resource in arm["resources"]:
        if resource["type"] == "Microsoft.Compute/virtualMachines":
            resource["properties"]["osProfile"]["windowsConfiguration"]["patchSettings"]["patchMode"] = "AutomaticByOS"
    assert [f.rule_id for f in lint_template(arm)] == ["HP-T003"]
    assert [f.rule_id for f in lint_terraform_plan(load("hp-t003-patch-mode-os.tfplan.json"))] == ["HP-T003"]

"""`hpctl template lint` on users' templates: findings with fixes, --fail-on, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

BAD = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "resources": [
        {
            "type": "Microsoft.Compute/virtualMachineScaleSets", "apiVersion": "2024-07-01", "name": "web",
            "location": "westeurope",
            "properties": {"virtualMachineProfile": {
                "storageProfile": {"imageReference": {
                    "publisher": "MicrosoftWindowsServer", "offer": "WindowsServer",
                    "sku": "2022-datacenter-azure-edition-core", "version": "latest"}},
                "osProfile": {"windowsConfiguration": {"provisionVMAgent": True,
                                                       "patchSettings": {"patchMode": "AutomaticByPlatform",
                                                                         "enableHotpatching": True}}}}},
        },
    ],
}


def test_lint_finds_a_uniform_scale_set(hpctl, tmp_path):
    path = tmp_path / "azuredeploy.json"
    path.write_text(json.dumps(BAD))
    result = hpctl("template", "lint", str(path))
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert any(r["ruleId"] == "HP-T007" and r["severity"] == "high" for r in rows), rows
    assert all(r["fix"] for r in rows)
    assert hpctl("template", "lint", str(path), "--fail-on", "high").exit_code == 5


def test_repo_templates_lint_clean(hpctl):
    result = hpctl("template", "lint", str(TEMPLATES / "hotpatch-vm.json"),
                   str(TEMPLATES / "hotpatch-vmss-flex.json"), "--fail-on", "low")
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout) == []


@pytest.mark.parametrize("content,needle", [(None, "does not exist"), ("{not json", "not valid JSON"),
                                            ("[1, 2]", "resources")])
def test_bad_template_files_exit_2(hpctl, tmp_path, content, needle):
    path = tmp_path / "t.json"
    if content is not None:
        path.write_text(content)
    result = hpctl("template", "lint", str(path))
    assert result.exit_code == 2
    assert needle in result.stderr


def test_bad_fail_on(hpctl):
    result = hpctl("template", "lint", str(TEMPLATES / "hotpatch-vm.json"), "--fail-on", "critical")
    assert result.exit_code == 2 and "--fail-on" in result.stderr

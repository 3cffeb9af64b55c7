"""`hpctl template lint` on users' templates: findings with fixes, --fail-on, bad files."""

from __future__ import annotations

import json
import shutil
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


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "terraform"


def test_lint_reads_a_terraform_plan(hpctl):
    result = hpctl("template", "lint", str(FIXTURES / "hp-t007-uniform-scale-set.tfplan.json"), "--fail-on", "high")
    assert result.exit_code == 5
    (row,) = json.loads(result.stdout)
    assert row["format"] == "terraform" and row["ruleId"] == "HP-T007"
    assert row["resource"] == "azurerm_windows_virtual_machine_scale_set.uniform"


def fake_tool(tmp_path, monkeypatch, name: str, body: str) -> Path:
    """A stand-in for terraform/bicep/az on PATH (alone there): logs its arguments, then runs `body`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / f"{name}.log"
    script = bin_dir / name
    body = body.replace("cat ", f"{shutil.which('cat')} ")  # PATH holds the stand-in alone
    script.write_text(f'#!/bin/sh\necho "$PWD|$*" >> "{log}"\n{body}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return log


def test_a_terraform_directory_is_planned_and_shown(hpctl, tmp_path, monkeypatch):
    config = tmp_path / "infra"
    config.mkdir()
    (config / "main.tf").write_text('resource "azurerm_windows_virtual_machine" "web" {}\n')
    plan = FIXTURES / "hp-t002-hotpatch-off.tfplan.json"
    log = fake_tool(tmp_path, monkeypatch, "terraform",
                    f'case "$1" in plan) exit 0;; show) cat "{plan}";; *) exit 9;; esac')
    result = hpctl("template", "lint", str(config))
    assert result.exit_code == 0, result.stderr
    assert [r["ruleId"] for r in json.loads(result.stdout)] == ["HP-T002"]
    plan_call, show_call = log.read_text().splitlines()
    assert plan_call.startswith(f"{config}|plan -input=false -lock=false -refresh=false -out=")
    assert show_call.split("|")[1].startswith("show -json ") and show_call.endswith("hpctl.tfplan")


def test_a_saved_binary_plan_goes_through_terraform_show(hpctl, tmp_path, monkeypatch):
    saved = tmp_path / "web.tfplan"
    saved.write_bytes(b"PK\x03\x04binary plan")
    log = fake_tool(tmp_path, monkeypatch, "terraform", f'cat "{FIXTURES / "good.tfplan.json"}"')
    result = hpctl("template", "lint", str(saved), "--fail-on", "low")
    assert result.exit_code == 0, result.stderr
    assert log.read_text().strip().endswith(f"|show -json {saved}")


def test_a_failing_terraform_plan_is_one_line_exit_2(hpctl, tmp_path, monkeypatch):
    fake_tool(tmp_path, monkeypatch, "terraform", 'echo "Error: Inconsistent dependency lock file" >&2; exit 1')
    result = hpctl("template", "lint", str(tmp_path))
    assert result.exit_code == 2 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "terraform plan failed" in line and "Inconsistent dependency lock file" in line


BICEP_JSON = json.dumps(BAD)


@pytest.mark.parametrize("tool", ["bicep", "az"])
def test_bicep_is_built_with_bicep_or_az(hpctl, tmp_path, monkeypatch, tool):
    source = tmp_path / "main.bicep"
    source.write_text("resource vmss 'Microsoft.Compute/virtualMachineScaleSets@2024-07-01' = {}\n")
    built = tmp_path / "main.json"
    built.write_text(BICEP_JSON)
    log = fake_tool(tmp_path, monkeypatch, tool, f'cat "{built}"')
    result = hpctl("template", "lint", str(source))
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["format"] for r in rows} == {"bicep"} and "HP-T007" in {r["ruleId"] for r in rows}
    expected = f"build {source} --stdout" if tool == "bicep" else f"bicep build --file {source} --stdout"
    assert log.read_text().strip().endswith("|" + expected)


@pytest.mark.parametrize("name,content,needle", [
    ("main.bicep", "param x string\n", "neither bicep nor az is on PATH"),
    ("main.tf", 'resource "x" "y" {}\n', "terraform is not on PATH"),
    ("web.tfplan", "PK\x03\x04", "terraform is not on PATH"),
])
def test_missing_tools_are_one_clear_line_exit_2(hpctl, tmp_path, monkeypatch, name, content, needle):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    path = tmp_path / name
    path.write_text(content)
    result = hpctl("template", "lint", str(path))
    assert result.exit_code == 2 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("ERROR: ") and needle in line

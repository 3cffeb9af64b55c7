"""vm create, vm enable-hotpatch, vmss create and vmss check against recorded ARM traffic."""

from __future__ import annotations

import json
import stat

import pytest

pytestmark = pytest.mark.vcr
PASSWORD = "Correct-Horse-9-Battery"


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "admin-password"
    path.write_text(PASSWORD + "\n")
    return str(path)


@pytest.fixture(autouse=True)
def secrets_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HPCTL_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.delenv("HPCTL_ADMIN_PASSWORD", raising=False)
    return tmp_path / "secrets"


def test_vm_create_deploys_a_hotpatch_vm(arm, hpctl, password_file):
    result = hpctl("vm", "create", "-g", "rg-web", "-n", "web-50", "--image", "2025-datacenter-azure-edition-core",
                   "--zone", "2", "--admin-password-file", password_file, "--tags", "env=prod")
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["name"] == "web-50" and row["zone"] == "2" and row["eligible"] is True
    assert row["provisioningState"] == "Succeeded"
    patch = row["patchSettings"]
    assert patch["patchMode"] == "AutomaticByPlatform" and patch["enableHotpatching"] is True
    assert patch["assessmentMode"] == "AutomaticByPlatform"
    assert patch["automaticByPlatformSettings"]["bypassPlatformSafetyChecksOnUserSchedule"] is False
    assert row["securityType"] == "TrustedLaunch" and row["provisionVMAgent"] is True
    assert row["flags"] == []
    assert PASSWORD not in result.stdout + result.stderr


def test_vm_create_in_a_new_group(arm, hpctl, password_file):
    result = hpctl("vm", "create", "-g", "rg-new", "-n", "new-01", "--image",
                   "MicrosoftWindowsServer:WindowsServer:2022-datacenter-azure-edition-hotpatch:latest",
                   "--create-group", "--location", "westeurope", "--admin-password-file", password_file)
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["location"] == "westeurope" and row["resourceGroup"].lower() == "rg-new"
    assert row["image"].lower().endswith("2022-datacenter-azure-edition-hotpatch:latest")


def test_vm_create_generates_a_password_into_a_private_file(arm, hpctl, secrets_dir):
    result = hpctl("vm", "create", "-g", "rg-web", "-n", "web-51", "--image", "2025-datacenter-azure-edition")
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    path = row["adminPasswordFile"]
    assert path.startswith(str(secrets_dir)) and path in result.stderr
    mode = stat.S_IMODE((secrets_dir / "rg-web" / "web-51-admin-password").stat().st_mode)
    assert mode == 0o600
    secret = open(path).read().strip()
    assert len(secret) >= 12 and secret not in result.stdout + result.stderr


def test_vm_create_into_a_missing_group_exits_3(arm, hpctl, password_file):
    result = hpctl("vm", "create", "-g", "rg-nope", "-n", "web-52", "--image", "2025-datacenter-azure-edition-core",
                   "--admin-password-file", password_file)
    assert result.exit_code == 3
    assert "--create-group" in result.stderr


def test_vm_create_no_wait_returns_once_accepted(arm, hpctl, password_file):
    result = hpctl("vm", "create", "-g", "rg-web", "-n", "web-53", "--image", "2025-datacenter-azure-edition-core",
                   "--admin-password-file", password_file, "--no-wait")
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["deployment"]["provisioningState"] == "Accepted"


def test_enable_hotpatch_shows_and_applies_the_change_then_is_idempotent(arm, hpctl):
    result = hpctl("vm", "enable-hotpatch", "-g", "rg-app", "-n", "app-02")
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["changed"] is True
    assert {"setting": "enableHotpatching", "before": False, "after": True} in row["changes"]
    assert row["patchSettings"]["enableHotpatching"] is True
    assert "enableHotpatching: False -> True" in result.stderr
    again = hpctl("vm", "enable-hotpatch", "-g", "rg-app", "-n", "app-02")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["changed"] is False and "nothing to change" in again.stderr


def test_enable_hotpatch_warns_about_a_customer_managed_schedule(arm, hpctl):
    result = hpctl("vm", "enable-hotpatch", "-g", "rg-api", "-n", "api-02")
    assert result.exit_code == 0, result.stderr
    assert "WARNING:" in result.stderr and "customer-managed schedule" in result.stderr
    changes = {c["setting"]: c for c in json.loads(result.stdout)["changes"]}
    assert changes["automaticByPlatformSettings.bypassPlatformSafetyChecksOnUserSchedule"]["after"] is False


def test_enable_hotpatch_dry_run_changes_nothing(arm, hpctl):
    result = hpctl("vm", "enable-hotpatch", "-g", "rg-data", "-n", "sql-02", "--dry-run")
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["dryRun"] is True and row["changed"] is False
    assert {"setting": "patchMode", "before": "Manual", "after": "AutomaticByPlatform"} in row["changes"]


def test_enable_hotpatch_refuses_an_image_that_cannot_hotpatch(arm, hpctl):
    result = hpctl("vm", "enable-hotpatch", "-g", "rg-legacy", "-n", "legacy-02")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "can't hotpatch" in result.stderr and "2022-datacenter-azure-edition-hotpatch" in result.stderr


def test_enable_hotpatch_refuses_a_vm_without_the_agent(arm, hpctl):
    result = hpctl("vm", "enable-hotpatch", "-g", "rg-legacy", "-n", "legacy-04")
    assert result.exit_code == 2
    assert "provisionVMAgent" in result.stderr or "VM agent" in result.stderr


def test_vmss_create_flexible_with_health_extension(arm, hpctl, password_file):
    result = hpctl("vmss", "create", "-g", "rg-api", "-n", "api-hp", "--image", "2025-datacenter-azure-edition-core",
                   "--instance-count", "2", "--admin-password-file", password_file)
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["orchestrationMode"] == "Flexible"
    assert row["patchSettings"]["enableHotpatching"] is True
    assert row["extensions"], "the Application Health extension must be there"


def test_vmss_check_flags_uniform_and_missing_health_extension(arm, hpctl):
    result = hpctl("vmss", "check")
    assert result.exit_code == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    findings = {name: {f["ruleId"] for f in r["findings"]} for name, r in rows.items()}
    assert any("HP012" in ids for ids in findings.values()), findings
    assert any("HP013" in ids for ids in findings.values()), findings
    assert any(r["status"] == "OK" for r in rows.values())


def test_failed_deployment_shows_the_failing_resources_error(arm, hpctl, password_file):
    subnet = ("/subscriptions/{sub}/resourceGroups/rg-web/providers/Microsoft.Network/virtualNetworks/vnet-web/"
              "subnets/missing").format(sub=arm.sandbox.subscription_id if arm.sandbox else
                                        "00000000-0000-0000-0000-000000000000")
    result = hpctl("vm", "create", "-g", "rg-web", "-n", "web-54", "--image", "2025-datacenter-azure-edition-core",
                   "--subnet-id", subnet, "--admin-password-file", password_file)
    assert result.exit_code == 1
    assert result.stdout == ""
    first = result.stderr.splitlines()[-2] if "Deploying" in result.stderr else result.stderr.splitlines()[0]
    # Not just "DeploymentFailed": the Network provider's own reason for the subnet.
    assert "DeploymentFailed" not in first and "missing" in result.stderr

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


def _writes(arm):
    """The writes the sandbox answered (recording); in playback the cassette itself holds every exchange."""
    if arm.sandbox is None:
        return None
    return [r for r in arm.sandbox.requests() if r["method"] in ("PUT", "PATCH", "DELETE", "POST")
            and "/providers/Microsoft.ResourceGraph/" not in r["path"]]


def test_enable_hotpatch_shows_and_applies_the_change_then_is_idempotent(arm, hpctl):
    result = hpctl("vm", "enable-hotpatch", "-g", "rg-app", "-n", "app-02", "--yes")
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["changed"] is True and row["outcome"] == "Changed"
    assert row["changes"] == [{"setting": "enableHotpatching", "before": False, "after": True}]
    assert row["patchSettings"]["enableHotpatching"] is True
    assert "enableHotpatching: False -> True" in result.stderr
    again = hpctl("vm", "enable-hotpatch", "-g", "rg-app", "-n", "app-02", "--yes")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["changed"] is False and "nothing to change" in again.stderr


def test_enable_hotpatch_leaves_a_right_vm_alone(arm, hpctl):
    # web-01 has hotpatch on and no rebootSetting: hotpatch needs nothing more, so nothing is sent (hpctl
    # used to set rebootSetting here and report Changed).
    result = hpctl("vm", "enable-hotpatch", "-g", "rg-web", "-n", "web-01", "--yes")
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["outcome"] == "Unchanged" and row["changed"] is False and row["changes"] == []
    assert _writes(arm) in (None, [])


def test_enable_hotpatch_reports_drift_without_fixing_it(arm, hpctl):
    # app-03 has hotpatch on but assessmentMode ImageDefault: hotpatch doesn't need it, so it is reported.
    result = hpctl("vm", "enable-hotpatch", "-g", "rg-app", "-n", "app-03", "--yes")
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["outcome"] == "Unchanged"
    assert row["drift"][0]["setting"] == "assessmentMode" and row["drift"][0]["value"] == "ImageDefault"
    assert "WARNING: rg-app/app-03: assessmentMode is ImageDefault" in result.stderr
    assert "az vm update -g rg-app -n app-03" in result.stderr


def test_enable_hotpatch_refuses_a_vm_in_a_customer_managed_schedule(arm, hpctl):
    result = hpctl("vm", "enable-hotpatch", "-g", "rg-api", "-n", "api-04", "--yes")
    assert result.exit_code == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "customer-managed schedule mc-api-saturday" in lines[0]
    assert "--leave-schedule" in lines[0]
    assert _writes(arm) in (None, [])


def test_enable_hotpatch_leave_schedule_removes_the_assignment_then_patches(arm, hpctl):
    result = hpctl("vm", "enable-hotpatch", "-g", "rg-api", "-n", "api-02", "--leave-schedule", "--yes")
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["leftSchedules"] == ["mc-api-saturday"]
    assert row["changes"][0] == {"setting": "schedule mc-api-saturday", "before": "assigned (mc-api-saturday)",
                                 "after": "removed"}
    settings = {c["setting"]: c["after"] for c in row["changes"][1:]}
    assert settings == {"enableHotpatching": True,
                        "automaticByPlatformSettings.bypassPlatformSafetyChecksOnUserSchedule": False}
    assert row["patchSettings"]["enableHotpatching"] is True
    writes = _writes(arm)
    if writes is not None:
        # The assignment goes first, then the VM (never the other way round).
        assert [w["method"] for w in writes] == ["DELETE", "PATCH"]
        assert writes[0]["path"].endswith("/virtualMachines/api-02/providers/Microsoft.Maintenance/"
                                          "configurationAssignments/mc-api-saturday")
    status = json.loads(hpctl("status", "-g", "rg-api", "-n", "api-02").stdout)
    assert status[0]["schedules"] == [] and status[0]["hotpatch"] is True


def test_enable_hotpatch_dry_run_changes_nothing(arm, hpctl):
    result = hpctl("vm", "enable-hotpatch", "-g", "rg-data", "-n", "sql-02", "--dry-run")
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["dryRun"] is True and row["changed"] is False and row["outcome"] == "WouldChange"
    assert {"setting": "patchMode", "before": "Manual", "after": "AutomaticByPlatform"} in row["changes"]
    table = hpctl("vm", "enable-hotpatch", "-g", "rg-data", "-n", "sql-02", "--dry-run", "-o", "table")
    lines = table.stdout.splitlines()
    assert lines[0].split()[:6] == ["Name", "ResourceGroup", "Outcome", "Setting", "Before", "After"]
    assert any(line.split()[:6] == ["sql-02", "rg-data", "WouldChange", "patchMode", "Manual",
                                    "AutomaticByPlatform"] for line in lines[2:])
    assert _writes(arm) in (None, [])


def test_enable_hotpatch_on_a_group_changes_what_it_can_and_lists_the_rest(arm, hpctl):
    result = hpctl("vm", "enable-hotpatch", "-g", "rg-app", "--yes")
    assert result.exit_code == 1  # app-04 has no VM agent: not every target was done
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["app-02"]["outcome"] == "Changed"
    assert rows["app-01"]["outcome"] == "Unchanged"
    assert rows["app-04"]["outcome"] == "Refused" and rows["app-04"]["note"] == "no VM agent"
    assert "hotpatch was not turned on for 1 of" in result.stderr and "rg-app/app-04" in result.stderr
    # In a fleet, VMs left alone, drift and refusals are one line per kind, not one per VM.
    assert "WARNING: not changed, no VM agent: rg-app/app-04" in result.stderr
    assert "WARNING: assessmentMode is not AutomaticByPlatform on rg-app/app-03" in result.stderr
    assert "already have every hotpatch setting; nothing to change (rg-app/app-01" in result.stderr
    writes = _writes(arm)
    if writes is not None:
        assert [w["path"].rsplit("/", 1)[-1] for w in writes if w["method"] == "PATCH"] == ["app-02"]


def test_enable_hotpatch_by_tag_and_by_ids(arm, hpctl):
    dry = hpctl("vm", "enable-hotpatch", "--tag", "team=payments", "--dry-run", "-o", "table")
    assert dry.exit_code == 1, dry.stderr  # app-04 is refused
    lines = {line.split()[0]: line.split() for line in dry.stdout.splitlines()[2:]}
    assert lines["app-02"][:4] == ["app-02", "rg-app", "WouldChange", "enableHotpatching"]
    assert set(lines) == {"app-01", "app-02", "app-03", "app-04"}  # team=payments is rg-app's tag
    sub = "00000000-0000-0000-0000-000000000000" if arm.sandbox is None else arm.sandbox.subscription_id
    ids = [f"/subscriptions/{sub}/resourceGroups/{g}/providers/Microsoft.Compute/virtualMachines/{n}"
           for g, n in (("rg-web", "web-01"), ("rg-data", "sql-02"))]
    result = hpctl("vm", "enable-hotpatch", "--ids", " ".join(ids), "--yes")
    assert result.exit_code == 0, result.stderr
    rows = {r["name"]: r["outcome"] for r in json.loads(result.stdout)}
    assert rows == {"web-01": "Unchanged", "sql-02": "Changed"}


def test_enable_hotpatch_refuses_an_image_that_cannot_hotpatch(arm, hpctl):
    result = hpctl("vm", "enable-hotpatch", "-g", "rg-legacy", "-n", "legacy-02", "--yes")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "can't hotpatch" in result.stderr and "2022-datacenter-azure-edition-hotpatch" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_enable_hotpatch_refuses_a_vm_without_the_agent(arm, hpctl):
    result = hpctl("vm", "enable-hotpatch", "-g", "rg-legacy", "-n", "legacy-04", "--yes")
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


def _subscription(arm):
    return arm.sandbox.subscription_id if arm.sandbox else "00000000-0000-0000-0000-000000000000"


def test_vm_create_into_an_existing_vnet_and_subnet_with_hybrid_benefit(arm, hpctl, password_file):
    result = hpctl("vm", "create", "-g", "rg-web", "-n", "web-60", "--image", "2025-datacenter-azure-edition-core",
                   "--vnet-name", "vnet-web", "--subnet", "default", "--license-type", "windows_server",
                   "--admin-password-file", password_file)
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["licenseType"] == "Windows_Server"
    # The seeded vnet-web/default is 10.1.0.0/24: the NIC got its address from that subnet, not a new VNet.
    assert row["privateIpAddress"].startswith("10.1.0.")


def test_vm_create_adds_a_subnet_to_an_existing_vnet(arm, hpctl, password_file):
    result = hpctl("vm", "create", "-g", "rg-web", "-n", "web-61", "--image", "2025-datacenter-azure-edition-core",
                   "--vnet-name", "vnet-web", "--subnet", "hotpatch", "--admin-password-file", password_file)
    assert result.exit_code == 0, result.stderr
    # 10.1.0.0/24 is taken by "default": hpctl picked the next free /24 of the VNet for the new subnet.
    assert json.loads(result.stdout)["privateIpAddress"] == "10.1.1.4"


def test_vm_create_makes_the_named_vnet_when_it_does_not_exist(arm, hpctl, password_file):
    result = hpctl("vm", "create", "-g", "rg-web", "-n", "web-62", "--image", "2025-datacenter-azure-edition-core",
                   "--vnet-name", "vnet-hp", "--admin-password-file", password_file)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["privateIpAddress"] == "10.0.0.4"
    assert "licenseType" in json.loads(result.stdout) and json.loads(result.stdout)["licenseType"] is None


def _vault(arm, enabled=True):
    vault_id = (f"/subscriptions/{_subscription(arm)}/resourceGroups/rg-web/providers/Microsoft.KeyVault/vaults/"
                "kv-web")

    def make(sandbox):
        network = sandbox.backend.network
        network.put("rg-web", "Microsoft.KeyVault/vaults", "kv-web",
                    {"location": "eastus", "properties": {"enabledForTemplateDeployment": enabled,
                                                          "sku": {"family": "A", "name": "standard"}}})
        network.put("rg-web", "Microsoft.KeyVault/vaults/secrets", "kv-web/web-admin",
                    {"properties": {"value": PASSWORD}})

    arm.arrange(make)
    return vault_id


def test_vm_create_takes_the_password_from_key_vault(arm, hpctl, secrets_dir, monkeypatch):
    monkeypatch.setenv("HPCTL_ADMIN_PASSWORD", "Not-This-One-7")  # the Key Vault flags win over the variable
    vault_id = _vault(arm)
    result = hpctl("vm", "create", "-g", "rg-web", "-n", "web-63", "--image", "2025-datacenter-azure-edition-core",
                   "--admin-password-keyvault", vault_id, "--admin-password-secret", "web-admin")
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["provisioningState"] == "Succeeded" and "adminPasswordFile" not in row
    assert not secrets_dir.exists(), "with Key Vault hpctl neither generates nor stores a password"


def test_vm_create_reports_a_key_vault_that_arm_may_not_read(arm, hpctl, secrets_dir):
    vault_id = _vault(arm, enabled=False)
    result = hpctl("vm", "create", "-g", "rg-web", "-n", "web-64", "--image", "2025-datacenter-azure-edition-core",
                   "--admin-password-keyvault", vault_id, "--admin-password-secret", "web-admin")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "KeyVaultParameterReferenceSecretRetrieveFailed" in result.stderr or "template deployment" in result.stderr


def test_vm_create_on_an_existing_vm_says_the_vm_exists(arm, hpctl, secrets_dir):
    result = hpctl("vm", "create", "-g", "rg-web", "-n", "web-01", "--image", "2025-datacenter-azure-edition-core")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "VM web-01 already exists in rg-web" in result.stderr and "enable-hotpatch" in result.stderr
    assert "password" not in result.stderr.lower()
    assert not secrets_dir.exists(), "no password is generated for a VM that will not be created"


def test_a_failed_deployment_keeps_the_generated_password_and_a_retry_reuses_it(arm, hpctl, secrets_dir):
    subnet = (f"/subscriptions/{_subscription(arm)}/resourceGroups/rg-web/providers/Microsoft.Network/"
              "virtualNetworks/vnet-web/subnets/missing")
    failed = hpctl("vm", "create", "-g", "rg-web", "-n", "web-65", "--image", "2025-datacenter-azure-edition-core",
                   "--subnet-id", subnet)
    assert failed.exit_code == 1
    path = secrets_dir / "rg-web" / "web-65-admin-password"
    assert path.is_file() and f"stays in {path}" in failed.stderr
    generated = path.read_text()
    retry = hpctl("vm", "create", "-g", "rg-web", "-n", "web-65", "--image", "2025-datacenter-azure-edition-core")
    assert retry.exit_code == 0, retry.stderr
    assert "Reusing the admin password" in retry.stderr
    assert json.loads(retry.stdout)["adminPasswordFile"] == str(path)
    assert path.read_text() == generated and generated not in retry.stdout + retry.stderr


def test_vm_create_uses_the_password_in_the_environment(arm, hpctl, secrets_dir, monkeypatch):
    monkeypatch.setenv("HPCTL_ADMIN_PASSWORD", PASSWORD)
    result = hpctl("vm", "create", "-g", "rg-web", "-n", "web-66", "--image", "2025-datacenter-azure-edition-core")
    assert result.exit_code == 0, result.stderr
    assert "adminPasswordFile" not in json.loads(result.stdout)
    assert "Generated" not in result.stderr and not secrets_dir.exists()
    assert PASSWORD not in result.stdout + result.stderr


def test_vmss_create_passes_the_reboot_setting_to_the_template(arm, hpctl, password_file):
    result = hpctl("vmss", "create", "-g", "rg-api", "-n", "api-nv", "--image", "2025-datacenter-azure-edition-core",
                   "--instance-count", "1", "--reboot-setting", "Never", "--admin-password-file", password_file)
    assert result.exit_code == 0, result.stderr
    settings = json.loads(result.stdout)["patchSettings"]["automaticByPlatformSettings"]
    assert settings["rebootSetting"] == "Never"


def test_vmss_create_on_an_existing_scale_set_says_it_exists(arm, hpctl, password_file):
    first = hpctl("vmss", "check", "-g", "rg-api")
    name = json.loads(first.stdout)[0]["name"]
    result = hpctl("vmss", "create", "-g", "rg-api", "-n", name, "--image", "2025-datacenter-azure-edition-core",
                   "--admin-password-file", password_file)
    assert result.exit_code == 2
    assert f"Scale set {name} already exists in rg-api" in result.stderr

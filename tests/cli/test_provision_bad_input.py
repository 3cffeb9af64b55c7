"""vm create / vmss create refuse bad input before anything is sent: exit 2, one line, nothing in the request log."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import running_sandbox

IMAGE = ["--image", "2025-datacenter-azure-edition-core"]
VM = ["vm", "create", "-g", "rg-web", "-n", "web-50", *IMAGE]
VMSS = ["vmss", "create", "-g", "rg-api", "-n", "api", *IMAGE]
GUID = "00000000-0000-0000-0000-000000000000"
SUBNET_ID = (f"/subscriptions/{GUID}/resourceGroups/rg-web/providers/Microsoft.Network/virtualNetworks/vnet-web/"
             "subnets/app")
VAULT_ID = f"/subscriptions/{GUID}/resourceGroups/rg-sec/providers/Microsoft.KeyVault/vaults/kv-ops"

BAD = {
    # image
    "plain 2022 azure edition": (["vm", "create", "-g", "rg-web", "-n", "web-50", "--image",
                                  "2022-datacenter-azure-edition"], "hotpatch"),
    "2019 datacenter": (["vm", "create", "-g", "rg-web", "-n", "web-50", "--image", "2019-datacenter"], "2019"),
    "other publisher": (["vm", "create", "-g", "rg-web", "-n", "web-50", "--image",
                         "Canonical:ubuntu-24_04-lts:server:latest"], "Canonical"),
    "custom image id": (["vm", "create", "-g", "rg-web", "-n", "web-50", "--image",
                         "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/"
                         "Microsoft.Compute/images/golden"], "custom"),
    "gallery image": (["vm", "create", "-g", "rg-web", "-n", "web-50", "--image",
                       "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/"
                       "Microsoft.Compute/galleries/gal/images/ws2025"], "allery"),
    "malformed urn": (["vm", "create", "-g", "rg-web", "-n", "web-50", "--image", "a:b"], "URN"),
    # names
    "vm name too long for a computer name": (["vm", "create", "-g", "rg-web", "-n", "web-frontend-0001", *IMAGE],
                                             "15"),
    "vm name with bad characters": (["vm", "create", "-g", "rg-web", "-n", "web_01!", *IMAGE], "web_01!"),
    "computer name all digits": ([*VM, "--computer-name", "12345"], "--computer-name"),
    "computer name with a dot": ([*VM, "--computer-name", "web.01"], "--computer-name"),
    "bad resource group": (["vm", "create", "-g", "rg web", "-n", "web-50", *IMAGE], "resource"),
    # admin user
    "admin user administrator": ([*VM, "--admin-username", "administrator"], "--admin-username"),
    "admin user admin": ([*VM, "--admin-username", "Admin"], "--admin-username"),
    "admin user too long": ([*VM, "--admin-username", "a" * 21], "--admin-username"),
    "admin user ends with a dot": ([*VM, "--admin-username", "ops."], "--admin-username"),
    # size, placement
    "gen1-only size": ([*VM, "--size", "Basic_A1"], "--size"),
    "zone and availability set": ([*VM, "--zone", "1", "--availability-set", "avset-web"], "--zone"),
    "zone 4": ([*VM, "--zone", "4"], "--zone"),
    "reboot setting sometimes": ([*VM, "--reboot-setting", "Sometimes"], "--reboot-setting"),
    # network
    "rdp from anywhere": ([*VM, "--public-ip", "--rdp-from", "*"], "--rdp-from"),
    "rdp from internet": ([*VM, "--public-ip", "--rdp-from", "Internet"], "--rdp-from"),
    "rdp from 0.0.0.0/0": ([*VM, "--public-ip", "--rdp-from", "0.0.0.0/0"], "--rdp-from"),
    "rdp from a bad cidr": ([*VM, "--rdp-from", "10.0.0.0/33"], "--rdp-from"),
    "malformed subnet id": ([*VM, "--subnet-id", "/subscriptions/x/subnets/y"], "--subnet-id"),
    "subnet name without a vnet": ([*VM, "--subnet", "app"], "--vnet-name"),
    "subnet id with a vnet name": ([*VM, "--vnet-name", "vnet-web", "--subnet", SUBNET_ID], "--vnet-name"),
    "subnet and subnet id": ([*VM, "--subnet", SUBNET_ID, "--subnet-id", SUBNET_ID], "--subnet-id"),
    "vnet name and subnet id": ([*VM, "--vnet-name", "vnet-web", "--subnet-id", SUBNET_ID], "--subnet-id"),
    "malformed subnet given as an id": ([*VM, "--subnet", "/subscriptions/x/subnets/y"], "--subnet"),
    "bad vnet name": ([*VM, "--vnet-name", "-vnet"], "--vnet-name"),
    "bad subnet name": ([*VM, "--vnet-name", "vnet-web", "--subnet", "app tier"], "--subnet"),
    "linux licence type": ([*VM, "--license-type", "RHEL_BYOS"], "--license-type"),
    "key vault without a secret": ([*VM, "--admin-password-keyvault", VAULT_ID], "--admin-password-secret"),
    "secret without a key vault": ([*VM, "--admin-password-secret", "web-admin"], "--admin-password-keyvault"),
    "malformed key vault id": ([*VM, "--admin-password-keyvault", "/subscriptions/x/vaults/kv",
                                "--admin-password-secret", "web-admin"], "--admin-password-keyvault"),
    "bad secret name": ([*VM, "--admin-password-keyvault", VAULT_ID, "--admin-password-secret", "web_admin"],
                        "--admin-password-secret"),
    "key vault and a password file": ([*VM, "--admin-password-keyvault", VAULT_ID, "--admin-password-secret",
                                       "web-admin"], "--admin-password-file"),
    "bad tag": ([*VM, "--tags", "=prod"], "--tags"),
    "location with spaces": ([*VM, "--location", "west europe!"], "--location"),
    "create group without location": ([*VM, "--create-group"], "--location"),
    # scale sets
    "uniform scale set": ([*VMSS, "--orchestration-mode", "Uniform"], "Uniform"),
    "unknown orchestration mode": ([*VMSS, "--orchestration-mode", "Elastic"], "--orchestration-mode"),
    "scale set ineligible image": (["vmss", "create", "-g", "rg-api", "-n", "api", "--image", "2022-datacenter"],
                                   "hotpatch"),
    "instance count 1001": ([*VMSS, "--instance-count", "1001"], "--instance-count"),
    "instance count negative": ([*VMSS, "--instance-count", "-1"], "--instance-count"),
    "computer name prefix too long": ([*VMSS, "--computer-name-prefix", "apiservers"], "--computer-name-prefix"),
    "health path with tcp": ([*VMSS, "--health-protocol", "tcp", "--health-path", "/health"], "--health-path"),
    "health port 0": ([*VMSS, "--health-protocol", "http", "--health-port", "0", "--health-path", "/"],
                      "--health-port"),
}


@pytest.fixture(scope="module")
def live_sandbox(tmp_path_factory):
    state = tmp_path_factory.mktemp("sandbox")
    with running_sandbox(state, fleet=8) as sandbox:
        yield sandbox, state


@pytest.mark.parametrize("args,needle", BAD.values(), ids=BAD.keys())
def test_bad_create_input_exits_2_and_sends_nothing(args, needle, live_sandbox, hpctl, monkeypatch, tmp_path):
    sandbox, state = live_sandbox
    monkeypatch.setenv("HPCTL_CLOUD", "sandbox")
    monkeypatch.setenv("HPCTL_SANDBOX_DIR", str(state))
    monkeypatch.setenv("HPCTL_SECRETS_DIR", str(tmp_path / "secrets"))
    password = tmp_path / "pw"
    password.write_text("Correct-Horse-9-Battery\n")
    before = len(sandbox.requests())
    result = hpctl(*args, "--admin-password-file", str(password))
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("ERROR: "), result.stderr
    if needle:
        assert needle in lines[0], lines[0]
    assert len(lines) <= 2
    assert len(sandbox.requests()) == before, "a rejected input must send nothing"
    assert not (tmp_path / "secrets").exists(), "no password may be generated for a rejected request"


@pytest.mark.parametrize("password,why", [("short1!A", "12"), ("alllowercaseletters", "3 of"),
                                          ("P@ssw0rd", "common")])
def test_weak_password_file_is_refused_without_echoing_it(password, why, hpctl, tmp_path, monkeypatch):
    monkeypatch.setenv("HPCTL_SECRETS_DIR", str(tmp_path / "secrets"))
    path = tmp_path / "pw"
    path.write_text(password)
    result = hpctl(*VM, "--admin-password-file", str(path), "--dry-run")
    assert result.exit_code == 2
    assert password not in result.stderr and password not in result.stdout


def test_password_is_never_an_argv_value(hpctl):
    result = hpctl(*VM, "--admin-password", "Correct-Horse-9-Battery")
    assert result.exit_code == 2
    assert "No such option" in result.stderr or "no such option" in result.stderr.lower()


@pytest.fixture
def sandbox_env(live_sandbox, monkeypatch, tmp_path):
    sandbox, state = live_sandbox
    monkeypatch.setenv("HPCTL_CLOUD", "sandbox")
    monkeypatch.setenv("HPCTL_SANDBOX_DIR", str(state))
    monkeypatch.setenv("HPCTL_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.delenv("HPCTL_ADMIN_PASSWORD", raising=False)
    return sandbox


SECRET = "Correct-Horse-9-Battery"


@pytest.mark.parametrize("args", [VM, VMSS], ids=["vm", "vmss"])
@pytest.mark.parametrize("source", ["file", "environment"])
def test_dry_run_shows_the_deployment_with_the_password_redacted(args, source, sandbox_env, hpctl, monkeypatch,
                                                                 tmp_path):
    extra = []
    if source == "file":
        (tmp_path / "pw").write_text(SECRET + "\n")
        extra = ["--admin-password-file", str(tmp_path / "pw")]
    else:
        monkeypatch.setenv("HPCTL_ADMIN_PASSWORD", SECRET)
    before = len(sandbox_env.requests())
    result = hpctl(*args, *extra, "--reboot-setting", "Never", "--dry-run")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    params = plan["deployment"]["properties"]["parameters"]
    assert plan["dryRun"] is True and params["adminPassword"] == {"value": "REDACTED"}
    assert params["rebootSetting"] == {"value": "Never"}  # --reboot-setting reaches the template
    assert plan["deployment"]["properties"]["template"]["resources"], "the whole template is shown"
    assert SECRET not in result.stdout + result.stderr
    table = hpctl(*args, *extra, "--dry-run", "-o", "table")
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["Deployment", "ResourceGroup", "Parameter", "Value"]
    assert any(line.split()[2:] == ["adminPassword", "REDACTED"] for line in lines[2:])
    assert any(line.split()[2:] == ["imageSku", "2025-datacenter-azure-edition-core"] for line in lines[2:])
    assert SECRET not in table.stdout + table.stderr
    assert len(sandbox_env.requests()) == before, "--dry-run sends nothing"
    assert not (tmp_path / "secrets").exists()


def test_a_weak_password_in_the_environment_is_refused_by_name(sandbox_env, hpctl, monkeypatch):
    monkeypatch.setenv("HPCTL_ADMIN_PASSWORD", "weakweakweak")
    before = len(sandbox_env.requests())
    result = hpctl(*VM, "--dry-run")
    assert result.exit_code == 2
    assert "HPCTL_ADMIN_PASSWORD" in result.stderr.splitlines()[0] and "weakweakweak" not in result.stderr
    assert len(sandbox_env.requests()) == before


def test_dry_run_with_key_vault_shows_the_reference_and_the_new_flags(sandbox_env, hpctl):
    result = hpctl(*VM, "--vnet-name", "vnet-web", "--subnet", "app", "--license-type", "Windows_Server",
                   "--admin-password-keyvault", VAULT_ID, "--admin-password-secret", "web-admin", "--dry-run")
    assert result.exit_code == 0, result.stderr
    params = json.loads(result.stdout)["deployment"]["properties"]["parameters"]
    assert params["adminPassword"] == {"reference": {"keyVault": {"id": VAULT_ID}, "secretName": "web-admin"}}
    assert params["licenseType"] == {"value": "Windows_Server"}
    assert params["vnetName"] == {"value": "vnet-web"} and params["subnetName"] == {"value": "app"}
    assert "--dry-run reads nothing" in result.stderr
    table = hpctl(*VM, "--admin-password-keyvault", VAULT_ID, "--admin-password-secret", "web-admin", "--dry-run",
                  "-o", "table")
    assert "Key Vault reference: kv-ops/web-admin" in table.stdout

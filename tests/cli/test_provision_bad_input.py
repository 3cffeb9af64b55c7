"""vm create / vmss create refuse bad input before anything is sent: exit 2, one line, nothing in the request log."""

from __future__ import annotations

import pytest

from tests.conftest import SANDBOX_DATE

IMAGE = ["--image", "2025-datacenter-azure-edition-core"]
VM = ["vm", "create", "-g", "rg-web", "-n", "web-50", *IMAGE]
VMSS = ["vmss", "create", "-g", "rg-api", "-n", "api", *IMAGE]

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
    from hpctl.sandbox import Sandbox, SandboxConfig

    state = tmp_path_factory.mktemp("sandbox")
    sandbox = Sandbox(SandboxConfig(fleet=8, seed=7, date=SANDBOX_DATE, time_scale=60000.0, state_dir=state))
    sandbox.start()
    yield sandbox, state
    sandbox.stop()


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

"""Every refusal of `hpctl arc enable-hotpatch` / `disable-hotpatch`: exit 2, one line saying what is wrong and how
to fix it, and no write sent (a refusal that depends on the machine reads it first: GETs only)."""

from __future__ import annotations

import pytest

from tests.cli.conftest import running_sandbox

SUB = "00000000-0000-0000-0000-000000000000"
WRITES = ("PUT", "PATCH", "POST", "DELETE")

REFUSALS = {
    "windows server 2022": (["enable-hotpatch", "-g", "rg-arc-onprem", "-n", "arc-ws22-01", "--yes"],
                            "needs Windows Server 2025 Standard or Datacenter", True),
    "build below the minimum": (["enable-hotpatch", "-g", "rg-arc-branch", "-n", "arc-old-01", "--yes"],
                                "below 26100.1742", True),
    "agent disconnected": (["enable-hotpatch", "-g", "rg-arc-branch", "-n", "arc-dc-02", "--yes"],
                           "Connected Machine agent is Disconnected", True),
    "several named, one refused": (["enable-hotpatch", "-g", "rg-arc-onprem", "-n", "arc-std-01", "-n",
                                    "arc-ws22-01", "--yes"], "arc-ws22-01 runs Windows Server 2022", True),
    "disenroll while disconnected": (["disable-hotpatch", "-g", "rg-arc-branch", "-n", "arc-dc-02", "--yes"],
                                     "reconnect it", True),
    "a VM id": (["enable-hotpatch", "--ids", f"/subscriptions/{SUB}/resourceGroups/rg-web/providers/"
                 "Microsoft.Compute/virtualMachines/web-01", "--yes"], "hpctl vm enable-hotpatch", False),
    "no terminal and no --yes": (["enable-hotpatch", "-g", "rg-arc-onprem", "-n", "arc-std-01"], "--yes", False),
    "no terminal, several to disenroll": (["disable-hotpatch", "-g", "rg-arc-onprem"], "--yes", False),
    "bad max-parallel": (["enable-hotpatch", "-g", "rg-arc-onprem", "--max-parallel", "0", "--yes"],
                         "--max-parallel", False),
    "name without group": (["enable-hotpatch", "-n", "arc-std-01", "--yes"], "-g", False),
}


@pytest.fixture(scope="module")
def arc_sandbox(tmp_path_factory):
    state = tmp_path_factory.mktemp("sandbox")
    with running_sandbox(state) as sandbox:
        yield sandbox, state


@pytest.mark.parametrize("args,needle,reads", REFUSALS.values(), ids=REFUSALS.keys())
def test_refusals_exit_2_in_one_line_and_send_no_write(args, needle, reads, arc_sandbox, hpctl, monkeypatch):
    sandbox, state = arc_sandbox
    monkeypatch.setenv("HPCTL_CLOUD", "sandbox")
    monkeypatch.setenv("HPCTL_SANDBOX_DIR", str(state))
    before = len(sandbox.requests())
    result = hpctl("arc", *args)
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR: ") and needle in lines[0], result.stderr
    sent = sandbox.requests()[before:]
    assert not [r for r in sent if r["method"] in WRITES], sent
    # Input that is wrong on its face is refused before anything at all is read.
    assert bool(sent) == reads


def test_the_sandbox_license_state_is_untouched_after_the_refusals(arc_sandbox):
    sandbox, _ = arc_sandbox
    hybrid = sandbox.backend.hybrid
    assert hybrid.get("rg-arc-onprem", "arc-ws22-01").license is None
    assert hybrid.get("rg-arc-onprem", "arc-std-01").license is None
    assert hybrid.get("rg-arc-branch", "arc-dc-02").license.feature == "Enabled"

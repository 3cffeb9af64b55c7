"""Without any Azure credential, a real-cloud command fails fast with exit 4 and one line on what to do."""

from __future__ import annotations


def test_no_credential_exits_4_with_one_line(hpctl, monkeypatch, tmp_path):
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE",
                 "AZURE_USERNAME", "IDENTITY_ENDPOINT", "MSI_ENDPOINT", "HPCTL_CLOUD"):
        monkeypatch.delenv(name, raising=False)
    # Only the Azure CLI credential, with no `az` on PATH: nothing to try over the network.
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    result = hpctl("status", "-s", "00000000-0000-0000-0000-000000000001", "-g", "rg-web")
    assert result.exit_code == 4
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("ERROR: Azure authentication failed")
    assert len(lines) == 2 and "az login" in lines[1]

"""Where the subscription and group come from (-s, environment, hpctl configure, az's login), and --ids A B C."""

from __future__ import annotations

import json

import pytest

from hpctl.cli.common import expand_multi_values
from hpctl.defaults import choose_subscription
from tests.cli.conftest import running_sandbox

A, B, C, D = ("aaaaaaaa-0000-0000-0000-00000000000a", "bbbbbbbb-0000-0000-0000-00000000000b",
              "cccccccc-0000-0000-0000-00000000000c", "dddddddd-0000-0000-0000-00000000000d")


@pytest.fixture
def everywhere(monkeypatch, tmp_path, hpctl):
    """A subscription in each place: az's profile (D), hpctl configure (C), the environment (B)."""
    azure = tmp_path / "azure-config"
    azure.mkdir(exist_ok=True)
    (azure / "azureProfile.json").write_text("\ufeff" + json.dumps({"subscriptions": [
        {"id": A, "isDefault": False, "environmentName": "AzureCloud"},
        {"id": D, "isDefault": True, "environmentName": "AzureCloud"}]}), encoding="utf-8")
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(azure))
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    monkeypatch.delenv("HPCTL_CLOUD", raising=False)
    assert choose_subscription(None, "AzureCloud")[0] == D
    assert hpctl("configure", "--defaults", f"subscription={C}", "group=rg-web").exit_code == 0
    assert choose_subscription(None, "AzureCloud")[0] == C
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", B)
    return monkeypatch


def test_resolution_order(everywhere, hpctl):
    assert choose_subscription(A, "AzureCloud") == (A, "-s/--subscription")
    assert choose_subscription(None, "AzureCloud") == (B, "$AZURE_SUBSCRIPTION_ID")
    everywhere.delenv("AZURE_SUBSCRIPTION_ID")
    sub, source = choose_subscription(None, "AzureCloud")
    assert sub == C and source.startswith("hpctl configure --defaults")
    assert hpctl("configure", "--defaults", "subscription=").exit_code == 0
    assert choose_subscription(None, "AzureCloud") == (D, "the Azure CLI's current subscription (az account show)")
    # The sandbox has its own subscription; a real one from the defaults would not exist there.
    assert choose_subscription(None, "sandbox")[0] is None


def test_verbose_says_which_source_won(everywhere, hpctl):
    result = hpctl("images", "list", "--verbose", "-o", "none")
    assert result.exit_code == 0
    assert f"Subscription: {B} (from $AZURE_SUBSCRIPTION_ID)" in result.stderr


def test_configure_lists_and_rejects_unknown_keys(everywhere, hpctl):
    listed = hpctl("configure", "--list-defaults", "-o", "json")
    assert {r["name"]: r["value"] for r in json.loads(listed.stdout)} == {"subscription": C, "group": "rg-web"}
    bad = hpctl("configure", "--defaults", "location=westeurope")
    assert bad.exit_code == 2 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "KEY one of subscription, group" in bad.stderr


def test_subscription_by_name_and_group_default_on_the_sandbox(hpctl, monkeypatch, tmp_path):
    with running_sandbox(tmp_path, fleet=8) as sandbox:
        monkeypatch.setenv("HPCTL_SANDBOX_DIR", str(tmp_path))
        monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
        assert hpctl("configure", "--defaults", "group=rg-web").exit_code == 0
        result = hpctl("--cloud", "sandbox", "status", "-s", "HPCTL SANDBOX", "--query", "[].id", "-o", "tsv",
                       "--verbose")
        assert result.exit_code == 0, result.stderr
        ids = result.stdout.split()
        assert ids and all("/resourceGroups/rg-web/" in i or "/resourcegroups/rg-web/" in i.lower() for i in ids)
        assert "from hpctl configure --defaults" in result.stderr
        # The ids feed --ids as az's space-separated form.
        again = hpctl("--cloud", "sandbox", "status", "--ids", *ids[:2], "--query", "[].id", "-o", "tsv")
        assert again.exit_code == 0, again.stderr
        assert again.stdout.split() == ids[:2]
        before = len(sandbox.requests())
        missing = hpctl("--cloud", "sandbox", "status", "-s", "no such subscription")
        assert missing.exit_code == 3 and "No subscription named 'no such subscription'" in missing.stderr
        assert len(sandbox.requests()) == before + 1  # only GET /subscriptions


def test_multi_value_options_expand_as_az_writes_them():
    assert expand_multi_values(["status", "--ids", "A", "B", "-o", "tsv"]) == \
        ["status", "--ids", "A", "--ids", "B", "-o", "tsv"]
    assert expand_multi_values(["status", "--ids=A", "B"]) == ["status", "--ids", "A", "--ids", "B"]
    assert expand_multi_values(["status", "--ids"]) == ["status", "--ids"]  # Click then says it needs a value


def test_empty_subscription_is_rejected(hpctl):
    result = hpctl("images", "list", "-s", "")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "-s/--subscription is empty" in result.stderr

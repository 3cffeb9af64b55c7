"""Every command's default table fits in 120 columns on the seeded sandbox fleet; --wide and --columns
show the rest, and every row carries the resource id."""

from __future__ import annotations

import json

import pytest
import typer.main

from hpctl.cli import app
from hpctl.output import TABLE_WIDTH
from tests.cli.conftest import running_sandbox
from tests.cli.test_template_lint_cli import BAD
from tests.conftest import SANDBOX_DATE

DAY = SANDBOX_DATE.isoformat()
IMAGE = "2025-datacenter-azure-edition-core"
# One realistic command line per command (as the README shows them); "{template}" is a template with findings.
TABLES = {
    "images list": ["images", "list"],
    "images check": ["images", "check", IMAGE, "--location", "westeurope"],
    "vm create": ["vm", "create", "-g", "rg-web", "-n", "wide-01", "--image", IMAGE, "--dry-run"],
    "vm enable-hotpatch": ["vm", "enable-hotpatch", "-g", "rg-api", "-n", "api-02", "--leave-schedule", "--dry-run"],
    "vmss create": ["vmss", "create", "-g", "rg-api", "-n", "wide-ss", "--image", IMAGE, "--dry-run"],
    "vmss check": ["vmss", "check"],
    "template lint": ["template", "lint", "{template}"],
    "assess": ["assess", "-g", "rg-web"],
    "install": ["install", "-g", "rg-web", "--classification", "Security", "--reboot-setting", "IfRequired", "--yes"],
    "status": ["status", "--as-of", DAY],
    "calendar": ["calendar", "--year", "2026"],
    "history": ["history"],
    "report": ["report", "--as-of", DAY],
    "configure": ["configure", "--defaults", "group=rg-web"],
    "vm patches": ["vm", "patches", "-g", "rg-web", "--as-of", DAY],
    "restart": ["restart", "--reboot-pending", "-g", "rg-web", "--dry-run"],
    "rollback": ["rollback", "-g", "rg-web", "-n", "web-01", "--dry-run"],
    "local wu-settings": ["local", "wu-settings", "--os", "2025"],
    "arc enable-hotpatch": ["arc", "enable-hotpatch", "-g", "rg-arc-onprem", "-n", "arc-std-01", "--yes"],
    "arc disable-hotpatch": ["arc", "disable-hotpatch", "-g", "rg-arc-onprem", "-n", "arc-dc-01", "--yes"],
}
# Commands with no table of their own.
NO_TABLE = {"sandbox serve": "serves until Ctrl-C", "demo": "runs the commands above, each checked here",
            "calendar refresh": "needs MSRC's documents (its own tests)",
            "local check": "needs what the wu-settings script printed on a guest (tests/cli/test_local.py)"}


def leaf_commands(command=None, path=()):
    command = command or typer.main.get_command(app)
    subs = getattr(command, "commands", None)
    if subs is None or getattr(command, "invoke_without_command", False) and path:
        yield " ".join(path)  # a command, or a group that runs on its own (hpctl calendar)
    if subs is None:
        return
    for name, sub in subs.items():
        yield from leaf_commands(sub, (*path, name))


def test_every_command_is_walked():
    assert set(leaf_commands()) == set(TABLES) | set(NO_TABLE)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    state = tmp_path_factory.mktemp("sandbox")
    with running_sandbox(state, fleet=50):  # the fleet `hpctl sandbox serve` seeds by default (50 VMs, seed 7)
        yield state


@pytest.fixture
def on_fleet(fleet, monkeypatch, tmp_path):
    monkeypatch.setenv("HPCTL_CLOUD", "sandbox")
    monkeypatch.setenv("HPCTL_SANDBOX_DIR", str(fleet))
    monkeypatch.setenv("HPCTL_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    template = tmp_path / "azuredeploy.json"
    template.write_text(json.dumps(BAD))
    return lambda args: [str(template) if a == "{template}" else a for a in args]


@pytest.mark.parametrize("path", list(TABLES))
def test_default_table_fits_120_columns(path, on_fleet, hpctl):
    result = hpctl(*on_fleet(TABLES[path]), "-o", "table")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines, f"hpctl {path} -o table printed nothing"
    widest = max(lines, key=len)
    assert len(widest) <= TABLE_WIDTH, f"hpctl {path}: {len(widest)} columns: {widest}"


@pytest.mark.parametrize("path", ["status", "history", "report", "vmss check", "assess", "vm patches", "restart",
                                  "rollback"])
def test_rows_carry_the_resource_id_and_wide_shows_it(path, on_fleet, hpctl):
    rows = json.loads(hpctl(*on_fleet(TABLES[path]), "-o", "json").stdout)
    rows = rows["resources"] if isinstance(rows, dict) else rows
    assert rows and all(r["id"].lower().startswith("/subscriptions/") for r in rows)
    wide = hpctl(*on_fleet(TABLES[path]), "-o", "table", "--wide")
    assert "/subscriptions/" in wide.stdout and max(len(line) for line in wide.stdout.splitlines()) > TABLE_WIDTH
    picked = hpctl(*on_fleet(TABLES[path]), "-o", "tsv", "--columns", "Id")
    assert [line.lower() for line in picked.stdout.split()][:1] == [rows[0]["id"].lower()]


def test_unknown_column_is_named(on_fleet, hpctl):
    result = hpctl("images", "list", "-o", "table", "--columns", "Sku,Colour")
    assert result.exit_code == 2 and result.stdout == ""
    assert "--columns Colour: no such column" in result.stderr and "Edition" in result.stderr


def test_a_query_projection_is_never_cut_to_fit(hpctl):
    query = "[].{Sku:sku, Urn:urn, Publisher:publisher, Offer:offer, Edition:edition, Disk:disk}"
    result = hpctl("images", "list", "-o", "table", "--query", query)
    assert result.exit_code == 0
    assert result.stdout.split()[:6] == ["Sku", "Urn", "Publisher", "Offer", "Edition", "Disk"]
    assert max(len(line) for line in result.stdout.splitlines()) > TABLE_WIDTH


# The queries the issue found refused: each is valid JMESPath, compiled before anything is sent, then applied.
QUERIES = {
    "length(@)": lambda rows: str(len(rows)),
    "sort_by(@,&name)[].name": lambda rows: "\n".join(sorted(r["name"] for r in rows)),
    "max_by(@,&name).name": lambda rows: max(r["name"] for r in rows),
    "join(', ',[].name)": lambda rows: ", ".join(r["name"] for r in rows),
    "reverse(@)[0].name": lambda rows: rows[-1]["name"],
    "keys(@[0])": lambda rows: "\n".join(rows[0]),
}


@pytest.mark.parametrize("query", list(QUERIES))
def test_valid_jmespath_is_applied_to_the_result(query, on_fleet, hpctl):
    rows = json.loads(hpctl("status", "-g", "rg-web", "--as-of", DAY).stdout)
    result = hpctl("status", "-g", "rg-web", "--as-of", DAY, "--query", query, "-o", "tsv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == QUERIES[query](rows)

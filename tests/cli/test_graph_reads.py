"""Resource Graph reads against a sandbox: every $skipToken page is followed, and the per-user quota's headers
(x-ms-user-quota-remaining / -resets-after) are waited on instead of provoking or failing on 429s."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hpctl.core import graph_queries as q
from hpctl.edge import resourcegraph
from hpctl.edge.clients import connect
from tests.conftest import SANDBOX_DATE

GRAPH_PATH = "/providers/Microsoft.ResourceGraph/resources"


def start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: Any) -> Any:
    from hpctl.sandbox import Sandbox, SandboxConfig

    config = {"fleet": 30, "seed": 7, "date": SANDBOX_DATE, "time_scale": 60000.0, "state_dir": tmp_path, **settings}
    sandbox = Sandbox(SandboxConfig(**config)).start()
    monkeypatch.setenv("HPCTL_CLOUD", "sandbox")
    monkeypatch.setenv("HPCTL_SANDBOX_DIR", str(tmp_path))
    return sandbox


@pytest.fixture
def sandbox_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    started: list[Any] = []

    def make(**settings: Any) -> Any:
        started.append(start(tmp_path, monkeypatch, **settings))
        return started[-1]

    yield make
    for sandbox in started:
        sandbox.stop()


def graph_statuses(sandbox: Any) -> list[Any]:
    return [r["status"] for r in sandbox.requests() if r["path"] == GRAPH_PATH]


def test_report_reads_every_page_of_a_fleet_larger_than_one_page(sandbox_factory, hpctl):
    # 1,050 VMs: more than ARG's 1,000 rows a page, so the VMs arrive on two pages (and their patch results on
    # several); a report that stopped at the first page would check 1,000.
    sandbox = sandbox_factory(fleet=1050)
    result = hpctl("report", "--format", "json", "--as-of", SANDBOX_DATE.isoformat())
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    vms = [r for r in doc["resources"] if r["kind"] == "vm"]
    # Every VM Compute lists (the seeded 1,050 and a few special ones) is in the report, once.
    from hpctl.edge.compute import list_vms

    listed = {vm["id"].lower() for vm in list_vms(connect("sandbox", None))}
    assert len(listed) > 1050
    assert doc["summary"]["vmsChecked"] == len(vms) == len(listed)
    assert {r["id"].lower() for r in vms} == listed
    # Every page was asked for by its own request, each answered.
    statuses = graph_statuses(sandbox)
    assert doc["queries"]["pages"] == len(statuses) > doc["queries"]["queries"] + 1
    assert set(statuses) == {200}


def test_pages_follow_the_skip_token_to_the_last_row(sandbox_factory):
    sandbox = sandbox_factory()
    conn = connect("sandbox", None, require_subscription=False)
    kql = q.vms_query()
    whole, pages = resourcegraph.query(conn, kql, [conn.subscription_id])
    assert pages == 1 and len(whole) >= 30
    rows, pages = resourcegraph.query(conn, kql, [conn.subscription_id], page_size=7)
    assert pages == -(-len(whole) // 7)  # seven rows a page, the last one what is left
    assert [r["id"] for r in rows] == [r["id"] for r in whole]
    assert len(graph_statuses(sandbox)) == 1 + pages


def test_report_waits_for_the_next_quota_window_instead_of_a_429(sandbox_factory, hpctl):
    # Two queries a window: the report's third query (after VMs and scale sets) must wait for the next
    # window. Sent at once it would get ARG's 429, which carries no Retry-After, so azure-core would not retry.
    sandbox = sandbox_factory(budgets={"ResourceGraphUserQuota": 2})
    result = hpctl("report", "--format", "json", "--as-of", SANDBOX_DATE.isoformat())
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["summary"]["vmsChecked"] >= 30
    statuses = graph_statuses(sandbox)
    assert len(statuses) == doc["queries"]["pages"] >= 3
    assert set(statuses) == {200}


def test_a_429_from_a_spent_quota_is_waited_out(sandbox_factory, hpctl):
    # One query a window. The second command starts with no idea of the quota (a new process would not know
    # it either): its query gets the 429, waits the window out as x-ms-user-quota-resets-after says, and sends
    # it once more.
    sandbox = sandbox_factory(budgets={"ResourceGraphUserQuota": 1})
    first = hpctl("history", "-g", "rg-web", "--days", "7")
    assert first.exit_code == 0, first.stderr
    second = hpctl("history", "-g", "rg-web", "--days", "7")
    assert second.exit_code == 0, second.stderr
    assert json.loads(second.stdout) == json.loads(first.stdout)
    assert graph_statuses(sandbox) == [200, 429, 200]


def test_the_projected_vm_columns_carry_everything_the_report_reads(sandbox_factory):
    # The report asks Resource Graph for a few columns of each VM, not its whole model: judged from them, every
    # VM of the seeded fleet must come out as judged from its full row. (A rule that reads a new field of the
    # VM must add it to graph_queries.VM_FACT_COLUMNS; this fails until it does.)
    from hpctl.core.compliance import vm_model

    sandbox_factory()
    conn = connect("sandbox", None, require_subscription=False)
    full, _ = resourcegraph.query(conn, q.vms_query(), [conn.subscription_id])
    projected, _ = resourcegraph.query(conn, q.vm_facts_query(), [conn.subscription_id])
    assert [r["id"] for r in projected] == [r["id"] for r in full]
    assert len(json.dumps(projected)) < len(json.dumps(full)) * 0.6
    for whole, part in zip(full, projected, strict=True):
        assert vm_model(q.vm_from_facts_row(part)) == vm_model(whole)


def test_report_json_laid_out_while_waiting_is_the_same_text(sandbox_factory, hpctl, tmp_path):
    """-o json lays each resource out as it is judged (during the quota's waits); the text must be exactly what
    the document itself gives (--query @ renders the plain document), and --json-file alongside -o yaml too."""
    sandbox_factory(fleet=1050)
    args = ("report", "-o", "json", "--as-of", SANDBOX_DATE.isoformat())
    ahead = hpctl(*args)
    plain = hpctl(*args, "--query", "@")
    assert ahead.exit_code == plain.exit_code == 0, ahead.stderr
    strip = re.compile(r'"generatedAt": "[^"]*"')  # the one field that moves between two runs
    assert strip.sub("", ahead.stdout) == strip.sub("", plain.stdout)
    assert len(json.loads(ahead.stdout)["resources"]) > 1050
    side = tmp_path / "report.json"
    assert hpctl("report", "-o", "yaml", "--json-file", str(side), "--as-of", SANDBOX_DATE.isoformat()).exit_code == 0
    assert strip.sub("", side.read_text()) == strip.sub("", plain.stdout)


def test_a_query_whose_connection_broke_is_asked_again(sandbox_factory, hpctl):
    """A Resource Graph query is a POST that only reads: a connection dropped before its answer is retried (a
    fault soak lost a whole install's rows to one dropped query before this)."""
    sandbox = sandbox_factory()
    sandbox.inject("POST", "ResourceGraph/resources$", "drop", times=1)
    result = hpctl("report", "-g", "rg-web", "-o", "json", "--as-of", SANDBOX_DATE.isoformat())
    assert result.exit_code == 0, result.stderr
    assert graph_statuses(sandbox)[:2] == ["drop", 200]
    assert json.loads(result.stdout)["summary"]["vmsChecked"] > 0


def test_rows_of_a_finished_run_survive_a_failed_read_of_their_details(sandbox_factory, hpctl):
    """Arc assessments' patch lists are read from Resource Graph after the run: if that read fails, the rows
    still come out (without the lists), with a warning, rather than the run's results being lost."""
    sandbox = sandbox_factory()
    sandbox.inject("POST", "ResourceGraph/resources$", 400, times=1)
    result = hpctl("assess", "--kind", "arc", "--yes", "-o", "json")
    assert result.exit_code in (0, 1), result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) > 3 and any(r["outcome"] == "Succeeded" for r in rows)
    assert graph_statuses(sandbox) == [400]
    assert "Could not read the patches Arc machines' assessments found" in result.stderr

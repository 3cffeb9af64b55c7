"""Replay real ARM traffic (az CLI and Azure PowerShell test recordings) through hpctl's own code.

The recordings use older api-versions; everything else (opaque signed polling URLs, both LRO headers,
timestamps with local offsets, a KB listed twice, no `error` field, "Success" errors) is as Azure sent it.
"""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import urllib3
import yaml
from azure.core.pipeline.transport import RequestsTransport

from hpctl.core.patch_results import assessment_row, installation_row, patch_status_row
from hpctl.core.vm_facts import vm_facts
from hpctl.edge import compute
from hpctl.edge.clients import Connection, StaticTokenCredential


def _key(method: str, url: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    parts = urlsplit(url)
    query = tuple(sorted((k, v) for k, v in parse_qsl(parts.query) if k != "api-version"))
    return method.upper(), parts.path.lower(), query


class ReplayAdapter(requests.adapters.BaseAdapter):
    """A requests adapter that answers from recorded interactions, in order, ignoring api-version."""

    def __init__(self, interactions: list[dict[str, Any]]) -> None:
        super().__init__()
        self.pending = list(interactions)
        self.sent: list[tuple[str, str]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append((request.method or "", request.url or ""))
        wanted = _key(request.method or "", request.url or "")
        for index, item in enumerate(self.pending):
            if _key(item["method"], item["uri"]) == wanted:
                self.pending.pop(index)
                response = requests.Response()
                response.status_code = item["status"]
                response.headers.update(item["headers"])
                body = item["body"].encode() if isinstance(item["body"], str) else (item["body"] or b"")
                response._content = body
                response.raw = urllib3.HTTPResponse(body=io.BytesIO(body), status=item["status"],
                                                    preload_content=False)
                response.headers["Content-Length"] = str(len(body))
                response.request = request
                response.url = request.url or ""
                return response
        raise AssertionError(f"no recorded interaction for {wanted}")

    def close(self) -> None:
        pass


def _connection(adapter: ReplayAdapter, subscription: str) -> Connection:
    session = requests.Session()
    session.mount("https://", adapter)
    return Connection(cloud="AzureCloud", subscription_id=subscription, base_url="https://management.azure.com",
                      credential=StaticTokenCredential(), polling_interval=0,
                      transport=RequestsTransport(session=session, session_owner=False))


def _no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real polls were 30 s apart; replaying them must cost nothing.
    monkeypatch.setattr(RequestsTransport, "sleep", lambda self, seconds: None)


@pytest.fixture
def azcli_install(shared) -> list[dict[str, Any]]:
    doc = yaml.safe_load((shared / "azure-recordings" / "azcli_install_patches_extract.yaml").read_text())
    return [
        {
            "method": i["request"]["method"],
            "uri": i["request"]["uri"],
            "status": i["response"]["status"]["code"],
            "headers": {k: v[0] for k, v in i["response"]["headers"].items()},
            "body": i["response"]["body"]["string"],
        }
        for i in doc["interactions"]
    ]


@pytest.fixture
def azps_assess(shared) -> list[dict[str, Any]]:
    return _azps(shared, "azps_patch_assessment_extract.json")


@pytest.fixture
def azps_runcommand(shared) -> list[dict[str, Any]]:
    return _azps(shared, "azps_vm_runcommand_windows_extract.json")


def _azps(shared: Any, name: str) -> list[dict[str, Any]]:
    entries = json.loads((shared / "azure-recordings" / name).read_text())
    return [
        {
            "method": e["RequestMethod"],
            "uri": "https://management.azure.com" + e["RequestUri"],
            "status": int(e["StatusCode"]),
            "headers": {k: (v[0] if isinstance(v, list) else v) for k, v in e["ResponseHeaders"].items()},
            "body": e["ResponseBody"],
        }
        for e in entries
    ]


def test_install_replayed_from_real_traffic(azcli_install, monkeypatch):
    _no_sleep(monkeypatch)
    adapter = ReplayAdapter(azcli_install[1:])  # from the installPatches POST on
    conn = _connection(adapter, "00000000-0000-0000-0000-000000000000")
    body = {"maximumDuration": "PT4H", "rebootSetting": "IfRequired",
            "windowsParameters": {"classificationsToInclude": ["Critical", "Security"]}}
    result = compute.install_patches(conn, "cli_test_vm_install_patches_000001", "vm", body)
    row = installation_row(result)
    # The SDK must have followed the opaque signed URLs as given and finished on the Location monitor.
    assert adapter.pending == []
    assert "monitor=true" in adapter.sent[-1][1] and "&s=" in adapter.sent[-1][1]
    assert row["status"] == "Succeeded"
    assert row["installedPatchCount"] == 0 and row["excludedPatchCount"] == 2
    assert row["rebootStatus"] == "NotNeeded"
    assert {p["kbId"] for p in row["patches"]} == {"KB890830", "KB4052623"}
    assert {p["installationState"] for p in row["patches"]} == {"Excluded"}
    # Azure reports success as {"code": "Success", "message": "0 error/s reported"}: not an error.
    assert row["error"] is None
    assert row["startTime"] == "2024-08-26T09:52:07Z"


def test_assessment_replayed_from_real_traffic(azps_assess, monkeypatch):
    _no_sleep(monkeypatch)
    adapter = ReplayAdapter(azps_assess[1:])  # from the assessPatches POST on
    conn = _connection(adapter, "e37510d7-33b6-4676-886f-ee75bcc01871")
    result = compute.assess_patches(conn, "crptestps3553", "vmcrptestps3553")
    row = assessment_row(result)
    assert adapter.pending == []
    assert row["status"] == "Succeeded"
    assert row["criticalAndSecurityPatchCount"] == 9 and row["otherPatchCount"] == 4
    assert row["rebootPending"] is True
    # A local offset (-04:00) normalised to UTC.
    assert row["startTime"] == "2020-08-12T19:06:40Z"
    # No `error` field at all on success.
    assert row["error"] is None
    raw_kbs = [p["kbId"] for p in result["availablePatches"]]
    assert len(raw_kbs) > len(set(raw_kbs)), "the recording lists a KB twice"
    # Keyed by patchId (azure-wire.md §9.4): both KB4474419 entries stay, as the counts (9 + 4) count both.
    assert len(row["patches"]) == len(raw_kbs) == 13
    twice = [p for p in row["patches"] if p["kbId"] == "KB4474419"]
    assert len(twice) == 2 and twice[0]["patchId"] != twice[1]["patchId"]
    assert all(p["kbId"].startswith("KB") for p in row["patches"])
    assert {p["rebootBehavior"] for p in row["patches"]} <= {"CanRequestReboot", "NeverReboots"}


def test_fresh_vm_without_patch_status(azcli_install):
    """The instance view of a just-created hotpatch VM has no patchStatus yet."""
    vm = json.loads(azcli_install[0]["body"])
    facts = vm_facts(vm)
    assert facts.eligible and facts.hotpatch and facts.patch_mode == "AutomaticByPlatform"
    assert facts.assessment_mode == "ImageDefault"
    status = patch_status_row(vm["properties"]["instanceView"])
    assert status["lastAssessment"] is None and status["lastInstallation"] is None


def _stepped_to_the_end(pending: Any) -> Any:
    for _ in range(50):
        step = pending.step()
        assert step.transient is None and step.error is None, step
        if step.done:
            return step.result
    raise AssertionError("the operation never ended")


@pytest.mark.parametrize("recording", ["azps_assess", "azcli_install", "azps_runcommand"])
def test_the_fleet_engine_takes_the_result_from_the_status_body_and_skips_the_final_get(recording, request):
    from hpctl.edge import stepped

    traffic = request.getfixturevalue(recording)
    start = next(i for i, item in enumerate(traffic) if item["method"] == "POST")
    adapter = ReplayAdapter(traffic[start:])
    path = urlsplit(traffic[start]["uri"]).path.split("/")
    conn = _connection(adapter, path[2])
    group, name = path[4], path[8]
    if recording == "azps_assess":
        pending = stepped.start_assess(conn, group, name)
    elif recording == "azps_runcommand":
        pending = stepped.start_run_command(conn, group, name, stepped.run_command_body(["Write-Host hi"]))
    else:
        pending = stepped.start_install(conn, group, name, {"maximumDuration": "PT4H", "rebootSetting": "IfRequired"})
    result = _stepped_to_the_end(pending)
    # What the Location monitor would have answered, byte for byte the same JSON: that request is not made.
    [monitor] = adapter.pending
    assert "monitor=true" in monitor["uri"]
    assert result == json.loads(monitor["body"])
    assert not any("monitor=true" in url for _, url in adapter.sent)


def test_a_status_body_without_the_result_leaves_the_final_get_to_read_it(azps_assess):
    from hpctl.edge import stepped

    traffic = [dict(item) for item in azps_assess[1:]]
    for item in traffic:
        if "/operations/" in item["uri"] and "monitor=true" not in item["uri"] and '"Succeeded"' in item["body"]:
            body = json.loads(item["body"])
            del body["properties"]
            item["body"] = json.dumps(body)
    adapter = ReplayAdapter(traffic)
    conn = _connection(adapter, "e37510d7-33b6-4676-886f-ee75bcc01871")
    result = _stepped_to_the_end(stepped.start_assess(conn, "crptestps3553", "vmcrptestps3553"))
    assert adapter.pending == []
    assert "monitor=true" in adapter.sent[-1][1]
    assert result["criticalAndSecurityPatchCount"] == 9 and result["otherPatchCount"] == 4

"""The Resource Graph endpoint through the real SDK (azure-mgmt-resourcegraph 8.0.1) and on the wire."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from hpctl.core import graph_queries as gq
from hpctl.core.compliance import vm_record
from hpctl.core.vm_facts import parse_time
from hpctl.sandbox import Sandbox

from .conftest import Arm, make_sandbox, spec_example

ARG_API = "2021-03-01"  # what azure-mgmt-resourcegraph 8.0.1 sends
PATH = "/providers/Microsoft.ResourceGraph/resources"
SUPPORT = re.compile(
    r"^Please provide below info when asking for support: timestamp = \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z, "
    r"correlationId = [0-9a-f-]{36}\.$"
)


class FakeCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("t", int(time.time()) + 86400)


def graph_client(sandbox: Sandbox) -> ResourceGraphClient:
    return ResourceGraphClient(FakeCredential(), base_url=sandbox.url, connection_verify=sandbox.ca_file)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """30 seeded VMs (and whatever scale sets the sandbox seeds); a roomy ARG quota so tests do not throttle."""
    sandbox = make_sandbox(
        tmp_path_factory.mktemp("graph"),
        fleet=30,
        budgets={"ResourceGraphUserQuota": 10_000, "VMGuestPatchOperationResource": 1000},
    )
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def client(world: Sandbox) -> ResourceGraphClient:
    return graph_client(world)


def query(client: ResourceGraphClient, kql: str, subscriptions: list[str] | None = None, **options: Any) -> Any:
    options.setdefault("result_format", "objectArray")
    return client.resources(QueryRequest(subscriptions=subscriptions, query=kql,
                                         options=QueryRequestOptions(**options)))


def all_rows(client: ResourceGraphClient, kql: str, subscriptions: list[str] | None = None,
             top: int = 1000) -> tuple[list[dict[str, Any]], int]:
    """Every row of a query, following $skipToken as hpctl's edge does (top on the first page only)."""
    rows: list[dict[str, Any]] = []
    token = None
    pages = 0
    while True:
        page = query(client, kql, subscriptions, top=None if token else top, skip_token=token)
        pages += 1
        rows += page.data
        assert page.count == len(page.data)
        token = page.skip_token
        if not token:
            return rows, pages


def error_body(exc: HttpResponseError) -> dict[str, Any]:
    assert exc.response is not None
    return json.loads(exc.response.text())


def since(sandbox: Sandbox, days: int) -> dt.datetime:
    return sandbox.backend.clock.now() - dt.timedelta(days=days)


# -- paging ---------------------------------------------------------------------------------------------------


def test_pages_return_every_row_exactly_once(world: Sandbox, client: ResourceGraphClient) -> None:
    rows, pages = all_rows(client, gq.vms_query(), [world.subscription_id], top=7)
    # 30 planned VMs + 8 showing each way Azure reports a VM, 7 a page; later pages keep the first page's size.
    assert pages == 6
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)) == 38
    assert ids == sorted(ids)  # order by id asc holds across pages
    assert {vm.id for vm in world.backend.compute.list()} == set(ids)


def test_first_and_next_page_match_the_spec_examples(world: Sandbox, client: ResourceGraphClient) -> None:
    first = query(client, "Resources | where name contains 'web' | project id, name, type, location",
                  [world.subscription_id], top=3, skip=0)
    example = spec_example("ResourcesFirstPageQuery.json")["responses"]["200"]["body"]
    body = first.as_dict()
    assert set(body) | {"$skipToken"} >= {"count", "data", "facets", "result_truncated", "total_records"}
    assert first.count == 3 and first.total_records > 3 and first.result_truncated == "false"
    assert first.facets == example["facets"] == []
    assert set(first.data[0]) == set(example["data"][0])
    assert first.skip_token
    # The next page sends the token alone, as in ResourcesNextPageQuery.json, and gets the same page size.
    second = query(client, "Resources | where name contains 'web' | project id, name, type, location",
                   [world.subscription_id], skip_token=first.skip_token)
    assert second.count == 3
    assert not {r["id"] for r in first.data} & {r["id"] for r in second.data}


def test_basic_query_with_limit_matches_the_spec_example(world: Sandbox, client: ResourceGraphClient) -> None:
    example = spec_example("ResourcesBasicQuery.json")
    page = query(client, example["parameters"]["query"]["query"], [world.subscription_id])
    assert page.count == page.total_records == 3
    assert page.result_truncated == "false" and page.skip_token is None
    assert [set(row) for row in page.data] == [set(row) for row in example["responses"]["200"]["body"]["data"]]
    # With limit the result cannot be paged: a smaller page is truncated, with no token.
    cut = query(client, "resources | project id | limit 5", [world.subscription_id], top=2)
    assert (cut.count, cut.total_records, cut.result_truncated, cut.skip_token) == (2, 5, "true", None)


def test_skip_and_top_override_the_token(world: Sandbox, client: ResourceGraphClient) -> None:
    kql = "resources | where type =~ 'microsoft.compute/virtualmachines' | project id | order by id asc"
    every = [r["id"] for r in all_rows(client, kql, [world.subscription_id])[0]]
    page = query(client, kql, [world.subscription_id], top=4, skip=10)
    assert [r["id"] for r in page.data] == every[10:14]
    after = query(client, kql, [world.subscription_id], skip_token=page.skip_token, top=2)
    assert [r["id"] for r in after.data] == every[14:16]


def test_a_skip_token_for_another_query_is_rejected(world: Sandbox, client: ResourceGraphClient) -> None:
    first = query(client, gq.vms_query(), [world.subscription_id], top=5)
    with pytest.raises(HttpResponseError) as caught:
        query(client, gq.vms_query("rg-web"), [world.subscription_id], skip_token=first.skip_token)
    assert caught.value.status_code == 400
    body = error_body(caught.value)["error"]
    assert body["code"] == "BadRequest" and SUPPORT.match(body["message"])
    assert body["details"][0]["code"] == "InvalidSkipToken"
    with pytest.raises(HttpResponseError) as garbage:
        query(client, gq.vms_query(), [world.subscription_id], skip_token="bm90IGEgdG9rZW4=")
    assert garbage.value.status_code == 400


def test_a_token_survives_a_forgotten_snapshot(world: Sandbox, client: ResourceGraphClient) -> None:
    first = query(client, gq.vms_query(), [world.subscription_id], top=10)
    state = json.loads(base64.b64decode(first.skip_token))
    for _ in range(6):  # newer result sets push the first one out of the sandbox's small snapshot cache
        query(client, f"resources | project id, n = '{_}'", [world.subscription_id], top=1)
    again = query(client, gq.vms_query(), [world.subscription_id], skip_token=first.skip_token)
    assert state["o"] == 10 and again.count == 10  # the query ran again, as ARG runs every page


def test_table_result_format(world: Sandbox, client: ResourceGraphClient) -> None:
    page = query(client, "resources | where name == 'web-01' | project id, name, tags, zones, "
                 "os = properties.extended.instanceView.osVersion", [world.subscription_id], result_format="table")
    assert page.data["columns"] == [
        {"name": "id", "type": "string"}, {"name": "name", "type": "string"}, {"name": "tags", "type": "object"},
        {"name": "zones", "type": "object"}, {"name": "os", "type": "object"},
    ]
    (row,) = page.data["rows"]
    assert row[1] == "web-01" and row[3] == ["1"] and row[4].startswith("10.0.")


def test_no_subscriptions_means_all_and_a_foreign_one_is_denied(world: Sandbox, client: ResourceGraphClient) -> None:
    assert query(client, "resources | project id", None, top=1).total_records == query(
        client, "resources | project id", [world.subscription_id.upper()], top=1
    ).total_records
    with pytest.raises(HttpResponseError) as caught:
        query(client, "resources", [world.subscription_id, "00000000-0000-0000-0000-00000000beef"])
    assert caught.value.status_code == 403
    body = error_body(caught.value)["error"]
    assert body["code"] == "AccessDenied" and SUPPORT.match(body["message"])
    assert body["details"] == [{"code": "AccessDenied", "message": "Access is denied to the requested resource. "
                                "The user might not have enough permission."}]


# -- hpctl's queries ------------------------------------------------------------------------------------------


def test_vm_queries_filter_by_group_ids_and_tags(world: Sandbox, client: ResourceGraphClient) -> None:
    backend = world.backend
    sub = [world.subscription_id]
    in_web = {vm.id for vm in backend.compute.list("rg-web")}
    assert {r["id"] for r in all_rows(client, gq.vms_query("RG-Web"), sub)[0]} == in_web
    picked = [backend.vm("rg-web", "web-01").id.upper(), backend.vm("rg-data", "sql-02").id]
    assert [r["name"] for r in all_rows(client, gq.vms_query(None, picked), sub)[0]] == ["sql-02", "web-01"]
    dev = {vm.id for vm in backend.compute.list() if vm.model.tags.get("env") == "dev"}
    assert dev and {r["id"] for r in all_rows(client, gq.vms_query(None, (), [("env", "dev")]), sub)[0]} == dev
    both = {vm.id for vm in backend.compute.list("rg-legacy") if vm.model.tags.get("env") == "dev"}
    assert {r["id"] for r in all_rows(client, gq.vms_query("rg-legacy", (), [("env", "dev"), ("team", None)]),
                                      sub)[0]} == both


def test_vm_rows_carry_the_model_and_the_instance_view_extract(world: Sandbox, client: ResourceGraphClient) -> None:
    (row,) = query(client, gq.vms_query(None, [world.backend.vm("rg-api", "api-01").id]), [world.subscription_id]).data
    assert set(row) == {"id", "name", "type", "location", "resourceGroup", "subscriptionId", "tags", "zones",
                        "properties"}
    assert row["type"] == "microsoft.compute/virtualmachines" and row["resourceGroup"] == "rg-api"
    view = ComputeManagementClient(FakeCredential(), world.subscription_id, base_url=world.url,
                                   connection_verify=world.ca_file).virtual_machines.instance_view("rg-api", "api-01")
    extended = row["properties"]["extended"]["instanceView"]
    assert extended["osVersion"] == view.os_version and extended["computerName"] == view.computer_name
    assert extended["powerState"] == {"code": "PowerState/running", "level": "Info", "displayStatus": "VM running"}
    assert row["properties"]["osProfile"]["windowsConfiguration"]["patchSettings"]["patchMode"]
    assert vm_record(row).os_version == view.os_version  # what hpctl's report reads


def test_scale_sets_query(world: Sandbox, client: ResourceGraphClient) -> None:
    rows = all_rows(client, gq.scale_sets_query(), [world.subscription_id])[0]
    store = getattr(world.backend, "scalesets", None)
    expected = {s.id for s in store.list()} if store is not None else set()
    assert {r["id"] for r in rows} == expected
    assert all(r["type"] == gq.VMSS_TYPE for r in rows)


def test_history_has_the_seeded_installations_and_only_recent_assessments(
    world: Sandbox, client: ResourceGraphClient
) -> None:
    backend = world.backend
    rows = all_rows(client, gq.history_query(30), [world.subscription_id])[0]
    installs = {(gq.vm_id_of(r["id"]), r["name"]) for r in rows if r["type"] == gq.INSTALLATION_TYPE}
    seeded = {(vm.id.lower(), i["installationActivityId"]) for vm in backend.compute.list()
              for i in vm.installations if i["_end"] >= since(world, 30)}
    assert seeded and installs == seeded
    assessed = {gq.vm_id_of(r["id"]) for r in rows if r["type"] == gq.ASSESSMENT_TYPE}
    fresh = {vm.id.lower() for vm in backend.compute.list()
             if vm.last_assessment is not None and vm.last_assessment["_end"] >= since(world, 7)}
    assert assessed == fresh
    stale = {vm.id.lower() for vm in backend.compute.list()
             if vm.last_assessment is not None and vm.last_assessment["_end"] < since(world, 7)}
    assert stale and not stale & assessed  # api-03 (20 days) and legacy-05 (10 days) have none
    for row in rows:
        modified = parse_time(row["properties"]["lastModifiedDateTime"])  # 7 digits: not fromisoformat on 3.10
        assert modified >= since(world, 7 if row["type"] == gq.ASSESSMENT_TYPE else 30)
    failed = [r for r in rows if r["type"] == gq.INSTALLATION_TYPE and r["name"] and
              gq.vm_id_of(r["id"]).endswith("/sql-01")]
    assert failed and failed[0]["properties"]["status"] == "Failed" and failed[0]["properties"]["failedPatchCount"]


def test_history_rows_have_the_documented_properties(world: Sandbox, client: ResourceGraphClient) -> None:
    rows = all_rows(client, gq.history_query(30, "rg-web", patches=True), [world.subscription_id])[0]
    kinds = {r["type"] for r in rows}
    assert kinds == {gq.ASSESSMENT_TYPE, gq.INSTALLATION_TYPE, gq.ASSESSMENT_PATCH_TYPE, gq.INSTALLATION_PATCH_TYPE}
    by_type = {kind: next(r for r in rows if r["type"] == kind) for kind in kinds}
    assert set(by_type[gq.ASSESSMENT_TYPE]["properties"]) == {
        "status", "rebootPending", "patchServiceUsed", "osType", "startDateTime", "lastModifiedDateTime",
        "startedBy", "errorDetails", "availablePatchCountByClassification"}
    assert by_type[gq.ASSESSMENT_TYPE]["id"].endswith("/patchAssessmentResults/latest")
    assert set(by_type[gq.INSTALLATION_TYPE]["properties"]) == {
        "installationActivityId", "status", "rebootStatus", "maintenanceWindowExceeded", "lastModifiedDateTime",
        "startDateTime", "startedBy", "installedPatchCount", "failedPatchCount", "pendingPatchCount",
        "excludedPatchCount", "notSelectedPatchCount", "patchServiceUsed", "osType", "errorDetails",
        "maintenanceRunId"}
    patch = by_type[gq.INSTALLATION_PATCH_TYPE]["properties"]
    assert {"installationState", "patchName", "kbId", "classifications", "rebootBehavior",
            "publishedDateTime"} <= set(patch) and patch["rebootBehavior"] and patch["publishedDateTime"]
    # Each VM's counts by classification add up to the softwarepatches children of its assessment.
    for summary in (r for r in rows if r["type"] == gq.ASSESSMENT_TYPE):
        children = [r for r in rows if r["id"].startswith(summary["id"] + "/softwarePatches/")]
        assert sum(summary["properties"]["availablePatchCountByClassification"].values()) == len(children)


def test_a_new_assessment_shows_at_once(world: Sandbox, client: ResourceGraphClient) -> None:
    compute = ComputeManagementClient(FakeCredential(), world.subscription_id, base_url=world.url,
                                      connection_verify=world.ca_file, polling_interval=0.05)
    result = compute.virtual_machines.begin_assess_patches("rg-app", "app-02").result()
    vm_id = world.backend.vm("rg-app", "app-02").id
    rows = query(client, gq.history_query(1, None, [vm_id]), [world.subscription_id]).data
    (summary,) = [r for r in rows if r["type"] == gq.ASSESSMENT_TYPE]
    assert summary["name"] == result.assessment_activity_id and summary["properties"]["startedBy"] == "User"


# -- refusals -------------------------------------------------------------------------------------------------


def test_bad_queries_answer_in_args_shape(world: Sandbox) -> None:
    arm = Arm(world)
    response = arm.post(PATH, {"subscriptions": [world.subscription_id], "query": "resources\n| where (name == 'x'"},
                        api_version=ARG_API)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BadRequest" and SUPPORT.match(error["message"])
    assert error["message"].endswith(f"correlationId = {response.headers['x-ms-correlation-request-id']}.")
    assert error["details"] == [
        {"code": "InvalidQuery", "message": "Query is invalid. Please refer to the documentation for the Azure "
         "Resource Graph service and fix the error before retrying."},
        {"code": "ParserFailure", "message": "ParserFailure", "line": 2, "characterPositionInLine": 20,
         "token": "<EOF>"},
    ]


def test_bad_queries_through_the_sdk(world: Sandbox, client: ResourceGraphClient) -> None:
    for kql, code in (("resources | summarize count() by location", "InvalidQueryLanguage"),
                      ("resources | where strcat(name) == 'x'", "UnknownFunction"),
                      ("resources | where nosuch == 1", "SemanticError")):
        with pytest.raises(HttpResponseError) as caught:
            query(client, kql, [world.subscription_id])
        assert caught.value.status_code == 400
        assert [d["code"] for d in error_body(caught.value)["error"]["details"]] == ["InvalidQuery", code]
    with pytest.raises(HttpResponseError) as table:
        query(client, "securityresources", [world.subscription_id])
    assert error_body(table.value)["error"]["details"] == [
        {"code": "DisallowedLogicalTableName", "message": "Table securityresources is invalid, unsupported or "
         "disallowed."}]


@pytest.mark.parametrize(
    "body",
    [
        {"query": "resources", "options": {"$top": 1001}},
        {"query": "resources", "options": {"$top": 0}},
        {"query": "resources", "options": {"$skip": -1}},
        {"query": "resources", "options": {"resultFormat": "csv"}},
        {"query": ""},
        {"options": {}},
        ["resources"],
    ],
)
def test_bad_request_bodies(world: Sandbox, body: Any) -> None:
    response = Arm(world).post(PATH, body, api_version=ARG_API)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"


def test_api_versions_and_methods(world: Sandbox) -> None:
    arm = Arm(world)
    body = {"query": "resources | project id | limit 1"}
    assert arm.post(PATH, body, api_version="2024-04-01").status_code == 200
    assert arm.post(PATH, body, api_version=None).json()["error"]["code"] == "MissingApiVersionParameter"
    assert arm.get(PATH, api_version=ARG_API).status_code == 405
    assert arm.post(PATH, body, api_version=ARG_API, auth=None).status_code == 401


# -- throttling -----------------------------------------------------------------------------------------------


def test_quota_headers_and_429_after_the_budget(tmp_path: Path) -> None:
    sandbox = make_sandbox(tmp_path, fleet=3, budgets={"ResourceGraphUserQuota": 3})
    try:
        arm = Arm(sandbox)
        body = {"query": "resources | project id"}
        seen = []
        for _ in range(3):
            response = arm.post(PATH, body, api_version=ARG_API)
            assert response.status_code == 200
            seen.append(response.headers["x-ms-user-quota-remaining"])
            assert re.fullmatch(r"00:00:0[0-5]", response.headers["x-ms-user-quota-resets-after"])
            # ARM counts the query as a read (it is one), not as a write.
            assert "x-ms-ratelimit-remaining-subscription-reads" in response.headers
        assert seen == ["2", "1", "0"]
        refused = arm.post(PATH, body, api_version=ARG_API)
        assert refused.status_code == 429
        assert refused.headers["x-ms-user-quota-remaining"] == "0"
        error = refused.json()["error"]
        assert error["code"] == "RateLimiting" and SUPPORT.match(error["message"])
        assert error["details"] == [{"code": "RateLimiting", "message": "Client application has been throttled and "
                                     "should not attempt to repeat the request until an amount of time has elapsed. "
                                     "Please see https://aka.ms/resourcegraph-throttling for help."}]
        # Another principal has its own quota.
        assert arm.post(PATH, body, api_version=ARG_API, auth="Bearer other").status_code == 200
        # Through the SDK (its own principal, so its own quota) the 429 surfaces: azure-core retries a POST's 429
        # only when it carries Retry-After, and ARG documents only the x-ms-user-quota-* headers.
        client = graph_client(sandbox)
        for _ in range(3):
            query(client, "resources | project id")
        with pytest.raises(HttpResponseError) as caught:
            query(client, "resources | project id")
        assert caught.value.status_code == 429
    finally:
        sandbox.stop()


def test_the_quota_refills_after_its_window(tmp_path: Path) -> None:
    sandbox = make_sandbox(tmp_path, fleet=1, budgets={"ResourceGraphUserQuota": 1})
    try:
        arm = Arm(sandbox)
        body = {"query": "resources | project id"}
        assert arm.post(PATH, body, api_version=ARG_API).status_code == 200
        refused = arm.post(PATH, body, api_version=ARG_API)
        assert refused.status_code == 429
        wait = refused.headers["x-ms-user-quota-resets-after"]
        h, m, s = (int(part) for part in wait.split(":"))
        time.sleep(h * 3600 + m * 60 + s + 0.1)
        assert arm.post(PATH, body, api_version=ARG_API).status_code == 200
    finally:
        sandbox.stop()


def test_injected_faults_apply_and_a_plain_429_looks_like_args(world: Sandbox, client: ResourceGraphClient) -> None:
    world.inject("POST", "resourcegraph", 429)
    refused = Arm(world).post(PATH, {"query": "resources | project id"}, api_version=ARG_API)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert refused.json()["error"]["code"] == "RateLimiting"
    # An injected 429 carries Retry-After, and azure-core then retries even a POST: the query answers.
    world.inject("POST", "resourcegraph", 429)
    assert query(client, "resources | project id | limit 1").count == 1
    world.inject("POST", "resourcegraph", 503)
    # azure-core retries a POST's 503: the query still answers.
    assert query(client, "resources | project id | limit 1").count == 1

"""Throttling budgets and 429s, deterministic and random faults, failed long-running operations."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.mgmt.compute import ComputeManagementClient

from hpctl.sandbox import Sandbox, SandboxConfig
from hpctl.sandbox.faults import parse_fault_spec
from hpctl.sandbox.throttle import Throttle

from .conftest import Arm, make_sandbox

INSTALL = {
    "maximumDuration": "PT4H",
    "rebootSetting": "IfRequired",
    "windowsParameters": {"classificationsToInclude": ["Critical", "Security"]},
}


def _policies(header: str) -> dict[str, int]:
    return {part.split(";")[0].split("/")[1]: int(part.split(";")[1]) for part in header.split(",")}


def test_per_vm_guest_patch_budget_runs_out_with_a_real_429(tmp_path: Path) -> None:
    # Budgets on wall time (a real minute's refill), so that the test outruns them.
    sandbox = make_sandbox(tmp_path, budgets={"VMGuestPatchOperationResource": 2}, budget_time_scale=1.0)
    try:
        arm = Arm(sandbox)
        sandbox.backend.add_vm("rg1", "vm1")
        sandbox.backend.add_vm("rg1", "vm2")
        seen = []
        for _ in range(2):
            started = arm.post(arm.vm("rg1", "vm1") + "/assessPatches")
            assert started.status_code == 202
            seen.append(_policies(started.headers["x-ms-ratelimit-remaining-resource"]))
            arm.poll(started)
        assert [s["VMGuestPatchOperationResource"] for s in seen] == [1, 0]
        assert seen[0]["VMGuestPatchOperationSubscriptionMaximum"] == 599
        refused = arm.post(arm.vm("rg1", "vm1") + "/installPatches", INSTALL)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert (
            _policies(refused.headers["x-ms-ratelimit-remaining-resource"])["VMGuestPatchOperationResource"]
            == 0
        )
        error = refused.json()["error"]
        assert error["code"] == "OperationNotAllowed"
        assert error["message"] == (
            "The server rejected the request because too many requests have been received "
            "for this subscription."
        )
        assert error["innererror"] == {"internalErrorCode": "TooManyRequestsReceived"}
        [detail] = error["details"]
        assert detail["code"] == "TooManyRequests" and detail["target"] == "VMGuestPatchOperationResource"
        counts = json.loads(detail["message"])
        assert counts["operationGroup"] == "VMGuestPatchOperationResource"
        assert counts["allowedRequestCount"] == 2 and counts["measuredRequestCount"] == 3
        assert {"startTime", "endTime"} <= set(counts)
        # The budget is per VM: another VM still has its own.
        assert arm.post(arm.vm("rg1", "vm2") + "/assessPatches").status_code == 202
    finally:
        sandbox.stop()


def test_subscription_and_arm_budgets(tmp_path: Path) -> None:
    sandbox = make_sandbox(
        tmp_path, budgets={"VMGuestPatchOperationSubscriptionMaximum": 1, "subscription-reads": 3},
        budget_time_scale=1.0,
    )
    try:
        arm = Arm(sandbox)
        sandbox.backend.add_vm("rg1", "vm1")
        sandbox.backend.add_vm("rg1", "vm2")
        assert arm.post(arm.vm("rg1", "vm1") + "/assessPatches").status_code == 202
        refused = arm.post(arm.vm("rg1", "vm2") + "/assessPatches")
        assert refused.status_code == 429
        assert refused.json()["error"]["details"][0]["target"] == "VMGuestPatchOperationSubscriptionMaximum"
        reads = [arm.get(arm.vm("rg1", "vm1")) for _ in range(4)]
        assert [r.status_code for r in reads[:3]] == [200, 200, 200]
        assert [int(r.headers["x-ms-ratelimit-remaining-subscription-reads"]) for r in reads[:3]] == [2, 1, 0]
        assert reads[0].headers["x-ms-ratelimit-remaining-subscription-global-reads"] == "3749"
        assert reads[3].status_code == 429
        assert reads[3].json()["error"]["code"] == "TooManyRequests"
        assert "operation type - 'Read'" in reads[3].json()["error"]["message"]
        assert int(reads[3].headers["Retry-After"]) >= 1
    finally:
        sandbox.stop()


def test_headers_name_the_policies_real_compute_uses(fleet_arm: Arm) -> None:
    sub = fleet_arm.sub
    cases = [
        ("GET", fleet_arm.vm("rg-web", "web-01"), ["LowCostGetSubscriptionMaximum", "LowCostGetResource"]),
        (
            "GET",
            fleet_arm.vm("rg-web", "web-01") + "/instanceView",
            ["LowCostGetSubscriptionMaximum", "LowCostGetResource"],
        ),
        (
            "GET",
            f"/subscriptions/{sub}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines",
            ["HighCostGetSubscriptionMaximum"],
        ),
        (
            "GET",
            f"/subscriptions/{sub}/providers/Microsoft.Compute/virtualMachines",
            ["HighCostGetSubscriptionMaximum"],
        ),
    ]
    for method, path, expected in cases:
        response = fleet_arm.request(method, path)
        assert response.status_code == 200
        assert list(_policies(response.headers["x-ms-ratelimit-remaining-resource"])) == expected
    group = fleet_arm.get(f"/subscriptions/{sub}/resourcegroups/rg-web", api_version="2025-04-01")
    assert "x-ms-ratelimit-remaining-resource" not in group.headers  # Resources, not Compute
    assert "x-ms-ratelimit-remaining-subscription-reads" in group.headers


def test_token_buckets_follow_computes_published_limits() -> None:
    now = [1000.0]
    # ARM's own write bucket (200, 10 a second) is checked first; widened so that Compute's is what runs out.
    throttle = Throttle({"subscription-writes": 5000}, clock=lambda: now[0])
    vm = "rg/vm1"
    headers = [throttle.charge("POST", "VMGuestPatchOperation", vm).header for _ in range(6)]
    # 6 guest-patch operations per VM, 600 per subscription (azure-wire.md §9.1), named as real CRP names them.
    assert headers[0] == ("Microsoft.Compute/VMGuestPatchOperationSubscriptionMaximum;599,"
                          "Microsoft.Compute/VMGuestPatchOperationResource;5")
    assert headers[-1].endswith("VMGuestPatchOperationResource;0")
    refused = throttle.charge("POST", "VMGuestPatchOperation", vm).refused
    assert refused is not None and refused.status == 429
    assert refused.headers["Retry-After"] == "30"  # refilled 2 a minute: one token every 30 s
    assert json.loads(refused.body()["error"]["details"][0]["message"])["allowedRequestCount"] == 6
    assert throttle.charge("POST", "VMGuestPatchOperation", "rg/vm2").refused is None  # another VM's own
    now[0] += 29.0
    assert throttle.charge("POST", "VMGuestPatchOperation", vm).refused is not None
    now[0] += 1.5
    assert throttle.charge("POST", "VMGuestPatchOperation", vm).refused is None
    # The subscription bucket: 600, refilled 200 a minute.
    now[0] = 0.0
    throttle = Throttle({"subscription-writes": 5000}, clock=lambda: now[0])
    for index in range(600):
        assert throttle.charge("POST", "VMGuestPatchOperation", f"rg/many{index}").refused is None
    spent = throttle.charge("POST", "VMGuestPatchOperation", "rg/one-more").refused
    assert spent is not None and spent.body()["error"]["details"][0]["target"] == (
        "VMGuestPatchOperationSubscriptionMaximum")
    now[0] += 60.0
    granted = [throttle.charge("POST", "VMGuestPatchOperation", f"rg/next{i}").refused is None for i in range(201)]
    assert granted.count(True) == 200


@pytest.mark.parametrize(("operation", "vm_budget", "sub_budget"), [
    ("GetOperation", (45, 15), (15000, 5000)),
    ("LowCostGet", (36, 12), (24000, 8000)),
    ("UpdateVM", (12, 4), (1500, 500)),
    ("PutVM", (12, 4), (1500, 500)),
    ("DeleteVM", (12, 4), (1500, 500)),
])
def test_published_budgets_per_vm_and_subscription(operation: str, vm_budget: tuple[int, int],
                                                    sub_budget: tuple[int, int]) -> None:
    now = [0.0]
    throttle = Throttle(clock=lambda: now[0])
    first = _policies(throttle.charge("GET", operation, "rg/vm").header or "")
    assert first == {f"{operation}Resource": vm_budget[0] - 1, f"{operation}SubscriptionMaximum": sub_budget[0] - 1}
    for _ in range(vm_budget[0] - 1):
        assert throttle.charge("GET", operation, "rg/vm").refused is None
    refused = throttle.charge("GET", operation, "rg/vm").refused
    assert refused is not None and refused.headers["Retry-After"] == str(60 // vm_budget[1])


def test_lists_count_per_subscription_only() -> None:
    throttle = Throttle(clock=lambda: 0.0)
    header = throttle.charge("GET", "HighCostGet", None).header
    assert header == "Microsoft.Compute/HighCostGetSubscriptionMaximum;899"  # 900, refilled 300 a minute


def test_budget_clock_runs_at_the_sandbox_time_scale() -> None:
    now = [0.0]
    throttle = Throttle({"VMGuestPatchOperationResource": 1}, clock=lambda: now[0], scale=600.0)
    assert throttle.charge("POST", "VMGuestPatchOperation", "rg/vm").refused is None
    refused = throttle.charge("POST", "VMGuestPatchOperation", "rg/vm").refused
    assert refused is not None and refused.headers["Retry-After"] == "1"  # 30 budget seconds = 0.05 wall s
    now[0] += 0.06
    assert throttle.charge("POST", "VMGuestPatchOperation", "rg/vm").refused is None


def test_sdk_retries_an_injected_429_after_retry_after(fleet_sandbox: Sandbox) -> None:
    class Credential:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            return AccessToken("t", int(time.time()) + 3600)

    client = ComputeManagementClient(
        Credential(),
        fleet_sandbox.subscription_id,
        base_url=fleet_sandbox.url,
        connection_verify=fleet_sandbox.ca_file,
        polling_interval=0.05,
    )
    fleet_sandbox.inject(
        method="POST", path_regex=r"web-05/assessPatches$", status=429, times=1, retry_after=1
    )
    started = time.monotonic()
    result = client.virtual_machines.begin_assess_patches("rg-web", "web-05").result()
    assert result.status == "Succeeded"
    assert time.monotonic() - started >= 0.9  # the SDK waited Retry-After
    posts = [r["status"] for r in fleet_sandbox.requests() if r["path"].endswith("web-05/assessPatches")]
    assert posts[-2:] == [429, 202]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (500, "InternalExecutionError"),
        (503, "ServiceUnavailable"),
        (404, "NotFound"),
        (409, "Conflict"),
        (403, "AuthorizationFailed"),
    ],
)
def test_injected_errors_have_arm_bodies(arm: Arm, status: int, code: str) -> None:
    arm.sandbox.backend.add_vm("rg1", "vm1")
    arm.sandbox.inject(method="GET", path_regex=r"/vm1$", status=status, times=2)
    for _ in range(2):
        response = arm.get(arm.vm("rg1", "vm1"))
        assert response.status_code == status
        assert response.json()["error"]["code"] == code and response.json()["error"]["message"]
    assert arm.get(arm.vm("rg1", "vm1")).status_code == 200  # `times` used up
    arm.sandbox.inject(path_regex=r"/vm1$", status=status, code="Custom", message="custom text")
    assert arm.get(arm.vm("rg1", "vm1")).json() == {"error": {"code": "Custom", "message": "custom text"}}


def test_injected_429_looks_like_compute_throttling(arm: Arm) -> None:
    arm.sandbox.backend.add_vm("rg1", "vm1")
    arm.sandbox.inject(method="POST", path_regex=r"/assessPatches$", status=429, retry_after=7)
    response = arm.post(arm.vm("rg1", "vm1") + "/assessPatches")
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    error = response.json()["error"]
    assert error["code"] == "OperationNotAllowed"
    assert error["details"][0]["target"] == "VMGuestPatchOperationResource"
    assert arm.post(arm.vm("rg1", "vm1") + "/assessPatches").status_code == 202


def test_dropped_connection(arm: Arm) -> None:
    arm.sandbox.backend.add_vm("rg1", "vm1")
    arm.sandbox.inject(method="GET", path_regex=r"/vm1$", status="drop")
    with pytest.raises(requests.ConnectionError):
        arm.get(arm.vm("rg1", "vm1"))
    assert arm.get(arm.vm("rg1", "vm1")).status_code == 200
    statuses = [r["status"] for r in arm.sandbox.requests() if r["path"].endswith("/vm1")]
    assert statuses == ["drop", 200]


def test_failed_operation_bodies(arm: Arm) -> None:
    arm.sandbox.backend.add_vm("rg1", "vm1", standing="behind1")
    arm.sandbox.fail_next_operation(r"vm1/installPatches$", code="InternalExecutionError", message="it broke")
    started = arm.post(arm.vm("rg1", "vm1") + "/installPatches", INSTALL)
    assert started.status_code == 202  # the failure shows in the operation, not on the POST
    polls = arm.poll(started)
    body = polls[-1].json()
    assert list(body) == ["startTime", "endTime", "status", "error", "name"]
    assert body["status"] == "Failed" and body["error"] == {
        "code": "InternalExecutionError",
        "message": "it broke",
    }
    monitor = arm.get(started.headers["Location"], api_version=None)
    assert monitor.status_code == 500 and monitor.json()["error"]["code"] == "InternalExecutionError"
    summary = arm.instance_view("rg1", "vm1")["patchStatus"]["lastPatchInstallationSummary"]
    assert summary["status"] == "Failed" and summary["installedPatchCount"] == 0
    # Default failure: what CRP reports for a broken patch operation.
    arm.sandbox.fail_next_operation(r"/assessPatches$")
    failed = arm.poll(arm.post(arm.vm("rg1", "vm1") + "/assessPatches"))[-1].json()
    assert failed["error"] == {
        "code": "VMGuestPatchInternalError",
        "message": "An internal execution error occurred. Please retry later.",
    }
    assert arm.instance_view("rg1", "vm1")["patchStatus"]["availablePatchSummary"]["status"] == "Failed"
    # The VM itself is fine: the next operation succeeds.
    assert arm.assess("rg1", "vm1")["status"] == "Succeeded"


def test_vm_without_agent_fails_patch_operations(arm: Arm) -> None:
    arm.sandbox.backend.add_vm(
        "rg1",
        "vm1",
        patch_mode="AutomaticByOS",
        provision_vm_agent=False,
        assessed_days_ago=None,
        image="MicrosoftWindowsServer:WindowsServer:2022-datacenter-azure-edition-core:latest",
    )
    body = arm.poll(arm.post(arm.vm("rg1", "vm1") + "/assessPatches"))[-1].json()
    assert body["status"] == "Failed" and body["error"]["code"] == "VMAgentStatusCommunicationError"
    view = arm.instance_view("rg1", "vm1")
    assert view["vmAgent"]["statuses"][0]["displayStatus"] == "Not Ready" and "osVersion" not in view


def test_random_faults_are_seeded(tmp_path: Path) -> None:
    def run(seed: int, where: Path) -> list[Any]:
        sandbox = make_sandbox(where, seed=seed, faults="500=0.3,503=0.1,drop=0.1")
        try:
            sandbox.backend.add_vm("rg1", "vm1")
            arm = Arm(sandbox)
            outcomes: list[Any] = []
            for _ in range(30):
                try:
                    outcomes.append(arm.get(arm.vm("rg1", "vm1")).status_code)
                except requests.ConnectionError:
                    outcomes.append("drop")
            return outcomes
        finally:
            sandbox.stop()

    first, again, other = run(7, tmp_path / "a"), run(7, tmp_path / "b"), run(8, tmp_path / "c")
    assert first == again
    assert first != other
    assert {200, 500} <= set(first) and "drop" in first + other


def test_fail_rate_makes_operations_end_failed(tmp_path: Path) -> None:
    sandbox = make_sandbox(tmp_path, faults="fail=1.0")
    try:
        arm = Arm(sandbox)
        sandbox.backend.add_vm("rg1", "vm1")
        assert arm.get(arm.vm("rg1", "vm1")).status_code == 200  # `fail` does not touch plain requests
        assert arm.poll(arm.post(arm.vm("rg1", "vm1") + "/assessPatches"))[-1].json()["status"] == "Failed"
        assert sandbox.requests()[-1]["status"] == 200
    finally:
        sandbox.stop()


def test_control_paths_are_not_faulted(tmp_path: Path) -> None:
    sandbox = make_sandbox(tmp_path, faults="500=1.0")
    try:
        arm = Arm(sandbox)
        assert (
            arm.get(f"/subscriptions/{arm.sub}/resourcegroups", api_version="2025-04-01").status_code == 500
        )
        assert arm.session.get(sandbox.url + "/_sandbox/requests", timeout=10).status_code == 200
    finally:
        sandbox.stop()


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("429", "has no rate"),
        ("429=2", "between 0 and 1"),
        ("foo=0.1", "not an HTTP error status"),
        ("200=0.1", "not an HTTP error status"),
        ("500=x", "is not a number"),
        ("500=0.7,503=0.6", "must not exceed 1"),
        ("500=0.1,500=0.2", "given twice"),
    ],
)
def test_bad_fault_specs(spec: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        parse_fault_spec(spec)


def test_fault_spec_parses() -> None:
    assert parse_fault_spec(" 429=0.05, 500=0.02,503=0.01,drop=0.01,fail=0.05 ") == {
        "429": 0.05,
        "500": 0.02,
        "503": 0.01,
        "drop": 0.01,
        "fail": 0.05,
    }
    assert parse_fault_spec("") == {}


@pytest.mark.parametrize(
    "settings",
    [
        {"fleet": -1},
        {"fleet": True},
        {"time_scale": 0},
        {"time_scale": "fast"},
        {"date": "2026-13-01"},
        {"date": "1999-01-01"},
        {"faults": "429=2"},
        {"budgets": {"NoSuchPolicy": 1}},
        {"budgets": {"PutVMResource": -1}},
        {"budgets": {"PutVMResource": 1.5}},
        {"budget_time_scale": 0},
        {"port": 70000},
    ],
)
def test_bad_config_is_rejected(tmp_path: Path, settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SandboxConfig(state_dir=tmp_path, **settings)


def test_bad_injections_are_rejected(sandbox: Sandbox) -> None:
    for kwargs in ({"status": 200}, {"status": "explode"}, {"status": 500, "times": 0}, {"path_regex": "("}):
        with pytest.raises((ValueError, re.error)):
            sandbox.inject(**{"status": 500, **kwargs})

"""Run Command and restart on the sandbox: the real wire (azps_vm_runcommand_windows_extract.json), the guest
answering from the VM's own state, budgets, conflicts and failures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hpctl.sandbox import Sandbox

from .conftest import Arm, make_sandbox, shared_dir

READ = ["$cv = Get-ItemProperty -Path 'HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion'",
        "[ordered]@{ schema = 1; build = $cv.CurrentBuild; ubr = $cv.UBR } | ConvertTo-Json -Compress"]
PACKAGES = ["(dism.exe /English /Online /Get-Packages /Format:Table) -match 'RollupFix' -join \"`n\""]
HOTFIX = ["Get-HotFix | Sort-Object -Property InstalledOn | Format-Table -Property Description, HotFixID, "
          "InstalledOn -AutoSize | Out-String -Width 200"]
REMOVE = ["param([string]$PackageName)",
          "$out = dism.exe /English /Online /Remove-Package /PackageName:$PackageName /NoRestart /Quiet",
          "$code = $LASTEXITCODE",
          'if ($code -ne 0 -and $code -ne 3010) { throw "DISM failed with $code" }',
          "$code"]


@pytest.fixture
def world(tmp_path) -> Any:
    sandbox = make_sandbox(tmp_path, fleet=24)
    yield sandbox
    sandbox.stop()


def run(arm: Arm, group: str, name: str, script: list[str], parameters: list[dict[str, str]] | None = None
        ) -> tuple[Any, list[Any]]:
    body: dict[str, Any] = {"commandId": "RunPowerShellScript", "script": script}
    if parameters:
        body["parameters"] = parameters
    started = arm.post(arm.vm(group, name) + "/runCommand", body)
    return started, (arm.poll(started) if started.status_code == 202 else [])


def streams(result: dict[str, Any]) -> tuple[str, str]:
    by_code = {v["code"]: v["message"] for v in result["value"]}
    return by_code["ComponentStatus/StdOut/succeeded"], by_code["ComponentStatus/StdErr/succeeded"]


def test_wire_matches_the_real_recording(world: Sandbox) -> None:
    real = json.loads((shared_dir() / "azure-recordings" / "azps_vm_runcommand_windows_extract.json").read_text())
    arm = Arm(world)
    started, polls = run(arm, "rg-web", "web-01", READ)
    assert started.status_code == real[0]["StatusCode"] == 202
    assert started.content == b""
    assert "Retry-After" not in started.headers
    assert started.headers["Location"].split("?")[1].count("monitor=true") == 1
    assert started.headers["Location"].split("?")[0] == started.headers["Azure-AsyncOperation"].split("?")[0]
    assert started.headers["x-ms-request-id"] == started.headers["Location"].split("?")[0].rsplit("/", 1)[1]
    assert "UpdateVMResource;11" in started.headers["x-ms-ratelimit-remaining-resource"]
    statuses = [p.json()["status"] for p in polls[:-1]]
    assert statuses[-1] == "Succeeded" and set(statuses) <= {"InProgress", "Succeeded"}
    final_poll = polls[-2].json()
    real_final = json.loads(real[2]["ResponseBody"])
    assert list(final_poll) == list(real_final)  # startTime, endTime, status, properties, name
    monitor = polls[-1].json()
    real_monitor = json.loads(real[3]["ResponseBody"])
    assert [(v["code"], v["level"], v["displayStatus"]) for v in monitor["value"]] == [
        (v["code"], v["level"], v["displayStatus"]) for v in real_monitor["value"]]
    assert final_poll["properties"]["output"] == monitor
    stdout, stderr = streams(monitor)
    assert stderr == ""
    vm = world.backend.vm("rg-web", "web-01")
    assert json.loads(stdout) == {"schema": 1, "build": "26100", "ubr": int(vm.patch.running.build.split(".")[1])}


def test_guest_lists_packages_and_hotfixes_from_the_vm_history(world: Sandbox) -> None:
    arm = Arm(world)
    vm = world.backend.vm("rg-web", "web-01")
    _, polls = run(arm, "rg-web", "web-01", PACKAGES)
    stdout, _ = streams(polls[-1].json())
    builds = [line.split("~~")[1].split(" ")[0].rsplit(".", 2)[0] for line in stdout.splitlines()]
    assert builds == [r.build for r in vm.patch.history]
    _, polls = run(arm, "rg-web", "web-01", HOTFIX)
    stdout, _ = streams(polls[-1].json())
    assert [line.split()[2] for line in stdout.splitlines()[3:] if line.strip()] == [r.kb for r in vm.patch.history]


def test_removal_then_restart_lands_on_the_build_below(world: Sandbox) -> None:
    arm = Arm(world)
    vm = world.backend.vm("rg-web", "web-01")
    newest, below = vm.patch.history[-1], vm.patch.history[-2]
    _, polls = run(arm, "rg-web", "web-01", PACKAGES)
    package = streams(polls[-1].json())[0].splitlines()[-1].split("|")[0].strip()
    _, polls = run(arm, "rg-web", "web-01", REMOVE, [{"name": "PackageName", "value": package}])
    stdout, stderr = streams(polls[-1].json())
    assert (stdout, stderr) == ("3010", "")
    assert arm.instance_view("rg-web", "web-01")["osVersion"] == f"10.0.{newest.build}"  # until it restarts
    started = arm.post(arm.vm("rg-web", "web-01") + "/restart")
    assert started.status_code == 202
    assert arm.poll(started)[-1].status_code == 200
    assert arm.instance_view("rg-web", "web-01")["osVersion"] == f"10.0.{below.build}"


def test_script_errors_go_to_stderr_and_the_operation_still_succeeds(world: Sandbox) -> None:
    arm = Arm(world)
    _, polls = run(arm, "rg-web", "web-01", REMOVE, [{"name": "PackageName", "value": "Package_for_Nothing"}])
    assert polls[-2].json()["status"] == "Succeeded"
    stdout, stderr = streams(polls[-1].json())
    assert stdout == "" and stderr.startswith("DISM failed with -2147024894")
    _, polls = run(arm, "rg-web", "web-01", ["Invoke-Mystery"])
    assert "The term 'Invoke-Mystery' is not recognized" in streams(polls[-1].json())[1]


def test_one_run_command_at_a_time_and_none_during_a_patch_operation(tmp_path) -> None:
    slow = make_sandbox(tmp_path, fleet=24, time_scale=10.0)  # operations stay running while the test asks
    try:
        arm = Arm(slow)
        body = {"commandId": "RunPowerShellScript", "script": READ}
        assert arm.post(arm.vm("rg-web", "web-01") + "/runCommand", body).status_code == 202
        second = arm.post(arm.vm("rg-web", "web-01") + "/runCommand", body)
        assert second.status_code == 409
        assert second.json()["error"] == {
            "code": "Conflict",
            "message": "Run command extension execution is in progress. Please wait for completion before invoking "
                       "a run command."}
        assert arm.post(arm.vm("rg-web", "web-04") + "/assessPatches").status_code == 202
        blocked = arm.post(arm.vm("rg-web", "web-04") + "/runCommand", body)
        assert blocked.status_code == 409 and blocked.json()["error"]["code"] == "Conflict"
    finally:
        slow.stop()


def test_deallocated_vm_and_missing_agent(world: Sandbox) -> None:
    arm = Arm(world)
    world.backend.set_power("rg-web", "web-02", "deallocated")
    refused = arm.post(arm.vm("rg-web", "web-02") + "/runCommand", {"commandId": "RunPowerShellScript", "script": READ})
    assert refused.status_code == 409
    assert refused.json()["error"] == {"code": "OperationNotAllowed",
                                       "message": "The operation requires the VM to be running (or set to run)."}
    view = arm.instance_view("rg-web", "web-02")
    assert "osVersion" not in view and view["statuses"][-1]["code"] == "PowerState/deallocated"
    started, polls = run(arm, "rg-app", "app-04", READ)  # hotpatch on, but the VM agent reports nothing
    assert started.status_code == 202
    failed = polls[-1].json()
    assert failed["status"] == "Failed" and failed["error"]["code"] == "VMAgentStatusCommunicationError"


def test_update_vm_budget_is_twelve_per_vm(tmp_path) -> None:
    sandbox = make_sandbox(tmp_path, fleet=1, budget_time_scale=1.0)  # buckets refill at Azure's own pace
    try:
        arm = Arm(sandbox)
        seen = []
        for _ in range(13):
            response = arm.post(arm.vm("rg-web", "web-01") + "/restart")
            seen.append(response.status_code)
            if response.status_code == 202:
                arm.poll(response)
        assert seen[:12] == [202] * 12 and seen[12] == 429
        assert response.json()["error"]["details"][0]["target"] == "UpdateVMResource"
        assert int(response.headers["Retry-After"]) >= 1
    finally:
        sandbox.stop()


def test_bad_run_command_bodies(world: Sandbox) -> None:
    arm = Arm(world)
    missing = arm.post(arm.vm("rg-web", "web-01") + "/runCommand", {"script": READ})
    assert missing.status_code == 400 and missing.json()["error"]["target"] == "commandId"
    wrong = arm.post(arm.vm("rg-web", "web-01") + "/runCommand", {"commandId": "RunPowerShellScript", "script": "x"})
    assert wrong.status_code == 400 and wrong.json()["error"]["target"] == "script"

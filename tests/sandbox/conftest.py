"""Fixtures for the sandbox tests: running sandboxes, a small ARM client over HTTPS, shared/ material."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from hpctl.sandbox import Sandbox, SandboxConfig

API = "2026-04-01"
RG_API = "2025-04-01"
# May 2026 is a hotpatch month with a real KB in the reference (KB5087423, 26100.32772 for WS2025).
TODAY = dt.date(2026, 5, 20)
FAST = 60000.0  # a 10-minute assessment takes 10 ms


def shared_dir() -> Path:
    """shared/ beside the repository (../shared from the project root), or $HPCTL_SHARED_DIR."""
    here = Path(__file__).resolve().parents[3] / "shared"
    if here.is_dir():
        return here
    env = os.environ.get("HPCTL_SHARED_DIR")
    if env and Path(env).is_dir():
        return Path(env)
    pytest.skip("shared/ reference material not found (set HPCTL_SHARED_DIR)")
    raise AssertionError  # unreachable


def spec_example(name: str) -> dict[str, Any]:
    return json.loads((shared_dir() / "azure-specs" / name).read_text())


class Arm:
    """A thin ARM client for one sandbox: bearer token, CA trust, api-version."""

    def __init__(self, sandbox: Sandbox) -> None:
        assert sandbox.url and sandbox.ca_file
        self.sandbox = sandbox
        self.session = requests.Session()
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify
        self.session.verify = sandbox.ca_file
        self.sub = sandbox.subscription_id

    def url(self, path: str) -> str:
        return path if path.startswith("https://") else f"{self.sandbox.url}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        api_version: str | None = API,
        params: dict[str, str] | None = None,
        auth: str | None = "Bearer test-token",
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> requests.Response:
        all_params = dict(params or {})
        if api_version is not None and "api-version=" not in path:
            all_params = {"api-version": api_version, **all_params}
        all_headers = dict(headers or {})
        if auth is not None:
            all_headers["Authorization"] = auth
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        return self.session.request(
            method, self.url(path), params=all_params, data=data, headers=all_headers, timeout=30
        )

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return self.request("PUT", path, body=body, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.request("POST", path, body=body, **kw)

    def patch(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return self.request("PATCH", path, body=body, **kw)

    def vm(self, group: str, name: str) -> str:
        return (
            f"/subscriptions/{self.sub}/resourceGroups/{group}/providers/Microsoft.Compute/"
            f"virtualMachines/{name}"
        )

    def poll(self, response: requests.Response, timeout: float = 20.0) -> list[requests.Response]:
        """Follow Azure-AsyncOperation to a terminal status, then GET Location if given (as the SDK does)."""
        seen = []
        url = response.headers["Azure-AsyncOperation"]
        deadline = time.monotonic() + timeout
        while True:
            poll = self.get(url, api_version=None)
            assert poll.status_code == 200, poll.text  # e.g. a 429 if polled faster than CRP's budget allows
            seen.append(poll)
            if poll.json()["status"] in ("Succeeded", "Failed", "Canceled"):
                break
            assert time.monotonic() < deadline, "operation did not finish"
            time.sleep(0.05)
        if "Location" in response.headers and poll.json()["status"] == "Succeeded":
            seen.append(self.get(response.headers["Location"], api_version=None))
        return seen

    def assess(self, group: str, name: str) -> dict[str, Any]:
        started = self.post(self.vm(group, name) + "/assessPatches")
        assert started.status_code == 202, started.text
        return self.poll(started)[-1].json()

    def install(self, group: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        started = self.post(self.vm(group, name) + "/installPatches", body)
        assert started.status_code == 202, started.text
        return self.poll(started)[-1].json()

    def instance_view(self, group: str, name: str) -> dict[str, Any]:
        response = self.get(self.vm(group, name) + "/instanceView")
        assert response.status_code == 200, response.text
        return response.json()


def make_sandbox(tmp: Path, **kw: Any) -> Sandbox:
    settings: dict[str, Any] = {"fleet": 0, "seed": 7, "date": TODAY, "time_scale": FAST, "state_dir": tmp}
    settings.update(kw)
    return Sandbox(SandboxConfig(**settings)).start()


@pytest.fixture(scope="module")
def fleet_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A 30-VM world shared by a module's read-mostly tests."""
    # Many tests share these VMs: a roomy per-VM patch budget keeps them from throttling each other.
    sandbox = make_sandbox(
        tmp_path_factory.mktemp("fleet"),
        fleet=30,
        budgets={"VMGuestPatchOperationResource": 1000, "LowCostGetResource": 1000},
    )
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def fleet_arm(fleet_sandbox: Sandbox) -> Arm:
    return Arm(fleet_sandbox)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """An empty world of its own, for tests that change state or spend budgets."""
    sandbox = make_sandbox(tmp_path)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def arm(sandbox: Sandbox) -> Arm:
    return Arm(sandbox)


def hotpatch_vm_body(
    location: str = "eastus", sku: str = "2025-datacenter-azure-edition", **patch: Any
) -> dict[str, Any]:
    """A VM PUT body like hpctl's `vm create` sends (eligible image, hotpatch settings on)."""
    settings: dict[str, Any] = {
        "patchMode": "AutomaticByPlatform",
        "enableHotpatching": True,
        "assessmentMode": "AutomaticByPlatform",
        "automaticByPlatformSettings": {
            "rebootSetting": "IfRequired",
            "bypassPlatformSafetyChecksOnUserSchedule": False,
        },
    }
    settings.update(patch)
    return {
        "location": location,
        "tags": {"env": "test"},
        "zones": ["1"],
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
            "storageProfile": {
                "imageReference": {
                    "publisher": "MicrosoftWindowsServer",
                    "offer": "WindowsServer",
                    "sku": sku,
                    "version": "latest",
                },
                "osDisk": {"createOption": "FromImage", "managedDisk": {"storageAccountType": "Premium_LRS"}},
            },
            "osProfile": {
                "computerName": "vm1",
                "adminUsername": "hpadmin",
                "adminPassword": "S3cure!Passw0rd#1",
                "windowsConfiguration": {
                    "provisionVMAgent": True,
                    "enableAutomaticUpdates": True,
                    "patchSettings": settings,
                },
            },
            "networkProfile": {
                "networkInterfaces": [
                    {
                        "id": "/subscriptions/x/resourceGroups/rg/providers/"
                        "Microsoft.Network/networkInterfaces/vm1-nic"
                    }
                ]
            },
        },
    }

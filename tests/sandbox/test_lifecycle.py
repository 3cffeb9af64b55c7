"""Starting and stopping: endpoint.json, the CA, ports, connections, serve() as a process, the request log."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from cryptography import x509

from hpctl.sandbox import Sandbox, SandboxConfig
from hpctl.sandbox.routes import RequestLog

from .conftest import TODAY, Arm, make_sandbox

ROOT = Path(__file__).resolve().parents[2]


def test_start_writes_a_private_endpoint_file_and_stop_removes_it(tmp_path: Path) -> None:
    sandbox = make_sandbox(tmp_path / "state", fleet=3)
    endpoint_file = tmp_path / "state" / "endpoint.json"
    try:
        endpoint = json.loads(endpoint_file.read_text())
        assert set(endpoint) == {"url", "ca_file", "subscription_id", "tenant_id", "pid", "started",
                                 "budget_time_scale"}
        assert endpoint["budget_time_scale"] == sandbox.config.time_scale
        assert endpoint["url"] == sandbox.url and sandbox.url.startswith("https://127.0.0.1:")
        assert endpoint["ca_file"] == sandbox.ca_file and endpoint["pid"] == os.getpid()
        assert endpoint["subscription_id"] == sandbox.subscription_id
        assert stat.S_IMODE(endpoint_file.stat().st_mode) == 0o600
        ca = x509.load_pem_x509_certificate(Path(sandbox.ca_file).read_bytes())
        assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        health = requests.get(sandbox.url + "/_sandbox/health", verify=sandbox.ca_file, timeout=10)
        assert health.json()["vms"] == 3
        by_name = requests.get(
            sandbox.url.replace("127.0.0.1", "localhost") + "/_sandbox/health",
            verify=sandbox.ca_file,
            timeout=10,
        )
        assert by_name.status_code == 200  # the certificate names localhost too
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(sandbox.url + "/_sandbox/health", verify=True, timeout=10)  # not a public CA
    finally:
        sandbox.stop()
    assert not endpoint_file.exists()
    sandbox.stop()  # a second stop is harmless
    with pytest.raises(requests.ConnectionError):
        requests.get(sandbox.url + "/_sandbox/health", verify=sandbox.ca_file, timeout=5)


def test_stop_cuts_kept_alive_connections(tmp_path: Path) -> None:
    sandbox = make_sandbox(tmp_path)
    arm = Arm(sandbox)
    assert arm.get(f"/subscriptions/{arm.sub}/resourcegroups", api_version="2025-04-01").status_code == 200
    sandbox.stop()
    with pytest.raises(requests.ConnectionError):
        arm.get(f"/subscriptions/{arm.sub}/resourcegroups", api_version="2025-04-01")


def test_two_sandboxes_side_by_side(tmp_path: Path) -> None:
    first = make_sandbox(tmp_path / "a", seed=1)
    second = make_sandbox(tmp_path / "b", seed=2)
    try:
        assert first.url != second.url
        assert first.subscription_id != second.subscription_id
        assert (
            Arm(first)
            .get(f"/subscriptions/{first.subscription_id}/resourcegroups", api_version="2025-04-01")
            .status_code
            == 200
        )
        other = Arm(second).get(
            f"/subscriptions/{first.subscription_id}/resourcegroups", api_version="2025-04-01"
        )
        assert other.status_code == 404 and other.json()["error"]["code"] == "SubscriptionNotFound"
    finally:
        first.stop()
        second.stop()


def test_identity_and_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPCTL_SANDBOX_DIR", str(tmp_path / "from-env"))
    config = SandboxConfig(fleet=0)
    assert config.state_dir == tmp_path / "from-env"
    assert config.date is not None and config.time_scale == 600.0
    assert SandboxConfig(seed=5).subscription_id == SandboxConfig(seed=5).subscription_id
    assert SandboxConfig(seed=5).subscription_id != SandboxConfig(seed=6).subscription_id
    explicit = "00000000-0000-0000-0000-000000000000"
    sandbox = make_sandbox(tmp_path / "x", subscription_id=explicit)
    try:
        assert sandbox.subscription_id == explicit
        assert (
            Arm(sandbox).get(f"/subscriptions/{explicit}", api_version="2022-12-01").json()["state"]
            == "Enabled"
        )
    finally:
        sandbox.stop()
    with pytest.raises(RuntimeError):
        with make_sandbox(tmp_path / "y") as running:
            running.start()


def test_request_log_is_bounded_and_ordered() -> None:
    log = RequestLog(size=3)
    for index in range(5):
        log.add("GET", f"/p{index}", 200)
    assert [item["path"] for item in log.snapshot()] == ["/p2", "/p3", "/p4"]


def test_serve_runs_until_interrupted(tmp_path: Path) -> None:
    state = tmp_path / "serve"
    code = (
        "import datetime; from hpctl.sandbox import SandboxConfig, serve; "
        f"serve(SandboxConfig(fleet=5, date=datetime.date.fromisoformat('{TODAY}'), "
        f"state_dir={str(state)!r}))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 20
        while not (state / "endpoint.json").exists():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
        endpoint = json.loads((state / "endpoint.json").read_text())
        assert endpoint["pid"] == process.pid
        health = requests.get(endpoint["url"] + "/_sandbox/health", verify=endpoint["ca_file"], timeout=10)
        assert health.json()["vms"] == 5
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert (
        endpoint["url"] in stderr and endpoint["ca_file"] in stderr and endpoint["subscription_id"] in stderr
    )
    assert "stopped" in stderr
    assert not (state / "endpoint.json").exists()


def test_sandbox_is_usable_as_a_context_manager(tmp_path: Path) -> None:
    with Sandbox(SandboxConfig(fleet=1, date=TODAY, state_dir=tmp_path)) as sandbox:
        assert sandbox.running and (tmp_path / "endpoint.json").exists()
        assert [r for r in sandbox.requests()] == []
    assert not sandbox.running

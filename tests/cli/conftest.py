"""A live sandbox of 24 VMs per test, with hpctl pointed at it (its request log is what the tests read)."""

from __future__ import annotations

import pytest

from tests.conftest import SANDBOX_DATE


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    from hpctl.sandbox import Sandbox, SandboxConfig

    state = tmp_path / "sandbox"
    box = Sandbox(SandboxConfig(fleet=24, seed=7, date=SANDBOX_DATE, time_scale=60000.0, state_dir=state))
    box.start()
    monkeypatch.setenv("HPCTL_CLOUD", "sandbox")
    monkeypatch.setenv("HPCTL_SANDBOX_DIR", str(state))
    monkeypatch.setenv("HPCTL_POLLING_INTERVAL", "0.02")
    yield box
    box.stop()

"""Live sandboxes for the CLI tests: one way to start them (the request log is what the tests read)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SANDBOX_DATE


@contextmanager
def running_sandbox(state: Path, *, fleet: int = 24, seed: int = 7,
                    arrange: Callable[[Any], None] | None = None, **config: Any) -> Iterator[Any]:
    """A sandbox on the recordings' day, operations almost instant; `arrange` sets state up before it serves."""
    from hpctl.sandbox import Sandbox, SandboxConfig

    box = Sandbox(SandboxConfig(fleet=fleet, seed=seed, date=SANDBOX_DATE, time_scale=60000.0, state_dir=state,
                                **config))
    if arrange is not None:
        arrange(box)
    box.start()
    try:
        yield box
    finally:
        box.stop()


def point_at(monkeypatch: pytest.MonkeyPatch, state: Path) -> None:
    """hpctl --cloud sandbox, finding the sandbox through its state directory."""
    monkeypatch.setenv("HPCTL_CLOUD", "sandbox")
    monkeypatch.setenv("HPCTL_SANDBOX_DIR", str(state))
    monkeypatch.setenv("HPCTL_POLLING_INTERVAL", "0.02")


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    state = tmp_path / "sandbox"
    with running_sandbox(state) as box:
        point_at(monkeypatch, state)
        yield box

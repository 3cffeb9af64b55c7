"""Shared fixtures: cassette configuration, the ARM endpoint for each mode, and the CLI runner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.recording import FILTER_REQUEST_HEADERS, ZERO_GUID, before_record_request, before_record_response

ROOT = Path(__file__).resolve().parents[1]
# The simulated "today" every recording is made on, so cassettes don't depend on the day they're re-recorded.
SANDBOX_DATE = date(2026, 5, 20)


def shared_dir() -> Path:
    env = os.environ.get("HPCTL_SHARED_DIR")
    return Path(env) if env else ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if not path.is_dir():
        pytest.skip(f"shared/ material not found at {path} (set HPCTL_SHARED_DIR)")
    return path


@pytest.fixture(autouse=True)
def _private_journals(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fleet writes journal under ~/.hpctl by default: keep every test's journals in its own directory."""
    monkeypatch.setenv("HPCTL_STATE_DIR", str(tmp_path / "journals"))


@pytest.fixture(autouse=True)
def _private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A home of its own per test: ~/.hpctl/calendar.json (written by `calendar refresh`) is read by every
    command, so one left by a test or by the person running the suite must not change another test."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))


@pytest.fixture(scope="session")
def vcr_config() -> dict[str, Any]:
    return {
        "filter_headers": FILTER_REQUEST_HEADERS,
        "before_record_request": before_record_request,
        "before_record_response": before_record_response,
        "decode_compressed_response": True,
        # Bodies matter: the install body and VM PUT bodies are exactly what hpctl must get right.
        "match_on": ("method", "scheme", "host", "path", "query", "body"),
        "record_on_exception": False,
        # Not drop_unused_requests: vcrpy then rewrites a cassette even in playback, so one failing replay
        # would erase what it didn't reach. Re-recording uses --record-mode=rewrite, which starts afresh.
        # The sandbox the tests start listens on loopback; nothing else may be reached.
        "allowed_hosts": [r"127\.0\.0\.1", "localhost"],
    }


@pytest.fixture
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    return str(ROOT / "cassettes" / Path(request.node.fspath).stem)


def is_live() -> bool:
    return os.environ.get("HPCTL_LIVE") == "1"


class FakeCredential:
    """Playback credential (as devtools_testutils does): cassettes hold no tokens to match anyway."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("fake-token", 4102444800)


@dataclass
class Arm:
    """The ARM endpoint a recorded test talks to, whichever mode the suite runs in."""

    mode: str  # "playback", "sandbox" (recording against a sandbox) or "live" (recording against Azure)
    sandbox: Any = None

    @property
    def recording(self) -> bool:
        return self.mode != "playback"

    def arrange(self, fn: Any) -> None:
        """Set up a server-side condition (fault, failure): on the sandbox while recording; in playback the
        cassette already holds it; against real Azure it can't be arranged, so the test is skipped."""
        if self.mode == "live":
            pytest.skip("needs the sandbox to arrange a fault; real Azure can't be told to fail on cue")
        if self.sandbox is not None:
            fn(self.sandbox)


def _serialise_vcr_recording(monkeypatch: pytest.MonkeyPatch) -> None:
    """vcrpy loses exchanges recorded from several threads at once (kevin1024/vcrpy#849), so while
    recording the fleet engine has one operation in flight on one HTTP worker, and parallel reads run one at
    a time; playback runs in parallel as users do (each operation's polls replay in their recorded order)."""
    from concurrent.futures import ThreadPoolExecutor

    import hpctl.fleet.engine
    import hpctl.fleet.writes
    import hpctl.runner

    monkeypatch.setattr(hpctl.runner, "ThreadPoolExecutor",
                        lambda max_workers, **kw: ThreadPoolExecutor(max_workers=1, **kw))
    monkeypatch.setattr(hpctl.fleet.engine, "MAX_WORKERS", 1)
    monkeypatch.setattr(hpctl.fleet.writes, "DEFAULT_IN_FLIGHT", 1)


@pytest.fixture(autouse=True)
def _no_user_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read the machine's `hpctl configure` defaults or its Azure CLI login."""
    monkeypatch.setenv("HPCTL_CONFIG_DIR", str(tmp_path / "hpctl-config"))
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "azure-config"))


_VCRPY_MAJOR = int(version("vcrpy").split(".")[0])


@pytest.fixture
def arm(record_mode: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Arm]:
    """Point hpctl at the right ARM endpoint: cassettes (playback), a fresh sandbox, or real Azure."""
    for name in ("HPCTL_CLOUD", "AZURE_SUBSCRIPTION_ID", "AZURE_CORE_OUTPUT"):
        monkeypatch.delenv(name, raising=False)
    if record_mode == "none":
        if _VCRPY_MAJOR < 9:
            # vcrpy 8 (the newest on Python 3.10) swaps the patched connection class out while it builds a
            # connection, so another thread then gets a real, unpatched one; vcrpy 9 needs Python 3.11.
            _serialise_vcr_recording(monkeypatch)
        from azure.core.pipeline.policies import RetryPolicy
        from azure.core.polling.base_polling import LROBasePolling

        import hpctl.edge.clients as clients

        monkeypatch.setattr(clients, "credential_factory", lambda cloud: FakeCredential())
        # Recorded waits cost nothing in playback: no LRO polling interval, no retry back-off.
        monkeypatch.setattr(RetryPolicy, "sleep", lambda self, *a, **k: None)
        monkeypatch.setattr(LROBasePolling, "_delay", lambda self: None)
        monkeypatch.setattr("hpctl.edge.resourcegraph.pause", lambda seconds: None)
        monkeypatch.setenv("HPCTL_POLLING_INTERVAL", "0")
        monkeypatch.setenv("HPCTL_CLOUD", "AzureCloud")
        monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", ZERO_GUID)
        yield Arm("playback")
        return
    _serialise_vcr_recording(monkeypatch)
    if is_live():
        monkeypatch.setenv("HPCTL_CLOUD", "AzureCloud")
        yield Arm("live")
        return
    from hpctl.sandbox import Sandbox, SandboxConfig

    sandbox = Sandbox(SandboxConfig(fleet=24, seed=7, date=SANDBOX_DATE, time_scale=60000.0, state_dir=tmp_path))
    sandbox.start()
    monkeypatch.setenv("HPCTL_CLOUD", "sandbox")
    monkeypatch.setenv("HPCTL_SANDBOX_DIR", str(tmp_path))
    monkeypatch.setenv("HPCTL_POLLING_INTERVAL", "0.05")
    try:
        yield Arm("sandbox", sandbox)
    finally:
        sandbox.stop()


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None) -> Result:
    """Invoke hpctl in-process; stdout and stderr are kept apart, as the conventions ask."""
    from hpctl.cli import app

    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def hpctl() -> Any:
    return run_cli

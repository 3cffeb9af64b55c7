"""Sandbox: start/stop a local ARM endpoint, write endpoint.json, steer it from tests; serve() blocks."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from hpctl.sandbox.backend import Backend
from hpctl.sandbox.certs import make_server_certificate
from hpctl.sandbox.config import SandboxConfig
from hpctl.sandbox.faults import Faults
from hpctl.sandbox.routes import ArmApp
from hpctl.sandbox.server import ArmServer
from hpctl.sandbox.throttle import Throttle

ENDPOINT_FILE = "endpoint.json"
CA_FILE = "ca.pem"


def _write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (0600), atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class Sandbox:
    """A local HTTPS endpoint that behaves like Azure Resource Manager, served from a background thread."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.backend = Backend(self.config)
        self.faults = Faults(self.config.faults, self.config.seed)
        self.throttle = Throttle(self.config.budgets, scale=self.config.budget_time_scale or 1.0)
        self._app: ArmApp | None = None
        self._server: ArmServer | None = None
        self._thread: threading.Thread | None = None
        self.url: str | None = None
        self.ca_file: str | None = None
        self.started: str | None = None

    # -- identity -------------------------------------------------------------------------------------

    @property
    def subscription_id(self) -> str:
        return self.backend.subscription_id

    @property
    def tenant_id(self) -> str:
        return self.backend.tenant_id

    @property
    def state_dir(self) -> Path:
        assert self.config.state_dir is not None
        return Path(self.config.state_dir)

    @property
    def endpoint_file(self) -> Path:
        return self.state_dir / ENDPOINT_FILE

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Listen (port 0: a free one), serve from a background thread, write endpoint.json."""
        if self._server is not None:
            raise RuntimeError("this sandbox is already running")
        host = self.config.host
        names = ["127.0.0.1", "localhost"]
        if host not in ("", "0.0.0.0", "::") and host not in names:
            names.append(host)
        certificate = make_server_certificate(names)
        self._app = ArmApp(self.backend, self.faults, self.throttle, certificate.ca_pem)
        self._server = ArmServer((host, self.config.port), self._app, certificate.ssl_context())
        port = self._server.server_address[1]
        shown = "127.0.0.1" if host in ("", "0.0.0.0") else ("::1" if host == "::" else host)
        shown = f"[{shown}]" if ":" in shown else shown
        self.url = f"https://{shown}:{port}"
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        ca_path = self.state_dir / CA_FILE
        ca_path.write_bytes(certificate.ca_pem)
        self.ca_file = str(ca_path)
        self.started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"hpctl-sandbox-{port}",
            daemon=True,
        )
        self._thread.start()
        _write_private(self.endpoint_file, json.dumps(self.endpoint(), indent=2) + "\n")
        return self

    def endpoint(self) -> dict[str, Any]:
        """What endpoint.json holds: how clients reach this sandbox."""
        return {
            "url": self.url,
            "ca_file": self.ca_file,
            "subscription_id": self.subscription_id,
            "tenant_id": self.tenant_id,
            "pid": os.getpid(),
            "started": self.started,
            # Clients pacing by Azure's published budgets learn here how much faster this sandbox refills them.
            "budget_time_scale": self.throttle.scale,
        }

    def stop(self) -> None:
        """Stop serving, cut open connections, and remove endpoint.json if it still points here."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            current = json.loads(self.endpoint_file.read_text())
            if current.get("url") == self.url and current.get("pid") == os.getpid():
                self.endpoint_file.unlink()
        except (OSError, ValueError):
            pass

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # -- steering from tests --------------------------------------------------------------------------

    def requests(self) -> list[dict[str, Any]]:
        """The request log, oldest first: {"method", "path" (no query), "status", "at"} (/_sandbox/requests)."""
        return self._app.log.snapshot() if self._app is not None else []

    def inject(
        self,
        method: str | None = None,
        path_regex: str = ".*",
        status: int | str = 500,
        times: int = 1,
        retry_after: int | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        """The next `times` requests matching method + path regex get `status` with an ARM error body
        (429 adds Retry-After, default 1 s), or "drop": the connection closes without an answer."""
        self.faults.inject(method, path_regex, status, times, retry_after, code, message)

    def fail_next_patches(self, path_regex: str = ".*") -> None:
        """The next installPatches matching `path_regex` succeeds as an operation but fails every patch it
        tries: its result's status is Failed (as when Windows Update fails on the VM)."""
        self.faults.fail_next_patches(path_regex)

    def fail_next_operation(
        self, path_regex: str = ".*", code: str | None = None, message: str | None = None
    ) -> None:
        """The next long-running operation started by a request matching `path_regex` ends Failed."""
        self.faults.fail_next_operation(path_regex, code, message)


def serve(config: SandboxConfig | None = None) -> None:
    """Start a sandbox, say where it is on stderr, serve until Ctrl-C (or SIGTERM), then clean up."""
    sandbox = Sandbox(config).start()
    cfg = sandbox.config
    print(f"hpctl sandbox: Azure Resource Manager at {sandbox.url}", file=sys.stderr)
    print(f"  CA certificate  {sandbox.ca_file}", file=sys.stderr)
    print(f"  subscription    {sandbox.subscription_id}", file=sys.stderr)
    print(f"  tenant          {sandbox.tenant_id}", file=sys.stderr)
    print(
        f"  world           {cfg.fleet} VMs, seed {cfg.seed}, date {cfg.date}, time x{cfg.time_scale:g}"
        + (f", faults {cfg.faults}" if cfg.faults else ""),
        file=sys.stderr,
    )
    print(f"  endpoint file   {sandbox.endpoint_file}", file=sys.stderr)
    print("Serving; press Ctrl-C to stop.", file=sys.stderr)
    stop = threading.Event()
    previous = None
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:

        def _terminate(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        if in_main and previous is not None:
            signal.signal(signal.SIGTERM, previous)
        print("hpctl sandbox: stopped.", file=sys.stderr)

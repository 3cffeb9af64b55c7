"""Long-running operations: Azure-AsyncOperation bodies, Location monitors, completion in wall time."""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hpctl.sandbox.clock import SimClock, ts

IN_PROGRESS = "InProgress"
SUCCEEDED = "Succeeded"
FAILED = "Failed"


@dataclass
class Operation:
    """One asynchronous operation, as CRP tracks it under .../locations/{loc}/operations/{id}."""

    id: str
    token: str  # the opaque `p` query parameter of its URLs
    subscription: str
    location: str
    kind: str  # create | update | delete | assess | install
    target: str  # the VM's resource id
    api_version: str
    start: dt.datetime  # simulated
    duration: float  # simulated seconds
    due: float  # wall-clock (monotonic) completion time
    complete: Callable[[Operation], None]
    failure: tuple[str, str] | None = None  # (code, message) when it is to end Failed
    status: str = IN_PROGRESS
    output: dict[str, Any] | None = None  # the result body (assess/install)
    error: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.duration)

    @property
    def done(self) -> bool:
        return self.status != IN_PROGRESS

    def status_body(self) -> dict[str, Any]:
        """The Azure-AsyncOperation poll body (real key order: startTime, endTime, status, ..., name)."""
        body: dict[str, Any] = {"startTime": ts(self.start)}
        if self.done:
            body["endTime"] = ts(self.end)
        body["status"] = self.status
        if self.status == SUCCEEDED and self.output is not None:
            body["properties"] = {"output": self.output}
        if self.status == FAILED and self.error is not None:
            body["error"] = self.error
        body["name"] = self.id
        return body

    def urls(self, base: str) -> tuple[str, str]:
        """(Azure-AsyncOperation, Location) for a client that reached the sandbox at `base`."""
        path = (
            f"{base}/subscriptions/{self.subscription}/providers/Microsoft.Compute/locations/{self.location}"
            f"/operations/{self.id}"
        )
        version = quote(self.api_version, safe="-")
        return (
            f"{path}?p={self.token}&api-version={version}",
            f"{path}?p={self.token}&monitor=true&api-version={version}",
        )


class Operations:
    """All operations of a sandbox; completions happen lazily, in due order, whenever state is read."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self._by_id: dict[str, Operation] = {}
        self._pending: list[tuple[float, int, str]] = []
        self._counter = 0

    def start(self, op: Operation) -> Operation:
        self._by_id[op.id.lower()] = op
        self._counter += 1
        heapq.heappush(self._pending, (op.due, self._counter, op.id.lower()))
        self._prune()
        return op

    def get(self, op_id: str) -> Operation | None:
        return self._by_id.get(op_id.lower())

    def settle(self) -> None:
        """Complete every operation whose time has come (callers hold the backend lock)."""
        now = self.clock.wall()
        while self._pending and self._pending[0][0] <= now:
            _, _, key = heapq.heappop(self._pending)
            op = self._by_id.get(key)
            if op is not None and not op.done:
                op.complete(op)

    def running(self, target: str, kinds: tuple[str, ...]) -> Operation | None:
        for _, _, key in self._pending:
            op = self._by_id.get(key)
            if op is not None and not op.done and op.kind in kinds and op.target.lower() == target.lower():
                return op
        return None

    def _prune(self, keep: int = 20000) -> None:
        # Old finished operations go first; clients poll an operation for minutes, not hours.
        if len(self._by_id) <= keep:
            return
        finished = [key for key, op in self._by_id.items() if op.done]
        for key in finished[: len(self._by_id) - keep]:
            del self._by_id[key]

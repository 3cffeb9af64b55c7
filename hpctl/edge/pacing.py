"""Slow writes down as Compute's remaining-request budgets run low, rather than hitting 429s."""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import HTTPPolicy

log = logging.getLogger(__name__)

_WRITE_METHODS = {"PUT", "POST", "PATCH", "DELETE"}
_VM_PATH = re.compile(r"(/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.compute/"
                      r"virtualmachines/[^/?]+)", re.IGNORECASE)


def parse_remaining(header: str | None) -> dict[str, int]:
    """`Microsoft.Compute/PutVM3Min;239,Microsoft.Compute/PutVM30Min;1199` → {"PutVM3Min": 239, ...}."""
    budgets: dict[str, int] = {}
    for part in (header or "").split(","):
        name, _, count = part.strip().rpartition(";")
        if name and count.strip().lstrip("-").isdigit():
            budgets[name.rsplit("/", 1)[-1]] = int(count)
    return budgets


class PacingPolicy(HTTPPolicy):  # type: ignore[misc]
    """Remembers the budgets Compute reports and waits before a write whose budget is (nearly) spent.

    Budgets named `...Resource` are per VM (e.g. VMGuestPatchOperationResource: about 5 patch operations
    per VM); the others are per subscription. azure-core's RetryPolicy still handles any 429 that gets
    through, honouring Retry-After; this only avoids provoking them in fleet-wide runs.
    """

    def __init__(self, low_water: int = 1, delay: float = 2.0, max_delay: float = 30.0) -> None:
        super().__init__()
        self.low_water = low_water
        self.delay = delay
        self.max_delay = max_delay
        self._lock = threading.Lock()
        self._remaining: dict[tuple[str, str], int] = {}
        self.waited = 0.0

    def _scope(self, url: str, policy: str) -> str:
        if policy.endswith("Resource"):
            match = _VM_PATH.search(url)
            return match.group(1).lower() if match else ""
        return ""

    def _pause_for(self, request: PipelineRequest) -> float:
        http = request.http_request
        if http.method not in _WRITE_METHODS:
            return 0.0
        vm = _VM_PATH.search(http.url)
        vm_scope = vm.group(1).lower() if vm else None
        with self._lock:
            low = [
                (policy, count)
                for (policy, scope), count in self._remaining.items()
                if count <= self.low_water and (scope == "" or scope == vm_scope)
            ]
        if not low:
            return 0.0
        worst = min(count for _, count in low)
        return min(self.max_delay, self.delay * (self.low_water - worst + 1))

    def send(self, request: PipelineRequest) -> PipelineResponse:
        pause = self._pause_for(request)
        if pause:
            log.info("Compute budget low; pacing writes for %.1f s", pause)
            self.waited += pause
            time.sleep(pause)
        response = self.next.send(request)
        budgets = parse_remaining(response.http_response.headers.get("x-ms-ratelimit-remaining-resource"))
        if budgets:
            url = request.http_request.url
            with self._lock:
                for policy, count in budgets.items():
                    self._remaining[(policy, self._scope(url, policy))] = count
        return response

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {f"{p}@{s or 'subscription'}": c for (p, s), c in self._remaining.items()}

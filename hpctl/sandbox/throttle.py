"""Request budgets: Compute's named policies and ARM's subscription token buckets; 429s when spent."""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hpctl.sandbox.armerrors import THROTTLED_MESSAGE, ArmError

# Compute policies: name -> (requests allowed, window in seconds). Counts are what real responses show
# right after a first call (azure-wire.md §5.2, §8, and the recordings); windows are real seconds (the
# 3Min/30Min names say it; for the ...Resource / ...SubscriptionMaximum pairs the window is not published).
COMPUTE_BUDGETS: dict[str, tuple[int, float]] = {
    "PutVM3Min": (240, 180.0),
    "PutVM30Min": (1200, 1800.0),
    "DeleteVM3Min": (240, 180.0),
    "DeleteVM30Min": (1200, 1800.0),
    "LowCostGetSubscriptionMaximum": (24000, 1800.0),
    "LowCostGetResource": (35, 60.0),
    "HighCostGet3Min": (140, 180.0),
    "HighCostGet30Min": (700, 1800.0),
    "GetOperationResource": (45, 60.0),
    "GetOperationSubscriptionMaximum": (15000, 1800.0),
    # The real 202 of the first installPatches on a VM says ...Resource;5, so the bucket holds 6.
    "VMGuestPatchOperationSubscriptionMaximum": (600, 1800.0),
    "VMGuestPatchOperationResource": (6, 180.0),
    "ListVMImagesVersionsFromLocation3Min": (16000, 180.0),
    "ListVMImagesVersionsFromLocation30Min": (44000, 1800.0),
    "GetVMImageFromLocation3Min": (13000, 180.0),
    "GetVMImageFromLocation30Min": (74000, 1800.0),
}

# Which Compute operation takes which policies, in the order real responses list them.
OPERATION_POLICIES: dict[str, tuple[str, ...]] = {
    "PutVM": ("PutVM3Min", "PutVM30Min"),
    "DeleteVM": ("DeleteVM3Min", "DeleteVM30Min"),
    "LowCostGet": ("LowCostGetSubscriptionMaximum", "LowCostGetResource"),
    "HighCostGet": ("HighCostGet3Min", "HighCostGet30Min"),
    "GetOperation": ("GetOperationResource", "GetOperationSubscriptionMaximum"),
    "VMGuestPatchOperation": ("VMGuestPatchOperationSubscriptionMaximum", "VMGuestPatchOperationResource"),
    "ListImageVersions": ("ListVMImagesVersionsFromLocation3Min", "ListVMImagesVersionsFromLocation30Min"),
    "GetImage": ("GetVMImageFromLocation3Min", "GetVMImageFromLocation30Min"),
}

# ARM's regional per-subscription token buckets (capacity, refill per second); global = 15x.
ARM_BUDGETS: dict[str, tuple[int, float]] = {
    "subscription-reads": (250, 25.0),
    "subscription-writes": (200, 10.0),
    "subscription-deletes": (200, 10.0),
    "subscription-global-reads": (3750, 375.0),
    "subscription-global-writes": (3000, 150.0),
    "subscription-global-deletes": (3000, 150.0),
}
# Azure Resource Graph's per-user query quota: (queries, window seconds). The documented default is 15 queries
# per 5-second window (guidance-for-throttled-requests); hpctl.sandbox.resourcegraph enforces it.
GRAPH_BUDGETS: dict[str, tuple[int, float]] = {"ResourceGraphUserQuota": (15, 5.0)}
# A Resource Graph query is a POST that reads (Microsoft.ResourceGraph/resources/read): ARM counts it as a read.
GRAPH_OPERATION = "ResourceGraphQuery"
_ARM_KIND = {
    "GET": "reads",
    "HEAD": "reads",
    "PUT": "writes",
    "PATCH": "writes",
    "POST": "writes",
    "DELETE": "deletes",
}
_ARM_TYPE = {"reads": "Read", "writes": "Write", "deletes": "Delete"}


class _Bucket:
    """A token bucket that refills continuously: `capacity` requests per `window` seconds."""

    def __init__(self, capacity: int, refill_per_second: float, now: float) -> None:
        self.capacity = capacity
        self.rate = refill_per_second
        self.tokens = float(capacity)
        self.stamp = now
        self.rejected = 0

    def refill(self, now: float) -> None:
        self.tokens = min(float(self.capacity), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self) -> float:
        """Seconds until one token is available (after a refill)."""
        if self.tokens >= 1:
            return 0.0
        if self.rate <= 0:
            return 3600.0
        return (1 - self.tokens) / self.rate


@dataclass
class Charge:
    """What charging a request cost: header values, or the policy that refused it."""

    header: str | None
    arm_headers: dict[str, str]
    refused: ArmError | None = None


class Throttle:
    """All budgets of one sandbox subscription; thread-safe."""

    def __init__(
        self, overrides: Mapping[str, int] | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._compute = dict(COMPUTE_BUDGETS)
        self._arm = dict(ARM_BUDGETS)
        self.graph = dict(GRAPH_BUDGETS)
        for name, value in (overrides or {}).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"budget {name!r} must be a whole number of requests >= 0 (got {value!r})")
            if name in self._compute:
                self._compute[name] = (value, self._compute[name][1])
            elif name in self._arm:
                capacity, rate = self._arm[name]
                self._arm[name] = (value, rate * value / capacity if capacity else 0.0)
            elif name in self.graph:
                self.graph[name] = (value, self.graph[name][1])
            else:
                known = ", ".join(sorted([*self._compute, *self._arm, *self.graph]))
                raise ValueError(f"unknown budget {name!r}; known budgets: {known}")
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def _bucket(self, name: str, scope: str, now: float) -> _Bucket:
        key = (name, scope)
        bucket = self._buckets.get(key)
        if bucket is None:
            if name in self._compute:
                capacity, window = self._compute[name]
                bucket = _Bucket(capacity, capacity / window, now)
            else:
                capacity, rate = self._arm[name]
                bucket = _Bucket(capacity, rate, now)
            self._buckets[key] = bucket
        bucket.refill(now)
        return bucket

    def charge(self, method: str, operation: str | None, resource: str | None) -> Charge:
        """Take one request from ARM's bucket for `method` and from the Compute policies of `operation`."""
        now = self._clock()
        kind = "reads" if operation == GRAPH_OPERATION else _ARM_KIND.get(method.upper(), "reads")
        with self._lock:
            arm = [
                (f"subscription-{kind}", self._bucket(f"subscription-{kind}", "", now)),
                (f"subscription-global-{kind}", self._bucket(f"subscription-global-{kind}", "", now)),
            ]
            for _, bucket in arm:
                if bucket.tokens < 1:
                    bucket.rejected += 1
                    return Charge(None, {}, _arm_refusal(kind, bucket.wait()))
            policies = OPERATION_POLICIES.get(operation or "", ())
            buckets = [
                (name, self._bucket(name, (resource or "").lower() if name.endswith("Resource") else "", now))
                for name in policies
            ]
            for name, bucket in buckets:
                if bucket.tokens < 1:
                    bucket.rejected += 1
                    header = ",".join(
                        f"Microsoft.Compute/{n};{int(b.tokens) if n != name else 0}" for n, b in buckets
                    )
                    refusal = _compute_refusal(name, bucket, self._compute[name][1], header)
                    return Charge(header, {}, refusal)
            for _, bucket in arm + buckets:
                bucket.tokens -= 1
                bucket.rejected = 0
            header = ",".join(f"Microsoft.Compute/{n};{int(b.tokens)}" for n, b in buckets) or None
            arm_headers = {
                f"x-ms-ratelimit-remaining-{name}": str(int(bucket.tokens)) for name, bucket in arm
            }
            return Charge(header, arm_headers)

    def detail(self, policy: str) -> str:
        """The details[].message of a 429 for `policy` (used for injected throttling faults too)."""
        capacity, window = self._compute.get(policy, (0, 180.0))
        return _detail(policy, window, capacity, capacity + 1)


def _detail(policy: str, window: float, allowed: int, measured: int) -> str:
    end = dt.datetime.now(dt.timezone.utc)
    start = end - dt.timedelta(seconds=window)
    return json.dumps(
        {
            "operationGroup": policy,
            "startTime": start.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00",
            "endTime": end.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00",
            "allowedRequestCount": allowed,
            "measuredRequestCount": measured,
        },
        separators=(",", ":"),
    )


def _arm_refusal(kind: str, wait: float) -> ArmError:
    seconds = max(1, math.ceil(wait))
    return ArmError(
        429,
        "TooManyRequests",
        f"The request is being throttled as the limit has been reached for operation type - "
        f"'{_ARM_TYPE[kind]}'. For more information, see - https://aka.ms/armthrottling",
        headers={"Retry-After": str(seconds)},
    )


def _compute_refusal(policy: str, bucket: _Bucket, window: float, header: str) -> ArmError:
    seconds = max(1, math.ceil(bucket.wait()))
    detail = _detail(policy, window, bucket.capacity, bucket.capacity + bucket.rejected)
    return throttled_error(policy, detail, seconds, header)


def throttled_error(policy: str, detail: str, retry_after: int, header: str | None = None) -> ArmError:
    """Compute's 429 body (azure-wire.md §5.2), with Retry-After and the spent policy's header."""
    headers = {"Retry-After": str(retry_after)}
    if header:
        headers["x-ms-ratelimit-remaining-resource"] = header
    return ArmError(
        429,
        "OperationNotAllowed",
        THROTTLED_MESSAGE,
        details=[{"code": "TooManyRequests", "target": policy, "message": detail}],
        innererror={"internalErrorCode": "TooManyRequestsReceived"},
        headers=headers,
    )

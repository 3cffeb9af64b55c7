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

# Compute's published token buckets (azure-wire.md §9.1, from Microsoft's "Compute throttling limits"): per
# policy family, (capacity, refill a minute) per VM ("...Resource") and per subscription ("...SubscriptionMaximum").
# A family with no per-VM bucket counts only per subscription.
COMPUTE_FAMILIES: dict[str, tuple[tuple[int, int] | None, tuple[int, int]]] = {
    "VMGuestPatchOperation": ((6, 2), (600, 200)),  # assessPatches, installPatches
    "GetOperation": ((45, 15), (15000, 5000)),  # async-operation polls
    "LowCostGet": ((36, 12), (24000, 8000)),  # VM GET (with $expand=instanceView), instanceView
    "HighCostGet": (None, (900, 300)),  # VM list, list all
    "UpdateVM": ((12, 4), (1500, 500)),  # PATCH, start, restart, power off, Run Command
    "PutVM": ((12, 4), (1500, 500)),  # create
    "DeleteVM": ((12, 4), (1500, 500)),  # delete, deallocate
}

# Budget name -> (capacity, refill a minute).
COMPUTE_BUDGETS: dict[str, tuple[int, float]] = {}
for _family, (_per_vm, _per_sub) in COMPUTE_FAMILIES.items():
    COMPUTE_BUDGETS[f"{_family}SubscriptionMaximum"] = (_per_sub[0], float(_per_sub[1]))
    if _per_vm is not None:
        COMPUTE_BUDGETS[f"{_family}Resource"] = (_per_vm[0], float(_per_vm[1]))
# Image reads are not in the published table; these keep the older scheme's names and counts (§5.2).
COMPUTE_BUDGETS.update({
    "ListVMImagesVersionsFromLocation3Min": (16000, 16000 / 3),
    "ListVMImagesVersionsFromLocation30Min": (44000, 44000 / 30),
    "GetVMImageFromLocation3Min": (13000, 13000 / 3),
    "GetVMImageFromLocation30Min": (74000, 74000 / 30),
})

# Which Compute operation takes which policies, in the order real responses list them (§9.1).
OPERATION_POLICIES: dict[str, tuple[str, ...]] = {
    "VMGuestPatchOperation": ("VMGuestPatchOperationSubscriptionMaximum", "VMGuestPatchOperationResource"),
    "GetOperation": ("GetOperationResource", "GetOperationSubscriptionMaximum"),
    "LowCostGet": ("LowCostGetSubscriptionMaximum", "LowCostGetResource"),
    "HighCostGet": ("HighCostGetSubscriptionMaximum",),
    "UpdateVM": ("UpdateVMSubscriptionMaximum", "UpdateVMResource"),
    "PutVM": ("PutVMSubscriptionMaximum", "PutVMResource"),
    "DeleteVM": ("DeleteVMSubscriptionMaximum", "DeleteVMResource"),
    "ListImageVersions": ("ListVMImagesVersionsFromLocation3Min", "ListVMImagesVersionsFromLocation30Min"),
    "GetImage": ("GetVMImageFromLocation3Min", "GetVMImageFromLocation30Min"),
}

# Compute counts requests over one-minute windows (the 429 body's startTime..endTime).
WINDOW = 60.0

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
    """All budgets of one sandbox subscription; thread-safe.

    Compute's and ARM's buckets refill on the budget clock: `scale` budget seconds pass per wall second. The
    sandbox runs them at its time scale, like every other wait it simulates, so that budgets and operation
    durations keep Azure's proportions (a minute's refill takes 0.1 s at x600, as a 10-minute assessment
    takes 1 s); Retry-After is then given in wall seconds. Resource Graph's quota (hpctl.sandbox.resourcegraph)
    stays in wall time. Refill is continuous at the published rate a minute, the same count over every
    whole minute as Compute's minute-by-minute refill.
    """

    def __init__(
        self,
        overrides: Mapping[str, int] | None = None,
        clock: Callable[[], float] = time.monotonic,
        scale: float = 1.0,
    ) -> None:
        if scale <= 0:
            raise ValueError(f"budget time scale must be positive (got {scale})")
        self.scale = float(scale)
        self._clock = lambda: clock() * self.scale
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
                capacity, per_minute = self._compute[name]
                bucket = _Bucket(capacity, per_minute / 60.0, now)
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
                    return Charge(None, {}, _arm_refusal(kind, bucket.wait() / self.scale))
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
                    refusal = _compute_refusal(name, bucket, self.scale, header)
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
        capacity, _ = self._compute.get(policy, (0, 0.0))
        return _detail(policy, WINDOW, capacity, capacity + 1)


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


def _compute_refusal(policy: str, bucket: _Bucket, scale: float, header: str) -> ArmError:
    seconds = max(1, math.ceil(bucket.wait() / scale))
    detail = _detail(policy, WINDOW, bucket.capacity, bucket.capacity + bucket.rejected)
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

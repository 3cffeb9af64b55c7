"""The admission gate: Azure's published request budgets as token buckets, seeded by the remaining counts
each response carries, shared by every worker, so that requests wait for refill instead of meeting a 429."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """One throttling policy: (capacity, refill a minute) per VM and per subscription.

    Compute names its buckets `<family>Resource` and `<family>SubscriptionMaximum` in
    `x-ms-ratelimit-remaining-resource`; ARM's own buckets (`arm=True`) report in
    `x-ms-ratelimit-remaining-subscription-<family>` and count per subscription only.
    """

    family: str
    per_vm: tuple[int, float] | None
    per_subscription: tuple[int, float]
    arm: bool = False

    def names(self) -> list[tuple[str, bool]]:
        """(bucket name, counted per VM) pairs."""
        if self.arm:
            return [(f"subscription-{self.family}", False)]
        out = [(f"{self.family}SubscriptionMaximum", False)]
        if self.per_vm is not None:
            out.append((f"{self.family}Resource", True))
        return out

    def limits(self, per_vm: bool) -> tuple[int, float]:
        return (self.per_vm if per_vm and self.per_vm else self.per_subscription)


# Compute's published limits (azure-wire.md §9.1: "Compute throttling limits").
GUEST_PATCH = Budget("VMGuestPatchOperation", (6, 2), (600, 200))  # assessPatches, installPatches
GET_OPERATION = Budget("GetOperation", (45, 15), (15000, 5000))  # async-operation polls
LOW_COST_GET = Budget("LowCostGet", (36, 12), (24000, 8000))  # VM GET, instance view, Run Command GET
HIGH_COST_GET = Budget("HighCostGet", None, (900, 300))  # VM lists
UPDATE_VM = Budget("UpdateVM", (12, 4), (1500, 500))  # PATCH, start, restart, power off, Run Command
# ARM's per-subscription buckets, checked before any provider's (azure-wire.md §5.2): 200 writes refilled 10 a
# second, 250 reads refilled 25 a second.
ARM_WRITES = Budget("writes", None, (200, 600), arm=True)
ARM_READS = Budget("reads", None, (250, 1500), arm=True)


def parse_remaining(headers: Mapping[str, str]) -> dict[str, int]:
    """Remaining counts a response reports, by bucket name: Compute's comma-joined
    `Microsoft.Compute/VMGuestPatchOperationResource;5,...` and ARM's `x-ms-ratelimit-remaining-subscription-*`."""
    out: dict[str, int] = {}
    for part in (headers.get("x-ms-ratelimit-remaining-resource") or "").split(","):
        name, _, count = part.strip().rpartition(";")
        if name and count.strip().lstrip("-").isdigit():
            out[name.rsplit("/", 1)[-1]] = int(count)
    for kind in ("reads", "writes", "deletes"):
        value = headers.get(f"x-ms-ratelimit-remaining-subscription-{kind}")
        if value is not None and value.strip().isdigit():
            out[f"subscription-{kind}"] = int(value)
    return out


class _Bucket:
    def __init__(self, capacity: int, per_second: float, now: float) -> None:
        self.capacity = float(capacity)
        self.rate = per_second
        self.tokens = float(capacity)
        self.stamp = now
        self.blocked_until = 0.0
        self.observed = False  # a response has told us this bucket's count
        self.probing = False  # one request is out to learn it
        self.granted = False  # a 429's Retry-After promised a token at blocked_until

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.granted and now >= self.blocked_until:
            self.tokens = max(self.tokens, 1.0)
            self.granted = False

    def wait(self, now: float, per_vm: bool) -> float:
        if self.blocked_until > now:
            return self.blocked_until - now
        if not per_vm and not self.observed and self.probing:
            # Another run may have spent this subscription's budget: learn its count from one response first.
            return 0.05
        if self.tokens >= 1:
            return 0.0
        return (1 - self.tokens) / self.rate if self.rate > 0 else 60.0


class Gate:
    """Token buckets per (policy, scope), shared by every worker of a run. Thread-safe.

    `scale` is how many times faster than published the budgets refill (1 on Azure; the sandbox compresses
    time and says so through the client factory).
    """

    def __init__(self, scale: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.scale = scale
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self.throttled_count = 0  # 429s received
        self.waited = 0.0

    def _bucket(self, budget: Budget, name: str, per_vm: bool, vm: str, now: float) -> _Bucket:
        key = (name, vm.lower() if per_vm else "")
        bucket = self._buckets.get(key)
        if bucket is None:
            capacity, per_minute = budget.limits(per_vm)
            bucket = self._buckets[key] = _Bucket(capacity, per_minute / 60.0 * self.scale, now)
        bucket.refill(now)
        return bucket

    def _all(self, budgets: Iterable[Budget], vm: str, now: float) -> list[tuple[str, bool, _Bucket]]:
        return [(name, per_vm, self._bucket(b, name, per_vm, vm, now)) for b in budgets for name, per_vm in b.names()]

    def try_take(self, budgets: Iterable[Budget], vm: str) -> float:
        """Take one token from every bucket the request draws on (0.0), or say how long to wait first."""
        with self._lock:
            now = self._clock()
            buckets = self._all(budgets, vm, now)
            wait = max((b.wait(now, per_vm) for _, per_vm, b in buckets), default=0.0)
            if wait > 0:
                return wait
            for _, per_vm, bucket in buckets:
                bucket.tokens -= 1
                if not per_vm and not bucket.observed:
                    bucket.probing = True
            return 0.0

    def observe(self, budgets: Iterable[Budget], vm: str, headers: Mapping[str, str]) -> None:
        """A response came back: believe Azure's remaining counts where they are lower than ours."""
        remaining = parse_remaining(headers)
        with self._lock:
            now = self._clock()
            for name, _, bucket in self._all(budgets, vm, now):
                if name in remaining:
                    bucket.tokens = min(bucket.tokens, float(remaining[name]))
                bucket.observed = True
                bucket.probing = False

    def refund(self, budgets: Iterable[Budget], vm: str) -> None:
        """The request never reached Azure (no connection): give its tokens back."""
        with self._lock:
            now = self._clock()
            for _, _, bucket in self._all(budgets, vm, now):
                bucket.tokens = min(bucket.capacity, bucket.tokens + 1)
                bucket.probing = False

    def throttled(self, budgets: Iterable[Budget], vm: str, policy: str | None, retry_after: float | None,
                  headers: Mapping[str, str]) -> None:
        """A 429: the named bucket (or, unnamed, every subscription bucket) is empty until Retry-After."""
        remaining = parse_remaining(headers)
        with self._lock:
            self.throttled_count += 1
            now = self._clock()
            for name, per_vm, bucket in self._all(budgets, vm, now):
                bucket.tokens += 1  # the refused request took nothing
                if name in remaining:
                    bucket.tokens = min(bucket.tokens, float(remaining[name]))
                hit = name == policy or (policy is None and not per_vm) or remaining.get(name) == 0
                bucket.probing = False
                if hit:
                    bucket.tokens = min(bucket.tokens, 0.0)
                    pause = retry_after if retry_after is not None else 1.0 / max(bucket.rate, 1e-9)
                    bucket.blocked_until = max(bucket.blocked_until, now + pause)
                    bucket.granted = retry_after is not None
                    # Our count was wrong (another client spends this budget, or it is smaller than published):
                    # after the pause one request learns the count before the rest go, not a burst into 429s.
                    bucket.observed = False
                else:
                    bucket.observed = True

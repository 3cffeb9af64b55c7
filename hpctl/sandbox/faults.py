"""Faults: seeded random failures at configured rates, and deterministic one-shot faults for tests."""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass

# Keys a fault spec may use besides HTTP error statuses.
DROP = "drop"
FAIL = "fail"


def parse_fault_spec(spec: str) -> dict[str, float]:
    """`"429=0.05,500=0.02,drop=0.01,fail=0.05"` → {"429": 0.05, ...}; ValueError on anything else."""
    rates: dict[str, float] = {}
    for raw in spec.split(","):
        part = raw.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep:
            raise ValueError(f"fault {part!r} has no rate; write it as KIND=RATE, e.g. 503=0.01")
        if key not in (DROP, FAIL) and not (key.isdigit() and 400 <= int(key) <= 599):
            raise ValueError(f"fault kind {key!r} is not an HTTP error status (400-599), 'drop' or 'fail'")
        try:
            rate = float(value)
        except ValueError:
            raise ValueError(f"fault rate {value.strip()!r} for {key} is not a number") from None
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate for {key} must be between 0 and 1 (got {rate})")
        if key in rates:
            raise ValueError(f"fault kind {key} is given twice")
        rates[key] = rate
    request_total = sum(rate for key, rate in rates.items() if key != FAIL)
    if request_total > 1.0:
        raise ValueError(f"fault rates add up to {request_total:.2f} per request; they must not exceed 1")
    return rates


@dataclass
class Fault:
    """What to answer instead of the real response."""

    status: int | str  # an HTTP status, or "drop" to close the connection without an answer
    retry_after: int | None = None
    code: str | None = None
    message: str | None = None


@dataclass
class _Injected:
    method: str | None
    pattern: re.Pattern[str]
    fault: Fault
    remaining: int


@dataclass
class _FailNext:
    pattern: re.Pattern[str]
    code: str | None
    message: str | None


class Faults:
    """Random faults from a spec, plus queued deterministic ones (checked first)."""

    def __init__(self, spec: str, seed: int) -> None:
        self.rates = parse_fault_spec(spec)
        self._random = random.Random(f"hpctl-sandbox-faults:{seed}")
        self._lock = threading.Lock()
        self._injected: list[_Injected] = []
        self._fail_next: list[_FailNext] = []
        self._fail_patches: list[re.Pattern[str]] = []

    def inject(
        self,
        method: str | None,
        path_regex: str,
        status: int | str,
        times: int = 1,
        retry_after: int | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        if isinstance(status, str):
            if status.lower() != DROP:
                raise ValueError(f"status must be an HTTP status or 'drop' (got {status!r})")
            status = DROP
        elif not 400 <= int(status) <= 599:
            raise ValueError(f"status must be an error status, 400-599 (got {status})")
        if times < 1:
            raise ValueError(f"times must be at least 1 (got {times})")
        if status == 429 and retry_after is None:
            retry_after = 1
        pattern = re.compile(path_regex, re.IGNORECASE)
        with self._lock:
            self._injected.append(
                _Injected(
                    method.upper() if method else None,
                    pattern,
                    Fault(status, retry_after, code, message),
                    times,
                )
            )

    def fail_next_operation(
        self, path_regex: str, code: str | None = None, message: str | None = None
    ) -> None:
        pattern = re.compile(path_regex, re.IGNORECASE)
        with self._lock:
            self._fail_next.append(_FailNext(pattern, code, message))

    def pick(self, method: str, path: str) -> Fault | None:
        """The fault for this request, if any: an injected one first, else a random one."""
        with self._lock:
            for item in self._injected:
                if (item.method is None or item.method == method.upper()) and item.pattern.search(path):
                    item.remaining -= 1
                    if item.remaining <= 0:
                        self._injected.remove(item)
                    return item.fault
            if not any(key != FAIL for key in self.rates):
                return None
            roll = self._random.random()
            for key, rate in self.rates.items():
                if key == FAIL:
                    continue
                if roll < rate:
                    if key == DROP:
                        return Fault(DROP)
                    return Fault(int(key), retry_after=1 if key in ("429", "503") else None)
                roll -= rate
        return None

    def fail_next_patches(self, path_regex: str) -> None:
        with self._lock:
            self._fail_patches.append(re.compile(path_regex, re.IGNORECASE))

    def patches_fail(self, path: str) -> bool:
        """Whether the installation this request starts should fail every patch it tries (the operation itself
        succeeds; its result says Failed)."""
        with self._lock:
            for pattern in self._fail_patches:
                if pattern.search(path):
                    self._fail_patches.remove(pattern)
                    return True
        return False

    def operation_failure(self, path: str) -> tuple[str | None, str | None] | None:
        """Whether the long-running operation this request starts should end Failed (code, message)."""
        with self._lock:
            for item in self._fail_next:
                if item.pattern.search(path):
                    self._fail_next.remove(item)
                    return item.code, item.message
            rate = self.rates.get(FAIL, 0.0)
            if rate and self._random.random() < rate:
                return None, None
        return None

"""QuotaClock: Resource Graph's per-user window timed on hpctl's own clock, from the x-ms-user-quota-* headers."""

from __future__ import annotations

import pytest

from hpctl.edge import resourcegraph
from hpctl.edge.resourcegraph import QuotaClock, quota_state


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(resourcegraph, "pause", waits.append)
    return waits


def test_the_wait_ends_at_the_tightest_bound_not_a_rounded_second_after_the_last_answer(slept):
    clock = Clock(100.2)
    quota = QuotaClock(clock=clock)
    quota.observe(100.2, 14, 5.0)  # the window's first answer: it ends by 105.2
    quota.observe(102.1, 1, 3.0)  # 2.95 s were left, said as "00:00:03": it ends by 105.1
    quota.wait()
    assert slept == []  # a query is left: no wait
    quota.observe(103.0, 0, 3.0)  # the window's last query; 106.0 is a looser bound
    clock.now = 103.5  # what the caller did with the page counts towards the wait
    quota.wait()
    assert slept == [pytest.approx(1.6)]  # until 105.1; sleeping the header's 3 s would end at 106.0
    quota.observe(105.2, 14, 5.0)  # a new window
    assert quota.ends_at == pytest.approx(110.2) and not quota.spent


def test_no_wait_when_the_caller_already_spent_the_time(slept):
    clock = Clock(0.0)
    quota = QuotaClock(clock=clock)
    quota.observe(0.0, 0, 5.0)
    clock.now = 5.5
    quota.wait()
    assert slept == []


def test_a_429_waits_what_it_says_and_at_least_a_moment(slept):
    clock = Clock(10.0)
    quota = QuotaClock(clock=clock)
    quota.throttled(10.0, 2.0)
    quota.wait()
    assert slept == [pytest.approx(2.0)]
    quota.throttled(20.0, 0.0)  # "00:00:00" (rounded down by someone): still not at once
    clock.now = 20.0
    quota.wait()
    assert slept[-1] == pytest.approx(resourcegraph.MIN_THROTTLED_WAIT)


@pytest.mark.parametrize(("headers", "state"), [
    ({"x-ms-user-quota-remaining": "3", "x-ms-user-quota-resets-after": "00:00:04"}, (3, 4.0)),
    ({"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": "01:02:03"}, (0, 3723.0)),
    ({"x-ms-user-quota-remaining": "0"}, None),
    ({"x-ms-user-quota-remaining": "x", "x-ms-user-quota-resets-after": "00:00:04"}, None),
    ({"x-ms-user-quota-remaining": "1", "x-ms-user-quota-resets-after": "soon"}, None),
    ({}, None),
    (None, None),
])
def test_quota_headers(headers, state):
    assert quota_state(headers) == state

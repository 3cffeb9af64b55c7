"""The admission gate (Azure's budgets as token buckets) and the write-ahead journal, on their own."""

from __future__ import annotations

import json

import pytest

from hpctl.errors import InputError
from hpctl.fleet.budgets import ARM_WRITES, GUEST_PATCH, Gate, parse_remaining
from hpctl.fleet.journal import ACCEPTED, DONE, SENDING, Journal


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_parse_remaining_reads_compute_and_arm_headers():
    headers = {"x-ms-ratelimit-remaining-resource": "Microsoft.Compute/VMGuestPatchOperationSubscriptionMaximum;599,"
                                                    "Microsoft.Compute/VMGuestPatchOperationResource;5",
               "x-ms-ratelimit-remaining-subscription-writes": "199"}
    assert parse_remaining(headers) == {"VMGuestPatchOperationSubscriptionMaximum": 599,
                                        "VMGuestPatchOperationResource": 5, "subscription-writes": 199}


def test_the_gate_waits_for_refill_instead_of_sending_into_a_429():
    clock = Clock()
    gate = Gate(clock=clock)
    assert gate.try_take((GUEST_PATCH,), "vm1") == 0.0  # the probe that learns the subscription's count
    assert gate.try_take((GUEST_PATCH,), "vm2") > 0  # nothing more until it answers
    gate.observe((GUEST_PATCH,), "vm1", {"x-ms-ratelimit-remaining-resource":
                                         "Microsoft.Compute/VMGuestPatchOperationSubscriptionMaximum;2"})
    assert gate.try_take((GUEST_PATCH,), "vm2") == 0.0
    assert gate.try_take((GUEST_PATCH,), "vm3") == 0.0
    wait = gate.try_take((GUEST_PATCH,), "vm4")
    assert wait == pytest.approx(60 / 200)  # 200 a minute: the next token in 0.3 s
    clock.now += wait
    assert gate.try_take((GUEST_PATCH,), "vm4") == 0.0


def test_six_operations_per_vm_then_two_a_minute():
    clock = Clock()
    gate = Gate(clock=clock)
    gate.observe((GUEST_PATCH,), "vm1", {})
    assert [gate.try_take((GUEST_PATCH,), "vm1") for _ in range(6)] == [0.0] * 6
    assert gate.try_take((GUEST_PATCH,), "vm1") == pytest.approx(30.0)
    assert gate.try_take((GUEST_PATCH,), "vm2") == 0.0  # another VM has its own bucket


def test_a_429_blocks_its_bucket_until_retry_after_then_grants_a_token():
    clock = Clock()
    gate = Gate(clock=clock)
    gate.observe((GUEST_PATCH, ARM_WRITES), "vm1", {})
    assert gate.try_take((GUEST_PATCH, ARM_WRITES), "vm1") == 0.0
    gate.throttled((GUEST_PATCH, ARM_WRITES), "vm1", "VMGuestPatchOperationSubscriptionMaximum", 7.0, {})
    assert gate.throttled_count == 1
    assert gate.try_take((GUEST_PATCH,), "vm2") == pytest.approx(7.0)
    clock.now = 7.0
    assert gate.try_take((GUEST_PATCH,), "vm2") == 0.0


def test_after_a_429_one_request_learns_the_count_before_the_rest_go():
    """A 429 says our count was wrong (another client spends the budget, or it is smaller than published): when
    Retry-After is over, the refill hpctl believes in would let a burst go into more 429s."""
    clock = Clock()
    gate = Gate(scale=60.0, clock=clock)
    gate.observe((GUEST_PATCH,), "vm0", {})
    gate.throttled((GUEST_PATCH,), "vm1", "VMGuestPatchOperationSubscriptionMaximum", 1.0, {})
    clock.now = 5.0  # 5 s at x60: hpctl's model has refilled far more than one token
    assert gate.try_take((GUEST_PATCH,), "vm1") == 0.0  # the probe
    assert gate.try_take((GUEST_PATCH,), "vm2") > 0  # the rest wait for its answer
    gate.observe((GUEST_PATCH,), "vm1", {"x-ms-ratelimit-remaining-resource":
                                         "Microsoft.Compute/VMGuestPatchOperationSubscriptionMaximum;1"})
    assert gate.try_take((GUEST_PATCH,), "vm2") == 0.0
    assert gate.try_take((GUEST_PATCH,), "vm3") > 0  # the count Azure gave, not the model's


def test_the_sandbox_time_scale_speeds_refill():
    clock = Clock()
    gate = Gate(scale=600.0, clock=clock)
    gate.observe((GUEST_PATCH,), "vm1", {"x-ms-ratelimit-remaining-resource":
                                         "Microsoft.Compute/VMGuestPatchOperationSubscriptionMaximum;0"})
    assert gate.try_take((GUEST_PATCH,), "vm1") == pytest.approx(60 / 200 / 600)


def test_journal_events_are_durable_and_a_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / "run.journal"
    journal = Journal.open(path, "install", "k1", {"body": {}}, resume=False)
    journal.record("vm-a", SENDING, before=None)
    journal.record("vm-a", ACCEPTED, token="t-a")
    journal.record("vm-b", SENDING, before=None)
    journal.close()
    with path.open("a") as handle:
        handle.write('{"id": "vm-b", "event": "acc')  # a crash in the middle of a write
    again = Journal.open(path, "install", "k1", {"body": {}}, resume=True)
    try:
        assert again.entries["vm-a"]["state"] == ACCEPTED and again.entries["vm-a"]["token"] == "t-a"
        assert again.entries["vm-b"]["state"] == SENDING
        assert sorted(again.unfinished()) == ["vm-a", "vm-b"]
    finally:
        again.close()


def test_a_fresh_run_refuses_a_journal_with_open_operations(tmp_path):
    path = tmp_path / "run.journal"
    journal = Journal.open(path, "install", "k1", {}, resume=False)
    journal.record("vm-a", ACCEPTED, token="t")
    journal.close()
    with pytest.raises(InputError, match="--resume"):
        Journal.open(path, "install", "k1", {}, resume=False)
    done = Journal.open(path, "install", "k1", {}, resume=True)
    done.record("vm-a", DONE, outcome="Succeeded")
    done.close()
    fresh = Journal.open(path, "install", "k1", {}, resume=False)  # nothing open: a new run may start
    fresh.close()
    assert json.loads(path.read_text().splitlines()[0])["key"] == "k1" and len(path.read_text().splitlines()) == 1


def test_resume_of_another_runs_journal_is_refused(tmp_path):
    path = tmp_path / "run.journal"
    Journal.open(path, "install", "k1", {}, resume=False).close()
    with pytest.raises(InputError, match="another run"):
        Journal.open(path, "install", "k2", {}, resume=True)


def test_outcomes_queued_without_waiting_reach_the_disk_by_close(tmp_path):
    path = tmp_path / "run.journal"
    journal = Journal.open(path, "install", "k1", {}, resume=False)
    journal.record_many([("vm-a", SENDING, {"before": None}), ("vm-b", SENDING, {"before": None})])
    assert len(path.read_text().splitlines()) == 3  # on disk before anything is sent
    journal.record("vm-a", DONE, durable=False, outcome="Succeeded")
    assert len(path.read_text().splitlines()) == 3  # queued, not waited for
    journal.close()
    events = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    assert events[-1] == {"id": "vm-a", "event": DONE, "outcome": "Succeeded"}

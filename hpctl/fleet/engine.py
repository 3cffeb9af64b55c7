"""The engine: sends operations as the admission gate allows, polls every accepted one from one shared
schedule, journals each step before acting on it, and stops cleanly on an interrupt."""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from hpctl.edge.stepped import Step, send_failure
from hpctl.errors import AzureOperationError
from hpctl.fleet.budgets import ARM_READS, ARM_WRITES, Budget, Gate
from hpctl.fleet.interrupts import Interrupt
from hpctl.fleet.journal import ACCEPTED, DONE, NOT_ACCEPTED, SENDING, Journal
from hpctl.fleet.kinds import (
    ACCEPTED as OUT_ACCEPTED,
)
from hpctl.fleet.kinds import (
    ALREADY_DONE,
    FAILED,
    NOT_STARTED,
    UNKNOWN,
    FleetTarget,
    Handle,
    OperationKind,
    Outcome,
)
from hpctl.patching import as_error

log = logging.getLogger(__name__)

# HTTP calls run on a few worker threads (never one per operation); the connection pool matches.
MAX_WORKERS = 16
# After an interrupt, accepted operations are polled this long before hpctl lists them as still running.
GRACE_SECONDS = 5.0
# Attempts at a send that got no answer (no connection, or a resend-safe operation's lost answer).
MAX_SEND_ATTEMPTS = 6
# Reading a VM back to learn whether a lost send started: tries before its fate is reported Unknown.
MAX_RECONCILE_READS = 4
# Polls that keep failing go on until the operation's own limit plus this margin.
POLL_MARGIN_SECONDS = 600.0
MIN_POLL_MARGIN = 2.0  # wall seconds, however fast the endpoint's clock runs
# A run read back as still going (no token to poll: the process died between Azure's 202 and the journal) is
# read again this often, until it ends or its time is up.
READ_BACK_SECONDS = 30.0
MIN_READ_BACK = 0.2  # wall seconds
# ... and only after this many failed polls in a row: a poll that fails now and then is no reason to give up.
MIN_FAILED_POLLS = 8
MAX_POLL_BACKOFF = 60.0
# A running operation is polled again after its Retry-After (or the polling interval), or after this fraction of
# its age if that is longer: a late poll costs at most this share of the operation's own time, and a fleet's
# thousand long operations don't spend the read budget asking every few seconds.
POLL_AGE_FRACTION = 0.05
# ... unless few operations are left: then they are asked as often as their Retry-After allows, within this many
# polls a second (on Azure's clock) for the whole run, so the last VMs' ends are seen at once.
POLL_RATE = 5.0


@dataclass
class Progress:
    """Counts for the progress display."""

    total: int
    done: int = 0
    failed: int = 0
    running: int = 0


@dataclass
class _Op:
    target: FleetTarget
    index: int
    kind: OperationKind
    attempts: int = 0
    handle: Handle | None = None
    deadline: float = 0.0
    accepted_at: float = 0.0
    poll_failures: int = 0
    read_failures: int = 0  # reconciling reads that failed
    outcome: Outcome | None = None
    accepted: bool = False  # Azure accepted it (this run, or read back by a reconcile): never sent again


@dataclass
class RunStats:
    """What a run did, for the summary line and the benchmarks."""

    started: int = 0
    finished: int = 0
    not_started: int = 0
    throttled: int = 0
    sends: int = 0
    polls: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _sends(op: _Op) -> tuple[Budget, ...]:
    """The budgets one send of this operation draws on: its kind's, and ARM's write bucket."""
    return (*op.kind.budgets, ARM_WRITES)


def _polls(op: _Op) -> tuple[Budget, ...]:
    """The budgets one poll draws on: its kind's, and ARM's read bucket."""
    return (*op.kind.poll_budgets, ARM_READS)


def _expected_work(op: _Op) -> float:
    """How long the target's operation is likely to take, relatively, if its kind can tell (`expected_work`)."""
    expected = getattr(op.kind, "expected_work", None)
    return float(expected(op.target)) if expected is not None else 0.0


class _SendQueue:
    """Targets waiting to be sent, one lane per operation kind in target order: a kind waiting for its budgets
    (VMs' guest-patch tokens) never holds back another that draws on other budgets (Arc machines)."""

    def __init__(self) -> None:
        self._lanes: dict[int, deque[_Op]] = {}

    def _lane(self, op: _Op) -> deque[_Op]:
        return self._lanes.setdefault(id(op.kind), deque())

    def append(self, op: _Op) -> None:
        self._lane(op).append(op)

    def appendleft(self, op: _Op) -> None:
        self._lane(op).appendleft(op)

    def lanes(self) -> list[deque[_Op]]:
        return [lane for lane in self._lanes.values() if lane]

    def drain(self) -> list[_Op]:
        """Everything still waiting, emptied out."""
        out = [op for lane in self._lanes.values() for op in lane]
        self._lanes.clear()
        return out

    def __bool__(self) -> bool:
        return any(self._lanes.values())


class Engine:
    """Runs an operation kind (or, given `kinds`, one per target) over many targets. `time_scale` is how much
    faster than Azure the endpoint's clock runs (1 on Azure; the sandbox says so through the client factory):
    budgets and deadlines follow it."""

    def __init__(self, kind: OperationKind, *, gate: Gate, interrupt: Interrupt, max_parallel: int,
                 journal: Journal | None = None, wait: bool = True, time_scale: float = 1.0,
                 on_progress: Callable[[Progress], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kind = kind
        self.gate = gate
        self.interrupt = interrupt
        self.max_parallel = max(1, max_parallel)
        self.journal = journal
        self.wait = wait
        self.time_scale = time_scale
        self.on_progress = on_progress
        self.clock = clock
        self.stats = RunStats()
        self._events: queue.Queue[tuple[str, _Op, Any]] = queue.Queue()
        self._reconciles: list[_Op] = []  # sends whose fate must be read back from Azure (on a worker)
        self._seq = itertools.count()

    # -- the run -------------------------------------------------------------------------------------

    def run(self, targets: list[FleetTarget], kinds: list[OperationKind] | None = None) -> list[Outcome]:
        """Every target's outcome, in target order. `kinds` gives each target its own operation kind (VMs and Arc
        machines in one run: one schedule, one progress, one journal); else every target is the engine's kind."""
        ops = [_Op(t, i, kinds[i] if kinds else self.kind) for i, t in enumerate(targets)]
        self._progress = Progress(total=len(ops))
        to_send = _SendQueue()
        fresh: list[_Op] = []
        self._polls: list[tuple[float, int, _Op]] = []
        self._read_backs: list[tuple[float, int, _Op]] = []  # accepted runs to read back again, by when
        to_resume: list[_Op] = []
        for op in ops:
            entry = self.journal.entries.get(op.target.id) if self.journal else None
            state = (entry or {}).get("state")
            if state == ACCEPTED and entry and entry.get("token"):
                to_resume.append(op)
            elif state in (SENDING, ACCEPTED):
                op.accepted = state == ACCEPTED
                self._reconciles.append(op)
            elif state == DONE and entry and entry.get("outcome") not in (FAILED, UNKNOWN, None):
                op.outcome = Outcome(ALREADY_DONE, note="already done in an earlier run")
            elif state == DONE and entry and entry.get("accepted") and not op.kind.resend_safe:
                # Accepted in an earlier run and ended Failed (or Unknown): --resume never sends it again. What
                # Azure shows now decides (reconcile): still the failed run, or a newer one the operator ran.
                op.accepted = True
                self._reconciles.append(op)
            else:
                fresh.append(op)
        # The likeliest long operations first (a kind that can tell, e.g. installs by patches pending): when the
        # budget paces the sends, the last tokens then go to targets with little to do. Stable: else target order.
        for op in sorted(fresh, key=_expected_work, reverse=True):
            to_send.append(op)
        self._progress.done = sum(op.outcome is not None for op in ops)
        workers = max(1, min(self.max_parallel, MAX_WORKERS))
        running = 0
        in_flight = 0
        grace_end: float | None = None
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hpctl-fleet") as pool:
            def submit(kind: str, op: _Op, fn: Callable[[], Any]) -> None:
                nonlocal running
                running += 1
                pool.submit(self._call, kind, op, fn)

            for op in to_resume:
                in_flight += 1
                submit("resumed", op, lambda op=op: op.kind.resume(op.target, self._entry(op)["token"]))
            in_flight += len(self._reconciles)
            self._report()
            while True:
                now = self.clock()
                wake = now + 0.5
                if self.interrupt.requested and grace_end is None:
                    grace_end = now + (GRACE_SECONDS if self.wait else 0.0)
                    for op in to_send.drain():
                        op.outcome = Outcome(NOT_STARTED, note="interrupted before it was sent")
                        self.stats.not_started += 1
                while self._read_backs and self._read_backs[0][0] <= now:
                    self._reconciles.append(heapq.heappop(self._read_backs)[2])
                if self._read_backs:
                    wake = min(wake, self._read_backs[0][0])
                while self._reconciles and running < workers:
                    op = self._reconciles.pop(0)
                    submit("reconciled", op, lambda op=op: op.kind.reconcile(op.target, self._entry(op)))
                admitted: list[_Op] = []
                lanes = to_send.lanes()
                while lanes and in_flight < self.max_parallel and running + len(admitted) < workers:
                    # One from each kind's lane in turn; a lane whose budgets are spent drops out of this round.
                    for lane in list(lanes):
                        if not (in_flight < self.max_parallel and running + len(admitted) < workers):
                            break
                        op = lane[0]
                        pause = self.gate.try_take(_sends(op), op.target.id)
                        if pause > 0:
                            wake = min(wake, now + pause)
                            lanes.remove(lane)
                            continue
                        lane.popleft()
                        if not lane:
                            lanes.remove(lane)
                        in_flight += 1
                        op.attempts += 1
                        admitted.append(op)
                if admitted and self.journal is not None:
                    # On disk before any of them is sent (one fsync for the batch).
                    self.journal.record_many([(op.target.id, SENDING, {"attempt": op.attempts,
                                                                        "before": op.kind.before(op.target)})
                                              for op in admitted])
                for op in admitted:
                    submit("sent", op, lambda op=op: op.kind.send(op.target))
                while self._polls and self._polls[0][0] <= now and running < workers:
                    op = self._polls[0][2]
                    pause = self.gate.try_take(_polls(op), op.target.id)
                    if pause > 0:
                        wake = min(wake, now + pause)
                        break
                    heapq.heappop(self._polls)
                    assert op.handle is not None
                    submit("polled", op, op.handle.step)
                if self._polls:
                    wake = min(wake, self._polls[0][0])
                if running == 0 and not to_send and not self._reconciles and (
                        not (self._polls or self._read_backs) or (grace_end is not None and now >= grace_end)):
                    break
                # Every worker busy: only a finished call can change anything, so wait for one (no spinning).
                timeout = 0.5 if running >= workers else max(0.0, min(wake - now, 0.5))
                try:
                    event = self._events.get(timeout=timeout)
                except queue.Empty:
                    continue
                while True:
                    running -= 1
                    in_flight -= self._handle(event, to_send, stopping=grace_end is not None)
                    self._report()
                    try:
                        event = self._events.get_nowait()
                    except queue.Empty:
                        break
        for _, _, op in self._polls + self._read_backs:
            op.outcome = Outcome(OUT_ACCEPTED, note="accepted and still running when hpctl stopped waiting")
        self._report()
        return [op.outcome or Outcome(NOT_STARTED) for op in ops]

    def _entry(self, op: _Op) -> dict[str, Any]:
        return self.journal.entries.get(op.target.id, {}) if self.journal else {}

    def _call(self, kind: str, op: _Op, fn: Callable[[], Any]) -> None:
        try:
            value = fn()
            if kind == "sent" and self.journal is not None:
                # Journalled here, in the worker, the moment Azure's 202 is in hand (before any polling).
                try:
                    self.journal.record(op.target.id, ACCEPTED, token=value.token())
                except OSError as exc:  # accepted all the same: follow it up; the entry stays "sending"
                    log.error("could not journal the acceptance of %s: %s", op.target.name, exc)
            self._events.put((kind, op, value))
        except BaseException as exc:  # noqa: BLE001 - every failure is one target's, handed to the loop
            self._events.put((kind + "-error", op, exc))

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self._progress)

    # -- events --------------------------------------------------------------------------------------

    def _close(self, op: _Op, outcome: Outcome, *, journal: bool) -> int:
        """Give a target its outcome; with `journal`, record it as done (else the journal keeps it open for
        --resume: still running, or unknown). Returns 1: one operation fewer in flight."""
        if op.handle is not None:
            self._progress.running -= 1
        op.outcome = outcome
        if journal:
            if self.journal is not None:
                # Need not wait for the disk: lost, --resume reads the outcome from Azure again.
                self.journal.record(op.target.id, DONE, durable=False, outcome=outcome.status,
                                    accepted=op.accepted)
            self.stats.finished += 1
        self._progress.done += 1
        self._progress.failed += outcome.status == FAILED
        return 1

    def _finish(self, op: _Op, outcome: Outcome) -> int:
        return self._close(op, outcome, journal=True)

    def _finish_open(self, op: _Op, outcome: Outcome) -> int:
        return self._close(op, outcome, journal=False)

    def _poll_later(self, op: _Op, delay: float) -> None:
        heapq.heappush(self._polls, (self.clock() + max(0.0, delay), next(self._seq), op))

    def _accepted(self, op: _Op, handle: Handle, *, fresh: bool) -> int:
        op.handle = handle
        op.accepted = True
        self.gate.observe(_sends(op), op.target.id, handle.accepted_headers())
        if fresh:
            self.stats.started += 1
        self._progress.running += 1
        margin = max(POLL_MARGIN_SECONDS / self.time_scale, MIN_POLL_MARGIN)
        op.accepted_at = self.clock()
        op.deadline = op.accepted_at + op.kind.max_seconds / self.time_scale + margin
        if not self.wait:
            return self._finish_open(op, Outcome(OUT_ACCEPTED, note="accepted; not waited for (--no-wait)"))
        # A fresh operation is first asked after its Retry-After or the polling interval (it can't have ended
        # sooner); one picked up from a token may have ended long ago: ask at once.
        self._poll_later(op, handle.first_delay() if fresh else 0.0)
        return 0

    def _handle(self, event: tuple[str, _Op, Any], to_send: _SendQueue, *, stopping: bool) -> int:
        kind, op, value = event
        if kind in ("sent", "resumed"):
            if kind == "sent":
                self.stats.sends += 1
            return self._accepted(op, value, fresh=kind == "sent")
        if kind == "sent-error":
            self.stats.sends += 1
            return self._send_failed(op, value, to_send, stopping=stopping)
        if kind == "resumed-error":
            # The continuation token no longer leads anywhere: ask Azure what became of the operation.
            self._reconciles.append(op)
            return 0
        if kind == "reconciled":
            return self._reconciled(op, value, to_send, stopping)
        if kind == "reconciled-error":
            op.read_failures += 1
            if op.read_failures < MAX_RECONCILE_READS:
                self._reconciles.append(op)
                return 0
            return self._finish_open(op, Outcome(UNKNOWN, error=as_error(value), note=(
                "its request got no answer and reading the VM back failed too, so it may have started: check with "
                f"`hpctl status -g {op.target.resource_group} -n {op.target.name}` or rerun with --resume")))
        if kind == "polled":
            return self._polled(op, value)
        if kind == "polled-error":
            return self._polled(op, Step(False, transient=value, delay=1.0))
        raise AssertionError(kind)

    def _requeue(self, op: _Op, to_send: _SendQueue, stopping: bool) -> int:
        if stopping:
            op.outcome = Outcome(NOT_STARTED, note="interrupted before it was sent")
            self.stats.not_started += 1
        else:
            to_send.appendleft(op)
        return 1

    def _reconciled(self, op: _Op, found: Outcome | None, to_send: _SendQueue, stopping: bool) -> int:
        """What reading the target back found: not started (send it, unless it kept failing), or its outcome."""
        if found is None and op.accepted:
            # Azure accepted it in an earlier run, and the target shows nothing newer: keep that run's outcome.
            entry = self._entry(op)
            return self._finish(op, Outcome(entry.get("outcome") or UNKNOWN, error=AzureOperationError(
                f"{op.kind.name} on {op.target.name} was accepted in an earlier run and ended "
                f"{entry.get('outcome') or 'Unknown'}; --resume does not send it again",
                hint="Fix the VM (an install of its own if need be), then --resume reads that back."),
                note="ended in an earlier run"))
        if found is None:
            if self.journal is not None:
                self.journal.record(op.target.id, NOT_ACCEPTED, reason="reconciled: not started")
            if op.attempts >= MAX_SEND_ATTEMPTS:
                return self._finish(op, Outcome(FAILED, error=AzureOperationError(
                    f"{op.kind.name} was not accepted after {op.attempts} attempts (the connection kept failing)")))
            return self._requeue(op, to_send, stopping)
        op.accepted = True
        if found.status != OUT_ACCEPTED:
            return self._finish(op, found)
        now = self.clock()
        if not op.deadline:
            op.deadline = now + op.kind.max_seconds / self.time_scale + max(
                POLL_MARGIN_SECONDS / self.time_scale, MIN_POLL_MARGIN)
        if self.wait and not stopping and now < op.deadline:
            # Still running, with no token to follow: read it back again later, as a poll would.
            delay = max(READ_BACK_SECONDS / self.time_scale, MIN_READ_BACK)
            heapq.heappush(self._read_backs, (now + delay, next(self._seq), op))
            return 0
        return self._finish_open(op, found)

    def _send_failed(self, op: _Op, exc: BaseException, to_send: _SendQueue, *, stopping: bool) -> int:
        failure = send_failure(exc)
        vm = op.target.id
        if failure.kind not in ("throttled", "unsent"):
            self.gate.observe(_sends(op), vm, failure.headers)  # an answer (or its loss) ends a probe
        if failure.kind == "throttled":
            # Not accepted: wait for the budget (the gate now knows it is spent) and send again.
            self.gate.throttled(_sends(op), vm, failure.policy, failure.retry_after, failure.headers)
            self.stats.throttled += 1
            op.attempts -= 1
            if self.journal is not None:
                self.journal.record(vm, NOT_ACCEPTED, reason="429")
            return self._requeue(op, to_send, stopping)
        if failure.kind == "unsent" or (failure.kind in ("dropped", "server") and op.kind.resend_safe):
            if failure.kind == "unsent":
                self.gate.refund(_sends(op), vm)
            if self.journal is not None:
                self.journal.record(vm, NOT_ACCEPTED, reason=failure.kind)
            if op.attempts >= MAX_SEND_ATTEMPTS:
                return self._finish(op, Outcome(FAILED, error=as_error(exc)))
            return self._requeue(op, to_send, stopping)
        if failure.kind in ("dropped", "server"):
            # Fate unknown and not safe to repeat: ask Azure whether it was accepted before anything else. The
            # send's probe of the subscription budgets is over either way (else the resend waits on it forever).
            self.gate.observe(_sends(op), vm, failure.headers)
            log.info("%s on %s: no answer (%s); reconciling before sending again", op.kind.name, op.target.name,
                     failure.kind)
            self._reconciles.append(op)
            return 0
        return self._finish(op, Outcome(FAILED, error=as_error(exc)))

    def _polled(self, op: _Op, step: Step) -> int:
        self.stats.polls += 1
        self.gate.observe(_polls(op), op.target.id, step.headers)
        if step.done:
            if step.error is not None:
                if step.status == 404:
                    return self._finish_open(op, Outcome(UNKNOWN, error=as_error(step.error),
                                                         note="Azure no longer knows the operation"))
                return self._finish(op, Outcome(FAILED, error=as_error(step.error)))
            return self._finish(op, op.kind.outcome(step.result or {}))
        if step.transient is not None:
            op.poll_failures += 1
            if step.status == 429:
                failure = send_failure(step.transient)
                self.gate.throttled(_polls(op), op.target.id, failure.policy, failure.retry_after,
                                    step.headers)
                self.stats.throttled += 1
            if self.clock() > op.deadline and op.poll_failures >= MIN_FAILED_POLLS:
                return self._finish_open(op, Outcome(UNKNOWN, error=as_error(step.transient), note=(
                    "polling kept failing; the operation may still finish: check with `hpctl status -g "
                    f"{op.target.resource_group} -n {op.target.name}` or rerun with --resume")))
            backoff = min(MAX_POLL_BACKOFF / self.time_scale, 0.5 * 2 ** min(op.poll_failures, 8) / self.time_scale)
            self._poll_later(op, max(step.delay, backoff))
            return 0
        op.poll_failures = 0
        now = self.clock()
        if now > op.deadline and not step.over:
            return self._finish_open(op, Outcome(UNKNOWN, note="still running past its time limit"))
        self._poll_later(op, step.delay if step.over else self._poll_interval(op, step.delay, now))
        return 0

    def _poll_interval(self, op: _Op, delay: float, now: float) -> float:
        """When to ask again about a running operation: never before Azure's Retry-After (or the polling interval);
        after a share of its age, or sooner when the few left can all be asked within the run's poll rate."""
        share = self._progress.running / (POLL_RATE * self.time_scale)
        return max(delay, min(POLL_AGE_FRACTION * (now - op.accepted_at), share))

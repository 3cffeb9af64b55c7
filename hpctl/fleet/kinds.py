"""What the engine needs to know about one kind of fleet operation, and what it reports per target."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from hpctl.errors import HpctlError
from hpctl.fleet.budgets import Budget

# Outcomes of one target.
SUCCEEDED = "Succeeded"
FAILED = "Failed"
UNKNOWN = "Unknown"  # accepted, but hpctl could not learn how it ended (never reported as Failed)
ACCEPTED = "Accepted"  # accepted and still running when hpctl stopped waiting (--no-wait, or interrupted)
NOT_STARTED = "NotStarted"  # never sent (interrupted first)
ALREADY_DONE = "AlreadyDone"  # done by an earlier run of the same journal (--resume)


@dataclass
class Outcome:
    """What happened to one target: a status above, the kind's detail (e.g. the installation), an error."""

    status: str
    detail: dict[str, Any] | None = None
    error: HpctlError | None = None
    note: str | None = None


class Handle(Protocol):
    """An operation Azure accepted (hpctl.edge.stepped.Pending)."""

    def token(self) -> str: ...

    def accepted_headers(self) -> dict[str, str]: ...

    def first_delay(self) -> float: ...

    def step(self) -> Any: ...


@dataclass
class FleetTarget:
    """One resource to act on: its id (the journal's key), group, name, and the model read for it."""

    id: str
    resource_group: str
    name: str
    model: dict[str, Any] = field(default_factory=dict)


class OperationKind(Protocol):
    """One kind of fleet write. See hpctl.fleet's docstring for how to add one."""

    name: str  # "assess", "install", … (the journal's `kind`)
    detail_key: str  # the row field holding the detail ("assessment", "installation", …)
    budgets: tuple[Budget, ...]  # what one send draws on (ARM's write bucket is added by the engine)
    poll_budgets: tuple[Budget, ...]  # what one poll draws on (ARM's read bucket is added by the engine)
    resend_safe: bool  # may a send whose answer was lost (dropped, 5xx) simply be sent again?
    max_seconds: float  # how long Azure may take: polls that keep failing give up after this plus a margin

    def send(self, target: FleetTarget) -> Handle:
        """Send the request (an edge call); raise what the SDK raised when it was not accepted."""

    def resume(self, target: FleetTarget, token: str) -> Handle:
        """Pick up an accepted operation from its continuation token (nothing is sent)."""

    def before(self, target: FleetTarget) -> dict[str, Any] | None:
        """What the target showed before sending, journalled so `reconcile` can tell a new run from an old one."""

    def reconcile(self, target: FleetTarget, entry: dict[str, Any]) -> Outcome | None:
        """The fate of a send whose answer was lost, read from Azure: an Outcome if it was accepted (finished or
        not), None if it was not (then the engine may send it)."""

    def outcome(self, result: dict[str, Any]) -> Outcome:
        """Turn the operation's result body into an Outcome (a result whose status is Failed is FAILED)."""

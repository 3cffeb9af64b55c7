"""Run Command (a PowerShell script in the guest) and VM restart as operation kinds of the fleet engine.

Both are charged to Compute's Update VM budget (12 per VM and 1,500 per subscription, refilled a third a minute:
azure-wire.md §9.1); their polls to Get Operation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hpctl.core.guest_scripts import ScriptFailed, script_document, script_output
from hpctl.edge import stepped
from hpctl.edge.clients import Connection
from hpctl.errors import AzureOperationError
from hpctl.fleet.budgets import GET_OPERATION, UPDATE_VM, Budget
from hpctl.fleet.kinds import FAILED, SUCCEEDED, UNKNOWN, FleetTarget, Handle, Outcome

RUN_COMMAND_LIMIT = 5400.0  # Run Command gives a script 90 minutes (hotpatch-program.md §6.2)
RESTART_LIMIT = 1800.0


@dataclass
class RunCommandKind:
    """One script on each target (RunPowerShellScript). The outcome's detail is the JSON document it printed;
    a script that wrote to stderr, or printed nothing readable, is FAILED with the reason.

    `parameters` holds each target's own parameters, by engine target id. A read-only script is safe to send
    again when an answer is lost; a removal is not (Azure keeps no record hpctl could reconcile it from)."""

    conn: Connection
    script: tuple[str, ...]
    what: str  # names the script in messages: "inventory", "removal"
    resend_safe: bool = False
    parameters: dict[str, dict[str, str]] = field(default_factory=dict)
    name: str = "runcommand"
    detail_key: str = "script"
    budgets: tuple[Budget, ...] = (UPDATE_VM,)
    poll_budgets: tuple[Budget, ...] = (GET_OPERATION,)
    max_seconds: float = RUN_COMMAND_LIMIT

    def _body(self, target: FleetTarget) -> dict[str, Any]:
        return stepped.run_command_body(self.script, self.parameters.get(target.id))

    def send(self, target: FleetTarget) -> Handle:
        return stepped.start_run_command(self.conn, target.resource_group, target.name, self._body(target))

    def resume(self, target: FleetTarget, token: str) -> Handle:
        return stepped.start_run_command(self.conn, target.resource_group, target.name, self._body(target),
                                         token=token)

    def before(self, target: FleetTarget) -> dict[str, Any] | None:
        return None

    def reconcile(self, target: FleetTarget, entry: dict[str, Any]) -> Outcome | None:
        """A read-only script is simply sent again (None). A script that changes the guest (a removal) leaves no
        record Azure can be asked about, and a second one may run on a VM the first already changed: its fate is
        Unknown, never "not sent", and the VM's own inventory on --resume tells what happened."""
        if self.resend_safe:
            return None
        return Outcome(UNKNOWN, note=f"the {self.what} script may have run; the answer to its request was lost",
                       error=AzureOperationError(
                           f"{target.name}: the {self.what} script may have started; Azure's answer was lost",
                           hint="See what the VM has with `hpctl vm patches`, then run the same command with "
                                "--resume: it plans from what is installed and never repeats a finished step."))

    def outcome(self, result: dict[str, Any]) -> Outcome:
        output = None
        try:
            output = script_output(result)
            return Outcome(SUCCEEDED, detail=script_document(output, self.what))
        except ScriptFailed as exc:
            detail = {"stderr": output.stderr[-2000:]} if output is not None else None
            return Outcome(FAILED, detail=detail, error=exc)


@dataclass
class RestartKind:
    """Restart a VM (what applies a removal, or the reboot a baseline left pending). Restarting again after a
    lost answer only restarts it once more, so it may be resent."""

    conn: Connection
    name: str = "restart"
    detail_key: str = "restart"
    budgets: tuple[Budget, ...] = (UPDATE_VM,)
    poll_budgets: tuple[Budget, ...] = (GET_OPERATION,)
    resend_safe: bool = True
    max_seconds: float = RESTART_LIMIT

    def send(self, target: FleetTarget) -> Handle:
        return stepped.start_restart(self.conn, target.resource_group, target.name)

    def resume(self, target: FleetTarget, token: str) -> Handle:
        return stepped.start_restart(self.conn, target.resource_group, target.name, token=token)

    def before(self, target: FleetTarget) -> dict[str, Any] | None:
        return None

    def reconcile(self, target: FleetTarget, entry: dict[str, Any]) -> Outcome | None:
        return None

    def outcome(self, result: dict[str, Any]) -> Outcome:
        return Outcome(SUCCEEDED, detail={"status": "Succeeded"})

"""vm enable-hotpatch as an operation kind of the fleet engine: per VM, leave its schedules (the DELETE of each
static assignment), then PATCH only what hotpatch needs, polled by the engine's shared poller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hpctl.core.hotpatch_settings import HotpatchPlan
from hpctl.edge import compute, maintenance, stepped
from hpctl.edge.clients import Connection
from hpctl.errors import AzureOperationError
from hpctl.fleet.budgets import GET_OPERATION, UPDATE_VM, Budget
from hpctl.fleet.kinds import FAILED, SUCCEEDED, FleetTarget, Handle, Outcome


@dataclass
class EnableHotpatchKind:
    """Safe to send again when an answer is lost: deleting a deleted assignment answers 204, and the PATCH sets
    the same values again."""

    conn: Connection
    plans: dict[str, HotpatchPlan] = field(default_factory=dict)  # by target id (lower-case VM id)
    name: str = "enable-hotpatch"
    detail_key: str = "settings"
    budgets: tuple[Budget, ...] = (UPDATE_VM,)
    poll_budgets: tuple[Budget, ...] = (GET_OPERATION,)
    resend_safe: bool = True
    max_seconds: float = 3600.0  # a VM update takes minutes

    def send(self, target: FleetTarget) -> Handle:
        plan = self.plans[target.id]
        # The assignments go first: a VM still in a schedule with the bypass off is in neither patching regime
        # (prerequsite-for-schedule-patching.md, scenario 3).
        for schedule in plan.leave:
            maintenance.delete_vm_assignment(self.conn, plan.resource_group, plan.name, schedule.assignment_name)
        if plan.body:
            return stepped.start_update_vm(self.conn, plan.resource_group, plan.name, plan.body)
        return stepped.Finished(compute.get_vm(self.conn, plan.resource_group, plan.name))

    def resume(self, target: FleetTarget, token: str) -> Handle:
        plan = self.plans[target.id]
        return stepped.start_update_vm(self.conn, plan.resource_group, plan.name, plan.body, token=token)

    def before(self, target: FleetTarget) -> dict[str, Any] | None:
        return None

    def reconcile(self, target: FleetTarget, entry: dict[str, Any]) -> Outcome | None:
        return None  # send it again

    def outcome(self, result: dict[str, Any]) -> Outcome:
        from hpctl.provisioning import settings_row

        detail = settings_row(result)
        if (detail.get("patchSettings") or {}).get("enableHotpatching"):
            return Outcome(SUCCEEDED, detail=detail)
        return Outcome(FAILED, detail=detail, error=AzureOperationError(
            f"{detail.get('name')}: Azure applied the update but reports enableHotpatching off."))

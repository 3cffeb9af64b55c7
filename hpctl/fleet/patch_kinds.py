"""assessPatches and installPatches as operation kinds of the fleet engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hpctl.core.patch_results import assessment_row, installation_row, outcome_of
from hpctl.edge import compute, stepped
from hpctl.edge.clients import Connection
from hpctl.fleet.budgets import GET_OPERATION, GUEST_PATCH, Budget
from hpctl.fleet.kinds import ACCEPTED, FleetTarget, Handle, Outcome


def _outcome(detail: dict[str, Any]) -> Outcome:
    # The operation can succeed while its result says Failed (the guest failed the work): that is a failure; an
    # error code under Succeeded/CompletedWithWarnings is SucceededWithWarnings (core.patch_results.outcome_of).
    return Outcome(outcome_of(detail.get("status"), detail.get("error")), detail=detail)


@dataclass
class AssessKind:
    """assessPatches: safe to send again when an answer is lost (a second assessment harms nothing)."""

    conn: Connection
    name: str = "assess"
    detail_key: str = "assessment"
    budgets: tuple[Budget, ...] = (GUEST_PATCH,)
    poll_budgets: tuple[Budget, ...] = (GET_OPERATION,)
    resend_safe: bool = True
    max_seconds: float = 3600.0  # assessments take minutes; an hour is far past any real one

    def send(self, target: FleetTarget) -> Handle:
        return stepped.start_assess(self.conn, target.resource_group, target.name)

    def resume(self, target: FleetTarget, token: str) -> Handle:
        return stepped.start_assess(self.conn, target.resource_group, target.name, token=token)

    def before(self, target: FleetTarget) -> dict[str, Any] | None:
        return None

    def reconcile(self, target: FleetTarget, entry: dict[str, Any]) -> Outcome | None:
        return None  # send it again

    def outcome(self, result: dict[str, Any]) -> Outcome:
        return _outcome(assessment_row(result))


# The classes availablePatchSummary counts together as criticalAndSecurityPatchCount; every other is "other".
SECURITY_CLASSES = frozenset({"Critical", "Security"})


def last_installation(vm: dict[str, Any]) -> dict[str, Any] | None:
    view = (vm.get("properties") or {}).get("instanceView") or {}
    return (view.get("patchStatus") or {}).get("lastPatchInstallationSummary")


@dataclass
class InstallKind:
    """installPatches: never sent twice blindly; a lost answer is reconciled from the VM's patchStatus."""

    conn: Connection
    body: dict[str, Any]
    max_seconds: float = 7200.0  # the request's maximumDuration
    name: str = "install"
    detail_key: str = "installation"
    budgets: tuple[Budget, ...] = (GUEST_PATCH,)
    poll_budgets: tuple[Budget, ...] = (GET_OPERATION,)
    resend_safe: bool = False

    def send(self, target: FleetTarget) -> Handle:
        return stepped.start_install(self.conn, target.resource_group, target.name, self.body)

    def expected_work(self, target: FleetTarget) -> float:
        """How much this VM's install is likely to do: the patches its last assessment found in the classes asked
        for (never assessed: as much as the most). In a run paced by the budget the engine sends the likeliest
        long installs first, so that the last tokens go to VMs with little to do."""
        view = (target.model.get("properties") or {}).get("instanceView") or {}
        summary = (view.get("patchStatus") or {}).get("availablePatchSummary") or {}
        if summary.get("criticalAndSecurityPatchCount") is None and summary.get("otherPatchCount") is None:
            return float("inf")
        params = self.body.get("windowsParameters") or self.body.get("linuxParameters") or {}
        classes = set(params.get("classificationsToInclude") or []) or SECURITY_CLASSES
        work = 0.0
        if classes & SECURITY_CLASSES:
            work += summary.get("criticalAndSecurityPatchCount") or 0
        if classes - SECURITY_CLASSES:
            work += summary.get("otherPatchCount") or 0
        return work

    def resume(self, target: FleetTarget, token: str) -> Handle:
        return stepped.start_install(self.conn, target.resource_group, target.name, self.body, token=token)

    def before(self, target: FleetTarget) -> dict[str, Any] | None:
        summary = last_installation(target.model)
        if not summary:
            return None
        return {"installationActivityId": summary.get("installationActivityId"),
                "startTime": str(summary.get("startTime") or "")}

    def reconcile(self, target: FleetTarget, entry: dict[str, Any]) -> Outcome | None:
        """Was the install accepted? Only if the VM's last installation is a new one (another activity id than
        the one journalled before sending)."""
        vm = compute.get_vm(self.conn, target.resource_group, target.name, instance_view=True)
        summary = last_installation(vm)
        before = entry.get("before") or {}
        if not summary or summary.get("installationActivityId") == before.get("installationActivityId"):
            return None
        detail = {"status": summary.get("status"), "installationActivityId": summary.get("installationActivityId"),
                  "startTime": summary.get("startTime"), "installedPatchCount": summary.get("installedPatchCount"),
                  "failedPatchCount": summary.get("failedPatchCount"),
                  "pendingPatchCount": summary.get("pendingPatchCount"), "patches": [], "error": None}
        if summary.get("status") == "InProgress":
            return Outcome(ACCEPTED, detail=detail, note="an earlier request was accepted and is still running")
        found = _outcome(detail)
        found.note = "an earlier request was accepted (read back from the VM's patchStatus)"
        return found

    def outcome(self, result: dict[str, Any]) -> Outcome:
        return _outcome(installation_row(result))

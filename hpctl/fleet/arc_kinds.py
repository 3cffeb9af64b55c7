"""Arc machines' writes as operation kinds of the fleet engine: assessPatches and installPatches on
Microsoft.HybridCompute/machines, and the hotpatch license profile (enroll: PUT, disenroll: PATCH Disable).

No request budgets are published for Microsoft.HybridCompute, so these kinds draw only on ARM's own
per-subscription write and read buckets (which the engine adds to every kind)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hpctl.core.arc_enrollment import disenroll_body, enroll_body
from hpctl.core.patch_results import installation_row
from hpctl.edge import hybridcompute
from hpctl.edge.clients import Connection
from hpctl.fleet.budgets import Budget
from hpctl.fleet.kinds import ACCEPTED, FAILED, SUCCEEDED, FleetTarget, Handle, Outcome
from hpctl.fleet.patch_kinds import AssessKind, InstallKind

ARC_BUDGETS: tuple[Budget, ...] = ()


@dataclass
class ArcAssessKind(AssessKind):
    """assessPatches on an Arc machine: as for a VM (safe to send again), through Microsoft.HybridCompute; the
    result's counts by classification read as a VM's (assessment_row)."""

    budgets: tuple[Budget, ...] = ARC_BUDGETS
    poll_budgets: tuple[Budget, ...] = ARC_BUDGETS

    def send(self, target: FleetTarget) -> Handle:
        return hybridcompute.start_assess(self.conn, target.resource_group, target.name)

    def resume(self, target: FleetTarget, token: str) -> Handle:
        return hybridcompute.start_assess(self.conn, target.resource_group, target.name, token=token)


@dataclass
class ArcInstallKind(InstallKind):
    """installPatches on an Arc machine: never sent twice blindly. A lost answer is reconciled from Update
    Manager's records in Resource Graph (Arc machines have no patchStatus): accepted only if the machine's
    latest installation is another one than the one seen before sending (`known`, read in one query)."""

    known: dict[str, dict[str, Any]] = field(default_factory=dict)  # machine id -> latest installation seen
    budgets: tuple[Budget, ...] = ARC_BUDGETS
    poll_budgets: tuple[Budget, ...] = ARC_BUDGETS

    def send(self, target: FleetTarget) -> Handle:
        return hybridcompute.start_install(self.conn, target.resource_group, target.name, self.body)

    def resume(self, target: FleetTarget, token: str) -> Handle:
        return hybridcompute.start_install(self.conn, target.resource_group, target.name, self.body, token=token)

    def before(self, target: FleetTarget) -> dict[str, Any] | None:
        return self.known.get(target.id)

    def reconcile(self, target: FleetTarget, entry: dict[str, Any]) -> Outcome | None:
        from hpctl.arc_machines import latest_installation

        latest = latest_installation(self.conn, target.model.get("id") or target.id)
        before = entry.get("before") or {}
        if not latest or latest.get("installationActivityId") == before.get("installationActivityId"):
            return None
        detail = installation_row(latest)
        if latest.get("status") == "InProgress":
            return Outcome(ACCEPTED, detail=detail, note="an earlier request was accepted and is still running")
        found = self.outcome(latest)
        found.note = "an earlier request was accepted (read back from Update Manager's records)"
        return found


def enrollment_detail(profile: dict[str, Any]) -> dict[str, Any]:
    """The license profile's Hotpatch state as hpctl shows it."""
    product = (profile.get("properties") or {}).get("productProfile") or {}
    feature = next((f for f in product.get("productFeatures") or []
                    if str(f.get("name", "")).lower() == "hotpatch"), {})
    return {"status": feature.get("subscriptionStatus") or product.get("subscriptionStatus"),
            "enrollmentDate": feature.get("enrollmentDate") or product.get("enrollmentDate"),
            "billingStartDate": feature.get("billingStartDate") or product.get("billingStartDate"),
            "disenrollmentDate": feature.get("disenrollmentDate") or product.get("disenrollmentDate")}


@dataclass
class LicenseKind:
    """PUT (enroll) or PATCH Disable (disenroll) licenseProfiles/default, an LRO that ends when the Hotpatch
    feature is Enabled / Disabled, or Failed. Both are idempotent, so a lost answer is simply sent again."""

    conn: Connection
    enable: bool
    name: str = "arc-enroll"
    detail_key: str = "enrollment"
    budgets: tuple[Budget, ...] = ARC_BUDGETS
    poll_budgets: tuple[Budget, ...] = ARC_BUDGETS
    resend_safe: bool = True
    max_seconds: float = 3600.0  # about ten minutes is normal (hotpatch-program.md §10.1)

    def __post_init__(self) -> None:
        if not self.enable:
            self.name = "arc-disenroll"

    def body(self, target: FleetTarget) -> dict[str, Any]:
        return enroll_body(str(target.model.get("location") or "")) if self.enable else disenroll_body()

    def send(self, target: FleetTarget) -> Handle:
        return self._start(target, None)

    def resume(self, target: FleetTarget, token: str) -> Handle:
        return self._start(target, token)

    def _start(self, target: FleetTarget, token: str | None) -> Handle:
        start = hybridcompute.start_enroll if self.enable else hybridcompute.start_disenroll
        return start(self.conn, target.resource_group, target.name, self.body(target), token=token)

    def before(self, target: FleetTarget) -> dict[str, Any] | None:
        return None

    def reconcile(self, target: FleetTarget, entry: dict[str, Any]) -> Outcome | None:
        return None  # PUT and PATCH to the same state are idempotent: send again

    def outcome(self, result: dict[str, Any]) -> Outcome:
        detail = enrollment_detail(result)
        wanted = "Enabled" if self.enable else "Disabled"
        return Outcome(SUCCEEDED if detail["status"] == wanted else FAILED, detail=detail)

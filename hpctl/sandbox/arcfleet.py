"""Seeding Arc machines (and Azure Local VMs, which are Arc machines) beside the VM fleet.

They live in resource groups of their own and draw from random streams of their own, so adding them changes
nothing about the seeded VMs: the same names, builds and histories as before.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hpctl.sandbox.hybridcompute import FREE_FROM, VBS_ERROR, ArcMachine, License
from hpctl.sandbox.ids import GuidStream, stable_guid
from hpctl.sandbox.world import InstallPlan, Patch

if TYPE_CHECKING:
    from hpctl.sandbox.backend import Backend

ARC_FLEET = 20  # fleets this big get the pinned Arc machines
RANDOM_FROM = 100  # and from this size on, one more random Arc machine per RANDOM_EVERY VMs beyond it
RANDOM_EVERY = 25
BATCH = 100
# (group, region, site tag)
GROUPS = {
    "rg-arc-onprem": ("eastus", "datacenter-1"),
    "rg-arc-branch": ("westus2", "branch-offices"),
    "rg-hci-vms": ("eastus", "azure-local"),
}
HCI_CLUSTER = "/subscriptions/{sub}/resourceGroups/rg-hci/providers/Microsoft.AzureStackHCI/clusters/hci-cluster-01"
# Sandbox wording for an enrollment that needs the operator (the October 2025 feature licensing issue,
# hotpatch-program.md §10.2); no real ARM text is known.
LICENSING_ERROR = {
    "code": "FeatureLicenseNotActive",
    "message": "The Hotpatch feature license is not active on the machine (known issue with KB5066835 or later): "
    "apply the documented workaround, restart, and enable again.",
}


@dataclass
class ArcSpec:
    """One Arc machine to seed."""

    group: str
    name: str
    os_key: str = "2025"
    edition: str = "Datacenter"
    core: bool = False
    enrollment: str = "none"  # none | enabled | enabling | failed | vbs-failed | action-required
    vbs: bool = True
    status: str = "Connected"
    disconnected_days: float = 0.0
    standing: str = "current"
    build: str | None = None
    hci: bool = False
    assessed_days_ago: float | None = 0.5
    last_install: str | None = "ok"  # ok | failed | None
    patch_mode: str = "AutomaticByPlatform"
    assessment_mode: str = "AutomaticByPlatform"
    env: str = "prod"
    extra_tags: dict[str, str] = field(default_factory=dict)


# Machines tests and the report's Arc rules rely on (fleet >= ARC_FLEET).
PINNED: tuple[ArcSpec, ...] = (
    # Enrolled, on this month's hotpatch: nothing to report.
    ArcSpec("rg-arc-onprem", "arc-dc-01", enrollment="enabled", assessed_days_ago=0.4),
    # Could hotpatch but is not enrolled (rule: not enrolled).
    ArcSpec("rg-arc-onprem", "arc-std-01", edition="Standard", core=True),
    # Enrollment tried without virtualization-based security: ActionRequired, feature Failed (rule: VBS).
    ArcSpec("rg-arc-onprem", "arc-vbs-01", enrollment="vbs-failed", vbs=False),
    # Windows Server 2022: not eligible for Arc hotpatch.
    ArcSpec("rg-arc-onprem", "arc-ws22-01", os_key="2022", standing="behind1", patch_mode="AutomaticByOS"),
    # Enrolled but a release behind (the track rules apply to Arc machines too).
    ArcSpec("rg-arc-onprem", "arc-dc-04", enrollment="enabled", standing="behind1", assessed_days_ago=1.0),
    # Enrolled, then the agent went quiet six days ago (rule: disconnected).
    ArcSpec("rg-arc-branch", "arc-dc-02", enrollment="enabled", status="Disconnected", disconnected_days=6.0,
            assessed_days_ago=6.2, last_install=None),
    # Enrollment failed (rule: enrollment failed).
    ArcSpec("rg-arc-branch", "arc-std-02", edition="Standard", enrollment="failed"),
    # Enrollment stuck on Enabling for two days (rule: enrollment pending).
    ArcSpec("rg-arc-branch", "arc-dc-03", enrollment="enabling"),
    # A build older than the minimum (26100.1742): can't enroll.
    ArcSpec("rg-arc-branch", "arc-old-01", build="26100.1000", assessed_days_ago=1.5, last_install=None,
            patch_mode="Manual", assessment_mode="ImageDefault"),
    # Enrollment waits on the operator (rule: action required, not about VBS).
    ArcSpec("rg-arc-branch", "arc-std-03", edition="Standard", enrollment="action-required"),
    # Azure Local VMs (Arc machines with a parent cluster): Azure Edition hotpatches without enrollment.
    ArcSpec("rg-hci-vms", "hci-vm-01", edition="AzureEdition", core=True, hci=True),
    ArcSpec("rg-hci-vms", "hci-vm-02", hci=True),
)


def plan_arc(count: int, seed: int) -> list[ArcSpec]:
    """The Arc machines of a fleet of `count` VMs (none below ARC_FLEET); deterministic for a seed."""
    if count < ARC_FLEET:
        return []
    specs = [ArcSpec(**{**spec.__dict__, "extra_tags": dict(spec.extra_tags)}) for spec in PINNED]
    rng = random.Random(f"hpctl-sandbox-arc-fleet:{seed}")
    extra = max(0, (count - RANDOM_FROM) // RANDOM_EVERY)
    for index in range(extra):
        batch = index // BATCH + 1
        spec = ArcSpec(f"rg-arc-batch-{batch:02d}", f"arcb{batch:02d}-{index % BATCH + 1:03d}")
        kind = rng.choices(("enrolled", "not-enrolled", "ws2022", "disconnected", "vbs-off"),
                           (55, 20, 15, 5, 5))[0]
        spec.edition = rng.choice(("Datacenter", "Standard"))
        spec.standing = rng.choices(("current", "behind1", "reboot-pending"), (75, 20, 5))[0]
        spec.assessed_days_ago = round(rng.uniform(0.1, 2.5), 2)
        spec.env = rng.choices(("prod", "dev", "test"), (60, 25, 15))[0]
        if kind == "enrolled":
            spec.enrollment = "enabled"
        elif kind == "ws2022":
            spec.os_key, spec.patch_mode = "2022", "AutomaticByOS"
        elif kind == "disconnected":
            spec.enrollment, spec.status = "enabled", "Disconnected"
            spec.disconnected_days = round(rng.uniform(2, 20), 1)
            spec.assessed_days_ago, spec.last_install = spec.disconnected_days + 0.2, None
        elif kind == "vbs-off":
            spec.enrollment, spec.vbs = "vbs-failed", False
        specs.append(spec)
    return specs


def seed_arc_machines(backend: Backend, count: int, seed: int) -> list[ArcMachine]:
    """Create the Arc machines of a `count`-VM fleet, with their enrollment state and patch history."""
    guids = GuidStream(f"arc:{seed}")  # not backend.guids: the VMs' later operation ids stay as they were
    made = []
    for spec in plan_arc(count, seed):
        region, site = GROUPS.get(spec.group, ("eastus", "batch"))
        backend.add_resource_group(spec.group, region, {"env": "prod", "owner": "infra"})
        made.append(_machine(backend, spec, region, site, guids))
    return made


def _machine(backend: Backend, spec: ArcSpec, region: str, site: str, guids: GuidStream) -> ArcMachine:
    clock, world, hybrid = backend.clock, backend.world, backend.hybrid
    enrolled_track = spec.vbs and (spec.edition == "AzureEdition" or spec.enrollment == "enabled")
    if spec.build is not None:
        state = world.state_on_build(spec.os_key, spec.build)
    else:
        state = world.state_for(spec.os_key, enrolled_track, spec.standing, clock.today)
    created = clock.midnight(200) + dt.timedelta(hours=10, minutes=len(spec.name))
    machine = ArcMachine(
        subscription=backend.subscription_id,
        group=spec.group,
        name=spec.name,
        location=region,
        tags={"env": spec.env, "site": site, "team": "infra", **spec.extra_tags},
        os_key=spec.os_key,
        edition=spec.edition,
        core=spec.core,
        patch=state,
        vm_uuid=stable_guid("arc-vmuuid", spec.group.lower(), spec.name.lower()),
        time_created=created,
        status=spec.status,
        last_status_change=clock.midnight(spec.disconnected_days) + dt.timedelta(hours=3)
        if spec.status != "Connected" else created + dt.timedelta(minutes=5),
        vbs=spec.vbs,
        kind="HCI" if spec.hci else None,
        parent_cluster=HCI_CLUSTER.format(sub=backend.subscription_id) if spec.hci else None,
        patch_mode=spec.patch_mode,
        assessment_mode=spec.assessment_mode,
    )
    _enrollment(machine, spec, clock.midnight(0))
    hybrid.insert(machine)
    _history(backend, machine, spec, guids)
    return machine


def _enrollment(machine: ArcMachine, spec: ArcSpec, midnight: dt.datetime) -> None:
    if spec.enrollment == "none":
        return
    enrolled = midnight - dt.timedelta(days=60 if spec.enrollment == "enabled" else 2, hours=-9)
    billed = enrolled.date() < FREE_FROM
    # Billing stopped for enrolled servers when the charge ended (§1.4).
    billing_end = dt.datetime.combine(FREE_FROM, dt.time(0, 0), tzinfo=dt.timezone.utc) if billed else None
    state = {"enabled": "Enabled", "enabling": "Enabling"}.get(spec.enrollment, "Failed")
    machine.license = License(state, state, enrolled=enrolled, billing_start=enrolled if billed else None,
                              billing_end=billing_end if state == "Enabled" else None)
    if spec.enrollment == "enabled":
        machine.hotpatch_status = "Enabled"
    elif spec.enrollment == "enabling":
        machine.hotpatch_status = "PendingEvaluation"
    elif spec.enrollment == "vbs-failed":
        machine.hotpatch_status = "ActionRequired"
        machine.hotpatch_error = dict(VBS_ERROR)
    elif spec.enrollment == "action-required":
        machine.license = License("Enabled", "Enabled", enrolled=enrolled)
        machine.hotpatch_status = "ActionRequired"
        machine.hotpatch_error = dict(LICENSING_ERROR)


def _history(backend: Backend, machine: ArcMachine, spec: ArcSpec, guids: GuidStream) -> None:
    """The last installation and assessment such a machine shows in Update Manager."""
    state, world, clock = machine.patch, backend.world, backend.clock
    if state is None or spec.assessed_days_ago is None:
        return
    assessed_end = clock.midnight(spec.assessed_days_ago) + dt.timedelta(hours=6)
    started_by = "Platform" if spec.assessment_mode == "AutomaticByPlatform" else "User"
    if spec.last_install is not None:
        month = world.calendar.month(state.os, state.level.month)
        when = min(dt.datetime.combine(month.date, dt.time(3, 0), tzinfo=dt.timezone.utc) + dt.timedelta(days=2),
                   assessed_end - dt.timedelta(hours=2))
        if clock.midnight(29) <= when <= clock.midnight(0):
            outcomes: list[tuple[Patch, str]] = [(world.cumulative_patch(state.level), "Installed")]
            reboot = "Required" if state.reboot_pending else (
                "NotNeeded" if state.level.kind == "hotpatch" else "Completed")
            plan = InstallPlan(outcomes, reboot == "Completed", reboot, False, 22.0)
            backend.compute.record_installation(machine, guids.next(), when - dt.timedelta(minutes=24), when,
                                                plan, started_by=started_by)
    on = min(assessed_end.date(), clock.today)
    patches = world.available(state, machine.enrolled, on)
    backend.compute.record_assessment(machine, guids.next(), assessed_end - dt.timedelta(minutes=6), assessed_end,
                                      patches, started_by=started_by)


def describe(specs: list[ArcSpec]) -> list[dict[str, Any]]:
    """A plain summary of the planned Arc machines (docs, determinism checks)."""
    return [dict(spec.__dict__) for spec in specs]

"""Seeding: a deterministic simulated fleet of N VMs across resource groups, zones and availability sets."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hpctl.sandbox.clock import ts
from hpctl.sandbox.world import InstallPlan, Patch

if TYPE_CHECKING:
    from hpctl.sandbox.backend import Backend
    from hpctl.sandbox.compute import VirtualMachine

WS = "MicrosoftWindowsServer:WindowsServer"
HOTPATCH_2022 = (
    "2022-datacenter-azure-edition-core",
    "2022-datacenter-azure-edition-core-smalldisk",
    "2022-datacenter-azure-edition-hotpatch",
    "2022-datacenter-azure-edition-hotpatch-smalldisk",
)
HOTPATCH_2025 = (
    "2025-datacenter-azure-edition",
    "2025-datacenter-azure-edition-smalldisk",
    "2025-datacenter-azure-edition-core",
    "2025-datacenter-azure-edition-core-smalldisk",
)

# The five resource groups: (name, VM name prefix, region, app tag, team tag, share of the random fill).
GROUPS = (
    ("rg-web", "web", "eastus", "storefront", "platform", 30),
    ("rg-app", "app", "westus2", "orders", "payments", 25),
    ("rg-data", "sql", "westeurope", "sql", "data", 15),
    ("rg-api", "api", "eastus", "gateway", "identity", 20),
    ("rg-legacy", "legacy", "westus2", "erp", "core", 10),
)
REGIONS = ("eastus", "westus2", "westeurope")
BASE_CAPACITY = 250  # VMs in the five base groups before rg-batch-NN groups are added
BATCH_SIZE = 100
SCALE_SET_FLEET = 20  # fleets this big also get the scale sets of hpctl.sandbox.scalesets.SEEDED
SIZES = (
    "Standard_D2s_v5",
    "Standard_D4s_v5",
    "Standard_E4s_v5",
    "Standard_B2ms",
    "Standard_D2as_v5",
    "Standard_F4s_v2",
)


@dataclass
class Spec:
    """One VM to seed: where it goes and what kind of VM it is."""

    group: str
    name: str
    image: str = f"{WS}:2025-datacenter-azure-edition:latest"
    gallery: bool = False
    patch_mode: str | None = "AutomaticByPlatform"
    hotpatch: bool | None = None
    assessment_mode: str | None = None
    agent: bool = True
    bypass: bool = False
    zone: str | None = None
    avset: str | None = None
    region: str | None = None
    standing: str = "current"
    assessed_days_ago: float | None = 0.5
    last_install: str | None = "ok"  # ok | failed | None
    env: str = "prod"
    size: str = "Standard_D2s_v5"
    extra_tags: dict[str, str] = field(default_factory=dict)
    # Settings Azure refuses today but older VMs still carry: created valid, then set as found.
    grandfathered: bool = False
    # How Azure reports the VM (azure-wire.md §9.2-§9.5): osVersion form, power state, hotPatchStatus block,
    # a KB listed twice in its assessments, an error its successful assessments carry.
    os_version_form: str = "revision"
    power: str = "running"
    hot_patch_status: dict[str, Any] | None = None
    duplicate_kb: bool = False
    assessment_warning: dict[str, Any] | None = None


# VMs tests can rely on (for fleet >= their position in this list; the first five cover every group, so
# web-01 exists and is a current, eligible hotpatch VM for any fleet >= 1).
PINNED: tuple[Spec, ...] = (
    Spec("rg-web", "web-01", f"{WS}:2025-datacenter-azure-edition:latest", zone="1", assessed_days_ago=0.3),
    Spec(
        "rg-app",
        "app-01",
        f"{WS}:2022-datacenter-azure-edition-core:latest",
        zone="1",
        standing="behind1",
        assessed_days_ago=1.0,
    ),
    Spec(
        "rg-data",
        "sql-01",
        f"{WS}:2022-datacenter-azure-edition-hotpatch-smalldisk:latest",
        avset="avset-sql",
        standing="behind1",
        last_install="failed",
        assessed_days_ago=0.8,
        size="Standard_E4s_v5",
    ),
    Spec(
        "rg-api",
        "api-01",
        f"{WS}:2025-datacenter-azure-edition-core:latest",
        zone="2",
        standing="offtrack",
        assessed_days_ago=2.0,
    ),
    Spec(
        "rg-legacy",
        "legacy-01",
        f"{WS}:2019-datacenter:latest",
        patch_mode="AutomaticByOS",
        assessed_days_ago=3.0,
        env="dev",
    ),
    Spec(
        "rg-web",
        "web-02",
        f"{WS}:2022-datacenter-azure-edition-hotpatch:latest",
        zone="2",
        standing="behind1",
        assessed_days_ago=0.4,
    ),
    Spec("rg-app", "app-02", f"{WS}:2022-datacenter-azure-edition-core:latest", zone="2", hotpatch=False),
    Spec(
        "rg-data",
        "sql-02",
        f"{WS}:2025-datacenter-azure-edition-smalldisk:latest",
        avset="avset-sql",
        patch_mode="Manual",
        standing="behind2",
        assessed_days_ago=4.0,
        size="Standard_E4s_v5",
    ),
    Spec(
        "rg-api",
        "api-02",
        f"{WS}:2025-datacenter-azure-edition:latest",
        zone="3",
        hotpatch=False,
        bypass=True,
    ),
    Spec("rg-legacy", "legacy-02", f"{WS}:2022-datacenter-azure-edition:latest", standing="behind1"),
    Spec(
        "rg-web",
        "web-03",
        f"{WS}:2025-datacenter-azure-edition-core:latest",
        zone="3",
        standing="reboot-pending",
    ),
    Spec(
        "rg-app",
        "app-03",
        f"{WS}:2025-datacenter-azure-edition-core-smalldisk:latest",
        zone="3",
        assessment_mode="ImageDefault",
        assessed_days_ago=None,
        last_install=None,
    ),
    Spec(
        "rg-data",
        "sql-03",
        f"{WS}:2022-datacenter-azure-edition-core-smalldisk:latest",
        avset="avset-sql",
        patch_mode="AutomaticByOS",
        size="Standard_E4s_v5",
    ),
    Spec(
        "rg-api",
        "api-03",
        f"{WS}:2022-datacenter-azure-edition-hotpatch:latest",
        zone="1",
        standing="behind2",
        assessed_days_ago=20.0,
    ),
    Spec("rg-legacy", "legacy-03", "", gallery=True, patch_mode="AutomaticByPlatform", hotpatch=False),
    Spec(
        "rg-legacy",
        "legacy-04",
        f"{WS}:2022-datacenter-azure-edition-core:latest",
        patch_mode="AutomaticByOS",
        agent=False,
        assessed_days_ago=None,
        last_install=None,
        env="test",
    ),
    Spec(
        "rg-legacy",
        "legacy-05",
        f"{WS}:2016-datacenter:latest",
        patch_mode="Manual",
        standing="behind2",
        assessed_days_ago=10.0,
        avset="avset-legacy",
        env="dev",
    ),
    Spec("rg-web", "web-04", f"{WS}:2025-datacenter-azure-edition:latest", zone="1"),
    Spec("rg-web", "web-05", f"{WS}:2022-datacenter-azure-edition-core:latest", zone="2"),
    Spec(
        "rg-web",
        "web-06",
        f"{WS}:2025-datacenter-azure-edition-smalldisk:latest",
        zone="3",
        standing="behind1",
    ),
    # Hotpatch on and the safety-check bypass on: Azure refuses this today, but VMs set up before it did
    # still carry it (seeded directly, as such a VM would be found).
    Spec("rg-api", "api-04", f"{WS}:2025-datacenter-azure-edition-core:latest", zone="1", bypass=True,
         grandfathered=True),
    # Hotpatch on but the agent reports nothing: no OS build in the instance view, so the track is unknown.
    Spec("rg-app", "app-04", f"{WS}:2022-datacenter-azure-edition-core:latest", zone="3", agent=False,
         assessed_days_ago=None, last_install=None, grandfathered=True),
)

# Real instance view block (PS recording of 2020-08-26, azure-wire.md §9.3); lastRefreshedTime is set when seeded.
INCOMPATIBLE_GEN1 = {
    "hotPatchCompatibility": "Incompatible",
    "hotPatchOptInCompletionStatus": "Unknown",
    "lastInstalledCumulativeUpdateHotPatchStatus": "Unknown",
    "error": {"details": [{"code": "UNSUPPORTED_VM_SIZE_FOR_GEN1",
                           "message": "Incompatible VM Size Standard_DS1_v2 for Generation 1 VMs. For more details, "
                                      "visit: aka.ms/HotPatchCompatibility"}]},
}
# The form Microsoft's LISA suite accepts for a truncated list: error.code "2" under status Succeeded
# (azure-wire.md §9.5); the message follows Windows' "<n> error/s reported" wording.
LIST_TRUNCATED = {"code": "2", "message": "1 error/s reported.",
                  "details": [{"code": "PACKAGE_LIST_TRUNCATED", "message": "The package list was truncated."}]}

# VMs fleets of SCALE_SET_FLEET or more also get, in a group of their own and after every other VM (so the
# names and kinds above keep their meaning): each way Azure writes what it knows about a VM.
AGENT_FORMS: tuple[Spec, ...] = (
    # Old agent ("Microsoft Windows NT 10.0.20348.0"), installed this month's release: track from installed KBs.
    Spec("rg-agents", "oldagent-01", f"{WS}:2022-datacenter-azure-edition-core:latest", zone="1",
         os_version_form="legacy"),
    # Old agent, one release behind and no install on record: its assessment still offers the calendar KB.
    Spec("rg-agents", "oldagent-02", f"{WS}:2025-datacenter-azure-edition:latest", zone="2",
         os_version_form="legacy", standing="behind1", last_install=None),
    # Old agent, never assessed or patched: nothing tells its release.
    Spec("rg-agents", "oldagent-03", f"{WS}:2022-datacenter-azure-edition-hotpatch:latest", zone="3",
         os_version_form="legacy", assessed_days_ago=None, last_install=None),
    # Deallocated (osName/osVersion null): one with an install on record, one without.
    Spec("rg-agents", "stopped-01", f"{WS}:2025-datacenter-azure-edition-core:latest", zone="1", power="deallocated"),
    Spec("rg-agents", "stopped-02", f"{WS}:2022-datacenter-azure-edition-core:latest", zone="2", power="deallocated",
         assessed_days_ago=None, last_install=None),
    # A Generation 1 size: Azure's hotPatchStatus says Incompatible although hotpatch is on.
    Spec("rg-agents", "gen1-01", f"{WS}:2022-datacenter-azure-edition-core:latest", zone="3", size="Standard_DS1_v2",
         hot_patch_status=INCOMPATIBLE_GEN1),
    # Its assessment lists one KB twice (two patchIds); one behind, so there is something to list.
    Spec("rg-agents", "dupkb-01", f"{WS}:2022-datacenter-azure-edition-hotpatch:latest", zone="1",
         standing="behind1", duplicate_kb=True),
    # Its assessment succeeded with error code "2" (list truncated).
    Spec("rg-agents", "warn-01", f"{WS}:2025-datacenter-azure-edition-smalldisk:latest", zone="2",
         standing="behind1", assessment_warning=LIST_TRUNCATED),
)

# The random fill: (kind, weight).
KINDS = (
    ("hotpatch", 64),
    ("hotpatch-off", 4),
    ("autobyos", 4),
    ("manual", 3),
    ("bypass", 3),
    ("imagedefault", 4),
    ("noagent", 2),
    ("ae2022-plain", 4),
    ("ws2019", 4),
    ("ws2016", 2),
    ("ws2022", 3),
    ("ws2025", 2),
    ("gallery", 2),
)
STANDINGS = (
    ("current", 62),
    ("behind1", 15),
    ("behind2", 8),
    ("reboot-pending", 5),
    ("offtrack", 3),
    ("failed", 4),
    ("stale", 3),
)


def _pick(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in table], weights=[weight for _, weight in table])[0]


def plan_fleet(count: int, seed: int) -> list[Spec]:
    """The specs of a fleet of `count` VMs; the same (count, seed) always gives the same fleet."""
    rng = random.Random(f"hpctl-sandbox-fleet:{seed}")
    specs = [_copy(spec) for spec in PINNED[:count]]
    counters: dict[str, int] = {}
    for spec in specs:
        counters[spec.group] = counters.get(spec.group, 0) + 1
    base_room = max(0, BASE_CAPACITY - len(specs))
    for index in range(count - len(specs)):
        if index < base_room:
            group, prefix, _, _, _, _ = rng.choices(GROUPS, weights=[g[5] for g in GROUPS])[0]
        else:
            batch = (index - base_room) // BATCH_SIZE + 1
            group, prefix = f"rg-batch-{batch:02d}", f"batch{batch:02d}"
        counters[group] = counters.get(group, 0) + 1
        number = counters[group]
        name = f"{prefix}-{number:02d}" if not group.startswith("rg-batch") else f"{prefix}-{number:03d}"
        specs.append(_random_spec(rng, group, name, number))
    return specs


def _copy(spec: Spec) -> Spec:
    return Spec(**{**spec.__dict__, "extra_tags": dict(spec.extra_tags)})


def _random_spec(rng: random.Random, group: str, name: str, number: int) -> Spec:
    kind = _pick(rng, KINDS)
    standing = _pick(rng, STANDINGS)
    spec = Spec(
        group, name, size=rng.choice(SIZES), env=rng.choices(("prod", "dev", "test"), (60, 25, 15))[0]
    )
    hotpatch_sku = rng.choice(HOTPATCH_2022 + HOTPATCH_2025)
    spec.image = f"{WS}:{hotpatch_sku}:latest"
    if kind == "hotpatch-off":
        spec.hotpatch = False
    elif kind == "autobyos":
        spec.patch_mode = "AutomaticByOS"
    elif kind == "manual":
        spec.patch_mode = "Manual"
    elif kind == "bypass":
        spec.hotpatch, spec.bypass = False, True
    elif kind == "imagedefault":
        spec.assessment_mode = "ImageDefault"
        spec.assessed_days_ago, spec.last_install = None, None
    elif kind == "noagent":
        spec.patch_mode, spec.agent = "AutomaticByOS", False
        spec.assessed_days_ago, spec.last_install = None, None
    elif kind == "ae2022-plain":
        plain = rng.choice(("2022-datacenter-azure-edition", "2022-datacenter-azure-edition-smalldisk"))
        spec.image = f"{WS}:{plain}:latest"
    elif kind == "ws2019":
        spec.image, spec.patch_mode = f"{WS}:2019-datacenter:latest", "AutomaticByOS"
    elif kind == "ws2016":
        spec.image, spec.patch_mode = f"{WS}:2016-datacenter:latest", "Manual"
    elif kind == "ws2022":
        spec.image = f"{WS}:{rng.choice(('2022-datacenter', '2022-datacenter-g2'))}:latest"
        spec.patch_mode = rng.choice(("AutomaticByOS", "AutomaticByPlatform"))
    elif kind == "ws2025":
        spec.image, spec.patch_mode = f"{WS}:2025-datacenter-g2:latest", "AutomaticByPlatform"
    elif kind == "gallery":
        spec.image, spec.gallery, spec.hotpatch = "", True, False
    hotpatch_vm = kind in ("hotpatch", "imagedefault")
    if standing == "offtrack" and not (hotpatch_vm and "2025" in spec.image):
        standing = "behind2"
    if standing == "failed":
        spec.standing, spec.last_install = "behind1", "failed"
    elif standing == "stale":
        spec.standing = "behind1"
        if spec.assessed_days_ago is not None:
            spec.assessed_days_ago = round(rng.uniform(12, 25), 1)
    else:
        spec.standing = standing
    if spec.assessed_days_ago is not None and standing != "stale":
        spec.assessed_days_ago = round(rng.uniform(0.1, 2.5), 2)
    if rng.random() < 0.02 and spec.assessed_days_ago is not None:
        spec.assessed_days_ago, spec.last_install = None, None  # never assessed
    home = next((g[2] for g in GROUPS if g[0] == group), REGIONS[number % len(REGIONS)])
    spec.region = home if rng.random() < 0.75 else rng.choice(REGIONS)
    if group == "rg-data" and rng.random() < 0.6:
        spec.avset = "avset-sql"
    elif group == "rg-legacy" and rng.random() < 0.4:
        spec.avset = "avset-legacy"
    elif rng.random() < 0.85:
        spec.zone = str(number % 3 + 1)
    return spec


def seed_fleet(backend: Backend, count: int, seed: int) -> list[VirtualMachine]:
    """Create the fleet in `backend` (groups, VMs, assessment and installation history)."""
    vms = []
    specs = plan_fleet(count, seed) + ([_copy(spec) for spec in AGENT_FORMS] if count >= SCALE_SET_FLEET else [])
    for spec in specs:
        home = next((g for g in GROUPS if g[0] == spec.group), None)
        group_region = home[2] if home else REGIONS[len(spec.group) % len(REGIONS)]
        app, team = (home[3], home[4]) if home else ("batch", "core")
        backend.add_resource_group(spec.group, group_region, {"env": "prod", "owner": team})
        region = spec.region or group_region
        if spec.avset:
            region = group_region  # an availability set lives in one region
        gallery = None
        if spec.gallery:
            gallery = (
                f"/subscriptions/{backend.subscription_id}/resourceGroups/rg-images/providers/"
                "Microsoft.Compute/galleries/gal_images/images/ws2022-hardened/versions/1.4.0"
            )
        vm = backend.add_vm(
            spec.group,
            spec.name,
            location=region,
            image=spec.image or f"{WS}:x:latest",
            gallery_image=gallery,
            vm_size=spec.size,
            patch_mode=spec.patch_mode,
            hotpatch=spec.hotpatch,
            assessment_mode=spec.assessment_mode,
            provision_vm_agent=spec.agent or spec.grandfathered,
            bypass_platform_safety_checks=spec.bypass and not spec.grandfathered,
            zone=spec.zone,
            availability_set=spec.avset,
            tags={"env": spec.env, "app": app, "team": team, **spec.extra_tags},
            standing=spec.standing,
            assessed_days_ago=None,
            created_days_ago=120 + len(vms) % 200,
        )
        if spec.grandfathered:
            _grandfather(vm, spec)
        vm.agent_reports_revision = spec.os_version_form != "legacy"
        vm.duplicate_kb, vm.assessment_warning = spec.duplicate_kb, spec.assessment_warning
        _seed_history(backend, vm, spec)
        # Deallocated after its history: it ran, was patched, then stopped.
        vm.power = spec.power
        if spec.hot_patch_status is not None:
            refreshed = backend.clock.midnight(1) + dt.timedelta(hours=9)
            vm.hot_patch_status = {**spec.hot_patch_status, "lastRefreshedTime": ts(refreshed)}
        vms.append(vm)
    if count >= SCALE_SET_FLEET:
        from hpctl.sandbox.scalesets import seed_scale_sets

        seed_scale_sets(backend)
        from hpctl.sandbox.maintenance import seed_schedules

        seed_schedules(backend, seed)  # after every VM: schedules are added, no VM is changed
    return vms


def _grandfather(vm: VirtualMachine, spec: Spec) -> None:
    """Put back the settings PUT would refuse now (the VM predates the rule)."""
    if spec.bypass:
        auto = vm.model.patch_settings.setdefault("automaticByPlatformSettings", {})
        auto["bypassPlatformSafetyChecksOnUserSchedule"] = True
    if not spec.agent and vm.model.windows is not None:
        vm.model.windows["provisionVMAgent"] = False


def _seed_history(backend: Backend, vm: VirtualMachine, spec: Spec) -> None:
    """The last installation and assessment a VM in this state would show."""
    state = vm.patch
    if state is None or not vm.agent:
        return
    world, compute, clock = backend.world, backend.compute, backend.clock
    assessed_end = (
        clock.midnight(spec.assessed_days_ago) + dt.timedelta(hours=6)
        if spec.assessed_days_ago is not None
        else None
    )
    if spec.last_install is not None:
        month = world.calendar.month(state.os, state.level.month)
        if spec.last_install == "failed":
            month = world.calendar.month_at(state.os, clock.today)  # this month's update is what failed
        when = dt.datetime.combine(month.date, dt.time(3, 0), tzinfo=dt.timezone.utc) + dt.timedelta(days=2)
        if assessed_end is not None:
            when = min(when, assessed_end - dt.timedelta(hours=2))
        if when <= clock.midnight(0) and when >= clock.midnight(29):
            outcomes: list[tuple[Patch, str]] = []
            if spec.last_install == "failed":
                target = month.track_release if vm.enrolled and month.track_release else month.lcu
                outcomes.append((world.cumulative_patch(target), "Failed"))
                reboot_status = "NotNeeded"
            else:
                outcomes.append((world.cumulative_patch(state.level), "Installed"))
                reboot_status = (
                    "Required"
                    if state.reboot_pending
                    else ("NotNeeded" if state.level.kind == "hotpatch" else "Completed")
                )
            for extra in world.monthly_extras(state.os, month):
                outcomes.append((extra, "Installed" if extra.kind != "definition" else "Excluded"))
            plan = InstallPlan(outcomes, reboot_status == "Completed", reboot_status, False, 25.0)
            start = when - dt.timedelta(minutes=26)
            compute.record_installation(
                vm,
                backend.guids.next(),
                start,
                when,
                plan,
                started_by="Platform" if vm.settings.get("patchMode") == "AutomaticByPlatform" else "User",
            )
    if assessed_end is not None:
        on = min(assessed_end.date(), clock.today)
        patches = world.available(state, vm.enrolled, on)
        started_by = "Platform" if vm.settings.get("assessmentMode") == "AutomaticByPlatform" else "User"
        compute.record_assessment(
            vm,
            backend.guids.next(),
            assessed_end - dt.timedelta(minutes=7, seconds=13),
            assessed_end,
            patches,
            started_by=started_by,
        )


def describe(specs: list[Spec]) -> list[dict[str, Any]]:
    """A plain summary of a planned fleet (for docs and determinism checks)."""
    return [dict(spec.__dict__) for spec in specs]

"""Update Manager schedules: which maintenance configurations each VM is in, from the configurations and their
assignments (static on the VM, or a dynamic scope whose filter the VM matches), and whether a schedule is a
customer-managed one (maintenanceScope InGuestPatch), which hotpatch can't share a VM with.

Facts: hotpatch needs bypassPlatformSafetyChecksOnUserSchedule false, customer-managed schedules need it true
(hotpatch-program.md §1.2, §3, §10.6); the patch mode x bypass x schedule behaviour matrix is azure-docs
articles/update-manager/prerequsite-for-schedule-patching.md; dynamic-scope filters (resource groups,
resource types, locations, OS types, tags with Any/All, each optional) are
articles/update-manager/manage-dynamic-scoping.md and the 2023-04-01 ConfigurationAssignmentsForSubscriptions
spec example. Membership of a dynamic scope is what the filter matches now; Azure evaluates it at run time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

CUSTOMER_MANAGED_SCOPE = "InGuestPatch"
STATIC = "static"
DYNAMIC = "dynamic"


def _lower(value: Any) -> str:
    return str(value or "").lower()


def _region(value: Any) -> str:
    # Filters may name regions as displayed ("Japan East"); ARM ids and VMs use "japaneast".
    return _lower(value).replace(" ", "")


@dataclass(frozen=True)
class Schedule:
    """A maintenance configuration, as Resource Graph's `resources` table (or ARM) shows it."""

    id: str
    name: str
    maintenance_scope: str | None
    recur_every: str | None
    start: str | None
    duration: str | None
    time_zone: str | None

    @property
    def customer_managed(self) -> bool:
        """An Update Manager patch schedule (InGuestPatch), which needs the bypass flag on its VMs."""
        return _lower(self.maintenance_scope) == CUSTOMER_MANAGED_SCOPE.lower()


@dataclass(frozen=True)
class VmSchedule:
    """One schedule one VM is in, and through which assignment."""

    schedule: Schedule
    assignment_id: str
    assignment_name: str
    how: str  # STATIC (assigned to the VM) or DYNAMIC (matched by a dynamic scope's filter)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.schedule.name, "id": self.schedule.id, "assignment": self.assignment_name,
                "assignmentId": self.assignment_id, "how": self.how,
                "maintenanceScope": self.schedule.maintenance_scope,
                "customerManaged": self.schedule.customer_managed, "recurEvery": self.schedule.recur_every}


def schedule_of(row: Mapping[str, Any]) -> Schedule:
    props = row.get("properties") or {}
    window = props.get("maintenanceWindow") or {}
    return Schedule(id=str(row.get("id") or ""), name=str(row.get("name") or ""),
                    maintenance_scope=props.get("maintenanceScope"), recur_every=window.get("recurEvery"),
                    start=window.get("startDateTime"), duration=window.get("duration"),
                    time_zone=window.get("timeZone"))


def _os_type(vm: Mapping[str, Any]) -> str:
    props = vm.get("properties") or {}
    os_type = ((props.get("storageProfile") or {}).get("osDisk") or {}).get("osType")
    if os_type:
        return _lower(os_type)
    os_profile = props.get("osProfile") or {}
    if os_profile.get("windowsConfiguration") is not None:
        return "windows"
    return "linux" if os_profile.get("linuxConfiguration") is not None else ""


def _tags_match(settings: Mapping[str, Any], tags: Mapping[str, Any]) -> bool:
    wanted = settings.get("tags") or {}
    if not wanted:
        return True
    have = {_lower(k): v for k, v in (tags or {}).items()}

    def one(key: str, values: Any) -> bool:
        if _lower(key) not in have:
            return False
        # Tag names compare case-insensitively, values exactly (as Azure does); no values: any value.
        return not values or have[_lower(key)] in list(values)

    results = [one(k, v) for k, v in wanted.items()]
    return any(results) if _lower(settings.get("filterOperator")) == "any" else all(results)


def filter_matches(flt: Mapping[str, Any], vm: Mapping[str, Any]) -> bool:
    """Whether a VM is in a dynamic scope's filter: every filter given must match (within one, any value)."""
    vm_id = str(vm.get("id") or "")
    parts = vm_id.split("/")
    lowered = [p.lower() for p in parts]
    group = parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered else vm.get("resourceGroup")
    checks = (
        ("resourceTypes", _lower, "microsoft.compute/virtualmachines"),
        ("resourceGroups", _lower, _lower(group)),
        ("locations", _region, _region(vm.get("location"))),
        ("osTypes", _lower, _os_type(vm)),
    )
    for key, norm, value in checks:
        allowed = flt.get(key) or []
        if allowed and value not in {norm(a) for a in allowed}:
            return False
    return _tags_match(flt.get("tagSettings") or {}, vm.get("tags") or {})


class ScheduleIndex:
    """Schedules and assignments of one or more subscriptions; answers which schedules a VM is in."""

    def __init__(self, configurations: Iterable[Mapping[str, Any]], assignments: Iterable[Mapping[str, Any]]):
        self.schedules = {s.id.lower(): s for s in (schedule_of(r) for r in configurations)}
        self._static: dict[str, list[Mapping[str, Any]]] = {}
        self._dynamic: list[Mapping[str, Any]] = []
        for row in assignments:
            props = row.get("properties") or {}
            if isinstance(props.get("filter"), dict):
                self._dynamic.append(row)
            elif props.get("resourceId"):
                self._static.setdefault(_lower(props["resourceId"]), []).append(row)

    def _schedule(self, row: Mapping[str, Any]) -> Schedule:
        config_id = str((row.get("properties") or {}).get("maintenanceConfigurationId") or "")
        found = self.schedules.get(config_id.lower())
        if found is not None:
            return found
        # An assignment whose configuration the caller can't read (another subscription, no access): keep
        # its name from the id and leave the rest unknown rather than drop the assignment.
        return Schedule(config_id, config_id.rstrip("/").split("/")[-1], None, None, None, None, None)

    def for_vm(self, vm: Mapping[str, Any]) -> tuple[VmSchedule, ...]:
        """Static assignments on the VM, then dynamic scopes (over its subscription or group) it matches."""
        vm_id = _lower(vm.get("id"))
        out = [VmSchedule(self._schedule(r), str(r.get("id") or ""), str(r.get("name") or ""), STATIC)
               for r in self._static.get(vm_id, [])]
        for row in self._dynamic:
            scope = _lower((row.get("properties") or {}).get("resourceId")).rstrip("/")
            if scope and not vm_id.startswith(scope + "/"):
                continue
            if filter_matches(row["properties"]["filter"], vm):
                out.append(VmSchedule(self._schedule(row), str(row.get("id") or ""), str(row.get("name") or ""),
                                      DYNAMIC))
        return tuple(out)

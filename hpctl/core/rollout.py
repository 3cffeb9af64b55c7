"""Availability-first waves for on-demand installs (Azure gives on-demand installs no such ordering).

Follows what Azure's automatic guest patching does (reference/hotpatch-program.md §3): VMs in different
availability zones are never updated at the same time; in an availability set one update domain at a time,
and within it at most 20% of the set (one VM at a time in sets under 10 VMs); other VMs in batches.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hpctl.errors import InputError

SMALL_SET = 10
SET_FRACTION = 0.2


@dataclass(frozen=True)
class RolloutTarget:
    """A VM and where it sits: zone, availability set and update domain (from its instance view)."""

    id: str
    resource_group: str
    name: str
    zone: str | None = None
    availability_set: str | None = None
    update_domain: int | None = None


@dataclass(frozen=True)
class Wave:
    """VMs patched together; the next wave starts only when this one is done and healthy."""

    number: int
    label: str
    members: tuple[RolloutTarget, ...]


def _chunks(items: list[RolloutTarget], size: int) -> list[list[RolloutTarget]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def plan_waves(targets: Iterable[RolloutTarget], batch_size: int = 10) -> list[Wave]:
    """Zones one at a time (in batches), then each availability set one update domain at a time (capped at
    20% of the set), then VMs in neither, in batches. Deterministic: sorted by name within each group."""
    if batch_size < 1:
        raise InputError(f"--batch-size {batch_size} is too small; use 1 or more VMs per wave.")
    zonal: dict[str, list[RolloutTarget]] = defaultdict(list)
    sets: dict[str, list[RolloutTarget]] = defaultdict(list)
    loose: list[RolloutTarget] = []
    for target in targets:
        if target.zone:
            zonal[target.zone].append(target)
        elif target.availability_set:
            sets[target.availability_set.lower()].append(target)
        else:
            loose.append(target)
    waves: list[tuple[str, list[RolloutTarget]]] = []
    for zone in sorted(zonal):
        members = sorted(zonal[zone], key=lambda t: (t.resource_group.lower(), t.name.lower()))
        batches = _chunks(members, batch_size)
        waves += [(f"zone {zone}" + (f" batch {i + 1}/{len(batches)}" if len(batches) > 1 else ""), b)
                  for i, b in enumerate(batches)]
    for avset in sorted(sets):
        members = sets[avset]
        cap = 1 if len(members) < SMALL_SET else max(1, math.floor(len(members) * SET_FRACTION))
        by_domain: dict[int, list[RolloutTarget]] = defaultdict(list)
        for target in members:
            by_domain[target.update_domain if target.update_domain is not None else -1].append(target)
        name = members[0].availability_set or avset
        for domain in sorted(by_domain):
            ordered = sorted(by_domain[domain], key=lambda t: t.name.lower())
            where = f"update domain {domain}" if domain >= 0 else "update domain unknown"
            batches = _chunks(ordered, min(cap, batch_size))
            waves += [(f"{name} {where}" + (f" batch {i + 1}/{len(batches)}" if len(batches) > 1 else ""), b)
                      for i, b in enumerate(batches)]
    ordered_loose = sorted(loose, key=lambda t: (t.resource_group.lower(), t.name.lower()))
    batches = _chunks(ordered_loose, batch_size)
    waves += [(f"no zone or set batch {i + 1}/{len(batches)}", b) for i, b in enumerate(batches)]
    return [Wave(number=i + 1, label=label, members=tuple(members)) for i, (label, members) in enumerate(waves)]


def health_problem(vm: dict[str, Any], installs: bool = True) -> str | None:
    """Why a VM isn't healthy after its install (None when it is): running, provisioned, install not failed.
    A stopped or deallocated VM is not healthy, whatever its install said. With installs=False (after a
    restart or a rollback, which installed nothing) an earlier failed install doesn't count."""
    view = (vm.get("properties") or {}).get("instanceView") or {}
    codes = [str(s.get("code", "")) for s in view.get("statuses") or []]
    power = next((c.split("/", 1)[1] for c in codes if c.startswith("PowerState/")), None)
    if power not in (None, "running"):
        return f"power state is {power}"
    if any(c.lower().startswith("provisioningstate/failed") for c in codes):
        return "provisioning state is failed"
    install = ((view.get("patchStatus") or {}).get("lastPatchInstallationSummary") or {}).get("status")
    if installs and install == "Failed":
        return "its last installation is Failed"
    return None

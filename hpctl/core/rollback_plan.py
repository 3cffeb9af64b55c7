"""Rolling a VM back to its last known good baseline (hotpatch-program.md §5, §10.5): what to remove, where it
lands, whether the baseline must be installed again, and when hpctl refuses."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from hpctl.core.calendar import Calendar, Release
from hpctl.core.installed import Inventory, ServicingPackage, baselines_present, match, os_line
from hpctl.errors import InputError


class RollbackRefused(InputError):
    """This VM can't be rolled back safely; the message says why and what to do instead (exit 2)."""


@dataclass(frozen=True)
class RollbackPlan:
    """One VM's rollback: remove these packages (newest first), install the baseline if missing, restart."""

    build: str  # the build the VM runs now
    baseline: Release  # the last known good baseline it lands on
    baseline_present: bool
    remove: tuple[ServicingPackage, ...]

    @property
    def install_kb(self) -> str | None:
        """The baseline KB to install with installPatches (kbNumbersToInclude) when it is not on the VM."""
        return None if self.baseline_present else self.baseline.kb

    def as_dict(self) -> dict[str, Any]:
        return {
            "build": self.build,
            "remove": [{"package": p.identity, "build": p.build} for p in self.remove],
            "baseline": {"kb": self.baseline.kb, "build": self.baseline.build, "month": self.baseline.month},
            "baselinePresent": self.baseline_present,
            "installBaseline": self.install_kb,
            "restart": True,
            "landsOn": self.baseline.build,
        }


def _baseline_below(calendar: Calendar, build: str) -> Release | None:
    """The calendar's newest baseline with a build at or below `build` (what a hotpatch sits on)."""
    line = os_line(calendar, build)
    if line is None:
        return None
    ubr = int(build.split(".")[1])
    below = [r for r in line.releases if r.reboot and r.build and (r.ubr or 0) <= ubr]
    return below[-1] if below else None


def plan_rollback(name: str, calendar: Calendar, inventory: Inventory, *, resuming: bool = False) -> RollbackPlan:
    """The rollback of one VM, or RollbackRefused saying why not and what the operator can do instead.

    `resuming`: hpctl's own journal says it already removed packages here, so those packages, now
    'Uninstall Pending', are taken as gone and the plan carries on (restart, verify)."""
    build = inventory.build
    removing = [p for p in inventory.packages if resuming and p.state.lower() == "uninstall pending"]
    if removing:
        inventory = replace(inventory, packages=tuple(p for p in inventory.packages if p not in removing))
    if os_line(calendar, build) is None:
        raise RollbackRefused(f"{name}: build {build} is not Windows Server 2022/2025 Azure Edition; hotpatch "
                              "rollback does not apply (use the OS's own update history).")
    pending = [p for p in inventory.packages if p.state.lower() in ("install pending", "uninstall pending")]
    if pending:
        raise RollbackRefused(f"{name}: {pending[0].identity} is '{pending[0].state}', waiting for a restart; "
                              "restart first (`hpctl restart --reboot-pending`), then plan the rollback again.")
    here = match(calendar, build, package_build=build)
    if here.kind == "not in the calendar":
        raise RollbackRefused(f"{name}: the calendar doesn't know build {build}, so hpctl can't tell its last known "
                              "good baseline; point HPCTL_CALENDAR_FILE at a newer calendar, or roll back by hand.")
    cumulative = sorted((p for p in inventory.packages if p.cumulative and p.present),
                        key=lambda p: int((p.build or "0.0").split(".")[1]))
    newest = cumulative[-1] if cumulative else None
    if newest is not None and not removing and match(calendar, build, package_build=newest.build).kind == "baseline":
        raise RollbackRefused(f"{name}: the newest update is baseline {here.kb or newest.build} itself; removing it "
                              "would leave the VM off the hotpatch track. Restore the VM from a backup taken before "
                              "it, or stay on it and report the problem to Microsoft.")
    present = baselines_present(calendar, inventory)
    baseline = present[-1] if present else _baseline_below(calendar, build)
    if baseline is None:
        raise RollbackRefused(f"{name}: the calendar has no baseline at or below build {build} to return to.")
    above = [p for p in reversed(cumulative) if int((p.build or "0.0").split(".")[1]) > (baseline.ubr or 0)]
    if not above and not removing:
        raise RollbackRefused(f"{name}: nothing is installed above baseline {baseline.kb} ({baseline.build}); the VM "
                              "is already on its last known good baseline. If it still misbehaves, restore it from "
                              "a backup.")
    return RollbackPlan(build, baseline, bool(present) and present[-1] == baseline, tuple(above))

"""What `vm enable-hotpatch` changes on a VM (only what hotpatch needs), the drift it reports but leaves alone,
the schedules it would take the VM out of, and where it (or Azure) refuses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hpctl.core.images import check_image
from hpctl.core.schedules import STATIC, VmSchedule
from hpctl.core.vm_facts import vm_facts
from hpctl.errors import InputError

# What hotpatch needs (hotpatch-program.md §1.2): patchMode AutomaticByPlatform with the VM agent, hotpatch on,
# and the platform's safety checks kept (Azure rejects hotpatch with bypassPlatformSafetyChecksOnUserSchedule).
# Everything else (assessment mode, reboot setting) is the owner's: reported, changed only when asked.
HOTPATCH_MODE = "AutomaticByPlatform"
BYPASS = "automaticByPlatformSettings.bypassPlatformSafetyChecksOnUserSchedule"
REBOOT = "automaticByPlatformSettings.rebootSetting"


class Refusal(InputError):
    """A VM enable-hotpatch won't change (or Azure would refuse): the full reason, and a short one for tables."""

    def __init__(self, message: str, short: str):
        super().__init__(message)
        self.short = short


@dataclass(frozen=True)
class SettingChange:
    setting: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Drift:
    """A setting hotpatch does not need that differs from what hpctl recommends: reported, not changed."""

    setting: str
    value: Any
    recommended: Any
    why: str
    fix: str


@dataclass(frozen=True)
class HotpatchPlan:
    """The PATCH body that turns hotpatch on, the changes it makes, the schedules the VM leaves first, drift."""

    vm_id: str
    name: str
    resource_group: str
    changes: tuple[SettingChange, ...]
    body: dict[str, Any]
    leave: tuple[VmSchedule, ...] = field(default=())
    drift: tuple[Drift, ...] = field(default=())

    @property
    def already_enabled(self) -> bool:
        return not self.changes and not self.leave


def _image_reason(image_ref: dict[str, Any], fallback: str) -> str:
    publisher, offer, sku = image_ref.get("publisher"), image_ref.get("offer"), image_ref.get("sku")
    if publisher and offer and sku:
        verdict = check_image(f"{publisher}:{offer}:{sku}:{image_ref.get('version') or 'latest'}")
        return verdict.reason + (f" Use {verdict.suggestion} for new VMs." if verdict.suggestion else "")
    return f"{fallback} is not a marketplace image; custom and gallery images can't hotpatch."


def _schedule_refusal(name: str, group: str, managed: list[VmSchedule], leave_schedule: bool) -> None:
    """Hotpatch and a customer-managed schedule exclude each other (hotpatch-program.md §1.2, §10.6): refuse,
    unless --leave-schedule and every assignment is the VM's own (a dynamic scope is not hpctl's to edit)."""
    static = [s for s in managed if s.how == STATIC]
    dynamic = [s for s in managed if s.how != STATIC]
    if dynamic:
        scopes = ", ".join(f"{s.assignment_name} (schedule {s.schedule.name})" for s in dynamic)
        raise Refusal(f"{name} is in customer-managed schedule through dynamic scope {scopes}, which hotpatch "
                      "can't share a VM with; hpctl won't edit a scope other VMs share: change the VM's tags or "
                      "the scope's filter so it no longer matches, then rerun.", "in a dynamic schedule scope")
    if not leave_schedule:
        names = ", ".join(s.schedule.name for s in static)
        raise Refusal(f"{name} is assigned to customer-managed schedule {names}, which hotpatch can't share a "
                      f"VM with; rerun with --leave-schedule to remove the assignment (the schedule stays), or "
                      f"keep the schedule and leave hotpatch off (-g {group} -n {name}).",
                      f"in schedule {names} (--leave-schedule)")


def plan_enable_hotpatch(vm: dict[str, Any], reboot_setting: str | None = None,
                         schedules: Iterable[VmSchedule] = (), *, leave_schedule: bool = False) -> HotpatchPlan:
    """The change that turns hotpatch on, or InputError where it can't (or Azure would refuse).

    Only what hotpatch needs changes: patchMode, enableHotpatching, the bypass flag; rebootSetting only when
    asked. A VM in a customer-managed schedule is refused unless leave_schedule, and then the plan removes its
    own (static) assignments first.
    """
    facts = vm_facts(vm)
    props = vm.get("properties") or {}
    if not facts.is_windows:
        raise Refusal(f"{facts.name} is not a Windows VM; hotpatch is for Windows Server Azure Edition.",
                      "not Windows")
    if not facts.eligible:
        image_ref = (props.get("storageProfile") or {}).get("imageReference") or {}
        raise Refusal(f"{facts.name} can't hotpatch: {_image_reason(image_ref, facts.image)} "
                      "Hotpatch needs one of the images `hpctl images list` shows; recreate the VM from one.",
                      "image can't hotpatch")
    if facts.provision_vm_agent is False:
        raise Refusal(
            f"{facts.name} was created without the VM agent (provisionVMAgent false), which hotpatch needs and "
            "which can only be set at creation; recreate the VM with `hpctl vm create`.", "no VM agent")
    win = (props.get("osProfile") or {}).get("windowsConfiguration") or {}
    auto_updates = win.get("enableAutomaticUpdates", True)
    # Azure's transition rules: AutomaticByPlatform<->Manual only with enableAutomaticUpdates false,
    # <->AutomaticByOS only with it true; it can only be set when the VM is created.
    if facts.patch_mode == "Manual" and auto_updates:
        raise Refusal(f"{facts.name} is in Manual patch mode with enableAutomaticUpdates true, which Azure "
                      "won't switch to AutomaticByPlatform; recreate the VM.", "patch mode Azure won't switch")
    if facts.patch_mode == "AutomaticByOS" and not auto_updates:
        raise Refusal(f"{facts.name} is in AutomaticByOS patch mode with enableAutomaticUpdates false, which "
                      "Azure won't switch to AutomaticByPlatform; recreate the VM.", "patch mode Azure won't switch")
    managed = [s for s in schedules if s.schedule.customer_managed]
    if managed:
        _schedule_refusal(facts.name, facts.resource_group, managed, leave_schedule)
    current = dict(win.get("patchSettings") or {})
    auto = dict(current.get("automaticByPlatformSettings") or {})
    wanted: dict[str, Any] = {}
    changes: list[SettingChange] = []
    if facts.patch_mode != HOTPATCH_MODE:
        wanted["patchMode"] = HOTPATCH_MODE
        changes.append(SettingChange("patchMode", facts.patch_mode, HOTPATCH_MODE))
    if not current.get("enableHotpatching"):
        wanted["enableHotpatching"] = True
        changes.append(SettingChange("enableHotpatching", bool(current.get("enableHotpatching")), True))
    platform: dict[str, Any] = {}
    if auto.get("bypassPlatformSafetyChecksOnUserSchedule"):
        platform["bypassPlatformSafetyChecksOnUserSchedule"] = False
        changes.append(SettingChange(BYPASS, True, False))
    if reboot_setting is not None and auto.get("rebootSetting") != reboot_setting:
        platform["rebootSetting"] = reboot_setting
        changes.append(SettingChange(REBOOT, auto.get("rebootSetting"), reboot_setting))
    if platform:
        wanted["automaticByPlatformSettings"] = platform
    drift = []
    if facts.assessment_mode != HOTPATCH_MODE:
        drift.append(Drift("assessmentMode", facts.assessment_mode, HOTPATCH_MODE,
                           "Azure assesses the VM every 24 hours only with AutomaticByPlatform",
                           f"az vm update -g {facts.resource_group} -n {facts.name} --set "
                           "osProfile.windowsConfiguration.patchSettings.assessmentMode=AutomaticByPlatform"))
    body = {"properties": {"osProfile": {"windowsConfiguration": {"patchSettings": wanted}}}} if wanted else {}
    return HotpatchPlan(vm_id=facts.id, name=facts.name, resource_group=facts.resource_group,
                        changes=tuple(changes), body=body, leave=tuple(s for s in managed if s.how == STATIC),
                        drift=tuple(drift))

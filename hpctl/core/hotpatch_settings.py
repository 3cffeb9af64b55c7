"""What `vm enable-hotpatch` changes on a VM, and where Azure's patch-mode rules would refuse it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hpctl.core.images import check_image
from hpctl.core.vm_facts import vm_facts
from hpctl.errors import InputError

# The settings hotpatch needs (BRIEF §1): AutomaticByPlatform with hotpatch on, periodic assessment,
# and the platform's safety checks kept (Azure rejects hotpatch with a customer-managed schedule).
HOTPATCH_MODE = "AutomaticByPlatform"


@dataclass(frozen=True)
class SettingChange:
    setting: str
    before: Any
    after: Any


@dataclass(frozen=True)
class HotpatchPlan:
    """The PATCH body that turns hotpatch on, the changes it makes, and warnings for the operator."""

    vm_id: str
    name: str
    changes: tuple[SettingChange, ...]
    body: dict[str, Any]
    warnings: tuple[str, ...] = field(default=())

    @property
    def already_enabled(self) -> bool:
        return not self.changes


def _image_reason(image_ref: dict[str, Any], fallback: str) -> str:
    publisher, offer, sku = image_ref.get("publisher"), image_ref.get("offer"), image_ref.get("sku")
    if publisher and offer and sku:
        verdict = check_image(f"{publisher}:{offer}:{sku}:{image_ref.get('version') or 'latest'}")
        return verdict.reason + (f" Use {verdict.suggestion} for new VMs." if verdict.suggestion else "")
    return f"{fallback} is not a marketplace image; custom and gallery images can't hotpatch."


def plan_enable_hotpatch(vm: dict[str, Any], reboot_setting: str | None = None) -> HotpatchPlan:
    """Compute the change that turns hotpatch on, or raise InputError where it can't (or Azure would refuse)."""
    facts = vm_facts(vm)
    props = vm.get("properties") or {}
    if not facts.is_windows:
        raise InputError(f"{facts.name} is not a Windows VM; hotpatch is for Windows Server Azure Edition.")
    if not facts.eligible:
        image_ref = (props.get("storageProfile") or {}).get("imageReference") or {}
        raise InputError(f"{facts.name} can't hotpatch: {_image_reason(image_ref, facts.image)}",
                         hint="Hotpatch needs one of the images `hpctl images list` shows; recreate the VM from one.")
    if facts.provision_vm_agent is False:
        raise InputError(
            f"{facts.name} was created without the VM agent (provisionVMAgent false), which hotpatch needs and "
            "which can only be set at creation; recreate the VM with `hpctl vm create`."
        )
    win = (props.get("osProfile") or {}).get("windowsConfiguration") or {}
    auto_updates = win.get("enableAutomaticUpdates", True)
    # Azure's transition rules: AutomaticByPlatform<->Manual only with enableAutomaticUpdates false,
    # <->AutomaticByOS only with it true; it can only be set when the VM is created.
    if facts.patch_mode == "Manual" and auto_updates:
        raise InputError(f"{facts.name} is in Manual patch mode with enableAutomaticUpdates true, which Azure "
                         "won't switch to AutomaticByPlatform; recreate the VM.")
    if facts.patch_mode == "AutomaticByOS" and not auto_updates:
        raise InputError(f"{facts.name} is in AutomaticByOS patch mode with enableAutomaticUpdates false, which "
                         "Azure won't switch to AutomaticByPlatform; recreate the VM.")
    current = dict(win.get("patchSettings") or {})
    auto = dict(current.get("automaticByPlatformSettings") or {})
    wanted_reboot = reboot_setting or auto.get("rebootSetting") or "IfRequired"
    desired = {
        "patchMode": HOTPATCH_MODE,
        "enableHotpatching": True,
        "assessmentMode": "AutomaticByPlatform",
        "automaticByPlatformSettings": {"rebootSetting": wanted_reboot,
                                        "bypassPlatformSafetyChecksOnUserSchedule": False},
    }
    before = {
        "patchMode": facts.patch_mode,
        "enableHotpatching": bool(current.get("enableHotpatching")),
        "assessmentMode": facts.assessment_mode,
        "automaticByPlatformSettings.rebootSetting": auto.get("rebootSetting"),
        "automaticByPlatformSettings.bypassPlatformSafetyChecksOnUserSchedule":
            bool(auto.get("bypassPlatformSafetyChecksOnUserSchedule")),
    }
    after = {
        "patchMode": HOTPATCH_MODE,
        "enableHotpatching": True,
        "assessmentMode": "AutomaticByPlatform",
        "automaticByPlatformSettings.rebootSetting": wanted_reboot,
        "automaticByPlatformSettings.bypassPlatformSafetyChecksOnUserSchedule": False,
    }
    if reboot_setting is None and auto.get("rebootSetting") in (None, "Unknown"):
        after["automaticByPlatformSettings.rebootSetting"] = wanted_reboot
    changes = tuple(SettingChange(k, before[k], after[k]) for k in after if before[k] != after[k])
    warnings = []
    if auto.get("bypassPlatformSafetyChecksOnUserSchedule"):
        warnings.append(f"{facts.name} is on a customer-managed schedule (bypassPlatformSafetyChecksOnUserSchedule); "
                        "hotpatch needs Azure's safety checks, so the schedule's maintenance configuration will no "
                        "longer drive its patching.")
    body = {"properties": {"osProfile": {"windowsConfiguration": {"patchSettings": desired}}}}
    return HotpatchPlan(vm_id=facts.id, name=facts.name, changes=changes, body=body, warnings=tuple(warnings))

"""What the template lint rules read: VMs, scale sets and security rules, whichever IaC format they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


# A value the reader could not work out (an ARM expression it can't evaluate, a Terraform "known after apply").
UNKNOWN = _Unknown()
# A setting the document leaves out (the resource then gets the provider's default).
MISSING = _Missing()
# Every value a setting may take (MISSING among them when it may be absent), or UNKNOWN.
Values = list[Any] | _Unknown


@dataclass(frozen=True)
class Vocabulary:
    """How one format spells each setting, so a finding names what the user wrote and how to fix it there."""

    agent: str
    patch_settings: str
    hotpatch: str
    patch_mode: str
    bypass: str
    assessment: str
    orchestration: str
    add_patch_settings: str
    use_flexible: str
    add_health_extension: str
    narrow_rdp: str


ARM_WORDS = Vocabulary(
    agent="osProfile.windowsConfiguration.provisionVMAgent",
    patch_settings="windowsConfiguration.patchSettings",
    hotpatch="patchSettings.enableHotpatching",
    patch_mode="patchSettings.patchMode",
    bypass="automaticByPlatformSettings.bypassPlatformSafetyChecksOnUserSchedule",
    assessment="patchSettings.assessmentMode",
    orchestration="properties.orchestrationMode",
    add_patch_settings="add patchSettings {patchMode: AutomaticByPlatform, enableHotpatching: true, assessmentMode: "
    "AutomaticByPlatform, automaticByPlatformSettings {bypassPlatformSafetyChecksOnUserSchedule: false}}",
    use_flexible="set properties.orchestrationMode to Flexible (it cannot be changed later: recreate the scale set)",
    add_health_extension="add extension Microsoft.ManagedServices/ApplicationHealthWindows to "
    "virtualMachineProfile.extensionProfile.extensions",
    narrow_rdp="limit sourceAddressPrefix to your own network's CIDR, or reach the VMs through Azure Bastion",
)

TERRAFORM_WORDS = Vocabulary(
    agent="provision_vm_agent",
    patch_settings="patch settings",
    hotpatch="hotpatching_enabled",
    patch_mode="patch_mode",
    bypass="bypass_platform_safety_checks_on_user_schedule_enabled",
    assessment="patch_assessment_mode",
    orchestration="the resource type",
    add_patch_settings="use azurerm_windows_virtual_machine with patch_mode = \"AutomaticByPlatform\", "
    "hotpatching_enabled = true and patch_assessment_mode = \"AutomaticByPlatform\" (azurerm_virtual_machine "
    "cannot set them)",
    use_flexible="use azurerm_orchestrated_virtual_machine_scale_set (Flexible) instead of "
    "azurerm_windows_virtual_machine_scale_set (always Uniform); recreate the scale set",
    add_health_extension="add an extension block (or an azurerm_virtual_machine_scale_set_extension) with publisher "
    "Microsoft.ManagedServices and type ApplicationHealthWindows",
    narrow_rdp="limit source_address_prefix to your own network's CIDR, or reach the VMs through Azure Bastion",
)


@dataclass
class Machine:
    """A VM or scale set: its image and the settings the hotpatch rules look at, as candidate values."""

    label: str
    scale_set: bool
    words: Vocabulary
    # (publisher, offer, sku) candidates; [] when the resource names no marketplace image; UNKNOWN if unreadable.
    images: list[tuple[Any, Any, Any]] | _Unknown = field(default_factory=list)
    custom_image: bool = False  # a custom, gallery or managed image id
    api_version: str | None = None
    agent: Values = field(default_factory=lambda: [MISSING])
    patch_settings: Values = field(default_factory=lambda: [{}])  # MISSING/None entries: no patch settings at all
    hotpatch: Values = field(default_factory=lambda: [MISSING])
    patch_mode: Values = field(default_factory=lambda: [MISSING])
    bypass: Values = field(default_factory=lambda: [MISSING])
    assessment: Values = field(default_factory=lambda: [MISSING])
    orchestration: Values = field(default_factory=lambda: ["Flexible"])
    health_extension: bool = False


@dataclass
class SecurityRule:
    """One NSG rule with every value each field may take."""

    label: str  # the NSG (or rule resource) it belongs to
    name: str
    words: Vocabulary
    direction: list[Any]
    access: list[Any]
    protocol: list[Any]
    ports: list[Any]
    sources: list[Any]


@dataclass
class LintModel:
    """Everything one document declares that the rules check, and what could not be read."""

    machines: list[Machine] = field(default_factory=list)
    rules: list[SecurityRule] = field(default_factory=list)
    unresolved: list[tuple[str, str]] = field(default_factory=list)  # (resource label, what could not be read)

"""Facts about one Arc-connected machine (Microsoft.HybridCompute/machines, Azure Local VMs included) read from
its ARM JSON or Resource Graph row: OS, agent status, hotpatch enrollment, VBS, flags.

The enrollment state follows how Update Manager derives it (hotpatch-program.md §10.3): the Hotpatch feature's
license status (`licenseProfile.productProfile.productFeatures[name=Hotpatch].subscriptionStatus`) and the
machine's `patchSettings.status.hotpatchEnablementStatus`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hpctl.core.vm_facts import _get, resource_group_of

# Windows Server 2025 Standard or Datacenter, build 26100.1742 or later (hotpatch-program.md §1.4, §10.1).
MIN_BUILD = (26100, 1742)
MIN_BUILD_TEXT = "26100.1742"
# OS lines by build number (the first part of osVersion's build).
_LINES = {26100: "2025", 20348: "2022", 17763: "2019", 14393: "2016"}

# Enrollment states, in the words Update Manager shows (§10.3) where it has one.
BUILT_IN = "built-in"  # Datacenter: Azure Edition: hotpatch without Arc enrollment
ENABLED = "enabled"
PENDING = "pending"  # Enabling / Disabling / PendingEvaluation
FAILED = "failed"
ACTION_REQUIRED = "action-required"
CANCELED = "canceled"  # the license was disabled after enrollment
NOT_ENROLLED = "not-enrolled"
NOT_AVAILABLE = "not-available"  # the OS can't hotpatch through Arc

# ARM has no VBS field: the only sign of it is the error an enrollment attempt leaves behind. Read loosely
# (code or message naming VBS / Virtual Secure Mode) [inferred; no real error text is known, §10.2].
_VBS = re.compile(r"(?<![a-z])(vbs|vsm)(?![a-z])|virtuali[sz]ation[- _]?based[- _]?security"
                  r"|virtual[- _]?secure[- _]?mode", re.IGNORECASE)


def parse_build(os_version: Any) -> tuple[int, int] | None:
    """(26100, 32772) from "10.0.26100.32772" (or a "Microsoft Windows NT " prefixed form); None if absent."""
    if not isinstance(os_version, str):
        return None
    numbers = re.findall(r"\d+", os_version)
    if len(numbers) < 3:
        return None
    build = int(numbers[2])
    ubr = int(numbers[3]) if len(numbers) > 3 else 0
    return (build, ubr)


def edition_of(os_sku: Any, os_edition: Any) -> str | None:
    """Standard, Datacenter or AzureEdition from osEdition (edition id, any case) or osSku, else None."""
    for text in (os_edition, os_sku):
        value = re.sub(r"[^a-z]", "", str(text or "").lower())
        if not value:
            continue
        if "azureedition" in value:
            return "AzureEdition"
        if "datacenter" in value:
            return "Datacenter"
        if "standard" in value:
            return "Standard"
    return None


def mentions_vbs(error: Any) -> bool:
    """Whether an error object (code, message, details) is about virtualization-based security."""
    if not isinstance(error, dict):
        return False
    texts = [str(error.get("code") or ""), str(error.get("message") or "")]
    texts += [f"{d.get('code') or ''} {d.get('message') or ''}" for d in error.get("details") or []
              if isinstance(d, dict)]
    return any(_VBS.search(text) for text in texts)


@dataclass(frozen=True)
class ArcFacts:
    """What hpctl needs to know about an Arc machine, whichever API (HybridCompute or Resource Graph) it came from."""

    id: str
    name: str
    resource_group: str
    location: str
    tags: dict[str, str]
    os_sku: str | None
    os_version: str | None
    os_line: str | None  # "2025", "2022", … from the build
    build: tuple[int, int] | None
    edition: str | None  # Standard | Datacenter | AzureEdition
    is_windows: bool
    agent_status: str | None  # Connected | Disconnected | Error | Expired
    last_status_change: str | None
    azure_local: bool
    patch_mode: str | None
    assessment_mode: str | None
    hotpatch_enablement: str | None  # patchSettings.status.hotpatchEnablementStatus
    enablement_error: dict[str, Any] | None
    license_status: str | None  # the Hotpatch feature's subscriptionStatus (product's when no feature listed)
    enrollment: str  # one of the states above
    flags: tuple[str, ...] = field(default=())

    @property
    def connected(self) -> bool:
        return (self.agent_status or "").lower() == "connected"

    @property
    def built_in(self) -> bool:
        """Windows Server 2025 Datacenter: Azure Edition: hotpatch is on without Arc enrollment (§10.1)."""
        return self.os_line == "2025" and self.edition == "AzureEdition"

    @property
    def capable(self) -> bool:
        """Can enroll through Arc: Windows Server 2025 Standard or Datacenter at the minimum build."""
        return (self.os_line == "2025" and self.edition in ("Standard", "Datacenter")
                and self.build is not None and self.build >= MIN_BUILD)

    @property
    def eligible(self) -> bool:
        """Can hotpatch at all (enrolled through Arc or built in): the 'eligible' column VMs have."""
        return self.capable or self.built_in

    @property
    def hotpatch(self) -> bool:
        """Hotpatching: enrolled through Arc, or Azure Edition (built in)."""
        return self.enrollment in (ENABLED, BUILT_IN)

    @property
    def vbs_not_running(self) -> bool:
        return mentions_vbs(self.enablement_error)


def _hotpatch_feature(props: dict[str, Any]) -> tuple[str | None, str | None]:
    """(feature status, product status) from licenseProfile (instance view) or a license profile body."""
    product = _get(props, "licenseProfile", "productProfile") or _get(props, "productProfile") or {}
    if not isinstance(product, dict):
        return None, None
    feature = next((f for f in product.get("productFeatures") or []
                    if isinstance(f, dict) and str(f.get("name", "")).lower() == "hotpatch"), None)
    return (feature or {}).get("subscriptionStatus"), product.get("subscriptionStatus")


def enrollment_state(*, built_in: bool, capable: bool, license_status: str | None, enablement: str | None,
                     enable_hotpatching: bool) -> str:
    """The enrollment state as Update Manager shows it (§10.3): Azure Edition is built in; then ActionRequired,
    the license status (Enabled, Failed, Enabling/Disabling = pending, Disabled = canceled), the enablement
    status when the read carried no license profile, and finally not enrolled / not available."""
    if built_in:
        return BUILT_IN
    status = (license_status or "").lower()
    enable = (enablement or "").lower()
    if enable == "actionrequired":
        return ACTION_REQUIRED
    if status == "failed":
        return FAILED
    if status in ("enabling", "disabling") or enable == "pendingevaluation":
        return PENDING
    if status == "enabled" or (not status and enable == "enabled" and enable_hotpatching):
        return ENABLED
    if status == "disabled":
        return CANCELED
    return NOT_ENROLLED if capable else NOT_AVAILABLE


def arc_facts(machine: dict[str, Any]) -> ArcFacts:
    """Read an Arc machine's ARM JSON (GET, list, or a Resource Graph `resources` row)."""
    props = machine.get("properties") or {}
    os_version = props.get("osVersion")
    build = parse_build(os_version)
    os_line = _LINES.get(build[0]) if build else None
    if os_line is None:
        match = re.search(r"\b(2016|2019|2022|2025)\b", str(props.get("osSku") or ""))
        os_line = match.group(1) if match else None
    edition = edition_of(props.get("osSku"), props.get("osEdition"))
    patch = _get(props, "osProfile", "windowsConfiguration", "patchSettings") or {}
    status = patch.get("status") or {}
    feature, product = _hotpatch_feature(props)
    os_type = str(props.get("osType") or props.get("osName") or "").lower()
    is_windows = os_type.startswith("windows") or (not os_type and bool(props.get("osSku")))
    machine_id = machine.get("id", "")
    capable = (os_line == "2025" and edition in ("Standard", "Datacenter") and build is not None
               and build >= MIN_BUILD)
    built_in = os_line == "2025" and edition == "AzureEdition"
    facts = ArcFacts(
        id=machine_id,
        name=machine.get("name", ""),
        resource_group=machine.get("resourceGroup") or resource_group_of(machine_id),
        location=machine.get("location", ""),
        tags=dict(machine.get("tags") or {}),
        os_sku=props.get("osSku"),
        os_version=os_version,
        os_line=os_line,
        build=build,
        edition=edition,
        is_windows=is_windows,
        agent_status=props.get("status"),
        last_status_change=props.get("lastStatusChange"),
        azure_local=bool(props.get("parentClusterResourceId")) or str(machine.get("kind") or "").upper() == "HCI",
        patch_mode=patch.get("patchMode"),
        assessment_mode=patch.get("assessmentMode"),
        hotpatch_enablement=status.get("hotpatchEnablementStatus"),
        enablement_error=status.get("error") if isinstance(status.get("error"), dict) else None,
        license_status=feature or product,
        enrollment=enrollment_state(built_in=built_in, capable=capable, license_status=feature or product,
                                    enablement=status.get("hotpatchEnablementStatus"),
                                    enable_hotpatching=bool(patch.get("enableHotpatching"))),
    )
    return ArcFacts(**{**facts.__dict__, "flags": tuple(arc_flags(facts))})


def arc_flags(f: ArcFacts) -> list[str]:
    """Short flags shown next to an Arc machine that is assessed/installed but won't hotpatch as it is."""
    flags = []
    if not f.connected:
        flags.append(f"agent-{(f.agent_status or 'unknown').lower()}")
    if f.enrollment == NOT_AVAILABLE:
        flags.append("os-not-eligible")
    elif f.enrollment in (NOT_ENROLLED, CANCELED):
        flags.append("hotpatch-not-enrolled")
    elif f.enrollment in (PENDING, FAILED, ACTION_REQUIRED):
        flags.append(f"enrollment-{f.enrollment}")
    if f.vbs_not_running:
        flags.append("vbs-not-running")
    if f.azure_local:
        flags.append("azure-local")
    return flags

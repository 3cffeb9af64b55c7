"""Facts about one VM read from its ARM JSON (model and instance view): image, patch settings, flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from hpctl.core.images import is_eligible_image


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def parse_time(value: Any) -> datetime | None:
    """Azure timestamps come with 7 fractional digits and local offsets (-04:00): normalise to UTC."""
    if not value:
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        head, dot, rest = text.partition(".")
        if dot:
            # Python <3.11 parses exactly 3 or 6 fractional digits (ARM sends 1 to 7); keep the offset.
            digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
            offset = rest[len(digits) :]
            text = f"{head}.{digits[:6].ljust(6, '0')}{offset}"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def iso(value: Any) -> str | None:
    dt = parse_time(value)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


def resource_group_of(resource_id: str) -> str:
    parts = resource_id.split("/")
    lowered = [p.lower() for p in parts]
    return parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered else ""


@dataclass(frozen=True)
class VmFacts:
    """What hpctl needs to know about a VM, whichever API (Compute or Resource Graph) it came from."""

    id: str
    name: str
    resource_group: str
    location: str
    zones: tuple[str, ...]
    tags: dict[str, str]
    image: str
    publisher: str | None
    offer: str | None
    sku: str | None
    eligible: bool
    is_windows: bool
    provision_vm_agent: bool | None
    patch_mode: str | None
    hotpatch: bool
    assessment_mode: str | None
    reboot_setting: str | None
    bypass_safety_checks: bool
    availability_set: str | None
    flags: tuple[str, ...] = field(default=())

    @property
    def os_line(self) -> str | None:
        """"2022" or "2025" for an eligible image (its SKU starts with the OS line), else None."""
        head = (self.sku or "").split("-", 1)[0]
        return head if self.eligible and head in ("2022", "2025") else None


def power_state(instance_view: Any) -> str | None:
    """"running", "deallocated", … from an instance view's statuses (Compute) or powerState (Resource Graph)."""
    if not isinstance(instance_view, dict):
        return None
    codes = [s.get("code") for s in instance_view.get("statuses") or [] if isinstance(s, dict)]
    graph = instance_view.get("powerState")
    if isinstance(graph, dict):
        codes.append(graph.get("code"))
    for code in codes:
        if isinstance(code, str) and code.lower().startswith("powerstate/"):
            return code.split("/", 1)[1].lower()
    return None


def vm_facts(vm: dict[str, Any]) -> VmFacts:
    """Read a VM's ARM JSON. Missing patchMode on Windows is AutomaticByOS, as Azure defaults it."""
    props = vm.get("properties", {}) or {}
    image_ref = _get(props, "storageProfile", "imageReference") or {}
    publisher, offer, sku = image_ref.get("publisher"), image_ref.get("offer"), image_ref.get("sku")
    if publisher and offer and sku:
        image = f"{publisher}:{offer}:{sku}:{image_ref.get('version') or 'latest'}"
    else:
        image = (
            image_ref.get("id")
            or image_ref.get("sharedGalleryImageId")
            or image_ref.get("communityGalleryImageId")
            or "unknown"
        )
    win = _get(props, "osProfile", "windowsConfiguration")
    is_windows = win is not None or (_get(props, "storageProfile", "osDisk", "osType") == "Windows")
    win = win or {}
    patch = win.get("patchSettings") or {}
    auto = patch.get("automaticByPlatformSettings") or {}
    patch_mode = patch.get("patchMode")
    if patch_mode is None and is_windows:
        patch_mode = "AutomaticByOS" if win.get("enableAutomaticUpdates", True) else "Manual"
    eligible = bool(publisher and offer and sku and is_eligible_image(publisher, offer, sku))
    vm_id = vm.get("id", "")
    facts = VmFacts(
        id=vm_id,
        name=vm.get("name", ""),
        resource_group=resource_group_of(vm_id),
        location=vm.get("location", ""),
        zones=tuple(vm.get("zones") or ()),
        tags=dict(vm.get("tags") or {}),
        image=image,
        publisher=publisher,
        offer=offer,
        sku=sku,
        eligible=eligible,
        is_windows=is_windows,
        provision_vm_agent=win.get("provisionVMAgent", True) if is_windows else None,
        patch_mode=patch_mode,
        hotpatch=bool(patch.get("enableHotpatching")),
        assessment_mode=patch.get("assessmentMode") or ("ImageDefault" if is_windows else None),
        reboot_setting=auto.get("rebootSetting"),
        bypass_safety_checks=bool(auto.get("bypassPlatformSafetyChecksOnUserSchedule")),
        availability_set=(_get(props, "availabilitySet", "id") or None),
    )
    return VmFacts(**{**facts.__dict__, "flags": tuple(patching_flags(facts))})


def patching_flags(f: VmFacts) -> list[str]:
    """Short flags shown next to a VM that is assessed/installed but won't hotpatch as it is."""
    flags = []
    if not f.eligible:
        flags.append("image-not-eligible")
    if f.patch_mode != "AutomaticByPlatform":
        flags.append(f"patch-mode-{(f.patch_mode or 'unknown')}")
    if f.eligible and not f.hotpatch:
        flags.append("hotpatch-off")
    if f.hotpatch and f.bypass_safety_checks:
        flags.append("bypass-safety-checks-on")
    if f.provision_vm_agent is False:
        flags.append("vm-agent-off")
    return flags

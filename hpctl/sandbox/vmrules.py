"""Azure's rules for a VM model on PUT/PATCH: defaults, patch-setting constraints, exact 400 messages."""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from hpctl.sandbox.armerrors import (
    ArmError,
    invalid_parameter,
    missing_parameter,
    property_change_not_allowed,
)
from hpctl.sandbox.images import ImageCatalog, Sku, normalize_location

# Messages exactly as real ARM sends them (azure-wire.md §4.4).
MSG_HOTPATCH_REQUIRES = (
    "EnableHotpatching cannot be set to true. For enableHotpatching, the 'provisionVMAgent' must "
    "be set to true and 'patchMode' must be set to 'AutomaticByPlatform'."
)
MSG_PATCHSETTINGS_REQUIRED = "PatchSettings must be specified for hotpatch compatible VMs."
MSG_HOTPATCH_BYPASS = (
    "Hotpatch updates require platform safety checks. The 'BypassPlatformSafetyChecksOnUserSchedule' "
    "flag must be set to false to enable hotpatching."
)
# NOT verbatim: Azure's text for enableHotpatching on an image that can't hotpatch was not found in the
# reference, the spec examples or the recordings (azure-wire.md §4.4 "Not found"); the code and the rule are
# Azure's (only the hotpatch-compatible images can hotpatch; hotpatch-program.md §1.1).
MSG_HOTPATCH_IMAGE = (
    "EnableHotpatching cannot be set to true. Hotpatching is supported only on Hotpatch-compatible images "
    "(Windows Server Datacenter: Azure Edition)."
)
TARGET_HOTPATCH = "windowsConfiguration.patchSettings.enableHotpatching"
TARGET_PATCHMODE = "windowsConfiguration.patchSettings.patchMode"

PATCH_MODES = ("Manual", "AutomaticByOS", "AutomaticByPlatform")
ASSESSMENT_MODES = ("ImageDefault", "AutomaticByPlatform")
REBOOT_SETTINGS = ("Unknown", "IfRequired", "Never", "Always")

# CRP rejects these as admin user names ("The Admin Username specified is not allowed.").
DISALLOWED_USERNAMES = {
    "administrator",
    "admin",
    "user",
    "user1",
    "test",
    "user2",
    "test1",
    "user3",
    "admin1",
    "1",
    "123",
    "a",
    "actuser",
    "adm",
    "admin2",
    "aspnet",
    "backup",
    "console",
    "david",
    "guest",
    "john",
    "owner",
    "root",
    "server",
    "sql",
    "support",
    "support_388945a0",
    "sys",
    "test2",
    "test3",
    "user4",
    "user5",
}
DISALLOWED_PASSWORDS = {
    "abc@123",
    "p@$$w0rd",
    "p@ssw0rd",
    "p@ssword123",
    "pa$$word",
    "pass@word1",
    "password!",
    "password1",
    "password22",
    "iloveyou!",
}
MSG_PASSWORD = (
    "The supplied password must be between 8-123 characters long and must satisfy at least 3 of password "
    "complexity requirements from the following:\r\n1) Contains an uppercase character\r\n2) Contains a "
    "lowercase character\r\n3) Contains a numeric digit\r\n4) Contains a special character\r\n5) Control "
    "characters are not allowed"
)
MSG_COMPUTER_NAME = (
    "Windows computer name cannot be more than 15 characters long, be entirely numeric, or contain "
    "the following characters: ` ~ ! @ # $ % ^ & * ( ) = + _ [ ] { } \\ | ; : . ' \" , < > / ?."
)
_BAD_COMPUTER_NAME = re.compile(r"[`~!@#$%^&*()=+_\[\]{}\\|;:.'\",<>/?]")


@dataclass
class VmModel:
    """A validated VM model: what the sandbox stores and echoes back (never a password)."""

    location: str
    tags: dict[str, str]
    zones: list[str] | None
    properties: dict[str, Any]
    sku: Sku | None  # the marketplace SKU, when the image is one
    exact_version: str | None
    gallery_image: str | None

    @property
    def windows(self) -> dict[str, Any] | None:
        return self.properties.get("osProfile", {}).get("windowsConfiguration")

    @property
    def patch_settings(self) -> dict[str, Any]:
        return (self.windows or {}).get("patchSettings", {})


def _type_error(value: Any, type_name: str, path: str) -> ArmError:
    return ArmError(
        400,
        "InvalidRequestContent",
        f"The request content was invalid and could not be deserialized: 'Error converting value "
        f"{value!r} to type '{type_name}'. Path '{path}'.'.",
    )


def _obj(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _type_error(value, "Object", path)
    return value


def _str(value: Any, path: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise _type_error(value, "System.String", path)


def _bool(value: Any, path: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise _type_error(value, "System.Nullable`1[System.Boolean]", path)


def _enum(value: Any, allowed: tuple[str, ...], name: str, target: str) -> str | None:
    if value is None:
        return None
    for option in allowed:
        if isinstance(value, str) and value.lower() == option.lower():
            return option
    raise invalid_parameter(
        f"The value '{value}' of parameter '{name}' is not valid. Allowed values are: {', '.join(allowed)}.",
        target=target,
    )


def merge_patch(base: Any, patch: Any) -> Any:
    """JSON merge patch (RFC 7386), as ARM applies a PATCH body to a resource."""
    if not isinstance(patch, dict) or not isinstance(base, dict):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def check_password(password: Any) -> None:
    if not isinstance(password, str):
        raise missing_parameter("adminPassword")
    classes = sum(
        [
            any(c.isupper() for c in password),
            any(c.islower() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
    )
    control = any(ord(c) < 32 for c in password)
    if not 8 <= len(password) <= 123 or classes < 3 or control or password.lower() in DISALLOWED_PASSWORDS:
        raise invalid_parameter(MSG_PASSWORD, target="adminPassword")


def normalize_vm(
    name: str, body: Any, existing: VmModel | None, images: ImageCatalog, *, require_password: bool = True
) -> VmModel:
    """Validate a PUT body (or a PATCH merged onto the stored model) the way CRP does, and fill defaults."""
    if not isinstance(body, dict):
        raise ArmError(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'Expected an object.'.",
        )
    location_raw = body.get("location")
    if existing is None:
        if not isinstance(location_raw, str) or not location_raw.strip():
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        location = normalize_location(location_raw)
        if location not in images.regions:
            raise ArmError(
                400,
                "LocationNotAvailableForResourceType",
                f"The provided location '{location_raw}' is not available for resource type "
                f"'Microsoft.Compute/virtualMachines'. List of available regions for the resource type "
                f"is '{','.join(images.regions)}'.",
            )
    else:
        location = existing.location
        if isinstance(location_raw, str) and normalize_location(location_raw) != existing.location:
            raise ArmError(
                400,
                "InvalidResourceLocation",
                f"The resource '{name}' already exists in location '{existing.location}' in resource "
                f"group. A resource with the same name cannot be created in location "
                f"'{normalize_location(location_raw)}'. Please select a new resource name.",
            )
    tags = _obj(body.get("tags"), "tags")
    if any(not isinstance(v, str) for v in tags.values()):
        raise _type_error(next(v for v in tags.values() if not isinstance(v, str)), "System.String", "tags")
    zones = body.get("zones")
    if zones is not None:
        if not isinstance(zones, list) or any(z not in ("1", "2", "3") for z in zones):
            raise invalid_parameter(
                f"The value '{zones}' of parameter 'zones' is not valid. Allowed values are "
                "'1', '2' and '3'.",
                target="zones",
            )
    if existing is not None and (zones or None) != (existing.zones or None) and "zones" in body:
        raise property_change_not_allowed("zones")
    props = copy.deepcopy(_obj(body.get("properties"), "properties"))
    for read_only in ("provisioningState", "vmId", "instanceView", "timeCreated"):
        props.pop(read_only, None)

    hardware = _obj(props.get("hardwareProfile"), "properties.hardwareProfile")
    if not isinstance(hardware.get("vmSize"), str) or not hardware["vmSize"]:
        raise missing_parameter("vmSize")

    storage = _obj(props.get("storageProfile"), "properties.storageProfile")
    image = _obj(storage.get("imageReference"), "properties.storageProfile.imageReference")
    if not image:
        raise missing_parameter("storageProfile.imageReference")
    sku: Sku | None = None
    exact: str | None = None
    gallery: str | None = None
    if image.get("id"):
        gallery = str(image["id"])
        image = {"id": gallery}
    else:
        for key in ("publisher", "offer", "sku", "version"):
            if not isinstance(image.get(key), str) or not image[key]:
                raise missing_parameter(f"imageReference.{key}")
        if existing is not None:
            old = existing.properties["storageProfile"]["imageReference"]
            same = all(
                str(old.get(k, "")).lower() == str(image.get(k, "")).lower()
                for k in ("publisher", "offer", "sku", "version")
            )
            if not same:
                raise property_change_not_allowed("imageReference")
            sku, exact = existing.sku, existing.exact_version
        else:
            sku, exact = images.resolve(
                location, image["publisher"], image["offer"], image["sku"], image["version"]
            )
        image = {
            "publisher": image["publisher"],
            "offer": image["offer"],
            "sku": image["sku"],
            "version": image["version"],
            "exactVersion": exact,
        }
    if existing is not None and gallery is not None:
        old_id = existing.properties["storageProfile"]["imageReference"].get("id", "")
        if old_id.lower() != gallery.lower():
            raise property_change_not_allowed("imageReference")
    is_windows = (sku.is_windows if sku else True) and "linuxConfiguration" not in _obj(
        props.get("osProfile"), "properties.osProfile"
    )

    os_disk = _obj(storage.get("osDisk"), "properties.storageProfile.osDisk")
    disk_path = "properties.storageProfile.osDisk"
    managed = _obj(os_disk.get("managedDisk"), f"{disk_path}.managedDisk")
    size = os_disk.get("diskSizeGB")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 32767):
        raise invalid_parameter(
            f"The value '{size}' of parameter 'diskSizeGB' is not valid.", target="diskSizeGB"
        )
    disk = {
        "osType": "Windows" if is_windows else "Linux",
        "name": _str(os_disk.get("name"), f"{disk_path}.name") or f"{name}_OsDisk_1_{hash_name(name):032x}",
        "createOption": _str(os_disk.get("createOption"), f"{disk_path}.createOption") or "FromImage",
        "caching": _str(os_disk.get("caching"), f"{disk_path}.caching") or "ReadWrite",
        "managedDisk": {
            "storageAccountType": _str(managed.get("storageAccountType"), f"{disk_path}.managedDisk")
            or "Premium_LRS"
        },
        "deleteOption": _str(os_disk.get("deleteOption"), f"{disk_path}.deleteOption") or "Detach",
        "diskSizeGB": size or (sku.disk_gb if sku else 127),
    }
    data_disks = storage.get("dataDisks") or []
    if not isinstance(data_disks, list) or any(not isinstance(d, dict) for d in data_disks):
        raise _type_error(data_disks, "DataDisk[]", "properties.storageProfile.dataDisks")
    storage_out = {"imageReference": image, "osDisk": disk, "dataDisks": data_disks}
    for key, value in storage.items():
        if key not in storage_out:
            storage_out[key] = value

    os_profile = _obj(props.get("osProfile"), "properties.osProfile")
    if existing is None:
        username = os_profile.get("adminUsername")
        if not isinstance(username, str) or not username:
            raise missing_parameter("adminUsername")
        if username.lower() in DISALLOWED_USERNAMES or len(username) > 20:
            raise invalid_parameter("The Admin Username specified is not allowed.", target="adminUsername")
        if is_windows and require_password:
            check_password(os_profile.get("adminPassword"))
    else:
        old_profile = existing.properties["osProfile"]
        for key in ("adminUsername", "computerName"):
            if key in os_profile and os_profile[key] != old_profile.get(key):
                raise property_change_not_allowed(key)
        os_profile = {**old_profile, **{k: v for k, v in os_profile.items() if k != "adminPassword"}}
    computer = _str(os_profile.get("computerName"), "properties.osProfile.computerName") or name[:15]
    if is_windows and (len(computer) > 15 or computer.isdigit() or _BAD_COMPUTER_NAME.search(computer)):
        raise invalid_parameter(MSG_COMPUTER_NAME, target="computerName")
    profile_out: dict[str, Any] = {"computerName": computer, "adminUsername": os_profile.get("adminUsername")}
    if is_windows:
        profile_out["windowsConfiguration"] = _windows_configuration(
            _obj(os_profile.get("windowsConfiguration"), "properties.osProfile.windowsConfiguration"),
            bool(sku and sku.hotpatch),
            existing,
        )
    else:
        profile_out["linuxConfiguration"] = os_profile.get("linuxConfiguration") or {}
    profile_out["secrets"] = os_profile.get("secrets") or []
    profile_out["allowExtensionOperations"] = os_profile.get("allowExtensionOperations", True)
    profile_out["requireGuestProvisionSignal"] = True

    network = _obj(props.get("networkProfile"), "properties.networkProfile")
    out: dict[str, Any] = {"hardwareProfile": hardware}
    if props.get("availabilitySet"):
        av_id = (
            _str(
                _obj(props["availabilitySet"], "properties.availabilitySet").get("id"),
                "properties.availabilitySet.id",
            )
            or ""
        )
        # CRP echoes availability set ids in upper case.
        out["availabilitySet"] = {"id": upper_resource_id(av_id)}
    out["storageProfile"] = storage_out
    out["osProfile"] = profile_out
    out["networkProfile"] = network or {"networkInterfaces": []}
    for key, value in props.items():
        if key not in out and key not in (
            "hardwareProfile",
            "storageProfile",
            "osProfile",
            "networkProfile",
            "availabilitySet",
        ):
            out[key] = value
    return VmModel(location, dict(tags), list(zones) if zones else None, out, sku, exact, gallery)


def _windows_configuration(
    given: dict[str, Any], hotpatch_image: bool, existing: VmModel | None
) -> dict[str, Any]:
    base = "properties.osProfile.windowsConfiguration"
    agent = _bool(given.get("provisionVMAgent"), f"{base}.provisionVMAgent")
    updates = _bool(given.get("enableAutomaticUpdates"), f"{base}.enableAutomaticUpdates")
    if existing is not None and existing.windows is not None:
        old = existing.windows
        if updates is not None and updates != old.get("enableAutomaticUpdates"):
            # enableAutomaticUpdates is settable only at creation.
            raise property_change_not_allowed("windowsConfiguration.enableAutomaticUpdates")
        if agent is not None and agent != old.get("provisionVMAgent"):
            raise property_change_not_allowed("windowsConfiguration.provisionVMAgent")
        updates = old.get("enableAutomaticUpdates") if updates is None else updates
        agent = old.get("provisionVMAgent") if agent is None else agent
    agent = True if agent is None else agent
    updates = True if updates is None else updates

    if given.get("patchSettings") is None:
        if hotpatch_image:
            raise invalid_parameter(MSG_PATCHSETTINGS_REQUIRED)
        settings: dict[str, Any] = {}
    else:
        settings = _obj(given["patchSettings"], f"{base}.patchSettings")
    mode = _enum(settings.get("patchMode"), PATCH_MODES, "patchMode", TARGET_PATCHMODE)
    mode = mode or ("AutomaticByOS" if updates else "Manual")
    assessment = (
        _enum(
            settings.get("assessmentMode"),
            ASSESSMENT_MODES,
            "assessmentMode",
            "windowsConfiguration.patchSettings.assessmentMode",
        )
        or "ImageDefault"
    )
    hotpatch = _bool(settings.get("enableHotpatching"), f"{base}.patchSettings.enableHotpatching")
    by_platform = _obj(
        settings.get("automaticByPlatformSettings"), f"{base}.patchSettings.automaticByPlatformSettings"
    )
    bypass = _bool(
        by_platform.get("bypassPlatformSafetyChecksOnUserSchedule"),
        f"{base}.patchSettings.automaticByPlatformSettings.bypassPlatformSafetyChecksOnUserSchedule",
    )
    reboot = _enum(
        by_platform.get("rebootSetting"),
        REBOOT_SETTINGS,
        "rebootSetting",
        "windowsConfiguration.patchSettings.automaticByPlatformSettings.rebootSetting",
    )

    if hotpatch and not hotpatch_image:
        raise invalid_parameter(MSG_HOTPATCH_IMAGE, target=TARGET_HOTPATCH)
    if hotpatch and (not agent or mode != "AutomaticByPlatform"):
        raise invalid_parameter(MSG_HOTPATCH_REQUIRES, target=TARGET_HOTPATCH)
    if hotpatch and bypass:
        raise invalid_parameter(MSG_HOTPATCH_BYPASS)
    if mode == "AutomaticByOS" and not updates:
        raise invalid_parameter(
            "The patchMode 'AutomaticByOS' is invalid. For patchMode 'AutomaticByOS', the property "
            "'enableAutomaticUpdates' must be set to true.",
            target=TARGET_PATCHMODE,
        )
    if mode == "Manual" and updates:
        # Symmetric to the AutomaticByOS message (the real text for Manual is inferred, not captured).
        raise invalid_parameter(
            "The patchMode 'Manual' is invalid. For patchMode 'Manual', the property "
            "'enableAutomaticUpdates' must be set to false.",
            target=TARGET_PATCHMODE,
        )
    if mode == "AutomaticByPlatform" and not agent:
        # Inferred wording: AutomaticByPlatform needs the VM agent (automatic-vm-guest-patching requirements).
        raise invalid_parameter(
            "The patchMode 'AutomaticByPlatform' is invalid. For patchMode 'AutomaticByPlatform', "
            "the property 'provisionVMAgent' must be set to true.",
            target=TARGET_PATCHMODE,
        )
    if assessment == "AutomaticByPlatform" and not agent:
        raise invalid_parameter(
            "The assessmentMode 'AutomaticByPlatform' is invalid. For assessmentMode "
            "'AutomaticByPlatform', the property 'provisionVMAgent' must be set to true.",
            target="windowsConfiguration.patchSettings.assessmentMode",
        )

    patch_out: dict[str, Any] = {"patchMode": mode}
    if mode == "AutomaticByPlatform":
        platform_out: dict[str, Any] = {}
        if reboot is not None:
            platform_out["rebootSetting"] = reboot
        platform_out["bypassPlatformSafetyChecksOnUserSchedule"] = bool(bypass)
        patch_out["automaticByPlatformSettings"] = platform_out
    patch_out["assessmentMode"] = assessment
    if hotpatch is not None:
        patch_out["enableHotpatching"] = hotpatch
    out: dict[str, Any] = {
        "provisionVMAgent": agent,
        "enableAutomaticUpdates": updates,
        "patchSettings": patch_out,
    }
    for key, value in given.items():
        if key not in out:
            out[key] = value
    return out


def hash_name(name: str) -> int:
    """A stable 128-bit number from a name (disk names, like CRP's random suffixes, but reproducible)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:16], "big")


def upper_resource_id(resource_id: str) -> str:
    """CRP's habit for availability set ids: group and name in upper case."""
    match = re.match(
        r"(?i)^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.Compute/"
        r"availabilitySets/([^/]+)$",
        resource_id,
    )
    if not match:
        return resource_id
    subscription, group, name = match.groups()
    return (
        f"/subscriptions/{subscription}/resourceGroups/{group.upper()}"
        f"/providers/Microsoft.Compute/availabilitySets/{name.upper()}"
    )

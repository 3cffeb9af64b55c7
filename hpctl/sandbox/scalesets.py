"""Microsoft.Compute scale sets: PUT/PATCH/GET/list, orchestration modes, Azure's hotpatch rules for them."""

from __future__ import annotations

import copy
import datetime as dt
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hpctl.sandbox.armerrors import (
    ArmError,
    conflict,
    invalid_parameter,
    missing_parameter,
    property_change_not_allowed,
    resource_not_found,
)
from hpctl.sandbox.clock import SimClock, ts
from hpctl.sandbox.compute import Compute
from hpctl.sandbox.ids import GuidStream, stable_guid
from hpctl.sandbox.images import ImageCatalog, Sku, normalize_location
from hpctl.sandbox.lro import FAILED, SUCCEEDED, Operation, Operations
from hpctl.sandbox.resources import ResourceGroups
from hpctl.sandbox.vmrules import (
    DISALLOWED_USERNAMES,
    VmModel,
    _enum,
    _windows_configuration,
    check_password,
    merge_patch,
    normalize_vm,
)

if TYPE_CHECKING:
    from hpctl.sandbox.backend import Backend

VMSS_TYPE = "Microsoft.Compute/virtualMachineScaleSets"
ORCHESTRATION_MODES = ("Uniform", "Flexible")
# The sandbox's own copy of the eight hotpatch-compatible images (BRIEF §1, azure-wire.md §4.3); compared
# case-insensitively, as Azure does.
HOTPATCH_PUBLISHER = "microsoftwindowsserver"
HOTPATCH_OFFER = "windowsserver"
HOTPATCH_SKUS = frozenset(
    {
        "2022-datacenter-azure-edition-core",
        "2022-datacenter-azure-edition-core-smalldisk",
        "2022-datacenter-azure-edition-hotpatch",
        "2022-datacenter-azure-edition-hotpatch-smalldisk",
        "2025-datacenter-azure-edition",
        "2025-datacenter-azure-edition-smalldisk",
        "2025-datacenter-azure-edition-core",
        "2025-datacenter-azure-edition-core-smalldisk",
    }
)
HEALTH_PUBLISHER = "microsoft.managedservices"
HEALTH_TYPES = frozenset({"applicationhealthwindows", "applicationhealthlinux"})

# NOT verbatim: Azure's exact texts for these two refusals are not published (azure-wire.md §4.4, §7); the codes
# and the rules are Azure's (docs: no Uniform scale sets on hotpatch images; Flexible + AutomaticByPlatform needs
# the Application Health extension).
MSG_UNIFORM_HOTPATCH = (
    "Virtual Machine Scale Sets with Uniform orchestration mode are not supported for hotpatch-compatible "
    "images. Use Flexible orchestration mode."
)
MSG_FLEX_NEEDS_HEALTH = (
    "Automatic VM guest patching with patchMode 'AutomaticByPlatform' on a Virtual Machine Scale Set with "
    "Flexible orchestration requires the Application Health extension."
)
# Verbatim (azure-wire.md §9.6: a Microsoft engineer on terraform-provider-azurerm#24335): a Flexible scale set
# on a hotpatch-compatible image must keep hotpatch on.
MSG_FLEX_HOTPATCH_REQUIRED = (
    "'EnableHotpatching' must be set to 'true' on Virtual Machine Scale Sets running Hotpatch-compatible images."
)
TARGET_ORCHESTRATION = "orchestrationMode"
TARGET_EXTENSIONS = "virtualMachineProfile.extensionProfile"

CREATE_SECONDS = 90.0
UPDATE_SECONDS = 30.0
# Flexible instances are created as VMs; a cap keeps a huge capacity from flooding the sandbox.
MAX_INSTANCES = 100
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _patch_settings_replace(body: dict[str, Any]) -> dict[str, Any]:
    """A PATCH that sends patchSettings replaces them: a left-out enableHotpatching is not kept (which is how
    updating tags with a patchSettings block lacking it hit the EnableHotpatching refusal, azure-wire.md §9.6)."""
    settings = (((body.get("properties") or {}).get("virtualMachineProfile") or {}).get("osProfile") or {})
    settings = (settings.get("windowsConfiguration") or {}) if isinstance(settings, dict) else {}
    patch = settings.get("patchSettings") if isinstance(settings, dict) else None
    if isinstance(patch, dict) and "enableHotpatching" not in patch:
        body = copy.deepcopy(body)
        windows = body["properties"]["virtualMachineProfile"]["osProfile"]["windowsConfiguration"]
        windows["patchSettings"] = {**patch, "enableHotpatching": None}
    return body


def hotpatch_image(image: dict[str, Any]) -> bool:
    """One of the eight Azure Edition marketplace images (custom and gallery images never are)."""
    return (
        str(image.get("publisher", "")).lower() == HOTPATCH_PUBLISHER
        and str(image.get("offer", "")).lower() == HOTPATCH_OFFER
        and str(image.get("sku", "")).lower() in HOTPATCH_SKUS
    )


def has_health_extension(profile: dict[str, Any]) -> bool:
    extensions = ((profile.get("extensionProfile") or {}).get("extensions")) or []
    for extension in extensions:
        props = (extension or {}).get("properties") or {}
        if (
            str(props.get("publisher", "")).lower() == HEALTH_PUBLISHER
            and str(props.get("type", "")).lower() in HEALTH_TYPES
        ):
            return True
    return False


@dataclass
class ScaleSet:
    """One scale set as CRP stores and echoes it (never an admin password)."""

    subscription: str
    group: str
    name: str
    location: str
    tags: dict[str, str]
    zones: list[str] | None
    sku: dict[str, Any] | None
    properties: dict[str, Any]
    unique_id: str
    time_created: dt.datetime
    image_sku: Sku | None = None
    provisioning: str = "Succeeded"
    etag: int = 1
    extra: dict[str, Any] = field(default_factory=dict)  # identity, plan

    @property
    def id(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.group}/providers/{VMSS_TYPE}/{self.name}"

    @property
    def key(self) -> str:
        return f"{self.group.lower()}/{self.name.lower()}"

    @property
    def profile(self) -> dict[str, Any]:
        return self.properties.get("virtualMachineProfile") or {}

    @property
    def orchestration(self) -> str:
        """The effective mode: a set created without orchestrationMode is Uniform."""
        return self.properties.get("orchestrationMode") or "Uniform"


@dataclass
class _Model:
    location: str
    tags: dict[str, str]
    zones: list[str] | None
    sku: dict[str, Any] | None
    properties: dict[str, Any]
    image_sku: Sku | None
    extra: dict[str, Any]


class ScaleSets:
    """The scale sets of one subscription and their create/update operations."""

    def __init__(
        self,
        subscription: str,
        clock: SimClock,
        images: ImageCatalog,
        groups: ResourceGroups,
        operations: Operations,
        guids: GuidStream,
        compute: Compute,
        seed: int,
    ) -> None:
        self.subscription = subscription
        self.clock = clock
        self.images = images
        self.groups = groups
        self.operations = operations
        self.guids = guids
        self.compute = compute
        self._random = random.Random(f"hpctl-sandbox-vmss:{seed}")
        self._sets: dict[str, ScaleSet] = {}

    # -- lookups --------------------------------------------------------------------------------------

    def find(self, group: str, name: str) -> ScaleSet | None:
        return self._sets.get(f"{group.lower()}/{name.lower()}")

    def get(self, group: str, name: str) -> ScaleSet:
        resource_group = self.groups.get(group)
        found = self.find(group, name)
        if found is None:
            raise resource_not_found(VMSS_TYPE, name, resource_group.name)
        return found

    def list(self, group: str | None = None) -> list[ScaleSet]:
        if group is not None:
            self.groups.get(group)
        items = [s for s in self._sets.values() if group is None or s.group.lower() == group.lower()]
        return sorted(items, key=lambda s: (s.group.lower(), s.name.lower()))

    def remove(self, scale_set: ScaleSet) -> None:
        """Drop a scale set (Complete-mode deployments); its Flexible instances stay, as VMs do on Azure."""
        self._sets.pop(scale_set.key, None)

    def insert(self, scale_set: ScaleSet) -> None:
        if scale_set.key in self._sets:
            raise ValueError(f"scale set {scale_set.group}/{scale_set.name} already exists")
        self._sets[scale_set.key] = scale_set

    # -- writes ---------------------------------------------------------------------------------------

    def put(
        self,
        group: str,
        name: str,
        body: Any,
        api_version: str,
        failure: tuple[str | None, str | None] | None = None,
    ) -> tuple[int, ScaleSet, Operation]:
        resource_group = self.groups.get(group)
        existing = self.find(group, name)
        if existing is not None:
            self._check_idle(existing)
            model = self.normalize(name, body, existing)
            self._apply(existing, model)
            return 200, existing, self._start(existing, "update", api_version, UPDATE_SECONDS, failure)
        model = self.normalize(name, body, None)
        scale_set = ScaleSet(
            self.subscription,
            resource_group.name,
            name,
            model.location,
            model.tags,
            model.zones,
            model.sku,
            model.properties,
            self.guids.next(),
            self.clock.now(),
            model.image_sku,
            "Creating",
            extra=model.extra,
        )
        self.insert(scale_set)
        seconds = CREATE_SECONDS * self._random.uniform(0.8, 1.3)
        return 201, scale_set, self._start(scale_set, "create", api_version, seconds, failure)

    def patch(
        self,
        group: str,
        name: str,
        body: Any,
        api_version: str,
        failure: tuple[str | None, str | None] | None = None,
    ) -> tuple[ScaleSet, Operation]:
        scale_set = self.get(group, name)
        self._check_idle(scale_set)
        if not isinstance(body, dict):
            raise ArmError(
                400,
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized: 'Expected an object.'.",
            )
        current: dict[str, Any] = {
            "location": scale_set.location,
            "tags": scale_set.tags,
            "sku": scale_set.sku,
            "properties": scale_set.properties,
        }
        if scale_set.zones:
            current["zones"] = scale_set.zones
        model = self.normalize(name, merge_patch(current, _patch_settings_replace(body)), scale_set)
        self._apply(scale_set, model)
        return scale_set, self._start(scale_set, "update", api_version, UPDATE_SECONDS, failure)

    def _apply(self, scale_set: ScaleSet, model: _Model) -> None:
        scale_set.tags, scale_set.zones, scale_set.sku = model.tags, model.zones, model.sku
        scale_set.properties = model.properties
        scale_set.extra = model.extra
        scale_set.etag += 1
        scale_set.provisioning = "Updating"

    def _check_idle(self, scale_set: ScaleSet) -> None:
        if self.operations.running(scale_set.id, ("create", "update", "delete")) is not None:
            raise conflict()

    # -- Azure's model rules --------------------------------------------------------------------------

    def normalize(self, name: str, body: Any, existing: ScaleSet | None, check: bool = True) -> _Model:
        """Validate a PUT body (or a PATCH merged onto the stored model) as CRP does; fill CRP's defaults.

        `check=False` stores a model as it is (seeding sets created before today's rules).
        """
        if not isinstance(body, dict):
            raise ArmError(
                400,
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized: 'Expected an object.'.",
            )
        location = self._location(name, body.get("location"), existing)
        tags = body.get("tags") or {}
        if not isinstance(tags, dict) or any(not isinstance(v, str) for v in tags.values()):
            raise ArmError(
                400,
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized: 'tags must map names to strings'.",
            )
        zones = body.get("zones")
        if zones is not None and (not isinstance(zones, list) or any(z not in ("1", "2", "3") for z in zones)):
            raise invalid_parameter(
                f"The value '{zones}' of parameter 'zones' is not valid. Allowed values are '1', '2' and '3'.",
                target="zones",
            )
        if existing is not None and "zones" in body and (zones or None) != (existing.zones or None):
            raise property_change_not_allowed("zones")
        sku = body.get("sku")
        if sku is not None and not isinstance(sku, dict):
            raise ArmError(
                400,
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized: 'sku must be an object'.",
            )
        props = copy.deepcopy(body.get("properties") or {})
        if not isinstance(props, dict):
            raise ArmError(
                400,
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized: 'properties must be an object'.",
            )
        for read_only in ("provisioningState", "uniqueId", "timeCreated"):
            props.pop(read_only, None)
        mode = _enum(props.get("orchestrationMode"), ORCHESTRATION_MODES, "orchestrationMode", TARGET_ORCHESTRATION)
        if existing is not None:
            old_mode = existing.properties.get("orchestrationMode")
            if mode is None:
                mode = old_mode  # a PUT or PATCH that leaves the mode out keeps it
            elif (mode or "Uniform") != (old_mode or "Uniform"):
                raise property_change_not_allowed("orchestrationMode")
        flexible = mode == "Flexible"
        profile = props.get("virtualMachineProfile")
        image_sku: Sku | None = existing.image_sku if existing is not None else None
        profile_out: dict[str, Any] | None = None
        if profile is not None:
            if not isinstance(profile, dict):
                raise missing_parameter("virtualMachineProfile")
            if check and (sku is None or not sku.get("name")):
                raise missing_parameter("sku")
            image = (profile.get("storageProfile") or {}).get("imageReference") or {}
            if not isinstance(image, dict) or not image:
                raise missing_parameter("storageProfile.imageReference")
            if not image.get("id"):
                for key in ("publisher", "offer", "sku", "version"):
                    if not isinstance(image.get(key), str) or not image[key]:
                        raise missing_parameter(f"imageReference.{key}")
                if existing is None:
                    image_sku, _ = self.images.resolve(
                        location, image["publisher"], image["offer"], image["sku"], image["version"]
                    )
            hotpatch = hotpatch_image(image)
            if check and hotpatch and not flexible:
                raise invalid_parameter(MSG_UNIFORM_HOTPATCH, target=TARGET_ORCHESTRATION)
            profile_out = self._profile(profile, image_sku, hotpatch, existing, check)
            windows_out = profile_out["osProfile"].get("windowsConfiguration")
            if check and flexible and hotpatch and isinstance(windows_out, dict) and \
                    (windows_out.get("patchSettings") or {}).get("enableHotpatching") is not True:
                raise invalid_parameter(MSG_FLEX_HOTPATCH_REQUIRED,
                                        target="virtualMachineProfile.osProfile.windowsConfiguration.patchSettings."
                                               "enableHotpatching")
            if check and flexible and not has_health_extension(profile_out):
                windows = profile_out["osProfile"].get("windowsConfiguration") or {}
                linux = profile_out["osProfile"].get("linuxConfiguration") or {}
                settings = windows.get("patchSettings") or linux.get("patchSettings") or {}
                if settings.get("patchMode") == "AutomaticByPlatform":
                    raise invalid_parameter(MSG_FLEX_NEEDS_HEALTH, target=TARGET_EXTENSIONS)
        if check and flexible and existing is None and props.get("platformFaultDomainCount") is None:
            raise missing_parameter("platformFaultDomainCount")
        out: dict[str, Any] = {"singlePlacementGroup": props.pop("singlePlacementGroup", not flexible)}
        if mode is not None:
            # CRP echoes the mode it was sent; a set created without one comes back without one (the 2026-04-01
            # Uniform spec example), which is why a missing orchestrationMode has to be read as Uniform.
            out["orchestrationMode"] = mode
        props.pop("orchestrationMode", None)
        out["upgradePolicy"] = props.pop("upgradePolicy", None) or {"mode": "Manual"}
        props.pop("virtualMachineProfile", None)
        if profile_out is not None:
            out["virtualMachineProfile"] = profile_out
        elif existing is not None and "virtualMachineProfile" in existing.properties:
            out["virtualMachineProfile"] = existing.properties["virtualMachineProfile"]
        out.update(props)
        extra = {k: copy.deepcopy(body[k]) for k in ("identity", "plan") if body.get(k) is not None}
        return _Model(location, dict(tags), list(zones) if zones else None, sku, out, image_sku, extra)

    def _location(self, name: str, raw: Any, existing: ScaleSet | None) -> str:
        if existing is not None:
            if isinstance(raw, str) and normalize_location(raw) != existing.location:
                raise ArmError(
                    400,
                    "InvalidResourceLocation",
                    f"The resource '{name}' already exists in location '{existing.location}' in resource group. A "
                    f"resource with the same name cannot be created in location '{normalize_location(raw)}'. "
                    "Please select a new resource name.",
                )
            return existing.location
        if not isinstance(raw, str) or not raw.strip():
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        region = normalize_location(raw)
        if region not in self.images.regions:
            raise ArmError(
                400,
                "LocationNotAvailableForResourceType",
                f"The provided location '{raw}' is not available for resource type '{VMSS_TYPE}'. List of "
                f"available regions for the resource type is '{','.join(self.images.regions)}'.",
            )
        return region

    def _profile(
        self,
        profile: dict[str, Any],
        image_sku: Sku | None,
        hotpatch: bool,
        existing: ScaleSet | None,
        check: bool,
    ) -> dict[str, Any]:
        """The virtualMachineProfile as CRP echoes it: no password, patch settings normalized with VM rules."""
        out = copy.deepcopy(profile)
        storage = out.setdefault("storageProfile", {})
        os_disk = storage.setdefault("osDisk", {"createOption": "FromImage"})
        is_windows = (image_sku.is_windows if image_sku else True) and "linuxConfiguration" not in (
            profile.get("osProfile") or {}
        )
        os_disk.setdefault("osType", "Windows" if is_windows else "Linux")
        os_disk.setdefault("createOption", "FromImage")
        os_disk.setdefault("caching", "ReadWrite")
        os_disk.setdefault("managedDisk", {"storageAccountType": "Premium_LRS"})
        os_disk.setdefault("diskSizeGB", image_sku.disk_gb if image_sku else 127)
        given = out.get("osProfile") or {}
        if not isinstance(given, dict):
            raise missing_parameter("osProfile")
        old_profile = existing.profile.get("osProfile", {}) if existing is not None else None
        if old_profile is None and check:
            if not given.get("computerNamePrefix"):
                raise missing_parameter("computerNamePrefix")
            username = given.get("adminUsername")
            if not isinstance(username, str) or not username:
                raise missing_parameter("adminUsername")
            if username.lower() in DISALLOWED_USERNAMES or len(username) > 20:
                raise invalid_parameter("The Admin Username specified is not allowed.", target="adminUsername")
            if is_windows and "linuxConfiguration" not in given:
                check_password(given.get("adminPassword"))
        if old_profile is not None:
            for key in ("adminUsername", "computerNamePrefix"):
                if key in given and old_profile.get(key) is not None and given[key] != old_profile.get(key):
                    raise property_change_not_allowed(key)
            given = {**old_profile, **given}
        os_out: dict[str, Any] = {k: v for k, v in given.items() if k not in ("adminPassword", "windowsConfiguration")}
        if is_windows:
            old_vm: VmModel | None = None
            if old_profile is not None and old_profile.get("windowsConfiguration") is not None:
                old_vm = VmModel(
                    "",
                    {},
                    None,
                    {"osProfile": {"windowsConfiguration": old_profile["windowsConfiguration"]}},
                    None,
                    None,
                    None,
                )
            windows = given.get("windowsConfiguration") or {}
            if not isinstance(windows, dict):
                raise missing_parameter("windowsConfiguration")
            if check:
                os_out["windowsConfiguration"] = _windows_configuration(windows, hotpatch, old_vm)
            else:
                os_out["windowsConfiguration"] = copy.deepcopy(windows)
        os_out.setdefault("secrets", [])
        os_out.setdefault("allowExtensionOperations", True)
        os_out["requireGuestProvisionSignal"] = True
        out["osProfile"] = os_out
        return out

    # -- operations -----------------------------------------------------------------------------------

    def _start(
        self,
        scale_set: ScaleSet,
        kind: str,
        api_version: str,
        seconds: float,
        failure: tuple[str | None, str | None] | None,
    ) -> Operation:
        resolved = None
        if failure is not None:
            resolved = (
                failure[0] or "InternalExecutionError",
                failure[1] or "An internal execution error occurred. Please retry later.",
            )
        op = Operation(
            self.guids.next(),
            self.guids.next(),
            self.subscription,
            scale_set.location,
            kind,
            scale_set.id,
            api_version,
            self.clock.now(),
            seconds,
            self.clock.wall() + self.clock.wall_seconds(seconds),
            self._finish,
            failure=resolved,
        )
        return self.operations.start(op)

    def _finish(self, op: Operation) -> None:
        scale_set = next((s for s in self._sets.values() if s.id.lower() == op.target.lower()), None)
        if op.failure is not None:
            op.status = FAILED
            op.error = {"code": op.failure[0], "message": op.failure[1]}
            if scale_set is not None:
                scale_set.provisioning = "Failed"
            return
        if scale_set is not None:
            scale_set.provisioning = "Succeeded"
            if scale_set.orchestration == "Flexible":
                self._create_instances(scale_set)
        op.status = SUCCEEDED

    def _create_instances(self, scale_set: ScaleSet) -> None:
        """Flexible scale sets own ordinary VMs (they list with the other VMs, as on Azure)."""
        profile = scale_set.profile
        capacity = (scale_set.sku or {}).get("capacity")
        if not profile or not isinstance(capacity, int) or isinstance(capacity, bool) or capacity <= 0:
            return
        members = [
            vm
            for vm in self.compute.list(scale_set.group)
            if ((vm.model.properties.get("virtualMachineScaleSet") or {}).get("id") or "").lower()
            == scale_set.id.lower()
        ]
        os_profile = profile.get("osProfile") or {}
        prefix = str(os_profile.get("computerNamePrefix") or scale_set.name)[:9]
        image = (profile.get("storageProfile") or {}).get("imageReference") or {}
        for index in range(len(members), min(capacity, MAX_INSTANCES)):
            suffix = stable_guid("vmss-instance", scale_set.id.lower(), index).replace("-", "")
            vm_name = f"{scale_set.name}_{suffix[:8]}"
            if self.compute.find(scale_set.group, vm_name) is not None:
                continue
            number = int(suffix[8:20], 16)
            computer = prefix + "".join(_BASE36[(number >> (6 * i)) % 36] for i in range(6))
            os_out: dict[str, Any] = {"computerName": computer, "adminUsername": os_profile.get("adminUsername")}
            for key in ("windowsConfiguration", "linuxConfiguration"):
                if key in os_profile:
                    os_out[key] = copy.deepcopy(os_profile[key])
            props: dict[str, Any] = {
                "hardwareProfile": {"vmSize": (scale_set.sku or {}).get("name", "Standard_D2s_v5")},
                "storageProfile": {
                    "imageReference": {
                        k: image[k] for k in ("id", "publisher", "offer", "sku", "version") if k in image
                    },
                    "osDisk": {
                        "createOption": "FromImage",
                        "managedDisk": (profile.get("storageProfile") or {}).get("osDisk", {}).get("managedDisk")
                        or {"storageAccountType": "Premium_LRS"},
                    },
                },
                "osProfile": os_out,
                "networkProfile": {
                    "networkInterfaces": [
                        {
                            "id": f"/subscriptions/{self.subscription}/resourceGroups/{scale_set.group}/providers/"
                            f"Microsoft.Network/networkInterfaces/{vm_name}-nic"
                        }
                    ]
                },
                "virtualMachineScaleSet": {"id": scale_set.id},
            }
            if profile.get("securityProfile"):
                props["securityProfile"] = copy.deepcopy(profile["securityProfile"])
            body: dict[str, Any] = {"location": scale_set.location, "tags": dict(scale_set.tags), "properties": props}
            if scale_set.zones:
                body["zones"] = [scale_set.zones[index % len(scale_set.zones)]]
            try:
                model = normalize_vm(vm_name, body, None, self.images, require_password=False)
            except ArmError:
                continue  # an instance the VM rules would refuse is not created (the set itself passed them)
            self.compute.insert(self.compute.new_vm(scale_set.group, vm_name, model))

    # -- bodies ---------------------------------------------------------------------------------------

    def body(self, scale_set: ScaleSet) -> dict[str, Any]:
        """The GET body, in CRP's key order (2026-04-01 examples)."""
        props = copy.deepcopy(scale_set.properties)
        props["provisioningState"] = scale_set.provisioning
        props["uniqueId"] = scale_set.unique_id
        props["timeCreated"] = ts(scale_set.time_created)
        body: dict[str, Any] = {"name": scale_set.name, "id": scale_set.id, "type": VMSS_TYPE}
        body["location"] = scale_set.location
        body["tags"] = dict(scale_set.tags)
        if scale_set.sku is not None:
            body["sku"] = copy.deepcopy(scale_set.sku)
        if scale_set.zones:
            body["zones"] = list(scale_set.zones)
        body.update(copy.deepcopy(scale_set.extra))
        body["properties"] = props
        body["etag"] = f'"{scale_set.etag}"'
        return body


# -- seeding ----------------------------------------------------------------------------------------------


def _seed_profile(sku: str, patch_settings: dict[str, Any] | None, health: bool, prefix: str) -> dict[str, Any]:
    windows: dict[str, Any] = {"provisionVMAgent": True, "enableAutomaticUpdates": True}
    if patch_settings is not None:
        windows["patchSettings"] = patch_settings
    profile: dict[str, Any] = {
        "storageProfile": {
            "imageReference": {
                "publisher": "MicrosoftWindowsServer",
                "offer": "WindowsServer",
                "sku": sku,
                "version": "latest",
            },
            "osDisk": {"createOption": "FromImage", "managedDisk": {"storageAccountType": "Premium_LRS"}},
        },
        "osProfile": {"computerNamePrefix": prefix, "adminUsername": "azureuser", "windowsConfiguration": windows},
        "networkProfile": {
            "networkApiVersion": "2020-11-01",
            "networkInterfaceConfigurations": [
                {"name": f"{prefix}-nic", "properties": {"primary": True, "ipConfigurations": [{"name": "ipconfig1"}]}}
            ],
        },
    }
    if health:
        profile["extensionProfile"] = {
            "extensions": [
                {
                    "name": "HealthExtension",
                    "properties": {
                        "publisher": "Microsoft.ManagedServices",
                        "type": "ApplicationHealthWindows",
                        "typeHandlerVersion": "2.0",
                        "autoUpgradeMinorVersion": True,
                        "settings": {"protocol": "tcp", "port": 3389},
                    },
                }
            ]
        }
    return profile


def _hotpatch_settings(hotpatch: bool = True) -> dict[str, Any]:
    return {
        "patchMode": "AutomaticByPlatform",
        "enableHotpatching": hotpatch,
        "assessmentMode": "AutomaticByPlatform",
        "automaticByPlatformSettings": {
            "rebootSetting": "IfRequired",
            "bypassPlatformSafetyChecksOnUserSchedule": False,
        },
    }


# (group, name, orchestrationMode or None, image SKU, patchSettings, health extension, zones, capacity).
SEEDED: tuple[tuple[str, str, str | None, str, dict[str, Any] | None, bool, list[str] | None, int], ...] = (
    ("rg-api", "api-flex", "Flexible", "2025-datacenter-azure-edition-core", _hotpatch_settings(), True,
     ["1", "2", "3"], 3),
    # Flexible + AutomaticByPlatform without the health extension: stored as created before the rule was enforced.
    ("rg-api", "api-flex-nohealth", "Flexible", "2025-datacenter-azure-edition", _hotpatch_settings(), False,
     None, 2),
    # No orchestrationMode (so Uniform) on an Azure Edition core image: a set Azure would refuse today.
    ("rg-legacy", "legacy-uniform", None, "2022-datacenter-azure-edition-core",
     {"patchMode": "AutomaticByOS", "assessmentMode": "ImageDefault"}, False, None, 2),
    ("rg-app", "app-uniform-2019", "Uniform", "2019-datacenter",
     {"patchMode": "AutomaticByOS", "assessmentMode": "ImageDefault"}, False, None, 3),
)


# Each base group of the fleet gets one VNet with a "default" subnet (its scale sets and `--subnet-id` use it).
SEEDED_VNETS = (("rg-web", 1), ("rg-app", 2), ("rg-data", 3), ("rg-api", 4), ("rg-legacy", 5))


def _seed_vnets(backend: Backend) -> dict[str, str]:
    subnets = {}
    for group, number in SEEDED_VNETS:
        if not backend.groups.exists(group):
            continue
        name = f"vnet-{group.removeprefix('rg-')}"
        body = {
            "location": backend.groups.get(group).location,
            "tags": {"env": "prod"},
            "properties": {
                "addressSpace": {"addressPrefixes": [f"10.{number}.0.0/16"]},
                "subnets": [{"name": "default", "properties": {"addressPrefix": f"10.{number}.0.0/24"}}],
            },
        }
        vnet = backend.network.put(group, "Microsoft.Network/virtualNetworks", name, body)
        subnets[group] = vnet["properties"]["subnets"][0]["id"]
    return subnets


def seed_scale_sets(backend: Backend) -> list[ScaleSet]:
    """Put the fleet's VNets and scale sets straight into state (no Azure rule checks: some sets predate them)."""
    sets = backend.scalesets
    subnets = _seed_vnets(backend)
    created = []
    for group, name, mode, sku_name, settings, health, zones, capacity in SEEDED:
        if not backend.groups.exists(group) or sets.find(group, name) is not None:
            continue
        location = backend.groups.get(group).location
        profile = _seed_profile(sku_name, settings, health, name[:9])
        if group in subnets:
            configs = profile["networkProfile"]["networkInterfaceConfigurations"]
            configs[0]["properties"]["ipConfigurations"][0]["properties"] = {"subnet": {"id": subnets[group]}}
        props: dict[str, Any] = {"virtualMachineProfile": profile}
        if mode is not None:
            props["orchestrationMode"] = mode
        if mode == "Flexible":
            props["platformFaultDomainCount"] = 1
        else:
            props["overprovision"] = True
        body: dict[str, Any] = {
            "location": location,
            "tags": {"env": "prod"},
            "sku": {"name": "Standard_D2s_v5", "tier": "Standard", "capacity": capacity},
            "properties": props,
        }
        if zones:
            body["zones"] = zones
        model = sets.normalize(name, body, None, check=False)
        created_at = backend.clock.midnight(200 + len(created) * 30) + dt.timedelta(hours=10)
        scale_set = ScaleSet(
            backend.subscription_id,
            backend.groups.get(group).name,
            name,
            model.location,
            model.tags,
            model.zones,
            model.sku,
            model.properties,
            stable_guid("vmss", backend.subscription_id, group.lower(), name.lower()),
            created_at,
            model.image_sku,
        )
        sets.insert(scale_set)
        created.append(scale_set)
    return created

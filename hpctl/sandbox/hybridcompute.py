"""Microsoft.HybridCompute state: Arc-connected machines, their hotpatch license profiles, Arc assess/install.

Wire shapes follow azure-wire.md §9.8 (api-version 2024-07-10 spec examples); the enrollment rules follow
hotpatch-program.md §1.4 and §10.1. Where no real text is known (a failed enrollment's error, a disconnected
machine's failed assessment), the sandbox's own wording says so in its code.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from hpctl.sandbox.armerrors import ArmError, conflict, resource_not_found
from hpctl.sandbox.clock import SimClock, ts, ts_zulu
from hpctl.sandbox.compute import Compute
from hpctl.sandbox.ids import GuidStream, stable_guid
from hpctl.sandbox.installparams import parse_install_request
from hpctl.sandbox.lro import FAILED, SUCCEEDED, Operation, Operations
from hpctl.sandbox.resources import ResourceGroups
from hpctl.sandbox.world import InstallPlan, InstallRequest, PatchState, World

MACHINE_TYPE = "Microsoft.HybridCompute/machines"
LICENSE_TYPE = "Microsoft.HybridCompute/machines/licenseProfiles"
PROVIDER = "Microsoft.HybridCompute"
AGENT_VERSION = "1.50.02946.1949"
HOTPATCH = "Hotpatch"
# Hotpatch through Arc: Windows Server 2025 Standard or Datacenter at build 26100.1742 or later (§1.4, §10.1).
MIN_BUILD = (26100, 1742)
# Enrollments are free from this day on (AUM-ARC "Billing considerations", hotpatch-program.md §1.4).
FREE_FROM = dt.date(2026, 5, 19)

# Simulated durations (seconds): the portal says enablement takes about ten minutes (§10.1).
ENROLL_SECONDS = 600.0
DISENROLL_SECONDS = 120.0
# An agent that is not connected never answers: the operation gives up after this long (sandbox's choice).
DISCONNECTED_TIMEOUT = 1800.0

# Sandbox wording: no real error text of a failed enrollment or of an assessment on a disconnected machine
# is known (hotpatch-program.md §10.2); these say what happened in the terms the documentation uses.
VBS_ERROR = {
    "code": "VirtualizationBasedSecurityNotRunning",
    "message": "Hotpatch enablement needs virtualization-based security (Virtual Secure Mode) running on the "
    "machine: enable VBS (UEFI with Secure Boot; Hyper-V guests Generation 2), restart, and enable again.",
}
UNSUPPORTED_OS_ERROR = {
    "code": "HotpatchNotSupported",
    "message": "Hotpatch enabled by Azure Arc needs Windows Server 2025 Standard or Datacenter, build "
    "26100.1742 or later.",
}
DISCONNECTED_ERROR = {
    "code": "MachineDisconnected",
    "message": "The Connected Machine agent has not reported since {since}; the operation could not reach "
    "the machine. Check the agent (azcmagent show) and its connectivity, then retry.",
}

# osSku / osEdition as the Connected Machine agent reports them (edition ids lower case, hotpatch-program.md
# §10.3); Azure Edition's id is the OS's own EditionID, lower-cased [inferred].
EDITIONS = {
    "Standard": ("Standard", "serverstandard"),
    "Datacenter": ("Datacenter", "serverdatacenter"),
    "AzureEdition": ("Datacenter: Azure Edition", "serverazureedition"),
}


@dataclass
class License:
    """The machine's licenseProfiles/default: Windows Server product profile with its Hotpatch feature."""

    status: str  # product subscriptionStatus: Enabling | Enabled | Disabling | Disabled | Failed
    feature: str  # the Hotpatch feature's subscriptionStatus
    enrolled: dt.datetime | None = None
    billing_start: dt.datetime | None = None
    disenrolled: dt.datetime | None = None
    billing_end: dt.datetime | None = None


@dataclass
class ArcMachine:
    """One Arc-connected server (or Azure Local VM): what the agent reports and what the guest runs."""

    subscription: str
    group: str
    name: str
    location: str
    tags: dict[str, str]
    os_key: str  # "2025", "2022", ... (a world OS line)
    edition: str  # a key of EDITIONS
    core: bool
    patch: PatchState | None
    vm_uuid: str
    time_created: dt.datetime
    status: str = "Connected"  # Connected | Disconnected | Error
    last_status_change: dt.datetime | None = None
    vbs: bool = True
    kind: str | None = None  # "HCI" for an Azure Local VM
    parent_cluster: str | None = None
    patch_mode: str = "AutomaticByOS"
    assessment_mode: str = "ImageDefault"
    license: License | None = None
    hotpatch_status: str = "Unknown"  # patchSettings.status.hotpatchEnablementStatus
    hotpatch_error: dict[str, Any] | None = None
    assessments: list[dict[str, Any]] = field(default_factory=list)
    installations: list[dict[str, Any]] = field(default_factory=list)
    last_assessment: dict[str, Any] | None = None
    last_installation: dict[str, Any] | None = None
    # What Compute's assessment records may vary per owner (the seeded Arc machines report neither).
    duplicate_kb: bool = False
    assessment_warning: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.group}/providers/{MACHINE_TYPE}/{self.name}"

    @property
    def key(self) -> str:
        return f"{self.group.lower()}/{self.name.lower()}"

    @property
    def is_windows(self) -> bool:
        return True

    @property
    def resource_type(self) -> str:
        return MACHINE_TYPE

    @property
    def connected(self) -> bool:
        return self.status == "Connected"

    @property
    def azure_edition(self) -> bool:
        return self.edition == "AzureEdition"

    @property
    def build(self) -> tuple[int, int]:
        if self.patch is None:
            return (0, 0)
        major, _, ubr = self.patch.build.partition(".")
        return (int(major), int(ubr or 0))

    @property
    def arc_capable(self) -> bool:
        """What Arc enrollment needs of the OS: 2025 Standard or Datacenter at the minimum build."""
        return self.os_key == "2025" and self.edition in ("Standard", "Datacenter") and self.build >= MIN_BUILD

    @property
    def enrolled(self) -> bool:
        """On the hotpatch track: enrolled through Arc (or Azure Edition, built in) with VBS running."""
        built_in = self.azure_edition and self.os_key == "2025"
        licensed = self.license is not None and self.license.feature == "Enabled"
        return self.vbs and (built_in or (licensed and self.hotpatch_status == "Enabled"))


class HybridCompute:
    """The Arc machines of one subscription, their license profiles and patch operations."""

    def __init__(self, subscription: str, tenant: str, clock: SimClock, world: World, groups: ResourceGroups,
                 operations: Operations, guids: GuidStream, compute: Compute, seed: int) -> None:
        self.subscription = subscription
        self.tenant = tenant
        self.clock = clock
        self.world = world
        self.groups = groups
        self.operations = operations
        self.guids = guids
        # Patch history records and their pruning are Compute's (the same Update Manager records).
        self.compute = compute
        self._random = random.Random(f"hpctl-sandbox-arc-durations:{seed}")
        self._machines: dict[str, ArcMachine] = {}

    # -- lookups --------------------------------------------------------------------------------------

    def get(self, group: str, name: str) -> ArcMachine:
        resource_group = self.groups.get(group)
        machine = self._machines.get(f"{group.lower()}/{name.lower()}")
        if machine is None:
            raise resource_not_found(MACHINE_TYPE, name, resource_group.name)
        return machine

    def find(self, group: str, name: str) -> ArcMachine | None:
        return self._machines.get(f"{group.lower()}/{name.lower()}")

    def insert(self, machine: ArcMachine) -> None:
        if machine.key in self._machines:
            raise ValueError(f"Arc machine {machine.group}/{machine.name} already exists")
        self._machines[machine.key] = machine

    def list(self, group: str | None = None) -> list[ArcMachine]:
        if group is not None:
            self.groups.get(group)
            found = [m for m in self._machines.values() if m.group.lower() == group.lower()]
        else:
            found = list(self._machines.values())
        return sorted(found, key=lambda m: (m.group.lower(), m.name.lower()))

    # -- operations -----------------------------------------------------------------------------------

    def _start(self, machine: ArcMachine, kind: str, api_version: str, seconds: float, complete: Any,
               failure: tuple[str | None, str | None] | None = None) -> Operation:
        resolved = None
        if failure is not None:
            resolved = (failure[0] or "InternalServerError", failure[1] or "An internal error occurred.")
        op = Operation(
            self.guids.next(), self.guids.next(), self.subscription, machine.location, kind, machine.id,
            api_version, self.clock.now(), seconds, self.clock.wall() + self.clock.wall_seconds(seconds),
            complete, failure=resolved,
        )
        op.details["provider"] = PROVIDER
        return self.operations.start(op)

    def _busy(self, machine: ArcMachine, kinds: tuple[str, ...]) -> None:
        if self.operations.running(machine.id, kinds) is not None:
            raise conflict()

    def _machine_of(self, op: Operation) -> ArcMachine | None:
        parts = op.target.split("/")
        return self._machines.get(f"{parts[4].lower()}/{parts[8].lower()}")

    # -- license profiles (hotpatch enrollment) -------------------------------------------------------

    def license_body(self, machine: ArcMachine) -> dict[str, Any]:
        if machine.license is None:
            raise ArmError(
                404, "ResourceNotFound",
                f"The Resource '{LICENSE_TYPE}/{machine.name}/default' under resource group '{machine.group}' "
                "was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            )
        return {
            "id": f"{machine.id}/licenseProfiles/default",
            "name": "default",
            "type": LICENSE_TYPE,
            "location": machine.location,
            "properties": {"productProfile": self._product_profile(machine.license)},
        }

    @staticmethod
    def _product_profile(lic: License) -> dict[str, Any]:
        dates = {
            "enrollmentDate": ts_zulu(lic.enrolled) if lic.enrolled else None,
            "billingStartDate": ts_zulu(lic.billing_start) if lic.billing_start else None,
            "disenrollmentDate": ts_zulu(lic.disenrolled) if lic.disenrolled else None,
            "billingEndDate": ts_zulu(lic.billing_end) if lic.billing_end else None,
        }
        return {
            "subscriptionStatus": lic.status,
            "productType": "WindowsServer",
            **dates,
            "productFeatures": [{"name": HOTPATCH, "subscriptionStatus": lic.feature, **dates}],
        }

    @staticmethod
    def _wanted(body: Any, values: tuple[str, str], location_required: bool, machine: ArcMachine) -> str:
        """The Hotpatch status a license-profile body asks for (one of `values`), checked as the RP would."""
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent",
                           "The request content was invalid and could not be deserialized: 'Expected an object.'.")
        if location_required:
            location = body.get("location")
            if not isinstance(location, str) or not location.strip():
                raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
            if "".join(location.split()).lower() != machine.location.lower():
                raise ArmError(400, "InvalidParameter",
                               f"The location '{location}' of the license profile does not match the location "
                               f"'{machine.location}' of machine '{machine.name}'.", target="location")
        product = ((body.get("properties") or {}).get("productProfile")) if isinstance(body.get("properties"),
                                                                                     dict) else None
        if not isinstance(product, dict):
            raise ArmError(400, "InvalidParameter", "Required property 'properties.productProfile' is missing.",
                           target="properties.productProfile")
        kind = product.get("productType")
        if kind is not None and kind not in ("WindowsServer", "WindowsIoTEnterprise"):
            raise ArmError(400, "InvalidParameter",
                           f"The value '{kind}' of productType is not valid. Allowed values are: WindowsServer, "
                           "WindowsIoTEnterprise.", target="properties.productProfile.productType")
        features = product.get("productFeatures") or []
        hotpatch = [f for f in features if isinstance(f, dict) and str(f.get("name", "")).lower() == "hotpatch"]
        wanted = (hotpatch[0] if hotpatch else product).get("subscriptionStatus")
        if wanted not in values:
            raise ArmError(400, "InvalidParameter",
                           f"The value '{wanted}' of subscriptionStatus is not valid. Allowed values are: "
                           f"{', '.join(values)}.", target="properties.productProfile.subscriptionStatus")
        return wanted

    def put_license(self, group: str, name: str, body: Any, api_version: str,
                    failure: tuple[str | None, str | None] | None) -> tuple[int, ArcMachine, Operation | None]:
        """PUT licenseProfiles/default: 200 when it already is as asked, else 201 and an enrollment LRO."""
        machine = self.get(group, name)
        wanted = self._wanted(body, ("Enabled", "Disabled"), True, machine)
        # LicenseProfile_CreateOrUpdate.json: 201 when the profile is new, 200 when it existed.
        status = 201 if machine.license is None else 200
        return self._change(machine, wanted == "Enabled", api_version, failure, status)

    def patch_license(self, group: str, name: str, body: Any, api_version: str,
                      failure: tuple[str | None, str | None] | None) -> tuple[int, ArcMachine, Operation | None]:
        """PATCH licenseProfiles/default with the update values Enable / Disable (§9.8)."""
        machine = self.get(group, name)
        if machine.license is None:
            self.license_body(machine)  # 404: there is nothing to update
        wanted = self._wanted(body, ("Enable", "Disable"), False, machine)
        # LicenseProfile_Update.json: 202 (no body) when the change runs as an operation.
        return self._change(machine, wanted == "Enable", api_version, failure, 202)

    def _change(self, machine: ArcMachine, enable: bool, api_version: str,
                failure: tuple[str | None, str | None] | None, status: int
                ) -> tuple[int, ArcMachine, Operation | None]:
        self._busy(machine, ("license",))
        lic = machine.license
        target = "Enabled" if enable else "Disabled"
        if lic is not None and lic.feature == target:
            return 200, machine, None  # nothing to do: already as asked
        now = self.clock.now()
        if enable:
            billed = self.clock.today < FREE_FROM
            machine.license = License("Enabling", "Enabling", enrolled=now, billing_start=now if billed else None)
            machine.hotpatch_status, machine.hotpatch_error = "PendingEvaluation", None
            seconds = ENROLL_SECONDS * self._random.uniform(0.8, 1.2)
        else:
            assert lic is not None
            lic.status = lic.feature = "Disabling"
            seconds = DISENROLL_SECONDS
        if not machine.connected:
            seconds = DISCONNECTED_TIMEOUT
        op = self._start(machine, "license", api_version, seconds, self._finish_license, failure)
        op.details["enable"] = enable
        return status, machine, op

    def _finish_license(self, op: Operation) -> None:
        machine = self._machine_of(op)
        if machine is None or machine.license is None:
            op.status, op.error = FAILED, {"code": "ResourceNotFound", "message": "The machine no longer exists."}
            return
        lic = machine.license
        now = op.end
        error: dict[str, Any] | None = None
        if op.failure is not None:
            error = {"code": op.failure[0], "message": op.failure[1]}
        elif not machine.connected:
            error = _disconnected(machine)
        if not op.details["enable"]:
            if error is None:
                lic.status = lic.feature = "Disabled"
                lic.disenrolled = now
                lic.billing_end = now if lic.billing_start is not None else None
                machine.hotpatch_status, machine.hotpatch_error = "Disabled", None
            else:
                lic.status = lic.feature = "Enabled"  # nothing changed on the machine
            self._end(op, error)
            return
        if error is None and not machine.arc_capable:
            error = dict(UNSUPPORTED_OS_ERROR)
        elif error is None and not machine.vbs:
            # The enrollment's prerequisite (§10.1): the portal's enablement fails without VBS.
            error = dict(VBS_ERROR)
            machine.hotpatch_status = "ActionRequired"
            machine.hotpatch_error = {"code": error["code"], "message": error["message"]}
        if error is None:
            lic.status = lic.feature = "Enabled"
            machine.hotpatch_status, machine.hotpatch_error = "Enabled", None
        else:
            lic.status = lic.feature = "Failed"
            lic.billing_start = None
            if machine.hotpatch_status == "PendingEvaluation":
                machine.hotpatch_status = "Unknown"
        self._end(op, error)

    @staticmethod
    def _end(op: Operation, error: dict[str, Any] | None) -> None:
        if error is None:
            op.status = SUCCEEDED
        else:
            op.status, op.error = FAILED, error

    # -- assess / install -----------------------------------------------------------------------------

    def assess(self, group: str, name: str, api_version: str,
               failure: tuple[str | None, str | None] | None) -> Operation:
        machine = self.get(group, name)
        self._busy(machine, ("assess", "install"))
        seconds = self._random.uniform(300.0, 600.0) if machine.connected else DISCONNECTED_TIMEOUT
        return self._start(machine, "assess", api_version, seconds, self._finish_assess, failure)

    def install(self, group: str, name: str, body: Any, api_version: str,
                failure: tuple[str | None, str | None] | None) -> Operation:
        machine = self.get(group, name)
        request = parse_install_request(body)
        self._busy(machine, ("assess", "install"))
        plan = self._plan(machine, request)
        seconds = min(max(plan.minutes * 60 + 600.0, 900.0), 1800.0) * self._random.uniform(0.9, 1.1)
        if request.maximum_minutes is not None:
            seconds = min(seconds, request.maximum_minutes * 60)
        if not machine.connected:
            seconds = DISCONNECTED_TIMEOUT
        op = self._start(machine, "install", api_version, seconds, self._finish_install, failure)
        op.details["request"] = request
        return op

    def _plan(self, machine: ArcMachine, request: InstallRequest) -> InstallPlan:
        if machine.patch is None:
            return InstallPlan([], False, "NotNeeded", False, 0.0)
        available = self.world.available(machine.patch, machine.enrolled, self.clock.today)
        return self.world.plan(available, request, machine.patch.reboot_pending)

    def _failure_of(self, op: Operation, machine: ArcMachine) -> dict[str, Any] | None:
        if op.failure is not None:
            return {"code": op.failure[0], "message": op.failure[1]}
        if not machine.connected:
            return _disconnected(machine)
        return None

    def _finish_assess(self, op: Operation) -> None:
        machine = self._machine_of(op)
        if machine is None:
            op.status, op.error = FAILED, {"code": "ResourceNotFound", "message": "The machine no longer exists."}
            return
        error = self._failure_of(op, machine)
        patches = [] if error or machine.patch is None else self.world.available(
            machine.patch, machine.enrolled, self.clock.today)
        record = self.compute.record_assessment(machine, op.id, op.start, op.end, patches,
                                                status="Failed" if error else "Succeeded", error=error)
        # Arc reports a failed run in the result (status + errorDetails); the operation itself completes.
        op.output = arc_assessment_result(record)
        op.status = SUCCEEDED

    def _finish_install(self, op: Operation) -> None:
        machine = self._machine_of(op)
        if machine is None:
            op.status, op.error = FAILED, {"code": "ResourceNotFound", "message": "The machine no longer exists."}
            return
        error = self._failure_of(op, machine)
        request: InstallRequest = op.details["request"]
        plan = None
        if error is None:
            plan = self._plan(machine, request)
            if machine.patch is not None:
                self.world.apply(machine.patch, plan)
        record = self.compute.record_installation(machine, op.id, op.start, op.end, plan, request=request,
                                                  error=error)
        if error is None:
            remaining = self.world.available(machine.patch, machine.enrolled, self.clock.today) if machine.patch \
                else []
            self.compute.record_assessment(machine, op.id, op.start, op.end, remaining)
        op.output = arc_installation_result(record)
        op.status = SUCCEEDED

    # -- bodies ---------------------------------------------------------------------------------------

    def os_sku(self, machine: ArcMachine) -> str:
        line = self.world.line(machine.os_key)
        year = line.name.split()[2] if len(line.name.split()) > 2 else machine.os_key
        return f"Windows Server {year} {EDITIONS[machine.edition][0]}"

    def machine_body(self, machine: ArcMachine, expand: bool = False) -> dict[str, Any]:
        """GET …/machines/{m}: the agent's report, patch settings, and with $expand=instanceView the
        licenseProfile (Machines_Get_LicenseProfileInstanceView.json)."""
        edition_id = EDITIONS[machine.edition][1] + ("core" if machine.core else "")
        enabled_hotpatch = machine.license is not None and machine.license.feature in ("Enabled", "Enabling")
        props: dict[str, Any] = {
            "provisioningState": "Succeeded",
            "agentVersion": AGENT_VERSION,
            "status": machine.status,
            "lastStatusChange": ts(machine.last_status_change or machine.time_created),
            "errorDetails": [],
            "displayName": machine.name,
            "machineFqdn": f"{machine.name}.corp.contoso.com",
            "vmUuid": machine.vm_uuid,
            "osName": "windows",
            "osVersion": f"10.0.{machine.patch.build}" if machine.patch else None,
            "osType": "windows",
            "osSku": self.os_sku(machine),
            "osEdition": edition_id,
            "domainName": "corp.contoso.com",
            "dnsFqdn": f"{machine.name}.corp.contoso.com",
            "osProfile": {
                "computerName": machine.name,
                "windowsConfiguration": {
                    "patchSettings": {
                        "assessmentMode": machine.assessment_mode,
                        "patchMode": machine.patch_mode,
                        "enableHotpatching": enabled_hotpatch,
                        "status": {"hotpatchEnablementStatus": machine.hotpatch_status,
                                   "error": machine.hotpatch_error},
                    }
                },
            },
            "vmId": stable_guid("arc-vmid", machine.id.lower()),
            "detectedProperties": {
                "cloudprovider": "N/A",
                "manufacturer": "Microsoft Corporation",
                "model": "Virtual Machine",
            },
        }
        if machine.parent_cluster:
            props["parentClusterResourceId"] = machine.parent_cluster
        if expand:
            props["licenseProfile"] = {"licenseStatus": "Licensed", "licenseChannel": "PSG"}
            if machine.license is not None:
                props["licenseProfile"]["productProfile"] = self._product_profile(machine.license)
        body: dict[str, Any] = {
            "id": machine.id,
            "name": machine.name,
            "location": machine.location,
            "tags": dict(machine.tags),
            "identity": {"type": "SystemAssigned", "principalId": stable_guid("arc-principal", machine.id.lower()),
                         "tenantId": self.tenant},
            "type": MACHINE_TYPE,
        }
        if machine.kind:
            body["kind"] = machine.kind
        body["properties"] = props
        return body


def _disconnected(machine: ArcMachine) -> dict[str, Any]:
    since = ts_zulu(machine.last_status_change) if machine.last_status_change else "it was connected"
    return {"code": DISCONNECTED_ERROR["code"], "message": DISCONNECTED_ERROR["message"].format(since=since)}


_CLASS_KEYS = {"critical": "critical", "security": "security", "updaterollup": "updateRollup",
               "featurepack": "featurePack", "servicepack": "servicePack", "definition": "definition",
               "tools": "tools", "updates": "updates"}


def count_by_classification(patches: list[dict[str, Any]]) -> dict[str, int]:
    """availablePatchCountByClassification as Machine_AssessPatches.json writes it (first classification)."""
    counts = dict.fromkeys(("security", "critical", "definition", "updateRollup", "featurePack", "servicePack",
                            "tools", "updates"), 0)
    for patch in patches:
        first = str(next(iter(patch.get("classifications") or []), "")).lower()
        key = _CLASS_KEYS.get(first)
        if key is not None:
            counts[key] += 1
    return counts


def _error_details(error: dict[str, Any] | None) -> dict[str, Any] | None:
    """Arc's errorDetails: null on success (the spec examples), the error otherwise."""
    if not error or str(error.get("code")) in ("Success", "0"):
        return None
    return {"code": error.get("code"), "message": error.get("message"), "details": error.get("details") or []}


def arc_assessment_result(record: dict[str, Any]) -> dict[str, Any]:
    """Machine_AssessPatches.json's result shape: counts by classification, no patch list."""
    return {
        "status": record["status"],
        "assessmentActivityId": record["assessmentActivityId"],
        "rebootPending": record["rebootPending"],
        "startDateTime": record["startDateTime"],
        "lastModifiedDateTime": record["lastModifiedDateTime"],
        "availablePatchCountByClassification": count_by_classification(record["availablePatches"]),
        "startedBy": record.get("startedBy") or "User",
        "osType": "Windows",
        "errorDetails": _error_details(record.get("error")),
    }


def arc_installation_result(record: dict[str, Any]) -> dict[str, Any]:
    """Machine_InstallPatches.json's result shape: Compute's counts, no patches[], errorDetails for error."""
    return {
        **{key: record[key] for key in ("status", "installationActivityId", "rebootStatus",
                                        "maintenanceWindowExceeded", "excludedPatchCount", "notSelectedPatchCount",
                                        "pendingPatchCount", "installedPatchCount", "failedPatchCount",
                                        "startDateTime", "lastModifiedDateTime")},
        "startedBy": record.get("startedBy") or "User",
        "osType": "Windows",
        "errorDetails": _error_details(record.get("error")),
    }

"""Microsoft.Compute state: virtual machines, their instance views, and assessPatches / installPatches."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any, Protocol

from hpctl.sandbox.armerrors import ArmError, conflict, resource_not_found
from hpctl.sandbox.clock import SimClock, ts, ts_seconds, ts_zulu
from hpctl.sandbox.ids import GuidStream, stable_guid
from hpctl.sandbox.images import ImageCatalog
from hpctl.sandbox.installparams import parse_install_request
from hpctl.sandbox.lro import FAILED, SUCCEEDED, Operation, Operations
from hpctl.sandbox.resources import ResourceGroups
from hpctl.sandbox.vmrules import VmModel, merge_patch, normalize_vm
from hpctl.sandbox.world import InstallPlan, InstallRequest, Patch, PatchState, World

VM_TYPE = "Microsoft.Compute/virtualMachines"
AGENT_VERSION = "2.7.41491.1176"
PATCH_EXTENSION = "Microsoft.CPlat.Core.WindowsPatchExtension"
ASSESSMENT_DAYS = 7
INSTALLATION_DAYS = 30

# Simulated durations (seconds); wall time is these divided by time_scale.
CREATE_SECONDS = 120.0
UPDATE_SECONDS = 30.0
DELETE_SECONDS = 60.0

# The operation-level failure real CRP reports for a patch operation that broke (azure-rest-api-specs #31144).
PATCH_FAILURE = ("VMGuestPatchInternalError", "An internal execution error occurred. Please retry later.")
AGENT_FAILURE_CODE = "VMAgentStatusCommunicationError"


class PatchOwner(Protocol):
    """What keeps patch history: a VM here, an Arc machine in hybridcompute.py (same records, same tables)."""

    id: str
    group: str
    patch: PatchState | None
    assessments: list[dict[str, Any]]
    installations: list[dict[str, Any]]
    last_assessment: dict[str, Any] | None
    last_installation: dict[str, Any] | None
    duplicate_kb: bool
    assessment_warning: dict[str, Any] | None

    @property
    def location(self) -> str: ...

    @property
    def is_windows(self) -> bool: ...

    @property
    def resource_type(self) -> str: ...


@dataclass
class AvailabilitySetSlot:
    name: str
    update_domain: int
    fault_domain: int


@dataclass
class VirtualMachine:
    """One VM: its model as Azure echoes it, and what the simulated guest has installed."""

    subscription: str
    group: str
    name: str
    model: VmModel
    vm_id: str
    time_created: dt.datetime
    provisioning: str = "Succeeded"
    patch: PatchState | None = None
    availability: AvailabilitySetSlot | None = None
    assessments: list[dict[str, Any]] = field(default_factory=list)
    installations: list[dict[str, Any]] = field(default_factory=list)
    last_assessment: dict[str, Any] | None = None
    last_installation: dict[str, Any] | None = None
    etag: int = 1
    power: str = "running"  # running | deallocated (a deallocated VM reports no OS and runs nothing)
    # Old VM agents report "Microsoft Windows NT 10.0.<build>.0": no update revision (azure-wire.md §9.2).
    agent_reports_revision: bool = True
    # patchStatus.hotPatchStatus as CRP sends it for some VMs (azure-wire.md §9.3), when it does.
    hot_patch_status: dict[str, Any] | None = None
    # Its assessments list one KB twice under two patchIds (azure-wire.md §9.4).
    duplicate_kb: bool = False
    # The error its otherwise successful assessments carry (azure-wire.md §9.5: code "1"/"2" with Succeeded).
    assessment_warning: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.group}/providers/{VM_TYPE}/{self.name}"
        )

    @property
    def key(self) -> str:
        return f"{self.group.lower()}/{self.name.lower()}"

    @property
    def windows(self) -> dict[str, Any]:
        return self.model.windows or {}

    @property
    def location(self) -> str:
        return self.model.location

    @property
    def is_windows(self) -> bool:
        return self.model.windows is not None

    @property
    def resource_type(self) -> str:
        return VM_TYPE

    @property
    def settings(self) -> dict[str, Any]:
        return self.model.patch_settings

    @property
    def agent(self) -> bool:
        if self.model.windows is None:
            return True
        return bool(self.windows.get("provisionVMAgent", True))

    @property
    def hotpatch_image(self) -> bool:
        return bool(self.model.sku and self.model.sku.hotpatch)

    @property
    def enrolled(self) -> bool:
        """On Azure's hotpatch program: an eligible image with hotpatching on under AutomaticByPlatform."""
        return (
            self.hotpatch_image
            and self.settings.get("enableHotpatching") is True
            and self.settings.get("patchMode") == "AutomaticByPlatform"
            and self.agent
        )


class Compute:
    """The VMs of one subscription and the patch operations on them."""

    def __init__(
        self,
        subscription: str,
        clock: SimClock,
        world: World,
        images: ImageCatalog,
        groups: ResourceGroups,
        operations: Operations,
        guids: GuidStream,
        seed: int,
    ) -> None:
        self.subscription = subscription
        self.clock = clock
        self.world = world
        self.images = images
        self.groups = groups
        self.operations = operations
        self.guids = guids
        self._random = random.Random(f"hpctl-sandbox-durations:{seed}")
        self._vms: dict[str, VirtualMachine] = {}
        self._avset_members: dict[str, int] = {}

    # -- lookups --------------------------------------------------------------------------------------

    def get(self, group: str, name: str) -> VirtualMachine:
        resource_group = self.groups.get(group)
        vm = self._vms.get(f"{group.lower()}/{name.lower()}")
        if vm is None:
            raise resource_not_found(VM_TYPE, name, resource_group.name)
        return vm

    def insert(self, vm: VirtualMachine) -> None:
        """Add a VM that is already built (seeding, tests)."""
        if vm.key in self._vms:
            raise ValueError(f"VM {vm.group}/{vm.name} already exists")
        self._vms[vm.key] = vm

    def find(self, group: str, name: str) -> VirtualMachine | None:
        return self._vms.get(f"{group.lower()}/{name.lower()}")

    def list(self, group: str | None = None) -> list[VirtualMachine]:
        if group is not None:
            self.groups.get(group)
            vms = [vm for vm in self._vms.values() if vm.group.lower() == group.lower()]
        else:
            vms = list(self._vms.values())
        return sorted(vms, key=lambda vm: (vm.group.lower(), vm.name.lower()))

    # -- create / update / delete ---------------------------------------------------------------------

    def put(
        self,
        group: str,
        name: str,
        body: Any,
        api_version: str,
        failure: tuple[str | None, str | None] | None,
    ) -> tuple[int, VirtualMachine, Operation]:
        resource_group = self.groups.get(group)
        existing = self.find(group, name)
        if existing is not None:
            self._check_idle(existing)
            model = normalize_vm(
                existing.name,
                _strip_password(body) if isinstance(body, dict) else body,
                existing.model,
                self.images,
            )
            return 200, existing, self._update(existing, model, api_version, failure)
        model = normalize_vm(name, body, None, self.images)
        vm = self.new_vm(resource_group.name, name, model)
        vm.provisioning = "Creating"
        self.insert(vm)
        op = self._start(
            vm,
            "create",
            api_version,
            CREATE_SECONDS * self._random.uniform(0.8, 1.3),
            failure,
            self._finish_provisioning,
        )
        return 201, vm, op

    def patch(
        self,
        group: str,
        name: str,
        body: Any,
        api_version: str,
        failure: tuple[str | None, str | None] | None,
    ) -> tuple[VirtualMachine, Operation]:
        vm = self.get(group, name)
        self._check_idle(vm)
        if not isinstance(body, dict):
            raise ArmError(
                400,
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized: 'Expected an object.'.",
            )
        current = {"location": vm.model.location, "tags": vm.model.tags, "properties": vm.model.properties}
        if vm.model.zones:
            current["zones"] = vm.model.zones
        merged = merge_patch(current, _strip_password(body))
        model = normalize_vm(vm.name, merged, vm.model, self.images)
        return vm, self._update(vm, model, api_version, failure)

    def _update(
        self,
        vm: VirtualMachine,
        model: VmModel,
        api_version: str,
        failure: tuple[str | None, str | None] | None,
    ) -> Operation:
        vm.model = model
        vm.etag += 1
        vm.provisioning = "Updating"
        return self._start(vm, "update", api_version, UPDATE_SECONDS, failure, self._finish_provisioning)

    def delete(self, group: str, name: str, api_version: str) -> Operation | None:
        self.groups.get(group)
        vm = self.find(group, name)
        if vm is None:
            return None
        self._check_idle(vm)
        vm.provisioning = "Deleting"
        return self._start(vm, "delete", api_version, DELETE_SECONDS, None, self._finish_delete)

    def _check_idle(self, vm: VirtualMachine) -> None:
        if self.operations.running(vm.id, ("create", "update", "delete")) is not None:
            raise conflict()

    def new_vm(
        self,
        group: str,
        name: str,
        model: VmModel,
        vm_id: str | None = None,
        created: dt.datetime | None = None,
    ) -> VirtualMachine:
        vm = VirtualMachine(
            self.subscription, group, name, model, vm_id or self.guids.next(), created or self.clock.now()
        )
        vm.patch = self._initial_state(model)
        if model.properties.get("availabilitySet"):
            av_id = model.properties["availabilitySet"]["id"].lower()
            members = self._avset_members.get(av_id, 0)
            self._avset_members[av_id] = members + 1
            # Five update domains and two fault domains, filled round-robin as Azure places set members.
            vm.availability = AvailabilitySetSlot(av_id.rsplit("/", 1)[-1].upper(), members % 5, members % 2)
        return vm

    def _initial_state(self, model: VmModel) -> PatchState | None:
        os_key = self.os_of(model)
        if os_key is None:
            return None
        if model.sku is not None and model.exact_version:
            build = self.images.build_of(model.sku, model.exact_version)
            if build:
                return self.world.state_on_build(os_key, build)
        # Gallery images: a month-old regular LCU of their OS line.
        month = self.world.calendar.months_back(os_key, self.clock.today, 1)
        return self.world.state_on_build(os_key, month.lcu.build)

    def os_of(self, model: VmModel) -> str | None:
        """The OS line a VM runs (None for Linux and client images, which the world does not patch)."""
        if model.sku is not None:
            return model.sku.os if model.sku.os in self.world.calendar.lines else None
        if model.gallery_image is not None:
            return "2025" if "2025" in model.gallery_image else "2022"
        return None

    def _start(
        self,
        vm: VirtualMachine,
        kind: str,
        api_version: str,
        seconds: float,
        failure: tuple[str | None, str | None] | None,
        complete: Any,
    ) -> Operation:
        op_id = self.guids.next()
        resolved = None
        if failure is not None:
            default = (
                PATCH_FAILURE
                if kind in ("assess", "install")
                else ("InternalExecutionError", "An internal execution error occurred. Please retry later.")
            )
            resolved = (failure[0] or default[0], failure[1] or default[1])
        op = Operation(
            op_id,
            self.guids.next(),
            self.subscription,
            vm.model.location,
            kind,
            vm.id,
            api_version,
            self.clock.now(),
            seconds,
            self.clock.wall() + self.clock.wall_seconds(seconds),
            complete,
            failure=resolved,
        )
        return self.operations.start(op)

    def _fail(self, op: Operation, code: str, message: str) -> None:
        op.status = FAILED
        op.error = {"code": code, "message": message}

    def _finish_provisioning(self, op: Operation) -> None:
        """A create or an update ends the same way: the VM's provisioningState follows the operation."""
        vm = self._vms.get(_key_of(op.target))
        if op.failure is not None:
            self._fail(op, *op.failure)
            if vm is not None:
                vm.provisioning = "Failed"
            return
        if vm is not None:
            vm.provisioning = "Succeeded"
        op.status = SUCCEEDED

    def _finish_delete(self, op: Operation) -> None:
        self._vms.pop(_key_of(op.target), None)
        op.status = SUCCEEDED

    # -- patch operations -----------------------------------------------------------------------------

    def _check_patchable(self, vm: VirtualMachine) -> None:
        if self.operations.running(vm.id, ("assess", "install", "create", "delete", "runcommand", "restart")):
            raise conflict()

    def assess(
        self, group: str, name: str, api_version: str, failure: tuple[str | None, str | None] | None
    ) -> Operation:
        vm = self.get(group, name)
        self._check_patchable(vm)
        seconds = self._random.uniform(300.0, 600.0)
        return self._start(vm, "assess", api_version, seconds, failure, self._finish_assess)

    def install(
        self,
        group: str,
        name: str,
        body: Any,
        api_version: str,
        failure: tuple[str | None, str | None] | None,
        *,
        fail_patches: bool = False,
    ) -> Operation:
        vm = self.get(group, name)
        request = parse_install_request(body)
        self._check_patchable(vm)
        plan = self._plan(vm, request)
        seconds = min(max(plan.minutes * 60 + 600.0, 900.0), 1800.0) * self._random.uniform(0.9, 1.1)
        if request.maximum_minutes is not None:
            seconds = min(seconds, request.maximum_minutes * 60)
        op = self._start(vm, "install", api_version, seconds, failure, self._finish_install)
        op.details["request"] = request
        op.details["fail_patches"] = fail_patches
        return op

    def _plan(self, vm: VirtualMachine, request: InstallRequest, fail_patches: bool = False) -> InstallPlan:
        if vm.patch is None:
            return InstallPlan([], False, "NotNeeded", False, 0.0)
        available = self.world.available(vm.patch, vm.enrolled, self.clock.today)
        available += self.world.requested(vm.patch, request, available)
        failing = [p.kb for p in available] if fail_patches else []
        return self.world.plan(available, request, vm.patch.reboot_pending, failing)

    def _finish_assess(self, op: Operation) -> None:
        vm = self._vms.get(_key_of(op.target))
        if vm is None:
            self._fail(op, *PATCH_FAILURE)
            return
        if op.failure is None and (not vm.agent or vm.power != "running"):
            op.failure = (AGENT_FAILURE_CODE, _agent_message(vm.name))
        if op.failure is not None:
            self._fail(op, *op.failure)
            self.record_assessment(
                vm, op.id, op.start, op.end, [], status="Failed", error=op.error, started_by="User"
            )
            return
        patches = self.world.available(vm.patch, vm.enrolled, self.clock.today) if vm.patch else []
        record = self.record_assessment(vm, op.id, op.start, op.end, patches, started_by="User")
        op.output = assessment_result(record)
        op.status = SUCCEEDED

    def _finish_install(self, op: Operation) -> None:
        vm = self._vms.get(_key_of(op.target))
        if vm is None:
            self._fail(op, *PATCH_FAILURE)
            return
        if op.failure is None and (not vm.agent or vm.power != "running"):
            op.failure = (AGENT_FAILURE_CODE, _agent_message(vm.name))
        if op.failure is not None:
            self._fail(op, *op.failure)
            self.record_installation(vm, op.id, op.start, op.end, None, error=op.error)
            return
        request: InstallRequest = op.details["request"]
        plan = self._plan(vm, request, op.details.get("fail_patches", False))
        if vm.patch is not None:
            self.world.apply(vm.patch, plan)
        record = self.record_installation(vm, op.id, op.start, op.end, plan, request=request)
        # The patch extension assesses again after installing, so the summary reflects what is left.
        remaining = self.world.available(vm.patch, vm.enrolled, self.clock.today) if vm.patch else []
        self.record_assessment(vm, op.id, op.start, op.end, remaining, started_by="User")
        op.output = installation_result(record)
        op.status = SUCCEEDED

    # -- history --------------------------------------------------------------------------------------

    def _prune(self, vm: PatchOwner) -> None:
        now = self.clock.now()
        vm.assessments = [a for a in vm.assessments if a["_end"] >= now - dt.timedelta(days=ASSESSMENT_DAYS)]
        vm.installations = [
            i for i in vm.installations if i["_end"] >= now - dt.timedelta(days=INSTALLATION_DAYS)
        ]

    def record_assessment(
        self,
        vm: PatchOwner,
        activity: str,
        start: dt.datetime,
        end: dt.datetime,
        patches: list[Patch],
        *,
        status: str = "Succeeded",
        error: dict[str, Any] | None = None,
        started_by: str = "User",
    ) -> dict[str, Any]:
        listed = [available_patch(p, activity, end) for p in patches]
        flags = [p.critical_or_security for p in patches]
        if vm.duplicate_kb and patches and status == "Succeeded":
            # Real assessments list one KB twice: an older and a newer revision of it, two patchIds.
            first = patches[0]
            older = dict(listed[0], patchId=stable_guid("patch-revision", listed[0]["patchId"]),
                         name=f"{(first.published - dt.timedelta(days=182)).strftime('%Y-%m')} "
                              f"{first.name.split(' ', 1)[-1]}",
                         publishedDate=ts_zulu(first.published - dt.timedelta(days=182)))
            listed.append(older)
            flags.append(first.critical_or_security)
        if error is None and status == "Succeeded" and vm.assessment_warning is not None:
            error = dict(vm.assessment_warning)
        record = {
            "status": status,
            "assessmentActivityId": activity,
            "rebootPending": bool(vm.patch and vm.patch.reboot_pending),
            "criticalAndSecurityPatchCount": sum(1 for f in flags if f),
            "otherPatchCount": sum(1 for f in flags if not f),
            "startDateTime": ts(start),
            "lastModifiedDateTime": ts(end),
            "availablePatches": listed,
            "error": error,
            "startedBy": started_by,
            "osType": "Windows" if vm.is_windows else "Linux",
            "_end": end,
        }
        vm.last_assessment = record
        vm.assessments.append(record)
        self._prune(vm)
        return record

    def record_installation(
        self,
        vm: PatchOwner,
        activity: str,
        start: dt.datetime,
        end: dt.datetime,
        plan: InstallPlan | None,
        *,
        request: InstallRequest | None = None,
        error: dict[str, Any] | None = None,
        started_by: str = "User",
    ) -> dict[str, Any]:
        outcomes = plan.outcomes if plan is not None else []
        counts = {
            state: sum(1 for _, s in outcomes if s == state)
            for state in ("Installed", "Failed", "Excluded", "NotSelected", "Pending")
        }
        if error is not None:
            status = "Failed"
        elif counts["Failed"]:
            status = "Failed"
            error = {
                "details": [
                    {"code": "OPERATION_FAILED", "message": f"Failed to install {p.name}: 0x80240022"}
                    for p, s in outcomes
                    if s == "Failed"
                ][:5],
                "code": "Failed",
                "message": f"{counts['Failed']} error/s reported.",
            }
        elif plan is not None and plan.window_exceeded:
            status = "CompletedWithWarnings"
            error = {
                "details": [
                    {
                        "code": "SV_MAINTENANCE_WINDOW_ERROR",
                        "message": "Maintenance window exceeded; some patches were not installed.",
                    }
                ],
                # Error code "1" (errors) under CompletedWithWarnings (azure-wire.md §9.5).
                "code": "1",
                "message": "1 error/s reported.",
            }
        else:
            status = "Succeeded"
            error = {"details": [], "code": "Success", "message": "0 error/s reported"}
        record = {
            "status": status,
            "installationActivityId": activity,
            "rebootStatus": plan.reboot_status if plan is not None else "Unknown",
            "maintenanceWindowExceeded": bool(plan and plan.window_exceeded),
            "excludedPatchCount": counts["Excluded"],
            "notSelectedPatchCount": counts["NotSelected"],
            "pendingPatchCount": counts["Pending"],
            "installedPatchCount": counts["Installed"],
            "failedPatchCount": counts["Failed"],
            "patches": [
                {
                    "patchId": p.patch_id,
                    "name": p.name,
                    "kbId": p.kb,
                    "classifications": list(p.classifications),
                    "installationState": s,
                }
                for p, s in outcomes
            ],
            "startDateTime": ts_seconds(start),
            "lastModifiedDateTime": ts(end),
            "error": error,
            "startedBy": started_by,
            "rebootSetting": request.reboot_setting if request else None,
            "maximumDuration": request.maximum_minutes if request else None,
            "_end": end,
            # The Patch objects, for Resource Graph's softwarepatches rows (reboot behaviour, publish date).
            "_outcomes": list(outcomes),
        }
        vm.last_installation = record
        vm.installations.append(record)
        self._prune(vm)
        return record

    def history(self, vm: VirtualMachine) -> dict[str, list[dict[str, Any]]]:
        """Assessment (7 days) and installation (30 days) history, newest last (for Resource Graph later)."""
        self._prune(vm)

        def clean(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{k: v for k, v in item.items() if not k.startswith("_")} for item in items]

        return {"assessments": clean(vm.assessments), "installations": clean(vm.installations)}

    # -- bodies ---------------------------------------------------------------------------------------

    def vm_body(self, vm: VirtualMachine, expand: bool = False) -> dict[str, Any]:
        stored = vm.model.properties
        props: dict[str, Any] = {
            "hardwareProfile": stored["hardwareProfile"],
            "provisioningState": vm.provisioning,
            "vmId": vm.vm_id,
        }
        if "availabilitySet" in stored:
            props["availabilitySet"] = stored["availabilitySet"]
        storage = dict(stored["storageProfile"])
        os_disk = dict(storage["osDisk"])
        os_disk["managedDisk"] = {
            **os_disk.get("managedDisk", {}),
            "id": (
                f"/subscriptions/{vm.subscription}/resourceGroups/{vm.group}/providers/Microsoft.Compute/disks/"
                f"{os_disk['name']}"
            ),
        }
        storage["osDisk"] = os_disk
        props["storageProfile"] = storage
        props["osProfile"] = stored["osProfile"]
        for key, value in stored.items():
            if key not in props and key != "networkProfile":
                props[key] = value
        props["networkProfile"] = stored["networkProfile"]
        if expand:
            props["instanceView"] = self.instance_view(vm)
        props["timeCreated"] = ts(vm.time_created)
        body: dict[str, Any] = {
            "name": vm.name,
            "id": vm.id,
            "type": VM_TYPE,
            "location": vm.model.location,
            "tags": dict(vm.model.tags),
        }
        if vm.model.zones:
            body["zones"] = list(vm.model.zones)
        body["properties"] = props
        body["etag"] = f'"{vm.etag}"'
        return body

    def instance_view(self, vm: VirtualMachine) -> dict[str, Any]:
        now = self.clock.now()
        view: dict[str, Any] = {}
        if vm.availability is not None:
            view["platformUpdateDomain"] = vm.availability.update_domain
            view["platformFaultDomain"] = vm.availability.fault_domain
        ready = vm.agent and vm.provisioning not in ("Creating", "Failed") and vm.power == "running"
        windows = vm.model.windows is not None
        if ready:
            view["computerName"] = vm.model.properties["osProfile"]["computerName"]
            if vm.model.sku is not None and not windows:
                view["osName"] = "ubuntu"
                view["osVersion"] = vm.model.sku.os_name.split()[1]
            elif vm.patch is not None:
                view["osName"] = self._os_name(vm)
                view["osVersion"] = (
                    f"10.0.{vm.patch.build}"
                    if vm.agent_reports_revision
                    else f"Microsoft Windows NT 10.0.{vm.patch.build.split('.')[0]}.0"
                )
            handlers = []
            if windows and (vm.last_assessment or vm.settings.get("patchMode") == "AutomaticByPlatform"):
                handlers.append(
                    {
                        "type": PATCH_EXTENSION,
                        "typeHandlerVersion": "1.5.68",
                        "status": {
                            "code": "ProvisioningState/succeeded",
                            "level": "Info",
                            "displayStatus": "Ready",
                        },
                    }
                )
            view["vmAgent"] = {
                "vmAgentVersion": AGENT_VERSION,
                "statuses": [
                    {
                        "code": "ProvisioningState/succeeded",
                        "level": "Info",
                        "displayStatus": "Ready",
                        "message": "GuestAgent is running and processing the extensions.",
                        "time": ts_seconds(now - dt.timedelta(seconds=37)),
                    }
                ],
                "extensionHandlers": handlers,
            }
        else:
            message = (
                "VM status blob is found but not yet populated."
                if vm.provisioning == "Creating"
                else "VM Agent is unresponsive."
            )
            view["vmAgent"] = {
                "vmAgentVersion": "Unknown",
                "statuses": [
                    {
                        "code": "ProvisioningState/Unavailable",
                        "level": "Warning",
                        "displayStatus": "Not Ready",
                        "message": message,
                        "time": ts_seconds(now),
                    }
                ],
            }
        view["disks"] = [
            {
                "name": vm.model.properties["storageProfile"]["osDisk"]["name"],
                "statuses": [
                    {
                        "code": "ProvisioningState/succeeded",
                        "level": "Info",
                        "displayStatus": "Provisioning succeeded",
                        "time": ts(vm.time_created + dt.timedelta(seconds=2)),
                    }
                ],
            }
        ]
        view["hyperVGeneration"] = vm.model.sku.generation if vm.model.sku else "V2"
        patch_status = self.patch_status(vm)
        if patch_status is not None:
            view["patchStatus"] = patch_status
        state = vm.provisioning.lower()
        display = {
            "succeeded": "Provisioning succeeded",
            "creating": "Creating",
            "updating": "Updating",
            "deleting": "Deleting",
            "failed": "Provisioning failed",
        }.get(state, vm.provisioning)
        statuses: list[dict[str, Any]] = [
            {
                "code": f"ProvisioningState/{state}",
                "level": "Error" if state == "failed" else "Info",
                "displayStatus": display,
            }
        ]
        if state == "succeeded":
            statuses[0]["time"] = ts(vm.time_created + dt.timedelta(seconds=81))
        if vm.power == "deallocated":
            statuses.append({"code": "PowerState/deallocated", "level": "Info", "displayStatus": "VM deallocated"})
        elif vm.provisioning != "Creating":
            statuses.append({"code": "PowerState/running", "level": "Info", "displayStatus": "VM running"})
        else:
            statuses.append({"code": "PowerState/starting", "level": "Info", "displayStatus": "VM starting"})
        view["statuses"] = statuses
        return view

    def _os_name(self, vm: VirtualMachine) -> str:
        if vm.model.sku is not None:
            return vm.model.sku.os_name
        assert vm.patch is not None
        return self.world.line(vm.patch.os).os_name

    def patch_status(self, vm: VirtualMachine) -> dict[str, Any] | None:
        """The instance view's patchStatus; absent until the VM has been assessed (as on a fresh Azure VM)."""
        if vm.last_assessment is None:
            return None
        assessment = vm.last_assessment
        status: dict[str, Any] = {}
        if vm.hot_patch_status is not None:
            # The real block came first inside patchStatus.
            status["hotPatchStatus"] = dict(vm.hot_patch_status)
        status.update({
            "availablePatchSummary": {
                "status": assessment["status"],
                "assessmentActivityId": assessment["assessmentActivityId"],
                "rebootPending": bool(vm.patch and vm.patch.reboot_pending),
                "criticalAndSecurityPatchCount": assessment["criticalAndSecurityPatchCount"],
                "otherPatchCount": assessment["otherPatchCount"],
                "startTime": assessment["startDateTime"],
                "lastModifiedTime": assessment["lastModifiedDateTime"],
                "error": assessment["error"],
            }
        })
        running = self.operations.running(vm.id, ("install",))
        if running is not None:
            # Azure shows an installation in progress in the summary (status InProgress) until it ends.
            status["lastPatchInstallationSummary"] = {
                "status": "InProgress",
                "installationActivityId": running.id,
                "startTime": ts(running.start),
                "lastModifiedTime": ts(running.start),
                "error": None,
            }
        elif vm.last_installation is not None:
            install = vm.last_installation
            status["lastPatchInstallationSummary"] = {
                "status": install["status"],
                "installationActivityId": install["installationActivityId"],
                "maintenanceWindowExceeded": install["maintenanceWindowExceeded"],
                "notSelectedPatchCount": install["notSelectedPatchCount"],
                "excludedPatchCount": install["excludedPatchCount"],
                "pendingPatchCount": install["pendingPatchCount"],
                "installedPatchCount": install["installedPatchCount"],
                "failedPatchCount": install["failedPatchCount"],
                "startTime": ts(_parse_short(install["startDateTime"])),
                "lastModifiedTime": install["lastModifiedDateTime"],
                "error": None if install["status"] == "Succeeded" else install["error"],
            }
        stamp = assessment["lastModifiedDateTime"]
        status["configurationStatuses"] = [
            {
                "code": "PatchModeConfigurationState/Ready",
                "level": "Info",
                "displayStatus": "Status_PatchModeConfigurationState_Ready",
                "time": stamp,
            },
            {
                "code": "AssessmentModeConfigurationState/Ready",
                "level": "Info",
                "displayStatus": "Status_AssessmentModeConfigurationState_Ready",
                "time": stamp,
            },
        ]
        return status


def assessment_result(record: dict[str, Any]) -> dict[str, Any]:
    """The assessPatches result body (real CRP omits `error` on success)."""
    body = {
        key: record[key]
        for key in (
            "status",
            "assessmentActivityId",
            "rebootPending",
            "criticalAndSecurityPatchCount",
            "otherPatchCount",
            "startDateTime",
            "availablePatches",
        )
    }
    if record["error"] is not None:
        body["error"] = record["error"]
    return body


def installation_result(record: dict[str, Any]) -> dict[str, Any]:
    """The installPatches result body, in the key order of the real recording."""
    return {
        key: record[key]
        for key in (
            "status",
            "installationActivityId",
            "rebootStatus",
            "maintenanceWindowExceeded",
            "excludedPatchCount",
            "notSelectedPatchCount",
            "pendingPatchCount",
            "installedPatchCount",
            "failedPatchCount",
            "patches",
            "startDateTime",
            "error",
        )
    }


def available_patch(patch: Patch, activity: str, when: dt.datetime) -> dict[str, Any]:
    return {
        "patchId": patch.patch_id,
        "name": patch.name,
        "kbId": patch.kb,
        "classifications": list(patch.classifications),
        "rebootBehavior": patch.reboot_behavior,
        "activityId": activity,
        "publishedDate": ts_zulu(patch.published),
        "lastModifiedDateTime": ts(when - dt.timedelta(seconds=51)),
        "assessmentState": "Available",
    }


def _parse_short(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S+00:00").replace(tzinfo=dt.timezone.utc)


def _strip_password(body: dict[str, Any]) -> dict[str, Any]:
    """Updates may repeat adminPassword; CRP ignores it there (it cannot change it) and never echoes it."""
    profile = (
        (body.get("properties") or {}).get("osProfile") if isinstance(body.get("properties"), dict) else None
    )
    if isinstance(profile, dict) and "adminPassword" in profile:
        body = merge_patch(body, {"properties": {"osProfile": {"adminPassword": None}}})
    return body


def _key_of(resource_id: str) -> str:
    parts = resource_id.split("/")
    return f"{parts[4].lower()}/{parts[8].lower()}"


def _agent_message(name: str) -> str:
    return (
        f"VM '{name}' has not reported status for VM agent or extensions. Verify that the OS is up and "
        "healthy, the VM has a running VM agent, and that it can establish outbound connections to Azure "
        "storage. Please refer to https://aka.ms/vmextensionwindowstroubleshoot for additional VM agent "
        "troubleshooting information."
    )


def stable_vm_id(subscription: str, group: str, name: str) -> str:
    return stable_guid("vm", subscription, group.lower(), name.lower())

"""The sandbox's state in one object: groups, compute, images, operations, the world; behind a lock."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from hpctl.sandbox.armerrors import ArmError
from hpctl.sandbox.clock import SimClock
from hpctl.sandbox.compute import Compute, VirtualMachine, stable_vm_id
from hpctl.sandbox.config import SandboxConfig
from hpctl.sandbox.deployments import Deployments
from hpctl.sandbox.hybridcompute import HybridCompute
from hpctl.sandbox.ids import GuidStream
from hpctl.sandbox.images import ImageCatalog
from hpctl.sandbox.lro import Operations
from hpctl.sandbox.maintenance import MaintenanceStore
from hpctl.sandbox.network import ResourceStore
from hpctl.sandbox.resources import ResourceGroup, ResourceGroups
from hpctl.sandbox.runcommand import VmActions
from hpctl.sandbox.scalesets import ScaleSets
from hpctl.sandbox.vmrules import normalize_vm
from hpctl.sandbox.world import World


class Backend:
    """All service state of one sandbox subscription. Hold `lock` while touching it (the HTTP layer does)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        assert config.subscription_id is not None
        self.subscription_id: str = config.subscription_id
        self.tenant_id = config.tenant_id
        self.clock = SimClock(config.today, config.time_scale)
        self.guids = GuidStream(config.seed)
        self.world = World(config.today)
        self.images = ImageCatalog(self.world)
        self.groups = ResourceGroups(self.subscription_id, self.images.regions)
        self.operations = Operations(self.clock)
        self.compute = Compute(
            self.subscription_id,
            self.clock,
            self.world,
            self.images,
            self.groups,
            self.operations,
            self.guids,
            config.seed,
        )
        self.vm_actions = VmActions(self.compute, config.seed)  # Run Command and restart
        # Network and other deployed resources, scale sets, template deployments (hpctl.sandbox.deployments).
        self.network = ResourceStore(self.subscription_id, self.groups, self.images.regions)
        self.scalesets = ScaleSets(
            self.subscription_id,
            self.clock,
            self.images,
            self.groups,
            self.operations,
            self.guids,
            self.compute,
            config.seed,
        )
        self.deployments = Deployments(self)
        # Update Manager schedules: maintenance configurations and their assignments (hpctl.sandbox.maintenance).
        self.maintenance = MaintenanceStore(self.subscription_id, self)
        # Azure Arc machines (Microsoft.HybridCompute), Azure Local VMs among them.
        self.hybrid = HybridCompute(
            self.subscription_id,
            self.tenant_id,
            self.clock,
            self.world,
            self.groups,
            self.operations,
            self.guids,
            self.compute,
            config.seed,
        )
        if config.fleet:
            from hpctl.sandbox.arcfleet import seed_arc_machines
            from hpctl.sandbox.fleet import seed_fleet

            seed_fleet(self, config.fleet, config.seed)
            seed_arc_machines(self, config.fleet, config.seed)

    def settle(self) -> None:
        """Finish every operation whose simulated time is up."""
        with self.lock:
            self.operations.settle()
            self.deployments.settle()  # deployments wait on the operations of the resources they create

    # -- arranging a world (tests, fleet seeding) -----------------------------------------------------

    def add_resource_group(
        self, name: str, location: str = "eastus", tags: dict[str, str] | None = None
    ) -> ResourceGroup:
        with self.lock:
            return self.groups.ensure(name, location, tags)

    def add_vm(
        self,
        group: str,
        name: str,
        *,
        location: str = "eastus",
        image: str = "MicrosoftWindowsServer:WindowsServer:2025-datacenter-azure-edition:latest",
        gallery_image: str | None = None,
        vm_size: str = "Standard_D2s_v5",
        patch_mode: str | None = "AutomaticByPlatform",
        hotpatch: bool | None = None,
        assessment_mode: str | None = None,
        provision_vm_agent: bool = True,
        enable_automatic_updates: bool | None = None,
        bypass_platform_safety_checks: bool = False,
        reboot_setting: str | None = None,
        patch_settings: bool = True,
        zone: str | None = None,
        availability_set: str | None = None,
        tags: dict[str, str] | None = None,
        standing: str = "current",
        build: str | None = None,
        assessed_days_ago: float | None = 0.5,
        admin_username: str = "azureuser",
        created_days_ago: float = 90.0,
    ) -> VirtualMachine:
        """Put a VM straight into the world, as if it had been created and patched for a while.

        `image` is PUBLISHER:OFFER:SKU:VERSION; `standing` is current, behind1, behind2, offtrack or
        reboot-pending (relative to the simulated date), or pass `build` (e.g. "26100.32690").
        `hotpatch` defaults to on for the eight eligible SKUs under AutomaticByPlatform.
        `assessed_days_ago=None` leaves the VM never assessed (no patchStatus). Azure's own model rules
        apply: an invalid combination raises ValueError with Azure's message.
        """
        with self.lock:
            resource_group = self.groups.ensure(group, location)
            if self.compute.find(group, name) is not None:
                raise ValueError(f"VM {group}/{name} already exists")
            publisher, offer, sku, version = (image.split(":") + ["", "", "", ""])[:4]
            image_ref: dict[str, Any] = (
                {"id": gallery_image}
                if gallery_image
                else {"publisher": publisher, "offer": offer, "sku": sku, "version": version or "latest"}
            )
            eligible = gallery_image is None and self.images.hotpatch_compatible(publisher, offer, sku)
            settings: dict[str, Any] = {}
            if patch_mode is not None:
                settings["patchMode"] = patch_mode
            if hotpatch is None and eligible and patch_mode == "AutomaticByPlatform":
                hotpatch = True
            if hotpatch is not None:
                settings["enableHotpatching"] = hotpatch
            if assessment_mode is None:
                assessment_mode = (
                    "AutomaticByPlatform"
                    if provision_vm_agent and patch_mode == "AutomaticByPlatform"
                    else "ImageDefault"
                )
            settings["assessmentMode"] = assessment_mode
            if patch_mode == "AutomaticByPlatform":
                platform: dict[str, Any] = {
                    "bypassPlatformSafetyChecksOnUserSchedule": bypass_platform_safety_checks
                }
                if reboot_setting:
                    platform["rebootSetting"] = reboot_setting
                settings["automaticByPlatformSettings"] = platform
            if enable_automatic_updates is None:
                enable_automatic_updates = patch_mode != "Manual"
            windows: dict[str, Any] = {
                "provisionVMAgent": provision_vm_agent,
                "enableAutomaticUpdates": enable_automatic_updates,
            }
            if patch_settings:
                windows["patchSettings"] = settings
            props: dict[str, Any] = {
                "hardwareProfile": {"vmSize": vm_size},
                "storageProfile": {
                    "imageReference": image_ref,
                    "osDisk": {
                        "createOption": "FromImage",
                        "managedDisk": {"storageAccountType": "Premium_LRS"},
                    },
                },
                "osProfile": {
                    "computerName": name[:15],
                    "adminUsername": admin_username,
                    "windowsConfiguration": windows,
                },
                "networkProfile": {
                    "networkInterfaces": [
                        {
                            "id": (
                                f"/subscriptions/{self.subscription_id}/resourceGroups/{resource_group.name}/providers/"
                                f"Microsoft.Network/networkInterfaces/{name}-nic"
                            )
                        }
                    ]
                },
            }
            if availability_set:
                props["availabilitySet"] = {
                    "id": f"/subscriptions/{self.subscription_id}/resourceGroups/"
                    f"{resource_group.name}/providers/Microsoft.Compute/"
                    f"availabilitySets/{availability_set}"
                }
            found = self.images.find_sku(publisher, offer, sku) if gallery_image is None and sku else None
            if found is not None and found.generation == "V2":
                props["securityProfile"] = {
                    "uefiSettings": {"secureBootEnabled": True, "vTpmEnabled": True},
                    "securityType": "TrustedLaunch",
                }
            body: dict[str, Any] = {"location": location, "tags": dict(tags or {}), "properties": props}
            if zone:
                body["zones"] = [zone]
            try:
                model = normalize_vm(name, body, None, self.images, require_password=False)
            except ArmError as exc:
                raise ValueError(f"{exc.code}: {exc.message}") from None
            created = self.clock.midnight(created_days_ago) + dt.timedelta(hours=9, minutes=len(name))
            vm = self.compute.new_vm(
                resource_group.name, name, model, stable_vm_id(self.subscription_id, group, name), created
            )
            if vm.patch is not None:
                if build is not None:
                    vm.patch = self.world.state_on_build(vm.patch.os, build)
                else:
                    vm.patch = self.world.state_for(vm.patch.os, vm.enrolled, standing, self.clock.today)
            self.compute.insert(vm)
            if assessed_days_ago is not None and vm.patch is not None and vm.agent:
                end = self.clock.midnight(0) - dt.timedelta(days=assessed_days_ago) + dt.timedelta(hours=6)
                start = end - dt.timedelta(minutes=7, seconds=13)
                on = min(end.date(), self.clock.today)
                patches = self.world.available(vm.patch, vm.enrolled, on)
                self.compute.record_assessment(
                    vm,
                    self.guids.next(),
                    start,
                    end,
                    patches,
                    started_by="Platform" if assessment_mode == "AutomaticByPlatform" else "User",
                )
            return vm

    def vm(self, group: str, name: str) -> VirtualMachine:
        with self.lock:
            return self.compute.get(group, name)

    def set_power(self, group: str, name: str, power: str) -> None:
        """Put a VM in a power state (running or deallocated), as the portal's Stop button would."""
        with self.lock:
            self.compute.get(group, name).power = power

    def revert_next_servicing(self, group: str, name: str) -> None:
        """Make the VM's next restart fail to apply its pending servicing (Windows rolls it back)."""
        with self.lock:
            self.vm_actions.revert_next_servicing(self.compute.get(group, name))

    def break_next_script(self, group: str, name: str, message: str) -> None:
        """Make the VM's next Run Command script fail in the guest with `message` on stderr."""
        with self.lock:
            self.vm_actions.break_next_script(self.compute.get(group, name), message)

    def history(self, group: str, name: str) -> dict[str, list[dict[str, Any]]]:
        """A VM's assessment (7 days) and installation (30 days) history."""
        with self.lock:
            return self.compute.history(self.compute.get(group, name))

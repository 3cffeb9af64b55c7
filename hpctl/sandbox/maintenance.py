"""Microsoft.Maintenance in the sandbox: maintenance configurations (Update Manager schedules) and their
configuration assignments, static (on a VM) and dynamic (a subscription or resource group scope with a filter).

Shapes follow the 2023-04-01 REST spec examples (Azure/azure-rest-api-specs,
specification/maintenance/resource-manager/Microsoft.Maintenance/stable/2023-04-01/examples): the
GuestOSPatchWindows configuration, ConfigurationAssignments_List/_Delete, and the CreateOrUpdate examples of
ConfigurationAssignmentsForSubscriptions and ConfigurationAssignmentsForResourceGroup. Resource Graph serves
the configurations in `resources` and the assignments in `maintenanceresources`. This is Azure's side: it
imports no hpctl rules.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from hpctl.sandbox.armerrors import ArmError

if TYPE_CHECKING:
    from hpctl.sandbox.backend import Backend
    from hpctl.sandbox.resourceroutes import RouteSpec
    from hpctl.sandbox.routes import ArmApp, Request, Response

CONFIG_TYPE = "Microsoft.Maintenance/maintenanceConfigurations"
ASSIGNMENT_TYPE = "Microsoft.Maintenance/configurationAssignments"
SCOPES = ("Host", "Resource", "OSImage", "Extension", "InGuestPatch", "SQLDB", "SQLManagedInstance")


def _not_found(kind: str, name: str) -> ArmError:
    return ArmError(404, "ResourceNotFound", f"The Resource '{kind}/{name}' was not found.")


class MaintenanceStore:
    """The maintenance configurations and configuration assignments of one sandbox subscription."""

    def __init__(self, subscription: str, backend: Backend) -> None:
        self.subscription = subscription
        self.backend = backend
        self._configs: dict[str, dict[str, Any]] = {}  # "rg/name" lower -> ARM body
        self._assignments: dict[str, dict[str, Any]] = {}  # id lower -> ARM body

    # -- configurations -------------------------------------------------------------------------------

    def config_id(self, group: str, name: str) -> str:
        return f"/subscriptions/{self.subscription}/resourcegroups/{group}/providers/{CONFIG_TYPE}/{name}"

    def put_config(self, group: str, name: str, body: Any) -> tuple[int, dict[str, Any]]:
        resource_group = self.backend.groups.get(group)
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise ArmError(400, "InvalidRequestContent", "The request content must have a 'properties' object.")
        props = dict(body["properties"])
        scope = props.get("maintenanceScope")
        if scope not in SCOPES:
            raise ArmError(400, "InvalidParameter", f"The maintenanceScope '{scope}' is not valid. Allowed values "
                           f"are: {', '.join(SCOPES)}.")
        props.setdefault("namespace", "Microsoft.Maintenance")
        props.setdefault("visibility", "Custom")
        key = f"{group.lower()}/{name.lower()}"
        created = key not in self._configs
        self._configs[key] = {"id": self.config_id(resource_group.name, name), "name": name,
                              "type": CONFIG_TYPE, "location": body.get("location") or resource_group.location,
                              "tags": dict(body.get("tags") or {}), "properties": props}
        return (201 if created else 200), self._configs[key]

    def get_config(self, group: str, name: str) -> dict[str, Any]:
        self.backend.groups.get(group)
        found = self._configs.get(f"{group.lower()}/{name.lower()}")
        if found is None:
            raise _not_found(CONFIG_TYPE, name)
        return found

    def configs(self) -> list[dict[str, Any]]:
        return sorted(self._configs.values(), key=lambda c: c["id"].lower())

    def _config_by_id(self, config_id: Any) -> dict[str, Any]:
        for config in self._configs.values():
            if isinstance(config_id, str) and config["id"].lower() == config_id.lower():
                return config
        raise ArmError(400, "InvalidParameter", f"The maintenanceConfigurationId '{config_id}' does not refer to "
                       "an existing maintenance configuration.")

    # -- assignments ----------------------------------------------------------------------------------

    def vm_scope(self, group: str, vm: str) -> str:
        found = self.backend.compute.get(group, vm)  # 404 ResourceNotFound for a missing VM, as ARM says
        return found.id

    def put_assignment(self, scope: str, name: str, body: Any, *, dynamic: bool) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise ArmError(400, "InvalidRequestContent", "The request content must have a 'properties' object.")
        props = body["properties"]
        config = self._config_by_id(props.get("maintenanceConfigurationId"))
        if dynamic and not isinstance(props.get("filter"), dict):
            raise ArmError(400, "InvalidParameter", "A configuration assignment at subscription or resource group "
                           "scope needs a 'filter' (a dynamic scope).")
        if dynamic and config["properties"].get("maintenanceScope") != "InGuestPatch":
            raise ArmError(400, "InvalidParameter", "Dynamic scopes are only supported for maintenance "
                           "configurations with maintenanceScope InGuestPatch.")
        assignment_id = f"{scope}/providers/{ASSIGNMENT_TYPE}/{name}"
        created = assignment_id.lower() not in self._assignments
        out: dict[str, Any] = {"id": assignment_id, "name": name, "type": ASSIGNMENT_TYPE,
                               "location": body.get("location") or config["location"],
                               "properties": {"maintenanceConfigurationId": config["id"], "resourceId": scope}}
        if dynamic:
            out["properties"]["filter"] = props["filter"]
        self._assignments[assignment_id.lower()] = out
        return (201 if created else 200), out

    def get_assignment(self, scope: str, name: str) -> dict[str, Any]:
        found = self._assignments.get(f"{scope}/providers/{ASSIGNMENT_TYPE}/{name}".lower())
        if found is None:
            raise _not_found(ASSIGNMENT_TYPE, name)
        return found

    def delete_assignment(self, scope: str, name: str) -> dict[str, Any] | None:
        """The deleted assignment (ARM answers 200 with it), or None when there was none (204)."""
        return self._assignments.pop(f"{scope}/providers/{ASSIGNMENT_TYPE}/{name}".lower(), None)

    def _parent_exists(self, assignment: dict[str, Any]) -> bool:
        """An assignment is an extension resource of its VM: ARM deletes it with the VM."""
        parts = assignment["properties"]["resourceId"].split("/")
        if len(parts) < 9 or parts[7].lower() != "virtualmachines":
            return True  # a subscription or group scope
        return self.backend.compute.find(parts[4], parts[8]) is not None

    def assignments(self, scope: str | None = None) -> list[dict[str, Any]]:
        gone = [key for key, a in self._assignments.items() if not self._parent_exists(a)]
        for key in gone:
            del self._assignments[key]
        rows = sorted(self._assignments.values(), key=lambda a: a["id"].lower())
        if scope is None:
            return rows
        return [a for a in rows if a["properties"]["resourceId"].lower() == scope.lower()]


# ------------------------------------------------------------------------------------------------- routes


class MaintenanceRoutes:
    """ARM routes of Microsoft.Maintenance (api-version 2023-04-01, what azure-mgmt-maintenance 2.1.0 sends)."""

    def __init__(self, app: ArmApp) -> None:
        self.app = app
        self.store: MaintenanceStore = app.backend.maintenance

    def table(self) -> list[RouteSpec]:
        sub = "/subscriptions/{sub}"
        config = sub + "/resourcegroups/{rg}/providers/microsoft.maintenance/maintenanceconfigurations"
        vm_assignments = (sub + "/resourcegroups/{rg}/providers/microsoft.compute/virtualmachines/{vm}/providers/"
                          "microsoft.maintenance/configurationassignments")
        sub_assignments = sub + "/providers/microsoft.maintenance/configurationassignments"
        group_assignments = sub + "/resourcegroups/{rg}/providers/microsoft.maintenance/configurationassignments"
        return [
            (sub + "/providers/microsoft.maintenance/maintenanceconfigurations",
             {"GET": (self.list_configs, None)}, False),
            (config, {"GET": (self.list_group_configs, None)}, False),
            (config + "/{name}", {"GET": (self.get_config, None), "PUT": (self.put_config, None)}, False),
            (vm_assignments, {"GET": (self.list_vm_assignments, None)}, False),
            (vm_assignments + "/{name}", {"GET": (self.get_vm_assignment, None),
                                          "PUT": (self.put_vm_assignment, None),
                                          "DELETE": (self.delete_vm_assignment, None)}, False),
            (sub_assignments + "/{name}", {"GET": (self.get_sub_assignment, None),
                                           "PUT": (self.put_sub_assignment, None),
                                           "DELETE": (self.delete_sub_assignment, None)}, False),
            (group_assignments + "/{name}", {"GET": (self.get_sub_assignment, None),
                                             "PUT": (self.put_sub_assignment, None),
                                             "DELETE": (self.delete_sub_assignment, None)}, False),
        ]

    def _ok(self, request: Request, status: int, body: Any) -> Response:
        return self.app._json(request, status, body, pretty=False, reason=None)

    def list_configs(self, request: Request, params: dict[str, str]) -> Response:
        return self._ok(request, 200, {"value": self.store.configs()})

    def list_group_configs(self, request: Request, params: dict[str, str]) -> Response:
        self.app.backend.groups.get(params["rg"])
        rows = [c for c in self.store.configs() if f"/resourcegroups/{params['rg'].lower()}/" in c["id"].lower()]
        return self._ok(request, 200, {"value": rows})

    def get_config(self, request: Request, params: dict[str, str]) -> Response:
        return self._ok(request, 200, self.store.get_config(params["rg"], params["name"]))

    def put_config(self, request: Request, params: dict[str, str]) -> Response:
        status, body = self.store.put_config(params["rg"], params["name"], request.json())
        return self._ok(request, status, body)

    def list_vm_assignments(self, request: Request, params: dict[str, str]) -> Response:
        scope = self.store.vm_scope(params["rg"], params["vm"])
        return self._ok(request, 200, {"value": self.store.assignments(scope)})

    def get_vm_assignment(self, request: Request, params: dict[str, str]) -> Response:
        scope = self.store.vm_scope(params["rg"], params["vm"])
        return self._ok(request, 200, self.store.get_assignment(scope, params["name"]))

    def put_vm_assignment(self, request: Request, params: dict[str, str]) -> Response:
        scope = self.store.vm_scope(params["rg"], params["vm"])
        status, body = self.store.put_assignment(scope, params["name"], request.json(), dynamic=False)
        return self._ok(request, status, body)

    def delete_vm_assignment(self, request: Request, params: dict[str, str]) -> Response:
        scope = self.store.vm_scope(params["rg"], params["vm"])
        return self._deleted(request, self.store.delete_assignment(scope, params["name"]))

    def _sub_scope(self, params: dict[str, str]) -> str:
        """The scope of a dynamic assignment: the subscription, or one of its resource groups (as the
        ConfigurationAssignmentsForResourceGroup example writes it: lower-case `resourcegroups`)."""
        if "rg" in params:
            group = self.app.backend.groups.get(params["rg"])
            return f"/subscriptions/{self.store.subscription}/resourcegroups/{group.name}"
        return f"/subscriptions/{self.store.subscription}"

    def get_sub_assignment(self, request: Request, params: dict[str, str]) -> Response:
        return self._ok(request, 200, self.store.get_assignment(self._sub_scope(params), params["name"]))

    def put_sub_assignment(self, request: Request, params: dict[str, str]) -> Response:
        status, body = self.store.put_assignment(self._sub_scope(params), params["name"], request.json(),
                                                 dynamic=True)
        return self._ok(request, status, body)

    def delete_sub_assignment(self, request: Request, params: dict[str, str]) -> Response:
        return self._deleted(request, self.store.delete_assignment(self._sub_scope(params), params["name"]))

    def _deleted(self, request: Request, deleted: dict[str, Any] | None) -> Response:
        # ConfigurationAssignments_Delete: 200 with {id, name, type}, or 204 when there was nothing to delete.
        if deleted is None:
            return self.app._empty(request, 204, [], reason=None)
        return self._ok(request, 200, {k: deleted[k] for k in ("id", "name", "type")})


def maintenance_routes(app: ArmApp) -> list[RouteSpec]:
    """The routes this module adds (ArmApp appends them after its own)."""
    return MaintenanceRoutes(app).table()


# --------------------------------------------------------------------------------------------- resource graph


def configuration_bodies(backend: Backend) -> Iterable[dict[str, Any]]:
    """Maintenance configurations as ARM GET bodies, for the `resources` table."""
    store = getattr(backend, "maintenance", None)
    return store.configs() if store is not None else []


def assignment_bodies(backend: Backend) -> Iterable[dict[str, Any]]:
    """Configuration assignments as ARM GET bodies, for the `maintenanceresources` table."""
    store = getattr(backend, "maintenance", None)
    return store.assignments() if store is not None else []


# ------------------------------------------------------------------------------------------------- seeding

# Update Manager "Customer Managed Schedules" (prerequsite-for-schedule-patching.md): a configuration with
# maintenanceScope InGuestPatch and InGuestPatchMode User, as the 2023-04-01 GuestOSPatchWindows example.
_SCHEDULES = (
    ("rg-api", "mc-api-saturday", "1Week Saturday", "2026-01-03 22:00", "Critical,Security"),
    ("rg-legacy", "mc-legacy-monthly", "1Month Second Tuesday", "2026-01-17 02:00", "Critical,Security,Updates"),
)
# Static assignments of VMs the seeded fleet pins (api-02: hotpatch off, bypass on, the schedule's rightful
# kind; api-04: hotpatch on with the bypass, a grandfathered conflict), and one dynamic scope over rg-legacy's
# dev VMs. Further static assignments come from their own random stream, so fleet VMs keep every other field.
_STATIC = (("rg-api", "api-02", "mc-api-saturday"), ("rg-api", "api-04", "mc-api-saturday"))
_DYNAMIC = ("legacy-dev-monthly", "rg-legacy", "mc-legacy-monthly",
            {"resourceTypes": ["Microsoft.Compute/virtualMachines"], "resourceGroups": ["rg-legacy"],
             "osTypes": ["Windows"], "tagSettings": {"tags": {"env": ["dev"]}, "filterOperator": "All"}})


def seed_schedules(backend: Backend, seed: int) -> None:
    """Add the schedules above to a seeded fleet (after every VM exists; VMs themselves are not changed)."""
    store: MaintenanceStore = backend.maintenance
    for group, name, recur, start, classes in _SCHEDULES:
        if not backend.groups.exists(group):
            continue
        store.put_config(group, name, {"properties": {
            "maintenanceScope": "InGuestPatch",
            "extensionProperties": {"InGuestPatchMode": "User"},
            "maintenanceWindow": {"startDateTime": start, "duration": "03:55", "timeZone": "UTC",
                                  "recurEvery": recur, "expirationDateTime": "9999-12-31 00:00"},
            "installPatches": {"rebootSetting": "IfRequired",
                               "windowsParameters": {"classificationsToInclude": classes.split(",")}},
        }})
    configs = {c["name"]: c["id"] for c in store.configs()}
    for group, vm, config in _STATIC:
        if config in configs and backend.compute.find(group, vm) is not None:
            store.put_assignment(store.vm_scope(group, vm), config, {"properties": {
                "maintenanceConfigurationId": configs[config]}}, dynamic=False)
    name, group, config, flt = _DYNAMIC
    if config in configs:
        store.put_assignment(f"/subscriptions/{store.subscription}", name, {"properties": {
            "maintenanceConfigurationId": configs[config], "filter": flt}}, dynamic=True)
    # Larger fleets: some random-fill VMs that carry the bypass get the api schedule, from a stream of their own.
    rng = random.Random(f"hpctl-sandbox-schedules:{seed}")
    if "mc-api-saturday" not in configs:
        return
    pinned = {(g, v) for g, v, _ in _STATIC}
    for vm in backend.compute.list():
        auto = (vm.model.patch_settings or {}).get("automaticByPlatformSettings") or {}
        if (vm.group, vm.name) in pinned or not auto.get("bypassPlatformSafetyChecksOnUserSchedule"):
            continue
        if rng.random() < 0.5:
            store.put_assignment(vm.id, "mc-api-saturday", {"properties": {
                "maintenanceConfigurationId": configs["mc-api-saturday"]}}, dynamic=False)

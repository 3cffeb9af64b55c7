"""The sandbox's Microsoft.Maintenance through azure-mgmt-maintenance 2.1.0 (api-version 2023-04-01), and the
Resource Graph rows Update Manager's schedules show up as."""

from __future__ import annotations

import datetime as dt

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from hpctl.sandbox import Sandbox, SandboxConfig

DATE = dt.date(2026, 5, 20)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    box = Sandbox(SandboxConfig(fleet=24, seed=7, date=DATE, time_scale=60000.0,
                                state_dir=tmp_path_factory.mktemp("sbx")))
    box.start()
    yield box
    box.stop()


@pytest.fixture
def conn(sandbox, monkeypatch):
    from hpctl.edge.clients import connect

    monkeypatch.setenv("HPCTL_SANDBOX_DIR", str(sandbox.state_dir))
    return connect("sandbox", None)


def test_seeded_schedules_are_customer_managed_configurations(conn):
    configs = {c.name: c for c in conn.maintenance.maintenance_configurations.list()}
    assert set(configs) == {"mc-api-saturday", "mc-legacy-monthly"}
    sat = configs["mc-api-saturday"]
    assert sat.maintenance_scope == "InGuestPatch" and sat.extension_properties == {"InGuestPatchMode": "User"}
    assert sat.recur_every == "1Week Saturday" and sat.install_patches.reboot_setting == "IfRequired"


def test_a_vms_assignments_and_deleting_one(conn, sandbox):
    ops = conn.maintenance.configuration_assignments
    (found,) = ops.list("rg-api", "Microsoft.Compute", "virtualMachines", "api-04")
    assert found.name == "mc-api-saturday" and found.resource_id.endswith("/virtualMachines/api-04")
    assert found.maintenance_configuration_id.endswith("/maintenanceConfigurations/mc-api-saturday")
    deleted = ops.delete("rg-api", "Microsoft.Compute", "virtualMachines", "api-04", "mc-api-saturday")
    assert deleted.name == "mc-api-saturday"
    assert list(ops.list("rg-api", "Microsoft.Compute", "virtualMachines", "api-04")) == []
    # Deleting what is gone answers 204 (no body), as the spec example allows.
    assert ops.delete("rg-api", "Microsoft.Compute", "virtualMachines", "api-04", "mc-api-saturday") is None
    assert sandbox.requests()[-1]["status"] == 204
    # Put it back for the other tests (the sandbox is shared by this module).
    sat = conn.maintenance.maintenance_configurations.get("rg-api", "mc-api-saturday")
    ops.create_or_update("rg-api", "Microsoft.Compute", "virtualMachines", "api-04", "mc-api-saturday",
                         {"properties": {"maintenanceConfigurationId": sat.id}})


def test_assignments_to_a_missing_vm_or_configuration_are_refused(conn):
    ops = conn.maintenance.configuration_assignments
    with pytest.raises(ResourceNotFoundError):
        list(ops.list("rg-api", "Microsoft.Compute", "virtualMachines", "nope"))
    with pytest.raises(HttpResponseError) as err:
        ops.create_or_update("rg-api", "Microsoft.Compute", "virtualMachines", "api-01", "x",
                             {"properties": {"maintenanceConfigurationId": "/subscriptions/x/nope"}})
    assert err.value.status_code == 400


def test_dynamic_scope_at_subscription_level(conn):
    scope = conn.maintenance.configuration_assignments_for_subscriptions.get("legacy-dev-monthly")
    assert scope.resource_id == f"/subscriptions/{conn.subscription_id}"
    assert scope.filter.resource_groups == ["rg-legacy"] and scope.filter.tag_settings.filter_operator == "All"


def test_resource_graph_serves_configurations_and_assignments(conn):
    from hpctl.edge import resourcegraph

    configs, _ = resourcegraph.query(conn, "resources | where type =~ 'microsoft.maintenance/maintenanceconfigurations'"
                                     " | project name, properties")
    assert {c["name"] for c in configs} == {"mc-api-saturday", "mc-legacy-monthly"}
    rows, _ = resourcegraph.query(conn, "maintenanceresources | where type =~ "
                                  "'microsoft.maintenance/configurationassignments' | project id, properties")
    static = [r for r in rows if "filter" not in r["properties"]]
    dynamic = [r for r in rows if "filter" in r["properties"]]
    assert {r["properties"]["resourceId"].rsplit("/", 1)[1] for r in static} >= {"api-02", "api-04"}
    assert len(dynamic) == 1 and dynamic[0]["properties"]["filter"]["tagSettings"]["tags"] == {"env": ["dev"]}


def test_schedules_leave_the_fleets_vms_as_they_were(tmp_path, monkeypatch):
    # Seeding schedules adds them beside the VMs: every VM (model, instance view, history) is what the same
    # fleet without schedules has, so existing names and tests keep their meaning.
    import datetime as dt

    from hpctl.sandbox import maintenance
    from hpctl.sandbox.backend import Backend
    from hpctl.sandbox.clock import SimClock

    # Both fleets at one instant: the agent's status time is "now", and a second may pass between the builds.
    instant = dt.datetime(2026, 5, 20, 12, 0, tzinfo=dt.timezone.utc)
    monkeypatch.setattr(SimClock, "now", lambda self: instant)

    def fleet() -> dict[str, object]:
        backend = Backend(SandboxConfig(fleet=60, seed=7, date=DATE, state_dir=tmp_path))
        bodies = {vm.id: backend.compute.vm_body(vm, expand=True) for vm in backend.compute.list()}
        return bodies, backend

    with_schedules, backend = fleet()
    assert len(backend.maintenance.assignments()) >= 3
    monkeypatch.setattr(maintenance, "seed_schedules", lambda backend, seed: None)
    without, bare = fleet()
    assert not bare.maintenance.assignments()
    assert with_schedules == without


def test_an_assignment_goes_with_its_vm(tmp_path):
    import time

    from hpctl.sandbox.backend import Backend

    backend = Backend(SandboxConfig(fleet=24, seed=7, date=DATE, time_scale=60000.0, state_dir=tmp_path))
    vm = backend.vm("rg-api", "api-04")
    assert backend.maintenance.assignments(vm.id)
    backend.compute.delete("rg-api", "api-04", "2026-04-01")
    for _ in range(50):  # the delete is a long-running operation: a few simulated minutes
        time.sleep(0.01)
        backend.settle()
        if backend.compute.find("rg-api", "api-04") is None:
            break
    assert backend.maintenance.assignments(vm.id) == []
    assert all("api-04" not in a["id"] for a in backend.maintenance.assignments())


def test_a_dynamic_scope_over_one_resource_group(conn, sandbox):
    # Through the SDK, as an operator would create one; hpctl then reads it back and matches it.
    ops = conn.maintenance.configuration_assignments_for_resource_group
    sat = conn.maintenance.maintenance_configurations.get("rg-api", "mc-api-saturday")
    created = ops.create_or_update("rg-web", "web-weekly", {"properties": {
        "maintenanceConfigurationId": sat.id,
        "filter": {"resourceTypes": ["Microsoft.Compute/virtualMachines"], "tagSettings": {
            "tags": {"env": ["prod"]}, "filterOperator": "Any"}}}})
    assert created.resource_id == f"/subscriptions/{conn.subscription_id}/resourcegroups/rg-web"
    try:
        from hpctl.fleet_reads import schedule_index

        index = schedule_index(conn, [conn.subscription_id])
        web = {"id": f"/subscriptions/{conn.subscription_id}/resourceGroups/rg-web/providers/Microsoft.Compute/"
                     "virtualMachines/web-01", "location": "eastus", "tags": {"env": "prod"},
               "properties": {"storageProfile": {"osDisk": {"osType": "Windows"}}}}
        other = dict(web, id=web["id"].replace("rg-web", "rg-app"))
        assert [s.assignment_name for s in index.for_vm(web)] == ["web-weekly"]
        assert index.for_vm(other) == ()
    finally:
        ops.delete("rg-web", "web-weekly")
    with pytest.raises(ResourceNotFoundError):
        ops.get("rg-web", "web-weekly")

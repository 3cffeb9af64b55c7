"""Update Manager schedules: which schedules a VM is in (static and dynamic scopes), and rules HP016-HP018."""

from __future__ import annotations

import copy

import pytest

from hpctl.core.compliance import evaluate, vm_record
from hpctl.core.schedules import DYNAMIC, STATIC, ScheduleIndex, filter_matches
from tests.unit.test_compliance import HOTPATCH_SETTINGS, NOW, SUB, TODAY, instance_view, vm_json

MC = f"/subscriptions/{SUB}/resourcegroups/rg-ops/providers/Microsoft.Maintenance/maintenanceConfigurations/sat"
HOSTS = f"/subscriptions/{SUB}/resourcegroups/rg-ops/providers/Microsoft.Maintenance/maintenanceConfigurations/hosts"
CONFIGS = [
    {"id": MC, "name": "sat", "properties": {"maintenanceScope": "InGuestPatch",
                                              "maintenanceWindow": {"recurEvery": "1Week Saturday"}}},
    {"id": HOSTS, "name": "hosts", "properties": {"maintenanceScope": "Host"}},
]


def static(vm, config=MC, name="sat"):
    return {"id": vm["id"] + f"/providers/Microsoft.Maintenance/configurationAssignments/{name}", "name": name,
            "properties": {"maintenanceConfigurationId": config, "resourceId": vm["id"]}}


def dynamic(flt, scope=f"/subscriptions/{SUB}", name="scope1"):
    return {"id": f"{scope}/providers/Microsoft.Maintenance/configurationAssignments/{name}", "name": name,
            "properties": {"maintenanceConfigurationId": MC, "resourceId": scope, "filter": flt}}


def test_static_assignment_is_the_vms_own():
    vm, other = vm_json("web-01"), vm_json("web-02")
    index = ScheduleIndex(CONFIGS, [static(vm)])
    found = index.for_vm(vm)
    assert [(s.schedule.name, s.how, s.schedule.customer_managed) for s in found] == [("sat", STATIC, True)]
    assert found[0].as_dict()["recurEvery"] == "1Week Saturday"
    assert index.for_vm(other) == ()


def test_non_patch_schedules_are_not_customer_managed():
    vm = vm_json()
    (found,) = ScheduleIndex(CONFIGS, [static(vm, HOSTS, "hosts")]).for_vm(vm)
    assert found.schedule.name == "hosts" and not found.schedule.customer_managed


def test_an_assignment_to_an_unreadable_configuration_keeps_its_name():
    vm = vm_json()
    (found,) = ScheduleIndex([], [static(vm, MC.replace("/sat", "/elsewhere"))]).for_vm(vm)
    assert found.schedule.name == "elsewhere" and found.schedule.maintenance_scope is None


@pytest.mark.parametrize("flt,expected", [
    ({}, True),  # every filter is optional
    ({"resourceTypes": ["Microsoft.Compute/virtualMachines"]}, True),
    ({"resourceTypes": ["Microsoft.HybridCompute/machines"]}, False),
    ({"resourceGroups": ["RG-WEB", "rg-other"]}, True),  # group names compare case-insensitively
    ({"resourceGroups": ["rg-other"]}, False),
    ({"locations": ["West Europe"]}, True),  # display names match the VM's region
    ({"locations": ["japaneast"]}, False),
    ({"osTypes": ["Windows"]}, True),
    ({"osTypes": ["Linux"]}, False),
    ({"tagSettings": {"tags": {"ENV": ["prod"]}, "filterOperator": "All"}}, True),
    ({"tagSettings": {"tags": {"env": ["Prod"]}, "filterOperator": "All"}}, False),  # values are exact
    ({"tagSettings": {"tags": {"env": ["prod"], "team": ["x"]}, "filterOperator": "All"}}, False),
    ({"tagSettings": {"tags": {"env": ["prod"], "team": ["x"]}, "filterOperator": "Any"}}, True),
    ({"tagSettings": {"tags": {"env": []}, "filterOperator": "All"}}, True),  # no values: any value
    ({"resourceGroups": ["rg-web"], "osTypes": ["Linux"]}, False),  # filters are ANDed
])
def test_dynamic_scope_filters(flt, expected):
    assert filter_matches(flt, vm_json()) is expected


def test_dynamic_scope_only_covers_its_own_subscription_or_group():
    vm = vm_json()
    other_sub = "/subscriptions/0b1f6471-1bf0-4dda-aec3-999999999999"
    assert ScheduleIndex(CONFIGS, [dynamic({}, other_sub)]).for_vm(vm) == ()
    group_scope = f"/subscriptions/{SUB}/resourceGroups/rg-web"
    (found,) = ScheduleIndex(CONFIGS, [dynamic({}, group_scope)]).for_vm(vm)
    assert found.how == DYNAMIC and found.assignment_name == "scope1"


def _rules(vm, assignments, schedules_read=True):
    index = ScheduleIndex(CONFIGS, assignments)
    record = vm_record(vm, instance_view=instance_view(), schedules=index.for_vm(vm) if schedules_read else None)
    from hpctl.core.calendar import load_calendar

    report = evaluate([record], [], today=TODAY, now=NOW, calendar=load_calendar())
    return {f.rule_id: f for f in report.findings}


def test_hp016_flags_a_hotpatch_vm_in_a_customer_managed_schedule():
    vm = vm_json()
    found = _rules(vm, [static(vm)])
    assert "HP016" in found and "HP017" not in found
    finding = found["HP016"]
    assert "sat (static)" in finding.message and "neither the schedule nor automatic patching runs" in finding.message
    assert "--leave-schedule" in finding.fix and "-g rg-web -n web-01" in finding.fix
    assert finding.evidence["schedules"][0]["name"] == "sat"


def test_hp016_names_a_dynamic_scope_and_says_to_change_tags_or_filter():
    vm = vm_json()
    finding = _rules(vm, [dynamic({"tagSettings": {"tags": {"env": ["prod"]}}})])["HP016"]
    assert "sat (dynamic)" in finding.message and "--leave-schedule" not in finding.fix
    assert "scope1" in finding.fix


def test_hp016_not_for_a_host_schedule_nor_when_schedules_were_not_read():
    vm = vm_json()
    assert "HP016" not in _rules(vm, [static(vm, HOSTS, "hosts")])
    assert "HP016" not in _rules(vm, [static(vm)], schedules_read=False)


@pytest.mark.parametrize("patch,fires", [
    ({"patchMode": "Manual"}, True),
    ({"patchMode": "AutomaticByPlatform", "automaticByPlatformSettings":
      {"bypassPlatformSafetyChecksOnUserSchedule": True}}, True),
    ({"patchMode": "AutomaticByPlatform", "automaticByPlatformSettings":
      {"bypassPlatformSafetyChecksOnUserSchedule": False}}, False),  # Azure autopatches it
    ({"patchMode": "AutomaticByOS"}, False),  # Windows Update patches it
])
def test_hp017_flags_a_vm_nothing_patches(patch, fires):
    vm = vm_json(patch=patch, windows={"enableAutomaticUpdates": patch["patchMode"] != "Manual"})
    found = _rules(vm, [])
    assert ("HP017" in found) is fires
    if fires:
        assert "no customer-managed schedule" in found["HP017"].message
        # ...and a schedule is what such a VM is waiting for: with one, nothing to flag.
        assert "HP017" not in _rules(vm, [static(vm)])


def test_hp017_not_for_hotpatch_vms():
    settings = copy.deepcopy(HOTPATCH_SETTINGS)
    settings["automaticByPlatformSettings"]["bypassPlatformSafetyChecksOnUserSchedule"] = True
    assert "HP017" not in _rules(vm_json(patch=settings), [])


@pytest.mark.parametrize("patch,fires", [
    # The matrix's scenarios with a schedule associated, for a VM without hotpatch:
    ({"patchMode": "AutomaticByPlatform", "automaticByPlatformSettings":
      {"bypassPlatformSafetyChecksOnUserSchedule": True}}, False),  # 1: the schedule runs
    ({"patchMode": "AutomaticByPlatform", "automaticByPlatformSettings":
      {"bypassPlatformSafetyChecksOnUserSchedule": False}}, True),  # 3: prerequisites unmet
    ({"patchMode": "AutomaticByOS"}, True),  # 5/7: not Azure-orchestrated
    ({"patchMode": "Manual"}, True),
])
def test_hp018_flags_a_schedule_that_cannot_run_on_the_vm(patch, fires):
    vm = vm_json(patch=patch, windows={"enableAutomaticUpdates": patch["patchMode"] != "Manual"})
    found = _rules(vm, [static(vm)])
    assert ("HP018" in found) is fires
    assert "HP017" not in found  # a schedule is there, just not running
    if fires:
        assert "sat (static)" in found["HP018"].message and "az vm update -g rg-web -n web-01" in found["HP018"].fix
    assert "HP018" not in _rules(vm, [])  # without a schedule it is HP017's business

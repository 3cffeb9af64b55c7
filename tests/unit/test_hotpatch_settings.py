"""vm enable-hotpatch's plan: only what hotpatch needs changes, drift is reported, schedules refuse or are left."""

from __future__ import annotations

import pytest

from hpctl.core.hotpatch_settings import BYPASS, REBOOT, Refusal, plan_enable_hotpatch
from hpctl.core.schedules import ScheduleIndex
from tests.unit.test_compliance import vm_json
from tests.unit.test_schedules import CONFIGS, HOSTS, dynamic, static

RIGHT = {"patchMode": "AutomaticByPlatform", "enableHotpatching": True, "assessmentMode": "AutomaticByPlatform"}


def changes(plan):
    return {c.setting: (c.before, c.after) for c in plan.changes}


def test_a_right_vm_without_a_reboot_setting_is_left_alone():
    plan = plan_enable_hotpatch(vm_json(patch=dict(RIGHT)))
    assert plan.already_enabled and plan.body == {} and not plan.drift


def test_only_what_hotpatch_needs_is_sent():
    vm = vm_json(patch={"patchMode": "AutomaticByOS", "assessmentMode": "ImageDefault"})
    plan = plan_enable_hotpatch(vm)
    assert changes(plan) == {"patchMode": ("AutomaticByOS", "AutomaticByPlatform"), "enableHotpatching": (False, True)}
    assert plan.body == {"properties": {"osProfile": {"windowsConfiguration": {"patchSettings": {
        "patchMode": "AutomaticByPlatform", "enableHotpatching": True}}}}}
    (drift,) = plan.drift
    assert drift.setting == "assessmentMode" and drift.value == "ImageDefault" and "az vm update" in drift.fix


def test_the_bypass_is_turned_off_and_the_reboot_setting_only_when_asked():
    vm = vm_json(patch={**RIGHT, "automaticByPlatformSettings": {"bypassPlatformSafetyChecksOnUserSchedule": True,
                                                                 "rebootSetting": "Never"}})
    assert changes(plan_enable_hotpatch(vm)) == {BYPASS: (True, False)}
    asked = plan_enable_hotpatch(vm, "IfRequired")
    assert changes(asked) == {BYPASS: (True, False), REBOOT: ("Never", "IfRequired")}
    assert asked.body["properties"]["osProfile"]["windowsConfiguration"]["patchSettings"] == {
        "automaticByPlatformSettings": {"bypassPlatformSafetyChecksOnUserSchedule": False,
                                        "rebootSetting": "IfRequired"}}
    assert changes(plan_enable_hotpatch(vm, "Never")) == {BYPASS: (True, False)}


def test_a_vm_in_a_customer_managed_schedule_is_refused_unless_it_leaves():
    vm = vm_json(patch={"patchMode": "AutomaticByPlatform",
                        "automaticByPlatformSettings": {"bypassPlatformSafetyChecksOnUserSchedule": True}})
    schedules = ScheduleIndex(CONFIGS, [static(vm)]).for_vm(vm)
    with pytest.raises(Refusal) as err:
        plan_enable_hotpatch(vm, schedules=schedules)
    assert "--leave-schedule" in err.value.message and err.value.short.startswith("in schedule sat")
    plan = plan_enable_hotpatch(vm, schedules=schedules, leave_schedule=True)
    assert [s.assignment_name for s in plan.leave] == ["sat"] and not plan.already_enabled


def test_a_dynamic_scope_is_refused_even_with_leave_schedule():
    vm = vm_json()
    schedules = ScheduleIndex(CONFIGS, [dynamic({})]).for_vm(vm)
    with pytest.raises(Refusal, match="dynamic scope scope1"):
        plan_enable_hotpatch(vm, schedules=schedules, leave_schedule=True)


def test_a_host_maintenance_schedule_is_not_a_conflict():
    vm = vm_json(patch=dict(RIGHT))
    plan = plan_enable_hotpatch(vm, schedules=ScheduleIndex(CONFIGS, [static(vm, HOSTS, "hosts")]).for_vm(vm))
    assert plan.already_enabled and plan.leave == ()


@pytest.mark.parametrize("vm,short", [
    (vm_json(sku="2022-datacenter"), "image can't hotpatch"),
    (vm_json(windows={"provisionVMAgent": False}), "no VM agent"),
    (vm_json(patch={"patchMode": "Manual"}, windows={"enableAutomaticUpdates": True}),
     "patch mode Azure won't switch"),
    (vm_json(patch={"patchMode": "AutomaticByOS"}, windows={"enableAutomaticUpdates": False}),
     "patch mode Azure won't switch"),
])
def test_refusals_say_why_in_full_and_in_short(vm, short):
    with pytest.raises(Refusal) as err:
        plan_enable_hotpatch(vm)
    assert err.value.short == short and err.value.exit_code == 2 and "\n" not in err.value.message

"""Availability-first waves: zones never together, one update domain at a time, 20% caps, batches."""

from __future__ import annotations

import pytest

from hpctl.core.rollout import RolloutTarget, plan_waves
from hpctl.errors import InputError


def vm(name, zone=None, avset=None, ud=None, rg="rg"):
    return RolloutTarget(id=f"/{rg}/{name}", resource_group=rg, name=name, zone=zone, availability_set=avset,
                         update_domain=ud)


def test_zones_are_never_in_the_same_wave():
    waves = plan_waves([vm("a", "1"), vm("b", "2"), vm("c", "1"), vm("d", "3"), vm("e", "2")], batch_size=10)
    assert [w.label for w in waves] == ["zone 1", "zone 2", "zone 3"]
    for wave in waves:
        assert len({m.zone for m in wave.members}) == 1
    assert [m.name for m in waves[0].members] == ["a", "c"]


def test_zone_batches():
    waves = plan_waves([vm(f"v{i}", "1") for i in range(5)], batch_size=2)
    assert [len(w.members) for w in waves] == [2, 2, 1]
    assert waves[0].label == "zone 1 batch 1/3"


def test_small_availability_set_one_vm_at_a_time_by_update_domain():
    members = [vm("s1", avset="avset-sql", ud=0), vm("s2", avset="avset-sql", ud=1), vm("s3", avset="AVSET-SQL", ud=0)]
    waves = plan_waves(members)
    assert [(w.label, [m.name for m in w.members]) for w in waves] == [
        ("avset-sql update domain 0 batch 1/2", ["s1"]),
        ("avset-sql update domain 0 batch 2/2", ["s3"]),
        ("avset-sql update domain 1", ["s2"]),
    ]


def test_large_availability_set_at_most_20_percent_and_one_domain_per_wave():
    members = [vm(f"n{i:02d}", avset="big", ud=i % 2) for i in range(20)]
    waves = plan_waves(members, batch_size=50)
    assert all(len(w.members) <= 4 for w in waves)
    assert all(len({m.update_domain for m in w.members}) == 1 for w in waves)
    assert sum(len(w.members) for w in waves) == 20


def test_order_zones_then_sets_then_the_rest_and_every_vm_once():
    members = [vm("loose1"), vm("z", "2"), vm("s", avset="set", ud=0), vm("loose2")]
    waves = plan_waves(members, batch_size=1)
    assert [w.label.split()[0] for w in waves] == ["zone", "set", "no", "no"]
    assert sorted(m.name for w in waves for m in w.members) == sorted(m.name for m in members)
    assert [w.number for w in waves] == [1, 2, 3, 4]


def test_empty_and_bad_batch():
    assert plan_waves([]) == []
    with pytest.raises(InputError, match="--batch-size"):
        plan_waves([vm("a")], batch_size=0)


def test_availability_set_cap_rounds_down_and_ten_is_not_small():
    eleven = plan_waves([vm(f"e{i:02d}", avset="eleven", ud=0) for i in range(11)], batch_size=50)
    assert max(len(w.members) for w in eleven) == 2  # 20% of 11 is 2.2: at most 2, never 3
    ten = plan_waves([vm(f"t{i:02d}", avset="ten", ud=0) for i in range(10)], batch_size=50)
    assert [len(w.members) for w in ten] == [2, 2, 2, 2, 2]  # 10 is not "small": 20%, not one at a time
    nine = plan_waves([vm(f"n{i:02d}", avset="nine", ud=0) for i in range(9)], batch_size=50)
    assert all(len(w.members) == 1 for w in nine)


def _view(*codes, install=None):
    view = {"statuses": [{"code": c} for c in codes]}
    if install:
        view["patchStatus"] = {"lastPatchInstallationSummary": {"status": install}}
    return {"properties": {"instanceView": view}}


@pytest.mark.parametrize(("vm_model", "problem"), [
    (_view("ProvisioningState/succeeded", "PowerState/running", install="Succeeded"), None),
    (_view("ProvisioningState/succeeded", "PowerState/stopped", install="Succeeded"), "power state is stopped"),
    (_view("ProvisioningState/succeeded", "PowerState/deallocated"), "power state is deallocated"),
    (_view("ProvisioningState/failed/InternalError", "PowerState/running"), "provisioning state is failed"),
    (_view("PowerState/running", install="Failed"), "its last installation is Failed"),
])
def test_health_gate_needs_a_running_provisioned_vm(vm_model, problem):
    from hpctl.core.rollout import health_problem

    assert health_problem(vm_model) == problem

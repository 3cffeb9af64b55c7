"""Unit tests for hpctl.core.targets: -n/-g/--ids/--tag parsing and tag matching."""

from __future__ import annotations

import pytest

from hpctl.core.targets import TagFilter, TargetSpec, VmRef, parse_tag, parse_targets, parse_vm_id
from hpctl.errors import InputError

SUB = "0b1f6471-1bf0-4dda-aec3-111122223333"
OTHER_SUB = "9f000000-aaaa-bbbb-cccc-000000000001"


def vm_id(name: str = "web-01", group: str = "rg-web", sub: str = SUB) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/{name}"


# --------------------------------------------------------------------------- good


def test_nothing_means_the_whole_subscription():
    spec = parse_targets([], None, [], [])
    assert spec == TargetSpec(scope="subscription")
    assert spec.matches_tags(None) and spec.matches_tags({"any": "thing"})
    assert parse_targets(None, None, None, None) == spec


def test_group_alone_means_every_vm_of_the_group():
    spec = parse_targets([], "rg-web", [], [])
    assert spec == TargetSpec(scope="resource-group", resource_group="rg-web")
    assert spec.vms == ()


def test_names_with_group():
    spec = parse_targets(["web-01", "web-02"], "rg-web", [], [])
    assert spec.scope == "vms"
    assert spec.resource_group == "rg-web"
    # A name under --kind all is a VM or an Arc machine: the read finds out which.
    assert spec.vms == (VmRef("rg-web", "web-01", kind="all"), VmRef("rg-web", "web-02", kind="all"))
    assert parse_targets(["web-01"], "rg-web", [], [], "vm").vms == (VmRef("rg-web", "web-01"),)
    assert spec.vms[0].resource_id(SUB) == vm_id()


def test_duplicate_names_are_deduplicated_case_insensitively():
    spec = parse_targets(["web-01", "WEB-01", " web-01 ", "web-02"], "rg-web", [], [])
    assert [vm.name for vm in spec.vms] == ["web-01", "web-02"]


def test_ids_case_insensitive_segments_and_subscription_from_the_id():
    lower = vm_id().lower()
    upper_segments = vm_id("db-01", "rg-db", OTHER_SUB).replace("resourceGroups", "RESOURCEGROUPS")
    spec = parse_targets([], None, [lower, upper_segments], [])
    assert spec.scope == "vms"
    assert spec.vms == (
        VmRef("rg-web", "web-01", SUB),
        VmRef("rg-db", "db-01", OTHER_SUB),
    )
    assert spec.subscriptions == (SUB, OTHER_SUB)
    # The subscription from the id wins over the command's -s.
    assert spec.vms[1].resource_id("ffffffff-ffff-ffff-ffff-ffffffffffff") == vm_id(
        "db-01", "rg-db", OTHER_SUB
    )


def test_ids_deduplicated_and_trailing_slash_tolerated():
    spec = parse_targets([], None, [vm_id(), vm_id().upper().replace(SUB.upper(), SUB), vm_id() + "/"], [])
    assert len(spec.vms) == 1


def test_space_separated_ids_in_one_argument_like_az():
    spec = parse_targets([], None, [f"{vm_id('a')} {vm_id('b')}\n{vm_id('c')}"], [])
    assert [vm.name for vm in spec.vms] == ["a", "b", "c"]


def test_parse_vm_id():
    assert parse_vm_id(vm_id("vm.1_x", "rg(prod)")) == VmRef("rg(prod)", "vm.1_x", SUB)
    assert parse_vm_id(vm_id(sub=SUB.upper())).subscription == SUB


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("env=prod", TagFilter("env", "prod")),
        ("env", TagFilter("env", None)),
        (" env ", TagFilter("env", None)),
        ("env=", TagFilter("env", "")),
        ("cost-center=a=b", TagFilter("cost-center", "a=b")),
        ("Owner=Jane Doe", TagFilter("Owner", "Jane Doe")),
    ],
)
def test_tag_syntax(text, expected):
    assert parse_tag(text) == expected


def test_tags_filter_in_every_scope():
    for spec in (
        parse_targets([], None, [], ["env=prod"]),
        parse_targets([], "rg-web", [], ["env=prod"]),
        parse_targets(["web-01"], "rg-web", [], ["env=prod"]),
        parse_targets([], None, [vm_id()], ["env=prod"]),
    ):
        assert spec.tag_filters == (TagFilter("env", "prod"),)


def test_matches_tags_keys_case_insensitive_values_case_sensitive():
    spec = parse_targets([], None, [], ["Env=prod", "hotpatch"])
    assert spec.matches_tags({"ENV": "prod", "HotPatch": "whatever"})
    assert spec.matches_tags({"env": "prod", "hotpatch": ""})
    assert not spec.matches_tags({"env": "Prod", "hotpatch": "x"})
    assert not spec.matches_tags({"env": "prod"})
    assert not spec.matches_tags(None)
    assert not spec.matches_tags({})


def test_empty_tag_value_matches_only_an_empty_value():
    spec = parse_targets([], None, [], ["patch-group="])
    assert spec.matches_tags({"patch-group": ""})
    assert not spec.matches_tags({"patch-group": "ring1"})


def test_repeated_tags_are_anded_and_deduplicated():
    spec = parse_targets([], None, [], ["env=prod", "ENV=prod", "ring=1"])
    assert spec.tag_filters == (TagFilter("env", "prod"), TagFilter("ring", "1"))
    assert spec.matches_tags({"env": "prod", "ring": "1"})
    assert not spec.matches_tags({"env": "prod", "ring": "2"})


def test_key_alone_and_key_value_keep_the_stricter_filter():
    assert parse_targets([], None, [], ["env", "env=prod"]).tag_filters == (TagFilter("env", "prod"),)
    assert parse_targets([], None, [], ["env=prod", "env"]).tag_filters == (TagFilter("env", "prod"),)


def test_resource_id_needs_a_subscription():
    with pytest.raises(InputError, match="-s/--subscription"):
        VmRef("rg", "vm").resource_id()


# --------------------------------------------------------------------------- bad


def arc_id(name: str = "arc-01", group: str = "rg-arc", sub: str = SUB) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.HybridCompute/machines/{name}"


def test_arc_machine_ids_and_kind():
    spec = parse_targets([], None, [arc_id(), vm_id(), arc_id().upper().replace(SUB.upper(), SUB)], [])
    assert spec.kind == "all"
    assert [(ref.name.lower(), ref.kind) for ref in spec.vms] == [("arc-01", "arc"), ("web-01", "vm")]
    assert spec.vms[0].resource_id() == arc_id()
    assert parse_targets([], None, [arc_id()], [], "ARC").kind == "arc"
    group = parse_targets([], "rg-arc", [], [], "arc")
    assert group.includes("arc") and not group.includes("vm")
    assert parse_targets([], None, [], []).includes("vm") and parse_targets([], None, [], []).includes("arc")
    named = parse_targets(["arc-01"], "rg-arc", [], [], "arc").vms[0]
    assert named.resource_id(SUB) == arc_id()


BAD = [
    # (names, group, ids, tags, fragment)
    (["web-01"], None, [], [], "-n/--name needs -g/--resource-group"),
    ([], "rg-web", [vm_id()], [], "--ids can't be combined"),
    (["web-01"], None, [vm_id()], [], "--ids can't be combined"),
    (["web-01"], "rg-web", [vm_id()], [], "--ids can't be combined"),
    ([""], "rg-web", [], [], "-n/--name is empty"),
    (["  "], "rg-web", [], [], "-n/--name is empty"),
    (["web 01"], "rg-web", [], [], "contains ' '"),
    (["web/01"], "rg-web", [], [], "contains '/'"),
    (["x" * 65], "rg-web", [], [], "longer than 64 characters"),
    ([], "", [], [], "-g/--resource-group is empty"),
    ([], "rg web", [], [], "not a valid resource group name"),
    ([], "rg-web.", [], [], "not a valid resource group name"),
    ([], "r" * 91, [], [], "not a valid resource group name"),
    ([], None, [""], [], "--ids has no ids"),
    ([], None, ["web-01"], [], "is not a VM resource id"),
    ([], None, [vm_id()[1:]], [], "is not a VM resource id"),
    ([], None, [vm_id() + "/extensions/x"], [], "is not a VM resource id"),
    ([], None, [vm_id().replace("/resourceGroups/", "/resourceGroup/")], [], "'resourceGroup' where"),
    ([], None, [vm_id().replace("Microsoft.Compute", "Microsoft.ClassicCompute")], [], "'Microsoft.Compute'"),
    ([], None, [vm_id().replace("virtualMachines", "disks")], [], "is a Microsoft.Compute/disks id"),
    ([], None, [vm_id(sub="not-a-guid")], [], "which is not a GUID"),
    ([], None, [vm_id().replace(f"{SUB}/", f"{SUB}//")], [], "is not a VM resource id"),
    (
        [],
        None,
        [f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss"],
        [],
        "is a Microsoft.Compute/virtualMachineScaleSets id",
    ),
    (
        [],
        None,
        [
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/0"
        ],
        [],
        "a scale set or scale-set instance id",
    ),
    ([], None, [vm_id(group="rg*web")], [], "not a valid resource group name"),
    ([], None, [vm_id(name="web*01")], [], "contains '*'"),
    ([], None, [], [""], "--tag is empty"),
    ([], None, [], ["=prod"], "has no key"),
    ([], None, [], ["env/x=prod"], "Azure tag names can't"),
    ([], None, [], ["k" * 513], "longer than 512 characters"),
    ([], None, [], ["env=" + "v" * 257], "longer than Azure's 256 characters"),
    ([], None, [], ["env=prod", "env=dev"], "given twice with different values"),
    ([], None, [], ["env=prod", "ENV=Prod"], "given twice with different values"),
    ([], None, [arc_id().replace("/machines/", "/licenses/")], [], "is a Microsoft.HybridCompute/licenses id"),
]


@pytest.mark.parametrize(("names", "group", "ids", "tags", "fragment", "kind"), [
    *[(*case, None) for case in BAD],
    ([], None, [arc_id()], [], "is an Arc machine but only VMs are targeted", "vm"),
    ([], None, [vm_id()], [], "is a VM but only Arc machines are targeted", "arc"),
    ([], "rg-web", [], [], "--kind 'vms' is not a kind", "vms"),
])
def test_bad_targets(names, group, ids, tags, fragment, kind):
    with pytest.raises(InputError) as caught:
        parse_targets(names, group, ids, tags, kind)
    message = caught.value.message
    assert fragment in message
    assert "\n" not in message
    assert caught.value.exit_code == 2
    fix = message.split(";", 1)[1]
    assert any(word in fix for word in ("give", "use", "copy", "fix", "shorten", "target", "leave")), message


def test_targets_are_frozen():
    spec = parse_targets([], "rg", [], [])
    with pytest.raises(AttributeError):
        spec.scope = "subscription"  # type: ignore[misc]

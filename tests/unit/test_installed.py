"""Parsing what Windows prints (Get-HotFix, DISM), matching it to the calendar, and the rollback plan."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from hpctl.core.calendar import load_calendar
from hpctl.core.guest_scripts import INVENTORY_SCRIPT, REMOVE_SCRIPT, ScriptFailed, script_document, script_output
from hpctl.core.installed import Inventory, inventory_row, parse_dism_packages, parse_hotfix_table, parse_inventory
from hpctl.core.rollback_plan import RollbackRefused, plan_rollback

# Get-HotFix with its default columns, as PowerShell 5.1 prints it (CRLF, trailing blank lines). The first row has
# no InstalledOn (Win32_QuickFixEngineering leaves it empty for some updates).
HOTFIX_DEFAULT = (
    "\r\nSource        Description      HotFixID      InstalledBy          InstalledOn\r\n"
    "------        -----------      --------      -----------          -----------\r\n"
    "WEB-01        Update           KB5011048                                       \r\n"
    "WEB-01        Security Update  KB5082063     NT AUTHORITY\\SYSTEM  4/16/2026 12:00:00 AM\r\n"
    "WEB-01        Security Update  KB5087423     NT AUTHORITY\\SYSTEM  5/14/2026 12:00:00 AM\r\n\r\n"
)
# DISM /Get-Packages in its default list form.
DISM_LIST = """
Deployment Image Servicing and Management tool
Version: 10.0.26100.1

Image Version: 10.0.26100.32772

Packages listing:

Package Identity : Package_for_ServicingStack_32690~31bf3856ad364e35~amd64~~26100.32690.1.2
State : Installed
Release Type : Update
Install Time : 4/16/2026 3:01 AM

Package Identity : Package_for_RollupFix~31bf3856ad364e35~amd64~~26100.32690.1.9
State : Installed
Release Type : Security Update
Install Time : 4/16/2026 3:04 AM

Package Identity : Package_for_RollupFix~31bf3856ad364e35~amd64~~26100.32772.1.13
State : Installed
Release Type : Security Update
Install Time : 5/14/2026 3:04 AM

The operation completed successfully.
"""
_RULE = f"{'-' * 64} | {'-' * 10} | {'-' * 15} | {'-' * 17}"
DISM_TABLE = "\r\n".join([
    f"{'Package Identity':64} | State      | Release Type    | Install Time",
    _RULE,
    "Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.4830.1.11    | Superseded | Security Update | "
    "3/12/2026 3:04 AM",
    "Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.5020.1.5     | Installed  | Security Update | "
    "4/16/2026 3:04 AM",
    "Microsoft-Windows-Client-LanguagePack-Package~31bf3856ad364e35~amd64~en-US~10.0.20348.1 | Installed | "
    "Language Pack | 5/8/2021 1:22 PM",
    "",
])


def inventory(build: str, packages: str, hotfixes: str = "") -> Inventory:
    prefix, ubr = build.split(".")
    return parse_inventory({"schema": 1, "currentBuild": prefix, "ubr": int(ubr), "packages": packages,
                            "hotfixes": hotfixes})


def test_get_hotfix_default_table():
    rows = parse_hotfix_table(HOTFIX_DEFAULT)
    assert [(r.kb, r.description, r.installed_on) for r in rows] == [
        ("KB5011048", "Update", None),
        ("KB5082063", "Security Update", date(2026, 4, 16)),
        ("KB5087423", "Security Update", date(2026, 5, 14)),
    ]


def test_get_hotfix_with_no_table_is_empty():
    assert parse_hotfix_table("") == []
    assert parse_hotfix_table("Get-HotFix : Access is denied") == []


def test_dism_list_and_table_forms():
    listed = parse_dism_packages(DISM_LIST)
    assert [p.build for p in listed] == ["26100.32690", "26100.32690", "26100.32772"]
    assert listed[0].servicing_stack and not listed[0].cumulative
    assert listed[2].install_time == datetime(2026, 5, 14, 3, 4)
    table = parse_dism_packages(DISM_TABLE)
    assert [(p.state, p.cumulative) for p in table] == [("Superseded", True), ("Installed", True),
                                                       ("Installed", False)]
    assert table[2].release_type == "Language Pack"


def test_inventory_matches_updates_to_the_calendar():
    row = inventory_row(load_calendar(), inventory("26100.32772", DISM_LIST, HOTFIX_DEFAULT))
    assert row["buildIs"]["calendar"] == "hotpatch" and row["buildIs"]["kb"] == "KB5087423"
    by_kb = {h["kb"]: h["calendar"] for h in row["hotfixes"]}
    assert by_kb == {"KB5011048": "not in the calendar", "KB5082063": "baseline", "KB5087423": "hotpatch"}
    assert [p["calendar"] for p in row["packages"]] == ["servicing stack", "baseline", "hotpatch"]
    assert row["lastKnownGoodBaseline"] == {"kb": "KB5082063", "build": "26100.32690", "month": "2026-04"}


def test_plan_removes_what_is_above_the_baseline():
    plan = plan_rollback("web-01", load_calendar(), inventory("26100.32772", DISM_LIST))
    assert [p.build for p in plan.remove] == ["26100.32772"]
    assert plan.baseline.kb == "KB5082063" and plan.baseline_present and plan.install_kb is None
    assert plan.as_dict()["landsOn"] == "26100.32690"


def test_plan_installs_a_missing_baseline():
    # Only the hotpatch's package is left (the baseline was cleaned from the component store).
    only_hotpatch = DISM_LIST.split("Package Identity : Package_for_RollupFix~31bf3856ad364e35~amd64~~26100.32690")[0] \
        + "Package Identity : Package_for_RollupFix~31bf3856ad364e35~amd64~~26100.32772.1.13\nState : Installed\n"
    plan = plan_rollback("web-01", load_calendar(), inventory("26100.32772", only_hotpatch))
    assert not plan.baseline_present and plan.install_kb == "KB5082063"


@pytest.mark.parametrize(("build", "packages", "words"), [
    ("17763.7989", DISM_LIST, "not Windows Server 2022/2025"),
    ("26100.32999", DISM_LIST.replace("32772", "32999"), "doesn't know build 26100.32999"),
    ("20348.5020", DISM_TABLE, "newest update is baseline KB5082142 itself"),
    ("26100.32772", DISM_LIST.replace("State : Installed\nRelease Type : Security Update\nInstall Time : 5/14",
                                      "State : Install Pending\nRelease Type : Security Update\nInstall Time : 5/14"),
     "waiting for a restart"),
    ("26100.32690", DISM_LIST.split("Package Identity : Package_for_RollupFix~31bf3856ad364e35~amd64~~26100.32772")[0],
     "newest update is baseline"),
])
def test_refusals_say_why_and_what_to_do(build, packages, words):
    with pytest.raises(RollbackRefused) as refused:
        plan_rollback("vm-1", load_calendar(), inventory(build, packages))
    assert words in refused.value.message
    assert refused.value.exit_code == 2 and "\n" not in refused.value.message


def test_nothing_above_the_baseline():
    # A hotpatch build, but DISM lists no cumulative package at all: nothing hpctl could remove.
    with pytest.raises(RollbackRefused, match="nothing is installed above baseline KB5066782"):
        plan_rollback("vm-1", load_calendar(), inventory("20348.4346", ""))


def test_script_output_and_document():
    result = {"value": [
        {"code": "ComponentStatus/StdOut/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded",
         "message": json.dumps({"schema": 1, "currentBuild": "26100", "ubr": 32772})},
        {"code": "ComponentStatus/StdErr/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded",
         "message": ""}]}
    assert script_document(script_output(result), "inventory")["ubr"] == 32772
    failing = {"value": [dict(result["value"][0], message=""),
                         dict(result["value"][1], message="Get-HotFix : Access is denied\nAt line:1")]}
    with pytest.raises(ScriptFailed, match="Access is denied"):
        script_document(script_output(failing), "inventory")
    truncated = {"value": [dict(result["value"][0], message='ubr":32772}'), result["value"][1]]}
    with pytest.raises(ScriptFailed, match="4,096 bytes"):
        script_document(script_output(truncated), "inventory")
    linux = {"value": [{"code": "ProvisioningState/succeeded", "message": "Enable succeeded"}]}
    with pytest.raises(ScriptFailed, match="Linux"):
        script_output(linux)


def test_inventory_script_is_read_only():
    text = "\n".join(line for line in INVENTORY_SCRIPT if not line.startswith("#")).lower()
    for verb in ("remove-", "set-", "new-", "restart", "/remove-package", "install", "wusa"):
        assert verb not in text.replace("installedon", ""), verb
    assert "/remove-package" in "\n".join(REMOVE_SCRIPT).lower() and "wusa" not in "\n".join(REMOVE_SCRIPT).lower()


@pytest.mark.parametrize(("vm", "outcome"), [
    ({"properties": {"osProfile": {"linuxConfiguration": {}}}}, "NotWindows"),
    ({"properties": {"instanceView": {"statuses": [{"code": "PowerState/deallocated"}]}}}, "Deallocated"),
    ({"properties": {"instanceView": {"vmAgent": {"statuses": [{"displayStatus": "Not Ready"}]}}}}, "AgentNotReady"),
    ({"properties": {"instanceView": {"statuses": [{"code": "PowerState/running"}],
                                      "vmAgent": {"statuses": [{"displayStatus": "Ready"}]}}}}, None),
])
def test_vms_a_script_cannot_reach_are_told_from_their_model(vm, outcome):
    from hpctl.installed_patches import unreachable

    found = unreachable(vm)
    assert (found[0] if found else None) == outcome

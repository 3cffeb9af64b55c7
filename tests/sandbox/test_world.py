"""The simulated world: the release calendar, the seeded fleet, what assessments find and installs do."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from hpctl.sandbox import Sandbox, SandboxConfig
from hpctl.sandbox.backend import Backend
from hpctl.sandbox.fleet import AGENT_FORMS, SCALE_SET_FLEET, plan_fleet
from hpctl.sandbox.world import World, load_json

from .conftest import TODAY, Arm, make_sandbox, shared_dir

KINDS = {"hotpatch": "hotpatch", "baseline": "baseline", "unplanned baseline": "unplanned-baseline"}


def reference_calendar() -> dict[str, list[dict[str, str]]]:
    """The §2.2 (2025) and §2.3 (2022) tables of shared/reference/hotpatch-program.md."""
    text = (shared_dir() / "reference" / "hotpatch-program.md").read_text()
    tables: dict[str, list[dict[str, str]]] = {}
    for os_key, heading in (("2025", "### 2.2"), ("2022", "### 2.3")):
        section = text[text.index(heading) :]
        section = section[: section.index("\n### ", 5)]
        rows = []
        for line in section.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 5 and re.fullmatch(r"\d{4}-\d{2}", cells[0].strip("*")):
                kind = re.sub(r"\*|\(.*\)", "", cells[1]).strip().lower()
                rows.append(
                    {
                        "month": cells[0].strip("*"),
                        "kind": KINDS[kind],
                        "date": cells[2],
                        "build": cells[3],
                        "kb": cells[4],
                    }
                )
        tables[os_key] = rows
    return tables


def test_release_data_matches_the_reference_tables() -> None:
    reference = reference_calendar()
    data = load_json("releases.json")["os"]
    for os_key, rows in reference.items():
        ours = {
            r["month"]: {k: r[k] for k in ("month", "kind", "date", "build", "kb")}
            for r in data[os_key]["releases"]
        }
        assert len(rows) >= 19
        for row in rows:
            assert ours[row["month"]] == row, row
    assert {r["kb"]: r["build"] for r in data["2025"]["outOfBand"]}["KB5070881"] == "26100.6905"
    assert (
        next(r for r in data["2022"]["releases"] if r["month"] == "2024-08")["kind"] == "unplanned-baseline"
    )


def test_calendar_projects_months_after_the_reference() -> None:
    world = World(dt.date(2026, 11, 25))
    months = {m.month: m for m in world.calendar.months("2025")}
    assert months["2026-05"].hotpatch is not None and not months["2026-05"].hotpatch.projected
    assert months["2026-07"].lcu.kind == "baseline" and not months["2026-07"].lcu.projected  # §9.1
    assert months["2026-06"].hotpatch is None and months["2026-06"].lcu.kind == "unplanned-baseline"
    assert months["2026-10"].lcu.kind == "baseline" and months["2026-10"].lcu.projected  # planned baseline
    assert months["2026-11"].hotpatch is not None and months["2026-11"].hotpatch.date == dt.date(2026, 11, 10)
    builds = [
        r.ubr for m in world.calendar.months("2025") for r in ([m.hotpatch] if m.hotpatch else []) + [m.lcu]
    ]
    assert builds == sorted(builds) and len(set(builds)) == len(builds)  # every build unique and increasing
    feb = months["2026-02"]
    assert (feb.lcu.kb, feb.lcu.build) == ("KB5075899", "26100.32370")  # the documented regular LCU


def test_fleet_plan_is_deterministic() -> None:
    first, again, other = plan_fleet(200, 7), plan_fleet(200, 7), plan_fleet(200, 8)
    assert [s.__dict__ for s in first] == [s.__dict__ for s in again]
    assert [s.__dict__ for s in first] != [s.__dict__ for s in other]
    assert [s.name for s in first[:5]] == ["web-01", "app-01", "sql-01", "api-01", "legacy-01"]


def _snapshot(backend: Backend) -> list[Any]:
    out = []
    for vm in backend.compute.list():
        state = vm.patch
        out.append(
            [
                backend.compute.vm_body(vm),
                state and (state.level.kb, state.running.build, state.reboot_pending),
                vm.last_assessment and {k: v for k, v in vm.last_assessment.items() if k != "_end"},
            ]
        )
    return out


def test_same_seed_same_fleet(tmp_path: Path) -> None:
    config = {"fleet": 60, "date": TODAY, "state_dir": tmp_path}
    one, two = Backend(SandboxConfig(seed=7, **config)), Backend(SandboxConfig(seed=7, **config))
    assert json.dumps(_snapshot(one), default=str) == json.dumps(_snapshot(two), default=str)
    assert one.subscription_id == two.subscription_id
    three = Backend(SandboxConfig(seed=8, **config))
    assert json.dumps(_snapshot(one), default=str) != json.dumps(_snapshot(three), default=str)


def test_fleet_layout(tmp_path: Path) -> None:
    backend = Backend(SandboxConfig(fleet=200, seed=7, date=TODAY, state_dir=tmp_path))
    vms = backend.compute.list()
    # 200 planned VMs, then the fixed set showing each way Azure reports a VM, in a group of its own.
    assert len(vms) == 200 + len(AGENT_FORMS) and len({vm.name for vm in vms}) == len(vms)
    vm_groups = ["rg-agents", "rg-api", "rg-app", "rg-data", "rg-legacy", "rg-web"]
    assert sorted({vm.group for vm in vms}) == vm_groups
    # Arc machines come in resource groups of their own (hpctl.sandbox.arcfleet).
    arc_groups = sorted({m.group for m in backend.hybrid.list()})
    assert arc_groups == ["rg-arc-batch-01", "rg-arc-branch", "rg-arc-onprem", "rg-hci-vms"]
    assert [g.name for g in backend.groups.list()] == sorted([*vm_groups, *arc_groups])
    assert 2 <= len({vm.model.location for vm in vms}) <= 3
    assert {z for vm in vms for z in vm.model.zones or []} == {"1", "2", "3"}
    assert {vm.availability.name for vm in vms if vm.availability} == {"AVSET-SQL", "AVSET-LEGACY"}
    assert all({"env", "app", "team"} <= set(vm.model.tags) for vm in vms)
    assert {vm.model.tags["env"] for vm in vms} == {"prod", "dev", "test"}
    enrolled = [vm for vm in vms if vm.enrolled]
    assert 0.5 < len(enrolled) / len(vms) < 0.85
    assert {vm.model.sku.os for vm in enrolled if vm.model.sku} == {"2022", "2025"}
    assert any(vm.model.gallery_image for vm in vms)
    assert any(not vm.agent for vm in vms)
    assert any(vm.last_assessment is None for vm in vms)
    assert any(vm.patch and vm.patch.reboot_pending for vm in vms)
    assert any(vm.last_installation and vm.last_installation["status"] == "Failed" for vm in vms)
    modes = {vm.settings.get("patchMode") for vm in vms}
    assert {"AutomaticByPlatform", "AutomaticByOS", "Manual"} <= modes
    web = sorted(vm.name for vm in vms if vm.group == "rg-web")
    assert web[:3] == ["web-01", "web-02", "web-03"]


@pytest.mark.parametrize("count", [0, 1, 5, 400])
def test_fleet_sizes(tmp_path: Path, count: int) -> None:
    backend = Backend(SandboxConfig(fleet=count, seed=3, date=TODAY, state_dir=tmp_path))
    vms = backend.compute.list()
    assert len(vms) == count + (len(AGENT_FORMS) if count >= SCALE_SET_FLEET else 0)
    if count == 0:
        assert backend.groups.list() == []
        return
    web01 = backend.compute.get("rg-web", "web-01")
    assert web01.enrolled
    month = backend.world.calendar.month_at("2025", TODAY)
    assert web01.patch is not None and web01.patch.level == month.track_release
    if 5 <= count < SCALE_SET_FLEET:
        assert len(backend.groups.list()) == 5
    if count == 400:  # beyond 250 VMs, rg-batch-NN groups of 100 take the rest
        assert [g.name for g in backend.groups.list() if g.name.startswith("rg-batch")] == [
            "rg-batch-01",
            "rg-batch-02",
        ]


def test_pinned_vms(fleet_arm: Arm) -> None:
    web01 = fleet_arm.instance_view("rg-web", "web-01")
    assert web01["osVersion"] == "10.0.26100.32772"  # May 2026 hotpatch KB5087423: current
    assert web01["patchStatus"]["availablePatchSummary"]["criticalAndSecurityPatchCount"] == 0
    assert "platformFaultDomain" not in web01  # zonal, not in an availability set
    assert fleet_arm.instance_view("rg-api", "api-01")["osVersion"] == "10.0.26100.6905"  # took KB5070881
    assert fleet_arm.instance_view("rg-web", "web-03")["patchStatus"]["availablePatchSummary"][
        "rebootPending"
    ]
    assert "patchStatus" not in fleet_arm.instance_view("rg-app", "app-03")  # never assessed
    sql01 = fleet_arm.instance_view("rg-data", "sql-01")
    assert sql01["patchStatus"]["lastPatchInstallationSummary"]["status"] == "Failed"
    assert {"platformUpdateDomain", "platformFaultDomain"} <= set(sql01)
    stale = fleet_arm.instance_view("rg-api", "api-03")["patchStatus"]["availablePatchSummary"][
        "lastModifiedTime"
    ]
    assert dt.datetime.fromisoformat(stale[:19]).date() <= TODAY - dt.timedelta(days=19)
    legacy04 = fleet_arm.instance_view("rg-legacy", "legacy-04")
    assert "osVersion" not in legacy04 and legacy04["vmAgent"]["vmAgentVersion"] == "Unknown"

    def settings(name: str, group: str) -> dict[str, Any]:
        body = fleet_arm.get(fleet_arm.vm(group, name)).json()["properties"]
        return {
            "image": body["storageProfile"]["imageReference"],
            **body["osProfile"]["windowsConfiguration"]["patchSettings"],
        }

    assert settings("legacy-01", "rg-legacy")["image"]["sku"] == "2019-datacenter"
    assert settings("legacy-02", "rg-legacy")["image"]["sku"] == "2022-datacenter-azure-edition"
    assert "/galleries/" in settings("legacy-03", "rg-legacy")["image"]["id"]
    assert settings("app-02", "rg-app")["enableHotpatching"] is False
    api02 = settings("api-02", "rg-api")
    assert api02["automaticByPlatformSettings"]["bypassPlatformSafetyChecksOnUserSchedule"] is True
    assert settings("sql-02", "rg-data")["patchMode"] == "Manual"
    assert settings("app-03", "rg-app")["assessmentMode"] == "ImageDefault"


def test_what_an_assessment_finds_follows_the_date() -> None:
    world = World(dt.date(2026, 5, 20))
    on_april = world.state_for("2025", True, "current", dt.date(2026, 4, 20))
    assert on_april.level.kb == "KB5082063"  # the April 2026 baseline

    hotpatch_month = world.available(on_april, True, dt.date(2026, 5, 20))
    [cumulative] = [p for p in hotpatch_month if p.kind == "cumulative"]
    assert (cumulative.kb, cumulative.reboot_behavior, cumulative.classifications) == (
        "5087423",
        "NeverReboots",
        ("Security",),
    )
    assert {p.classifications[0]: p.reboot_behavior for p in hotpatch_month if p.kind != "cumulative"} == {
        "Definition": "NeverReboots",
        "UpdateRollUp": "CanRequestReboot",
        "Updates": "CanRequestReboot",
    }

    # Not enrolled (hotpatch off, or an ineligible image): the month's regular LCU, which reboots.
    [lcu] = [p for p in world.available(on_april, False, dt.date(2026, 5, 20)) if p.kind == "cumulative"]
    assert lcu.reboot_behavior == "AlwaysRequiresReboot" and lcu.kb != "5087423"

    # Off the track (the KB5070881 incident): regular LCUs until the next baseline.
    off_track = world.state_for("2025", True, "offtrack", dt.date(2026, 5, 20))
    [offered] = [p for p in world.available(off_track, True, dt.date(2026, 5, 20)) if p.kind == "cumulative"]
    assert offered.release is not None and offered.release.kind == "lcu"

    # A baseline month: everyone on the track gets the baseline, with a restart.
    behind = world.state_for("2025", True, "behind1", dt.date(2026, 4, 20))
    [baseline] = [p for p in world.available(behind, True, dt.date(2026, 4, 20)) if p.kind == "cumulative"]
    assert (baseline.kb, baseline.reboot_behavior) == ("5082063", "AlwaysRequiresReboot")

    # WS2022 and the August 2024 unplanned baseline: a reboot where a hotpatch was planned.
    july = World(dt.date(2024, 8, 20)).state_for("2022", True, "current", dt.date(2024, 7, 20))
    [august] = [
        p
        for p in World(dt.date(2024, 8, 20)).available(july, True, dt.date(2024, 8, 20))
        if p.kind == "cumulative"
    ]
    assert (august.kb, august.reboot_behavior) == ("5041160", "AlwaysRequiresReboot")


def _kbs(result: dict[str, Any], state: str | None = None) -> list[str]:
    return [
        p["kbId"]
        for p in result.get("patches", result.get("availablePatches", []))
        if state is None or p.get("installationState") == state
    ]


def test_install_semantics(tmp_path: Path) -> None:
    sandbox = make_sandbox(tmp_path)
    try:
        arm = Arm(sandbox)
        backend = sandbox.backend
        backend.add_vm("rg1", "hot", standing="behind1")  # on the April baseline in May: hotpatch pending
        backend.add_vm("rg1", "lcu", standing="behind2")  # behind the baseline: the May LCU, with a restart

        found = arm.assess("rg1", "hot")
        assert found["criticalAndSecurityPatchCount"] == 1 and "5087423" in _kbs(found)
        excluded = arm.install(
            "rg1",
            "hot",
            {
                "rebootSetting": "IfRequired",
                "windowsParameters": {
                    "classificationsToInclude": ["Security"],
                    "kbNumbersToExclude": ["KB5087423"],
                },
            },
        )
        assert _kbs(excluded, "Excluded") == _kbs(found) and excluded["installedPatchCount"] == 0
        not_yet = arm.install(
            "rg1",
            "hot",
            {
                "rebootSetting": "IfRequired",
                "windowsParameters": {
                    "classificationsToInclude": ["Security"],
                    "maxPatchPublishDate": "2026-05-01T00:00:00Z",
                },
            },
        )
        assert _kbs(not_yet, "NotSelected") == ["5087423"]
        hotpatched = arm.install(
            "rg1",
            "hot",
            {
                "rebootSetting": "IfRequired",
                "windowsParameters": {"classificationsToInclude": ["Critical", "Security"]},
            },
        )
        assert _kbs(hotpatched, "Installed") == ["5087423"] and hotpatched["rebootStatus"] == "NotNeeded"
        assert arm.instance_view("rg1", "hot")["osVersion"] == "10.0.26100.32772"  # in memory, no restart
        after = arm.assess("rg1", "hot")
        assert "5087423" not in _kbs(after) and after["criticalAndSecurityPatchCount"] == 0
        only_kb = arm.install(
            "rg1",
            "hot",
            {"rebootSetting": "IfRequired", "windowsParameters": {"kbNumbersToInclude": ["KB890830"]}},
        )
        assert _kbs(only_kb, "Installed") == ["890830"]

        before = arm.instance_view("rg1", "lcu")["osVersion"]
        skip_reboot = arm.install(
            "rg1",
            "lcu",
            {
                "rebootSetting": "IfRequired",
                "windowsParameters": {
                    "classificationsToInclude": ["Security"],
                    "excludeKbsRequiringReboot": True,
                },
            },
        )
        assert skip_reboot["installedPatchCount"] == 0 and len(_kbs(skip_reboot, "Excluded")) == 4
        never = arm.install(
            "rg1",
            "lcu",
            {"rebootSetting": "Never", "windowsParameters": {"classificationsToInclude": ["Security"]}},
        )
        assert never["rebootStatus"] == "Required" and never["installedPatchCount"] == 1
        view = arm.instance_view("rg1", "lcu")
        assert view["patchStatus"]["availablePatchSummary"]["rebootPending"] is True
        assert view["osVersion"] == before  # the new build waits for the restart
        pending = arm.assess("rg1", "lcu")
        assert pending["rebootPending"] is True and pending["criticalAndSecurityPatchCount"] == 0
        rebooted = arm.install(
            "rg1",
            "lcu",
            {"rebootSetting": "IfRequired", "windowsParameters": {"classificationsToInclude": ["Updates"]}},
        )
        assert rebooted["rebootStatus"] == "Completed" and _kbs(rebooted, "Installed")  # .NET update too
        view = arm.instance_view("rg1", "lcu")
        assert (
            view["osVersion"] != before
            and view["patchStatus"]["availablePatchSummary"]["rebootPending"] is False
        )

        backend.add_vm("rg1", "slow", standing="behind2")
        window = arm.install(
            "rg1",
            "slow",
            {
                "rebootSetting": "IfRequired",
                "maximumDuration": "PT5M",
                "windowsParameters": {"classificationsToInclude": ["Security"]},
            },
        )
        assert window["status"] == "CompletedWithWarnings" and window["maintenanceWindowExceeded"] is True
        assert window["pendingPatchCount"] == 1
        # Error code "1" under CompletedWithWarnings: errors, not a failure (azure-wire.md §9.5).
        assert window["error"]["code"] == "1" and window["error"]["details"][0]["code"] == "SV_MAINTENANCE_WINDOW_ERROR"

        history = backend.history("rg1", "hot")
        assert len(history["assessments"]) >= 5 and len(history["installations"]) == 4
        assert all(not k.startswith("_") for item in history["installations"] for k in item)
    finally:
        sandbox.stop()


def test_history_keeps_7_days_of_assessments_and_30_of_installations(fleet_sandbox: Sandbox) -> None:
    backend = fleet_sandbox.backend
    vm = backend.vm("rg-api", "api-03")  # last assessed 20 days ago
    assert backend.history("rg-api", "api-03")["assessments"] == []
    assert vm.last_assessment is not None  # the instance view still shows the last one
    old = backend.clock.now() - dt.timedelta(days=31)
    with backend.lock:
        backend.compute.record_installation(vm, "old-activity", old, old + dt.timedelta(minutes=20), None)
        backend.compute.record_installation(
            vm, "new-activity", backend.clock.now(), backend.clock.now(), None
        )
    ids = [i["installationActivityId"] for i in backend.history("rg-api", "api-03")["installations"]]
    assert "old-activity" not in ids and "new-activity" in ids


def test_new_vm_boots_the_latest_baseline_image(arm: Arm) -> None:
    arm.sandbox.backend.add_resource_group("rg1")
    from .conftest import hotpatch_vm_body

    arm.poll(arm.put(arm.vm("rg1", "vm1"), hotpatch_vm_body()))
    vm = arm.get(arm.vm("rg1", "vm1"), params={"$expand": "instanceView"}).json()["properties"]
    exact = vm["storageProfile"]["imageReference"]["exactVersion"]
    assert exact.startswith("26100.32690.")  # the April 2026 baseline image
    assert vm["instanceView"]["osVersion"] == "10.0.26100.32690"
    found = arm.assess("rg1", "vm1")
    assert [
        p["rebootBehavior"] for p in found["availablePatches"] if p["classifications"] == ["Security"]
    ] == ["NeverReboots"]

"""Arc machines in the pure core: facts and enrollment state from the wire shapes, who may enroll, the billing
notice by date, Arc result shapes, and the report's Arc rules."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import pytest

from hpctl.core.arc_enrollment import (
    ALREADY,
    ENROLL,
    NOT_NEEDED,
    REFUSE,
    billing_notice,
    disenroll_body,
    disenroll_verdict,
    enroll_body,
    enroll_verdict,
)
from hpctl.core.arc_facts import arc_facts, edition_of, enrollment_state, mentions_vbs, parse_build
from hpctl.core.calendar import load_calendar
from hpctl.core.compliance import arc_record, evaluate
from hpctl.core.patch_results import assessment_row, installation_row

SUB = "00000000-0000-0000-0000-000000000000"
TODAY = date(2026, 5, 20)
NOW = datetime(2026, 5, 20, 12, 0, tzinfo=timezone.utc)


def machine(name: str = "arc-01", *, sku: str = "Windows Server 2025 Datacenter", edition: str = "serverdatacenter",
            version: str | None = "10.0.26100.32772", status: str = "Connected", license: str | None = None,
            enablement: str = "Unknown", error: dict[str, Any] | None = None, hci: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {
        "status": status, "osType": "windows", "osName": "windows", "osSku": sku, "osEdition": edition,
        "osVersion": version, "lastStatusChange": "2026-05-14T03:00:00.0000000+00:00",
        "osProfile": {"windowsConfiguration": {"patchSettings": {
            "assessmentMode": "AutomaticByPlatform", "patchMode": "AutomaticByPlatform",
            "enableHotpatching": license == "Enabled",
            "status": {"hotpatchEnablementStatus": enablement, "error": error}}}},
        "licenseProfile": {"licenseStatus": "Licensed"},
    }
    if license is not None:
        props["licenseProfile"]["productProfile"] = {
            "subscriptionStatus": license, "productType": "WindowsServer",
            "productFeatures": [{"name": "Hotpatch", "subscriptionStatus": license}]}
    if hci:
        props["parentClusterResourceId"] = f"/subscriptions/{SUB}/resourceGroups/rg/providers/" \
                                           "Microsoft.AzureStackHCI/clusters/c1"
    return {"id": f"/subscriptions/{SUB}/resourceGroups/rg-arc/providers/Microsoft.HybridCompute/machines/{name}",
            "name": name, "location": "eastus", "type": "Microsoft.HybridCompute/machines", "properties": props}


VBS = {"code": "VirtualizationBasedSecurityNotRunning", "message": "VBS is not running."}


# --------------------------------------------------------------------------- facts


def test_the_spec_example_reads_as_enrolled():
    # Machines_Get_LicenseProfileInstanceView.json: osEdition "Standard", osVersion null, feature Enabled.
    doc = machine(sku=None, edition="Standard", version=None, license="Enabled", enablement="Enabled")
    f = arc_facts(doc)
    assert f.edition == "Standard" and f.build is None and f.enrollment == "enabled" and f.hotpatch


@pytest.mark.parametrize(("text", "build"), [
    ("10.0.26100.32772", (26100, 32772)), ("Microsoft Windows NT 10.0.20348.0", (20348, 0)),
    ("10.0.26100", (26100, 0)), (None, None), ("windows", None)])
def test_parse_build(text, build):
    assert parse_build(text) == build


@pytest.mark.parametrize(("sku", "edition", "expected"), [
    ("Windows Server 2025 Datacenter: Azure Edition", "serverazureeditioncore", "AzureEdition"),
    ("Windows Server 2025 Datacenter", "serverdatacentercore", "Datacenter"),
    (None, "ServerStandardEval", "Standard"), ("Windows Server 2025 Standard", None, "Standard"),
    (None, None, None), ("Windows 11 Pro", "professional", None)])
def test_edition_of(sku, edition, expected):
    assert edition_of(sku, edition) == expected


@pytest.mark.parametrize(("license", "enablement", "flag", "built_in", "capable", "state"), [
    (None, "Unknown", False, True, False, "built-in"),
    ("Enabled", "ActionRequired", True, False, True, "action-required"),
    ("Failed", "Unknown", False, False, True, "failed"),
    ("Enabling", "PendingEvaluation", False, False, True, "pending"),
    (None, "PendingEvaluation", False, False, True, "pending"),
    ("Disabling", "Enabled", True, False, True, "pending"),
    ("Enabled", "Enabled", True, False, True, "enabled"),
    (None, "Enabled", True, False, True, "enabled"),  # a list without $expand: no licenseProfile
    ("Disabled", "Disabled", False, False, True, "canceled"),
    (None, "Unknown", False, False, True, "not-enrolled"),
    (None, "Unknown", False, False, False, "not-available"),
])
def test_enrollment_state_as_update_manager_derives_it(license, enablement, flag, built_in, capable, state):
    assert enrollment_state(built_in=built_in, capable=capable, license_status=license, enablement=enablement,
                            enable_hotpatching=flag) == state


def test_vbs_is_read_from_the_enablement_error_loosely():
    assert mentions_vbs(VBS)
    assert mentions_vbs({"code": "X", "message": "Virtual Secure Mode must be running"})
    assert mentions_vbs({"code": "X", "details": [{"code": "VBS_OFF", "message": ""}]})
    assert not mentions_vbs({"code": "FeatureLicenseNotActive", "message": "license not active"})
    assert not mentions_vbs(None)


def test_flags_and_azure_local():
    f = arc_facts(machine(status="Disconnected", hci=True))
    assert f.flags == ("agent-disconnected", "hotpatch-not-enrolled", "azure-local")
    assert arc_facts(machine(sku="Windows Server 2022 Datacenter", version="10.0.20348.5020")).flags == (
        "os-not-eligible",)


# --------------------------------------------------------------------------- enrollment


@pytest.mark.parametrize(("doc", "action", "fragment"), [
    (machine(), ENROLL, "enroll (not-enrolled)"),
    (machine(license="Failed", enablement="ActionRequired", error=VBS), ENROLL, "VBS was not running"),
    (machine(license="Enabled", enablement="Enabled"), ALREADY, "already enrolled"),
    (machine(license="Enabling", enablement="PendingEvaluation"), ALREADY, "under way"),
    (machine(sku="Windows Server 2025 Datacenter: Azure Edition", edition="serverazureedition"), NOT_NEEDED,
     "built in"),
    (machine(sku="Windows Server 2022 Datacenter", edition="serverdatacenter", version="10.0.20348.5020"), REFUSE,
     "needs Windows Server 2025 Standard or Datacenter"),
    (machine(version="10.0.26100.1000"), REFUSE, "below 26100.1742"),
    (machine(version=None), REFUSE, "build unknown"),
    (machine(status="Disconnected"), REFUSE, "agent is Disconnected"),
    (machine(sku="Windows Server 2025 Essentials", edition="serversolution"), REFUSE, "reports edition"),
])
def test_enroll_verdict(doc, action, fragment):
    verdict = enroll_verdict(arc_facts(doc))
    assert verdict.action == action and fragment in verdict.reason
    assert "\n" not in verdict.reason


def test_disenroll_verdict():
    assert disenroll_verdict(arc_facts(machine(license="Enabled", enablement="Enabled"))).action == "disenroll"
    assert disenroll_verdict(arc_facts(machine())).action == ALREADY
    assert disenroll_verdict(arc_facts(machine(license="Disabled"))).action == ALREADY
    off = disenroll_verdict(arc_facts(machine(license="Enabled", status="Disconnected")))
    assert off.action == REFUSE and "reconnect" in off.reason


def test_request_bodies_are_the_spec_shapes():
    body = enroll_body("westus2")
    assert body["location"] == "westus2"
    product = body["properties"]["productProfile"]
    assert product == {"subscriptionStatus": "Enabled", "productType": "WindowsServer",
                       "productFeatures": [{"name": "Hotpatch", "subscriptionStatus": "Enabled"}]}
    # The PATCH takes the update values, not the status values.
    assert disenroll_body()["properties"]["productProfile"]["productFeatures"][0]["subscriptionStatus"] == "Disable"


@pytest.mark.parametrize(("day", "fragments"), [
    (date(2025, 3, 1), ["free during its preview"]),
    (date(2025, 9, 1), ["US$1.50 per CPU core per month", "until you disenroll"]),
    (date(2026, 5, 19), ["costs nothing", "since 2026-05-19", "US$1.50"]),
    (date(2026, 12, 5), ["costs nothing"]),
])
def test_billing_notice_follows_the_dates(day, fragments):
    text = billing_notice(day)
    assert all(f in text for f in fragments) and "\n" not in text


# --------------------------------------------------------------------------- results


ARC_ASSESS = {"status": "Succeeded", "assessmentActivityId": "a", "rebootPending": True,
              "startDateTime": "2021-08-22T02:15:20.9340000Z", "lastModifiedDateTime": "2021-08-22T02:16:06.9740000Z",
              "availablePatchCountByClassification": {"security": 2, "updateRollup": 1, "featurePack": 0,
                                                      "servicePack": 0, "definition": 0, "critical": 1,
                                                      "updates": 1, "tools": 0},
              "startedBy": "User", "osType": "Windows", "errorDetails": None}


def test_arc_results_read_as_vm_results():
    row = assessment_row(ARC_ASSESS)
    assert row["criticalAndSecurityPatchCount"] == 3 and row["otherPatchCount"] == 2
    assert row["startTime"] == "2021-08-22T02:15:20Z" and row["error"] is None and row["patches"] == []
    failed = installation_row({"status": "Failed", "errorDetails": {"code": "MachineDisconnected",
                                                                    "message": "not reporting"}})
    assert failed["error"] == {"code": "MachineDisconnected", "message": "not reporting"}


# --------------------------------------------------------------------------- report rules


def findings_of(doc: dict[str, Any], **kw: Any) -> dict[str, str]:
    assessment = {"properties": {**ARC_ASSESS, "lastModifiedDateTime": "2026-05-20T06:00:00Z",
                                 "rebootPending": False,
                                 "availablePatchCountByClassification": {"definition": 1}}}
    record = arc_record(doc, assessment=kw.get("assessment", assessment))
    report = evaluate([], [], today=TODAY, now=NOW, calendar=load_calendar(), arc_machines=[record])
    return {f.rule_id: f.severity for f in report.findings}


def test_arc_rules_each_fire_on_their_case():
    assert findings_of(machine(license="Enabled", enablement="Enabled")) == {}
    assert findings_of(machine()) == {"HP020": "medium"}
    assert findings_of(machine(license="Disabled", enablement="Disabled")) == {"HP020": "medium"}
    assert findings_of(machine(license="Enabling", enablement="PendingEvaluation")) == {"HP021": "medium"}
    assert findings_of(machine(license="Failed")) == {"HP021": "high"}
    assert findings_of(machine(license="Enabled", enablement="ActionRequired",
                               error={"code": "FeatureLicenseNotActive", "message": "m"})) == {"HP021": "high"}
    # VBS explains the ActionRequired: one finding, HP022, not HP021 as well.
    assert findings_of(machine(license="Failed", enablement="ActionRequired", error=VBS)) == {"HP022": "high"}
    assert findings_of(machine(license="Enabled", enablement="Enabled", status="Disconnected")) == {"HP023": "high"}
    # Azure Edition (an Azure Local VM, say) needs no enrollment; a 2022 machine can't enroll: no HP020.
    ae = machine(sku="Windows Server 2025 Datacenter: Azure Edition", edition="serverazureedition", hci=True)
    assert findings_of(ae) == {}
    assert findings_of(machine(sku="Windows Server 2022 Datacenter", version="10.0.20348.5020")) == {}


def test_arc_machines_share_the_patch_result_rules_and_the_track():
    never = findings_of(machine(license="Enabled", enablement="Enabled"), assessment=None)
    assert never == {"HP006": "medium"}
    behind = machine(license="Enabled", enablement="Enabled", version="10.0.26100.32690")
    assert findings_of(behind) == {"HP011": "medium"}
    report = evaluate([], [], today=TODAY, now=NOW, calendar=load_calendar(),
                      arc_machines=[arc_record(machine(license="Enabled", enablement="Enabled"))])
    expected = load_calendar().next_reboot("2025", TODAY).date  # the calendar's next WS2025 baseline
    assert report.summary.arc_machines_checked == 1 and report.summary.next_reboot == expected
    assert report.results[0].kind == "arc" and report.results[0].track.state == "hotpatch"


# --------------------------------------------------------------------------- enrollment plan


def _part(*machines: dict[str, Any], scope: str = "resource-group") -> Any:
    from hpctl.core.targets import TargetSpec
    from hpctl.edge.clients import Connection
    from hpctl.fleet.commands import Part
    from hpctl.patching import Target

    conn = Connection(cloud="AzureCloud", subscription_id=SUB, base_url="https://management.azure.com",
                      credential=None)
    targets = [Target("rg-arc", m["name"], vm=m, kind="arc") for m in machines]
    return Part(SUB, TargetSpec(scope=scope, resource_group="rg-arc"), conn=conn, targets=targets)


def test_a_group_skips_what_it_must_and_refuses_when_nothing_could_be_done():
    from hpctl.errors import InputError
    from hpctl.fleet.enrollment import plan, requests

    ws22 = machine("old-22", sku="Windows Server 2022 Datacenter", version="10.0.20348.5020")
    mixed = plan([_part(machine("std-01"), ws22, machine("dc-01", license="Enabled", enablement="Enabled"))],
                 enable=True, named=False)
    assert [i.target.name for i in mixed.to_send] == ["std-01"]
    assert [i.target.name for i in mixed.refused] == ["old-22"]
    (request,) = requests(mixed)
    assert request["method"] == "PUT" and request["url"] == (
        f"https://management.azure.com/subscriptions/{SUB}/resourceGroups/rg-arc/providers/Microsoft.HybridCompute/"
        "machines/std-01/licenseProfiles/default?api-version=2024-07-10")
    with pytest.raises(InputError, match=r"old-22 runs Windows Server 2022 Datacenter.*\(and 1 more\)"):
        plan([_part(ws22, machine("off-01", status="Disconnected"))], enable=True, named=False)
    # Named machines: one that can't enroll refuses the whole command.
    with pytest.raises(InputError, match="old-22"):
        plan([_part(machine("std-01"), ws22, scope="vms")], enable=True, named=True)

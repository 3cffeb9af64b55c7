"""hpctl local: the Windows Update client settings for Azure Local guests, and the check of what a guest reports.

Nothing here talks to Azure; every command runs with no cloud configured, so a call would fail loudly."""

from __future__ import annotations

import copy
import json

import pytest

from hpctl.core import azure_local

AU = "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU"
DG = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\DeviceGuard"
MM = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Memory Management"
TI = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Update\\TargetingInfo\\DynamicInstalled\\Hotpatch.amd64"

# A WS2025 guest as the emitted script prints it: the May 2026 hotpatch (KB5087423, 26100.32772), policy set,
# VBS running.
GOOD_2025 = {
    "schema": "hpctl.local-check/1",
    "computerName": "HCI-VM-01",
    "os": {"productName": "Windows Server 2025 Datacenter: Azure Edition", "editionId": "x",
           "installationType": "Server Core", "currentBuild": "26100", "ubr": 32772},
    "registry": [{"key": AU, "name": "NoAutoUpdate", "value": 0}, {"key": AU, "name": "AUOptions", "value": 4},
                 {"key": AU, "name": "ScheduledInstallDay", "value": 0},
                 {"key": AU, "name": "ScheduledInstallTime", "value": 3},
                 {"key": DG, "name": "EnableVirtualizationBasedSecurity", "value": 1}],
    "vbs": {"status": 2},
    "hotfixes": ["KB5087423"],
}


def _write(tmp_path, doc, name="check.json", encoding="utf-8"):
    path = tmp_path / name
    text = json.dumps(doc) if not isinstance(doc, str) else doc
    path.write_bytes(text.encode(encoding) if encoding != "utf-16" else b"\xff\xfe" + text.encode("utf-16-le"))
    return str(path)


@pytest.fixture(autouse=True)
def no_cloud(monkeypatch, tmp_path):
    # Any attempt to reach Azure would need a subscription or a sandbox; neither exists here.
    for name in ("AZURE_SUBSCRIPTION_ID", "HPCTL_CLOUD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HPCTL_SANDBOX_DIR", str(tmp_path / "no-sandbox"))


def test_wu_settings_json_cites_a_source_for_every_setting(hpctl):
    result = hpctl("local", "wu-settings", "--os", "2025")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    ids = [r["id"] for r in rows]
    assert ids == ["wu-automatic-updates-on", "wu-download-and-schedule-install", "wu-install-every-day",
                   "wu-install-at-3am", "sconfig-automatic-updates", "vbs-enabled"]
    assert all(r["sources"] and all(s["document"] for s in r["sources"]) for r in rows)
    assert {r["name"]: r["value"] for r in rows if r["kind"] == "registry"} == {
        "NoAutoUpdate": 0, "AUOptions": 4, "ScheduledInstallDay": 0, "ScheduledInstallTime": 3,
        "EnableVirtualizationBasedSecurity": 1}


def test_every_source_is_a_document_that_exists(shared):
    # The cited shared files and sections are real (nothing invented).
    text = " ".join((shared / "reference" / "hotpatch-program.md").read_text(encoding="utf-8").split())
    for section in ("### 1.3 Azure Local", "### 10.1 Arc prerequisites", "### 10.4 Azure Local VMs"):
        assert section in text
    seed = " ".join((shared / "seeds" / "hotpatch-for-virtual-machines.txt").read_text(encoding="utf-8").split())
    assert "Group Policy to configure the Windows Update client settings" in seed
    assert "SCONFIG for Server Core" in seed
    assert "HotPatchTableSize" in text and "10.0.20348.1129" in text and "KB5003508" in text
    assert "option **5**" in text and "`A` automatic (check and install daily at 3:00 AM" in text


def test_wu_settings_iso_adds_the_ws2022_enrollment_steps(hpctl):
    plain = {r["id"] for r in json.loads(hpctl("local", "wu-settings", "--os", "2022").stdout)}
    iso = {r["id"]: r for r in json.loads(hpctl("local", "wu-settings", "--os", "2022", "--iso").stdout)}
    assert set(iso) - plain == {"hotpatch-table-size", "hotpatch-targeting-name", "hotpatch-targeting-version",
                                "hotpatch-enrollment-package"}
    assert iso["hotpatch-table-size"]["value"] == 0x1000 and iso["hotpatch-enrollment-package"]["kb"] == "KB5003508"


def test_wu_settings_reg_is_a_registry_file(hpctl):
    result = hpctl("local", "wu-settings", "--os", "2022", "--iso", "-o", "reg")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Windows Registry Editor Version 5.00"
    assert "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU]" in lines
    assert '"AUOptions"=dword:00000004' in lines and '"HotPatchTableSize"=dword:00001000' in lines
    assert '"Name"="Hotpatch Enrollment Package"' in lines and '"Version"="10.0.20348.1129"' in lines
    # Every value line is preceded by its reason and sources.
    for index, line in enumerate(lines):
        if line.startswith('"'):
            comments = [x for x in lines[max(0, index - 2):index] if x.startswith("; ")]
            assert comments and "[" in comments[0], line


def test_wu_settings_ps1_reads_by_default_and_applies_on_request(hpctl):
    result = hpctl("local", "wu-settings", "--os", "2022", "--iso", "-o", "ps1")
    assert result.exit_code == 0, result.stderr
    script = result.stdout
    assert "param([switch]$Apply, [switch]$ApplyIsoEnrollment)" in script
    assert "schema = 'hpctl.local-check/1'" in script and "ConvertTo-Json" in script
    apply_block = script.split("if ($Apply) {")[1].split("}\n")[0]
    assert "'AUOptions' 4 'DWord'" in apply_block and "HotPatchTableSize" not in apply_block
    iso_block = script.split("if ($ApplyIsoEnrollment) {")[1]
    # The documented order: VBS must already run before the table size, the targeting entry, then the package.
    assert iso_block.index("Get-HpctlVbs") < iso_block.index("HotPatchTableSize") < iso_block.index("wusa.exe")
    plain = hpctl("local", "wu-settings", "--os", "2025", "-o", "ps1").stdout
    assert "ApplyIsoEnrollment" not in plain and "param([switch]$Apply)" in plain


BAD = {
    "unknown os": (["local", "wu-settings", "--os", "2019"], "--os '2019'"),
    "iso on 2025": (["local", "wu-settings", "--os", "2025", "--iso"], "--iso"),
    "unknown output": (["local", "wu-settings", "--os", "2025", "-o", "xml"], "--output 'xml'"),
    "query on a document": (["local", "wu-settings", "--os", "2025", "-o", "ps1", "--query", "[0]"], "--query"),
    "missing file": (["local", "check", "/nonexistent/check.json"], "does not exist"),
    "bad fail-on": (["local", "check", "CHECK", "--fail-on", "high"], "--fail-on"),
    "bad as-of": (["local", "check", "CHECK", "--as-of", "tomorrow"], "--as-of"),
}


@pytest.mark.parametrize("args,needle", BAD.values(), ids=BAD.keys())
def test_bad_input_exits_2_with_one_line(args, needle, hpctl, tmp_path):
    path = _write(tmp_path, GOOD_2025)
    result = hpctl(*[path if a == "CHECK" else a for a in args])
    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: ") and needle in lines[0], result.stderr


def _broken(change):
    doc = copy.deepcopy(GOOD_2025)
    change(doc)
    return doc


BAD_FILES = {
    "not json": ("{not json", "is not JSON"),
    "a list": ("[]", "schema 'list'"),
    "other schema": (_broken(lambda d: d.update(schema="something/2")), "schema 'something/2'"),
    "no os": (_broken(lambda d: d.pop("os")), "'os'"),
    "build not a number": (_broken(lambda d: d["os"].update(currentBuild="x")), "os.currentBuild 'x'"),
    "ubr missing": (_broken(lambda d: d["os"].pop("ubr")), "os.ubr None"),
    "registry not a list": (_broken(lambda d: d.update(registry="x")), "'registry'"),
    "vbs not a number": (_broken(lambda d: d.update(vbs={"status": "on"})), "vbs.status 'on'"),
}


@pytest.mark.parametrize("doc,needle", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_check_rejects_a_file_that_is_not_the_scripts_output(doc, needle, hpctl, tmp_path):
    result = hpctl("local", "check", _write(tmp_path, doc))
    assert result.exit_code == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "wu-settings -o ps1" in lines[0], result.stderr


def test_check_of_a_good_guest_has_no_error(hpctl, tmp_path):
    result = hpctl("local", "check", _write(tmp_path, GOOD_2025), "--as-of", "2026-05-20", "--fail-on", "warning")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["os"] == "2025" and doc["build"] == "26100.32772" and doc["worst"] == "info"
    assert doc["track"]["state"] == "hotpatch" and doc["track"]["month"] == "2026-05"
    assert {f["check"] for f in doc["findings"]} == {"track", "windows-update", "vbs"}
    assert all(f["source"] in doc["sources"] for f in doc["findings"])


def test_check_finds_what_is_wrong_and_fails_on_request(hpctl, tmp_path):
    doc = _broken(lambda d: (d["os"].update(ubr=32690), d.update(vbs={"status": 0}),
                             d.update(registry=[{"key": AU, "name": "AUOptions", "value": 3}])))
    # Windows PowerShell 5.1's `>` writes UTF-16 with a BOM: read as it is.
    path = _write(tmp_path, doc, encoding="utf-16")
    result = hpctl("local", "check", path, "--as-of", "2026-06-20", "-o", "table", "--fail-on", "error")
    assert result.exit_code == 5
    assert "Findings at or above error on 1 of 1 guests: HCI-VM-01." in result.stderr
    table = result.stdout
    assert "error    vbs" in table and "not running (status 0)" in table
    assert "warning  windows-update" in table and "AUOptions is 3" in table
    assert "warning  track" in table and "Behind" in table


def test_check_of_ws2022_judges_the_iso_enrollment(hpctl, tmp_path):
    base = _broken(lambda d: d["os"].update(currentBuild="20348", ubr=4893))
    none = json.loads(hpctl("local", "check", _write(tmp_path, base)).stdout)
    iso = [f for f in none["findings"] if f["check"] == "iso-enrollment"]
    assert iso[0]["level"] == "info" and "marketplace image" in iso[0]["message"]
    partial = _broken(lambda d: (d["os"].update(currentBuild="20348", ubr=4893),
                                 d["registry"].append({"key": MM, "name": "HotPatchTableSize", "value": 4096}),
                                 d["registry"].append({"key": TI, "name": "Version", "value": "10.0.20348.1"})))
    result = json.loads(hpctl("local", "check", _write(tmp_path, partial, "p.json")).stdout)
    (finding,) = [f for f in result["findings"] if f["check"] == "iso-enrollment"]
    assert finding["level"] == "error"
    assert "wrong value: hotpatch-targeting-version" in finding["message"]
    assert "missing: hotpatch-targeting-name" in finding["message"] and "KB5003508 not installed" in finding["message"]


def test_check_of_another_windows_says_hotpatch_does_not_apply():
    report = azure_local.parse_guest_report(json.dumps(_broken(lambda d: d["os"].update(currentBuild="17763")))
                                            .encode(), "x.json")
    from datetime import date

    from hpctl.core.calendar import load_calendar

    result = azure_local.check_guest(report, date(2026, 5, 20), load_calendar())
    assert result["os"] is None and result["worst"] == "error" and "17763" in result["findings"][0]["message"]


def test_check_of_several_guests_reads_them_all_first(hpctl, tmp_path):
    good = _write(tmp_path, GOOD_2025, "good.json")
    bad = _write(tmp_path, _broken(lambda d: (d.update(computerName="HCI-VM-02"), d.update(vbs={"status": 0}))),
                 "bad.json")
    result = hpctl("local", "check", good, bad, "--as-of", "2026-05-20", "-o", "table", "--fail-on", "error")
    assert result.exit_code == 5
    header = result.stdout.splitlines()[0].split()
    assert header[:3] == ["Computer", "Level", "Check"]
    rows = {(line.split()[0], line.split()[2]): line.split()[1] for line in result.stdout.splitlines()[2:]}
    assert rows[("HCI-VM-02", "vbs")] == "error" and rows[("HCI-VM-01", "vbs")] == "info"
    assert "on 1 of 2 guests: HCI-VM-02." in result.stderr
    # One unreadable file refuses the whole run before anything is judged: exit 2, one line, no output.
    broken = hpctl("local", "check", good, _write(tmp_path, "{", "broken.json"))
    assert broken.exit_code == 2 and broken.stdout == "" and len(broken.stderr.strip().splitlines()) == 1

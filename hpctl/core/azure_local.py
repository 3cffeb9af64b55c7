"""Azure Local guests that are not Arc-connected: the Windows Update client settings and hotpatch prerequisites
the sources name (as JSON, a .reg file or a PowerShell script), and the check of what that script reports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from hpctl.core.calendar import Calendar
from hpctl.core.track import BEHIND, OFF_TRACK, UNKNOWN, track_of
from hpctl.errors import InputError

OS_LINES = ("2022", "2025")
CHECK_SCHEMA = "hpctl.local-check/1"
ERROR, WARNING, INFO = "error", "warning", "info"
LEVELS = (ERROR, WARNING, INFO)
_RANK = {INFO: 0, WARNING: 1, ERROR: 2}
# Build numbers of the two hotpatch OS lines (hotpatch-program.md §2).
_LINE_OF_BUILD = {"20348": "2022", "26100": "2025"}
_WU_KEY = "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU"
# AUOptions meanings (WU-POLICY source).
_AU_OPTIONS = {1: "Automatic Updates' 'keep my computer up to date' is off", 2: "notify of download and installation",
               3: "download automatically, notify of installation", 4: "download and install on a schedule"}
_VBS_RUNNING = 2


@cache
def _data() -> dict[str, Any]:
    return json.loads(resources.files("hpctl.core").joinpath("data", "azure_local.json").read_text(encoding="utf-8"))


def sources() -> dict[str, str]:
    """Source id -> the document (and section) each setting comes from."""
    return dict(_data()["sources"])


def check_os(os_line: str) -> str:
    value = str(os_line).strip()
    if value not in OS_LINES:
        raise InputError(f"--os {os_line!r} is not a hotpatch OS line; use 2022 or 2025 (Windows Server "
                         "Datacenter: Azure Edition).")
    return value


def settings(os_line: str, *, iso: bool = False) -> list[dict[str, Any]]:
    """The settings for an OS line, each with its sources spelled out; ISO-install steps only when asked.

    Only WS2022 has documented ISO enrollment steps (ISO-DOC is WS2022 only), so iso with 2025 is refused.
    """
    os_line = check_os(os_line)
    if iso and os_line != "2022":
        raise InputError("--iso: enrollment steps for ISO installs are documented for Windows Server 2022 "
                         "Datacenter: Azure Edition only; nothing is documented for 2025, so hpctl emits none.")
    names = sources()
    out = []
    for item in _data()["settings"]:
        if os_line not in item["os"] or (item["install"] == "iso" and not iso):
            continue
        row = {k: v for k, v in item.items() if k not in ("os", "sources")}
        row["sources"] = [{"id": s, "document": names[s]} for s in item["sources"]]
        out.append(row)
    return out


def _registry(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in items if s["kind"] == "registry"]


def _source_ids(item: dict[str, Any]) -> str:
    return ", ".join(s["id"] for s in item["sources"])


def render_reg(os_line: str, *, iso: bool = False) -> str:
    """A .reg file (Registry Editor 5.00) with the registry settings, grouped by key, each with its reason
    and sources as comments; SConfig and package steps, which are not registry values, as comments too."""
    items = settings(os_line, iso=iso)
    lines = ["Windows Registry Editor Version 5.00", "",
             f"; hpctl local wu-settings --os {os_line}{' --iso' if iso else ''}: Windows Server {os_line} "
             "Datacenter: Azure Edition guests on Azure Local.",
             "; Sources (ids below):"]
    lines += [f";   {key}: {text}" for key, text in sources().items()
              if any(key in _source_ids(s) for s in items)]
    by_key: dict[str, list[dict[str, Any]]] = {}
    for item in _registry(items):
        by_key.setdefault(item["key"], []).append(item)
    for key, values in by_key.items():
        lines += ["", f"[{key.replace('HKLM', 'HKEY_LOCAL_MACHINE', 1)}]"]
        for item in values:
            lines.append(f"; {item['id']}: {item['why']} [{_source_ids(item)}]")
            if item.get("install") == "iso":
                lines.append("; ISO installs only, after VBS is on and the VM has restarted.")
            data = (f"dword:{int(item['value']):08x}" if item["type"] == "REG_DWORD"
                    else json.dumps(str(item["value"])))
            lines.append(f"\"{item['name']}\"={data}")
    others = [s for s in items if s["kind"] != "registry"]
    if others:
        lines += ["", "; Not registry values:"]
        for item in others:
            how = " -> ".join(item["steps"]) if item["kind"] == "sconfig" else item["command"]
            lines.append(f"; {item['id']}: {how}. {item['why']} [{_source_ids(item)}]")
    return "\n".join(lines) + "\n"


def _ps_value(item: dict[str, Any]) -> str:
    return str(int(item["value"])) if item["type"] == "REG_DWORD" else "'" + str(item["value"]).replace("'", "''") + "'"


def _ps_path(key: str) -> str:
    return "'" + key.replace("HKLM\\", "HKLM:\\", 1).replace("'", "''") + "'"


def render_ps1(os_line: str, *, iso: bool = False) -> str:
    """A PowerShell script: run as is, it only reads and prints the JSON `hpctl local check` reads;
    -Apply sets the settings (then restart if VBS was off); on 2022 with iso, -ApplyIsoEnrollment does the
    ISO steps once VBS runs, in the documented order."""
    items = settings(os_line, iso=iso)
    every = settings(os_line, iso=(os_line == "2022"))  # the check reads every value it judges
    reads = ",\n".join(f"    @{{ key = {_ps_path(s['key'])}; name = '{s['name']}' }}" for s in _registry(every))
    apply_lines = []
    for item in _registry([s for s in items if s["install"] != "iso"]):
        kind = "DWord" if item["type"] == "REG_DWORD" else "String"
        apply_lines += [f"    # {item['id']}: {item['why']} [{_source_ids(item)}]",
                        f"    Set-HpctlValue {_ps_path(item['key'])} '{item['name']}' {_ps_value(item)} '{kind}'"]
    iso_lines = []
    for item in _registry([s for s in items if s["install"] == "iso"]):
        kind = "DWord" if item["type"] == "REG_DWORD" else "String"
        iso_lines += [f"    # {item['id']}: {item['why']} [{_source_ids(item)}]",
                      f"    Set-HpctlValue {_ps_path(item['key'])} '{item['name']}' {_ps_value(item)} '{kind}'"]
    package = next((s for s in items if s["kind"] == "package"), None)
    if package is not None:
        iso_lines += [f"    # {package['id']}: {package['why']} [{_source_ids(package)}]",
                      "    if (-not (Test-Path '.\\KB5003508.msu')) { throw 'Put KB5003508.msu in this folder "
                      "first.' }",
                      "    Start-Process -Wait -FilePath 'wusa.exe' -ArgumentList '.\\KB5003508.msu', '/quiet', "
                      "'/norestart'",
                      f"    # verify: {package['verify']}"]
    source_lines = [f"#   {key}: {text}" for key, text in sources().items()]
    script = [
        f"# hpctl local wu-settings --os {os_line}{' --iso' if iso else ''} -o ps1",
        f"# Windows Server {os_line} Datacenter: Azure Edition guests on Azure Local (not Arc-connected).",
        "# Run as is: reads the settings, the build and VBS, and prints JSON for `hpctl local check FILE`:",
        "#   .\\hpctl-local.ps1 | Out-File -Encoding utf8 check.json",
        "# -Apply sets the Windows Update client and VBS settings (restart afterwards if VBS was off).",
        *(["# -ApplyIsoEnrollment (ISO installs only, once VBS runs) does the WS2022 ISO enrollment steps."]
          if iso_lines else []),
        "# Sources:",
        *source_lines,
        "[CmdletBinding()]",
        "param([switch]$Apply" + (", [switch]$ApplyIsoEnrollment" if iso_lines else "") + ")",
        "$ErrorActionPreference = 'Stop'",
        "function Set-HpctlValue($Path, $Name, $Value, $Type) {",
        "    if (-not (Test-Path $Path)) { New-Item -Path $Path -Force | Out-Null }",
        "    New-ItemProperty -Path $Path -Name $Name -Value $Value -PropertyType $Type -Force | Out-Null",
        "}",
        "function Get-HpctlVbs {",
        "    try {",
        "        (Get-CimInstance -Namespace root/Microsoft/Windows/DeviceGuard -ClassName Win32_DeviceGuard)"
        ".VirtualizationBasedSecurityStatus",
        "    } catch { $null }",
        "}",
        "if ($Apply) {",
        *apply_lines,
        "}",
    ]
    if iso_lines:
        script += [
            "if ($ApplyIsoEnrollment) {",
            "    if ((Get-HpctlVbs) -ne 2) { throw 'VBS is not running: run with -Apply, restart, then "
            "-ApplyIsoEnrollment.' }",
            *iso_lines,
            "}",
        ]
    script += [
        "$reads = @(",
        reads,
        ")",
        "$values = foreach ($r in $reads) {",
        "    $v = (Get-ItemProperty -Path $r.key -Name $r.name -ErrorAction SilentlyContinue).($r.name)",
        "    [ordered]@{ key = $r.key -replace '^HKLM:', 'HKLM'; name = $r.name; value = $v }",
        "}",
        "$cv = Get-ItemProperty -Path 'HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion'",
        f"[ordered]@{{ schema = '{CHECK_SCHEMA}'; computerName = $env:COMPUTERNAME",
        "    os = [ordered]@{ productName = $cv.ProductName; editionId = $cv.EditionID; "
        "installationType = $cv.InstallationType; currentBuild = $cv.CurrentBuild; ubr = $cv.UBR }",
        "    registry = @($values)",
        "    vbs = [ordered]@{ status = Get-HpctlVbs }",
        "    hotfixes = @(Get-HotFix | ForEach-Object { $_.HotFixID })",
        "} | ConvertTo-Json -Depth 5",
    ]
    return "\n".join(script) + "\n"


# ------------------------------------------------------------------------------------------------ check


@dataclass(frozen=True)
class GuestReport:
    """What the emitted script printed on one guest."""

    computer: str | None
    product: str | None
    build: str
    ubr: int
    registry: dict[tuple[str, str], Any]
    vbs_status: int | None
    hotfixes: frozenset[str] = field(default_factory=frozenset)

    def value(self, key: str, name: str) -> Any:
        return self.registry.get((key.lower(), name.lower()))


def _decode(raw: bytes) -> str:
    # Windows PowerShell 5.1 writes UTF-16 with a BOM on `>`; Out-File -Encoding utf8 writes a UTF-8 BOM.
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    return raw.decode("utf-8-sig")


def parse_guest_report(raw: bytes, where: str) -> GuestReport:
    """The JSON the check script printed; InputError naming the file and what is wrong otherwise."""
    def bad(message: str) -> InputError:
        return InputError(f"{message}; pass the JSON that the `hpctl local wu-settings -o ps1` script prints on "
                          "the guest.")

    try:
        doc = json.loads(_decode(raw))
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad(f"{where} is not JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict) or doc.get("schema") != CHECK_SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise bad(f"{where} is not what the hpctl check script prints (schema {found!r}, expected "
                         f"{CHECK_SCHEMA!r})")
    os_info = doc.get("os")
    if not isinstance(os_info, dict):
        raise bad(f"{where} has no 'os' object with currentBuild and ubr")
    build = str(os_info.get("currentBuild") or "").strip()
    ubr = os_info.get("ubr")
    if not build.isdigit():
        raise bad(f"{where}: os.currentBuild {os_info.get('currentBuild')!r} is not a build number "
                         "such as 20348")
    if isinstance(ubr, bool) or not isinstance(ubr, int) or ubr < 0:
        raise bad(f"{where}: os.ubr {ubr!r} is not an update revision such as 2340")
    entries = doc.get("registry")
    if isinstance(entries, dict):  # ConvertTo-Json writes a one-item array as the item itself
        entries = [entries]
    if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("key"), str)
                                                and isinstance(e.get("name"), str) for e in entries):
        raise bad(f"{where}: 'registry' must be a list of {{key, name, value}} objects")
    vbs = (doc.get("vbs") or {}).get("status") if isinstance(doc.get("vbs"), dict) else None
    if vbs is not None and (isinstance(vbs, bool) or not isinstance(vbs, int)):
        raise bad(f"{where}: vbs.status {vbs!r} is not Win32_DeviceGuard's number (0, 1 or 2)")
    fixes = doc.get("hotfixes") or []
    if isinstance(fixes, str):
        fixes = [fixes]
    if not isinstance(fixes, list):
        raise bad(f"{where}: 'hotfixes' must be a list of KB ids")
    return GuestReport(
        computer=doc.get("computerName"),
        product=os_info.get("productName"),
        build=build,
        ubr=ubr,
        registry={(e["key"].lower(), e["name"].lower()): e.get("value") for e in entries},
        vbs_status=vbs,
        hotfixes=frozenset(str(f).upper() for f in fixes if f),
    )


def read_guest_report(path: Path) -> GuestReport:
    """parse_guest_report of a file ('-': standard input); a missing or unreadable file is an InputError too."""
    if str(path) == "-":
        import sys

        return parse_guest_report(sys.stdin.buffer.read(), "stdin")
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path} does not exist; give the JSON file the check script wrote.") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory; give the JSON file the check script wrote.") from None
    except OSError as exc:
        raise InputError(f"{path} can't be read ({exc.strerror}); check the path and permissions.") from None
    return parse_guest_report(raw, str(path))


def _finding(level: str, check: str, message: str, fix: str | None, source: str) -> dict[str, Any]:
    return {"level": level, "check": check, "message": message, "fix": fix, "source": source}


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 0)
    except ValueError:
        return None


def check_guest(report: GuestReport, today: date, calendar: Calendar) -> dict[str, Any]:
    """What is wrong on the guest: its build against the hotpatch calendar, the Windows Update client
    settings, VBS, and (WS2022) the ISO enrollment artefacts. Each finding names its source."""
    line = _LINE_OF_BUILD.get(report.build)
    build = f"{report.build}.{report.ubr}"
    findings: list[dict[str, Any]] = []
    if line is None:
        findings.append(_finding(ERROR, "os", f"Build {build} is not Windows Server 2022 (20348) or 2025 (26100): "
                                 "hotpatch does not apply.", "Use a Windows Server 2022 or 2025 Datacenter: Azure "
                                 "Edition image.", "HP-PROGRAM-10.4"))
        return _result(report, None, build, None, findings)
    track = track_of(build, today, calendar)
    fix = "Install the missing releases through Windows Update (SConfig option 6, 1 = all quality updates)."
    if track.state == OFF_TRACK:
        findings.append(_finding(ERROR, "track", f"Off the hotpatch track: {track.detail}.",
                                 "Install the latest baseline through Windows Update (it restarts).",
                                 "HP-PROGRAM-10.4"))
    elif track.state == BEHIND:
        findings.append(_finding(WARNING, "track", f"Behind: {track.detail}.", fix, "HP-PROGRAM-10.4"))
    elif track.state == UNKNOWN:
        findings.append(_finding(WARNING, "track", f"Track unknown: {track.detail}.", None, "HP-PROGRAM-10.4"))
    else:
        findings.append(_finding(INFO, "track", f"On the hotpatch track: {track.detail}.", None, "HP-PROGRAM-10.4"))
    findings += _wu_findings(report)
    findings += _vbs_findings(report)
    if line == "2022":
        findings += _iso_findings(report)
    return _result(report, line, build, track.as_dict(), findings)


def _wu_findings(report: GuestReport) -> list[dict[str, Any]]:
    out = []
    sconfig = "or on Server Core: SConfig option 5, A"
    no_auto = report.value(_WU_KEY, "NoAutoUpdate")
    options = _as_int(report.value(_WU_KEY, "AUOptions"))
    if _as_int(no_auto) == 1:
        out.append(_finding(ERROR, "windows-update", "Automatic Updates is turned off by policy (NoAutoUpdate 1): "
                            "hotpatches install only when someone runs Windows Update or another tool does.",
                            f"Set NoAutoUpdate 0 and AUOptions 4 (hpctl local wu-settings -o reg), {sconfig}.",
                            "WU-POLICY"))
    elif options is None:
        out.append(_finding(WARNING, "windows-update", "No Automatic Updates policy (AUOptions not set): the "
                            "guest follows its local setting, which on Server Core is download only.",
                            f"Set the policy values from hpctl local wu-settings -o reg, {sconfig}.", "WU-POLICY"))
    elif options != 4:
        meaning = _AU_OPTIONS.get(options, "not a documented value")
        out.append(_finding(WARNING, "windows-update", f"AUOptions is {options} ({meaning}): updates wait for "
                            "someone to install them.", f"Set AUOptions 4 (download and install on a schedule), "
                            f"{sconfig}.", "WU-POLICY"))
    else:
        day = _as_int(report.value(_WU_KEY, "ScheduledInstallDay"))
        hour = _as_int(report.value(_WU_KEY, "ScheduledInstallTime"))
        when = ("every day" if day in (0, None) else f"on weekday {day} (1 = Sunday)") + (
            f" at {hour:02d}:00" if hour is not None else "")
        out.append(_finding(INFO, "windows-update", f"Automatic Updates downloads and installs {when}.", None,
                            "WU-POLICY"))
    return out


def _vbs_findings(report: GuestReport) -> list[dict[str, Any]]:
    key = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\DeviceGuard"
    if report.vbs_status == _VBS_RUNNING:
        return [_finding(INFO, "vbs", "Virtualization-based security is running.", None, "HP-PROGRAM-10.1")]
    configured = _as_int(report.value(key, "EnableVirtualizationBasedSecurity")) == 1
    if report.vbs_status is None:
        return [_finding(WARNING, "vbs", "The VBS status could not be read (Win32_DeviceGuard).", "Check "
                         "VirtualizationBasedSecurityStatus on the guest; 2 means running.", "HP-PROGRAM-10.1")]
    fix = ("Restart the VM: VBS is configured but not running yet; if it stays off, the VM needs UEFI with "
           "Secure Boot (Generation 2)." if configured else
           "Set EnableVirtualizationBasedSecurity 1 (hpctl local wu-settings -o reg) and restart; the VM needs "
           "UEFI with Secure Boot (Generation 2).")
    return [_finding(ERROR, "vbs", f"Virtualization-based security is not running (status {report.vbs_status}); "
                     "hotpatch needs it.", fix, "HP-PROGRAM-10.1")]


def _iso_findings(report: GuestReport) -> list[dict[str, Any]]:
    wanted = [s for s in settings("2022", iso=True) if s["install"] == "iso" and s["kind"] == "registry"]
    present = {s["id"]: report.value(s["key"], s["name"]) for s in wanted}
    has_kb = "KB5003508" in report.hotfixes
    wrong = [s["id"] for s in wanted if present[s["id"]] is not None
             and (_as_int(present[s["id"]]) if s["type"] == "REG_DWORD" else present[s["id"]]) != s["value"]]
    missing = [s["id"] for s in wanted if present[s["id"]] is None]
    if not wrong and not missing and has_kb:
        return [_finding(INFO, "iso-enrollment", "The WS2022 ISO enrollment artefacts are in place (table size, "
                         "targeting entry, KB5003508); KB5003508 alone does not prove hotpatches apply.", None,
                         "HP-PROGRAM-1.3")]
    if not wrong and len(missing) == len(wanted) and not has_kb:
        return [_finding(INFO, "iso-enrollment", "No ISO enrollment artefacts: right for a marketplace image; "
                         "a VM installed from ISO is not enrolled.", "For an ISO install: hpctl local wu-settings "
                         "--os 2022 --iso -o ps1, then -ApplyIsoEnrollment.", "HP-PROGRAM-1.3")]
    parts = []
    if wrong:
        parts.append("wrong value: " + ", ".join(wrong))
    if missing:
        parts.append("missing: " + ", ".join(missing))
    if not has_kb:
        parts.append("KB5003508 not installed")
    return [_finding(ERROR, "iso-enrollment", "The WS2022 ISO enrollment is incomplete (" + "; ".join(parts) + ").",
                     "Redo the ISO steps: hpctl local wu-settings --os 2022 --iso -o ps1, then -ApplyIsoEnrollment.",
                     "HP-PROGRAM-1.3")]


def _result(report: GuestReport, line: str | None, build: str, track: dict[str, Any] | None,
            findings: list[dict[str, Any]]) -> dict[str, Any]:
    worst = max((f["level"] for f in findings), key=_RANK.__getitem__, default=None)
    return {"computerName": report.computer, "productName": report.product, "os": line, "build": build,
            "track": track, "worst": worst, "findings": findings, "sources": sources()}


def parse_level(text: str) -> str:
    value = str(text).strip().lower()
    if value not in (ERROR, WARNING):
        raise InputError(f"--fail-on {text!r} is not a level; use error or warning.")
    return value


def exceeds(result: dict[str, Any], threshold: str | None) -> bool:
    """True when a finding is at or above `threshold` (error, warning)."""
    if threshold is None:
        return False
    return any(_RANK[f["level"]] >= _RANK[threshold] for f in result["findings"])

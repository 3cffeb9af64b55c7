"""A simulated Windows guest for Run Command: the few PowerShell commands hpctl's scripts use, answered from the
VM's own patch state (registry build values, Get-HotFix, DISM's package list and package removal).

This is not PowerShell. It understands a small, explicit dialect, line by line: `param()` blocks, `$var =
EXPR`, `if (COND) { throw "…" }`, and an expression on its own line written to stdout. Anything else gets
PowerShell's own "not recognized" error on stderr, as a guest missing a command would answer.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from hpctl.sandbox.world import PatchState, Release, World

CURRENT_VERSION_KEY = r"HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
DISM_VERSION = {"2022": "10.0.20348.681", "2025": "10.0.26100.1"}
DISPLAY_VERSION = {"2022": "21H2", "2025": "24H2"}
PACKAGE_KEY = "31bf3856ad364e35~amd64~~"
# DISM's exit codes: 3010 = done, restart required; errors are the HRESULT as a signed 32-bit number.
RESTART_REQUIRED = 3010
E_CANNOT_UNINSTALL = 0x800F0825
E_FILE_NOT_FOUND = 0x80070002
DISM_LOG = r"The DISM log file can be found at C:\Windows\Logs\DISM\dism.log"
SCRIPT_PATH = r"C:\Packages\Plugins\Microsoft.CPlat.Core.RunCommandWindows\1.1.18\Downloads\script0.ps1"


class ScriptError(Exception):
    """A terminating error: PowerShell writes it to stderr and stops the script."""

    def __init__(self, message: str, line: int, text: str, category: str = "OperationStopped") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.text = text
        self.category = category

    def render(self) -> str:
        """The error record as PowerShell 5.1 prints it to stderr."""
        return (
            f"{self.message}\nAt {SCRIPT_PATH}:{self.line} char:1\n+ {self.text.strip()}\n+ "
            f"{'~' * max(1, len(self.text.strip()))}\n"
            f"    + CategoryInfo          : {self.category}: ({self.message[:40]}:String) [], RuntimeException\n"
            f"    + FullyQualifiedErrorId : {self.message[:60]}\n"
        )


def _signed(code: int) -> int:
    return code - (1 << 32) if code >= 1 << 31 else code


def package_name(release: Release, servicing_stack: bool = False) -> str:
    """The CBS package identity DISM lists for a cumulative update (Package_for_RollupFix~…~<build>.1.<n>).

    The real LCU form is documented (hotpatch-program.md §10.5); how hotpatch packages are named is not, so
    the sandbox names them the same way."""
    prefix, ubr = release.build.split(".")
    if servicing_stack:
        return f"Package_for_ServicingStack_{ubr}~{PACKAGE_KEY}{release.build}.1.{int(ubr) % 7 + 2}"
    return f"Package_for_RollupFix~{PACKAGE_KEY}{release.build}.1.{int(ubr) % 13 + 1}"


def installed_on(release: Release) -> dt.datetime:
    """When the guest installed a release: two days after Patch Tuesday, at 3:04 in the morning."""
    return dt.datetime.combine(release.date + dt.timedelta(days=2), dt.time(3, 4))


def _us_date(moment: dt.datetime, seconds: bool) -> str:
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    clock = f"{hour}:{moment.minute:02d}:{moment.second:02d}" if seconds else f"{hour}:{moment.minute:02d}"
    return f"{moment.month}/{moment.day}/{moment.year} {clock} {suffix}"


@dataclass
class Package:
    identity: str
    state: str
    release_type: str
    install_time: dt.datetime
    release: Release | None
    permanent: bool = False


@dataclass
class Guest:
    """One VM's operating system, as far as hpctl's scripts can see it."""

    computer_name: str
    os_name: str
    state: PatchState
    world: World
    variables: dict[str, Any] = field(default_factory=dict)
    stdout: list[str] = field(default_factory=list)
    restart_requested: bool = False  # Restart-Computer: the VM restarts once the script has ended

    # -- what the OS holds ----------------------------------------------------------------------------

    def packages(self) -> list[Package]:
        state = self.state
        baselines = [r for r in state.history if r.is_baseline and r.ubr <= state.running.ubr]
        base = baselines[-1] if baselines else None
        out: list[Package] = []
        if base is not None:
            out.append(Package(package_name(base, servicing_stack=True), "Installed", "Update",
                               installed_on(base) - dt.timedelta(minutes=3), None, permanent=True))
        for release in state.history:
            if state.reboot_pending and release.ubr > state.running.ubr:
                status = "Install Pending"
            elif base is None or release.ubr >= base.ubr:
                status = "Installed"
            else:
                status = "Superseded"
            out.append(Package(package_name(release), status, "Security Update", installed_on(release), release))
        for release in state.removing:
            out.append(Package(package_name(release), "Uninstall Pending", "Security Update",
                               installed_on(release), release))
        return out

    def registry(self) -> dict[str, Any]:
        prefix, ubr = self.state.running.build.split(".")
        return {
            "ProductName": self.os_name,
            "CurrentBuild": prefix,
            "CurrentBuildNumber": prefix,
            "UBR": int(ubr),
            "DisplayVersion": DISPLAY_VERSION.get(self.state.os, ""),
            "InstallationType": "Server",
        }

    def hotfixes(self) -> list[dict[str, Any]]:
        rows = []
        for release in [*self.state.history, *self.state.removing]:
            if not release.kb:
                continue
            rows.append({
                "Source": self.computer_name,
                "Description": "Security Update",
                "HotFixID": release.kb,
                "InstalledBy": "NT AUTHORITY\\SYSTEM",
                "InstalledOn": installed_on(release).replace(hour=0, minute=0),
            })
        return rows

    # -- DISM -----------------------------------------------------------------------------------------

    def _dism_header(self) -> list[str]:
        return [
            "",
            "Deployment Image Servicing and Management tool",
            f"Version: {DISM_VERSION.get(self.state.os, '10.0.20348.1')}",
            "",
            f"Image Version: 10.0.{self.state.running.build}",
            "",
        ]

    def dism(self, args: str) -> list[str]:
        """dism.exe with /Online: /Get-Packages (list or table) and /Remove-Package /PackageName:…"""
        lowered = args.lower()
        if "/get-packages" in lowered:
            return self._dism_list("/format:table" in lowered)
        match = re.search(r"/packagename:(\S+)", args, re.IGNORECASE)
        if "/remove-package" in lowered and match:
            return self._dism_remove(match.group(1), quiet="/quiet" in lowered)
        self.variables["LASTEXITCODE"] = 87
        return [*self._dism_header(), "Error: 87", "", "The option is unknown.", "", DISM_LOG, ""]

    def _dism_list(self, table: bool) -> list[str]:
        lines = [*self._dism_header(), "Packages listing: ", ""]
        packages = self.packages()
        if table:
            width = max([len("Package Identity"), *(len(p.identity) for p in packages)])
            rule = f"{'-' * width} | {'-' * 17} | {'-' * 15} | {'-' * 20}"
            lines += [rule, f"{'Package Identity'.ljust(width)} | {'State'.ljust(17)} | {'Release Type'.ljust(15)} | "
                      "Install Time", rule]
            for p in packages:
                lines.append(f"{p.identity.ljust(width)} | {p.state.ljust(17)} | {p.release_type.ljust(15)} | "
                             f"{_us_date(p.install_time, seconds=False)}")
            lines.append("")
        else:
            for p in packages:
                lines += [f"Package Identity : {p.identity}", f"State : {p.state}",
                          f"Release Type : {p.release_type}", f"Install Time : {_us_date(p.install_time, False)}", ""]
        self.variables["LASTEXITCODE"] = 0
        return [*lines, "The operation completed successfully."]

    def _dism_remove(self, identity: str, quiet: bool) -> list[str]:
        found = next((p for p in self.packages() if p.identity.lower() == identity.lower()), None)
        if found is None or found.state == "Uninstall Pending" or found.release is None:
            code, text = (E_CANNOT_UNINSTALL, f"{identity} is a permanent package and cannot be uninstalled.") \
                if found is not None and found.permanent else \
                (E_FILE_NOT_FOUND, "The system cannot find the file specified.")
            self.variables["LASTEXITCODE"] = _signed(code)
            return [*self._dism_header(), f"Error: 0x{code:08x}", "", text, "", DISM_LOG, ""]
        self.world.remove(self.state, found.release)
        self.variables["LASTEXITCODE"] = RESTART_REQUIRED
        if quiet:
            return []
        return [*self._dism_header(), "Processing 1 of 1 - Removing package " + found.identity,
                "[==========================100.0%==========================]",
                "The operation completed successfully.", "Restart Windows to complete this operation."]

    # -- the script dialect ---------------------------------------------------------------------------

    def run(self, script: list[str], parameters: dict[str, str]) -> tuple[str, str]:
        """Run a script; returns (stdout, stderr) as Run Command reports them (lines joined with \\n)."""
        self.variables = {"LASTEXITCODE": 0}
        self.stdout = []
        lines = list(script)
        index = 0
        try:
            while index < len(lines):
                text = lines[index].strip()
                number = index + 1
                index += 1
                if not text or text.startswith("#") or text.lower().startswith("$erroractionpreference"):
                    continue
                if text.lower().startswith("param("):
                    block = text
                    while not block.rstrip().endswith(")") and index < len(lines):
                        block += " " + lines[index].strip()
                        index += 1
                    for name in re.findall(r"\$(\w+)", block):
                        self.variables[name] = parameters.get(name.lower(), "")
                    continue
                self._statement(text, number)
        except ScriptError as exc:
            return "\n".join(self.stdout), exc.render()
        return "\n".join(self.stdout), ""

    def _statement(self, text: str, number: int) -> None:
        assign = re.match(r"^\$(\w+)\s*=\s*(.+)$", text)
        if assign:
            self.variables[assign.group(1)] = self._expr(assign.group(2).strip(), number)
            return
        guard = re.match(r"^if\s*\((.+)\)\s*\{\s*throw\s+\"(.*)\"\s*\}$", text, re.IGNORECASE)
        if guard:
            if self._condition(guard.group(1), number):
                raise ScriptError(self._interpolate(guard.group(2)), number, text)
            return
        value = self._expr(text, number)
        if isinstance(value, list):
            self.stdout.extend(str(v) for v in value)
        elif value is not None:
            self.stdout.append(str(value))

    def _expr(self, text: str, number: int) -> Any:
        if "|" in text and not text.startswith("("):
            head, *stages = [part.strip() for part in _split_pipeline(text)]
            value = self._expr(head, number)
            for stage in stages:
                value = self._pipe(value, stage, number, text)
            return value
        if text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
            return self._expr(text[1:-1].strip(), number)
        filtered = re.match(r"^\((.+)\)\s+-match\s+'([^']*)'\s+-join\s+\"`n\"$", text)
        if filtered:
            lines = self._expr(filtered.group(1), number)
            return "\n".join(line for line in lines if re.search(filtered.group(2), line, re.IGNORECASE))
        if text.startswith("[ordered]@{") and text.endswith("}"):
            return {key.strip(): self._expr(value.strip(), number)
                    for key, value in (item.split("=", 1) for item in text[11:-1].split(";") if item.strip())}
        lowered = text.lower()
        if lowered.startswith("get-itemproperty"):
            if CURRENT_VERSION_KEY.lower() not in lowered:
                raise ScriptError(f"Cannot find path '{text.split(None, 1)[-1]}' because it does not exist.",
                                  number, text, "ObjectNotFound")
            return self.registry()
        if lowered == "get-hotfix":
            return self.hotfixes()
        if lowered.startswith("restart-computer"):
            self.restart_requested = True
            return None
        if lowered.startswith("dism.exe") or lowered.startswith("dism "):
            return self.dism(self._interpolate(text.split(None, 1)[1] if " " in text else ""))
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if text.startswith("'") and text.endswith("'"):
            return text[1:-1]
        if text.lower().startswith("$env:"):
            return self.computer_name if text[5:].lower() == "computername" else None
        variable = re.fullmatch(r"\$(\w+)(?:\.(\w+))?", text)
        if variable:
            value = self.variables.get(variable.group(1))
            if variable.group(2):
                return value.get(variable.group(2)) if isinstance(value, dict) else None
            return value
        if re.match(r"^\$\w+\s+-(eq|ne)\s", text):
            return self._condition(text, number)
        name = text.split()[0]
        raise ScriptError(
            f"{name} : The term '{name}' is not recognized as the name of a cmdlet, function, script file, or "
            "operable program. Check the spelling of the name, or if a path was included, verify that the path "
            "is correct and try again.", number, text, "ObjectNotFound")

    def _pipe(self, value: Any, stage: str, number: int, text: str) -> Any:
        lowered = stage.lower()
        if lowered.startswith("sort-object"):
            key = stage.split()[-1]
            return sorted(value, key=lambda row: (row.get(key) is None, row.get(key) or dt.datetime.min))
        if lowered.startswith("format-table"):
            names = re.search(r"-property\s+([\w,\s]+?)(?:\s+-|$)", stage, re.IGNORECASE)
            columns = [c.strip() for c in names.group(1).split(",")] if names else list(value[0]) if value else []
            return _format_table(value, columns)
        if lowered.startswith("out-string"):
            return value if isinstance(value, str) else "\n".join(str(v) for v in value)
        if lowered.startswith("convertto-json"):
            return json.dumps(value, separators=(",", ":") if "-compress" in lowered else None, default=str)
        name = stage.split()[0]
        raise ScriptError(f"{name} : The term '{name}' is not recognized as the name of a cmdlet, function, "
                          "script file, or operable program.", number, text, "ObjectNotFound")

    def _condition(self, text: str, number: int) -> bool:
        result = True
        for part in re.split(r"\s+-and\s+", text.strip().strip("()"), flags=re.IGNORECASE):
            match = re.fullmatch(r"\s*(\$\w+)\s+-(eq|ne)\s+(-?\d+)\s*", part, re.IGNORECASE)
            if not match:
                raise ScriptError(f"Unexpected token in expression '{part.strip()}'.", number, text, "ParserError")
            left = self._expr(match.group(1), number)
            equal = left == int(match.group(3))
            result = result and (equal if match.group(2).lower() == "eq" else not equal)
        return result

    def _interpolate(self, text: str) -> str:
        return re.sub(r"\$(\w+)", lambda m: str(self.variables.get(m.group(1), "")), text)


def _split_pipeline(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "({"
        depth -= char in ")}"
        if char == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if depth < 0:
            return False
    return depth == 0


def _format_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Format-Table -AutoSize as PowerShell prints it: a blank line, headers, dashes, rows, two blank lines."""

    def cell(value: Any) -> str:
        if isinstance(value, dt.datetime):
            return _us_date(value, seconds=True)
        return "" if value is None else str(value)

    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
    out = ["", " ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip(),
           " ".join(("-" * len(c)).ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    out += [" ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in cells]
    return "\n".join([*out, "", ""])


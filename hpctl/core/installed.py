"""What a VM has installed, read from inside it: the build (registry CurrentBuild + UBR), Get-HotFix and DISM's
package list as Windows prints them, each update matched to the hotpatch calendar."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from hpctl.core.calendar import BASELINE, HOTPATCH, UNPLANNED_BASELINE, Calendar, OsLine, OtherUpdate, Release
from hpctl.core.guest_scripts import ScriptFailed

IN_CALENDAR_KINDS = {BASELINE: "baseline", UNPLANNED_BASELINE: "baseline", HOTPATCH: "hotpatch"}
NOT_IN_CALENDAR = "not in the calendar"
# DISM package states that mean the package is in effect once the VM has restarted, or is now.
PRESENT_STATES = ("installed", "superseded", "install pending")
_PACKAGE_BUILD = re.compile(r"~~(\d{4,5})\.(\d{1,7})\.\d+\.\d+$")
_KB = re.compile(r"^KB\d{6,8}$", re.IGNORECASE)
_DATE_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                 "%Y-%m-%d", "%d.%m.%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S")


@dataclass(frozen=True)
class HotFix:
    """One Get-HotFix (Win32_QuickFixEngineering) row."""

    kb: str
    description: str
    installed_on: date | None


@dataclass(frozen=True)
class ServicingPackage:
    """One row of `DISM /Online /Get-Packages`: identity, state, release type, install time."""

    identity: str
    state: str
    release_type: str
    install_time: datetime | None

    @property
    def build(self) -> str | None:
        """`26100.32772` from `Package_for_RollupFix~31bf3856ad364e35~amd64~~26100.32772.1.13`."""
        match = _PACKAGE_BUILD.search(self.identity)
        return f"{match.group(1)}.{match.group(2)}" if match else None

    @property
    def servicing_stack(self) -> bool:
        """Servicing stack updates can't be removed once installed (hotpatch-program.md §5)."""
        return "servicingstack" in self.identity.lower()

    @property
    def cumulative(self) -> bool:
        lowered = self.identity.lower()
        return self.build is not None and not self.servicing_stack and ("rollupfix" in lowered or "hotpatch" in lowered)

    @property
    def present(self) -> bool:
        return self.state.lower() in PRESENT_STATES


@dataclass(frozen=True)
class Inventory:
    """The JSON document the read-only script printed, parsed."""

    computer_name: str | None
    product_name: str | None
    build: str  # "<CurrentBuild>.<UBR>", e.g. "26100.32772"
    hotfixes: tuple[HotFix, ...]
    packages: tuple[ServicingPackage, ...]

    @property
    def ubr(self) -> int:
        return int(self.build.split(".")[1])


def _parse_time(text: str) -> datetime | None:
    text = " ".join(text.split())
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def parse_hotfix_table(text: str) -> list[HotFix]:
    """Get-HotFix's table as PowerShell prints it (Format-Table): columns located by the dashes under the
    headers, so a Description with spaces ("Security Update") stays one cell."""
    lines = text.replace("\r\n", "\n").split("\n")
    for index, line in enumerate(lines[:-1]):
        if "HotFixID" in line and set(lines[index + 1].strip()) <= {"-", " "} and lines[index + 1].strip():
            header, rule, rows = line, lines[index + 1], lines[index + 2:]
            break
    else:
        return []
    spans = [(m.start(), m.end()) for m in re.finditer(r"-+", rule)]
    names = [header[start:end + 40].split()[0] if header[start:end + 40].split() else "" for start, end in spans]
    bounds = [(start, spans[i + 1][0] if i + 1 < len(spans) else None) for i, (start, _) in enumerate(spans)]
    out: list[HotFix] = []
    for row in rows:
        if not row.strip():
            continue
        cells = {name: row[start:end].strip() for name, (start, end) in zip(names, bounds, strict=True)}
        kb = cells.get("HotFixID", "")
        if not _KB.match(kb):
            continue
        when = _parse_time(cells.get("InstalledOn", ""))
        out.append(HotFix(kb.upper(), cells.get("Description", ""), when.date() if when else None))
    return out


def parse_dism_packages(text: str) -> list[ServicingPackage]:
    """DISM's package list in either of its forms: `/Format:Table` rows (`identity | state | type | time`) or the
    default list (`Package Identity : …` / `State : …` blocks)."""
    packages: list[ServicingPackage] = []
    block: dict[str, str] = {}

    def flush() -> None:
        if block.get("package identity"):
            packages.append(ServicingPackage(block["package identity"], block.get("state", ""),
                                             block.get("release type", ""), _parse_time(block.get("install time", ""))))
        block.clear()

    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if "|" in line:
            cells = [c.strip() for c in line.split("|")]
            if len(cells) >= 4 and cells[0] and cells[0] != "Package Identity" and not set(cells[0]) <= {"-"}:
                packages.append(ServicingPackage(cells[0], cells[1], cells[2], _parse_time(cells[3])))
            continue
        key, sep, value = line.partition(" : ")
        if not sep:
            continue
        key = key.strip().lower()
        if key == "package identity":
            flush()
        block[key] = value.strip()
    flush()
    return packages


def parse_inventory(doc: dict[str, Any]) -> Inventory:
    """The read-only script's document → Inventory (ScriptFailed when the build can't be read)."""
    build, ubr = str(doc.get("currentBuild") or "").strip(), doc.get("ubr")
    if not build.isdigit() or not isinstance(ubr, int):
        raise ScriptFailed(f"the guest reported no usable build (CurrentBuild {build!r}, UBR {ubr!r}).")
    return Inventory(
        computer_name=doc.get("computerName"),
        product_name=doc.get("productName"),
        build=f"{build}.{ubr}",
        hotfixes=tuple(parse_hotfix_table(str(doc.get("hotfixes") or ""))),
        packages=tuple(parse_dism_packages(str(doc.get("packages") or ""))),
    )


@dataclass(frozen=True)
class CalendarMatch:
    """What the calendar says an installed update is."""

    kind: str  # baseline | hotpatch | out-of-band | lcu | not in the calendar
    month: str | None
    kb: str | None
    build: str | None
    release: Release | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"calendar": self.kind, "month": self.month, "kb": self.kb, "build": self.build}


def os_line(calendar: Calendar, build: str) -> OsLine | None:
    prefix = build.split(".")[0]
    return next((line for line in calendar.lines.values() if line.build_prefix == prefix), None)


def match(calendar: Calendar, build: str, *, kb: str | None = None, package_build: str | None = None) -> CalendarMatch:
    """Match an installed update (by KB, or by the build in its package name) to the calendar of `build`'s line."""
    line = os_line(calendar, package_build or build)
    if line is None:
        return CalendarMatch(NOT_IN_CALENDAR, None, kb, package_build)

    def same(item_kb: str | None, item_build: str | None) -> bool:
        by_kb = bool(kb and item_kb and item_kb.upper() == kb.upper())
        return by_kb or bool(package_build and item_build == package_build)

    for release in line.releases:
        if same(release.kb, release.build):
            return CalendarMatch(IN_CALENDAR_KINDS.get(release.kind, release.kind), release.month, release.kb,
                                 release.build, release)
    other: OtherUpdate | None = next((u for u in line.other_updates if same(u.kb, u.build)), None)
    if other is not None:
        return CalendarMatch(other.kind, other.month, other.kb, other.build)
    return CalendarMatch(NOT_IN_CALENDAR, None, kb, package_build)


def baselines_present(calendar: Calendar, inventory: Inventory) -> list[Release]:
    """Calendar baselines the VM has (a present servicing package of that build, or a Get-HotFix row of that
    KB) at or below the build it runs, oldest first."""
    found: dict[str, Release] = {}
    for package in inventory.packages:
        if package.cumulative and package.present:
            m = match(calendar, inventory.build, package_build=package.build)
            if m.kind == "baseline" and m.release is not None:
                found[m.release.month] = m.release
    for hotfix in inventory.hotfixes:
        m = match(calendar, inventory.build, kb=hotfix.kb)
        if m.kind == "baseline" and m.release is not None:
            found[m.release.month] = m.release
    return sorted((r for r in found.values() if (r.ubr or 0) <= inventory.ubr), key=lambda r: r.ubr or 0)


def inventory_row(calendar: Calendar, inventory: Inventory) -> dict[str, Any]:
    """Per VM: the exact build, each update matched to the calendar, the last known good baseline present."""
    here = match(calendar, inventory.build, package_build=inventory.build)
    present = baselines_present(calendar, inventory)
    baseline = present[-1] if present else None
    return {
        "build": inventory.build,
        "buildIs": here.as_dict(),
        "computerName": inventory.computer_name,
        "productName": inventory.product_name,
        "hotfixes": [{"kb": h.kb, "description": h.description,
                      "installedOn": h.installed_on.isoformat() if h.installed_on else None,
                      **match(calendar, inventory.build, kb=h.kb).as_dict()} for h in inventory.hotfixes],
        "packages": [{"name": p.identity, "state": p.state, "releaseType": p.release_type,
                      "installTime": p.install_time.isoformat() if p.install_time else None,
                      **(match(calendar, inventory.build, package_build=p.build).as_dict() if p.cumulative
                         else {"calendar": "servicing stack" if p.servicing_stack else NOT_IN_CALENDAR,
                               "month": None, "kb": None, "build": p.build})} for p in inventory.packages],
        "lastKnownGoodBaseline": {"kb": baseline.kb, "build": baseline.build, "month": baseline.month}
        if baseline else None,
    }

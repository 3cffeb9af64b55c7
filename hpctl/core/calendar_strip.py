"""The hotpatch year as the source document's schedule diagram has it: per OS line a strip of twelve months,
each a planned baseline, an unplanned baseline or a hotpatch month, known from data or predicted by the rule."""

from __future__ import annotations

from dataclasses import dataclass

from hpctl.core.calendar import BASELINE, HOTPATCH, UNPLANNED_BASELINE, Calendar, Release

MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
OS_NAMES = {"2022": "Windows Server 2022", "2025": "Windows Server 2025"}
# One letter per kind (the Markdown and plain-text strips); a predicted month adds "?".
LETTERS = {BASELINE: "B", UNPLANNED_BASELINE: "U", HOTPATCH: "H"}
KIND_NAMES = {BASELINE: "planned baseline (reboot)", UNPLANNED_BASELINE: "unplanned baseline (reboot)",
              HOTPATCH: "hotpatch (no reboot)"}


@dataclass(frozen=True)
class Strip:
    """One OS line's year: twelve slots, None for a month outside the line's hotpatch program."""

    os: str
    year: int
    months: tuple[Release | None, ...]

    @property
    def name(self) -> str:
        return OS_NAMES.get(self.os, f"Windows Server {self.os}")


def year_strips(calendar: Calendar, year: int, lines: list[str]) -> list[Strip]:
    strips = []
    for line in lines:
        by_month = {int(r.month[5:]): r for r in calendar.year(line, year)}
        strips.append(Strip(line, year, tuple(by_month.get(m) for m in range(1, 13))))
    return strips


def cell_text(release: Release | None) -> str:
    if release is None:
        return "-"
    return LETTERS.get(release.kind, "?") + ("" if release.known else "?")


def markdown_strip(strips: list[Strip]) -> list[str]:
    """A Markdown table of the strips (GitHub job summaries show no inline SVG), with its legend."""
    if not strips:
        return []
    lines = ["| OS | " + " | ".join(MONTH_NAMES) + " |", "|---|" + "---|" * 12]
    for strip in strips:
        lines.append(f"| {strip.name} | " + " | ".join(cell_text(r) for r in strip.months) + " |")
    legend = ", ".join(f"{LETTERS[k]} {KIND_NAMES[k]}" for k in (BASELINE, UNPLANNED_BASELINE, HOTPATCH))
    lines += ["", f"{legend}; ? predicted by the quarterly rule (not yet published); - outside the program."]
    return lines

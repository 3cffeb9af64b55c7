"""Draws the hotpatch year (hpctl.core.calendar_strip) as the source document's schedule diagram: in the
terminal with Rich, and as a standalone SVG file."""

from __future__ import annotations

from html import escape
from typing import Any

from hpctl.core.calendar import BASELINE, HOTPATCH, UNPLANNED_BASELINE, Release
from hpctl.core.calendar_strip import KIND_NAMES, LETTERS, MONTH_NAMES, Strip

# Colours per kind: (known fill, predicted fill, text). Predicted months are paler and outlined dashed.
COLOURS = {
    BASELINE: ("#1f4e79", "#9db7d5", "#ffffff"),
    UNPLANNED_BASELINE: ("#c0392b", "#e6a39b", "#ffffff"),
    HOTPATCH: ("#2e7d32", "#a5d6a7", "#ffffff"),
}
RICH_STYLES = {
    BASELINE: ("bold white on dark_blue", "white on grey35"),
    UNPLANNED_BASELINE: ("bold white on red3", "white on grey35"),
    HOTPATCH: ("bold white on green4", "white on grey35"),
}
ORDER = (BASELINE, UNPLANNED_BASELINE, HOTPATCH)


def _title(strips: list[Strip]) -> str:
    return f"Hotpatch schedule {strips[0].year}" if strips else "Hotpatch schedule"


def rich_picture(strips: list[Strip]) -> Any:
    """A Rich renderable: one row of twelve coloured month cells per OS line, then the legend."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title=_title(strips), show_lines=False, pad_edge=False, box=None, padding=(0, 1))
    table.add_column("OS", no_wrap=True)
    for name in MONTH_NAMES:
        table.add_column(name, justify="center", no_wrap=True, min_width=4)
    for strip in strips:
        table.add_row(strip.name, *(_rich_cell(r) for r in strip.months))
    legend = Text()
    for kind in ORDER:
        legend.append(f" {LETTERS[kind]} ", style=RICH_STYLES[kind][0])
        legend.append(f" {KIND_NAMES[kind]}  ")
    legend.append(" B?", style=RICH_STYLES[BASELINE][1])
    legend.append(" predicted")
    return Group(table, Text(""), legend)


def _rich_cell(release: Release | None) -> Any:
    from rich.text import Text

    if release is None:
        return Text("-", style="dim")
    known, predicted = RICH_STYLES.get(release.kind, ("", ""))
    if release.known:
        return Text(f" {LETTERS[release.kind]} ", style=known)
    return Text(f" {LETTERS[release.kind]}?", style=predicted)


BOX_W, BOX_H, GAP, LABEL_W, ROW_GAP, TOP = 62, 44, 4, 170, 16, 54


def svg_picture(strips: list[Strip]) -> str:
    """A self-contained SVG of the strips: month boxes filled by kind, predicted ones pale and dashed, a legend."""
    width = LABEL_W + 12 * (BOX_W + GAP) + 16
    rows_h = len(strips) * (BOX_H + ROW_GAP)
    height = TOP + rows_h + 70
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Segoe UI, Helvetica, Arial, sans-serif" role="img">',
        f"<title>{escape(_title(strips))}</title>",
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        f'<text x="16" y="28" font-size="20" font-weight="600" fill="#222">{escape(_title(strips))}</text>',
    ]
    for column, name in enumerate(MONTH_NAMES):
        x = LABEL_W + column * (BOX_W + GAP) + BOX_W / 2
        out.append(f'<text x="{x:g}" y="{TOP - 8}" font-size="12" text-anchor="middle" fill="#555">{name}</text>')
    for row, strip in enumerate(strips):
        y = TOP + row * (BOX_H + ROW_GAP)
        out.append(f'<text x="16" y="{y + BOX_H / 2 + 5:g}" font-size="14" fill="#222">{escape(strip.name)}</text>')
        for column, release in enumerate(strip.months):
            out.extend(_svg_box(LABEL_W + column * (BOX_W + GAP), y, release))
    legend_y = TOP + rows_h + 14
    x = 16
    for kind in ORDER:
        fill, _, _ = COLOURS[kind]
        out.append(f'<rect x="{x}" y="{legend_y}" width="18" height="18" rx="3" fill="{fill}"/>')
        out.append(f'<text x="{x + 24}" y="{legend_y + 14}" font-size="13" fill="#222">'
                   f"{escape(KIND_NAMES[kind])}</text>")
        x += 24 + 9 * len(KIND_NAMES[kind]) + 24
    out.append(f'<rect x="{x}" y="{legend_y}" width="18" height="18" rx="3" fill="{COLOURS[BASELINE][1]}" '
               'stroke="#555" stroke-dasharray="3 2"/>')
    out.append(f'<text x="{x + 24}" y="{legend_y + 14}" font-size="13" fill="#222">predicted (quarterly rule)</text>')
    out.append(f'<text x="16" y="{legend_y + 44}" font-size="11" fill="#777">Unplanned baselines replace a hotpatch '
               "month when a fix can't ship as a hotpatch; they are known only once released.</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _svg_box(x: int, y: int, release: Release | None) -> list[str]:
    if release is None:
        return [f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="4" fill="#f2f2f2"/>']
    known_fill, predicted_fill, text = COLOURS.get(release.kind, ("#777", "#bbb", "#fff"))
    fill = known_fill if release.known else predicted_fill
    stroke = "" if release.known else ' stroke="#555" stroke-dasharray="4 3"'
    colour = text if release.known else "#222"
    label = LETTERS.get(release.kind, "?") + ("" if release.known else "?")
    tip = escape(release.describe())
    parts = [f'<g><title>{tip}</title>',
             f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="4" fill="{fill}"{stroke}/>',
             f'<text x="{x + BOX_W / 2:g}" y="{y + 20}" font-size="15" font-weight="600" text-anchor="middle" '
             f'fill="{colour}">{label}</text>']
    if release.kb:
        parts.append(f'<text x="{x + BOX_W / 2:g}" y="{y + 36}" font-size="10" text-anchor="middle" '
                     f'fill="{colour}">{escape(release.kb)}</text>')
    parts.append("</g>")
    return parts


def draw(calendar: Any, year: int, lines: list[str], *, output: str, svg_file: Any = None,
         other_options: list[str] | None = None) -> None:
    """`calendar --picture`: the Rich drawing on stdout (SVG with -o svg, nothing with -o none), and the SVG in
    `svg_file` if given. The data formats don't apply to a picture: it is drawn whatever AZURE_CORE_OUTPUT says."""
    import sys
    from pathlib import Path

    from hpctl.core.calendar_strip import year_strips
    from hpctl.errors import InputError

    if other_options:
        raise InputError(f"--picture draws a whole year; drop {' and '.join(other_options)} (or use --year).")
    strips = year_strips(calendar, year, lines)
    if svg_file is not None:
        target = Path(svg_file)
        try:
            target.write_text(svg_picture(strips), encoding="utf-8")
        except OSError as exc:
            raise InputError(f"--svg-file {target} can't be written ({exc.strerror}); check the folder.") from None
        print(f"Wrote the picture to {target}.", file=sys.stderr)
    if output == "svg":
        sys.stdout.write(svg_picture(strips))
        return
    if output == "none":
        return
    from rich.console import Console

    # A terminal gets its own width; a pipe or a log gets 120 columns, which the picture fits.
    Console(file=sys.stdout, width=None if sys.stdout.isatty() else 120, highlight=False).print(rich_picture(strips))

"""`hpctl calendar`: baseline and hotpatch months, release dates, KBs, builds, and the next reboot."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from hpctl.cli.common import command, draws_pictures, settings
from hpctl.errors import InputError
from hpctl.output import Column, render

COLUMNS = [Column("OS", "os"), Column("Month", "month"), Column("Date", "date"), Column("Kind", "kind"),
           Column("KB", "kb"), Column("Build", "build"), Column("Reboot", "reboot"), Column("Known", "known")]


@command
@draws_pictures
def calendar(
    year: Annotated[int | None, typer.Option("--year", metavar="YYYY", help="The year (default: this year).")] = None,
    os: Annotated[str | None, typer.Option("--os", metavar="2022|2025", help="One OS line (default both).")] = None,
    month: Annotated[str | None, typer.Option("--month", metavar="YYYY-MM", help="One month.")] = None,
    next_reboot: Annotated[bool, typer.Option("--next-reboot", help="Only the next release that needs a reboot "
                                              "(a baseline), from today or --as-of.")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", metavar="DATE",
                                              help="Count 'next' from this day (default today).")] = None,
    calendar_file: Annotated[Path | None, typer.Option(
        "--calendar-file", metavar="FILE",
        help="A newer calendar file (also $HPCTL_CALENDAR_FILE), without upgrading hpctl.")] = None,
    picture: Annotated[bool, typer.Option("--picture", help="Draw the year as a strip of months per OS (planned "
                                          "and unplanned baselines, hotpatch; known or predicted); -o svg for SVG.")
                       ] = False,
    svg_file: Annotated[Path | None, typer.Option("--svg-file", metavar="FILE",
                                                  help="Also write the picture to FILE as SVG.")] = None,
) -> None:
    """The hotpatch calendar: each month's release date (second Tuesday), kind (planned or unplanned baseline,
    hotpatch), KB and OS build where known, and whether a reboot is expected.

    Months past the known data follow the rule (January, April, July, October baselines) and say so.

    Example:

        hpctl calendar -o table

        hpctl calendar --next-reboot --os 2025

        hpctl calendar --picture --year 2026 --svg-file hotpatch-2026.svg
    """
    from hpctl.core.calendar import OS_LINES, load_calendar, normalize_os, parse_month

    if month:
        try:
            parse_month(month)
        except InputError as exc:
            raise InputError(f"--month {month!r}: {exc.message}", hint=exc.hint) from None
    cal = load_calendar(calendar_file)
    lines = [normalize_os(os)] if os else list(OS_LINES)
    today = _day(as_of)
    if picture or svg_file or settings().output == "svg":
        from hpctl.calendar_picture import draw

        draw(cal, year or today.year, lines, output=settings().output, svg_file=svg_file,
             other_options=[f for f, v in (("--month", month), ("--next-reboot", next_reboot)) if v])
        return
    rows: list[dict[str, Any]]
    if next_reboot:
        if month or year:
            raise InputError("--next-reboot counts from today (or --as-of); drop --month/--year.")
        rows = [cal.next_reboot(line, today).as_dict() for line in lines]
    elif month:
        if year:
            raise InputError("--month already names the year; drop --year.")
        rows = [cal.month(line, month).as_dict() for line in lines]
    else:
        rows = [r.as_dict() for line in lines for r in cal.year(line, year or today.year)]
    rows.sort(key=lambda r: (r["date"], r["os"]))
    s = settings()
    render(rows, s.output, s.query, columns=COLUMNS)


def _day(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--as-of {text!r} is not a date; use YYYY-MM-DD, e.g. 2026-06-09.") from None

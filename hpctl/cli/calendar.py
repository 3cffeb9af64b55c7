"""`hpctl calendar`: baseline and hotpatch months, release dates, KBs, builds, the next reboot; `refresh`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from hpctl.cli.common import HpctlGroup, command, draws_pictures, settings, warn_if_stale
from hpctl.errors import InputError
from hpctl.output import Column, render

COLUMNS = [Column("OS", "os"), Column("Month", "month"), Column("Date", "date"), Column("Kind", "kind"),
           Column("KB", "kb"), Column("Build", "build"), Column("Reboot", "reboot"), Column("Known", "known")]
CHANGE_COLUMNS = [Column("OS", "os"), Column("Month", "month"), Column("Change", "change"), Column("Kind", "kind"),
                  Column("KB", "kb"), Column("Build", "build"), Column("Was", "was")]

CalendarFileOpt = Annotated[Path | None, typer.Option(
    "--calendar-file", metavar="FILE",
    help="The calendar file to use (also $HPCTL_CALENDAR_FILE; default ~/.hpctl/calendar.json when "
         "`hpctl calendar refresh` wrote one, else the built-in calendar).")]

# The callback's docstring (with its examples) is the group's help.
app = typer.Typer(cls=HpctlGroup, rich_markup_mode=None)


@app.callback(invoke_without_command=True)
@command
@draws_pictures
def calendar(
    ctx: typer.Context,
    year: Annotated[int | None, typer.Option("--year", metavar="YYYY", help="The year (default: this year).")] = None,
    os: Annotated[str | None, typer.Option("--os", metavar="2022|2025", help="One OS line (default both).")] = None,
    month: Annotated[str | None, typer.Option("--month", metavar="YYYY-MM", help="One month.")] = None,
    next_reboot: Annotated[bool, typer.Option("--next-reboot", help="Only the next release that needs a reboot "
                                              "(a baseline), from today or --as-of.")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", metavar="DATE",
                                              help="Count 'next' from this day (default today).")] = None,
    calendar_file: CalendarFileOpt = None,
    picture: Annotated[bool, typer.Option("--picture", help="Draw the year as a strip of months per OS (planned "
                                          "and unplanned baselines, hotpatch; known or predicted); -o svg for SVG.")
                       ] = False,
    svg_file: Annotated[Path | None, typer.Option("--svg-file", metavar="FILE",
                                                  help="Also write the picture to FILE as SVG.")] = None,
) -> None:
    """The hotpatch calendar: each month's release date (second Tuesday), kind (planned or unplanned baseline,
    hotpatch), KB and OS build where known, and whether a reboot is expected.

    Months past the known data follow the rule (January, April, July, October baselines) and say so; when
    Patch Tuesdays have passed that the calendar doesn't list, a warning says to run `hpctl calendar refresh`.

    Example:

        hpctl calendar -o table

        hpctl calendar --next-reboot --os 2025

        hpctl calendar --picture --year 2026 --svg-file hotpatch-2026.svg

        hpctl calendar refresh
    """
    if ctx.invoked_subcommand is not None:
        return
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
        warn_if_stale(cal, today)
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
    warn_if_stale(cal, today)
    s = settings()
    render(rows, s.output, s.query, columns=COLUMNS)


def _day(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--as-of {text!r} is not a date; use YYYY-MM-DD, e.g. 2026-06-09.") from None


@app.command("refresh")
@command
def refresh(
    from_files: Annotated[list[Path] | None, typer.Option(
        "--from", metavar="FILE", help="Saved CVRF documents (XML or JSON) to read instead of the API "
                                       "(repeatable; for offline use).")] = None,
    endpoint: Annotated[str | None, typer.Option(
        "--endpoint", metavar="URL",
        help="The CVRF v3.0 API to read (default https://api.msrc.microsoft.com/cvrf/v3.0; a mirror or a "
             "test server).")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="YYYY-MM", help="Read documents from this month (default: the calendar's last "
                                           "known month, read again to check it).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing.")] = False,
    calendar_file: CalendarFileOpt = None,
) -> None:
    """Update the calendar from Microsoft's Security Update Guide (MSRC CVRF v3.0 API, no key needed).

    Each Patch Tuesday document gives per OS line the hotpatch KB and build, or (no hotpatch) the month's
    baseline. Months the calendar already knows are never replaced by less. Writes ~/.hpctl/calendar.json
    (or --calendar-file / $HPCTL_CALENDAR_FILE) atomically and prints what changed; every command then
    uses it. Bad or partial data changes nothing (exit 2 for --from files, 1 for the API).

    Example:

        hpctl calendar refresh -o table

        hpctl calendar refresh --from 2026-Oct.xml --from 2026-Nov.xml
    """
    from datetime import date

    from hpctl.calendar_refresh import refresh as run_refresh
    from hpctl.cli.common import info
    from hpctl.core.calendar import parse_month

    if since is not None:
        try:
            parse_month(since)
        except InputError as exc:
            raise InputError(f"--since {since!r}: {exc.message}") from None
    if from_files and (endpoint or since):
        raise InputError("--from reads saved documents; drop --endpoint/--since (they are for the API).")
    if endpoint is not None:
        from hpctl.edge.msrc import check_endpoint

        check_endpoint(endpoint)
    result = run_refresh(calendar_file=calendar_file, files=list(from_files or []), endpoint=endpoint, since=since,
                         today=date.today(), dry_run=dry_run)
    read = ", ".join(result.documents) or "no new Patch Tuesday document"
    changed = sum(1 for c in result.changes if c.action != "kept")
    verb = "would change" if dry_run else "changed"
    where = "nothing written" if not result.written else f"wrote {result.path}"
    info(f"Read {read}: {changed} month(s) {verb}; {where}.")
    for reason in result.left_out:
        info(f"Left out: {reason}.")
    s = settings()
    render([c.as_dict() for c in result.changes], s.output, s.query, columns=CHANGE_COLUMNS)

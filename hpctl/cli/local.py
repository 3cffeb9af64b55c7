"""`hpctl local`: Azure Local guests that are not Arc-connected: Windows Update client settings and a check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hpctl.cli.common import HpctlGroup, command, extra_outputs, settings
from hpctl.errors import NonCompliantError
from hpctl.output import Column, render, write_document

app = typer.Typer(cls=HpctlGroup, no_args_is_help=True,
                  help="Azure Local guests without Arc: Windows Update client settings for hotpatch, and a check.")

OsOpt = Annotated[str, typer.Option("--os", metavar="2022|2025", show_default=False,
                                    help="Windows Server Datacenter: Azure Edition version of the guest.")]

SETTING_COLUMNS = [Column("Id", "id"), Column("Kind", "kind"), Column("Install", "install"),
                   Column("Name", "name"), Column("Value", "value"), Column("Sources", "sourceIds", wrap=True)]
# The message wraps in its cell; the fix and source are there with --wide (and in every other -o).
FINDING_COLUMNS = [Column("Level", "level"), Column("Check", "check"), Column("Message", "message", wrap=True),
                   Column("Fix", "fix", wide=True), Column("Source", "source", wide=True)]


def _settings_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "sourceIds": ", ".join(s["id"] for s in r["sources"]),
             "key": r.get("key") or " -> ".join(r.get("steps") or []) or r.get("command")} for r in rows]


@app.command("wu-settings")
@command
@extra_outputs("reg", "ps1")
def wu_settings(
    os_line: OsOpt,
    iso: Annotated[bool, typer.Option("--iso", help="Add the enrollment steps for WS2022 guests installed from "
                                      "ISO (marketplace images need none).")] = False,
) -> None:
    """Windows Update client settings for hotpatch on an Azure Local guest that is not Arc-connected.

    Azure Local has no Azure automatic guest patching: hotpatches come through the Windows Update client,
    set by Group Policy / registry or SConfig on Server Core. Emits those settings and the VBS prerequisite,
    each with the document it comes from: -o json (default), table, reg (a .reg file) or ps1 (a script that
    prints the JSON `hpctl local check` reads, and sets the values with -Apply).

    Example:

        hpctl local wu-settings --os 2025 -o reg > hotpatch.reg

        hpctl local wu-settings --os 2022 --iso -o ps1 > hpctl-local.ps1
    """
    from hpctl.core import azure_local

    s = settings()
    if s.output == "reg":
        write_document(azure_local.render_reg(os_line, iso=iso))
    elif s.output == "ps1":
        write_document(azure_local.render_ps1(os_line, iso=iso))
    else:
        render(azure_local.settings(os_line, iso=iso), s.output, s.query, columns=SETTING_COLUMNS,
               table_view=_settings_table)


@app.command("check")
@command
def check(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="The JSON the wu-settings -o ps1 script "
                                                "printed on each guest ('-' for stdin).", show_default=False)],
    as_of: Annotated[str | None, typer.Option("--as-of", metavar="DATE", help="Judge the hotpatch track as of "
                                              "this day (YYYY-MM-DD; default today).")] = None,
    fail_on: Annotated[str | None, typer.Option("--fail-on", metavar="LEVEL", help="Exit 5 when a finding is at "
                                                "or above error or warning.")] = None,
) -> None:
    """Check what the wu-settings script reported on Azure Local guests, and say what is wrong.

    Reads each guest's build and update revision (judged against the hotpatch calendar), the Windows Update
    client settings, virtualization-based security, and on 2022 the ISO enrollment artefacts. Each finding
    names its source. Every file is read before any is judged (a bad one: exit 2). Sends nothing to Azure.

    Example:

        hpctl local check check.json -o table

        hpctl local check guests/*.json --fail-on error -o table
    """
    from hpctl.cli.patch import _as_of
    from hpctl.core import azure_local
    from hpctl.core.calendar import load_calendar

    threshold = azure_local.parse_level(fail_on) if fail_on is not None else None
    today = _as_of(as_of)
    reports = [azure_local.read_guest_report(f) for f in files]
    calendar = load_calendar()
    results = [azure_local.check_guest(r, today, calendar) for r in reports]
    s = settings()
    columns = FINDING_COLUMNS if len(results) == 1 else [Column("Computer", "computerName"), *FINDING_COLUMNS]
    render(results[0] if len(results) == 1 else results, s.output, s.query, columns=columns,
           table_view=lambda data: [{"computerName": r["computerName"], **f}
                                    for r in (data if isinstance(data, list) else [data]) for f in r["findings"]])
    failing = [r["computerName"] or str(f) for r, f in zip(results, files, strict=True)
               if azure_local.exceeds(r, threshold)]
    if failing:
        raise NonCompliantError(f"Findings at or above {threshold} on {len(failing)} of {len(results)} guests: "
                                f"{', '.join(failing[:5])}{' …' if len(failing) > 5 else ''}.")

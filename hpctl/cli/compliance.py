"""`hpctl history` and `hpctl report`: fleet-wide reads through Azure Resource Graph."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hpctl.cli.common import GroupOpt, IdsOpt, NameOpt, TagOpt, command, settings
from hpctl.errors import InputError
from hpctl.output import Column, render

SubscriptionsOpt = Annotated[list[str] | None, typer.Option(
    "--subscriptions", metavar="ID[,ID]", help="Subscriptions to read (comma-separated or repeated; default: "
    "-s or $AZURE_SUBSCRIPTION_ID).")]
AllSubscriptionsOpt = Annotated[bool, typer.Option("--all-subscriptions",
                                                   help="Every subscription the identity can read.")]


def graph_scope(name: list[str] | None, resource_group: str | None, ids: list[str] | None, tag: list[str] | None,
                subscriptions: list[str] | None, all_subscriptions: bool) -> tuple[Any, Any]:
    """(connection, scope) for a Resource Graph read; checks the subscription options first."""
    from hpctl.core.targets import parse_targets
    from hpctl.edge.clients import check_subscription, connect
    from hpctl.fleet_reads import scope_of

    spec = parse_targets(name or [], resource_group, ids or [], tag or [])
    s = settings()
    subs = [check_subscription(x) for item in subscriptions or [] for x in item.split(",") if x.strip()]
    if all_subscriptions and (subs or s.subscription and subscriptions):
        raise InputError("--all-subscriptions reads every subscription; drop --subscriptions.")
    if not all_subscriptions and not subs:
        if s.subscription:
            subs = [check_subscription(s.subscription)]
        elif not spec.subscriptions:
            if s.cloud != "sandbox":
                raise InputError("No subscription given: pass --subscriptions ID[,ID], -s ID, --all-subscriptions, "
                                 "or set AZURE_SUBSCRIPTION_ID.")
    conn = connect(s.cloud, subs[0] if subs else None, require_subscription=False)
    if not all_subscriptions and not subs and s.cloud == "sandbox":
        subs = [conn.subscription_id]
    return conn, scope_of(spec, None if all_subscriptions else subs)


HISTORY_COLUMNS = [Column("VM", "vm"), Column("ResourceGroup", "resourceGroup"), Column("Kind", "kind"),
                   Column("Time", "time"), Column("Status", "status"), Column("Critical+Security", "critical"),
                   Column("Other", "other"), Column("Installed", "installedPatchCount"),
                   Column("Failed", "failedPatchCount"), Column("Reboot", "reboot"), Column("StartedBy", "startedBy"),
                   Column("Errors", "errorList")]


def _history_table(vms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for vm in vms:
        for e in vm["events"]:
            rows.append({**e, "vm": vm["vm"], "resourceGroup": vm["resourceGroup"],
                         "critical": e.get("criticalAndSecurityPatchCount"), "other": e.get("otherPatchCount"),
                         "reboot": e.get("rebootStatus") or ("pending" if e.get("rebootPending") else None),
                         "errorList": "; ".join(f"{x['code']}: {x['message']}" for x in e.get("errors") or [])})
    return rows


@command
def history(
    name: NameOpt = None,
    resource_group: GroupOpt = None,
    ids: IdsOpt = None,
    tag: TagOpt = None,
    days: Annotated[int, typer.Option("--days", metavar="N", show_default=False,
                                      help="How far back, 1-30 days (default 30; Azure keeps 30).")] = 30,
    patches: Annotated[bool, typer.Option("--patches", help="Also list each run's patches.")] = False,
    subscriptions: SubscriptionsOpt = None,
    all_subscriptions: AllSubscriptionsOpt = False,
) -> None:
    """Assessments and installations per VM as a timeline, from Azure Resource Graph (one paged query).

    Shows time, status, counts, reboot status, who started it and errors. Azure keeps the latest assessment
    (7 days) and 30 days of installations.

    Example:

        hpctl history -g rg-web --days 30 -o table

        hpctl history --all-subscriptions --tag env=prod --patches
    """
    from hpctl.core.history import MAX_DAYS
    from hpctl.fleet_reads import history as read_history

    if not 1 <= days <= MAX_DAYS:
        raise InputError(f"--days {days} is out of range; Azure keeps {MAX_DAYS} days of history, use 1-{MAX_DAYS}.")
    conn, scope = graph_scope(name, resource_group, ids, tag, subscriptions, all_subscriptions)
    result = read_history(conn, scope, days, patches=patches)
    s = settings()
    render(result["vms"], s.output, s.query, columns=HISTORY_COLUMNS, table_view=_history_table)

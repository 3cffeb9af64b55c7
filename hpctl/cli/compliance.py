"""`hpctl history` and `hpctl report`: fleet-wide reads through Azure Resource Graph."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any, TextIO

import typer

from hpctl.cli.common import GroupOpt, IdsOpt, KindOpt, NameOpt, TagOpt, command, extra_outputs, settings, warn
from hpctl.errors import InputError
from hpctl.output import OUTPUT_FORMATS, PICTURE_FORMATS, Column, render

SubscriptionsOpt = Annotated[list[str] | None, typer.Option(
    "--subscriptions", metavar="ID[,ID]", help="Subscriptions to read (comma-separated or repeated; default: "
    "-s or $AZURE_SUBSCRIPTION_ID).")]
AllSubscriptionsOpt = Annotated[bool, typer.Option("--all-subscriptions",
                                                   help="Every subscription the identity can read.")]


def graph_scope(name: list[str] | None, resource_group: str | None, ids: list[str] | None, tag: list[str] | None,
                subscriptions: list[str] | None, all_subscriptions: bool, kind: str | None = None) -> tuple[Any, Any]:
    """(connection, scope) for a Resource Graph read; checks the subscription options first."""
    from hpctl.core.targets import parse_targets
    from hpctl.edge.clients import check_subscription, connect
    from hpctl.fleet_reads import scope_of

    spec = parse_targets(name or [], resource_group, ids or [], tag or [], kind)
    s = settings()
    subs = [check_subscription(x, "--subscriptions") for item in subscriptions or [] for x in item.split(",")
            if x.strip()]
    if all_subscriptions and (subs or s.subscription and subscriptions):
        raise InputError("--all-subscriptions reads every subscription; drop --subscriptions.")
    own = not all_subscriptions and not subs
    if own and not s.subscription and not spec.subscriptions and s.cloud != "sandbox":
        raise InputError("No subscription given: pass --subscriptions ID[,ID], -s ID, --all-subscriptions, set "
                         "AZURE_SUBSCRIPTION_ID, or `hpctl configure --defaults subscription=ID`.")
    conn = connect(s.cloud, subs[0] if subs else s.subscription if own else None, require_subscription=False)
    if own and (s.subscription or s.cloud == "sandbox"):
        subs = [conn.subscription_id]
    return conn, scope_of(spec, None if all_subscriptions else subs)


# The order is -o tsv's (scripts rely on it): new columns go at the end.
HISTORY_COLUMNS = [Column("VM", "vm"), Column("ResourceGroup", "resourceGroup"), Column("Kind", "kind"),
                   Column("Time", "time"), Column("Status", "status"), Column("Critical+Security", "critical"),
                   Column("Other", "other"), Column("Installed", "installedPatchCount"),
                   Column("Failed", "failedPatchCount"), Column("Reboot", "reboot"), Column("StartedBy", "startedBy"),
                   Column("Errors", "errorList", wide=True), Column("Id", "id", wide=True),
                   Column("Machine", "machineKind", rank=1)]


def _history_table(vms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for vm in vms:
        for e in vm["events"]:
            rows.append({**e, "vm": vm["vm"], "id": vm["id"], "resourceGroup": vm["resourceGroup"],
                         "machineKind": vm.get("kind"),
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
    kind: KindOpt = None,
    days: Annotated[int, typer.Option("--days", metavar="N", show_default=False,
                                      help="How far back, 1-30 days (default 30; Azure keeps 30).")] = 30,
    patches: Annotated[bool, typer.Option("--patches", help="Also list each run's patches.")] = False,
    subscriptions: SubscriptionsOpt = None,
    all_subscriptions: AllSubscriptionsOpt = False,
) -> None:
    """Assessments and installations per VM and Arc machine as a timeline, from Azure Resource Graph (one
    paged query).

    Shows time, status, counts, reboot status, who started it and errors; Arc machines' records (counts by
    classification, errorDetails) read the same. Azure keeps the latest assessment (7 days) and 30 days of
    installations.

    Example:

        hpctl history -g rg-web --days 30 -o table

        hpctl history --kind arc --all-subscriptions --tag env=prod --patches
    """
    from hpctl.core.history import MAX_DAYS
    from hpctl.fleet_reads import history as read_history

    if not 1 <= days <= MAX_DAYS:
        raise InputError(f"--days {days} is out of range; Azure keeps {MAX_DAYS} days of history, use 1-{MAX_DAYS}.")
    conn, scope = graph_scope(name, resource_group, ids, tag, subscriptions, all_subscriptions, kind)
    result = read_history(conn, scope, days, patches=patches)
    s = settings()
    render(result["vms"], s.output, s.query, columns=HISTORY_COLUMNS, table_view=_history_table)


# Formats only report writes, beside every command's -o formats.
REPORT_FORMATS = ("markdown", "junit")
REPORT_COLUMNS = [Column("Name", "name"), Column("ResourceGroup", "resourceGroup"), Column("Kind", "kind"),
                  Column("Compliant", "compliant"), Column("Worst", "worstSeverity"), Column("Findings", "findings"),
                  Column("Track", "track"), Column("NextReboot", "nextReboot"), Column("Schedule", "schedule"),
                  Column("Id", "id", wide=True)]


def _write(path: Any, text: str | Callable[[TextIO], None]) -> None:
    """Write text, or let a writer stream into the file (a 10,000-VM JSON report is tens of megabytes)."""
    from pathlib import Path

    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w") as out:
            if callable(text):
                text(out)
            else:
                out.write(text)
    except OSError as exc:
        raise InputError(f"Can't write {target}: {exc.strerror}; pick a writable path.") from None


# Where write_json lays a resource out in the report document: in the list `resources` of the top object.
RESOURCE_LEVEL = 2


def _write_json(path: Any, document: Any) -> None:
    from hpctl.output import write_json

    _write(path, lambda out: write_json(document, out))


@command
@extra_outputs(*REPORT_FORMATS)
def report(
    name: NameOpt = None,
    resource_group: GroupOpt = None,
    ids: IdsOpt = None,
    tag: TagOpt = None,
    kind: KindOpt = None,
    subscriptions: SubscriptionsOpt = None,
    all_subscriptions: AllSubscriptionsOpt = False,
    fmt: Annotated[str | None, typer.Option("--format", metavar="FORMAT", show_default=False, hidden=True,
                                            help="Deprecated: use -o.")] = None,
    output_file: Annotated[str | None, typer.Option("--output-file", metavar="FILE",
                                                    help="Write the -o output here, not to stdout.")] = None,
    json_file: Annotated[str | None, typer.Option("--json-file", metavar="FILE", help="Also write JSON here.")] = None,
    markdown_file: Annotated[str | None, typer.Option("--markdown-file", metavar="FILE",
                                                      help="Also write Markdown here.")] = None,
    junit_file: Annotated[str | None, typer.Option("--junit-file", metavar="FILE",
                                                   help="Also write JUnit XML here.")] = None,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", metavar="SEVERITY", help="Exit 5 when a finding is at or above high, medium or low.")] = None,
    rule: Annotated[list[str] | None, typer.Option("--rule", metavar="ID", help="Only these rules.")] = None,
    skip_rule: Annotated[list[str] | None, typer.Option("--skip-rule", metavar="ID", help="Skip rules.")] = None,
    config: Annotated[str | None, typer.Option("--config", metavar="FILE",
                                               help="Thresholds and rule selection (YAML or JSON).")] = None,
    assessment_max_age: Annotated[int | None, typer.Option(
        "--assessment-max-age", metavar="DAYS",
        help="Last assessment older than this is a finding (default 3).")] = None,
    pending_max_age: Annotated[int | None, typer.Option(
        "--pending-max-age", metavar="DAYS", help="Critical/security patches pending longer (default 7).")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", metavar="DATE",
                                              help="Judge as of this day (default today).")] = None,
    instance_views: Annotated[bool, typer.Option(
        "--instance-views", help="Also read VMs' instance views through Compute (one paged list per "
                                 "subscription) for what Resource Graph lacks: hotPatchStatus (rule HP015).")] = False,
) -> None:
    """Compliance report: rules with ids and severities, per VM, scale set and Arc machine, from Resource
    Graph reads.

    A summary first (VMs checked, compliant, findings by severity, next reboot), then each finding with its
    fix. Arc machines (Azure Local VMs too) get the enrollment, VBS and agent rules (HP020-HP023) and the
    patch-result rules. Without -o a table (the summary on stderr); -o json, jsonc, yaml, tsv and none as
    everywhere, with --query on the JSON document; -o markdown fits a GitHub job summary; -o junit makes each
    VM or machine a test case. Exit 5 only with --fail-on.

    Example:

        hpctl report -g rg-web

        hpctl report --query summary -o yaml

        hpctl report --all-subscriptions -o markdown --fail-on high

        hpctl report --kind arc --rule arc-not-enrolled
    """
    from contextlib import nullcontext
    from dataclasses import replace
    from datetime import date, datetime, time, timezone

    from hpctl.cli.common import warn_if_stale
    from hpctl.core import report_formats as formats
    from hpctl.core.calendar import load_calendar
    from hpctl.core.compliance import Evaluation, ReportConfig, load_report_config, parse_rule_ids, parse_severity
    from hpctl.errors import NonCompliantError
    from hpctl.fleet_reads import compliance_report
    from hpctl.output import Spool

    s = settings()
    if fmt:
        # --format predates -o for report; it is kept as an alias so old scripts keep working.
        if s.output_given and s.output != fmt.lower():
            raise InputError(f"--format {fmt} and -o {s.output} disagree; drop --format (it is now -o).")
        known = (*(f for f in OUTPUT_FORMATS if f not in PICTURE_FORMATS), *REPORT_FORMATS)
        if fmt.lower() not in known:
            raise InputError(f"--format {fmt!r} is not a report format; use -o with one of {', '.join(known)}.")
        warn(f"--format is deprecated; use -o {fmt.lower()}.")
    # A report is read by people first: a table unless -o (or --format) asks for something else.
    chosen = fmt.lower() if fmt else s.output if s.output_given else "table"
    if chosen in REPORT_FORMATS and s.query:
        raise InputError(f"--query selects from the JSON document; it doesn't apply to -o {chosen}.")
    threshold = parse_severity(fail_on) if fail_on else None
    cfg = load_report_config(config) if config else ReportConfig()
    overrides: dict[str, Any] = {}
    if rule:
        overrides["rules"] = parse_rule_ids(rule, option="--rule")
    if skip_rule:
        overrides["skip_rules"] = parse_rule_ids(skip_rule, option="--skip-rule")
    if assessment_max_age is not None:
        overrides["assessment_max_age_days"] = assessment_max_age
    if pending_max_age is not None:
        overrides["pending_max_age_days"] = pending_max_age
    if overrides:
        cfg = replace(cfg, **overrides)
    if as_of:
        try:
            today = date.fromisoformat(as_of)
        except ValueError:
            raise InputError(f"--as-of {as_of!r} is not a date; use YYYY-MM-DD.") from None
        now = datetime.combine(today, time(23, 59, 59), tzinfo=timezone.utc)
    else:
        now = datetime.now(timezone.utc)
        today = now.date()
    calendar = load_calendar()
    evaluation = Evaluation(today=today, now=now, calendar=calendar, config=cfg)
    conn, scope = graph_scope(name, resource_group, ids, tag, subscriptions, all_subscriptions, kind)
    streamed = chosen == "json" and not s.query
    # JSON written as is: each resource's text is laid out the moment it is judged, while Resource Graph's quota
    # holds the next page back, instead of all 10,000 after the last answer.
    with Spool() if streamed or json_file else nullcontext() as spool:
        made: dict[int, tuple[Any, Any]] = {}
        on_judged = (lambda r: made.__setitem__(id(r), (r, spool.lay(formats.resource_json(r), RESOURCE_LEVEL)))
                     ) if spool is not None else None
        result, stats = compliance_report(conn, scope, evaluation, instance_views=instance_views,
                                          on_judged=on_judged)
        warn_if_stale(calendar, today)
        document = formats.to_json(result, made)
        document["queries"] = stats
        if json_file:
            _write_json(json_file, document)
        if made and not streamed:  # -o yaml, jsonc, --query … read the document itself
            document = formats.to_json(result)
            document["queries"] = stats
        if markdown_file:
            _write(markdown_file, formats.to_markdown(result, fail_on=threshold, calendar=calendar))
        if junit_file:
            _write(junit_file, formats.to_junit(result, fail_on=threshold or "low"))

        def emit(out: TextIO) -> None:
            _emit_report(result, document, chosen, s.query, threshold, calendar, out)

        if output_file:
            _write(output_file, emit)
        else:
            emit(sys.stdout)
            sys.stdout.flush()
    if result.exceeds(threshold):
        findings, resources = result.at_or_above(threshold)
        raise NonCompliantError(
            f"Non-compliant: {findings} finding(s) at or above --fail-on {threshold} on {resources} of "
            f"{result.summary.resources_checked} resource(s).",
            hint="Each finding lists its fix; `hpctl report -o markdown` shows them grouped by severity.")


def _emit_report(result: Any, document: dict[str, Any], chosen: str, query: str | None, threshold: str | None,
                 calendar: Any, out: TextIO) -> None:
    """Write the report in one -o format: markdown and junit from the report, the rest through the one renderer
    (the JSON document, streamed; or for table/tsv without --query one row per resource after a summary on
    stderr)."""
    from hpctl.core import report_formats as formats

    if chosen in REPORT_FORMATS:
        text = (formats.to_markdown(result, fail_on=threshold, calendar=calendar) if chosen == "markdown"
                else formats.to_junit(result, fail_on=threshold or "low"))
        out.write(text if text.endswith("\n") else text + "\n")
    elif chosen in ("table", "tsv") and not query:
        _summary_to_stderr(result)
        render(formats.to_table_rows(result), chosen, None, columns=REPORT_COLUMNS, stream=out)
    else:
        render(document, chosen, query, stream=out)




def _summary_to_stderr(result: Any) -> None:
    from hpctl.cli.common import info

    s = result.summary
    counts = ", ".join(f"{n} {sev}" for sev, n in s.findings_by_severity.items() if n)
    arc = f", {s.arc_machines_checked} Arc machines" if s.arc_machines_checked else ""
    info(f"{s.resources_checked} resources checked ({s.vms_checked} VMs, {s.scale_sets_checked} scale sets{arc}): "
         f"{s.compliant} compliant; findings: {counts or 'none'}; next reboot: "
         f"{s.next_reboot.isoformat() if s.next_reboot else 'unknown'}")

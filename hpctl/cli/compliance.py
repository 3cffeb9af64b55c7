"""`hpctl history` and `hpctl report`: fleet-wide reads through Azure Resource Graph."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TextIO

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
    own = not all_subscriptions and not subs
    if own and not s.subscription and not spec.subscriptions and s.cloud != "sandbox":
        raise InputError("No subscription given: pass --subscriptions ID[,ID], -s ID, --all-subscriptions, set "
                         "AZURE_SUBSCRIPTION_ID, or `hpctl configure --defaults subscription=ID`.")
    conn = connect(s.cloud, subs[0] if subs else s.subscription if own else None, require_subscription=False)
    if own and (s.subscription or s.cloud == "sandbox"):
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


REPORT_FORMATS = ("table", "json", "markdown", "junit")
REPORT_COLUMNS = [Column("Name", "name"), Column("ResourceGroup", "resourceGroup"), Column("Kind", "kind"),
                  Column("Compliant", "compliant"), Column("Worst", "worstSeverity"), Column("Findings", "findings"),
                  Column("Track", "track"), Column("NextReboot", "nextReboot"), Column("Schedule", "schedule")]


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


def _write_json(path: Any, document: Any) -> None:
    from hpctl.output import write_json

    _write(path, lambda out: write_json(document, out))


@command
def report(
    name: NameOpt = None,
    resource_group: GroupOpt = None,
    ids: IdsOpt = None,
    tag: TagOpt = None,
    subscriptions: SubscriptionsOpt = None,
    all_subscriptions: AllSubscriptionsOpt = False,
    fmt: Annotated[str | None, typer.Option("--format", metavar="FORMAT", show_default=False,
                                            help="table (default), json, markdown or junit.")] = None,
    output_file: Annotated[str | None, typer.Option("--output-file", metavar="FILE",
                                                    help="Write the --format output here, not to stdout.")] = None,
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
    """Compliance report: rules with ids and severities, per VM and scale set, from Resource Graph reads.

    A summary first (VMs checked, compliant, findings by severity, next reboot), then each finding with its
    fix. Markdown fits a GitHub job summary; JUnit makes each VM a test case. Exit 5 only with --fail-on.

    Example:

        hpctl report -g rg-web

        hpctl report --all-subscriptions --format markdown --fail-on high
    """
    from dataclasses import replace
    from datetime import date, datetime, time, timezone

    from hpctl.cli.common import warn_if_stale
    from hpctl.core import report_formats as formats
    from hpctl.core.calendar import load_calendar
    from hpctl.core.compliance import Evaluation, ReportConfig, load_report_config, parse_rule_ids, parse_severity
    from hpctl.errors import NonCompliantError
    from hpctl.fleet_reads import compliance_report

    s = settings()
    # A report is read by people first: table unless --format or -o asks for something else.
    if fmt:
        chosen = fmt.lower()
    elif s.output_given and s.output in ("json", "jsonc", "yaml"):
        chosen = "json"
    else:
        chosen = "table"
    if chosen not in REPORT_FORMATS:
        raise InputError(f"--format {fmt!r} is not a report format; use one of {', '.join(REPORT_FORMATS)}.")
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
    conn, scope = graph_scope(name, resource_group, ids, tag, subscriptions, all_subscriptions)
    result, stats = compliance_report(conn, scope, evaluation, instance_views=instance_views)
    warn_if_stale(calendar, today)
    document = formats.to_json(result)
    document["queries"] = stats
    if json_file:
        _write_json(json_file, document)
    if markdown_file:
        _write(markdown_file, formats.to_markdown(result, fail_on=threshold, calendar=calendar))
    if junit_file:
        _write(junit_file, formats.to_junit(result, fail_on=threshold or "low"))
    if chosen in ("markdown", "junit"):
        text = (formats.to_markdown(result, fail_on=threshold, calendar=calendar) if chosen == "markdown"
                else formats.to_junit(result, fail_on=threshold or "low"))
        if output_file:
            _write(output_file, text)
        else:
            print(text, end="" if text.endswith("\n") else "\n")
    elif output_file and chosen == "json":
        _write_json(output_file, document)
    elif output_file:
        _write(output_file, _table_text(result))
    elif chosen == "json":
        render(document, s.output if s.output in ("yaml", "jsonc", "none") else "json", s.query)
    elif not (s.output_given and s.output == "none"):
        _summary_to_stderr(result)
        render(formats.to_table_rows(result), "tsv" if s.output == "tsv" else "table", s.query,
               columns=REPORT_COLUMNS)
    if result.exceeds(threshold):
        worst = result.summary.worst_severity
        raise NonCompliantError(
            f"Non-compliant: {result.summary.findings_by_severity.get(worst, 0)} {worst} finding(s) at or above "
            f"--fail-on {threshold} across {result.summary.non_compliant} resource(s).",
            hint="Each finding lists its fix; `hpctl report --format markdown` shows them grouped by severity.")


def _table_text(result: Any) -> str:
    from hpctl.core.report_formats import to_table_rows
    from hpctl.output import to_table

    return to_table(to_table_rows(result), REPORT_COLUMNS)


def _summary_to_stderr(result: Any) -> None:
    from hpctl.cli.common import info

    s = result.summary
    counts = ", ".join(f"{n} {sev}" for sev, n in s.findings_by_severity.items() if n)
    info(f"{s.resources_checked} resources checked ({s.vms_checked} VMs, {s.scale_sets_checked} scale sets): "
         f"{s.compliant} compliant; findings: {counts or 'none'}; next reboot: "
         f"{s.next_reboot.isoformat() if s.next_reboot else 'unknown'}")

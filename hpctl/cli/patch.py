"""`hpctl assess`, `hpctl install`, `hpctl status`: patch operations on one VM or a fleet."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from hpctl.cli.common import (
    GroupOpt,
    IdsOpt,
    KindOpt,
    MaxParallelOpt,
    NameOpt,
    NoWaitOpt,
    TagOpt,
    command,
    info,
    settings,
)
from hpctl.cli.confirm import YesOpt
from hpctl.errors import InputError
from hpctl.output import Column, render
from hpctl.runner import DEFAULT_MAX_PARALLEL


def _finish(result: Any, *, columns: list[Column], table_view: Any, what: str) -> None:
    """Render every row, then exit: 130/143 after an interrupt, 1 if any target failed (or the single
    target's own code), else 0."""
    if result.single_error is not None and result.interrupted is None:
        raise result.single_error
    s = settings()
    render(result.rows, s.output, s.query, columns=columns, table_view=table_view)
    summary = getattr(result, "summary", None)
    if summary and (result.interrupted or len(result.rows) > 1 or "--resume" in summary):
        info(summary)
    _warn_completed_with_warnings(result.rows, what)
    if result.failed:
        from hpctl.fleet.writes import noun_of

        names = ", ".join(r["name"] for r in result.failed[:5]) + (" …" if len(result.failed) > 5 else "")
        print(f"ERROR: {what} failed on {len(result.failed)} of {len(result.rows)} {noun_of(result.rows)}: {names}",
              file=sys.stderr)
        for row in result.failed[:5]:
            err = row.get("error") or (row.get("installation") or row.get("assessment") or {}).get("error") or {}
            print(f"  {row['resourceGroup']}/{row['name']}: {err.get('message') or err.get('code')}", file=sys.stderr)
    if result.interrupted is not None:
        raise typer.Exit(result.interrupted)
    if result.failed:
        raise typer.Exit(1)


def _warn_completed_with_warnings(rows: list[dict[str, Any]], what: str) -> None:
    """Say which VMs' operations completed with warnings (Azure's error code "1"/"2"): not failures, exit 0."""
    from hpctl.cli.common import warn
    from hpctl.core.patch_results import SUCCEEDED_WITH_WARNINGS

    warned = [r for r in rows if r.get("outcome") == SUCCEEDED_WITH_WARNINGS]
    if not warned:
        return
    parts = []
    for row in warned[:5]:
        err = (row.get("installation") or row.get("assessment") or {}).get("error") or {}
        detail = "; ".join(str(d.get("code")) for d in err.get("details") or [] if d.get("code"))
        parts.append(f"{row['name']} (code {err.get('code')}" + (f": {detail}" if detail else "") + ")")
    more = " …" if len(warned) > 5 else ""
    warn(f"{what} completed with warnings on {len(warned)} of {len(rows)} VMs: {', '.join(parts)}{more}")


def _patch_list(patches: list[dict[str, Any]] | None, state: str) -> str:
    return "; ".join(f"{p.get('kbId') or p.get('name')} ({', '.join(p.get('classifications') or [])}, "
                     f"{p.get(state)})" for p in patches or [])


def _assess_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        a = r.get("assessment") or {}
        out.append({**r, "status": a.get("status") or r.get("outcome"),
                    "critical": a.get("criticalAndSecurityPatchCount"), "other": a.get("otherPatchCount"),
                    "rebootPending": a.get("rebootPending"),
                    "patchList": _patch_list(a.get("patches"), "rebootBehavior"),
                    "flagList": ", ".join(r.get("flags") or []),
                    "errorMessage": (r.get("error") or {}).get("message")})
    return out


ASSESS_COLUMNS = [Column("Name", "name"), Column("ResourceGroup", "resourceGroup"), Column("Status", "status"),
                  Column("Critical+Security", "critical"), Column("Other", "other"),
                  Column("RebootPending", "rebootPending"), Column("Flags", "flagList", wide=True),
                  Column("Patches", "patchList", wide=True), Column("Error", "errorMessage", wide=True),
                  Column("Id", "id", wide=True), Column("Kind", "kind", rank=1)]


def _targets(name: list[str] | None, resource_group: str | None, ids: list[str] | None, tag: list[str] | None,
             kind: str | None = "vm") -> Any:
    """Parse the targets; commands with --kind pass what the user gave (None: all), the VM-only ones leave it."""
    from hpctl.core.targets import parse_targets

    return parse_targets(name or [], resource_group, ids or [], tag or [], kind)


InFlightOpt = Annotated[int | None, typer.Option(
    "--max-parallel", metavar="N", show_default=False,
    help="Most operations in flight at once (1-10000). Default: as many as Azure's request budgets allow.")]


def _in_flight(value: int | None) -> int:
    from hpctl.fleet.writes import DEFAULT_IN_FLIGHT, MAX_IN_FLIGHT

    if value is None:
        return DEFAULT_IN_FLIGHT
    if not 1 <= value <= MAX_IN_FLIGHT:
        raise InputError(f"--max-parallel {value} is out of range; use 1-{MAX_IN_FLIGHT} operations in flight.")
    return value


@command
def assess(
    name: NameOpt = None,
    resource_group: GroupOpt = None,
    ids: IdsOpt = None,
    tag: TagOpt = None,
    kind: KindOpt = None,
    no_wait: NoWaitOpt = False,
    max_parallel: InFlightOpt = None,
    yes: YesOpt = False,
) -> None:
    """Assess available patches on VMs and Arc machines (one, a group, tagged, or the whole subscription).

    Shows per machine the status, critical+security and other counts, whether a reboot is pending, and the
    patches found (KB, classification, reboot behaviour; for Arc machines, whose result has counts only, read
    from Resource Graph). Machines that can't hotpatch as they are are assessed too but flagged. Requests are
    paced by Azure's budgets; Ctrl-C stops starting new ones and lists what Azure had accepted.

    Example:

        hpctl assess -g rg-web -n web-01

        hpctl assess -g rg-web --tag env=prod -o table

        hpctl assess --kind arc -g rg-arc-onprem
    """
    from hpctl.cli.progress import fleet_progress
    from hpctl.fleet.commands import assess_fleet, target_count
    from hpctl.fleet.interrupts import interrupts

    del yes  # an assessment changes nothing on the VM, so it never asks; --yes is accepted like on every write
    in_flight = _in_flight(max_parallel)
    spec = _targets(name, resource_group, ids, tag, kind)
    parts = _resolve(spec, instance_view=False, pool_size=_pool(in_flight))
    with interrupts() as interrupt, fleet_progress(target_count(parts), "assess") as progress:
        result = assess_fleet(parts, interrupt=interrupt, wait=not no_wait, max_parallel=in_flight,
                              on_progress=progress)
    _finish(result, columns=ASSESS_COLUMNS, table_view=_assess_table, what="assessment")


def _resolve(spec: Any, *, instance_view: bool, pool_size: int) -> Any:
    """The targets per subscription. Ctrl-C or SIGTERM meanwhile ends the command before anything is sent."""
    from hpctl.fleet.commands import resolve_parts
    from hpctl.fleet.interrupts import interrupts

    s = settings()
    with interrupts() as early:
        parts = resolve_parts(s.cloud, s.subscription, spec, instance_view=instance_view, pool_size=pool_size)
    if early.requested:
        info("Interrupted while reading the targets: nothing was sent.")
        raise typer.Exit(early.exit_code)
    return parts


def _pool(in_flight: int) -> int:
    """The HTTP connection pool's size: --max-parallel. The engine never has more requests on the wire than
    that (nor than its MAX_WORKERS), so the pool never binds and urllib3 never says it is full. Connections
    are opened only as requests need them."""
    return max(1, in_flight)


def _install_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        i = r.get("installation") or {}
        out.append({**r, "status": i.get("status") or r.get("outcome"), "installed": i.get("installedPatchCount"),
                    "failedCount": i.get("failedPatchCount"), "pending": i.get("pendingPatchCount"),
                    "rebootStatus": i.get("rebootStatus"),
                    "patchList": _patch_list(i.get("patches"), "installationState"),
                    "flagList": ", ".join(r.get("flags") or []),
                    "errorMessage": (r.get("error") or i.get("error") or {}).get("message")})
    return out


INSTALL_COLUMNS = [Column("Name", "name"), Column("ResourceGroup", "resourceGroup"), Column("Status", "status"),
                   Column("Installed", "installed"), Column("Failed", "failedCount"), Column("Pending", "pending"),
                   Column("RebootStatus", "rebootStatus"), Column("Flags", "flagList", wide=True),
                   Column("Patches", "patchList", wide=True), Column("Error", "errorMessage", wide=True),
                   Column("Id", "id", wide=True), Column("Kind", "kind", rank=1)]


RebootOpt = Annotated[str | None, typer.Option(
    "--reboot-setting", metavar="SETTING", help="IfRequired, Never or Always (required, as in the API).")]
ClassificationOpt = Annotated[list[str] | None, typer.Option(
    "--classification", metavar="NAMES",
    help="Critical, Security, UpdateRollUp, FeaturePack, ServicePack, Definition, Tools, Updates "
         "(comma-separated or repeated).")]
KbIncludeOpt = Annotated[list[str] | None, typer.Option(
    "--kb-include", metavar="KB", help="KBs to install: KB5031364 or 5031364 (comma-separated or repeated).")]
KbExcludeOpt = Annotated[list[str] | None, typer.Option("--kb-exclude", metavar="KB", help="KBs never to install.")]
ExcludeRebootOpt = Annotated[bool, typer.Option(
    "--exclude-reboot-required", help="Skip KBs that may need a reboot (keep hotpatches only).")]
MaxPublishDateOpt = Annotated[str | None, typer.Option(
    "--max-publish-date", metavar="DATE", help="Only patches published on or before this date (2026-06-09).")]
MaxDurationOpt = Annotated[str, typer.Option(
    "--max-duration", metavar="DURATION", show_default=False,
    help="Maintenance window, ISO 8601, PT30M to PT4H (default PT2H).")]


RolloutOpt = Annotated[str, typer.Option(
    "--rollout", metavar="MODE", show_default=False,
    help="none (default: every VM at once, up to --max-parallel) or availability: zone by zone, one update "
         "domain at a time, health-checked, stopping on a failure.")]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", metavar="N", show_default=False,
                                           help="VMs per wave with --rollout availability (default 10).")]
StateFileOpt = Annotated[Path | None, typer.Option(
    "--state-file", metavar="FILE", help="The run's journal: every VM is recorded before its request is sent "
    "and when Azure accepts it (default ~/.hpctl/rollouts/<run>.journal).")]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Send nothing: show per VM what its last assessment says would install, what may reboot, "
    "its wave, and VMs to assess first.")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue an interrupted or stopped run from its "
                                         "journal: done VMs are skipped, accepted ones followed up, none "
                                         "installed twice.")]


@command
def install(
    reboot_setting: RebootOpt = None,
    classification: ClassificationOpt = None,
    kb_include: KbIncludeOpt = None,
    kb_exclude: KbExcludeOpt = None,
    exclude_reboot_required: ExcludeRebootOpt = False,
    max_publish_date: MaxPublishDateOpt = None,
    max_duration: MaxDurationOpt = "PT2H",
    name: NameOpt = None,
    resource_group: GroupOpt = None,
    ids: IdsOpt = None,
    tag: TagOpt = None,
    kind: KindOpt = None,
    rollout: RolloutOpt = "none",
    batch_size: BatchSizeOpt = 10,
    state_file: StateFileOpt = None,
    resume: ResumeOpt = False,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    no_wait: NoWaitOpt = False,
    max_parallel: InFlightOpt = None,
) -> None:
    """Install patches on VMs and Arc machines now. Azure gives on-demand installs no availability-first
    ordering; with --rollout availability hpctl does: zones one at a time, availability sets one update
    domain at a time (Arc machines, which have neither, in --batch-size waves), a health check after each
    wave, a stop on the first failure.

    Every value is checked before anything is sent; on more than one VM hpctl shows what it will do and asks
    (--yes skips the question). Each VM is journalled before its request is sent, so Ctrl-C, a crash or a
    stop can be followed up with --resume without installing anything twice. Lists every VM with its
    outcome; exits 1 if any failed.

    Example:

        hpctl install -g rg-web --classification Critical,Security --reboot-setting IfRequired --yes

        hpctl install -g rg-web -n web-01 --kb-include KB5087424 --exclude-reboot-required --reboot-setting Never

        hpctl install --tag env=prod --classification Security --reboot-setting IfRequired --rollout availability

        hpctl install -g rg-web --classification Security --reboot-setting IfRequired --dry-run -o table

        hpctl install --kind arc -g rg-arc-onprem --classification Critical,Security --reboot-setting Never --yes
    """
    from hpctl.core.patch_options import build_install_options

    options = build_install_options(
        classification, kb_include, kb_exclude, exclude_reboot_required, max_publish_date, reboot_setting,
        max_duration,
    )
    in_flight = _in_flight(max_parallel)
    if rollout not in ("none", "availability"):
        raise InputError(f"--rollout {rollout!r} is not a rollout mode; use none or availability.")
    if rollout == "none" and batch_size != 10:
        raise InputError("--batch-size goes with --rollout availability.")
    if rollout == "availability" and no_wait:
        raise InputError("--rollout availability waits for each wave to be healthy; drop --no-wait.")
    if resume and state_file is not None and not state_file.exists():
        raise InputError(f"--resume: no journal at {state_file}; run without --resume to start one.")
    if not 1 <= batch_size <= 1000:
        raise InputError(f"--batch-size {batch_size} is out of range; use 1-1000 VMs per wave.")
    spec = _targets(name, resource_group, ids, tag, kind)
    from hpctl.cli.confirm import confirm_write, require_tty_or_yes, target_lines
    from hpctl.cli.progress import fleet_progress
    from hpctl.fleet.commands import all_targets, install_fleet, target_count
    from hpctl.fleet.interrupts import interrupts
    from hpctl.fleet.journal import Journal
    from hpctl.fleet.waves import wave_lines

    if dry_run:
        _dry_run(spec, options.to_wire(), rollout, batch_size)
        return
    require_tty_or_yes(yes=yes, may_be_many=spec.scope != "vms" or len(spec.vms) > 1)
    if state_file is not None:
        Journal.preflight(state_file, resume=resume)
    parts = _resolve(spec, instance_view=True, pool_size=_pool(in_flight))
    body = options.to_wire()
    details = target_lines(all_targets(parts)) + [f"  {line}" for line in _install_lines(body)]
    if rollout == "availability":
        details += wave_lines(all_targets(parts), batch_size)
    confirm_write("install", target_count(parts), details, yes=yes)

    def on_wave(wave: Any) -> None:
        info(f"Wave {wave.number}: {wave.label} ({len(wave.members)} VM{'s' if len(wave.members) != 1 else ''})")

    with interrupts() as interrupt, fleet_progress(target_count(parts), "install") as progress:
        result = install_fleet(parts, body, interrupt=interrupt, rollout=rollout, batch_size=batch_size,
                               state_file=state_file, resume=resume, wait=not no_wait, max_parallel=in_flight,
                               on_progress=progress, on_wave=on_wave)
    if result.stopped:
        info(f"{result.stopped}; fix it, then rerun with --resume (progress is in {result.state_path}).")
    elif result.interrupted and result.state_path:
        info(f"Journal: {result.state_path}; rerun with --resume to carry on.")
    columns = [Column("Wave", "wave"), *INSTALL_COLUMNS] if rollout == "availability" else INSTALL_COLUMNS
    _finish(result, columns=columns, table_view=_install_table, what="installation")


def _dry_run(spec: Any, body: dict[str, Any], rollout: str, batch_size: int) -> None:
    from hpctl.fleet.commands import dry_run_fleet, resolve_parts

    s = settings()
    parts = resolve_parts(s.cloud, s.subscription, spec, instance_view=True)
    result = dry_run_fleet(parts, body, rollout=rollout, batch_size=batch_size)
    columns = [Column("Wave", "wave"), *DRY_RUN_COLUMNS] if rollout == "availability" else DRY_RUN_COLUMNS
    _finish(result, columns=columns, table_view=_dry_run_table, what="reading")


def _dry_run_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "kbs": ", ".join(p.get("kbId") or p.get("name") or "?" for p in r.get("wouldInstall") or []),
             "errorMessage": (r.get("error") or {}).get("message")} for r in rows]


DRY_RUN_COLUMNS = [Column("Name", "name"), Column("ResourceGroup", "resourceGroup"),
                   Column("Assessment", "assessment"), Column("WouldInstall", "kbs"),
                   Column("MayReboot", "mayReboot"), Column("Advice", "advice"), Column("Error", "errorMessage")]


def _install_lines(body: dict[str, Any]) -> list[str]:
    windows = body.get("windowsParameters") or {}
    lines = [f"reboot setting {body.get('rebootSetting')}, maximum duration {body.get('maximumDuration')}"]
    if windows.get("classificationsToInclude"):
        lines.append("classifications " + ", ".join(windows["classificationsToInclude"]))
    if windows.get("kbNumbersToInclude"):
        lines.append("KBs to include " + ", ".join(f"KB{k}" for k in windows["kbNumbersToInclude"]))
    if windows.get("kbNumbersToExclude"):
        lines.append("KBs to exclude " + ", ".join(f"KB{k}" for k in windows["kbNumbersToExclude"]))
    if windows.get("excludeKbsRequiringReboot"):
        lines.append("KBs that may reboot are left out")
    if windows.get("maxPatchPublishDate"):
        lines.append(f"published on or before {windows['maxPatchPublishDate']}")
    return lines


def _status_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        a = r.get("lastAssessment") or {}
        i = r.get("lastInstallation") or {}
        out.append({**r, "assessed": a.get("time"), "critical": a.get("criticalAndSecurityPatchCount"),
                    "other": a.get("otherPatchCount"), "rebootPending": a.get("rebootPending"),
                    "installed": i.get("time"), "installStatus": i.get("status"),
                    "trackState": ((r.get("track") or {}).get("state") or "") +
                    (f" {r['track']['month']}" if (r.get("track") or {}).get("month") else ""),
                    "flagList": ", ".join(r.get("flags") or []),
                    "scheduleList": ", ".join(x["name"] for x in r.get("schedules") or []),
                    "errorMessage": (r.get("error") or {}).get("message")})
    return out


# The order is -o tsv's (scripts rely on it): new columns go at the end.
# Too wide a default table first loses the assessment and installation details, then Hotpatch (Flags says
# hotpatch-off) and Zone, then Flags.
STATUS_COLUMNS = [Column("Name", "name", rank=2), Column("ResourceGroup", "resourceGroup", rank=2),
                  Column("Zone", "zone", rank=1), Column("Hotpatch", "hotpatch", rank=1),
                  Column("PatchMode", "patchMode", wide=True), Column("AssessmentMode", "assessmentMode", wide=True),
                  Column("OsVersion", "osVersion", rank=2), Column("Track", "trackState", rank=2),
                  Column("LastAssessed", "assessed"), Column("Critical+Security", "critical"),
                  Column("Other", "other"), Column("RebootPending", "rebootPending"),
                  Column("LastInstall", "installed"), Column("InstallStatus", "installStatus"),
                  Column("Flags", "flagList", rank=2), Column("Schedule", "scheduleList", rank=3),
                  Column("Error", "errorMessage", wide=True), Column("Id", "id", wide=True),
                  Column("Kind", "kind", rank=1)]


AsOfOpt = Annotated[str | None, typer.Option(
    "--as-of", metavar="DATE", help="Judge the hotpatch track as of this day (YYYY-MM-DD; default today).")]


def _as_of(text: str | None) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--as-of {text!r} is not a date; use YYYY-MM-DD, e.g. 2026-06-09.") from None


@command
def status(
    name: NameOpt = None,
    resource_group: GroupOpt = None,
    ids: IdsOpt = None,
    tag: TagOpt = None,
    kind: KindOpt = None,
    as_of: AsOfOpt = None,
    max_parallel: MaxParallelOpt = DEFAULT_MAX_PARALLEL,
) -> None:
    """Show hotpatch settings, the hotpatch track, and the last assessment and installation of VMs and Arc
    machines.

    Reads each VM's model (hotpatch, patch mode, assessment mode) and its instance view (OS build,
    patchStatus). For Arc machines (Azure Local VMs too) it reads the agent's report and the hotpatch
    enrollment, and their last runs from Resource Graph; the columns mean the same. The track says whether
    the build is the current baseline or hotpatch, behind (and missing which releases), or off track (e.g.
    after an out-of-band cumulative update). Schedules are the Update Manager maintenance configurations
    each VM is in (assigned, or matched by a dynamic scope).

    Example:

        hpctl status -g rg-web -o table

        hpctl status --kind arc -o table
    """
    from hpctl import patching
    from hpctl.cli.common import warn_if_stale
    from hpctl.core.calendar import load_calendar
    from hpctl.fleet.commands import for_each_subscription

    today = _as_of(as_of)
    spec = _targets(name, resource_group, ids, tag, kind)
    s = settings()
    result = for_each_subscription(
        s.cloud, s.subscription, spec,
        lambda conn, part: patching.status(conn, part, today=today, max_parallel=max_parallel))
    warn_if_stale(load_calendar(), today)
    _finish(result, columns=STATUS_COLUMNS, table_view=_status_table, what="status")

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
    MaxParallelOpt,
    NameOpt,
    NoWaitOpt,
    TagOpt,
    command,
    settings,
)
from hpctl.errors import InputError
from hpctl.output import Column, render
from hpctl.runner import DEFAULT_MAX_PARALLEL


def _per_subscription(spec: Any, action: Any) -> Any:
    """Run `action(conn, spec)` once per subscription the targets live in (--ids may span several)."""
    from dataclasses import replace

    from hpctl.edge.clients import connect
    from hpctl.patching import FleetResult

    s = settings()
    subscriptions = [s.subscription] if s.subscription or not spec.subscriptions else list(spec.subscriptions)
    if len(subscriptions) == 1:
        return action(connect(s.cloud, subscriptions[0]), spec)
    merged = FleetResult()
    for subscription in subscriptions:
        part = replace(spec, vms=tuple(vm for vm in spec.vms if vm.subscription == subscription))
        result = action(connect(s.cloud, subscription), part)
        merged.rows += result.rows
        merged.failed += result.failed
    return merged


def _finish(result: Any, *, columns: list[Column], table_view: Any, what: str) -> None:
    """Render every row, then exit 1 if any target failed (or the single target's own code)."""
    if result.single_error is not None:
        raise result.single_error
    s = settings()
    render(result.rows, s.output, s.query, columns=columns, table_view=table_view)
    if result.failed:
        names = ", ".join(r["name"] for r in result.failed[:5]) + (" …" if len(result.failed) > 5 else "")
        print(f"ERROR: {what} failed on {len(result.failed)} of {len(result.rows)} VMs: {names}", file=sys.stderr)
        for row in result.failed[:5]:
            err = row.get("error") or (row.get("installation") or row.get("assessment") or {}).get("error") or {}
            print(f"  {row['resourceGroup']}/{row['name']}: {err.get('message') or err.get('code')}", file=sys.stderr)
        raise typer.Exit(1)


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
                  Column("RebootPending", "rebootPending"), Column("Flags", "flagList"),
                  Column("Patches", "patchList"), Column("Error", "errorMessage")]


def _targets(name: list[str] | None, resource_group: str | None, ids: list[str] | None, tag: list[str] | None) -> Any:
    from hpctl.core.targets import parse_targets

    return parse_targets(name or [], resource_group, ids or [], tag or [])


@command
def assess(
    name: NameOpt = None,
    resource_group: GroupOpt = None,
    ids: IdsOpt = None,
    tag: TagOpt = None,
    no_wait: NoWaitOpt = False,
    max_parallel: MaxParallelOpt = DEFAULT_MAX_PARALLEL,
) -> None:
    """Assess available patches on VMs (one, a group, tagged, or the whole subscription).

    Shows per VM the status, critical+security and other counts, whether a reboot is pending, and the
    patches found (KB, classification, reboot behaviour). VMs whose image can't hotpatch, or whose patch
    mode isn't AutomaticByPlatform, are assessed too but flagged.

    Example:

        hpctl assess -g rg-web -n web-01

        hpctl assess -g rg-web --tag env=prod -o table
    """
    from hpctl import patching
    from hpctl.cli.progress import fleet_progress

    spec = _targets(name, resource_group, ids, tag)
    with fleet_progress(len(spec.vms) or 0, "assess") as done:
        result = _per_subscription(spec, lambda conn, part: patching.assess(
            conn, part, wait=not no_wait, max_parallel=max_parallel, on_done=done))
    _finish(result, columns=ASSESS_COLUMNS, table_view=_assess_table, what="assessment")


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
                   Column("RebootStatus", "rebootStatus"), Column("Flags", "flagList"),
                   Column("Patches", "patchList"), Column("Error", "errorMessage")]


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
    "--state-file", metavar="FILE", help="Where the rollout records its progress (default ~/.hpctl/rollouts/).")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue an interrupted or stopped rollout: VMs "
                                         "already done are skipped.")]


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
    rollout: RolloutOpt = "none",
    batch_size: BatchSizeOpt = 10,
    state_file: StateFileOpt = None,
    resume: ResumeOpt = False,
    no_wait: NoWaitOpt = False,
    max_parallel: MaxParallelOpt = DEFAULT_MAX_PARALLEL,
) -> None:
    """Install patches on VMs now. Azure gives on-demand installs no availability-first ordering; with
    --rollout availability hpctl does: zones one at a time, availability sets one update domain at a time,
    a health check after each wave, a stop on the first failure, and --resume to carry on.

    Every value is checked before anything is sent. Lists every VM with its outcome; exits 1 if any failed.

    Example:

        hpctl install -g rg-web --classification Critical,Security --reboot-setting IfRequired

        hpctl install -g rg-web -n web-01 --kb-include KB5087424 --exclude-reboot-required --reboot-setting Never

        hpctl install --tag env=prod --classification Security --reboot-setting IfRequired --rollout availability
    """
    from hpctl.core.patch_options import build_install_options

    options = build_install_options(
        classification, kb_include, kb_exclude, exclude_reboot_required, max_publish_date, reboot_setting,
        max_duration,
    )
    if rollout not in ("none", "availability"):
        raise InputError(f"--rollout {rollout!r} is not a rollout mode; use none or availability.")
    if rollout == "none" and (resume or state_file or batch_size != 10):
        raise InputError("--batch-size, --state-file and --resume go with --rollout availability.")
    if rollout == "availability" and no_wait:
        raise InputError("--rollout availability waits for each wave to be healthy; drop --no-wait.")
    if resume and state_file is not None and not state_file.exists():
        raise InputError(f"--resume: no rollout state at {state_file}; run without --resume to start one.")
    if not 1 <= batch_size <= 1000:
        raise InputError(f"--batch-size {batch_size} is out of range; use 1-1000 VMs per wave.")
    spec = _targets(name, resource_group, ids, tag)
    from hpctl import patching
    from hpctl.cli.progress import fleet_progress

    if rollout == "availability":
        _rollout(spec, options.to_wire(), batch_size, state_file, resume, max_parallel)
        return
    with fleet_progress(len(spec.vms) or 0, "install") as done:
        result = _per_subscription(spec, lambda conn, part: patching.install(
            conn, part, options.to_wire(), wait=not no_wait, max_parallel=max_parallel, on_done=done))
    _finish(result, columns=INSTALL_COLUMNS, table_view=_install_table, what="installation")


def _rollout(spec: Any, body: dict[str, Any], batch_size: int, state_file: Path | None, resume: bool,
             max_parallel: int) -> None:
    from hpctl.cli.common import info
    from hpctl.rollout import install_availability_first

    def on_wave(wave: Any) -> None:
        info(f"Wave {wave.number}: {wave.label} ({len(wave.members)} VM{'s' if len(wave.members) != 1 else ''})")

    result = _per_subscription(spec, lambda conn, part: install_availability_first(
        conn, part, body, batch_size=batch_size, state_path=state_file, resume=resume, max_parallel=max_parallel,
        on_wave=on_wave)[0])
    if result.stopped:
        info(f"{result.stopped}; fix it, then rerun with --resume (progress is in {result.state_path}).")
    _finish(result, columns=[Column("Wave", "wave"), *INSTALL_COLUMNS], table_view=_install_table,
            what="installation")


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
                    "errorMessage": (r.get("error") or {}).get("message")})
    return out


STATUS_COLUMNS = [Column("Name", "name"), Column("ResourceGroup", "resourceGroup"), Column("Zone", "zone"),
                  Column("Hotpatch", "hotpatch"), Column("PatchMode", "patchMode"),
                  Column("AssessmentMode", "assessmentMode"), Column("OsVersion", "osVersion"),
                  Column("Track", "trackState"),
                  Column("LastAssessed", "assessed"), Column("Critical+Security", "critical"),
                  Column("Other", "other"), Column("RebootPending", "rebootPending"),
                  Column("LastInstall", "installed"), Column("InstallStatus", "installStatus"),
                  Column("Flags", "flagList"), Column("Error", "errorMessage")]


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
    as_of: AsOfOpt = None,
    max_parallel: MaxParallelOpt = DEFAULT_MAX_PARALLEL,
) -> None:
    """Show hotpatch settings, the hotpatch track, and the last assessment and installation of VMs.

    Reads each VM's model (hotpatch, patch mode, assessment mode) and its instance view (OS build,
    patchStatus). The track says whether the build is the current baseline or hotpatch, behind (and
    missing which releases), or off track (e.g. after an out-of-band cumulative update).

    Example:

        hpctl status -g rg-web -o table
    """
    from hpctl import patching

    today = _as_of(as_of)
    spec = _targets(name, resource_group, ids, tag)
    result = _per_subscription(
        spec, lambda conn, part: patching.status(conn, part, today=today, max_parallel=max_parallel))
    _finish(result, columns=STATUS_COLUMNS, table_view=_status_table, what="status")

"""`hpctl arc enable-hotpatch` / `disable-hotpatch`: hotpatch enrollment of Arc-connected Windows Server 2025
machines (Azure Local VMs included) through their license profile."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from hpctl.cli.common import GroupOpt, HpctlGroup, command, info, settings
from hpctl.cli.confirm import YesOpt
from hpctl.cli.patch import InFlightOpt
from hpctl.cli.patch import _finish as finish_fleet
from hpctl.errors import InputError
from hpctl.output import Column, render

app = typer.Typer(cls=HpctlGroup, no_args_is_help=True,
                  help="Azure Arc machines: hotpatch enrollment (Windows Server 2025 Standard/Datacenter).")

COLUMNS = [Column("Name", "name"), Column("ResourceGroup", "resourceGroup"), Column("Outcome", "outcome"),
           Column("License", "license"), Column("EnrollmentDate", "enrolled"), Column("Reason", "why", wrap=True),
           Column("Id", "id", wide=True)]


def _table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        e = r.get("enrollment") or {}
        out.append({**r, "license": e.get("status"), "enrolled": e.get("enrollmentDate"),
                    "why": r.get("reason") or (r.get("error") or {}).get("message")})
    return out


def _arc_targets(name: list[str] | None, resource_group: str | None, ids: list[str] | None,
                 tag: list[str] | None) -> Any:
    from hpctl.core.targets import ARC_KIND, parse_targets

    spec = parse_targets(name or [], resource_group, ids or [], tag or [])
    vm = next((ref for ref in spec.vms if ref.kind == "vm"), None)
    if vm is not None:
        raise InputError(f"--ids names VM {vm.name}, not an Arc machine; for an Azure VM use hpctl vm "
                         "enable-hotpatch, and give Microsoft.HybridCompute/machines ids here.")
    return parse_targets(name or [], resource_group, ids or [], tag or [], ARC_KIND)


def _change(enable: bool, name: list[str] | None, resource_group: str | None, ids: list[str] | None,
            tag: list[str] | None, yes: bool, dry_run: bool, max_parallel: int | None) -> None:
    from hpctl.cli.confirm import confirm_write, require_tty_or_yes
    from hpctl.cli.patch import _in_flight, _pool
    from hpctl.cli.progress import fleet_progress
    from hpctl.core.arc_enrollment import billing_notice
    from hpctl.fleet import enrollment
    from hpctl.fleet.commands import resolve_parts
    from hpctl.fleet.interrupts import interrupts

    in_flight = _in_flight(max_parallel)
    spec = _arc_targets(name, resource_group, ids, tag)
    if not dry_run:
        # Enrolling has billing terms, so it asks even for one machine: no terminal and no --yes is refused now.
        require_tty_or_yes(yes=yes, may_be_many=enable or spec.scope != "vms" or len(spec.vms) > 1)
    s = settings()
    parts = resolve_parts(s.cloud, s.subscription, spec, pool_size=_pool(in_flight))
    plan = enrollment.plan(parts, enable=enable, named=spec.scope == "vms")
    for item in plan.items:
        if item.verdict.action not in ("enroll", "disenroll"):
            info(item.verdict.reason)
    if dry_run:
        render({"dryRun": True, "requests": enrollment.requests(plan),
                "notSent": [{"name": i.target.name, "resourceGroup": i.target.resource_group,
                             "reason": i.verdict.reason} for i in plan.items if i not in plan.to_send]},
               "json" if s.output in ("table", "tsv") else s.output, s.query)
        return
    if plan.to_send:
        what = "Enroll in hotpatch (PUT licenseProfiles/default)" if enable else \
            "Disenroll from hotpatch (PATCH licenseProfiles/default, Disable)"
        details = [f"  {i.target.resource_group}/{i.target.name}" for i in plan.to_send]
        if enable:
            notice = billing_notice(date.today())
            info(notice)
            details.append(f"  {notice}")
        confirm_write(what, len(plan.to_send), details, yes=yes, always=enable, noun="Arc machine")
    with interrupts() as interrupt, fleet_progress(len(plan.to_send), "arc-enroll" if enable else
                                                   "arc-disenroll") as progress:
        result = enrollment.run(plan, interrupt=interrupt, max_parallel=in_flight, on_progress=progress)
    finish_fleet(result, columns=COLUMNS, table_view=_table, what="enrollment" if enable else "disenrollment")


NamesOpt = Annotated[list[str] | None, typer.Option("--name", "-n", metavar="MACHINE",
                                                    help="Arc machine name (repeatable); needs -g.")]
IdsOpt = Annotated[list[str] | None, typer.Option(
    "--ids", metavar="ID", help="Arc machine resource ids, .../Microsoft.HybridCompute/machines/NAME (repeatable).")]
TagOpt = Annotated[list[str] | None, typer.Option(
    "--tag", metavar="KEY[=VALUE]", help="Only machines with this tag (repeatable; all must match).")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the requests (method, URL, body); send nothing.")]


@app.command("enable-hotpatch")
@command
def enable_hotpatch(
    name: NamesOpt = None,
    resource_group: GroupOpt = None,
    ids: IdsOpt = None,
    tag: TagOpt = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    max_parallel: InFlightOpt = None,
) -> None:
    """Enroll Arc-connected Windows Server 2025 Standard/Datacenter machines in hotpatch.

    Checks every machine before anything is sent: Windows Server 2025 Standard or Datacenter at build
    26100.1742 or later, and a connected agent (a named machine that fails a check refuses the command;
    in a group it is skipped with the reason). Datacenter: Azure Edition needs no enrollment and is left
    alone; so is a machine already enrolled. Shows what enrolling means for billing and asks (--yes skips
    the question), then PUTs licenseProfiles/default and waits for Enabled (about 10 minutes; VBS must be
    running). Lists each machine's outcome; exits 1 if any failed. --dry-run prints the requests.

    Example:

        hpctl arc enable-hotpatch -g rg-arc-onprem -n arc-std-01 --yes

        hpctl arc enable-hotpatch -g rg-arc-onprem --dry-run
    """
    _change(True, name, resource_group, ids, tag, yes, dry_run, max_parallel)


@app.command("disable-hotpatch")
@command
def disable_hotpatch(
    name: NamesOpt = None,
    resource_group: GroupOpt = None,
    ids: IdsOpt = None,
    tag: TagOpt = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    max_parallel: InFlightOpt = None,
) -> None:
    """Disenroll Arc machines from hotpatch (PATCH licenseProfiles/default with Disable).

    Machines that are not enrolled, and Azure Edition machines (hotpatch built in), are left alone; a
    named machine whose agent is not connected refuses the command. Asks on more than one machine (--yes
    skips the question); --dry-run prints the requests.

    Example:

        hpctl arc disable-hotpatch -g rg-arc-onprem -n arc-dc-01 --yes

        hpctl arc disable-hotpatch --tag ring=pilot --dry-run
    """
    _change(False, name, resource_group, ids, tag, yes, dry_run, max_parallel)

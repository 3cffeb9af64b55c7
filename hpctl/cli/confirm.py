"""Confirmation before a write on more than one VM: show what will happen, ask on a terminal, --yes/-y skips.

Every fleet write uses `confirm_write` (install, rollouts, bulk enable-hotpatch, rollback, Arc enrollment)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Annotated, Any

import typer

from hpctl.errors import InputError

YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not prompt for confirmation (needed without a "
                                                          "terminal, e.g. in CI).")]


def target_lines(targets: Iterable[Any]) -> list[str]:
    """VM counts per resource group and zone, from targets carrying their VM model (`.vm`, `.resource_group`)."""
    from hpctl.core.vm_facts import vm_facts

    groups: dict[str, dict[str, int]] = {}
    for target in targets:
        vm = getattr(target, "vm", None) or {}
        zones = vm_facts(vm).zones if vm else ()
        zone = f"zone {zones[0]}" if zones else "no zone"
        per_zone = groups.setdefault(getattr(target, "resource_group", "?"), {})
        per_zone[zone] = per_zone.get(zone, 0) + 1
    lines = []
    for group in sorted(groups, key=str.lower):
        counts = groups[group]
        detail = ", ".join(f"{zone}: {n}" for zone, n in sorted(counts.items()))
        lines.append(f"  {group}: {sum(counts.values())} VMs ({detail})")
    return lines


NO_TTY = "no tty available for prompting; use --yes (-y) to go ahead without a question."


def require_tty_or_yes(*, yes: bool, may_be_many: bool) -> None:
    """Before reading anything: a write that may touch several VMs, without --yes and without a terminal to
    ask on, is refused at once (exit 2, nothing sent)."""
    if may_be_many and not yes and not sys.stdin.isatty():
        raise InputError(NO_TTY)


def confirm_write(what: str, count: int, details: list[str], *, yes: bool, always: bool = False,
                  noun: str = "VM") -> None:
    """Ask before `what` runs on `count` VMs (one VM needs no question, unless `always`: e.g. a VM leaving its
    maintenance schedule, or an Arc enrollment with billing terms). Without a terminal and without --yes: exit 2,
    nothing sent (as az does). A 'no' also sends nothing (exit 2)."""
    if yes or (count <= 1 and not always) or count == 0:
        return
    print(f"{what} on {count} {noun}{'s' if count != 1 else ''}:", file=sys.stderr)
    for line in details:
        print(line, file=sys.stderr)
    if not sys.stdin.isatty():
        raise InputError(NO_TTY)
    if not typer.confirm("Proceed?", default=False, err=True):
        raise InputError("Cancelled: nothing was sent.")

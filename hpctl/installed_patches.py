"""`hpctl vm patches`: what each VM really has installed, read inside it through Run Command (read-only), sent
through the fleet engine (Run Command is charged to Compute's Update VM budget)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hpctl.core.calendar import Calendar, load_calendar
from hpctl.core.guest_scripts import INVENTORY_SCRIPT, ScriptFailed
from hpctl.core.installed import Inventory, inventory_row, parse_inventory
from hpctl.core.track import track_of
from hpctl.edge.clients import Connection
from hpctl.fleet.engine import RunStats
from hpctl.fleet.guest_kinds import RunCommandKind
from hpctl.fleet.kinds import FAILED, SUCCEEDED
from hpctl.fleet.writes import WriteOptions, run_write, summary_line
from hpctl.patching import FleetResult, Target, as_error, error_dict

# Outcomes besides Succeeded / Failed: the VM can't run a script now, so nothing was sent to it.
DEALLOCATED = "Deallocated"
AGENT_NOT_READY = "AgentNotReady"
SCRIPT_FAILED = "ScriptFailed"
NOT_WINDOWS = "NotWindows"


def unreachable(vm: dict[str, Any]) -> tuple[str, str] | None:
    """(outcome, why) when hpctl's PowerShell can't run in the VM: not Windows, stopped, or no VM agent (read
    from the model and its instance view, so nothing is sent)."""
    props = vm.get("properties") or {}
    os_disk = (props.get("storageProfile") or {}).get("osDisk") or {}
    if (props.get("osProfile") or {}).get("linuxConfiguration") is not None or \
            str(os_disk.get("osType", "")).lower() == "linux":
        return NOT_WINDOWS, "the VM runs Linux; hpctl reads and rolls back Windows Server VMs only"
    view = props.get("instanceView") or {}
    codes = [str(s.get("code", "")) for s in view.get("statuses") or []]
    power = next((c.split("/", 1)[1] for c in codes if c.startswith("PowerState/")), None)
    if power in ("deallocated", "deallocating", "stopped", "stopping"):
        return DEALLOCATED, f"the VM is {power}; start it to read or change what is installed"
    agent = (view.get("vmAgent") or {}).get("statuses") or []
    if agent and all(s.get("displayStatus") != "Ready" for s in agent):
        return AGENT_NOT_READY, "the VM agent is not ready, so Run Command can't reach the guest"
    return None


def inventory_kind(conn: Connection) -> RunCommandKind:
    return RunCommandKind(conn, INVENTORY_SCRIPT, "inventory", resend_safe=True)


def key_of(target: Target) -> str:
    return target.name.lower() + "@" + target.resource_group.lower()


def _row(target: Target, outcome: str, error: dict[str, Any] | None) -> dict[str, Any]:
    return {"name": target.name, "resourceGroup": target.resource_group,
            "id": (target.vm or {}).get("id"), "outcome": outcome, "error": error}


def inventories(conn: Connection, targets: list[Target], options: WriteOptions
                ) -> tuple[dict[str, Inventory], list[dict[str, Any]], int]:
    """Read every reachable target's inventory; rows for the ones that could not be read (nothing is sent to a
    deallocated VM or one without an agent). Also the count of throttled requests waited out."""
    rows: list[dict[str, Any]] = []
    reachable: list[Target] = []
    for target in targets:
        problem = unreachable(target.vm or {}) if target.error is None else None
        if target.error is not None:
            rows.append(_row(target, FAILED, error_dict(target.error)))
        elif problem is not None:
            rows.append(_row(target, problem[0], {"message": f"{target.name}: {problem[1]}", "exitCode": 1,
                                                  "hint": None}))
        else:
            reachable.append(target)
    found: dict[str, Inventory] = {}
    outcomes, stats = run_write(conn, inventory_kind(conn), reachable, options) if reachable else ([], None)
    for target, outcome in zip(reachable, outcomes, strict=True):
        if outcome.status == SUCCEEDED:
            try:
                found[key_of(target)] = parse_inventory(outcome.detail or {})
                continue
            except ScriptFailed as exc:
                outcome.status, outcome.error = FAILED, exc
        status = SCRIPT_FAILED if isinstance(outcome.error, ScriptFailed) else outcome.status
        row = _row(target, status, error_dict(outcome.error) if outcome.error else None)
        if outcome.detail and outcome.detail.get("stderr"):
            row["stderr"] = outcome.detail["stderr"]
        rows.append(row)
    return found, rows, stats.throttled if stats else 0


def track_detail(build: str, today: date, calendar: Calendar) -> dict[str, Any]:
    track = track_of(f"10.0.{build}", today, calendar)
    return {"state": track.state, "month": track.month, "detail": track.detail}


def patches(conn: Connection, targets: list[Target], options: WriteOptions, *, today: date) -> FleetResult:
    """Per VM: the exact build and its track, each installed update matched to the calendar, the last known
    good baseline present. Deallocated VMs, VMs without an agent and failing scripts get their own outcome."""
    calendar = load_calendar()
    found, unread, _ = inventories(conn, targets, options)
    by_key = {(r["name"].lower(), r["resourceGroup"].lower()): r for r in unread}
    result = FleetResult()
    for target in targets:
        row = by_key.get((target.name.lower(), target.resource_group.lower()))
        if row is None:
            inventory = found[key_of(target)]
            row = {**_row(target, SUCCEEDED, None), **inventory_row(calendar, inventory),
                   "track": track_detail(inventory.build, today, calendar)}
        elif row["outcome"] not in ("NotStarted", "Accepted", "Unknown"):
            result.failed.append(row)
        result.rows.append(row)
    result.summary = summary_line("vm patches", result.rows, RunStats())
    if options.interrupt.requested:
        result.interrupted = options.interrupt.exit_code
    if len(targets) == 1 and targets[0].error is not None:
        result.single_error = as_error(targets[0].error)  # e.g. not found: exit 3
    return result

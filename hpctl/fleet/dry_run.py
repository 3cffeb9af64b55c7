"""`install --dry-run`: reads only. Per VM, what its last assessment says the install would do, and the
wave it would run in."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from hpctl.core.install_preview import preview_vm
from hpctl.core.rollout import plan_waves
from hpctl.edge.clients import Connection
from hpctl.fleet.waves import rollout_target
from hpctl.fleet_reads import GraphScope, latest_patch_results
from hpctl.patching import FleetResult, Target, base_row, error_dict


def dry_run(conn: Connection, targets: list[Target], body: dict[str, Any], *, rollout: str, batch_size: int,
            now: datetime | None = None) -> FleetResult:
    """One row per VM: the patches that would install (from Resource Graph's record of its last assessment),
    whether any may reboot, the wave, and whether to assess first. Nothing is sent."""
    now = now or datetime.now(timezone.utc)
    readable = [t for t in targets if t.error is None]
    ids = [str((t.vm or {}).get("id")) for t in readable]
    scope = GraphScope([conn.subscription_id] if conn.subscription_id else None, None, ids, [])
    by_vm = latest_patch_results(conn, ids, scope).by_vm if ids else {}
    waves = {}
    if rollout == "availability":
        for wave in plan_waves([rollout_target(t) for t in readable], batch_size):
            for member in wave.members:
                waves[member.id] = (wave.number, wave.label)
    result = FleetResult()
    for target in targets:
        row = base_row(target)
        row["id"] = (target.vm or {}).get("id")
        if target.error is not None:
            row.update({"outcome": "Failed", "error": error_dict(target.error)})
            result.rows.append(row)
            result.failed.append(row)
            continue
        slot = by_vm.get(str(row["id"]).lower(), {})
        row.update({"outcome": "DryRun", **preview_vm(slot.get("assessment"), slot.get("patches") or [], body, now),
                    "error": None})
        if rollout == "availability":
            number, label = waves.get(rollout_target(target).id, (None, None))
            row.update({"wave": number, "waveLabel": label})
        result.rows.append(row)
    return result

"""On-demand installs rolled out availability-first: wave by wave, health-gated, stopping on failure,
resumable from a state file after an interruption."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpctl.core.rollout import RolloutTarget, Wave, plan_waves
from hpctl.core.targets import TargetSpec
from hpctl.core.vm_facts import vm_facts
from hpctl.edge import compute
from hpctl.edge.clients import Connection
from hpctl.errors import InputError, NotFoundError
from hpctl.patching import FleetResult, Target, error_dict, install_targets, select_targets
from hpctl.runner import DEFAULT_MAX_PARALLEL, run_each

log = logging.getLogger(__name__)
STATE_VERSION = 1


def default_state_dir() -> Path:
    return Path(os.environ.get("HPCTL_STATE_DIR") or Path.home() / ".hpctl" / "rollouts")


def rollout_key(targets: list[Target], body: dict[str, Any]) -> str:
    """Identifies a rollout: the same VMs with the same install settings."""
    ids = sorted((t.vm or {}).get("id", f"{t.resource_group}/{t.name}").lower() for t in targets)
    digest = hashlib.sha256(json.dumps({"vms": ids, "body": body}, sort_keys=True).encode()).hexdigest()
    return digest[:16]


@dataclass
class RolloutState:
    """What a rollout has finished, saved after every wave so an interrupted run can resume."""

    path: Path
    key: str
    completed: dict[str, str] = field(default_factory=dict)  # VM id -> wave label

    @classmethod
    def load(cls, path: Path, key: str, resume: bool) -> RolloutState:
        if not resume or not path.exists():
            if resume:
                raise InputError(f"--resume: no rollout state at {path}; run without --resume to start one.")
            return cls(path, key)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"--resume: {path} is unreadable ({exc}); delete it to start over.") from None
        if data.get("version") != STATE_VERSION or data.get("key") != key:
            raise InputError(f"--resume: {path} is for another rollout (other VMs or install settings); run "
                             "without --resume to start this one.")
        return cls(path, key, dict(data.get("completed") or {}))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write-then-rename, so a crash mid-write leaves the previous state intact.
        with tempfile.NamedTemporaryFile("w", dir=self.path.parent, delete=False, suffix=".tmp") as tmp:
            json.dump({"version": STATE_VERSION, "key": self.key, "completed": self.completed}, tmp, indent=2)
        os.replace(tmp.name, self.path)


def rollout_target(target: Target) -> RolloutTarget:
    vm = target.vm or {}
    facts = vm_facts(vm)
    view = (vm.get("properties") or {}).get("instanceView") or {}
    avset = facts.availability_set.rstrip("/").rsplit("/", 1)[-1] if facts.availability_set else None
    return RolloutTarget(id=facts.id.lower(), resource_group=target.resource_group, name=target.name,
                         zone=facts.zones[0] if facts.zones else None, availability_set=avset,
                         update_domain=view.get("platformUpdateDomain"))


def health_problem(vm: dict[str, Any]) -> str | None:
    """Why a VM isn't healthy after its install (None when it is): running, provisioned, install not failed."""
    view = (vm.get("properties") or {}).get("instanceView") or {}
    codes = [str(s.get("code", "")) for s in view.get("statuses") or []]
    power = next((c.split("/", 1)[1] for c in codes if c.startswith("PowerState/")), None)
    if power not in (None, "running"):
        return f"power state is {power}"
    if any(c.startswith("ProvisioningState/failed") for c in codes):
        return "provisioning state is failed"
    install = ((view.get("patchStatus") or {}).get("lastPatchInstallationSummary") or {}).get("status")
    if install == "Failed":
        return "its last installation is Failed"
    return None


def install_availability_first(
    conn: Connection, spec: TargetSpec, body: dict[str, Any], *, batch_size: int, state_path: Path | None,
    resume: bool, max_parallel: int = DEFAULT_MAX_PARALLEL, on_wave: Callable[[Wave], None] | None = None,
    on_done: Callable[[str, bool], None] | None = None,
) -> tuple[FleetResult, list[Wave]]:
    """Install wave by wave; after each wave check the VMs are healthy; stop at the first failure."""
    targets = select_targets(conn, spec, instance_view=True, max_parallel=max_parallel)
    if not targets:
        raise NotFoundError("No VM matched the targets given.",
                            hint="Check -g/--resource-group, -n/--name, --ids and --tag.")
    result = FleetResult()
    readable = [t for t in targets if t.error is None]
    for t in targets:
        if t.error is not None:
            row = {"name": t.name, "resourceGroup": t.resource_group, "outcome": "Failed", "wave": None,
                   "error": error_dict(t.error)}
            result.rows.append(row)
            result.failed.append(row)
    key = rollout_key(readable, body)
    state = RolloutState.load(state_path or default_state_dir() / f"{key}.json", key, resume)
    by_id = {rollout_target(t).id: t for t in readable}
    waves = plan_waves([rollout_target(t) for t in readable], batch_size)
    stopped: str | None = None
    for wave in waves:
        todo = [by_id[m.id] for m in wave.members if m.id not in state.completed]
        done_before = [by_id[m.id] for m in wave.members if m.id in state.completed]
        for t in done_before:
            result.rows.append({"name": t.name, "resourceGroup": t.resource_group, "outcome": "AlreadyDone",
                                "wave": wave.number, "waveLabel": wave.label, "error": None})
        if stopped is not None:
            for t in todo:
                result.rows.append({"name": t.name, "resourceGroup": t.resource_group, "outcome": "Skipped",
                                    "wave": wave.number, "waveLabel": wave.label, "error": None,
                                    "reason": stopped})
            continue
        if not todo:
            continue
        if on_wave is not None:
            on_wave(wave)
        part = install_targets(conn, todo, body, max_parallel=max_parallel, on_done=on_done)
        healthy = _health_gate(conn, todo, part, max_parallel)
        for row in part.rows:
            row.update({"wave": wave.number, "waveLabel": wave.label})
            result.rows.append(row)
        result.failed += part.failed
        for t, row in zip(todo, part.rows, strict=True):
            if row.get("outcome") == "Succeeded" and row.get("health") == "healthy":
                state.completed[(t.vm or {}).get("id", "").lower()] = wave.label
        state.save()
        if part.failed or not healthy:
            stopped = f"stopped after wave {wave.number} ({wave.label}): a VM failed or is unhealthy"
            log.warning(stopped)
    result.stopped = stopped
    result.state_path = str(state.path)
    return result, waves


def _health_gate(conn: Connection, todo: list[Target], part: FleetResult, max_parallel: int) -> bool:
    """Read each installed VM back; mark rows healthy or not. True when every VM of the wave is healthy."""
    ok_rows = {row["name"]: row for row in part.rows if row.get("outcome") == "Succeeded"}
    checked = run_each([t for t in todo if t.name in ok_rows],
                       lambda t: compute.get_vm(conn, t.resource_group, t.name, instance_view=True),
                       max_parallel=max_parallel)
    healthy = True
    for outcome in checked:
        row = ok_rows[outcome.target.name]
        problem = health_problem(outcome.value) if outcome.ok else f"could not be read: {outcome.error}"
        row["health"] = "healthy" if problem is None else f"unhealthy: {problem}"
        if problem is not None:
            healthy = False
            part.failed.append(row)
    return healthy and len(ok_rows) == len(todo)

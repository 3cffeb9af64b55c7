"""Benchmark fleet writes: assess then install on every VM of a 1,000-VM sandbox, twice in a row, at hpctl's
default settings, against the bound Compute's budgets and the operations' own durations allow; and the
plain-SDK sequential loop as the peer.

Per phase it reports wall time, the bound (with its arithmetic), 429s received, VMs failed by throttling,
outcomes, and the peak RSS of the hpctl process itself (read from /proc/self/status in that process: a
parent's RUSAGE_CHILDREN would carry its own peak).
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

# Both children report their own peak RSS (VmHWM) on exit: a fresh process's own high-water mark.
PEAK = """
import atexit, sys
def _peak():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            sys.stderr.write('PEAK_KIB ' + line.split()[1] + '\\n')
atexit.register(_peak)
"""

# hpctl in a fresh interpreter.
CHILD = PEAK + """
import runpy
sys.argv = ['hpctl'] + sys.argv[1:]
runpy.run_module('hpctl', run_name='__main__')
"""

# The peer: the plain SDK, one VM after another, each operation waited for.
PEER = PEAK + """
import json, time
from azure.core.credentials import AccessToken
from azure.mgmt.compute import ComputeManagementClient
endpoint = json.load(open(sys.argv[1]))
class Token:
    def get_token(self, *scopes, **kw):
        return AccessToken('t', int(time.time()) + 3600)
client = ComputeManagementClient(Token(), endpoint['subscription_id'], base_url=endpoint['url'],
                                 credential_scopes=[endpoint['url'] + '/.default'],
                                 connection_verify=endpoint['ca_file'], polling_interval=0.2)
vms = list(client.virtual_machines.list_all())[:int(sys.argv[2])]
body = {'maximumDuration': 'PT2H', 'rebootSetting': 'IfRequired',
        'windowsParameters': {'classificationsToInclude': ['Critical', 'Security']}}
out = {}
for phase in ('assess', 'install'):
    start, failed = time.perf_counter(), 0
    for vm in vms:
        group = vm.id.split('/')[4]
        try:
            if phase == 'assess':
                client.virtual_machines.begin_assess_patches(group, vm.name).result()
            else:
                client.virtual_machines.begin_install_patches(group, vm.name, body).result()
        except Exception:
            failed += 1
    out[phase] = {'wall': time.perf_counter() - start, 'failed': failed}
print(json.dumps(out))
"""

INSTALL = ["--classification", "Critical,Security", "--reboot-setting", "IfRequired"]


def peak_mib(stderr: str) -> float | None:
    lines = [line for line in stderr.splitlines() if line.startswith("PEAK_KIB ")]
    return round(int(lines[-1].split()[1]) / 1024, 1) if lines else None


def guest_patch_tokens(sandbox: Any) -> float:
    """Tokens left in the subscription's guest-patch bucket right now (the sandbox's own count)."""
    throttle = sandbox.throttle
    with throttle._lock:
        bucket = throttle._buckets.get(("VMGuestPatchOperationSubscriptionMaximum", ""))
        if bucket is None:
            return 600.0
        bucket.refill(throttle._clock())
        return bucket.tokens


def list_schedule(ops: list[Any], slots: int, tokens: float, refill: float, scale: float) -> float:
    """When the last operation would end if each, in the order the sandbox accepted them, started the moment a
    slot and (for VMs) a guest-patch token were free, and took exactly its duration."""
    free = [0.0] * slots
    heapq.heapify(free)
    spent = 0
    end = 0.0
    for op in sorted(ops, key=lambda o: o.start):
        start = heapq.heappop(free)
        if "/microsoft.compute/" in op.target.lower():
            spent += 1
            start = max(start, max(0.0, spent - tokens) / refill)
        finish = start + op.duration / scale
        heapq.heappush(free, finish)
        end = max(end, finish)
    return end


def run_phase(sandbox: Any, env: dict[str, str], name: str, args: list[str], seen_ops: set[str],
              scale: float, max_parallel: int | None) -> dict[str, Any]:
    kind = args[0]
    log_before = len(sandbox.requests())
    tokens = guest_patch_tokens(sandbox)
    start, start_mono = time.perf_counter(), time.monotonic()
    done = subprocess.run([sys.executable, "-c", CHILD, "--cloud", "sandbox", *args, "--yes", "-o", "json"],
                          capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"{name} exited {done.returncode}: {done.stderr[-800:]}")
    rows = json.loads(done.stdout)
    log = sandbox.requests()[log_before:]
    throttled_failures = [r for r in rows if r.get("outcome") == "Failed" and
                          any(word in json.dumps(r.get("error")) for word in ("TooManyRequests", "429"))]
    ops = [op for key, op in sandbox.backend.operations._by_id.items() if op.kind == kind and key not in seen_ops]
    seen_ops.update(op.id.lower() for op in ops)
    durations = [op.duration / scale for op in ops]
    # Only VMs draw on Compute's guest-patch budget; Arc machines (Microsoft.HybridCompute) on ARM's alone.
    vm_durations = [op.duration / scale for op in ops if "/microsoft.compute/" in op.target.lower()]
    n, n_vm = len(ops), len(vm_durations)
    refill = 200 / 60 * scale  # guest-patch tokens a wall second (200 a minute, on the sandbox's clock)
    t_n = max(0.0, n_vm - tokens) / refill
    bound = max(max(durations, default=0.0), t_n + min(vm_durations, default=0.0))
    arithmetic = (f"{n} ops ({n_vm} on VMs), {tokens:.0f} guest-patch tokens at start, refill {refill:.0f}/s -> "
                  f"the last VM's token at {t_n:.2f} s; durations {min(durations, default=0):.2f}-"
                  f"{max(durations, default=0):.2f} s; bound = max(longest, last token + shortest)")
    greedy = None
    if max_parallel:
        # At most max_parallel in flight: the operations' total time shared among that many can't be beaten.
        bound = max(bound, sum(durations) / max_parallel)
        arithmetic += f", and sum of durations / --max-parallel = {sum(durations) / max_parallel:.2f} s"
        # That needs knowing every duration beforehand. Without: each operation, in the order hpctl sent it,
        # takes the first free slot and token, with no time for HTTP or polling.
        greedy = list_schedule(ops, max_parallel, tokens, refill, scale)
    arithmetic += f" = {bound:.2f} s"
    posts = [r["at"] - log[0]["at"] for r in log if r["method"] == "POST" and r["status"] == 202] if log else []
    return {
        "phase": name,
        "vms": len(rows),
        "wall_s": round(wall, 2),
        "bound_s": round(bound, 2),
        "wall_over_bound": round(wall / bound, 2) if bound else None,
        "bound_arithmetic": arithmetic,
        **({"zero_overhead_greedy_s": round(greedy, 2), "wall_over_zero_overhead_greedy": round(wall / greedy, 2)}
           if greedy else {}),
        "requests": len(log),
        # When the sandbox answered the first request and accepted the last operation, from the first request.
        "first_request_after_s": round(log[0]["at"] - start_mono, 2) if log else None,
        "last_accepted_after_first_request_s": round(max(posts), 2) if posts else None,
        "http_429": sum(1 for r in log if r["status"] == 429),
        "failed_by_throttling": len(throttled_failures),
        "outcomes": dict(Counter(r.get("outcome") for r in rows)),
        "hpctl_peak_rss_mib": peak_mib(done.stderr),
    }


def run_rollout(sandbox: Any, env: dict[str, str], group: str, seen_ops: set[str], scale: float) -> dict[str, Any]:
    """install --rollout availability on one group, against the sum of its waves' slowest installs."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, "--cloud", "sandbox", "install", *INSTALL, "-g", group,
                           "--rollout", "availability", "--yes", "-o", "json"], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"rollout exited {done.returncode}: {done.stderr[-800:]}")
    rows = json.loads(done.stdout)
    ops = {op.target.lower(): op for key, op in sandbox.backend.operations._by_id.items()
           if op.kind == "install" and key not in seen_ops}
    seen_ops.update(op.id.lower() for op in ops.values())
    slowest: dict[int, float] = {}
    for row in rows:
        op = ops.get(str(row.get("id") or "").lower())
        if op is not None and row.get("wave"):
            slowest[row["wave"]] = max(slowest.get(row["wave"], 0.0), op.duration / scale)
    bound = sum(slowest.values())
    return {"phase": f"install --rollout availability -g {group}", "vms": len(rows), "waves": len(slowest),
            "wall_s": round(wall, 2), "sum_of_waves_slowest_install_s": round(bound, 2),
            "wall_over_bound": round(wall / bound, 2) if bound else None,
            "outcomes": dict(Counter(r.get("outcome") for r in rows)),
            "hpctl_peak_rss_mib": peak_mib(done.stderr)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fleet", type=int, default=1000, help="simulated VMs (default 1000)")
    parser.add_argument("--time-scale", type=float, default=600.0, help="sandbox time scale (default 600)")
    parser.add_argument("--peer-vms", type=int, default=50,
                        help="VMs for the plain-SDK sequential loop (extrapolated to the fleet; default 50)")
    parser.add_argument("--max-parallel", type=int, default=None, help="pass --max-parallel to hpctl")
    parser.add_argument("--rounds", type=int, default=2, help="assess + install rounds (default 2)")
    parser.add_argument("--no-rollout", action="store_true", help="skip the rollout on rg-web")
    args = parser.parse_args()

    from hpctl.cli.sandbox import demo_day
    from hpctl.sandbox import Sandbox, SandboxConfig

    extra = ["--max-parallel", str(args.max_parallel)] if args.max_parallel else []
    results: dict[str, Any] = {"fleet": args.fleet, "time_scale": args.time_scale}
    with tempfile.TemporaryDirectory(prefix="hpctl-bench-") as tmp:
        sandbox = Sandbox(SandboxConfig(fleet=args.fleet, seed=7, date=demo_day(), time_scale=args.time_scale,
                                        state_dir=Path(tmp) / "sandbox"))
        sandbox.start()
        env = {**os.environ, "HOME": tmp, "HPCTL_SANDBOX_DIR": str(Path(tmp) / "sandbox")}
        seen: set[str] = set()
        try:
            phases = []
            started = time.perf_counter()
            for round_number in range(1, args.rounds + 1):
                phases.append(run_phase(sandbox, env, f"assess #{round_number}", ["assess", *extra], seen,
                                        args.time_scale, args.max_parallel))
                phases.append(run_phase(sandbox, env, f"install #{round_number}", ["install", *INSTALL, *extra],
                                        seen, args.time_scale, args.max_parallel))
            results["phases"] = phases
            results["all_phases_wall_s"] = round(time.perf_counter() - started, 2)
            results["all_phases_simulated_minutes"] = round(results["all_phases_wall_s"] * args.time_scale / 60, 1)
            if not args.no_rollout:
                results["rollout"] = run_rollout(sandbox, env, "rg-web", seen, args.time_scale)
            if args.peer_vms:
                endpoint = str(Path(tmp) / "sandbox" / "endpoint.json")
                log_before = len(sandbox.requests())
                peer = subprocess.run([sys.executable, "-c", PEER, endpoint, str(args.peer_vms)],
                                      capture_output=True, text=True, env=env)
                if peer.returncode != 0:
                    sys.exit(f"peer failed: {peer.stderr[-800:]}")
                measured = json.loads(peer.stdout.strip().splitlines()[-1])
                factor = args.fleet / args.peer_vms
                results["peer_plain_sdk_sequential"] = {
                    "vms": args.peer_vms,
                    **{f"{phase}_wall_s": round(m["wall"], 2) for phase, m in measured.items()},
                    **{f"{phase}_failed": m["failed"] for phase, m in measured.items()},
                    **{f"{phase}_wall_s_extrapolated_to_{args.fleet}": round(m["wall"] * factor, 1)
                       for phase, m in measured.items()},
                    "http_429": sum(1 for r in sandbox.requests()[log_before:] if r["status"] == 429),
                    "peak_rss_mib": peak_mib(peer.stderr),
                }
        finally:
            sandbox.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

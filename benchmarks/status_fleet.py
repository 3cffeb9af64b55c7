"""Benchmark `hpctl status` over a sandbox subscription of 1,000 VMs against the raw list paging it rests on.

The peer is the plain SDK doing only the paging hpctl status needs: ComputeManagementClient's
virtual_machines.list_all(expand="instanceView") (one paged list, each VM with its instance view), run as a
fresh process like hpctl. Both processes' wall times include Python and the Azure SDK starting; the ratio
of the medians is what the goal is about (status within 1.5 x the raw paging).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from measure import machine_note, run_module, spread, start_sandbox

PEER = "hpctl_status_peer"
PEER_SOURCE = '''
"""The raw paging: every VM of the subscription with its instance view, through the plain SDK."""
import json, os, sys, time
from pathlib import Path
from azure.core.credentials import AccessToken
from azure.mgmt.compute import ComputeManagementClient


class Token:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("peer", int(time.time()) + 3600)


endpoint = json.loads((Path(os.environ["HPCTL_SANDBOX_DIR"]) / "endpoint.json").read_text())
client = ComputeManagementClient(Token(), endpoint["subscription_id"], base_url=endpoint["url"],
                                 credential_scopes=[endpoint["url"] + "/.default"],
                                 connection_verify=endpoint["ca_file"])
vms = [vm.as_dict() for vm in client.virtual_machines.list_all(expand="instanceView")]
print(len(vms))
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fleet", type=int, default=1_000, help="simulated VMs (default 1000)")
    parser.add_argument("--runs", type=int, default=7, help="runs of each to take the median of (default 7)")
    args = parser.parse_args()

    hpctl_walls: list[float] = []
    peer_walls: list[float] = []
    peaks: list[float] = []
    with tempfile.TemporaryDirectory(prefix="hpctl-bench-") as tmp:
        (Path(tmp) / f"{PEER}.py").write_text(PEER_SOURCE)
        # Budgets roomy enough that repeated runs measure paging, not Compute's read throttling.
        sandbox, day = start_sandbox(args.fleet, Path(tmp), budgets={
            "HighCostGetSubscriptionMaximum": 100_000, "LowCostGetResource": 100_000,
            "subscription-reads": 100_000, "subscription-global-reads": 100_000})
        env = {**os.environ, "HPCTL_SANDBOX_DIR": tmp, "PYTHONPATH": tmp}
        try:
            for _ in range(args.runs):
                # Interleaved, so that a busy moment of the machine falls on both alike.
                peer = run_module(PEER, [], env)
                if peer.returncode != 0:
                    sys.exit(f"peer failed: {peer.stderr[-500:]}")
                peer_walls.append(peer.wall)
                before = len(sandbox.requests())
                status = run_module("hpctl", ["--cloud", "sandbox", "status", "--as-of", day.isoformat()], env)
                if status.returncode != 0:
                    sys.exit(f"status exited {status.returncode}: {status.stderr[-500:]}")
                hpctl_walls.append(status.wall)
                if status.peak_mib is not None:
                    peaks.append(status.peak_mib)
                requests = len(sandbox.requests()) - before
                rows = len(json.loads(status.stdout))
                time.sleep(0.2)
        finally:
            sandbox.stop()
    result = {
        "fleet": args.fleet,
        "runs": args.runs,
        "machine": machine_note(),
        "vms_in_status": rows,
        "status_requests": requests,
        "peer_vms": int(peer.stdout.strip() or 0),
        "status_wall_seconds": spread(hpctl_walls),
        "peer_wall_seconds": spread(peer_walls),
        "status_over_peer": round(statistics.median(hpctl_walls) / statistics.median(peer_walls), 3),
        "status_peak_rss_mib": spread(peaks) if peaks else None,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

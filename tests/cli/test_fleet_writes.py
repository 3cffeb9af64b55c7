"""Fleet writes through the engine against a live sandbox: lost answers, throttled polls, results that say
Failed, the journal and --resume, health gates, several subscriptions. The sandbox's request log is the
witness: no VM ever gets two accepted installPatches."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter

import pytest

from tests.cli.conftest import point_at, running_sandbox

INSTALL = ["install", "--classification", "Critical,Security", "--reboot-setting", "IfRequired"]




def rows(result):
    assert result.stdout, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


def posts(box, verb, status=None):
    """VM name -> how many POSTs of `verb` (assessPatches / installPatches) the sandbox saw (with `status`)."""
    seen = Counter()
    for item in box.requests():
        match = re.search(rf"/virtualMachines/([^/]+)/{verb}$", item["path"], re.IGNORECASE)
        if item["method"] == "POST" and match and (status is None or item["status"] == status):
            seen[match.group(1)] += 1
    return seen


def test_an_install_whose_result_says_failed_exits_1(sandbox, hpctl):
    sandbox.fail_next_patches(r"web-02/installPatches$")
    result = hpctl(*INSTALL, "-g", "rg-web", "-n", "web-02")
    assert result.exit_code == 1
    row = rows(result)["web-02"]
    assert row["outcome"] == "Failed" and row["installation"]["status"] == "Failed"
    assert "installation failed on 1 of 1 VMs" in result.stderr


def test_resume_never_sends_again_an_install_that_was_accepted_and_failed(sandbox, hpctl, tmp_path):
    journal = tmp_path / "install.journal"
    sandbox.fail_next_patches(r"web-02/installPatches$")
    first = hpctl(*INSTALL, "-g", "rg-web", "-n", "web-01", "-n", "web-02", "--yes", "--state-file", str(journal))
    assert first.exit_code == 1 and rows(first)["web-02"]["outcome"] == "Failed"
    resumed = hpctl(*INSTALL, "-g", "rg-web", "-n", "web-01", "-n", "web-02", "--yes", "--state-file", str(journal),
                    "--resume")
    assert resumed.exit_code == 1
    again = rows(resumed)
    assert again["web-01"]["outcome"] == "AlreadyDone"
    # Read back from the VM (its last installation is still the failed one), not sent again.
    assert again["web-02"]["outcome"] == "Failed" and again["web-02"]["installation"]["status"] == "Failed"
    assert posts(sandbox, "installPatches", 202) == {"web-01": 1, "web-02": 1}
    # The operator installs on web-02 in a run of its own; --resume then reads that newer success back.
    assert hpctl(*INSTALL, "-g", "rg-web", "-n", "web-02").exit_code == 0
    fixed = hpctl(*INSTALL, "-g", "rg-web", "-n", "web-01", "-n", "web-02", "--yes", "--state-file", str(journal),
                  "--resume")
    assert fixed.exit_code == 0, fixed.stderr
    assert rows(fixed)["web-02"]["outcome"] == "Succeeded"
    assert posts(sandbox, "installPatches", 202) == {"web-01": 1, "web-02": 2}


def test_resume_keeps_a_failed_install_the_vm_shows_no_record_of(sandbox, hpctl, tmp_path):
    journal = tmp_path / "install.journal"
    both = ("-g", "rg-app", "-n", "app-04", "-n", "app-01", "--yes", "--state-file", str(journal))
    first = hpctl(*INSTALL, *both)  # app-04 has no VM agent
    assert first.exit_code == 1 and rows(first)["app-04"]["outcome"] == "Failed"
    resumed = hpctl(*INSTALL, *both, "--resume")
    assert resumed.exit_code == 1
    row = rows(resumed)["app-04"]
    assert row["outcome"] == "Failed" and "does not send it again" in row["error"]["message"]
    assert posts(sandbox, "installPatches", 202) == {"app-04": 1, "app-01": 1}


def test_a_dropped_install_is_reconciled_before_it_is_sent_again(sandbox, hpctl):
    sandbox.inject(method="POST", path_regex=r"web-01/installPatches$", status="drop", times=1)
    result = hpctl(*INSTALL, "-g", "rg-web", "-n", "web-01")
    assert result.exit_code == 0, result.stderr
    assert rows(result)["web-01"]["outcome"] == "Succeeded"
    log = [(r["method"], r["path"].rsplit("/", 1)[-1], r["status"]) for r in sandbox.requests()
           if "web-01" in r["path"]]
    first_drop = log.index(("POST", "installPatches", "drop"))
    # Between the lost answer and the second send, hpctl read the VM back to see whether it had started.
    assert ("GET", "web-01", 200) in log[first_drop:]
    assert log.index(("GET", "web-01", 200), first_drop) < log.index(("POST", "installPatches", 202))
    assert posts(sandbox, "installPatches", 202) == {"web-01": 1}


def test_a_dropped_assessment_is_simply_sent_again(sandbox, hpctl):
    sandbox.inject(method="POST", path_regex=r"web-01/assessPatches$", status="drop", times=1)
    result = hpctl("assess", "-g", "rg-web", "-n", "web-01")
    assert result.exit_code == 0, result.stderr
    assert rows(result)["web-01"]["assessment"]["status"] == "Succeeded"
    statuses = [r["status"] for r in sandbox.requests() if r["path"].endswith("web-01/assessPatches")]
    assert statuses == ["drop", 202]


def test_throttled_polls_keep_polling_and_the_install_succeeds(sandbox, hpctl):
    sandbox.inject(method="GET", path_regex=r"/operations/", status=429, times=3, retry_after=0)
    result = hpctl(*INSTALL, "-g", "rg-web", "-n", "web-03")
    assert result.exit_code == 0, result.stderr
    assert rows(result)["web-03"]["outcome"] == "Succeeded"
    assert [r["status"] for r in sandbox.requests() if "/operations/" in r["path"]][:3] == [429, 429, 429]


def test_polls_that_never_answer_end_unknown_never_failed(sandbox, hpctl):
    sandbox.inject(method="GET", path_regex=r"/operations/", status=503, times=100000, retry_after=0)
    result = hpctl(*INSTALL, "-g", "rg-web", "-n", "web-03")
    assert result.exit_code == 0, result.stderr
    row = rows(result)["web-03"]
    assert row["outcome"] == "Unknown" and "may still finish" in row["note"]
    assert "--resume" in result.stderr


def test_no_wait_then_resume_follows_the_accepted_installs_without_sending_again(sandbox, hpctl, tmp_path):
    journal = tmp_path / "run.journal"
    first = hpctl(*INSTALL, "-g", "rg-web", "--yes", "--no-wait", "--state-file", str(journal))
    assert first.exit_code == 0, first.stderr
    accepted = rows(first)
    assert {r["outcome"] for r in accepted.values()} == {"Accepted"}
    again = hpctl(*INSTALL, "-g", "rg-web", "--yes", "--state-file", str(journal))
    assert again.exit_code == 2 and "--resume" in again.stderr  # a fresh run must not re-install them
    resumed = hpctl(*INSTALL, "-g", "rg-web", "--yes", "--state-file", str(journal), "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    assert {r["outcome"] for r in rows(resumed).values()} == {"Succeeded"}
    assert set(posts(sandbox, "installPatches").values()) == {1}
    assert set(posts(sandbox, "installPatches")) == set(accepted)
    done = hpctl(*INSTALL, "-g", "rg-web", "--yes", "--state-file", str(journal), "--resume")
    assert done.exit_code == 0 and {r["outcome"] for r in rows(done).values()} == {"AlreadyDone"}
    assert set(posts(sandbox, "installPatches").values()) == {1}


def test_an_unhealthy_vm_after_a_wave_stops_the_rollout(sandbox, hpctl, tmp_path):
    # The health gate's read of a wave-1 VM finds it gone: the rollout must not go on to wave 2.
    sandbox.inject(method="GET", path_regex=r"/virtualMachines/web-\d+$", status=404, times=1)
    result = hpctl(*INSTALL, "-g", "rg-web", "--rollout", "availability", "--yes",
                   "--state-file", str(tmp_path / "rollout.journal"))
    assert result.exit_code == 1
    by_wave = {}
    for row in json.loads(result.stdout):
        by_wave.setdefault(row["wave"], []).append(row)
    assert any(str(r.get("health", "")).startswith("unhealthy") for r in by_wave[1])
    assert all(r["outcome"] == "Skipped" for wave, members in by_wave.items() if wave > 1 for r in members)
    assert "stopped after wave 1" in result.stderr


def test_a_failing_subscription_of_several_is_reported(sandbox, hpctl):
    good = (f"/subscriptions/{sandbox.subscription_id}/resourceGroups/rg-web/providers/Microsoft.Compute/"
            "virtualMachines/web-01")
    other = ("/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-x/providers/"
             "Microsoft.Compute/virtualMachines/far-01")
    result = hpctl("assess", "--ids", good, "--ids", other)
    assert result.exit_code == 1
    found = rows(result)
    assert found["web-01"]["outcome"] == "Succeeded"
    assert found["far-01"]["outcome"] == "Failed" and "11111111-2222-3333-4444-555555555555" in json.dumps(
        found["far-01"]["error"])
    assert "far-01" in result.stderr


def test_dry_run_reads_only_and_says_what_would_install(sandbox, hpctl):
    result = hpctl(*INSTALL, "-g", "rg-web", "--dry-run", "--rollout", "availability")
    assert result.exit_code == 0, result.stderr
    found = rows(result)
    assert all(r["outcome"] == "DryRun" and r["wave"] for r in found.values())
    # web-02 is one release behind: May 2026's hotpatch (Security, no reboot) is what would install.
    assert "KB5087424" in [p["kbId"] for p in found["web-02"]["wouldInstall"]]
    assert found["web-02"]["mayReboot"] is False
    assert not [r for r in sandbox.requests() if r["method"] != "GET" and "resourcegraph" not in r["path"].lower()]


def test_small_fault_soak_never_installs_twice_nor_hides_a_success(tmp_path, monkeypatch, hpctl):
    """A short version of benchmarks/fault_soak.py: 429s, 5xx, dropped connections and failed operations."""
    state = tmp_path / "soak"
    with running_sandbox(state, seed=3, faults="429=0.05,500=0.05,503=0.05,drop=0.05,fail=0.05") as box:
        point_at(monkeypatch, state)
        vms = {vm.name: vm for vm in box.backend.compute.list("rg-web")}
        before = {name: len(vm.installations) for name, vm in vms.items()}
        result = hpctl(*INSTALL, "-g", "rg-web", "--yes")
        found = json.loads(result.stdout)
        names = [r["name"] for r in found]
        assert sorted(names) == sorted({vm.name for vm in box.backend.compute.list("rg-web")})  # each once
        assert max(posts(box, "installPatches", 202).values()) == 1
        failed = [r for r in found if r["outcome"] == "Failed"]
        assert result.exit_code == (1 if failed else 0), result.stderr
        for row in failed:  # the sandbox's own record: nothing reported Failed had in fact succeeded
            new = vms[row["name"]].installations[before[row["name"]]:]
            assert not [i for i in new if i["status"] == "Succeeded"], row


@pytest.mark.parametrize("answer", ["n", "y"])
def test_a_terminal_is_shown_the_plan_and_asked(sandbox, monkeypatch, answer):
    from typer.testing import CliRunner

    import hpctl.cli.confirm as confirm
    from hpctl.cli import app

    class Terminal:  # whatever stdin CliRunner sets up, answering isatty() as a terminal does
        def __getattr__(self, name):
            return getattr(sys.stdin, name)

        def isatty(self):
            return True

    class Sys:
        stdin = Terminal()

        def __getattr__(self, name):
            return getattr(sys, name)

    monkeypatch.setattr(confirm, "sys", Sys())
    result = CliRunner().invoke(app, [*INSTALL, "-g", "rg-web", "--rollout", "availability"], input=f"{answer}\n")
    lines = result.stderr.splitlines()
    assert re.match(r"install on \d+ VMs:", lines[0])
    assert re.search(r"rg-web: \d+ VMs \(.*zone 1: \d+", result.stderr)
    assert "classifications Critical, Security" in result.stderr and "reboot setting IfRequired" in result.stderr
    assert "availability-first waves" in result.stderr and "wave 1: zone 1" in result.stderr
    if answer == "n":
        assert result.exit_code == 2 and "Cancelled: nothing was sent." in result.stderr
        assert not posts(sandbox, "installPatches")
    else:
        assert result.exit_code == 0, result.stderr
        assert set(posts(sandbox, "installPatches", 202).values()) == {1}


def test_arc_machines_are_sent_while_vms_wait_for_their_budget(tmp_path, monkeypatch, hpctl):
    """VMs and Arc machines run side by side in one engine run: Arc's sends draw on ARM's budgets only, so VMs
    waiting for guest-patch tokens don't hold them back (and they don't wait for the VMs to finish)."""
    state = tmp_path / "lanes"
    with running_sandbox(state, budgets={"VMGuestPatchOperationSubscriptionMaximum": 10},
                         budget_time_scale=15.0) as box:  # 10 tokens, then 50 a second
        point_at(monkeypatch, state)
        result = hpctl("assess", "--yes")
        assert result.exit_code in (0, 1), result.stderr
        sent = [(r["at"], "/machines/" in r["path"]) for r in box.requests()
                if r["method"] == "POST" and r["path"].endswith("/assessPatches") and r["status"] == 202]
        vm_times = [at for at, arc in sent if not arc]
        arc_times = [at for at, arc in sent if arc]
        assert len(vm_times) > 10 and len(arc_times) > 2
        assert max(arc_times) < max(vm_times)  # every Arc machine went before the VMs' budget let the last VM go
        # Paced by the budget, learning its count from each answer, not by 429s: a refused burst after each
        # Retry-After cost 40-56 429s here. (A bucket 60 times smaller than published may still cost one where
        # a delayed request meets a full bucket.)
        assert len([r for r in box.requests() if r["status"] == 429]) <= 2


def test_installs_likeliest_to_run_long_are_sent_first(sandbox, hpctl):
    """VMs with the most pending patches in the classes asked for are sent first: when the budget paces the
    sends, the last tokens go to VMs with little to install."""
    def pending(vm):
        summary = (sandbox.backend.compute.instance_view(vm).get("patchStatus") or {}).get("availablePatchSummary")
        return None if not summary else summary.get("criticalAndSecurityPatchCount")

    counts = {vm.name: pending(vm) for vm in sandbox.backend.compute.list(None)}
    assert {0} < set(counts.values()) - {None}  # some VMs have security patches pending, some none
    result = hpctl(*INSTALL, "--kind", "vm", "--yes", "--max-parallel", "1")  # one at a time: the log is the order
    assert result.exit_code in (0, 1), result.stderr
    order = [re.search(r"/virtualMachines/([^/]+)/installPatches$", r["path"]).group(1)
             for r in sandbox.requests() if r["method"] == "POST" and r["path"].endswith("/installPatches")]
    ranks = [float("inf") if counts[name] is None else counts[name] for name in order]
    assert ranks == sorted(ranks, reverse=True)

"""A guest script that changes the VM (a rollback's removal) whose answer is lost is never sent again: its fate
is Unknown, and the sandbox's request log shows one send."""

from __future__ import annotations


def _run(kind_script: tuple[str, ...], what: str, resend_safe: bool) -> tuple[str, str | None]:
    from hpctl.edge import compute
    from hpctl.edge.clients import connect
    from hpctl.fleet.guest_kinds import RunCommandKind
    from hpctl.fleet.interrupts import Interrupt
    from hpctl.fleet.writes import WriteOptions, run_write
    from hpctl.patching import Target

    conn = connect("sandbox", None)
    vm = compute.get_vm(conn, "rg-web", "web-01")
    kind = RunCommandKind(conn, kind_script, what, resend_safe=resend_safe)
    outcomes, _ = run_write(conn, kind, [Target("rg-web", "web-01", vm=vm)], WriteOptions(interrupt=Interrupt()))
    outcome = outcomes[0]
    return outcome.status, outcome.error.message if outcome.error else None


def _sends(box) -> list[object]:
    return [r["status"] for r in box.requests()
            if r["method"] == "POST" and r["path"].endswith("web-01/runCommand")]


def test_a_lost_removal_is_unknown_and_not_sent_again(sandbox):
    from hpctl.core.guest_scripts import REMOVE_SCRIPT

    sandbox.inject(method="POST", path_regex=r"web-01/runCommand$", status="drop", times=1)
    status, message = _run(REMOVE_SCRIPT, "removal", resend_safe=False)
    assert status == "Unknown"
    assert "may have started" in (message or "")
    assert _sends(sandbox) == ["drop"]


def test_a_lost_read_only_script_is_sent_again(sandbox):
    from hpctl.core.guest_scripts import INVENTORY_SCRIPT

    sandbox.inject(method="POST", path_regex=r"web-01/runCommand$", status="drop", times=1)
    status, _ = _run(INVENTORY_SCRIPT, "inventory", resend_safe=True)
    assert status == "Succeeded"
    assert _sends(sandbox) == ["drop", 202]

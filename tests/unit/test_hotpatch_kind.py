"""enable-hotpatch as an engine operation kind: what counts as done, and the handle of a write with no PATCH."""

from __future__ import annotations

from hpctl.edge.stepped import Finished
from hpctl.fleet.hotpatch_kind import EnableHotpatchKind
from hpctl.fleet.kinds import FAILED, SUCCEEDED
from tests.unit.test_compliance import vm_json


def test_done_only_when_azure_reports_hotpatch_on():
    kind = EnableHotpatchKind(conn=None)  # outcome() reads the result body only
    on = kind.outcome(vm_json())
    assert on.status == SUCCEEDED and on.detail["patchSettings"]["enableHotpatching"] is True
    off = kind.outcome(vm_json(patch={"patchMode": "AutomaticByPlatform", "enableHotpatching": False}))
    assert off.status == FAILED and "enableHotpatching off" in off.error.message


def test_a_write_without_a_patch_is_finished_at_once():
    handle = Finished({"id": "x"})
    step = handle.step()
    assert step.done and step.result == {"id": "x"} and handle.token() == "" and handle.accepted_headers() == {}


def test_it_is_safe_to_send_again_and_draws_on_the_update_budget():
    kind = EnableHotpatchKind(conn=None)
    assert kind.resend_safe and [b.family for b in kind.budgets] == ["UpdateVM"] and kind.name == "enable-hotpatch"

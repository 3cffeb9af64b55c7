"""An Arc install whose answer was lost is reconciled from Update Manager's records in Resource Graph: the
latest installation seen before sending is journalled, and only a newer one means the install was accepted."""

from __future__ import annotations

import pytest

from tests.cli.conftest import point_at, running_sandbox


@pytest.fixture
def conn(tmp_path, monkeypatch):
    from hpctl.edge.clients import connect
    with running_sandbox(tmp_path) as sandbox:
        point_at(monkeypatch, tmp_path)
        monkeypatch.setenv("HPCTL_STATE_DIR", str(tmp_path / "journals"))
        monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
        yield sandbox, connect("sandbox", None)


def test_known_installations_carry_the_activity_id(conn):
    from hpctl.arc_machines import known_installations

    sandbox, c = conn
    machine = sandbox.backend.hybrid.get("rg-arc-onprem", "arc-dc-01")
    known = known_installations(c, [machine.id])
    assert known[machine.id.lower()]["installationActivityId"] == machine.last_installation["installationActivityId"]
    assert known[machine.id.lower()]["startTime"]


def test_reconcile_tells_an_accepted_install_from_an_older_one(conn, hpctl):
    from hpctl.arc_machines import known_installations
    from hpctl.fleet.arc_kinds import ArcInstallKind
    from hpctl.fleet.kinds import SUCCEEDED, FleetTarget

    sandbox, c = conn
    machine = sandbox.backend.hybrid.get("rg-arc-onprem", "arc-dc-04")
    target = FleetTarget(machine.id.lower(), machine.group, machine.name, {"id": machine.id})
    body = {"maximumDuration": "PT2H", "rebootSetting": "Never",
            "windowsParameters": {"classificationsToInclude": ["Critical", "Security"]}}
    kind = ArcInstallKind(c, body, known=known_installations(c, [machine.id]))
    before = kind.before(target)
    # Nothing newer than what was seen before sending: the install did not start, so it may be sent.
    assert kind.reconcile(target, {"before": before}) is None
    # The install ran (its answer "lost"): the latest installation is a new one, read back as the outcome.
    result = hpctl("install", "--kind", "arc", "-g", machine.group, "-n", machine.name, "--classification",
                   "Critical,Security", "--reboot-setting", "Never")
    assert result.exit_code == 0, result.stderr
    found = kind.reconcile(target, {"before": before})
    assert found is not None and found.status == SUCCEEDED
    assert found.detail["installedPatchCount"] == 1 and "read back" in (found.note or "")

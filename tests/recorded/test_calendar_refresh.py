"""`hpctl calendar refresh --endpoint` against recorded MSRC traffic (a local server serving documents built
from the real excerpts' structure; tests/msrc_server.py). Replays offline with --block-network."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.msrc_server import MsrcData, MsrcServer

pytestmark = pytest.mark.vcr
# Playback never connects: vcrpy answers from the cassette (ports are not matched).
PLAYBACK_ENDPOINT = "http://127.0.0.1:9/cvrf/v3.0"


class Msrc:
    def __init__(self, server: MsrcServer | None) -> None:
        self.server = server

    @property
    def endpoint(self) -> str:
        return self.server.endpoint if self.server else PLAYBACK_ENDPOINT

    def arrange(self, path: str, status: int, body_of: object = None) -> None:
        """Make the server answer `path` differently (while recording; the cassette holds it afterwards)."""
        if self.server is not None:
            body = body_of(self.server.data) if callable(body_of) else ""
            self.server.overrides[path] = (status, body)


@pytest.fixture
def msrc(record_mode: str, shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Msrc]:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("HPCTL_CALENDAR_FILE", raising=False)
    if record_mode == "none":
        yield Msrc(None)
        return
    with MsrcServer(MsrcData(shared / "msrc-samples")) as server:
        yield Msrc(server)


def test_a_503_is_retried_by_azure_cores_policy(msrc, hpctl, tmp_path, monkeypatch):
    from azure.core.pipeline.policies import RetryPolicy

    monkeypatch.setattr(RetryPolicy, "sleep", lambda self, *a, **k: None)  # the back-off itself is azure-core's
    if msrc.server is not None:
        msrc.server.once["/cvrf/v3.0/cvrf/2026-Oct"] = 503
    result = hpctl("calendar", "refresh", "--endpoint", msrc.endpoint, "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert {(c["os"], c["month"]) for c in json.loads(result.stdout)} >= {("2022", "2026-10"), ("2025", "2026-10")}
    assert "would change" in result.stderr and "nothing written" in result.stderr
    assert not _calendar_file(tmp_path).exists()
    if msrc.server is not None:
        assert msrc.server.requests.count("/cvrf/v3.0/cvrf/2026-Oct?api-version=2023-11-01") == 2


def _calendar_file(tmp_path: Path) -> Path:
    return tmp_path / ".hpctl" / "calendar.json"


def test_refresh_adds_the_months_after_the_builtin_calendar(msrc, hpctl, tmp_path):
    stale = hpctl("calendar", "--os", "2025", "--as-of", "2026-12-05", "--year", "2026")
    assert stale.exit_code == 0
    assert stale.stderr.count("WARNING:") == 1 and "ends at 2026-09" in stale.stderr
    assert "hpctl calendar refresh" in stale.stderr

    result = hpctl("calendar", "refresh", "--endpoint", msrc.endpoint)
    assert result.exit_code == 0, result.stderr
    changes = {(c["os"], c["month"]): c for c in json.loads(result.stdout)}
    assert set(changes) == {("2022", "2026-10"), ("2025", "2026-10"), ("2022", "2026-11"), ("2025", "2026-11")}
    assert (changes[("2025", "2026-10")]["kind"], changes[("2025", "2026-10")]["kb"]) == ("baseline", "KB5130012")
    november = changes[("2022", "2026-11")]
    # The carried-over August hotpatch (KB5120229) is cited too, but fewer times and below the October build.
    assert (november["change"], november["kind"], november["kb"], november["build"]) == (
        "added", "hotpatch", "KB5140031", "20348.5760")
    assert "2026-Sep, 2026-Oct, 2026-Nov" in result.stderr and str(_calendar_file(tmp_path)) in result.stderr

    written = json.loads(_calendar_file(tmp_path).read_text())
    lcus = {u["kb"] for u in written["os"]["2022"]["lcus"]}
    assert "KB5140021" in lcus  # November's LCU: a VM on it has left the hotpatch track
    assert written["os"]["2022"]["months"][-1]["source"].startswith("MSRC CVRF 2026-Nov")

    # Every command now reads the refreshed calendar, and the day is no longer past it.
    after = hpctl("calendar", "--os", "2022", "--month", "2026-11", "--as-of", "2026-12-05")
    assert after.exit_code == 0 and "WARNING" not in after.stderr
    assert json.loads(after.stdout)[0]["kb"] == "KB5140031"


def test_partial_data_changes_nothing_and_exits_1(msrc, hpctl, tmp_path):
    path = _calendar_file(tmp_path)
    path.parent.mkdir(parents=True)
    before = (Path(__file__).parents[2] / "hpctl" / "core" / "data" / "calendar.json").read_text()
    path.write_text(before)
    msrc.arrange("/cvrf/v3.0/cvrf/2026-Nov", 200,
                 lambda data: re.sub(r"<vuln:ProductID>1243[67]</vuln:ProductID>", "", data.documents["2026-Nov"]))
    result = hpctl("calendar", "refresh", "--endpoint", msrc.endpoint)
    assert result.exit_code == 1
    assert result.stdout == ""
    first = result.stderr.splitlines()[0]
    assert first.startswith("ERROR: ") and "2026-Nov" in first and "no Windows Server 2025 security update" in first
    assert "not changed" in first
    assert path.read_text() == before


def test_a_missing_document_exits_1_with_the_url(msrc, hpctl, tmp_path):
    msrc.arrange("/cvrf/v3.0/cvrf/2026-Oct", 404)
    result = hpctl("calendar", "refresh", "--endpoint", msrc.endpoint)
    assert result.exit_code == 1
    assert "MSRC endpoint has no such document: GET" in result.stderr and "/cvrf/2026-Oct" in result.stderr
    assert not _calendar_file(tmp_path).exists()

"""The calendar is parsed once per text: commands that judge many VMs load it once per VM, and a changed
calendar file is still seen on the next load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hpctl.core.calendar import CALENDAR_ENV, load_calendar


def test_the_built_in_calendar_is_parsed_once() -> None:
    assert load_calendar() is load_calendar()


def test_a_changed_calendar_file_is_seen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import resources

    doc = json.loads(resources.files("hpctl.core").joinpath("data/calendar.json").read_text(encoding="utf-8"))
    file = tmp_path / "calendar.json"
    doc["as_of"] = "2026-01-01"
    file.write_text(json.dumps(doc), encoding="utf-8")
    monkeypatch.setenv(CALENDAR_ENV, str(file))
    first = load_calendar()
    assert first.as_of is not None and first.as_of.isoformat() == "2026-01-01"
    assert load_calendar() is first
    doc["as_of"] = "2026-02-02"
    file.write_text(json.dumps(doc), encoding="utf-8")  # same size, maybe the same mtime: the text decides
    changed = load_calendar()
    assert changed.as_of is not None and changed.as_of.isoformat() == "2026-02-02"
    file.write_text("{", encoding="utf-8")
    with pytest.raises(Exception, match="not valid JSON"):
        load_calendar()

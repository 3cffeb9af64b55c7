"""Fixtures the recorded modules share."""

from __future__ import annotations

import pytest


@pytest.fixture
def serial_playback(monkeypatch):
    """Playback one operation at a time too: vcrpy un-patches the HTTP classes for a moment each time it builds a
    connection (vcr.patch.force_reset), so a connection another thread builds in that window reaches the real
    network. Runs that open many connections at once (a Run Command per VM, mixed VM and Arc waves) made that
    race show."""
    from tests.conftest import _serialise_vcr_recording

    _serialise_vcr_recording(monkeypatch)

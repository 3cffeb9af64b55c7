"""Leak guard: every cassette loads safely and holds no subscription id, token, password or login traffic."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.recording import PASSWORD_PLACEHOLDER, ZERO_GUID

CASSETTES = sorted((Path(__file__).resolve().parents[1] / "cassettes").rglob("*.yaml"))
SUBSCRIPTION = re.compile(r"/subscriptions/([0-9a-fA-F-]{36})", re.IGNORECASE)
ADMIN_PASSWORD = re.compile(r'"adminPassword"\s*:\s*(?:\{\s*"value"\s*:\s*)?"([^"]*)"')
ID_FIELD = re.compile(r'"(?:subscriptionId|tenantId)"\s*:\s*"([0-9a-fA-F-]{36})"')
SUBSCRIPTION_LIST = re.compile(r'"subscriptions"\s*:\s*\[([^\]]*)\]')


def test_there_are_cassettes():
    assert len(CASSETTES) >= 10


@pytest.mark.parametrize("path", CASSETTES, ids=[f"{p.parent.name}/{p.name}" for p in CASSETTES])
def test_cassette_holds_no_secrets(path: Path):
    text = path.read_text()
    doc = yaml.safe_load(text)  # the safe loader: a cassette can't run code
    assert doc["interactions"], "an empty cassette records nothing"
    for guid in SUBSCRIPTION.findall(text):
        assert guid == ZERO_GUID, f"a real subscription id leaked: {guid}"
    assert "Bearer " not in text and "eyJ0eX" not in text and "eyJhbGci" not in text, "a token leaked"
    assert "client_secret=" not in text
    assert "login.microsoftonline.com" not in text, "login traffic was recorded"
    assert "127.0.0.1" not in text and "localhost:" not in text, "the sandbox host was not rewritten"
    unescaped = text.replace('\\"', '"')
    for value in ADMIN_PASSWORD.findall(unescaped):
        assert value == PASSWORD_PLACEHOLDER, "an admin password leaked"
    for guid in ID_FIELD.findall(unescaped):
        assert guid == ZERO_GUID, f"a subscription or tenant id leaked: {guid}"
    for listed in SUBSCRIPTION_LIST.findall(unescaped):
        assert set(re.findall(r"[0-9a-fA-F-]{36}", listed)) <= {ZERO_GUID}, f"a subscription id leaked: {listed}"
    for interaction in doc["interactions"]:
        headers = {k.lower() for k in interaction["request"].get("headers", {})}
        assert "authorization" not in headers

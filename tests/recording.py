"""Cassette scrubbing: what vcrpy may store, and how recorded hosts and ids are normalised."""

from __future__ import annotations

import json
import re
from typing import Any

ZERO_GUID = "00000000-0000-0000-0000-000000000000"
ARM_HOST = "https://management.azure.com"
PASSWORD_PLACEHOLDER = "REDACTED-PASSWORD"

_SUBSCRIPTION = re.compile(r"(/subscriptions/)([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                           r"[0-9a-fA-F]{12})", re.IGNORECASE)
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ESCAPED_SUBSCRIPTION = re.compile(r"(\\/subscriptions\\/)([0-9a-fA-F-]{36})", re.IGNORECASE)
# The sandbox (or any local endpoint) is recorded as if it were Azure.
_LOCAL_HOST = re.compile(r"https://(?:127\.0\.0\.1|localhost)(?::\d+)?")
# A plain-http loopback server is a stand-in for a public data source (tests/msrc_server.py): recorded under a
# reserved name, so cassettes hold no loopback address and replay whatever port the server had.
MIRROR_HOST = "https://msrc-mirror.test"
_LOCAL_HTTP = re.compile(r"http://(?:127\.0\.0\.1|localhost)(?::\d+)?")
_TENANT = re.compile(r'("tenantId"\s*:\s*")[0-9a-fA-F-]{36}(")')
_SECRET_KEYS = ("adminPassword", "password", "access_token", "refresh_token", "client_secret")
_LOGIN_HOSTS = ("login.microsoftonline.com", "login.windows.net", "login.microsoftonline.us",
                "login.chinacloudapi.cn", "169.254.169.254")

# Response headers that change on every run or are not needed to replay. Retry-After stays: azure-core
# retries a throttled POST only when the 429 carries it (playback skips the wait itself).
# x-ms-request-id stays too: --debug shows it, and it is what Azure support asks for.
DROP_RESPONSE_HEADERS = {
    "x-ms-correlation-request-id", "x-ms-routing-request-id",
    "set-cookie", "x-ms-served-by", "date", "x-ms-client-request-id", "x-ms-operation-identifier",
    "x-ms-ratelimit-remaining-subscription-reads", "x-ms-ratelimit-remaining-subscription-writes",
    "x-ms-ratelimit-remaining-subscription-global-reads", "x-ms-ratelimit-remaining-subscription-global-writes",
    "x-ms-ratelimit-remaining-resource", "x-ms-request-charge", "x-ms-ratelimit-remaining-tenant-reads",
    "server", "strict-transport-security", "x-content-type-options", "x-cache", "x-msedge-ref",
    # (x-ms-user-quota-* stay: hpctl waits on them when ARG's per-user quota is spent.)
}
FILTER_REQUEST_HEADERS = ["authorization", "x-ms-client-request-id", "x-ms-correlation-request-id",
                          "client-request-id", "x-ms-authorization-auxiliary", "user-agent"]


def scrub_text(text: str) -> str:
    text = _LOCAL_HOST.sub(ARM_HOST, text)
    text = _LOCAL_HTTP.sub(MIRROR_HOST, text)
    text = _SUBSCRIPTION.sub(lambda m: m.group(1) + ZERO_GUID, text)
    text = _ESCAPED_SUBSCRIPTION.sub(lambda m: m.group(1) + ZERO_GUID, text)
    return _TENANT.sub(lambda m: m.group(1) + ZERO_GUID + m.group(2), text)


_ID_KEYS = ("subscriptionId", "tenantId", "subscriptions")


def _scrub_value(key: str, value: Any) -> Any:
    if key in _SECRET_KEYS:
        if isinstance(value, str):
            return PASSWORD_PLACEHOLDER
        if isinstance(value, dict) and isinstance(value.get("value"), str):
            # A template parameter: {"adminPassword": {"value": "..."}}
            return {**value, "value": PASSWORD_PLACEHOLDER}
    if key in _ID_KEYS:
        # Resource Graph bodies name subscriptions outside any /subscriptions/ path.
        if isinstance(value, str) and _GUID.fullmatch(value):
            return ZERO_GUID
        if isinstance(value, list):
            return [ZERO_GUID if isinstance(v, str) and _GUID.fullmatch(v) else v for v in value]
    return _scrub_json_secrets(value)


def _scrub_json_secrets(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _scrub_value(k, v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_scrub_json_secrets(v) for v in doc]
    return doc


def scrub_body(body: bytes | str | None) -> bytes | str | None:
    if not body:
        return body
    raw = body.decode("utf-8") if isinstance(body, bytes) else body
    try:
        doc = json.loads(raw)
    except ValueError:
        scrubbed = scrub_text(raw)
    else:
        scrubbed = scrub_text(json.dumps(_scrub_json_secrets(doc), separators=(",", ":")))
    return scrubbed.encode("utf-8") if isinstance(body, bytes) else scrubbed


def before_record_request(request: Any) -> Any:
    """Applied by vcrpy when recording AND to live requests before matching, so both sides agree."""
    if any(host in request.uri for host in _LOGIN_HOSTS):
        return None
    request.uri = scrub_text(request.uri)
    request.body = scrub_body(request.body)
    return request


def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = {}
    for name, values in response["headers"].items():
        key = name.lower()
        if key in DROP_RESPONSE_HEADERS:
            continue
        headers[key] = [scrub_text(v) for v in values]
    body = response.get("body", {}).get("string")
    body = scrub_body(body)
    response["body"]["string"] = body
    if "content-length" in headers:
        # azure-core checks Content-Length against the body it reads (the azure-cli lesson).
        headers["content-length"] = [str(len(body or b""))]
    response["headers"] = headers
    return response

"""Azure Arc calls hpctl makes (azure-mgmt-hybridcompute 9.0.0, api-version 2024-07-10): machines, Arc
assess/install, and the hotpatch license profile; results as plain ARM-shaped dicts, as Azure writes them.
Writes are started here and polled by the fleet engine (hpctl.edge.stepped)."""

from __future__ import annotations

import json
import logging
from typing import Any

from azure.core.exceptions import HttpResponseError

from hpctl.edge import stepped
from hpctl.edge.clients import Connection
from hpctl.edge.stepped import Pending

log = logging.getLogger(__name__)
INSTANCE_VIEW = "instanceView"
API_VERSION = "2024-07-10"  # azure-mgmt-hybridcompute 9.0.0's default, the spec examples' version (§9.8)


def _wire(model: Any) -> dict[str, Any]:
    """The model as it was on the wire (camelCase, nested properties), not msrest's snake_case as_dict()."""
    return stepped._plain(model)


def _body(document: dict[str, Any]) -> bytes:
    # The exact JSON hpctl checked and shows with --dry-run, not a model's re-serialization of it (bytes, not a
    # stream: a resend must carry the same body).
    return json.dumps(document).encode("utf-8")


def get_machine(conn: Connection, resource_group: str, name: str) -> dict[str, Any]:
    """GET a machine with `$expand=instanceView` (which adds licenseProfile: the hotpatch enrollment)."""
    return _wire(conn.hybrid.machines.get(resource_group, name, expand=INSTANCE_VIEW))


def is_unregistered(exc: BaseException) -> bool:
    """ARM's answer for a subscription that never registered Microsoft.HybridCompute (it has no Arc machines)."""
    if not isinstance(exc, HttpResponseError):
        return False
    code = getattr(getattr(exc, "error", None), "code", None)
    return code == "MissingSubscriptionRegistration" or "not registered to use namespace" in str(exc.message or "")


def list_machines(conn: Connection, resource_group: str | None = None, *,
                  unregistered_is_empty: bool = False) -> list[dict[str, Any]]:
    """Every Arc machine in a group or the subscription, with instance views (the SDK follows nextLink pages).

    With unregistered_is_empty (reads that did not ask for Arc machines in particular), a subscription where
    the Microsoft.HybridCompute provider is not registered simply has none."""
    ops = conn.hybrid.machines
    try:
        if resource_group:
            pages = ops.list_by_resource_group(resource_group, expand=INSTANCE_VIEW)
        else:
            # The SDK method has no expand argument; the service takes the same $expand on this path.
            pages = ops.list_by_subscription(params={"$expand": INSTANCE_VIEW})
        return [_wire(machine) for machine in pages]
    except HttpResponseError as exc:
        if unregistered_is_empty and is_unregistered(exc):
            log.info("Microsoft.HybridCompute is not registered in %s: no Arc machines", conn.subscription_id)
            return []
        raise


def start_assess(conn: Connection, resource_group: str, name: str, *, token: str | None = None) -> Pending:
    """POST assessPatches (202 + Location: the result comes from the Location poll), or resume from a token."""
    return stepped.start(conn, conn.hybrid.machines.begin_assess_patches, resource_group, name, token=token)


def start_install(conn: Connection, resource_group: str, name: str, body: dict[str, Any], *,
                  token: str | None = None) -> Pending:
    """POST installPatches with the exact wire body hpctl validated (the same body as for VMs)."""
    return stepped.start(conn, conn.hybrid.machines.begin_install_patches, resource_group, name, _body(body),
                         token=token, content_type="application/json")


def start_enroll(conn: Connection, resource_group: str, name: str, body: dict[str, Any], *,
                 token: str | None = None) -> Pending:
    """PUT licenseProfiles/default (201/200 + Azure-AsyncOperation): Enabling until Enabled or Failed."""
    return stepped.start(conn, conn.hybrid.license_profiles.begin_create_or_update, resource_group, name,
                         _body(body), token=token, content_type="application/json")


def start_disenroll(conn: Connection, resource_group: str, name: str, body: dict[str, Any], *,
                    token: str | None = None) -> Pending:
    """PATCH licenseProfiles/default with Disable (202 + Azure-AsyncOperation): Disabling until Disabled."""
    return stepped.start(conn, conn.hybrid.license_profiles.begin_update, resource_group, name, _body(body),
                         token=token, content_type="application/json")


def request_url(conn: Connection, resource_group: str, name: str, operation: str) -> str:
    """The URL a write goes to, with the api-version the SDK sends (for --dry-run)."""
    path = {"enroll": "/licenseProfiles/default", "disenroll": "/licenseProfiles/default",
            "assess": "/assessPatches", "install": "/installPatches"}[operation]
    return (f"{conn.base_url.rstrip('/')}/subscriptions/{conn.subscription_id}/resourceGroups/{resource_group}"
            f"/providers/Microsoft.HybridCompute/machines/{name}{path}?api-version={API_VERSION}")

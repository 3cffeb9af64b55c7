"""Azure Arc calls hpctl makes (azure-mgmt-hybridcompute 9.0.0, api-version 2024-07-10): machines, Arc
assess/install, and the hotpatch license profile; results as plain ARM-shaped dicts, as Azure writes them."""

from __future__ import annotations

import io
import json
from typing import Any

from azure.core.polling import NoPolling

from hpctl.edge.clients import Connection

INSTANCE_VIEW = "instanceView"


def _wire(model: Any) -> dict[str, Any]:
    """The model as it was on the wire (camelCase, nested properties): msrest models serialize back to it."""
    if model is None:
        return {}
    return model.serialize(keep_readonly=True)


def _body(document: dict[str, Any]) -> io.BytesIO:
    # The exact JSON hpctl checked and shows with --dry-run, not a model's re-serialization of it.
    return io.BytesIO(json.dumps(document).encode("utf-8"))


def get_machine(conn: Connection, resource_group: str, name: str) -> dict[str, Any]:
    """GET a machine with `$expand=instanceView` (which adds licenseProfile: the hotpatch enrollment)."""
    return _wire(conn.hybrid.machines.get(resource_group, name, expand=INSTANCE_VIEW))


def list_machines(conn: Connection, resource_group: str | None = None) -> list[dict[str, Any]]:
    """Every Arc machine in a group or the subscription, with instance views (the SDK follows nextLink pages)."""
    ops = conn.hybrid.machines
    if resource_group:
        pages = ops.list_by_resource_group(resource_group, expand=INSTANCE_VIEW)
    else:
        # The SDK method has no expand argument; the service takes the same $expand on this path.
        pages = ops.list_by_subscription(params={"$expand": INSTANCE_VIEW})
    return [_wire(machine) for machine in pages]


def assess_patches(conn: Connection, resource_group: str, name: str, *, wait: bool = True) -> dict[str, Any]:
    """POST assessPatches; the final state comes from the Location URL (Arc's result shape)."""
    ops = conn.hybrid.machines
    if not wait:
        ops.begin_assess_patches(resource_group, name, polling=NoPolling())
        return {"status": "Accepted"}
    return _wire(ops.begin_assess_patches(resource_group, name).result())


def install_patches(conn: Connection, resource_group: str, name: str, body: dict[str, Any], *,
                    wait: bool = True) -> dict[str, Any]:
    """POST installPatches with the exact wire body hpctl validated (the same body as for VMs)."""
    ops = conn.hybrid.machines
    if not wait:
        ops.begin_install_patches(resource_group, name, _body(body), polling=NoPolling(),
                                  content_type="application/json")
        return {"status": "Accepted"}
    poller = ops.begin_install_patches(resource_group, name, _body(body), content_type="application/json")
    return _wire(poller.result())


def put_license_profile(conn: Connection, resource_group: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """PUT licenseProfiles/default and wait for the operation (Enabling → Enabled, or Failed: raises)."""
    poller = conn.hybrid.license_profiles.begin_create_or_update(resource_group, name, _body(body),
                                                                 content_type="application/json")
    return _wire(poller.result())


def patch_license_profile(conn: Connection, resource_group: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """PATCH licenseProfiles/default (Enable / Disable) and wait for the operation."""
    poller = conn.hybrid.license_profiles.begin_update(resource_group, name, _body(body),
                                                       content_type="application/json")
    return _wire(poller.result())

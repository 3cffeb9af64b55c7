"""Compute calls hpctl makes (VMs, patch operations, images), returning plain ARM-shaped dicts."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from azure.core.exceptions import ResourceNotFoundError
from azure.core.polling import NoPolling

from hpctl.edge.clients import Connection
from hpctl.edge.errors import raise_arm_error


def _plain(model: Any) -> dict[str, Any]:
    if model is None:
        return {}
    if hasattr(model, "as_dict"):
        return model.as_dict()
    return dict(model)


def get_vm(conn: Connection, resource_group: str, name: str, *, instance_view: bool = False) -> dict[str, Any]:
    """GET a VM; with instance_view, `$expand=instanceView` (one call gives model and patchStatus)."""
    kwargs = {"expand": "instanceView"} if instance_view else {}
    return _plain(conn.compute.virtual_machines.get(resource_group, name, **kwargs))


# The api-version azure-mgmt-compute sends for VM lists (its operations' default): the raw pages below are the
# same requests the SDK's pager makes (tests/unit/test_compute_lists.py compares them).
VM_LIST_API_VERSION = "2026-04-01"


def list_vms(conn: Connection, resource_group: str | None = None, *, instance_view: bool = False
             ) -> list[dict[str, Any]]:
    """Every VM in a resource group, or in the subscription, following nextLink pages; with instance_view,
    `$expand=instanceView` brings each VM's instance view in the same pages (no call per VM).

    The SDK's pager would turn every page into models (about 1.2 s of CPU for 1,000 VMs with instance views,
    four times the paging itself) only for hpctl to turn them back into dicts: these are the SDK's requests
    through its pipeline (retries, throttling back-off, auth), read as the JSON Azure wrote, undocumented
    fields included."""
    from azure.core.paging import ItemPaged
    from azure.core.rest import HttpRequest

    scope = f"/resourceGroups/{quote(resource_group, safe='')}" if resource_group else ""
    first = (f"/subscriptions/{quote(conn.subscription_id, safe='')}{scope}/providers/Microsoft.Compute/"
             f"virtualMachines?api-version={VM_LIST_API_VERSION}" + ("&$expand=instanceView" if instance_view else ""))

    def get_next(next_link: str | None) -> Any:
        response = conn.compute.send_request(HttpRequest("GET", next_link or first))
        raise_arm_error(response)
        return response

    def extract_data(response: Any) -> tuple[str | None, list[dict[str, Any]]]:
        page = response.json()
        return page.get("nextLink") or None, page.get("value") or []

    return list(ItemPaged(get_next, extract_data))


def assess_patches(conn: Connection, resource_group: str, name: str, *, wait: bool = True) -> dict[str, Any]:
    """Trigger assessPatches; wait for the result unless wait is False (then return once accepted)."""
    ops = conn.compute.virtual_machines
    if not wait:
        ops.begin_assess_patches(resource_group, name, polling=NoPolling())
        return {"status": "Accepted"}
    return _plain(ops.begin_assess_patches(resource_group, name).result())


def install_patches(
    conn: Connection, resource_group: str, name: str, body: dict[str, Any], *, wait: bool = True
) -> dict[str, Any]:
    """Trigger installPatches with the exact wire body hpctl validated."""
    ops = conn.compute.virtual_machines
    if not wait:
        ops.begin_install_patches(resource_group, name, body, polling=NoPolling())
        return {"status": "Accepted"}
    return _plain(ops.begin_install_patches(resource_group, name, body).result())


def image_skus(conn: Connection, location: str, publisher: str, offer: str) -> list[str]:
    skus = conn.compute.virtual_machine_images.list_skus(location, publisher, offer)
    return [_plain(s).get("name", "") for s in skus]


def image_versions(conn: Connection, location: str, publisher: str, offer: str, sku: str) -> list[str]:
    versions = conn.compute.virtual_machine_images.list(location, publisher, offer, sku)
    return [_plain(v).get("name", "") for v in versions]


def update_vm(conn: Connection, resource_group: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """PATCH a VM (only the given properties change) and wait for Azure to apply it."""
    return _plain(conn.compute.virtual_machines.begin_update(resource_group, name, body).result())


def list_scale_sets(conn: Connection, resource_group: str | None = None) -> list[dict[str, Any]]:
    ops = conn.compute.virtual_machine_scale_sets
    pages = ops.list(resource_group) if resource_group else ops.list_all()
    return [_plain(s) for s in pages]


def get_scale_set(conn: Connection, resource_group: str, name: str) -> dict[str, Any]:
    return _plain(conn.compute.virtual_machine_scale_sets.get(resource_group, name))


def find_vm(conn: Connection, resource_group: str, name: str) -> dict[str, Any] | None:
    """The VM, or None when it doesn't exist."""
    try:
        return get_vm(conn, resource_group, name)
    except ResourceNotFoundError:
        return None


def find_scale_set(conn: Connection, resource_group: str, name: str) -> dict[str, Any] | None:
    """The scale set, or None when it doesn't exist."""
    try:
        return get_scale_set(conn, resource_group, name)
    except ResourceNotFoundError:
        return None

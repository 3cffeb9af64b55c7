"""Compute calls hpctl makes (VMs, patch operations, images), returning plain ARM-shaped dicts."""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.core.polling import NoPolling

from hpctl.edge.clients import Connection


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


def list_vms(conn: Connection, resource_group: str | None = None, *, instance_view: bool = False
             ) -> list[dict[str, Any]]:
    """Every VM in a resource group, or in the subscription (the SDK follows nextLink pages); with
    instance_view, `$expand=instanceView` brings each VM's instance view in the same pages (no call per VM)."""
    ops = conn.compute.virtual_machines
    kwargs = {"expand": "instanceView"} if instance_view else {}
    pages = ops.list(resource_group, **kwargs) if resource_group else ops.list_all(**kwargs)
    return [_plain(vm) for vm in pages]


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

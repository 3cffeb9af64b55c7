"""Resource groups and template deployments (azure-mgmt-resource, azure-mgmt-resource-deployments)."""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.core.polling import NoPolling

from hpctl.edge.clients import Connection
from hpctl.edge.compute import _plain


def resource_group_location(conn: Connection, name: str) -> str | None:
    """The group's location, or None when it doesn't exist."""
    try:
        return _plain(conn.resources.resource_groups.get(name)).get("location")
    except ResourceNotFoundError:
        return None


def resource_id(subscription: str, resource_group: str, type_name: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{type_name}/{name}"


def get_resource(conn: Connection, resource_id: str, api_version: str) -> dict[str, Any] | None:
    """Any resource by id (azure-mgmt-resource's generic GET), or None when it doesn't exist."""
    try:
        return _plain(conn.resources.resources.get_by_id(resource_id, api_version=api_version))
    except ResourceNotFoundError:
        return None


def create_resource_group(conn: Connection, name: str, location: str, tags: dict[str, str] | None = None) -> None:
    body: dict[str, Any] = {"location": location}
    if tags:
        body["tags"] = tags
    conn.resources.resource_groups.create_or_update(name, body)


def deploy(conn: Connection, resource_group: str, name: str, template: dict[str, Any],
           parameters: dict[str, Any], *, wait: bool = True) -> dict[str, Any]:
    """An Incremental resource-group deployment of `template`; waits for it unless wait is False."""
    body = {"properties": {"mode": "Incremental", "template": template, "parameters": parameters}}
    ops = conn.deployments.deployments
    if not wait:
        ops.begin_create_or_update(resource_group, name, body, polling=NoPolling())
        return {"name": name, "provisioningState": "Accepted"}
    result = _plain(ops.begin_create_or_update(resource_group, name, body).result())
    return {"name": name, "provisioningState": (result.get("properties") or {}).get("provisioningState"),
            "outputs": (result.get("properties") or {}).get("outputs")}

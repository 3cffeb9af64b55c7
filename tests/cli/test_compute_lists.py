"""VM lists read as raw pages: the same requests the SDK's pager sends, the same VMs, the same errors."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.pipeline.transport import RequestsTransport

from hpctl.edge import compute
from hpctl.edge.clients import connect
from hpctl.edge.errors import translate
from hpctl.errors import NotFoundError
from tests.cli.conftest import point_at, running_sandbox


class _Recording(RequestsTransport):  # type: ignore[misc]
    """azure-core's own transport, noting each URL it sends."""

    def __init__(self, urls: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = urls

    def send(self, request: Any, **kwargs: Any) -> Any:
        self.urls.append(request.url)
        return super().send(request, **kwargs)


@pytest.fixture
def conn_and_urls(tmp_path, monkeypatch):
    state = tmp_path / "sandbox"
    with running_sandbox(state, fleet=130) as box:  # 130 VMs: three pages of 50 (and more in its extra groups)
        point_at(monkeypatch, state)
        urls: list[str] = []
        conn = connect("sandbox", None)
        conn.transport = _Recording(urls, connection_verify=conn.connection_verify)
        yield box, conn, urls


@pytest.mark.parametrize("group", [None, "rg-web"])
@pytest.mark.parametrize("instance_view", [False, True])
def test_raw_pages_are_the_sdks_requests_and_its_vms(conn_and_urls, group, instance_view):
    _box, conn, urls = conn_and_urls
    kwargs = {"expand": "instanceView"} if instance_view else {}
    ops = conn.compute.virtual_machines
    sdk = [vm.as_dict() for vm in (ops.list(group, **kwargs) if group else ops.list_all(**kwargs))]
    sdk_urls = list(urls)
    urls.clear()
    raw = compute.list_vms(conn, group, instance_view=instance_view)
    assert urls == sdk_urls
    assert len(sdk_urls) > 1 or group  # the subscription's list has several pages: nextLink was followed
    assert [vm["id"] for vm in raw] == [vm["id"] for vm in sdk]

    def steady(vm: dict[str, Any]) -> dict[str, Any]:  # the agent's heartbeat time moves between reads
        for status in ((vm.get("properties") or {}).get("instanceView") or {}).get("vmAgent", {}).get("statuses", []):
            status.pop("time", None)
        return vm

    assert [steady(vm) for vm in raw] == [steady(vm) for vm in sdk]


def test_a_missing_group_is_not_found_as_through_the_sdk(conn_and_urls):
    _box, conn, _urls = conn_and_urls
    with pytest.raises(Exception) as raw:
        compute.list_vms(conn, "rg-nowhere", instance_view=True)
    with pytest.raises(Exception) as sdk:
        list(conn.compute.virtual_machines.list("rg-nowhere"))
    assert type(raw.value) is type(sdk.value)
    mapped = translate(raw.value)
    assert isinstance(mapped, NotFoundError) and "rg-nowhere" in str(mapped).lower()

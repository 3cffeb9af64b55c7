"""HTTP settings from the environment still apply though the client factory reads them once, not per request:
a CA bundle variable verifies TLS, a proxy variable routes every request through the proxy."""

from __future__ import annotations

import socket
import threading

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline.transport import RequestsTransport

from hpctl.edge import compute
from hpctl.edge.clients import Connection, StaticTokenCredential, read_sandbox_endpoint
from tests.cli.conftest import point_at, running_sandbox


@pytest.fixture
def endpoint(tmp_path, monkeypatch):
    # azure-core retries a refused connection with back-off; the refusals here need no waiting.
    monkeypatch.setattr(RequestsTransport, "sleep", lambda self, seconds: None)
    state = tmp_path / "sandbox"
    with running_sandbox(state, fleet=2):
        point_at(monkeypatch, state)
        yield read_sandbox_endpoint()


def _conn(endpoint, verify) -> Connection:
    return Connection(cloud="AzureCloud", subscription_id=endpoint["subscription_id"], base_url=endpoint["url"],
                      credential=StaticTokenCredential(), connection_verify=verify, pool_size=32)


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_ca_bundle_variable_verifies_tls_when_no_ca_is_given(endpoint, monkeypatch, variable):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ServiceRequestError):  # the sandbox's own CA is in no default bundle
        compute.list_vms(_conn(endpoint, True))
    monkeypatch.setenv(variable, endpoint["ca_file"])
    assert len(compute.list_vms(_conn(endpoint, True))) >= 2


class _Proxy:
    """A proxy that notes each request line it is sent, then refuses it."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.seen: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            with client:
                self.seen.append(client.recv(4096).split(b"\r\n", 1)[0].decode())
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
def test_a_proxy_variable_routes_requests_through_the_proxy(endpoint, monkeypatch, variable):
    proxy = _Proxy()
    try:
        for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(variable, proxy.url)
        with pytest.raises(ServiceRequestError):
            compute.list_vms(_conn(endpoint, endpoint["ca_file"]))
        host = endpoint["url"].split("//", 1)[1]
        assert proxy.seen and all(line.startswith(f"CONNECT {host} HTTP/") for line in proxy.seen)
        # NO_PROXY still exempts the host, as requests decides per request.
        proxy.seen.clear()
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert len(compute.list_vms(_conn(endpoint, endpoint["ca_file"]))) >= 2
        assert proxy.seen == []
    finally:
        proxy.server.close()

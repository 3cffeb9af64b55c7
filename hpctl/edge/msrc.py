"""Microsoft's Security Update Guide API (MSRC CVRF v3.0): the update index and monthly documents, fetched
through azure-core's pipeline (retries with back-off on 408/429/5xx). No key is needed."""

from __future__ import annotations

from urllib.parse import urlsplit

from azure.core import PipelineClient
from azure.core.configuration import Configuration
from azure.core.pipeline.policies import (
    HeadersPolicy,
    NetworkTraceLoggingPolicy,
    RedirectPolicy,
    RetryPolicy,
    UserAgentPolicy,
)
from azure.core.rest import HttpRequest

from hpctl import __version__
from hpctl.edge.errors import translate_msrc
from hpctl.errors import InputError

DEFAULT_ENDPOINT = "https://api.msrc.microsoft.com/cvrf/v3.0"
# MSRC's PowerShell module pins this api-version; the API answers without it too (hotpatch-program.md §9.2).
API_VERSION = "2023-11-01"


def check_endpoint(endpoint: str) -> str:
    """The endpoint URL without a trailing slash; anything but an http(s) URL is an InputError."""
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise InputError(f"--endpoint {endpoint!r} is not an http(s) URL such as {DEFAULT_ENDPOINT}.")
    return endpoint.strip().rstrip("/")


class MsrcClient:
    """GET /updates and GET /cvrf/{id} of one endpoint (Microsoft's, a mirror, or a test server)."""

    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, *, transport: object = None) -> None:
        self.endpoint = check_endpoint(endpoint)
        config: Configuration = Configuration()
        config.user_agent_policy = UserAgentPolicy(sdk_moniker=f"hpctl/{__version__}")
        config.headers_policy = HeadersPolicy()
        config.retry_policy = RetryPolicy(retry_total=4)
        config.redirect_policy = RedirectPolicy()
        config.logging_policy = NetworkTraceLoggingPolicy()
        extra = {"transport": transport} if transport is not None else {}
        self._client: PipelineClient = PipelineClient(
            base_url=self.endpoint,
            config=config,
            policies=[config.headers_policy, config.user_agent_policy, config.redirect_policy,
                      config.retry_policy, config.logging_policy],
            **extra,
        )

    def index(self) -> str:
        """The /updates index (JSON)."""
        return self._get("/updates", "application/json")

    def document(self, doc_id: str) -> str:
        """One CVRF document (XML, the API's default form)."""
        return self._get(f"/cvrf/{doc_id}", "application/xml")

    def url(self, path: str) -> str:
        return f"{self.endpoint}{path}"

    def _get(self, path: str, accept: str) -> str:
        request = HttpRequest("GET", self.url(path), params={"api-version": API_VERSION},
                              headers={"Accept": accept})
        try:
            response = self._client.send_request(request)
            response.raise_for_status()
            return response.text()
        except Exception as exc:  # noqa: BLE001 - mapped (or re-raised) by the one error mapping
            error = translate_msrc(exc, self.url(path))
            if error is None:
                raise
            raise error from None

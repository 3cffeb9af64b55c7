"""The client factory: which ARM endpoint, which credential, which subscription (the only sandbox switch)."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken, TokenCredential

from hpctl.errors import AuthError, InputError, NotFoundError

log = logging.getLogger(__name__)

# ARM endpoint and token audience per cloud (the names az uses for --cloud).
ARM_ENDPOINTS = {
    "AzureCloud": "https://management.azure.com",
    "AzureUSGovernment": "https://management.usgovcloudapi.net",
    "AzureChinaCloud": "https://management.chinacloudapi.cn",
}
AUTHORITY_HOSTS = {
    "AzureCloud": "login.microsoftonline.com",
    "AzureUSGovernment": "login.microsoftonline.us",
    "AzureChinaCloud": "login.chinacloudapi.cn",
}
DEFAULT_POLLING_INTERVAL = 15.0


class StaticTokenCredential(TokenCredential):
    """A credential that hands out one fixed token: for the sandbox, which accepts any bearer token."""

    def __init__(self, token: str = "sandbox-token") -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)


def default_credential(cloud: str) -> TokenCredential:
    """DefaultAzureCredential for a real cloud: environment, workload identity (GitHub OIDC),
    managed identity, Azure CLI login…  Tests replace this function to replay cassettes offline."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(authority=AUTHORITY_HOSTS[cloud])


def sandbox_dir() -> Path:
    return Path(os.environ.get("HPCTL_SANDBOX_DIR") or Path.home() / ".hpctl" / "sandbox")


def read_sandbox_endpoint() -> dict[str, Any]:
    """The endpoint a running `hpctl sandbox serve` (or `hpctl demo`) wrote to its state directory."""
    path = sandbox_dir() / "endpoint.json"
    try:
        endpoint = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(
            f"--cloud sandbox: no sandbox is running ({path} does not exist).",
            hint="Start one with `hpctl sandbox serve` in another terminal, or set HPCTL_SANDBOX_DIR.",
        ) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"--cloud sandbox: {path} is unreadable ({exc}); restart `hpctl sandbox serve`.") from None
    for key in ("url", "ca_file", "subscription_id"):
        if key not in endpoint:
            raise InputError(f"--cloud sandbox: {path} has no {key!r}; restart `hpctl sandbox serve`.")
    return endpoint


@dataclass
class Connection:
    """Everything needed to build SDK clients for one subscription of one cloud."""

    cloud: str
    subscription_id: str
    base_url: str
    credential: TokenCredential
    connection_verify: str | bool = True
    polling_interval: float = DEFAULT_POLLING_INTERVAL
    # An azure-core HttpTransport to use instead of the default (requests); tests replay real traffic with it.
    transport: Any = None
    # How much faster than Azure this endpoint's clock runs: 1 on Azure; the sandbox compresses time, and its
    # budgets refill and its operations end that much sooner. The fleet engine paces and waits by it.
    time_scale: float = 1.0
    # HTTP connections kept per host: fleet writes size it to --max-parallel (requests' default pool holds 10).
    pool_size: int = 10

    def _transport(self, verify: str | bool) -> dict[str, Any]:
        if self.transport is not None:
            return {"transport": self.transport}
        import requests
        from azure.core.pipeline.transport import RequestsTransport
        from azure.core.pipeline.transport._requests_basic import BiggerBlockSizeHTTPAdapter
        from urllib3.util.retry import Retry

        # The session azure-core would make (its adapter, urllib3's retries and redirects off: azure-core's
        # policies do both), with a pool of `pool_size` connections.
        session = requests.Session()
        # requests looks in the environment (proxy variables, CA bundle variables, ~/.netrc) on every request,
        # much of a fleet run's CPU. The CA bundle variables are read once (`verify`); with no proxy or netrc
        # file to find, it need not look at all.
        session.trust_env = _proxies_or_netrc()
        adapter = BiggerBlockSizeHTTPAdapter(max_retries=Retry(total=False, redirect=False, raise_on_status=False),
                                             pool_connections=4, pool_maxsize=max(self.pool_size, 10))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return {"transport": RequestsTransport(session=session, session_owner=True, connection_verify=verify)}

    def _client_kwargs(self) -> dict[str, Any]:
        verify = _environment_ca_bundle(self.connection_verify)
        return {
            **self._transport(verify),
            "base_url": self.base_url,
            "credential_scopes": [self.base_url.rstrip("/") + "/.default"],
            "connection_verify": verify,
            # azure-core retries 408/429/5xx with back-off honouring Retry-After; fleet writes turn that off
            # per call and pace themselves by the budgets (hpctl.fleet).
            "polling_interval": self.polling_interval,
        }

    @cached_property
    def compute(self) -> Any:
        from azure.mgmt.compute import ComputeManagementClient

        return ComputeManagementClient(self.credential, self.subscription_id, **self._client_kwargs())

    @cached_property
    def resources(self) -> Any:
        from azure.mgmt.resource.resources import ResourceManagementClient

        return ResourceManagementClient(self.credential, self.subscription_id, **self._client_kwargs())

    @cached_property
    def deployments(self) -> Any:
        from azure.mgmt.resource.deployments import DeploymentsMgmtClient

        return DeploymentsMgmtClient(self.credential, self.subscription_id, **self._client_kwargs())

    @cached_property
    def maintenance(self) -> Any:
        from azure.mgmt.maintenance import MaintenanceManagementClient

        return MaintenanceManagementClient(self.credential, self.subscription_id, **self._client_kwargs())

    @cached_property
    def hybrid(self) -> Any:
        """Azure Arc (Microsoft.HybridCompute) at the SDK's api-version, 2024-07-10."""
        from azure.mgmt.hybridcompute import HybridComputeManagementClient

        return HybridComputeManagementClient(self.credential, self.subscription_id, **self._client_kwargs())

    @cached_property
    def graph(self) -> Any:
        from azure.mgmt.resourcegraph import ResourceGraphClient

        return ResourceGraphClient(self.credential, **self._client_kwargs())


def _proxies_or_netrc() -> bool:
    """Whether requests would find proxies (the variables, or the Windows registry and macOS settings urllib
    reads) or a netrc file: then it must keep looking in the environment on each request."""
    import urllib.request

    if urllib.request.getproxies() or os.environ.get("NETRC"):
        return True
    try:
        home = Path.home()
    except RuntimeError:
        return False
    return any((home / name).exists() for name in (".netrc", "_netrc"))


def _environment_ca_bundle(verify: str | bool) -> str | bool:
    """What requests makes of `verify` on each request: REQUESTS_CA_BUNDLE, else CURL_CA_BUNDLE, replaces True."""
    if verify is True:
        return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return verify


# Replaceable in tests (like devtools_testutils' fake credential); real runs use default_credential.
credential_factory: Callable[[str], TokenCredential] = default_credential


def _polling_interval(default: float) -> float:
    raw = os.environ.get("HPCTL_POLLING_INTERVAL")
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"HPCTL_POLLING_INTERVAL={raw!r} is not a number of seconds; e.g. 10.") from None
    if value < 0:
        raise InputError(f"HPCTL_POLLING_INTERVAL={raw!r} is negative; use 0 or more seconds.")
    return value


_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_subscription_id(value: str) -> bool:
    return bool(_GUID.match(value.strip()))


def check_subscription(subscription: str, option: str = "--subscription") -> str:
    if not is_subscription_id(subscription):
        raise InputError(
            f"{option} {subscription!r} is not a subscription id; give its GUID "
            "(`az account list --query [].id -o tsv` lists yours)."
        )
    return subscription.strip().lower()


# The Subscriptions API version (GET /subscriptions); names are resolved as az does, by displayName.
SUBSCRIPTIONS_API_VERSION = "2022-12-01"


def list_subscriptions(conn: Connection) -> list[dict[str, Any]]:
    """Every subscription the identity can read (GET /subscriptions through the ARM pipeline, paged)."""
    from azure.core.rest import HttpRequest

    url: str | None = f"/subscriptions?api-version={SUBSCRIPTIONS_API_VERSION}"
    found: list[dict[str, Any]] = []
    while url:
        response = conn.resources.send_request(HttpRequest("GET", url))
        response.raise_for_status()  # an HttpResponseError, which edge/errors.py translates
        page = response.json()
        found += page.get("value") or []
        url = page.get("nextLink")
    return found


def subscription_by_name(conn: Connection, name: str) -> str:
    """The id of the subscription whose display name is `name` (case-insensitive, as az matches it)."""
    subs = list_subscriptions(conn)
    matches = [s for s in subs if (s.get("displayName") or "").lower() == name.strip().lower()]
    if not matches:
        raise NotFoundError(f"No subscription named {name!r} among the {len(subs)} this identity can read.",
                            hint="`az account list --query [].name -o tsv` lists their names; or give the GUID.")
    if len(matches) > 1:
        raise InputError(f"{len(matches)} subscriptions are named {name!r}; give the GUID with -s instead.")
    return str(matches[0]["subscriptionId"]).lower()


def connect(cloud: str, subscription: str | None, *, require_subscription: bool = True) -> Connection:
    """Build the connection for `--cloud` and `--subscription` (or $AZURE_SUBSCRIPTION_ID).

    Resource Graph reads across subscriptions need none (require_subscription=False).
    """
    name = subscription if subscription and not is_subscription_id(subscription) else None
    subscription = subscription.strip().lower() if subscription and not name else None
    if cloud == "sandbox":
        endpoint = read_sandbox_endpoint()
        return _named(name, Connection(
            cloud=cloud,
            subscription_id=subscription or endpoint["subscription_id"],
            base_url=endpoint["url"],
            credential=StaticTokenCredential(),
            connection_verify=endpoint["ca_file"],
            polling_interval=_polling_interval(0.2),
            time_scale=float(endpoint.get("budget_time_scale") or 1.0),
        ))
    if cloud not in ARM_ENDPOINTS:
        raise InputError(f"--cloud {cloud!r} is not a cloud hpctl knows; use one of {', '.join(ARM_ENDPOINTS)}.")
    if not subscription and not name and require_subscription:
        raise InputError(
            "No subscription given: pass -s/--subscription ID or NAME, set AZURE_SUBSCRIPTION_ID, run "
            "`hpctl configure --defaults subscription=ID`, or `az account set -s ID`.",
        )
    try:
        credential = credential_factory(cloud)
    except Exception as exc:  # noqa: BLE001 - azure-identity raises many kinds here
        raise AuthError(f"Could not set up Azure credentials: {exc}",
                        hint="Run `az login`, or set AZURE_CLIENT_ID/AZURE_TENANT_ID and a secret, "
                             "certificate or federated token.") from exc
    return _named(name, Connection(
        cloud=cloud,
        subscription_id=subscription or "",
        base_url=ARM_ENDPOINTS[cloud],
        credential=credential,
        polling_interval=_polling_interval(DEFAULT_POLLING_INTERVAL),
    ))


def _named(name: str | None, conn: Connection) -> Connection:
    """A subscription given by name: look its id up, then connect to that."""
    if name is None:
        return conn
    from dataclasses import replace

    subscription_id = subscription_by_name(conn, name)
    log.info("Subscription %r is %s.", name, subscription_id)
    return replace(conn, subscription_id=subscription_id)

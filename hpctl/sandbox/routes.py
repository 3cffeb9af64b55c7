"""The ARM front door: turns HTTP requests into backend calls and backend results into ARM responses."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from hpctl.sandbox.armerrors import ArmError, fault_error, subscription_not_found
from hpctl.sandbox.backend import Backend
from hpctl.sandbox.faults import DROP, Fault, Faults
from hpctl.sandbox.hybridroutes import hybrid_routes
from hpctl.sandbox.lro import FAILED, Operation
from hpctl.sandbox.maintenance import maintenance_routes
from hpctl.sandbox.resourcegraph import ResourceGraph
from hpctl.sandbox.resourceroutes import resource_routes
from hpctl.sandbox.throttle import GRAPH_OPERATION, OPERATION_POLICIES, Throttle, throttled_error

PAGE_SIZE = 50
MSG_NO_AUTH = "Authentication failed. The 'Authorization' header is missing."
MSG_BAD_AUTH = "Authentication failed. The 'Authorization' header is provided in an invalid format."
MSG_NO_API_VERSION = "The api-version query parameter (?api-version=) is required for all requests."
REQUEST_LOG_SIZE = 100_000
_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview|-beta|-alpha|-privatepreview)?$", re.IGNORECASE)


@dataclass
class Request:
    """One HTTP request as the front door sees it."""

    method: str
    target: str  # the raw request target (path?query)
    headers: dict[str, str]  # lower-case names
    body: bytes
    host: str

    def __post_init__(self) -> None:
        split = urlsplit(self.target)
        self.path = split.path or "/"
        self.query: dict[str, str] = {}
        for key, value in parse_qsl(split.query, keep_blank_values=True):
            self.query.setdefault(key.lower(), value)

    @property
    def base(self) -> str:
        return f"https://{self.host}"

    def json(self) -> Any:
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArmError(
                400,
                "InvalidRequestContent",
                f"The request content was invalid and could not be deserialized: '{exc}'.",
            ) from None


@dataclass
class Response:
    """What to send back; `drop` closes the connection without answering."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    reason: str | None = None
    drop: bool = False


class RequestLog:
    """The last REQUEST_LOG_SIZE ARM requests: method, path (no query), status and when it was answered
    (`at`, monotonic wall seconds, for the benchmarks' timelines), oldest first."""

    def __init__(self, size: int = REQUEST_LOG_SIZE) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, method: str, path: str, status: int | str) -> None:
        with self._lock:
            self._items.append({"method": method, "path": path, "status": status, "at": time.monotonic()})

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(item) for item in self._items]


def crp_json(body: Any) -> bytes:
    """CRP's pretty-printed JSON (two-space indent, CRLF line ends)."""
    return json.dumps(body, indent=2).replace("\n", "\r\n").encode("utf-8")


def compact_json(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def poll_json(op: Operation) -> bytes:
    """A poll body as CRP writes it: pretty, with the result under properties.output kept compact."""
    body = op.status_body()
    output = body.get("properties", {}).get("output")
    if output is None:
        return crp_json(body)
    marker = "\u0000output\u0000"
    body["properties"]["output"] = marker
    text = json.dumps(body, indent=2).replace("\n", "\r\n")
    return text.replace(json.dumps(marker), json.dumps(output, separators=(",", ":"))).encode("utf-8")


Handler = Callable[[Request, dict[str, str]], Response]


@dataclass
class Route:
    pattern: re.Pattern[str]
    methods: dict[str, tuple[Handler, str | None]]  # method -> (handler, Compute operation for budgets)
    compute: bool


_SEG = r"(?P<{}>[^/]+)"


def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", lambda m: _SEG.format(m.group(1)), template)
    return re.compile(f"^{regex}/?$", re.IGNORECASE)


class ArmApp:
    """The request pipeline: log, authenticate, faults, route, api-version, throttle, handle, headers."""

    def __init__(self, backend: Backend, faults: Faults, throttle: Throttle, ca_pem: bytes = b"") -> None:
        self.backend = backend
        self.faults = faults
        self.throttle = throttle
        self.log = RequestLog()
        self.ca_pem = ca_pem
        self.region = "CENTRALUS"
        vm = "/subscriptions/{sub}/resourcegroups/{rg}/providers/microsoft.compute/virtualmachines/{vm}"
        loc = "/subscriptions/{sub}/providers/microsoft.compute/locations/{loc}"
        images = loc + "/publishers/{pub}/artifacttypes/vmimage/offers/{offer}/skus/{sku}"
        self.resource_graph = ResourceGraph(self)
        table: list[tuple[str, dict[str, tuple[Handler, str | None]], bool]] = [
            (
                "/providers/microsoft.resourcegraph/resources",
                {"POST": (self.resource_graph.query, GRAPH_OPERATION)},
                False,
            ),
            ("/subscriptions", {"GET": (self.list_subscriptions, None)}, False),
            ("/subscriptions/{sub}", {"GET": (self.get_subscription, None)}, False),
            ("/subscriptions/{sub}/resourcegroups", {"GET": (self.list_groups, None)}, False),
            (
                "/subscriptions/{sub}/resourcegroups/{rg}",
                {
                    "GET": (self.get_group, None),
                    "HEAD": (self.head_group, None),
                    "PUT": (self.put_group, None),
                },
                False,
            ),
            (
                "/subscriptions/{sub}/providers/microsoft.compute/virtualmachines",
                {"GET": (self.list_all_vms, "HighCostGet")},
                True,
            ),
            (
                "/subscriptions/{sub}/resourcegroups/{rg}/providers/microsoft.compute/virtualmachines",
                {"GET": (self.list_vms, "HighCostGet")},
                True,
            ),
            (
                vm,
                {
                    "GET": (self.get_vm, "LowCostGet"),
                    "PUT": (self.put_vm, "PutVM"),
                    "PATCH": (self.patch_vm, "UpdateVM"),
                    "DELETE": (self.delete_vm, "DeleteVM"),
                },
                True,
            ),
            (vm + "/instanceview", {"GET": (self.get_instance_view, "LowCostGet")}, True),
            (vm + "/assesspatches", {"POST": (self.assess, "VMGuestPatchOperation")}, True),
            (vm + "/installpatches", {"POST": (self.install, "VMGuestPatchOperation")}, True),
            (vm + "/runcommand", {"POST": (self.run_command, "UpdateVM")}, True),
            (vm + "/restart", {"POST": (self.restart_vm, "UpdateVM")}, True),
            (loc + "/operations/{op}", {"GET": (self.get_operation, "GetOperation")}, True),
            (loc + "/publishers", {"GET": (self.list_publishers, None)}, True),
            (loc + "/publishers/{pub}/artifacttypes/vmimage/offers", {"GET": (self.list_offers, None)}, True),
            (
                loc + "/publishers/{pub}/artifacttypes/vmimage/offers/{offer}/skus",
                {"GET": (self.list_skus, None)},
                True,
            ),
            (images + "/versions", {"GET": (self.list_versions, "ListImageVersions")}, True),
            (images + "/versions/{version}", {"GET": (self.get_version, "GetImage")}, True),
        ]
        table.extend(resource_routes(self))  # deployments, scale sets, network reads (resourceroutes.py)
        table.extend(maintenance_routes(self))  # maintenance configurations and assignments (maintenance.py)
        table.extend(hybrid_routes(self))  # Arc machines, license profiles (hybridroutes.py)
        self.routes = [Route(_compile(t), methods, compute) for t, methods, compute in table]

    # -- pipeline -------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path.lower().startswith("/_sandbox"):
            return self.control(request)
        try:
            response = self._arm(request)
        except Exception:  # a sandbox bug must not hang the client; show it on stderr
            traceback.print_exc(file=sys.stderr)
            response = self._error(
                request,
                ArmError(500, "InternalServerError", "The sandbox failed to process the request."),
                None,
            )
        self.log.add(request.method, request.path, DROP if response.drop else response.status)
        return response

    def _arm(self, request: Request) -> Response:
        refusal = self._authenticate(request)
        if refusal is not None:
            return self._error(request, refusal, None)
        route, match = self._match(request.path)
        operation = route.methods[request.method][1] if route and request.method in route.methods else None
        fault = self.faults.pick(request.method, request.path)
        if fault is not None:
            if fault.status == DROP:
                return Response(0, drop=True)
            return self._error(request, self._fault_error(fault, operation), route)
        if route is None or match is None:
            return self._error(request, self._unknown_path(request), None)
        params = {k: unquote(v) for k, v in match.groupdict().items()}
        refusal = self._check(request, route, params)
        if refusal is not None:
            return self._error(request, refusal, None)
        handler, _ = route.methods[request.method]
        with self.backend.lock:
            self.backend.settle()
            charge = self.throttle.charge(request.method, operation, self._budget_scope(operation, params))
            if charge.refused is not None:
                return self._error(request, charge.refused, route)
            try:
                response = handler(request, params)
            except ArmError as exc:
                response = self._error(request, exc, route)
        names = {k.lower() for k, _ in response.headers}
        if route.compute and charge.header and "x-ms-ratelimit-remaining-resource" not in names:
            response.headers.append(("x-ms-ratelimit-remaining-resource", charge.header))
        if route.compute and "server" not in names:
            response.headers.append(("Server", "Microsoft-HTTPAPI/2.0"))
        response.headers.extend(charge.arm_headers.items())
        return response

    def _authenticate(self, request: Request) -> ArmError | None:
        """Any bearer token will do; a missing or malformed Authorization header is ARM's 401."""
        auth = request.headers.get("authorization")
        if auth is None:
            challenge = (
                f'Bearer authorization_uri="https://login.windows.net/{self.backend.tenant_id}", '
                'error="invalid_token", error_description="The authentication failed because of missing '
                "'Authorization' header.\""
            )
            return ArmError(401, "AuthenticationFailed", MSG_NO_AUTH, headers={"WWW-Authenticate": challenge})
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return ArmError(401, "AuthenticationFailedInvalidHeader", MSG_BAD_AUTH)
        return None

    def _fault_error(self, fault: Fault, operation: str | None) -> ArmError:
        assert isinstance(fault.status, int)
        if fault.status == 429 and not fault.code and not fault.message and operation == GRAPH_OPERATION:
            return self.resource_graph.throttled_error(fault.retry_after or 1)  # Resource Graph's own 429
        if fault.status == 429 and not fault.code and not fault.message:
            # A plain injected 429 looks like the route's own Compute throttling.
            policy = OPERATION_POLICIES.get(operation or "", ("HighCostGetSubscriptionMaximum",))[-1]
            return throttled_error(policy, self.throttle.detail(policy), fault.retry_after or 1)
        error = fault_error(fault.status, fault.code, fault.message)
        if fault.retry_after is not None:
            error.headers["Retry-After"] = str(fault.retry_after)
        return error

    def _check(self, request: Request, route: Route, params: dict[str, str]) -> ArmError | None:
        """ARM's checks before a provider sees the request: api-version, subscription, method."""
        api_version = request.query.get("api-version")
        if not api_version:
            return ArmError(400, "MissingApiVersionParameter", MSG_NO_API_VERSION)
        if not _API_VERSION.match(api_version):
            return ArmError(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{api_version}' is invalid. The supported versions are "
                "'2026-04-01,2025-04-01'.",
            )
        if "sub" in params and params["sub"].lower() != self.backend.subscription_id.lower():
            return subscription_not_found(params["sub"])
        if request.method not in route.methods:
            return ArmError(
                405,
                "MethodNotAllowed",
                f"The requested resource does not support http method '{request.method}'.",
            )
        return None

    def _match(self, path: str) -> tuple[Route | None, re.Match[str] | None]:
        for route in self.routes:
            match = route.pattern.match(path)
            if match:
                return route, match
        return None, None

    def _budget_scope(self, operation: str | None, params: dict[str, str]) -> str | None:
        if operation == "GetOperation":
            op = self.backend.operations.get(params.get("op", ""))
            return op.target if op is not None else params.get("op")
        if "vm" in params:
            return f"{params['rg']}/{params['vm']}".lower()
        return None

    def _unknown_path(self, request: Request) -> ArmError:
        match = re.match(
            r"(?i)^/subscriptions/[^/]+(?:/resourcegroups/[^/]+)?/providers/([^/]+)/([^/]+)", request.path
        )
        version = request.query.get("api-version", "")
        if match and match.group(1).lower() == "microsoft.compute":
            return ArmError(
                404,
                "InvalidResourceType",
                f"The resource type '{match.group(2)}' could not be found in the namespace "
                f"'Microsoft.Compute' for api version '{version}'.",
            )
        if match:
            return ArmError(
                404, "InvalidResourceNamespace", f"The resource namespace '{match.group(1)}' is invalid."
            )
        return ArmError(404, "NotFound", f"The requested path '{request.path}' was not found.")

    # -- responses ------------------------------------------------------------------------------------

    def _headers(self, request: Request, request_id: str | None = None) -> list[tuple[str, str]]:
        correlation = request.headers.get("x-ms-correlation-request-id") or str(uuid.uuid4())
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        return [
            ("Cache-Control", "no-cache"),
            ("Pragma", "no-cache"),
            ("Expires", "-1"),
            ("x-ms-request-id", request_id or str(uuid.uuid4())),
            ("x-ms-correlation-request-id", correlation),
            ("x-ms-routing-request-id", f"{self.region}:{stamp}:{correlation}"),
            ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
            ("X-Content-Type-Options", "nosniff"),
            ("Date", formatdate(usegmt=True)),
        ]

    def _json(
        self,
        request: Request,
        status: int,
        body: Any,
        *,
        pretty: bool = True,
        request_id: str | None = None,
        extra: list[tuple[str, str]] | None = None,
        reason: str | None = "",
    ) -> Response:
        payload = crp_json(body) if pretty else compact_json(body)
        headers = self._headers(request, request_id) + [("Content-Type", "application/json; charset=utf-8")]
        headers.extend(extra or [])
        return Response(status, headers, payload if request.method != "HEAD" else b"", reason)

    def _error(self, request: Request, error: ArmError, route: Route | None) -> Response:
        extra = list(error.headers.items())
        crp = route is not None and route.compute
        reason = "" if crp else None
        response = self._json(request, error.status, error.body(), pretty=crp, extra=extra, reason=reason)
        if crp:
            response.headers.append(("Server", "Microsoft-HTTPAPI/2.0"))
        return response

    def _empty(
        self,
        request: Request,
        status: int,
        extra: list[tuple[str, str]],
        request_id: str | None = None,
        reason: str | None = "",
    ) -> Response:
        return Response(status, self._headers(request, request_id) + extra, b"", reason)

    # -- control --------------------------------------------------------------------------------------

    def control(self, request: Request) -> Response:
        path = request.path.lower().rstrip("/")
        if request.method == "GET" and path == "/_sandbox/requests":
            return Response(
                200, [("Content-Type", "application/json; charset=utf-8")], compact_json(self.log.snapshot())
            )
        if request.method == "GET" and path == "/_sandbox/ca.pem":
            return Response(200, [("Content-Type", "application/x-pem-file")], self.ca_pem)
        if request.method == "GET" and path == "/_sandbox/health":
            body = {
                "status": "ok",
                "subscriptionId": self.backend.subscription_id,
                "date": self.backend.clock.today.isoformat(),
                "timeScale": self.backend.clock.time_scale,
                "vms": len(self.backend.compute.list()),
                "arcMachines": len(self.backend.hybrid.list()),
            }
            return Response(200, [("Content-Type", "application/json; charset=utf-8")], compact_json(body))
        return Response(
            404,
            [("Content-Type", "application/json; charset=utf-8")],
            compact_json(
                {"error": {"code": "NotFound", "message": f"No sandbox control path {request.path}."}}
            ),
        )

    # -- subscriptions and resource groups ------------------------------------------------------------

    def _subscription_body(self) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/{self.backend.subscription_id}",
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "subscriptionId": self.backend.subscription_id,
            "tenantId": self.backend.tenant_id,
            "displayName": "hpctl sandbox",
            "state": "Enabled",
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "PayAsYouGo_2014-09-01",
                "spendingLimit": "Off",
            },
        }

    def list_subscriptions(self, request: Request, params: dict[str, str]) -> Response:
        return self._json(
            request,
            200,
            {"value": [self._subscription_body()], "count": {"type": "Total", "value": 1}},
            pretty=False,
            reason=None,
        )

    def get_subscription(self, request: Request, params: dict[str, str]) -> Response:
        return self._json(request, 200, self._subscription_body(), pretty=False, reason=None)

    def list_groups(self, request: Request, params: dict[str, str]) -> Response:
        groups = [g.body() for g in self.backend.groups.list()]
        return self._json(request, 200, {"value": groups}, pretty=False, reason=None)

    def get_group(self, request: Request, params: dict[str, str]) -> Response:
        return self._json(
            request, 200, self.backend.groups.get(params["rg"]).body(), pretty=False, reason=None
        )

    def head_group(self, request: Request, params: dict[str, str]) -> Response:
        if self.backend.groups.exists(params["rg"]):
            return self._empty(request, 204, [], reason=None)
        return self._empty(request, 404, [("Content-Length", "0")], reason=None)

    def put_group(self, request: Request, params: dict[str, str]) -> Response:
        group, created = self.backend.groups.put(params["rg"], request.json())
        return self._json(request, 201 if created else 200, group.body(), pretty=False, reason=None)

    # -- virtual machines -----------------------------------------------------------------------------

    def _expand(self, request: Request) -> bool:
        value = request.query.get("$expand")
        if value is None:
            return False
        allowed = {"instanceview", "userdata", "resiliencyview"}
        if value.lower() not in allowed:
            raise ArmError(
                400,
                "InvalidParameter",
                f"The value '{value}' of parameter '$expand' is not valid. Allowed values are: "
                "instanceView, userData, resiliencyView.",
                target="$expand",
            )
        return value.lower() == "instanceview"

    def _page(self, request: Request, items: list[Any], render: Callable[[Any], Any]) -> dict[str, Any]:
        offset = 0
        token = request.query.get("$skiptoken")
        if token is not None:
            try:
                offset = int(json.loads(base64.urlsafe_b64decode(token.encode() + b"==").decode())["o"])
                if offset < 0:
                    raise ValueError(offset)
            except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError):
                raise ArmError(
                    400,
                    "InvalidParameter",
                    "The value of the $skiptoken query parameter is invalid.",
                    target="$skiptoken",
                ) from None
        body: dict[str, Any] = {"value": [render(item) for item in items[offset : offset + PAGE_SIZE]]}
        if offset + PAGE_SIZE < len(items):
            next_token = (
                base64.urlsafe_b64encode(json.dumps({"o": offset + PAGE_SIZE}).encode()).decode().rstrip("=")
            )
            query = f"api-version={quote(request.query['api-version'], safe='-')}"
            for key in ("$expand", "$filter", "statusonly"):
                if key in request.query:
                    query += f"&{key}={quote(request.query[key], safe='')}"
            body["nextLink"] = f"{request.base}{request.path}?{query}&$skiptoken={next_token}"
        return body

    def list_vms(self, request: Request, params: dict[str, str]) -> Response:
        expand = self._expand(request) or request.query.get("statusonly", "").lower() == "true"
        vms = self.backend.compute.list(params["rg"])
        return self._json(
            request, 200, self._page(request, vms, lambda vm: self.backend.compute.vm_body(vm, expand))
        )

    def list_all_vms(self, request: Request, params: dict[str, str]) -> Response:
        expand = self._expand(request) or request.query.get("statusonly", "").lower() == "true"
        vms = self.backend.compute.list()
        return self._json(
            request, 200, self._page(request, vms, lambda vm: self.backend.compute.vm_body(vm, expand))
        )

    def get_vm(self, request: Request, params: dict[str, str]) -> Response:
        expand = self._expand(request)
        vm = self.backend.compute.get(params["rg"], params["vm"])
        return self._json(request, 200, self.backend.compute.vm_body(vm, expand))

    def get_instance_view(self, request: Request, params: dict[str, str]) -> Response:
        vm = self.backend.compute.get(params["rg"], params["vm"])
        return self._json(request, 200, self.backend.compute.instance_view(vm))

    def _lro_failure(self, request: Request) -> tuple[str | None, str | None] | None:
        return self.faults.operation_failure(request.path)

    def put_vm(self, request: Request, params: dict[str, str]) -> Response:
        body = request.json()
        failure = self._lro_failure(request)
        status, vm, op = self.backend.compute.put(
            params["rg"], params["vm"], body, request.query["api-version"], failure
        )
        async_url, _ = op.urls(request.base)
        extra = [("Azure-AsyncOperation", async_url), ("Azure-AsyncNotification", "Enabled")]
        # Real CRP says Retry-After: 10 here; scaled with the simulated time, but never below 1 so that the
        # header is always there (the SDK polls once at once anyway and honours later polls' Retry-After).
        extra.append(("Retry-After", str(self.backend.clock.hint(10.0) or 1)))
        return self._json(request, status, self.backend.compute.vm_body(vm), request_id=op.id, extra=extra)

    def patch_vm(self, request: Request, params: dict[str, str]) -> Response:
        body = request.json()
        failure = self._lro_failure(request)
        vm, op = self.backend.compute.patch(
            params["rg"], params["vm"], body, request.query["api-version"], failure
        )
        async_url, _ = op.urls(request.base)
        extra = [("Azure-AsyncOperation", async_url), ("Azure-AsyncNotification", "Enabled")]
        return self._json(request, 200, self.backend.compute.vm_body(vm), request_id=op.id, extra=extra)

    def delete_vm(self, request: Request, params: dict[str, str]) -> Response:
        op = self.backend.compute.delete(params["rg"], params["vm"], request.query["api-version"])
        if op is None:
            return self._empty(request, 204, [])
        async_url, location = op.urls(request.base)
        return self._empty(
            request,
            202,
            [
                ("Content-Length", "0"),
                ("Location", location),
                ("Azure-AsyncOperation", async_url),
                ("Azure-AsyncNotification", "Enabled"),
            ],
            request_id=op.id,
        )

    def _accepted(self, request: Request, op: Operation, notification: bool = True) -> Response:
        # Real CRP: 202, empty body, both headers (Location = the same URL with monitor=true), no Retry-After.
        # Patch operations add Azure-AsyncNotification; the Run Command recording has none.
        async_url, location = op.urls(request.base)
        headers = [("Content-Length", "0"), ("Location", location), ("Azure-AsyncOperation", async_url)]
        if notification:
            headers.append(("Azure-AsyncNotification", "Enabled"))
        return self._empty(request, 202, headers, request_id=op.id)

    def run_command(self, request: Request, params: dict[str, str]) -> Response:
        op = self.backend.vm_actions.run(params["rg"], params["vm"], request.json(), request.query["api-version"],
                                         self._lro_failure(request))
        return self._accepted(request, op, notification=False)

    def restart_vm(self, request: Request, params: dict[str, str]) -> Response:
        op = self.backend.vm_actions.restart(params["rg"], params["vm"], request.query["api-version"],
                                             self._lro_failure(request))
        return self._accepted(request, op, notification=False)

    def assess(self, request: Request, params: dict[str, str]) -> Response:
        op = self.backend.compute.assess(
            params["rg"], params["vm"], request.query["api-version"], self._lro_failure(request)
        )
        return self._accepted(request, op)

    def install(self, request: Request, params: dict[str, str]) -> Response:
        body = request.json()
        if body is None:
            raise ArmError(
                400,
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized: 'The installPatchesInput "
                "body is required.'.",
            )
        op = self.backend.compute.install(
            params["rg"], params["vm"], body, request.query["api-version"], self._lro_failure(request),
            fail_patches=self.faults.patches_fail(request.path),
        )
        return self._accepted(request, op)

    def get_operation(self, request: Request, params: dict[str, str]) -> Response:
        op = self.backend.operations.get(params["op"])
        if (
            op is None
            or op.location.lower() != params["loc"].lower()
            or request.query.get("p", "").lower() != op.token.lower()
        ):
            # The URLs are opaque: a client that rebuilt one (losing `p`) finds nothing, as with signed URLs.
            raise ArmError(404, "NotFound", "The entity was not found in this Azure location.")
        monitor = request.query.get("monitor", "").lower() == "true"
        if not monitor:
            extra = [("Content-Type", "application/json; charset=utf-8")]
            hint = self.backend.clock.hint(50.0)
            if op.kind in ("create", "update", "delete") and not op.done and hint is not None:
                extra.append(
                    ("Retry-After", str(hint))
                )  # real VM-create polls say 50; patch polls say nothing
            return Response(200, self._headers(request) + extra, poll_json(op), "")
        if not op.done:
            _, location = op.urls(request.base)
            return self._empty(request, 202, [("Content-Length", "0"), ("Location", location)])
        if op.status == FAILED:
            return self._json(
                request,
                500 if (op.error or {}).get("code") != "VMAgentStatusCommunicationError" else 409,
                {"error": op.error},
            )
        if op.output is None:
            return self._empty(request, 200, [("Content-Length", "0")])
        return self._json(request, 200, op.output, pretty=False)

    # -- images ---------------------------------------------------------------------------------------

    def list_publishers(self, request: Request, params: dict[str, str]) -> Response:
        items = self.backend.images.publisher_items(self.backend.subscription_id, params["loc"])
        return self._json(request, 200, items)

    def list_offers(self, request: Request, params: dict[str, str]) -> Response:
        items = self.backend.images.offer_items(self.backend.subscription_id, params["loc"], params["pub"])
        return self._json(request, 200, items)

    def list_skus(self, request: Request, params: dict[str, str]) -> Response:
        items = self.backend.images.sku_items(
            self.backend.subscription_id, params["loc"], params["pub"], params["offer"]
        )
        return self._json(request, 200, items)

    def list_versions(self, request: Request, params: dict[str, str]) -> Response:
        top = None
        if "$top" in request.query:
            raw = request.query["$top"]
            if not raw.isdigit() or int(raw) < 1:
                raise ArmError(
                    400,
                    "InvalidParameter",
                    f"The value '{raw}' of parameter '$top' is not valid. It must be a positive integer.",
                    target="$top",
                )
            top = int(raw)
        descending = False
        if "$orderby" in request.query:
            order = " ".join(request.query["$orderby"].split()).lower()
            if order not in ("name", "name asc", "name desc"):
                raise ArmError(
                    400,
                    "InvalidParameter",
                    f"The value '{request.query['$orderby']}' of parameter "
                    "'$orderby' is not valid. Allowed values are: 'name asc', "
                    "'name desc'.",
                    target="$orderby",
                )
            descending = order == "name desc"
        items = self.backend.images.version_items(
            self.backend.subscription_id,
            params["loc"],
            params["pub"],
            params["offer"],
            params["sku"],
            top,
            descending,
        )
        return self._json(request, 200, items)

    def get_version(self, request: Request, params: dict[str, str]) -> Response:
        body = self.backend.images.version_body(
            self.backend.subscription_id,
            params["loc"],
            params["pub"],
            params["offer"],
            params["sku"],
            params["version"],
        )
        return self._json(request, 200, body)

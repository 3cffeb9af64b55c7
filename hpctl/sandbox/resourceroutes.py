"""HTTP handlers for deployments, scale sets and network resources, added to ArmApp's route table."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from hpctl.sandbox.network import NIC, NSG, PIP, RULE, SUBNET, VNET

if TYPE_CHECKING:
    from hpctl.sandbox.deployments import Deployment
    from hpctl.sandbox.routes import ArmApp, Request, Response

    Handler = Callable[[Request, dict[str, str]], Response]

RouteSpec = tuple[str, dict[str, tuple["Handler", str | None]], bool]


class ResourceRoutes:
    """Deployments (Microsoft.Resources), scale sets (Microsoft.Compute) and Microsoft.Network reads."""

    def __init__(self, app: ArmApp) -> None:
        self.app = app
        self.backend = app.backend

    def table(self) -> list[RouteSpec]:
        group = "/subscriptions/{sub}/resourcegroups/{rg}"
        deployments = group + "/providers/microsoft.resources/deployments"
        deployment = deployments + "/{name}"
        # azure-mgmt-resource-deployments 2.0.0 lists operations on the provider-less path; ARM serves both.
        legacy = group + "/deployments/{name}"
        scale_sets = group + "/providers/microsoft.compute/virtualmachinescalesets"
        network = group + "/providers/microsoft.network"
        routes: list[RouteSpec] = [
            (deployments, {"GET": (self.list_deployments, None)}, False),
            (
                deployment,
                {
                    "GET": (self.get_deployment, None),
                    "HEAD": (self.head_deployment, None),
                    "PUT": (self.put_deployment, None),
                    "DELETE": (self.delete_deployment, None),
                },
                False,
            ),
            (deployment + "/operationstatuses/{op}", {"GET": (self.deployment_status, None)}, False),
            (deployment + "/validate", {"POST": (self.validate_deployment, None)}, False),
            (deployment + "/operations", {"GET": (self.list_operations, None)}, False),
            (deployment + "/operations/{opid}", {"GET": (self.get_operation, None)}, False),
            (legacy + "/operations", {"GET": (self.list_operations, None)}, False),
            (legacy + "/operations/{opid}", {"GET": (self.get_operation, None)}, False),
            (
                "/subscriptions/{sub}/providers/microsoft.compute/virtualmachinescalesets",
                {"GET": (self.list_all_scale_sets, None)},
                True,
            ),
            (scale_sets, {"GET": (self.list_scale_sets, None)}, True),
            (
                scale_sets + "/{name}",
                {
                    "GET": (self.get_scale_set, None),
                    "PUT": (self.put_scale_set, None),
                    "PATCH": (self.patch_scale_set, None),
                },
                True,
            ),
            (network + "/virtualnetworks/{vnet}/subnets/{name}", {"GET": (self._child(VNET, SUBNET), None)}, False),
            (
                network + "/networksecuritygroups/{vnet}/securityrules/{name}",
                {"GET": (self._child(NSG, RULE), None)},
                False,
            ),
        ]
        for type_name in (VNET, NSG, PIP, NIC):
            segment = type_name.split("/")[1].lower()
            routes.append((f"{network}/{segment}", {"GET": (self._lister(type_name), None)}, False))
            routes.append((f"{network}/{segment}/{{name}}", {"GET": (self._getter(type_name), None)}, False))
        return routes

    # -- deployments ----------------------------------------------------------------------------------

    def _correlation(self, request: Request) -> str:
        # The body's correlationId and the response header agree, as on ARM.
        correlation = request.headers.get("x-ms-correlation-request-id") or str(uuid.uuid4())
        request.headers["x-ms-correlation-request-id"] = correlation
        return correlation

    def _status_url(self, request: Request, deployment: Deployment) -> str:
        version = quote(request.query["api-version"], safe="-")
        return (
            f"{request.base}/subscriptions/{deployment.subscription}/resourcegroups/{deployment.group}/providers/"
            f"Microsoft.Resources/deployments/{deployment.name}/operationStatuses/{deployment.status_id}"
            f"?api-version={version}"
        )

    def put_deployment(self, request: Request, params: dict[str, str]) -> Response:
        correlation = self._correlation(request)
        deployments = self.backend.deployments
        status, deployment = deployments.put(
            params["rg"], params["name"], request.json(), request.query["api-version"], correlation, request.body
        )
        extra = [("Azure-AsyncOperation", self._status_url(request, deployment))]
        return self.app._json(request, status, deployments.body(deployment), pretty=False, extra=extra, reason=None)

    def get_deployment(self, request: Request, params: dict[str, str]) -> Response:
        deployments = self.backend.deployments
        deployment = deployments.get(params["rg"], params["name"])
        return self.app._json(request, 200, deployments.body(deployment), pretty=False, reason=None)

    def head_deployment(self, request: Request, params: dict[str, str]) -> Response:
        self.backend.groups.get(params["rg"])
        found = self.backend.deployments.find(params["rg"], params["name"]) is not None
        return self.app._empty(request, 204 if found else 404, [] if found else [("Content-Length", "0")], reason=None)

    def delete_deployment(self, request: Request, params: dict[str, str]) -> Response:
        self.backend.deployments.delete(params["rg"], params["name"])
        return self.app._empty(request, 204, [], reason=None)

    def list_deployments(self, request: Request, params: dict[str, str]) -> Response:
        deployments = self.backend.deployments
        items = deployments.list(params["rg"])
        top = request.query.get("$top")
        if top is not None and top.isdigit():
            items = items[: int(top)]
        body = {"value": [deployments.body(d) for d in items]}
        return self.app._json(request, 200, body, pretty=False, reason=None)

    def deployment_status(self, request: Request, params: dict[str, str]) -> Response:
        deployments = self.backend.deployments
        deployment = deployments.get(params["rg"], params["name"])
        body = deployments.status_body(deployment, params["op"])
        return self.app._json(request, 200, body, pretty=False, reason=None)

    def list_operations(self, request: Request, params: dict[str, str]) -> Response:
        deployments = self.backend.deployments
        deployment = deployments.get(params["rg"], params["name"])
        body = {"value": deployments.operations(deployment)}
        return self.app._json(request, 200, body, pretty=False, reason=None)

    def get_operation(self, request: Request, params: dict[str, str]) -> Response:
        deployments = self.backend.deployments
        deployment = deployments.get(params["rg"], params["name"])
        body = deployments.operation(deployment, params["opid"])
        return self.app._json(request, 200, body, pretty=False, reason=None)

    def validate_deployment(self, request: Request, params: dict[str, str]) -> Response:
        correlation = self._correlation(request)
        body = self.backend.deployments.validate(
            params["rg"], params["name"], request.json(), correlation, request.body
        )
        return self.app._json(request, 200, body, pretty=False, reason=None)

    # -- scale sets -----------------------------------------------------------------------------------

    def list_scale_sets(self, request: Request, params: dict[str, str]) -> Response:
        sets = self.backend.scalesets
        items = sets.list(params["rg"])
        return self.app._json(request, 200, self.app._page(request, items, sets.body))

    def list_all_scale_sets(self, request: Request, params: dict[str, str]) -> Response:
        sets = self.backend.scalesets
        return self.app._json(request, 200, self.app._page(request, sets.list(), sets.body))

    def get_scale_set(self, request: Request, params: dict[str, str]) -> Response:
        sets = self.backend.scalesets
        return self.app._json(request, 200, sets.body(sets.get(params["rg"], params["name"])))

    def put_scale_set(self, request: Request, params: dict[str, str]) -> Response:
        sets = self.backend.scalesets
        failure = self.app.faults.operation_failure(request.path)
        status, scale_set, op = sets.put(
            params["rg"], params["name"], request.json(), request.query["api-version"], failure
        )
        async_url, _ = op.urls(request.base)
        extra = [("Azure-AsyncOperation", async_url), ("Azure-AsyncNotification", "Enabled")]
        # As for a VM PUT: Retry-After 10 in simulated seconds, never below 1.
        extra.append(("Retry-After", str(self.backend.clock.hint(10.0) or 1)))
        return self.app._json(request, status, sets.body(scale_set), request_id=op.id, extra=extra)

    def patch_scale_set(self, request: Request, params: dict[str, str]) -> Response:
        sets = self.backend.scalesets
        failure = self.app.faults.operation_failure(request.path)
        scale_set, op = sets.patch(params["rg"], params["name"], request.json(), request.query["api-version"], failure)
        async_url, _ = op.urls(request.base)
        extra = [("Azure-AsyncOperation", async_url), ("Azure-AsyncNotification", "Enabled")]
        return self.app._json(request, 200, sets.body(scale_set), request_id=op.id, extra=extra)

    # -- network reads --------------------------------------------------------------------------------

    def _getter(self, type_name: str) -> Handler:
        def get(request: Request, params: dict[str, str]) -> Response:
            body = self.backend.network.get(params["rg"], type_name, params["name"])
            return self.app._json(request, 200, body)

        return get

    def _lister(self, type_name: str) -> Handler:
        def list_items(request: Request, params: dict[str, str]) -> Response:
            items: list[Any] = self.backend.network.list(params["rg"], type_name)
            return self.app._json(request, 200, {"value": items})

        return list_items

    def _child(self, parent_type: str, child_type: str) -> Handler:
        def get(request: Request, params: dict[str, str]) -> Response:
            name = f"{params['vnet']}/{params['name']}"
            body = self.backend.network.get(params["rg"], child_type, name)
            return self.app._json(request, 200, body)

        return get


def resource_routes(app: ArmApp) -> list[RouteSpec]:
    """The routes this module adds (ArmApp appends them after its own)."""
    return ResourceRoutes(app).table()

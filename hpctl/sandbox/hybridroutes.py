"""HTTP handlers for Microsoft.HybridCompute (Arc machines, license profiles, assess/install, operations),
added to ArmApp's route table."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from hpctl.sandbox.armerrors import ArmError
from hpctl.sandbox.hybridcompute import PROVIDER
from hpctl.sandbox.lro import FAILED, Operation

if TYPE_CHECKING:
    from hpctl.sandbox.routes import ArmApp, Request, Response

    Handler = Callable[[Request, dict[str, str]], Response]

RouteSpec = tuple[str, dict[str, tuple["Handler", str | None]], bool]
# The spec's 201/202 say Retry-After: 200 (seconds); scaled with simulated time, never below 1.
RETRY_AFTER = 200.0


def operation_urls(base: str, op: Operation) -> tuple[str, str]:
    """(Azure-AsyncOperation, Location) of an Arc operation: operationStatus and operationResults under the
    machine's region [inferred from the RP's other operation URLs]."""
    root = f"{base}/subscriptions/{op.subscription}/providers/{PROVIDER}/locations/{op.location}"
    version = quote(op.api_version, safe="-")
    return (f"{root}/operationStatus/{op.id}?p={op.token}&api-version={version}",
            f"{root}/operationResults/{op.id}?p={op.token}&api-version={version}")


class HybridRoutes:
    """Arc machines: GET/list with $expand=instanceView, licenseProfiles/default PUT/PATCH/GET as LROs,
    assessPatches/installPatches answered 202 + Location (final state via Location)."""

    def __init__(self, app: ArmApp) -> None:
        self.app = app
        self.backend = app.backend

    def table(self) -> list[RouteSpec]:
        machines = "/subscriptions/{sub}/resourcegroups/{rg}/providers/microsoft.hybridcompute/machines"
        machine = machines + "/{machine}"
        location = "/subscriptions/{sub}/providers/microsoft.hybridcompute/locations/{loc}"
        return [
            ("/subscriptions/{sub}/providers/microsoft.hybridcompute/machines", {"GET": (self.list_all, None)}, False),
            (machines, {"GET": (self.list_group, None)}, False),
            (machine, {"GET": (self.get, None)}, False),
            (machine + "/licenseprofiles/default", {"GET": (self.get_license, None), "PUT": (self.put_license, None),
                                                    "PATCH": (self.patch_license, None)}, False),
            (machine + "/assesspatches", {"POST": (self.assess, None)}, False),
            (machine + "/installpatches", {"POST": (self.install, None)}, False),
            (location + "/operationstatus/{op}", {"GET": (self.operation_status, None)}, False),
            (location + "/operationresults/{op}", {"GET": (self.operation_result, None)}, False),
        ]

    # -- machines -------------------------------------------------------------------------------------

    def _expand(self, request: Request) -> bool:
        value = request.query.get("$expand")
        if value is None:
            return False
        if value.lower() != "instanceview":
            raise ArmError(400, "InvalidParameter",
                           f"The value '{value}' of parameter '$expand' is not valid. Allowed values are: "
                           "instanceView.", target="$expand")
        return True

    def list_group(self, request: Request, params: dict[str, str]) -> Response:
        expand = self._expand(request)
        hybrid = self.backend.hybrid
        body = self.app._page(request, hybrid.list(params["rg"]), lambda m: hybrid.machine_body(m, expand))
        return self.app._json(request, 200, body, pretty=False, reason=None)

    def list_all(self, request: Request, params: dict[str, str]) -> Response:
        expand = self._expand(request)
        hybrid = self.backend.hybrid
        body = self.app._page(request, hybrid.list(), lambda m: hybrid.machine_body(m, expand))
        return self.app._json(request, 200, body, pretty=False, reason=None)

    def get(self, request: Request, params: dict[str, str]) -> Response:
        hybrid = self.backend.hybrid
        machine = hybrid.get(params["rg"], params["machine"])
        return self.app._json(request, 200, hybrid.machine_body(machine, self._expand(request)), pretty=False,
                              reason=None)

    # -- license profiles -----------------------------------------------------------------------------

    def get_license(self, request: Request, params: dict[str, str]) -> Response:
        hybrid = self.backend.hybrid
        return self.app._json(request, 200, hybrid.license_body(hybrid.get(params["rg"], params["machine"])),
                              pretty=False, reason=None)

    def _license_answer(self, request: Request, status: int, machine: Any, op: Operation | None) -> Response:
        hybrid = self.backend.hybrid
        if op is None:
            return self.app._json(request, 200, hybrid.license_body(machine), pretty=False, reason=None)
        status_url, result_url = operation_urls(request.base, op)
        extra = [("Location", result_url), ("Azure-AsyncOperation", status_url),
                 ("Retry-After", str(self.backend.clock.hint(RETRY_AFTER) or 1))]
        if status == 202:
            # LicenseProfile_Update.json: the 202 carries the three headers and no body.
            return self.app._empty(request, 202, [("Content-Length", "0"), *extra], request_id=op.id, reason=None)
        return self.app._json(request, status, hybrid.license_body(machine), pretty=False, request_id=op.id,
                              extra=extra, reason=None)

    def put_license(self, request: Request, params: dict[str, str]) -> Response:
        status, machine, op = self.backend.hybrid.put_license(
            params["rg"], params["machine"], request.json(), request.query["api-version"],
            self.app.faults.operation_failure(request.path))
        return self._license_answer(request, status, machine, op)

    def patch_license(self, request: Request, params: dict[str, str]) -> Response:
        status, machine, op = self.backend.hybrid.patch_license(
            params["rg"], params["machine"], request.json(), request.query["api-version"],
            self.app.faults.operation_failure(request.path))
        return self._license_answer(request, status, machine, op)

    # -- assess / install -----------------------------------------------------------------------------

    def _accepted(self, request: Request, op: Operation) -> Response:
        # Machine_AssessPatches.json / Machine_InstallPatches.json: 202 with a Location to poll.
        _, result_url = operation_urls(request.base, op)
        return self.app._empty(request, 202, [("Content-Length", "0"), ("Location", result_url)],
                               request_id=op.id, reason=None)

    def assess(self, request: Request, params: dict[str, str]) -> Response:
        op = self.backend.hybrid.assess(params["rg"], params["machine"], request.query["api-version"],
                                        self.app.faults.operation_failure(request.path))
        return self._accepted(request, op)

    def install(self, request: Request, params: dict[str, str]) -> Response:
        body = request.json()
        if body is None:
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                           "deserialized: 'The installPatchesInput body is required.'.")
        op = self.backend.hybrid.install(params["rg"], params["machine"], body, request.query["api-version"],
                                         self.app.faults.operation_failure(request.path))
        return self._accepted(request, op)

    # -- operations -----------------------------------------------------------------------------------

    def _operation(self, request: Request, params: dict[str, str]) -> Operation:
        op = self.backend.operations.get(params["op"])
        if (op is None or op.details.get("provider") != PROVIDER or op.location.lower() != params["loc"].lower()
                or request.query.get("p", "").lower() != op.token.lower()):
            raise ArmError(404, "NotFound", "The operation was not found.")
        return op

    def operation_status(self, request: Request, params: dict[str, str]) -> Response:
        op = self._operation(request, params)
        body = {"id": f"/subscriptions/{op.subscription}/providers/{PROVIDER}/locations/{op.location}"
                      f"/operationStatus/{op.id}", **op.status_body()}
        return self.app._json(request, 200, body, pretty=False, reason=None)

    def operation_result(self, request: Request, params: dict[str, str]) -> Response:
        op = self._operation(request, params)
        if not op.done:
            _, result_url = operation_urls(request.base, op)
            extra = [("Content-Length", "0"), ("Location", result_url)]
            hint = self.backend.clock.hint(30.0)
            if hint is not None:
                extra.append(("Retry-After", str(hint)))
            return self.app._empty(request, 202, extra, reason=None)
        if op.status == FAILED:
            return self.app._json(request, 500, {"error": op.error}, pretty=False, reason=None)
        if op.output is None:
            return self.app._empty(request, 204, [], reason=None)
        return self.app._json(request, 200, op.output, pretty=False, reason=None)


def hybrid_routes(app: ArmApp) -> list[RouteSpec]:
    """The routes this module adds (ArmApp appends them after its own)."""
    return HybridRoutes(app).table()

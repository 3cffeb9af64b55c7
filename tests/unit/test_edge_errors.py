"""The one mapping from Azure SDK errors to hpctl's messages, exit codes and fixes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)

from hpctl.edge.errors import translate
from hpctl.errors import EXIT_AUTH, EXIT_AZURE_FAILED, EXIT_NOT_FOUND


class Response:
    """The parts of an azure-core HTTP response HttpResponseError reads (the body is real ARM JSON)."""

    def __init__(self, status: int, body: dict[str, Any], request_id: str = "req-1") -> None:
        self.status_code = status
        self.reason = ""
        self.headers = {"x-ms-request-id": request_id, "content-type": "application/json"}
        self._body = json.dumps(body)
        self.request = None

    def text(self, encoding: str | None = None) -> str:
        return self._body

    def body(self) -> bytes:
        return self._body.encode()


BYPASS = ("Hotpatch updates require platform safety checks. The 'BypassPlatformSafetyChecksOnUserSchedule' flag "
          "must be set to false to enable hotpatching.")


def test_failed_deployment_surfaces_the_inner_error_with_a_fix():
    body = {"error": {"code": "DeploymentFailed", "message": "At least one resource deployment operation failed.",
                      "details": [{"code": "InvalidParameter", "target": "bypass", "message": BYPASS}]}}
    error = translate(HttpResponseError(response=Response(400, body)))
    assert error.exit_code == EXIT_AZURE_FAILED
    assert "InvalidParameter" in error.message and "BypassPlatformSafetyChecksOnUserSchedule" in error.message
    assert "DeploymentFailed" not in error.message
    assert error.hint and "safety checks" in error.hint
    assert error.request_id == "req-1"


def test_old_style_deployment_failure_with_json_string_details():
    inner = {"error": {"code": "InvalidParameter", "message": "EnableHotpatching cannot be set to true. For "
                       "enableHotpatching, the 'provisionVMAgent' must be set to true and 'patchMode' must be set to "
                       "'AutomaticByPlatform'."}}
    body = {"error": {"code": "DeploymentFailed", "message": "x",
                      "details": [{"code": "BadRequest", "message": json.dumps(inner)}]}}
    error = translate(HttpResponseError(response=Response(400, body)))
    assert error.message.startswith("Azure operation failed (InvalidParameter, HTTP 400)")
    assert "AutomaticByPlatform" in error.hint


@pytest.mark.parametrize("exc,code,needle", [
    (ResourceNotFoundError(response=Response(404, {"error": {"code": "ResourceNotFound", "message": "gone"}})),
     EXIT_NOT_FOUND, "gone"),
    (ResourceExistsError(response=Response(409, {"error": {"code": "Conflict", "message": "busy"}})),
     EXIT_AZURE_FAILED, "busy"),
    (HttpResponseError(response=Response(403, {"error": {"code": "AuthorizationFailed", "message": "no"}})),
     EXIT_AUTH, "Not authorized"),
    (ClientAuthenticationError("token expired"), EXIT_AUTH, "authentication"),
    (ServiceRequestError("connection refused"), EXIT_AZURE_FAILED, "reach Azure"),
    (HttpResponseError(response=Response(409, {"error": {"code": "MissingSubscriptionRegistration",
                                                          "message": "not registered"}})), EXIT_AZURE_FAILED,
     "MissingSubscriptionRegistration"),
])
def test_exit_codes(exc, code, needle):
    error = translate(exc)
    assert error.exit_code == code
    assert needle in error.message


def test_unknown_exceptions_are_not_translated():
    assert translate(ValueError("ours")) is None

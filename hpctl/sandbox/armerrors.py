"""ARM error bodies: the exception the backends raise and the messages real Azure sends."""

from __future__ import annotations

from typing import Any

# The Compute throttling message (azure-wire.md §5.2).
THROTTLED_MESSAGE = (
    "The server rejected the request because too many requests have been received for this subscription."
)


class ArmError(Exception):
    """An ARM error response: HTTP status plus the `{"error": {...}}` body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        details: list[dict[str, Any]] | None = None,
        innererror: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.details = details
        self.innererror = innererror
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        if self.details is not None:
            error["details"] = self.details
        if self.innererror is not None:
            error["innererror"] = self.innererror
        return {"error": error}


def invalid_parameter(message: str, target: str | None = None) -> ArmError:
    return ArmError(400, "InvalidParameter", message, target=target)


def invalid_content(message: str) -> ArmError:
    return ArmError(
        400,
        "InvalidRequestContent",
        f"The request content was invalid and could not be deserialized: '{message}'.",
    )


def missing_parameter(name: str) -> ArmError:
    # CRP's wording for a required property that is absent.
    return invalid_parameter(f"Required parameter '{name}' is missing (null).", target=name)


def resource_not_found(type_name: str, name: str, group: str) -> ArmError:
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{type_name}/{name}' under resource group '{group}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def group_not_found(group: str) -> ArmError:
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found.")


def subscription_not_found(subscription: str) -> ArmError:
    return ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found.")


def image_not_found() -> ArmError:
    return ArmError(404, "NotFound", "Artifact: VMImage was not found.")


def conflict() -> ArmError:
    # The CRP text for a request that collides with one still running on the same resource.
    return ArmError(
        409,
        "Conflict",
        "The request failed due to conflict with a concurrent request. To resolve it, please refer to "
        "https://aka.ms/activitylog to get more details on the conflicting requests.",
    )


def property_change_not_allowed(name: str) -> ArmError:
    return ArmError(
        409, "PropertyChangeNotAllowed", f"Changing property '{name}' is not allowed.", target=name
    )


def internal_error() -> ArmError:
    return ArmError(
        500, "InternalExecutionError", "An internal execution error occurred. Please retry later."
    )


# Default bodies for deterministic and random faults, by status.
FAULT_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The request is invalid."),
    401: ("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."),
    403: (
        "AuthorizationFailed",
        "The client does not have authorization to perform this action over this scope "
        "or the scope is invalid. If access was recently granted, please refresh your "
        "credentials.",
    ),
    404: ("NotFound", "The requested resource was not found."),
    409: (
        "Conflict",
        "The request failed due to conflict with a concurrent request. To resolve it, please refer "
        "to https://aka.ms/activitylog to get more details on the conflicting requests.",
    ),
    429: ("OperationNotAllowed", THROTTLED_MESSAGE),
    500: ("InternalExecutionError", "An internal execution error occurred. Please retry later."),
    502: ("BadGateway", "The gateway received an invalid response from the upstream service."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Please retry later."),
    504: (
        "GatewayTimeout",
        "The gateway did not receive a response from 'Microsoft.Compute' within the specified time period.",
    ),
}


def fault_error(status: int, code: str | None = None, message: str | None = None) -> ArmError:
    """The ARM error for an injected or random fault of a given status."""
    default_code, default_message = FAULT_DEFAULTS.get(status, ("InternalServerError", "The request failed."))
    return ArmError(status, code or default_code, message or default_message)

"""The one mapping from Azure SDK exceptions to hpctl errors (and so to exit codes and fixes)."""

from __future__ import annotations

import json
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
    map_error,
)
from azure.mgmt.core.exceptions import ARMErrorFormat

from hpctl.errors import AuthError, AzureOperationError, HpctlError, NotFoundError

# Known Azure error texts → what the user should do about them (reference/anchors.md §6).
_FIXES: list[tuple[str, str]] = [
    ("BypassPlatformSafetyChecksOnUserSchedule",
     "Hotpatch needs Azure's safety checks: set bypassPlatformSafetyChecksOnUserSchedule to false "
     "(leave the customer-managed schedule) and retry."),
    ("provisionVMAgent' must be set to true",
     "Hotpatch needs the VM agent and AutomaticByPlatform: set provisionVMAgent true and patchMode "
     "AutomaticByPlatform (hpctl vm enable-hotpatch does this)."),
    ("PatchSettings must be specified for hotpatch",
     "This image is hotpatch-capable: give patchSettings (patchMode AutomaticByPlatform, "
     "enableHotpatching true) and use Compute API 2021-03-01 or newer."),
    ("enableAutomaticUpdates",
     "enableAutomaticUpdates can only be set when the VM is created: AutomaticByOS needs it true, "
     "Manual needs it false; recreate the VM to change it."),
    ("MissingSubscriptionRegistration",
     "Register the resource provider the message names: `az provider register --namespace NAMESPACE` "
     "(Microsoft.Compute for VMs, Microsoft.HybridCompute for Arc machines)."),
    ("not registered",
     "Register the resource provider or preview feature the message names, then retry."),
    ("TooManyRequests",
     "Azure is throttling this subscription; lower --max-parallel or retry after the time Azure gave."),
    ("VMGuestPatchInternalError",
     "Azure reported an internal guest-patching error; check the VM agent and Windows Update service "
     "on the VM (hpctl status), then retry."),
]


def request_id(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        return headers.get("x-ms-request-id") or headers.get("x-ms-correlation-request-id")
    except AttributeError:
        return None


def azure_error_detail(exc: HttpResponseError) -> tuple[str | None, str]:
    """The (code, message) Azure gave, digging into a failed deployment's details when present."""
    error: Any = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) or exc.message or str(exc)
    # A failed LRO or deployment nests the real error: surface the innermost one.
    details = getattr(error, "details", None) or []
    while details:
        inner = details[0]
        code = getattr(inner, "code", None) or code
        message = getattr(inner, "message", None) or message
        details = getattr(inner, "details", None) or []
    # Older deployment failures carry the inner ARM error as a JSON string.
    if isinstance(message, str) and message.lstrip().startswith("{"):
        try:
            body = json.loads(message)
            inner_error = body.get("error", body)
            code = inner_error.get("code", code)
            message = inner_error.get("message", message)
        except ValueError:
            pass
    return code, " ".join(str(message).split())


# The statuses the generated SDK operations map to typed errors; raw requests (send_request) map them the same way.
_ERROR_MAP = {401: ClientAuthenticationError, 404: ResourceNotFoundError, 409: ResourceExistsError}


def raise_arm_error(response: Any) -> None:
    """Raise for a failed raw ARM response (send_request) exactly as a generated SDK operation would."""
    if response.status_code >= 400:
        map_error(status_code=response.status_code, response=response, error_map=_ERROR_MAP)
        raise HttpResponseError(response=response, error_format=ARMErrorFormat)


def fix_for(text: str) -> str | None:
    for needle, fix in _FIXES:
        if needle.lower() in text.lower():
            return fix
    return None


def translate(exc: BaseException) -> HpctlError | None:
    """Map an Azure SDK / identity exception to an HpctlError; None if it isn't one we know."""
    rid = request_id(exc)
    if isinstance(exc, ClientAuthenticationError):
        text = " ".join(str(exc.message or exc).split())
        if "DefaultAzureCredential failed to retrieve a token" in text:
            # The chain's full account of each credential is --debug/--verbose material.
            text = ("no credential in DefaultAzureCredential's chain worked (environment variables, workload "
                    "identity, managed identity, Azure CLI, Azure PowerShell, azd)")
        return AuthError(
            f"Azure authentication failed: {text[:400]}",
            hint="Run `az login` (or check AZURE_CLIENT_ID / AZURE_TENANT_ID / the federated token), "
                 "then retry.",
            request_id=rid,
        )
    if exc.__class__.__name__ == "CredentialUnavailableError":
        return AuthError(
            "No Azure credential is available: " + " ".join(str(exc).split())[:300],
            hint="Run `az login`, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET "
                 "(or a federated token file).",
        )
    if isinstance(exc, ResourceNotFoundError):
        code, message = azure_error_detail(exc)
        return NotFoundError(f"Not found ({code or 404}): {message}",
                             hint="Check -g/--resource-group, -n/--name and -s/--subscription.", request_id=rid)
    if isinstance(exc, ResourceExistsError):
        code, message = azure_error_detail(exc)
        # 409 is also ARM's answer for an unregistered provider: a known text's fix wins over the usual one.
        return AzureOperationError(f"Azure refused ({code or 409}): {message}",
                                   hint=fix_for(f"{code} {message}") or "Another operation is in progress on this "
                                   "resource; wait for it to finish (hpctl status) and retry.", request_id=rid)
    if isinstance(exc, HttpResponseError):
        code, message = azure_error_detail(exc)
        status = exc.status_code
        if status == 403 or code in ("AuthorizationFailed", "LinkedAuthorizationFailed"):
            return AuthError(f"Not authorized ({code or 403}): {message}",
                             hint="Grant the identity the hpctl operator role "
                                  "(templates/hpctl-operator.role.json) on the scope.", request_id=rid)
        # A long-running operation that ended Failed arrives on a 200 poll: the status says nothing then.
        label = f"{code or 'Error'}" + (f", HTTP {status}" if status and status >= 400 else "")
        return AzureOperationError(f"Azure operation failed ({label}): {message}",
                                   hint=fix_for(f"{code} {message}"), request_id=rid)
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return AzureOperationError(
            f"Could not reach Azure: {' '.join(str(exc).split())[:300]}",
            hint="Check the network (and the proxy settings), then retry.",
        )
    return None


def translate_msrc(exc: BaseException, url: str) -> HpctlError | None:
    """Map a failed request to Microsoft's Security Update Guide API (or a mirror) to an hpctl error."""
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        what = "has no such document" if status == 404 else f"answered HTTP {status}"
        return AzureOperationError(f"MSRC endpoint {what}: GET {url}",
                                   hint="Check --endpoint (Microsoft's is https://api.msrc.microsoft.com/cvrf/v3.0) "
                                        "and retry; the calendar file was not changed.")
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return AzureOperationError(f"Could not reach the MSRC endpoint for GET {url}: "
                                   f"{' '.join(str(exc).split())[:200]}",
                                   hint="Check the network (and proxy settings), or use --from with saved "
                                        "documents; the calendar file was not changed.")
    return None

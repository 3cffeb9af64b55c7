"""Long-running operations sent now and then polled one request at a time by hpctl's shared poller.

azure-core's LROPoller waits in a thread of its own per operation; a fleet engine can't afford that. Here
the SDK's own `begin_*` call sends the request and builds its ARMPolling (so its algorithms, URLs, final
GET and deserialisation are the SDK's), but the poller never starts a thread: `Pending.step()` makes one
status request when the engine's schedule says so. A succeeded status that already carries the result under
`properties.output`, as CRP's do, ends the operation without the final GET. Retries are off on these calls
(`retry_total=0`): the engine decides what a 429, a 5xx or a dropped connection means for each kind of operation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.core.polling.base_polling import OperationFailed, _as_json, _failed
from azure.mgmt.core.polling.arm_polling import ARMPolling

from hpctl.edge.clients import Connection

# Statuses after which asking again may succeed: throttled, or the service (or a proxy) failed to answer.
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class SteppedPolling(ARMPolling):  # type: ignore[misc]
    """ARMPolling driven from outside: no thread, no sleeping, one status request per step."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout, retry_total=0)
        # While LROPoller is being built it must see a finished operation, or it starts a thread to wait.
        self._handed_off = False

    def finished(self) -> bool:
        return True if not self._handed_off else bool(super().finished())

    def run(self) -> None:  # never waits: Pending.step() does the work
        return None


@dataclass
class Step:
    """What one poll found. `done` with `result` (a plain dict) or `error`; else poll again after `delay`."""

    done: bool
    result: dict[str, Any] | None = None
    error: BaseException | None = None
    transient: BaseException | None = None  # the poll itself failed (throttled, dropped): poll again
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    over: bool = False  # the operation has ended; only its result is still to be read


def _plain(model: Any) -> dict[str, Any]:
    """The result as Azure wrote it (camelCase, nested properties)."""
    if model is None:
        return {}
    if hasattr(model, "_attribute_map"):
        # msrest models (azure-mgmt-hybridcompute 9.0.0): as_dict() would give snake_case; serialize() gives the wire.
        return model.serialize(keep_readonly=True)
    return model.as_dict() if hasattr(model, "as_dict") else dict(model)


def _status_output(response: Any) -> dict[str, Any] | None:
    """The result a succeeded operation status already carries under `properties.output`, else None.

    CRP writes the same result there as its Location monitor's final GET returns (every real recording: the PS
    assessPatches of 2020, the az CLI installPatches of 2024, the PS Run Command of 2019), so reading it saves a
    third of an operation's requests and of its GetOperation budget. Without it, the SDK's final GET is made.
    """
    try:
        body = _as_json(response.http_response)
    except Exception:  # noqa: BLE001 - an unreadable status body: let the SDK's final GET read the result
        return None
    output = (body.get("properties") or {}).get("output") if isinstance(body, dict) else None
    return output if isinstance(output, dict) else None


def _headers(response: Any) -> dict[str, str]:
    http = getattr(response, "http_response", response)
    try:
        return {k.lower(): v for k, v in (getattr(http, "headers", None) or {}).items()}
    except AttributeError:
        return {}


def _retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class Pending:
    """An operation Azure accepted: its continuation token (for the journal) and one poll at a time."""

    def __init__(self, polling: SteppedPolling) -> None:
        self._polling = polling
        polling._handed_off = True

    def token(self) -> str:
        """azure-core's continuation token: enough to poll this operation again from another process."""
        return str(self._polling.get_continuation_token())

    def accepted_headers(self) -> dict[str, str]:
        return _headers(self._polling._initial_response)

    def first_delay(self) -> float:
        """How long to wait before the first poll: the acceptance's Retry-After, else the polling interval (as
        azure-core's own poller waits before its first status request)."""
        return float(self._polling._extract_delay())

    def step(self) -> Step:
        """One request: a status poll, or, once the operation is over, the final GET of its result."""
        polling = self._polling
        try:
            if not polling.finished():
                response = polling.request_status(polling._operation.get_polling_url())
                headers, status = _headers(response), response.http_response.status_code
                if status in TRANSIENT_STATUSES:
                    return Step(False, transient=HttpResponseError(response=response.http_response),
                                delay=_retry_after(headers) or polling._timeout, headers=headers, status=status)
                polling._pipeline_response = response
                if status >= 400:
                    return Step(True, error=HttpResponseError(response=response.http_response), headers=headers,
                                status=status)
                polling._status = polling._operation.get_status(response)
                if not polling.finished():
                    return Step(False, delay=polling._extract_delay(), headers=headers, status=status)
                if not _failed(polling.status()) and polling._operation.get_final_get_url(response):
                    output = _status_output(response)
                    if output is not None:
                        return Step(True, result=output, headers=headers, status=status)
                    # Over: the final GET of the result is a request of its own, so it is its own step (the
                    # engine charges every step to the read budgets).
                    return Step(False, delay=0.0, headers=headers, status=status, over=True)
            else:
                headers, status = _headers(polling._pipeline_response), None
            if _failed(polling.status()):
                failed = HttpResponseError(response=polling._pipeline_response.http_response,
                                           error=OperationFailed("Operation failed or canceled"))
                return Step(True, error=failed, headers=headers, status=status)
            final_url = polling._operation.get_final_get_url(polling._pipeline_response)
            if final_url:
                response = polling.request_status(final_url)
                headers, status = _headers(response), response.http_response.status_code
                if status in TRANSIENT_STATUSES or status == 202:
                    return Step(False, transient=HttpResponseError(response=response.http_response),
                                delay=_retry_after(headers) or polling._timeout, headers=headers, status=status)
                if status >= 400:
                    return Step(True, error=HttpResponseError(response=response.http_response), headers=headers,
                                status=status)
                polling._pipeline_response = response
            return Step(True, result=_plain(polling.resource()), headers=headers, status=status)
        except (ServiceRequestError, ServiceResponseError) as exc:
            return Step(False, transient=exc, delay=polling._timeout)


Starter = Callable[..., Any]


def start(conn: Connection, begin: Starter, *args: Any, token: str | None = None, **kwargs: Any) -> Pending:
    """Send through an SDK `begin_*` (or pick its operation up from a continuation token) without polling."""
    polling = SteppedPolling(conn.polling_interval)
    extra: dict[str, Any] = {"continuation_token": token} if token else {"retry_total": 0}
    begin(*args, polling=polling, **extra, **kwargs)
    return Pending(polling)


def start_assess(conn: Connection, resource_group: str, name: str, *, token: str | None = None) -> Pending:
    """POST assessPatches (or, with a continuation token, pick up an operation already accepted)."""
    return start(conn, conn.compute.virtual_machines.begin_assess_patches, resource_group, name, token=token)


def start_install(conn: Connection, resource_group: str, name: str, body: dict[str, Any], *,
                  token: str | None = None) -> Pending:
    """POST installPatches with the exact wire body hpctl validated (or resume polling from a token)."""
    return start(conn, conn.compute.virtual_machines.begin_install_patches, resource_group, name, body,
                 token=token)


def run_command_body(script: tuple[str, ...] | list[str], parameters: dict[str, str] | None = None
                     ) -> dict[str, Any]:
    """RunCommandInput for a PowerShell script (RunPowerShellScript); parameters bind by name to its param()."""
    body: dict[str, Any] = {"commandId": "RunPowerShellScript", "script": list(script)}
    if parameters:
        body["parameters"] = [{"name": key, "value": value} for key, value in parameters.items()]
    return body


def start_run_command(conn: Connection, resource_group: str, name: str, body: dict[str, Any], *,
                      token: str | None = None) -> Pending:
    """POST runCommand (Run Command): the script runs in the guest; the result carries its stdout and stderr."""
    return start(conn, conn.compute.virtual_machines.begin_run_command, resource_group, name, body, token=token)


def start_restart(conn: Connection, resource_group: str, name: str, *, token: str | None = None) -> Pending:
    """POST restart (or resume polling an accepted restart from its token)."""
    return start(conn, conn.compute.virtual_machines.begin_restart, resource_group, name, token=token)


def start_update_vm(conn: Connection, resource_group: str, name: str, body: dict[str, Any], *,
                    token: str | None = None) -> Pending:
    """PATCH a VM with only the given properties (or resume polling the update from a token)."""
    return start(conn, conn.compute.virtual_machines.begin_update, resource_group, name, body, token=token)


class Finished:
    """A write that needed no long-running operation (e.g. nothing left to PATCH): its result, at once."""

    def __init__(self, result: dict[str, Any]) -> None:
        self._result = result

    def token(self) -> str:
        return ""

    def accepted_headers(self) -> dict[str, str]:
        return {}

    def first_delay(self) -> float:
        return 0.0

    def step(self) -> Step:
        return Step(True, result=self._result)


@dataclass
class SendFailure:
    """Why a request got no acceptance, in the terms the engine acts on."""

    kind: str  # throttled | unsent | dropped | server | refused
    status: int | None = None
    retry_after: float | None = None
    policy: str | None = None  # the budget a 429 names
    headers: dict[str, str] = field(default_factory=dict)


def send_failure(exc: BaseException) -> SendFailure:
    """Classify an exception from a send: throttled (429: not accepted), unsent (no connection: not sent),
    dropped (the connection broke after sending: fate unknown), server (5xx: fate unknown), refused (4xx)."""
    if isinstance(exc, ServiceRequestError):
        return SendFailure("unsent")
    if isinstance(exc, ServiceResponseError):
        return SendFailure("dropped")
    if isinstance(exc, HttpResponseError):
        headers = _headers(exc.response) if exc.response is not None else {}
        status = exc.status_code
        if status == 429:
            return SendFailure("throttled", status, _retry_after(headers), _throttled_policy(exc), headers)
        if status in TRANSIENT_STATUSES:
            return SendFailure("server", status, _retry_after(headers), None, headers)
        return SendFailure("refused", status, None, None, headers)
    return SendFailure("refused")


def _throttled_policy(exc: HttpResponseError) -> str | None:
    error = getattr(exc, "error", None)
    for detail in getattr(error, "details", None) or []:
        target = getattr(detail, "target", None)
        if target:
            return str(target)
    return None

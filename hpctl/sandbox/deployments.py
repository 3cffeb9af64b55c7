"""Resource-group deployments: validate a template, run its resources in dependency order, report like ARM."""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass, field
from json.decoder import scanstring
from typing import TYPE_CHECKING, Any

from hpctl.sandbox.armerrors import ArmError
from hpctl.sandbox.clock import UTC
from hpctl.sandbox.keyvault import resolve_reference
from hpctl.sandbox.lro import SUCCEEDED, Operation
from hpctl.sandbox.network import PIP, VNET
from hpctl.sandbox.scalesets import VMSS_TYPE
from hpctl.sandbox.templates import (
    DeploymentContext,
    Evaluator,
    ExpressionError,
    NeedsRuntime,
    OutputError,
    ResourcePlan,
    TemplateError,
    template_hash,
)

if TYPE_CHECKING:
    from hpctl.sandbox.backend import Backend

DEPLOYMENT_TYPE = "Microsoft.Resources/deployments"
VM_TYPE = "Microsoft.Compute/virtualMachines"
# Verbatim ARM texts (azure-wire.md §5.1; public deployment failures from 2023-2025).
MSG_DEPLOYMENT_FAILED = (
    "At least one resource deployment operation failed. Please list deployment operations for details. Please "
    "see https://aka.ms/arm-deployment-operations for usage details."
)
MSG_TERMINAL_FAILED = (
    "The resource write operation failed to complete successfully, because it reached terminal provisioning "
    "state 'Failed'."
)
QUEUE_SECONDS = 2.0  # ARM's pause between accepting a deployment and starting its first resource
# How long the simulated Network RP and any other provider take per resource (a VM or scale set takes as long as
# its own Compute operation).
STEP_SECONDS = {VNET.lower(): 4.0, PIP.lower(): 3.0}
DEFAULT_STEP_SECONDS = 2.0
_NAME = re.compile(r"^[-\w._()]+$")
STATUS_NAMES = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "NoContent",
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}
# api-versions providers() reports (newest first), for templates that pick one at deploy time.
API_VERSIONS = {
    "microsoft.compute": ["2026-04-01", "2025-04-01", "2024-11-01", "2024-07-01", "2024-03-01", "2023-09-01"],
    "microsoft.network": ["2024-05-01", "2024-03-01", "2023-11-01", "2023-09-01", "2023-05-01"],
}


class InvalidTemplateError(ArmError):
    """ARM's 400 for a template that fails validation: the error body also carries additionalInfo."""

    def __init__(self, status: int, code: str, message: str, info: dict[str, Any] | None) -> None:
        super().__init__(status, code, message)
        self.info = info

    def body(self) -> dict[str, Any]:
        body = super().body()
        if self.info is not None:
            body["error"]["additionalInfo"] = [{"type": "TemplateViolation", "info": self.info}]
        return body


def zulu(moment: dt.datetime) -> str:
    """ARM's deployment timestamps: 2023-10-12T07:21:24.7628311Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def iso_duration(seconds: float) -> str:
    """A .NET TimeSpan as ARM writes durations: PT49.047761S, PT1M2.5S."""
    ticks = max(0, round(seconds * 10_000_000))
    hours, rest = divmod(ticks, 36_000_000_000)
    minutes, rest = divmod(rest, 600_000_000)
    out = "PT"
    if hours:
        out += f"{hours}H"
    if minutes:
        out += f"{minutes}M"
    if rest or not (hours or minutes):
        whole, fraction = divmod(rest, 10_000_000)
        text = f"{whole}.{fraction:07d}".rstrip("0").rstrip(".")
        out += f"{text}S"
    return out


# -- where things are in the request body (for "at line 'L' and column 'C'") ---------------------------------

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")


def json_positions(text: str) -> dict[tuple[Any, ...], int]:
    """Offsets just past the first character of every value, by path (a small scanner beside json.loads)."""
    positions: dict[tuple[Any, ...], int] = {}

    def skip(i: int) -> int:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        return i

    def value(i: int, path: tuple[Any, ...]) -> int:
        i = skip(i)
        positions[path] = i + 1
        char = text[i] if i < len(text) else ""
        if char == "{":
            i = skip(i + 1)
            if text[i] == "}":
                return i + 1
            while True:
                key, i = scanstring(text, skip(i) + 1)
                i = skip(i) + 1  # the colon
                i = skip(value(i, (*path, key)))
                if text[i] == "}":
                    return i + 1
                i += 1
        if char == "[":
            i = skip(i + 1)
            if text[i] == "]":
                return i + 1
            index = 0
            while True:
                i = skip(value(i, (*path, index)))
                index += 1
                if text[i] == "]":
                    return i + 1
                i += 1
        if char == '"':
            return scanstring(text, i + 1)[1]
        match = _NUMBER.match(text, i)
        if match:
            return match.end()
        for literal in ("true", "false", "null"):
            if text.startswith(literal, i):
                return i + len(literal)
        raise ValueError(f"unexpected character at {i}")

    try:
        value(0, ())
    except (ValueError, IndexError):
        pass
    return positions


def line_and_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1)


def dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# -- state --------------------------------------------------------------------------------------------------


@dataclass
class Step:
    """One resource of a running deployment: its ARM deployment operation."""

    plan: ResourcePlan
    operation_id: str
    tracking_id: str
    state: str = "Pending"  # Pending | Running | Succeeded | Failed | Skipped | NotDeployed
    started: dt.datetime | None = None
    ended: dt.datetime | None = None
    due: float | None = None  # wall time a provider without its own operation finishes
    op: Operation | None = None
    status_code: str | None = None
    error: dict[str, Any] | None = None  # what the deployment's error lists for this resource
    status_message: dict[str, Any] | None = None


@dataclass
class Deployment:
    """One named deployment in a resource group (a PUT of the same name replaces its run)."""

    subscription: str
    group: str
    name: str
    status_id: str
    correlation_id: str
    mode: str
    template: dict[str, Any]
    evaluator: Evaluator
    steps: list[Step]
    api_version: str
    accepted: dt.datetime
    start_wall: float
    state: str = "Accepted"
    finished: dt.datetime | None = None
    outputs: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    output_step: dict[str, Any] | None = None
    extra_steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.group}/providers/{DEPLOYMENT_TYPE}/{self.name}"
        )

    @property
    def key(self) -> str:
        return f"{self.group.lower()}/{self.name.lower()}"

    @property
    def active(self) -> bool:
        return self.state in ("Accepted", "Running")


class Deployments:
    """All resource-group deployments of the sandbox; they advance whenever the backend settles."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._items: dict[str, Deployment] = {}
        self._active: set[str] = set()
        self._past: dict[str, tuple[str, dict[str, Any] | None]] = {}  # status id -> final state of replaced runs

    # -- lookups --------------------------------------------------------------------------------------

    def get(self, group: str, name: str) -> Deployment:
        self.backend.groups.get(group)
        found = self._items.get(f"{group.lower()}/{name.lower()}")
        if found is None:
            raise ArmError(404, "DeploymentNotFound", f"Deployment '{name}' could not be found.")
        return found

    def find(self, group: str, name: str) -> Deployment | None:
        return self._items.get(f"{group.lower()}/{name.lower()}")

    def list(self, group: str) -> list[Deployment]:
        self.backend.groups.get(group)
        items = [d for d in self._items.values() if d.group.lower() == group.lower()]
        return sorted(items, key=lambda d: d.finished or d.accepted, reverse=True)

    def delete(self, group: str, name: str) -> bool:
        self.backend.groups.get(group)
        found = self.find(group, name)
        if found is None:
            return False
        if found.active:
            raise self._active_error(found)
        del self._items[found.key]
        return True

    # -- create ---------------------------------------------------------------------------------------

    def _context(self, group_name: str, name: str) -> DeploymentContext:
        backend = self.backend
        group = backend.groups.get(group_name)
        group_body = group.body()
        if "tags" not in group_body:
            group_body["tags"] = {}
        return DeploymentContext(
            backend.subscription_id,
            backend.tenant_id,
            group_body,
            name,
            backend.clock.now(),
            api_versions=lambda namespace, type_name: list(API_VERSIONS.get(namespace.lower(), ["2024-01-01"])),
            new_guid=backend.guids.next,
        )

    def evaluate(self, group: str, name: str, body: Any, raw: bytes) -> tuple[Evaluator, str, dict[str, Any]]:
        """Check a deployment request and its template the way ARM validates: errors are ARM's 400s."""
        resource_group = self.backend.groups.get(group)
        if not 0 < len(name) <= 64 or not _NAME.match(name):
            bad = "".join(sorted({c for c in name if not (c.isalnum() or c in "-._()")})) or name
            raise ArmError(
                400,
                "InvalidDeploymentName",
                f"The provided deployment name '{name}' has these invalid characters: '{bad}'. The name can only "
                "be a letter, digit, '-', '.' or '_'.",
            )
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise _content_error("Required property 'properties' not found in JSON. Path ''.")
        props = body["properties"]
        mode = props.get("mode")
        if not isinstance(mode, str):
            raise _content_error("Required property 'mode' not found in JSON. Path 'properties'.")
        if mode.lower() not in ("incremental", "complete"):
            raise _content_error(f"Error converting value \"{mode}\" to type 'DeploymentMode'. Path 'properties.mode'.")
        mode = "Incremental" if mode.lower() == "incremental" else "Complete"
        for link in ("templateLink", "parametersLink"):
            uri = (props.get(link) or {}).get("uri") if isinstance(props.get(link), dict) else None
            if props.get(link) is not None:
                # The sandbox has no internet: real ARM answers this when it cannot download the content.
                raise ArmError(
                    400,
                    "InvalidContentLink",
                    f"Unable to download deployment content from '{uri}'. The tracking Id is "
                    f"'{self.backend.guids.next()}'. Please see https://aka.ms/arm-deploy for usage details.",
                )
        template = props.get("template")
        if not isinstance(template, dict):
            raise _content_error("Required property 'template' not found in JSON. Path 'properties'.")
        supplied = self._parameters(props.get("parameters"))
        ctx = self._context(resource_group.name, name)
        try:
            evaluator = Evaluator(template, supplied, ctx)
            evaluator.check_variables()
            evaluator.plan_resources()
        except TemplateError as exc:
            raise self._template_error(exc, raw) from None
        nested = [plan for plan in evaluator.plans if plan.type.lower() == DEPLOYMENT_TYPE.lower() and plan.condition]
        if nested:
            # Sandbox-only refusal (Azure runs them): better than pretending a nested template was deployed.
            error = TemplateError(
                f"The template resource '{nested[0].name}'{{at}} is a nested deployment; the sandbox does not run "
                "nested deployments. Deploy the inner template on its own.",
                ("resources", nested[0].index),
            )
            raise self._template_error(error, raw)
        return evaluator, mode, template

    def _parameters(self, parameters: Any) -> dict[str, Any]:
        if parameters is None:
            return {}
        if not isinstance(parameters, dict):
            raise _content_error("Error converting the parameters to type 'Dictionary'. Path 'properties.parameters'.")
        supplied: dict[str, Any] = {}
        for name, entry in parameters.items():
            if isinstance(entry, dict) and "reference" in entry:
                network = self.backend.network
                supplied[name] = resolve_reference(name, entry["reference"], network.find, network.secrets)
                continue
            if not isinstance(entry, dict) or entry.get("value") is None:
                raise ArmError(
                    400, "InvalidDeploymentParameterValue", f"The value of deployment parameter '{name}' is null."
                )
            supplied[name] = entry["value"]
        return supplied

    def _template_error(self, exc: TemplateError, raw: bytes) -> ArmError:
        text = raw.decode("utf-8", errors="replace")
        full_path = ("properties", "template", *exc.path)
        info: dict[str, Any] | None = None
        message = exc.message
        if exc.wrap:
            offset = json_positions(text).get(full_path) if exc.path else None
            if offset is not None:
                line, column = line_and_column(text, offset)
                message = message.replace("{at}", f" at line '{line}' and column '{column}'")
                info = {"lineNumber": line, "linePosition": column, "path": dotted(full_path)}
            else:
                message = message.replace("{at}", "")
                info = {"lineNumber": 0, "linePosition": 0, "path": ""}
            message = f"Deployment template validation failed: '{message}'."
        return InvalidTemplateError(400, exc.code, message, info)

    def put(
        self, group: str, name: str, body: Any, api_version: str, correlation: str, raw: bytes
    ) -> tuple[int, Deployment]:
        existing = self.find(group, name)
        if existing is not None and existing.active:
            raise self._active_error(existing)
        evaluator, mode, template = self.evaluate(group, name, body, raw)
        backend = self.backend
        resource_group = backend.groups.get(group)
        steps = []
        for plan in evaluator.plans:
            step = Step(plan, backend.guids.next().replace("-", "")[:16].upper(), backend.guids.next())
            if not plan.condition:
                step.state = "NotDeployed"
            steps.append(step)
        status_id = str(int(backend.guids.next().replace("-", ""), 16) % 10**20).zfill(20)
        deployment = Deployment(
            backend.subscription_id,
            resource_group.name,
            existing.name if existing is not None else name,
            status_id,
            correlation,
            mode,
            template,
            evaluator,
            steps,
            api_version,
            backend.clock.now(),
            backend.clock.wall() + backend.clock.wall_seconds(QUEUE_SECONDS),
        )
        evaluator.resolver = lambda target, version, full: self._reference(target, full)
        if existing is not None:
            self._past[existing.status_id] = (existing.state, existing.error)
        self._items[deployment.key] = deployment
        self._active.add(deployment.key)
        return (200 if existing is not None else 201), deployment

    def _active_error(self, deployment: Deployment) -> ArmError:
        started = deployment.accepted
        expires = started + dt.timedelta(days=7)

        def show(moment: dt.datetime) -> str:
            return f"{moment.month}/{moment.day}/{moment.year} {moment.strftime('%I:%M:%S %p').lstrip('0')}"

        return ArmError(
            409,
            "DeploymentActive",
            f"Unable to edit or replace deployment '{deployment.name}': previous deployment from '{show(started)}' is "
            f"still active (expiration time is '{show(expires)}'). Please see https://aka.ms/arm-deploy for usage "
            "details.",
        )

    # -- running --------------------------------------------------------------------------------------

    def settle(self) -> None:
        """Advance every running deployment as far as simulated time allows (callers hold the backend lock)."""
        if not self._active:
            return
        for _ in range(10_000):
            progressed = False
            for key in list(self._active):
                deployment = self._items.get(key)
                if deployment is None or not deployment.active:
                    self._active.discard(key)
                    continue
                progressed = self._advance(deployment) or progressed
            if not progressed:
                return
            self.backend.operations.settle()  # resources started just now may already be due

    def _advance(self, deployment: Deployment) -> bool:
        clock = self.backend.clock
        progressed = False
        if deployment.state == "Accepted":
            if clock.wall() < deployment.start_wall:
                return False
            deployment.state = "Running"
            progressed = True
        by_key = {step.plan.key: step for step in deployment.steps}
        for step in deployment.steps:
            if step.state == "Running" and self._poll(step):
                progressed = True
        for step in deployment.steps:
            if step.state != "Pending":
                continue
            needs = [by_key[key] for key in step.plan.depends_on if key in by_key]
            if any(dep.state in ("Failed", "Skipped") for dep in needs):
                step.state = "Skipped"  # ARM never starts a resource whose dependency failed
                progressed = True
            elif all(dep.state in ("Succeeded", "NotDeployed") for dep in needs):
                # Simulated time: a resource starts when ARM has queued the run and its last dependency ended.
                ready = [deployment.accepted + dt.timedelta(seconds=QUEUE_SECONDS)]
                ready += [dep.ended for dep in needs if dep.ended is not None]
                self._start(deployment, step, max(ready))
                progressed = True
        if all(step.state in ("Succeeded", "Failed", "Skipped", "NotDeployed") for step in deployment.steps):
            self._finish(deployment)
            progressed = True
        return progressed

    def _start(self, deployment: Deployment, step: Step, at: dt.datetime) -> None:
        backend = self.backend
        plan = step.plan
        step.state = "Running"
        step.started = at
        try:
            body = plan.body if plan.body is not None else deployment.evaluator.runtime_body(plan)
        except (ExpressionError, NeedsRuntime) as exc:
            self._fail_now(
                step,
                400,
                {
                    "code": "InvalidTemplate",
                    "message": f"Unable to process template language expressions for resource '{plan.id}'. '{exc}'",
                },
            )
            return
        kind = plan.type.lower()
        try:
            if kind == VM_TYPE.lower():
                _, _, step.op = backend.compute.put(
                    deployment.group, plan.name, copy.deepcopy(body), plan.api_version, None
                )
            elif kind == VMSS_TYPE.lower():
                _, _, step.op = backend.scalesets.put(
                    deployment.group, plan.name, copy.deepcopy(body), plan.api_version, None
                )
            else:
                backend.network.put(deployment.group, plan.type, plan.name, copy.deepcopy(body))
                seconds = STEP_SECONDS.get(kind, DEFAULT_STEP_SECONDS)
                step.due = backend.clock.wall() + backend.clock.wall_seconds(seconds)
                step.ended = at + dt.timedelta(seconds=seconds)  # when it will have finished, simulated
        except ArmError as exc:
            # The provider refused the PUT: ARM lists the provider's own error (code, target, message) for it.
            error = exc.body()["error"]
            ordered = {key: error[key] for key in ("code", "target", "message") if key in error}
            self._fail_now(step, exc.status, {**ordered, **error})

    def _fail_now(self, step: Step, status: int, error: dict[str, Any]) -> None:
        step.state = "Failed"
        step.ended = step.started
        step.status_code = STATUS_NAMES.get(status, str(status))
        step.error = error
        step.status_message = {"status": "Failed", "error": error}

    def _poll(self, step: Step) -> bool:
        backend = self.backend
        if step.op is not None:
            if not step.op.done:
                return False
            assert step.started is not None
            step.ended = step.started + dt.timedelta(seconds=step.op.duration)
            if step.op.status == SUCCEEDED:
                step.state = "Succeeded"
                step.status_code = "OK"
                self._after_success(step)
            else:
                step.state = "Failed"
                step.status_code = "Conflict"
                inner = dict(step.op.error or {"code": "InternalExecutionError", "message": "Failed."})
                step.error = {
                    "code": "ResourceDeploymentFailure",
                    "target": step.plan.id,
                    "message": MSG_TERMINAL_FAILED,
                    "details": [inner],
                }
                step.status_message = {"status": "Failed", "error": step.error}
            return True
        if step.due is not None and backend.clock.wall() >= step.due:
            step.state = "Succeeded"
            step.status_code = "OK"
            return True
        return False

    def _after_success(self, step: Step) -> None:
        if step.plan.type.lower() != VM_TYPE.lower():
            return
        vm = self.backend.compute.find(step.plan.id.split("/")[4], step.plan.name)
        if vm is None:
            return
        for nic in vm.model.properties.get("networkProfile", {}).get("networkInterfaces", []):
            if isinstance(nic, dict) and isinstance(nic.get("id"), str):
                self.backend.network.attach(nic["id"], vm.id)

    def _finish(self, deployment: Deployment) -> None:
        backend = self.backend
        ends = [step.ended for step in deployment.steps if step.ended is not None]
        finished = max([deployment.accepted + dt.timedelta(seconds=QUEUE_SECONDS), *ends])
        failed = [step for step in deployment.steps if step.state == "Failed"]
        if failed:
            deployment.state = "Failed"
            deployment.error = {
                "code": "DeploymentFailed",
                "target": deployment.id,
                "message": MSG_DEPLOYMENT_FAILED,
                "details": [step.error for step in failed if step.error is not None],
            }
        else:
            started = finished
            finished += dt.timedelta(milliseconds=120)  # evaluating the outputs
            try:
                deployment.outputs = deployment.evaluator.outputs()
                state, code, message = "Succeeded", "OK", None
            except OutputError as exc:
                detail = {
                    "code": "DeploymentOutputEvaluationFailed",
                    "target": exc.name,
                    "message": f"The template output '{exc.name}' is not valid: {exc.message}.",
                }
                deployment.error = {
                    "code": "DeploymentOutputEvaluationFailed",
                    "target": deployment.id,
                    "message": f"Unable to evaluate template outputs: '{exc.name}'. Please see error details and "
                    "deployment operations. Please see https://aka.ms/arm-debug for usage details.",
                    "details": [detail],
                }
                state, code, message = "Failed", "BadRequest", {"status": "Failed", "error": detail}
            if _section_present(deployment.template, "outputs"):
                deployment.output_step = {
                    "operationId": backend.guids.next().replace("-", "")[:16].upper(),
                    "state": state,
                    "code": code,
                    "message": message,
                    "started": started,
                    "ended": finished,
                    "tracking": backend.guids.next(),
                }
            deployment.state = state
            if state == "Succeeded" and deployment.mode == "Complete":
                self._complete_mode(deployment)
        deployment.finished = finished
        self._active.discard(deployment.key)

    def _complete_mode(self, deployment: Deployment) -> None:
        """Complete mode: what the template does not declare is deleted from the group."""
        backend = self.backend
        keep = {step.plan.key for step in deployment.steps if step.state == "Succeeded"}
        for vm in backend.compute.list(deployment.group):
            if vm.id.lower() not in keep:
                try:
                    backend.compute.delete(deployment.group, vm.name, deployment.api_version)
                except ArmError:
                    pass  # busy: ARM would retry; the sandbox leaves it
        for scale_set in backend.scalesets.list(deployment.group):
            if scale_set.id.lower() not in keep:
                backend.scalesets.remove(scale_set)
        for resource_id in backend.network.ids_in(deployment.group):
            if resource_id.lower() not in keep:
                backend.network.delete(resource_id)

    def _reference(self, target: str, full: bool) -> Any:
        """reference() while running: the resource's GET body (its properties unless 'Full')."""
        backend = self.backend
        parts = target.strip("/").split("/")
        body: dict[str, Any] | None = None
        if len(parts) >= 8 and parts[0].lower() == "subscriptions" and parts[2].lower() == "resourcegroups":
            group, type_name, name = parts[3], f"{parts[5]}/{parts[6]}", parts[7]
            if type_name.lower() == VM_TYPE.lower() and len(parts) == 8:
                vm = backend.compute.find(group, name)
                body = backend.compute.vm_body(vm) if vm is not None else None
            elif type_name.lower() == VMSS_TYPE.lower() and len(parts) == 8:
                scale_set = backend.scalesets.find(group, name)
                body = backend.scalesets.body(scale_set) if scale_set is not None else None
            else:
                found = backend.network.find(target)
                body = copy.deepcopy(found) if found is not None else None
            if body is None:
                raise ExpressionError(
                    f"The Resource '{type_name}/{name}' under resource group '{group}' was not found. For more "
                    "details please go to https://aka.ms/ARMResourceNotFoundFix"
                )
        else:
            raise ExpressionError(
                f"The template reference '{target}' is not valid: could not find template resource or resource copy "
                "with this name. Please see https://aka.ms/arm-function-reference for usage details."
            )
        return body if full else body.get("properties", {})

    # -- bodies ---------------------------------------------------------------------------------------

    def status_body(self, deployment: Deployment, status_id: str) -> dict[str, Any]:
        """The operationStatuses poll: Running until the run ends, then Succeeded or Failed with the error."""
        if status_id != deployment.status_id:
            past = self._past.get(status_id)
            if past is None:
                raise ArmError(404, "NotFound", f"The operation status '{status_id}' could not be found.")
            state, error = past
        else:
            state, error = deployment.state, deployment.error
        if state in ("Accepted", "Running"):
            return {"status": "Running"}
        body: dict[str, Any] = {"status": state}
        if state == "Failed" and error is not None:
            body["error"] = error
        return body

    def _providers(self, deployment: Deployment) -> list[dict[str, Any]]:
        namespaces: dict[str, dict[str, list[str]]] = {}
        names: dict[str, str] = {}
        for step in deployment.steps:
            plan = step.plan
            if not plan.condition:
                continue
            namespace, _, type_name = plan.type.partition("/")
            names.setdefault(namespace.lower(), namespace)
            types = namespaces.setdefault(namespace.lower(), {})
            location = (plan.body or {}).get("location") or deployment.evaluator.ctx.group.get("location", "")
            regions = types.setdefault(type_name, [])
            region = str(location).replace(" ", "").lower()
            if region not in regions:
                regions.append(region)
        return [
            {
                "namespace": names[key],
                "resourceTypes": [{"resourceType": t, "locations": locs} for t, locs in types.items()],
            }
            for key, types in namespaces.items()
        ]

    def _dependencies(self, deployment: Deployment) -> list[dict[str, Any]]:
        by_key = {step.plan.key: step.plan for step in deployment.steps}
        out = []
        for step in deployment.steps:
            plan = step.plan
            needs = [by_key[key] for key in plan.depends_on if key in by_key]
            if not plan.condition or not needs:
                continue
            out.append(
                {
                    "dependsOn": [{"id": d.id, "resourceType": d.type, "resourceName": d.name} for d in needs],
                    "id": plan.id,
                    "resourceType": plan.type,
                    "resourceName": plan.name,
                }
            )
        return out

    def body(self, deployment: Deployment, validated: bool = False) -> dict[str, Any]:
        """The deployment as ARM's GET (and PUT) returns it, in the real key order."""
        clock = self.backend.clock
        end = deployment.finished or clock.now()
        props: dict[str, Any] = {
            "templateHash": template_hash(deployment.template),
            "parameters": deployment.evaluator.parameters_echo(),
            "mode": deployment.mode,
            "provisioningState": "Succeeded" if validated else deployment.state,
            "timestamp": zulu(deployment.finished or deployment.accepted),
            "duration": iso_duration((end - deployment.accepted).total_seconds()),
            "correlationId": deployment.correlation_id,
            "providers": self._providers(deployment),
            "dependencies": self._dependencies(deployment),
        }
        if validated:
            props["validatedResources"] = [
                {"id": step.plan.id} for step in deployment.steps if step.plan.condition
            ]
        elif not deployment.active:
            if deployment.outputs is not None:
                props["outputs"] = deployment.outputs
            props["outputResources"] = [
                {"id": step.plan.id}
                for step in sorted(deployment.steps, key=lambda s: s.plan.id.lower())
                if step.state == "Succeeded"
            ]
            if deployment.error is not None:
                props["error"] = deployment.error
        return {"id": deployment.id, "name": deployment.name, "type": DEPLOYMENT_TYPE, "properties": props}

    def operations(self, deployment: Deployment) -> list[dict[str, Any]]:
        """The deployment operations (newest first): one per resource started, plus output evaluation."""
        clock = self.backend.clock
        items = []
        for step in deployment.steps:
            if step.started is None:
                continue
            end = step.ended if step.ended is not None and step.state != "Running" else max(clock.now(), step.started)
            props: dict[str, Any] = {
                "provisioningOperation": "Create",
                "provisioningState": step.state,
                "timestamp": zulu(end),
                "duration": iso_duration((end - step.started).total_seconds()),
                "trackingId": step.tracking_id,
                "serviceRequestId": step.op.id if step.op is not None else step.tracking_id,
            }
            if step.status_code is not None:
                props["statusCode"] = step.status_code
            if step.status_message is not None:
                props["statusMessage"] = step.status_message
            props["targetResource"] = {
                "id": step.plan.id,
                "resourceType": step.plan.type,
                "resourceName": step.plan.name,
            }
            items.append((end, self._operation(deployment, step.operation_id, props)))
        if deployment.output_step is not None:
            out = deployment.output_step
            props = {
                "provisioningOperation": "EvaluateDeploymentOutput",
                "provisioningState": out["state"],
                "timestamp": zulu(out["ended"]),
                "duration": iso_duration((out["ended"] - out["started"]).total_seconds()),
                "trackingId": out["tracking"],
                "statusCode": out["code"],
            }
            if out["message"] is not None:
                props["statusMessage"] = out["message"]
            items.append((out["ended"], self._operation(deployment, out["operationId"], props)))
        items.sort(key=lambda item: item[0], reverse=True)
        return [item for _, item in items]

    def operation(self, deployment: Deployment, operation_id: str) -> dict[str, Any]:
        for item in self.operations(deployment):
            if item["operationId"].lower() == operation_id.lower():
                return item
        raise ArmError(
            404, "DeploymentOperationNotFound", f"Deployment operation '{operation_id}' could not be found."
        )

    @staticmethod
    def _operation(deployment: Deployment, operation_id: str, props: dict[str, Any]) -> dict[str, Any]:
        return {"id": f"{deployment.id}/operations/{operation_id}", "operationId": operation_id, "properties": props}

    def validate(self, group: str, name: str, body: Any, correlation: str, raw: bytes) -> dict[str, Any]:
        """POST .../validate: the same checks as a PUT, nothing created."""
        evaluator, mode, template = self.evaluate(group, name, body, raw)
        backend = self.backend
        steps = [Step(plan, "", "", "Pending" if plan.condition else "NotDeployed") for plan in evaluator.plans]
        now = backend.clock.now()
        shadow = Deployment(
            backend.subscription_id,
            backend.groups.get(group).name,
            name,
            "",
            correlation,
            mode,
            template,
            evaluator,
            steps,
            "",
            now,
            0.0,
            state="Succeeded",
            finished=now,
        )
        return self.body(shadow, validated=True)


def _section_present(template: dict[str, Any], key: str) -> bool:
    return isinstance(template.get(key), dict) and bool(template[key])


def _content_error(detail: str) -> ArmError:
    return ArmError(
        400,
        "InvalidRequestContent",
        f"The request content was invalid and could not be deserialized: '{detail}'.",
    )


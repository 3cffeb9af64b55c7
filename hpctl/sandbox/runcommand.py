"""Run Command (`POST …/virtualMachines/{vm}/runCommand`) and restart (`POST …/restart`) on sandbox VMs.

Wire facts: azure-wire.md §9.7 and the real recording azps_vm_runcommand_windows_extract.json (202 with
Azure-AsyncOperation and a monitor=true Location, no Retry-After; InProgress then Succeeded; the result is
`{"value": [ComponentStatus/StdOut/succeeded, ComponentStatus/StdErr/succeeded]}`). A script that fails still
ends Succeeded: its error is on StdErr. RC-ACTION (hotpatch-program.md §6.2): one script at a time per VM,
only the last 4,096 bytes of output, fails when the VM agent is not Ready.
"""

from __future__ import annotations

import random
from typing import Any

from hpctl.sandbox.armerrors import ArmError, conflict, invalid_parameter
from hpctl.sandbox.compute import AGENT_FAILURE_CODE, Compute, VirtualMachine, _agent_message, _key_of
from hpctl.sandbox.guest import Guest, ScriptError
from hpctl.sandbox.lro import SUCCEEDED, Operation

RUN_COMMAND = "runcommand"
RESTART = "restart"
OUTPUT_LIMIT = 4096
# Simulated seconds: the real read-only run took 34 s (the recording); a DISM removal takes minutes.
READ_SECONDS = (20.0, 40.0)
SERVICING_SECONDS = (180.0, 420.0)
RESTART_SECONDS = (60.0, 150.0)
COMMAND_IDS = ("RunPowerShellScript",)

# Real texts: azure-cli #32305 (409 Conflict while a Run Command runs); azure-docs #32404 (a VM that isn't running).
IN_PROGRESS = (
    "Run command extension execution is in progress. Please wait for completion before invoking a run command."
)
NOT_RUNNING = "The operation requires the VM to be running (or set to run)."
# What a restart finds when servicing fails at boot (Windows rolls the pending change back).
REVERTED = "Failure configuring Windows updates. Reverting changes."


def _output_entry(stream: str, message: str) -> dict[str, Any]:
    return {
        "code": f"ComponentStatus/{stream}/succeeded",
        "level": "Info",
        "displayStatus": "Provisioning succeeded",
        "message": message,
    }


def _tail(text: str) -> str:
    raw = text.encode("utf-8")
    return raw[-OUTPUT_LIMIT:].decode("utf-8", errors="ignore") if len(raw) > OUTPUT_LIMIT else text


class VmActions:
    """Run Command and restart for the VMs of one Compute."""

    def __init__(self, compute: Compute, seed: int) -> None:
        self.compute = compute
        self._random = random.Random(f"hpctl-sandbox-runcommand:{seed}")
        self._reverts: set[str] = set()
        self._broken: dict[str, str] = {}

    def revert_next_servicing(self, vm: VirtualMachine) -> None:
        """The VM's next restart fails to apply pending servicing and comes back on the build it ran."""
        self._reverts.add(vm.key)

    def break_next_script(self, vm: VirtualMachine, message: str) -> None:
        """The VM's next script stops with this error (e.g. WMI broken: Get-HotFix fails), written to stderr."""
        self._broken[vm.key] = message

    def _check(self, vm: VirtualMachine) -> None:
        if vm.power != "running":
            raise ArmError(409, "OperationNotAllowed", NOT_RUNNING)
        if self.compute.operations.running(vm.id, (RUN_COMMAND,)) is not None:
            raise ArmError(409, "Conflict", IN_PROGRESS)
        if self.compute.operations.running(vm.id, ("assess", "install", RESTART, "create", "update", "delete")):
            raise conflict()

    def run(self, group: str, name: str, body: Any, api_version: str,
            failure: tuple[str | None, str | None] | None) -> Operation:
        vm = self.compute.get(group, name)
        script, parameters = _parse_input(body)
        self._check(vm)
        servicing = any("remove-package" in line.lower() for line in script)
        seconds = self._random.uniform(*(SERVICING_SECONDS if servicing else READ_SECONDS))
        op = self.compute._start(vm, RUN_COMMAND, api_version, seconds, failure, self._finish_run)
        op.details.update(script=script, parameters=parameters)
        return op

    def _finish_run(self, op: Operation) -> None:
        vm = self.compute.find(*_key_of(op.target).split("/"))
        if vm is not None and op.failure is None and not vm.agent:
            op.failure = (AGENT_FAILURE_CODE, _agent_message(vm.name))
        if vm is None or op.failure is not None:
            self.compute._fail(op, *(op.failure or ("NotFound", "The VM was deleted.")))
            return
        if vm.patch is None:
            stdout, stderr = "", "Run Command: this image's guest is not simulated."
        else:
            computer = str(vm.model.properties["osProfile"].get("computerName") or vm.name).upper()
            guest = Guest(computer, self.compute._os_name(vm), vm.patch, self.compute.world)
            broken = self._broken.pop(vm.key, None)
            if broken is not None:
                stdout, stderr = "", ScriptError(broken, 1, op.details["script"][0] if op.details["script"] else
                                                 "", "NotSpecified").render()
            else:
                stdout, stderr = guest.run(op.details["script"], op.details["parameters"])
            if guest.restart_requested and not stderr:
                self.compute.world.restart(vm.patch)
        op.output = {"value": [_output_entry("StdOut", _tail(stdout)), _output_entry("StdErr", _tail(stderr))]}
        op.status = SUCCEEDED

    def restart(self, group: str, name: str, api_version: str,
                failure: tuple[str | None, str | None] | None) -> Operation:
        vm = self.compute.get(group, name)
        if vm.power != "running":
            raise ArmError(409, "OperationNotAllowed", NOT_RUNNING)
        if self.compute.operations.running(vm.id, (RUN_COMMAND, "assess", "install", RESTART, "create", "update",
                                                   "delete")):
            raise conflict()
        seconds = self._random.uniform(*RESTART_SECONDS)
        return self.compute._start(vm, RESTART, api_version, seconds, failure, self._finish_restart)

    def _finish_restart(self, op: Operation) -> None:
        vm = self.compute.find(*_key_of(op.target).split("/"))
        if vm is None or op.failure is not None:
            self.compute._fail(op, *(op.failure or ("NotFound", "The VM was deleted.")))
            return
        state = vm.patch
        if state is not None:
            if vm.key in self._reverts and state.removing:
                self._reverts.discard(vm.key)
                op.details["guest"] = REVERTED
                state.history = sorted([*state.history, *state.removing], key=lambda r: r.ubr)
                state.removing.clear()
                state.level = state.history[-1]
            self.compute.world.restart(state)
        op.status = SUCCEEDED


def _parse_input(body: Any) -> tuple[list[str], dict[str, str]]:
    """RunCommandInput: commandId (required), script (lines), parameters ([{name, value}])."""
    if not isinstance(body, dict):
        raise ArmError(400, "InvalidRequestContent",
                       "The request content was invalid and could not be deserialized: 'Expected an object.'.")
    command = body.get("commandId")
    if not isinstance(command, str) or not command:
        raise ArmError(400, "InvalidParameter", "Required parameter 'commandId' is missing (null).",
                       target="commandId")
    if command not in COMMAND_IDS:
        raise invalid_parameter(f"The value '{command}' of parameter 'commandId' is not valid for this VM.",
                                "commandId")
    script = body.get("script") or []
    if not isinstance(script, list) or not all(isinstance(line, str) for line in script):
        raise invalid_parameter("The value of parameter 'script' must be a list of strings.", "script")
    parameters: dict[str, str] = {}
    for item in body.get("parameters") or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not isinstance(
                item.get("value"), str):
            raise invalid_parameter("Each run command parameter needs a string name and value.", "parameters")
        parameters[item["name"].lower()] = item["value"]
    return script, parameters

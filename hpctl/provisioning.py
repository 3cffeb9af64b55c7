"""Create hotpatch VMs and Flexible scale sets from the repo's ARM templates, and turn hotpatch on."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from hpctl.core.hotpatch_settings import HotpatchPlan, plan_enable_hotpatch
from hpctl.core.vm_create_extras import NetworkChoice, network_parameters
from hpctl.core.vm_facts import resource_group_of, vm_facts
from hpctl.edge import compute, deployments
from hpctl.edge.clients import Connection
from hpctl.errors import InputError, NotFoundError

log = logging.getLogger(__name__)

VM_TEMPLATE = "hotpatch-vm.json"
VMSS_TEMPLATE = "hotpatch-vmss-flex.json"
# The Microsoft.Network api-version hpctl reads a VNet with (the one the templates deploy with).
NETWORK_API_VERSION = "2023-11-01"


def load_template(name: str) -> dict[str, Any]:
    """A template from templates/: the package hpctl.templates of an installed wheel (pyproject's package-dir)
    or, in a source checkout that is imported ahead of the wheel (`python -m pytest` and `python -m hpctl` run
    from the checkout put it first on sys.path), the top-level folder itself."""
    try:
        folder: Any = resources.files("hpctl.templates")
    except ModuleNotFoundError:
        folder = Path(__file__).resolve().parents[1] / "templates"
    return json.loads(folder.joinpath(name).read_text())


def deployment_name(kind: str, resource: str) -> str:
    # Deterministic, so re-running the same create re-uses (and overwrites) one deployment record.
    return f"hpctl-{kind}-{resource}"[:64]


@dataclass(frozen=True)
class DeploymentPlan:
    """What would be sent: the group, the deployment name, the template and its parameters."""

    resource_group: str
    name: str
    template: dict[str, Any]
    parameters: dict[str, Any]

    def redacted(self, secret_names: tuple[str, ...] = ("adminPassword",)) -> dict[str, Any]:
        # A Key Vault reference names the secret without holding it, so it is shown as it is.
        params = {k: ({"value": "REDACTED"} if k in secret_names and "reference" not in v else v)
                  for k, v in self.parameters.items()}
        return {"resourceGroup": self.resource_group, "name": self.name,
                "properties": {"mode": "Incremental", "template": self.template, "parameters": params}}


def ensure_group(conn: Connection, resource_group: str, location: str | None, create: bool) -> bool:
    """True when the group was there already; creates it first when asked. Missing group without
    --create-group → 3."""
    existing = deployments.resource_group_location(conn, resource_group)
    if existing is not None:
        return True
    if not create:
        raise NotFoundError(f"Resource group '{resource_group}' does not exist.",
                            hint="Create it with --create-group --location LOCATION, or pick an existing group.")
    if not location:
        raise InputError(f"--create-group needs --location to create '{resource_group}'; e.g. --location westeurope.")
    deployments.create_resource_group(conn, resource_group, location)
    return False


def vm_exists(conn: Connection, resource_group: str, name: str) -> bool:
    return compute.find_vm(conn, resource_group, name) is not None


def scale_set_exists(conn: Connection, resource_group: str, name: str) -> bool:
    return compute.find_scale_set(conn, resource_group, name) is not None


def network_values(conn: Connection | None, resource_group: str, choice: NetworkChoice) -> dict[str, Any]:
    """Template values for --vnet-name/--subnet: whether the VNet and subnet exist decides what the template
    creates. Without a connection (--dry-run) nothing can be read, so the plan shows a new VNet."""
    if not choice.by_name:
        return {}
    vnet = None
    if conn is not None:
        vnet = deployments.get_resource(conn, deployments.resource_id(
            conn.subscription_id, resource_group, "Microsoft.Network/virtualNetworks", str(choice.vnet_name)),
            NETWORK_API_VERSION)
    return network_parameters(choice, vnet)


def output_values(result: dict[str, Any]) -> dict[str, Any]:
    """The deployment's outputs worth a column of their own (the VM's private IP)."""
    outputs = result.get("outputs") or {}
    shown = {}
    for key in ("privateIpAddress",):
        value = (outputs.get(key) or {}).get("value") if isinstance(outputs.get(key), dict) else None
        if value is not None:
            shown[key] = value
    return shown


def settings_row(vm: dict[str, Any]) -> dict[str, Any]:
    """A created VM as Azure reports it: where it is, what it runs, its hotpatch settings."""
    facts = vm_facts(vm)
    props = vm.get("properties") or {}
    win = (props.get("osProfile") or {}).get("windowsConfiguration") or {}
    return {
        "id": facts.id,
        "name": facts.name,
        "resourceGroup": facts.resource_group,
        "location": facts.location,
        "zone": ",".join(facts.zones) or None,
        "size": (props.get("hardwareProfile") or {}).get("vmSize"),
        "image": facts.image,
        "eligible": facts.eligible,
        "provisioningState": props.get("provisioningState"),
        "provisionVMAgent": win.get("provisionVMAgent"),
        "patchSettings": win.get("patchSettings"),
        "securityType": (props.get("securityProfile") or {}).get("securityType"),
        "licenseType": props.get("licenseType"),
        "flags": list(facts.flags),
    }


def deploy_plan(conn: Connection, plan: DeploymentPlan, *, wait: bool) -> dict[str, Any]:
    return deployments.deploy(conn, plan.resource_group, plan.name, plan.template, plan.parameters, wait=wait)


def scale_set_row(vmss: dict[str, Any]) -> dict[str, Any]:
    """A created scale set as Azure reports it: orchestration, hotpatch settings, extensions."""
    props = vmss.get("properties") or {}
    profile = props.get("virtualMachineProfile") or {}
    return {
        "id": vmss.get("id"),
        "name": vmss.get("name"),
        "resourceGroup": resource_group_of(vmss.get("id", "")),
        "location": vmss.get("location"),
        "orchestrationMode": props.get("orchestrationMode"),
        "provisioningState": props.get("provisioningState"),
        "patchSettings": ((profile.get("osProfile") or {}).get("windowsConfiguration") or {}).get("patchSettings"),
        "extensions": [e.get("name") for e in (profile.get("extensionProfile") or {}).get("extensions") or []],
    }


def plan_hotpatch(conn: Connection, resource_group: str, name: str,
                  reboot_setting: str | None = None) -> tuple[dict[str, Any], HotpatchPlan]:
    vm = compute.get_vm(conn, resource_group, name)
    return vm, plan_enable_hotpatch(vm, reboot_setting)


def apply_hotpatch(conn: Connection, resource_group: str, plan: HotpatchPlan) -> dict[str, Any]:
    vm = compute.update_vm(conn, resource_group, plan.name, plan.body)
    return settings_row(vm)


def check_scale_sets(conn: Connection, resource_group: str | None, name: str | None) -> list[dict[str, Any]]:
    """Each scale set OK or with its findings (Uniform on a hotpatch image, no health extension, ...)."""
    from datetime import datetime, timezone

    from hpctl.core.calendar import load_calendar
    from hpctl.core.compliance import evaluate, scale_set_record

    if name:
        raw = [compute.get_scale_set(conn, resource_group or "", name)]
    else:
        raw = compute.list_scale_sets(conn, resource_group)
    now = datetime.now(timezone.utc)
    result = evaluate([], [scale_set_record(s) for s in raw], today=now.date(), now=now, calendar=load_calendar())
    rows = []
    for res in result.results:
        rec = res.record
        rows.append({
            "name": rec.name, "resourceGroup": rec.resource_group, "id": rec.id,
            "orchestrationMode": rec.orchestration_mode or "Uniform (not set)", "image": rec.image,
            "eligible": rec.eligible, "status": "OK" if res.compliant else "FINDINGS",
            "findings": [{"ruleId": f.rule_id, "severity": f.severity, "message": f.message, "fix": f.fix}
                         for f in res.findings],
        })
    return rows

"""Reads a Terraform plan (`terraform show -json`) into the lint model: azurerm VMs, scale sets and NSGs, and
azapi resources (whose bodies are ARM's own shape)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hpctl.core.lint_model import MISSING, TERRAFORM_WORDS, UNKNOWN, LintModel, Machine, SecurityRule, Values

VM = "azurerm_windows_virtual_machine"
LEGACY_VM = "azurerm_virtual_machine"
UNIFORM_VMSS = "azurerm_windows_virtual_machine_scale_set"  # azurerm makes these Uniform, always
FLEXIBLE_VMSS = "azurerm_orchestrated_virtual_machine_scale_set"
VMSS_EXTENSION = "azurerm_virtual_machine_scale_set_extension"
NSG = "azurerm_network_security_group"
NSG_RULE = "azurerm_network_security_rule"
AZAPI = "azapi_resource"
HEALTH_PUBLISHER = "microsoft.managedservices"
HEALTH_TYPES = frozenset({"applicationhealthwindows", "applicationhealthlinux"})
# What azurerm sends when the configuration leaves a setting out (the provider's documented defaults).
DEFAULTS = {
    "provision_vm_agent": True,
    "patch_mode": "AutomaticByOS",
    "hotpatching_enabled": False,
    "patch_assessment_mode": "ImageDefault",
    "bypass_platform_safety_checks_on_user_schedule_enabled": False,
}


@dataclass
class _Resource:
    """One planned resource: its address and type, its values, and which of them are known only after apply."""

    address: str
    type: str
    values: dict[str, Any]
    unknown: Any

    def get(self, *path: str | int) -> Any:
        """The value at `path`; UNKNOWN when Terraform knows it only after apply, MISSING when absent or null."""
        value: Any = self.values
        marker: Any = self.unknown
        for key in path:
            if marker is True:
                return UNKNOWN
            marker = _step(marker, key)
            value = _step(value, key)
            if value is None:
                return UNKNOWN if marker is True else MISSING
        return UNKNOWN if marker is True else value

    def setting(self, block: tuple[str | int, ...], name: str) -> Values:
        value = self.get(*block, name)
        if value is UNKNOWN:
            return UNKNOWN
        return [DEFAULTS.get(name, MISSING) if value is MISSING else value]


def _step(node: Any, key: str | int) -> Any:
    if isinstance(key, int):
        return node[key] if isinstance(node, list) and -len(node) <= key < len(node) else None
    return node.get(key) if isinstance(node, dict) else None


def _planned(doc: dict[str, Any]) -> Iterator[_Resource]:
    """Managed resources the plan creates or keeps (resource_changes), else those of planned_values/values."""
    changes = doc.get("resource_changes")
    if isinstance(changes, list):
        for change in changes:
            if not isinstance(change, dict) or change.get("mode", "managed") != "managed":
                continue
            body = change.get("change") or {}
            if body.get("actions") == ["delete"] or not isinstance(body.get("after"), dict):
                continue
            yield _Resource(str(change.get("address")), str(change.get("type")), body["after"],
                            body.get("after_unknown") or {})
        return
    for key in ("planned_values", "values"):
        root = (doc.get(key) or {}).get("root_module") if isinstance(doc.get(key), dict) else None
        if isinstance(root, dict):
            yield from _module(root)
            return


def _module(module: dict[str, Any]) -> Iterator[_Resource]:
    for res in module.get("resources") or []:
        if isinstance(res, dict) and res.get("mode", "managed") == "managed" and isinstance(res.get("values"), dict):
            yield _Resource(str(res.get("address")), str(res.get("type")), res["values"], {})
    for child in module.get("child_modules") or []:
        if isinstance(child, dict):
            yield from _module(child)


class _Reader:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.resources = list(_planned(doc))
        self.model = LintModel()

    def run(self) -> LintModel:
        for res in self.resources:
            if res.type == VM:
                self.model.machines.append(self.machine(res, (), scale_set=False))
            elif res.type == UNIFORM_VMSS:
                machine = self.machine(res, (), scale_set=True)
                machine.orchestration = ["Uniform"]
                self.model.machines.append(machine)
            elif res.type == FLEXIBLE_VMSS:
                machine = self.machine(res, ("os_profile", 0, "windows_configuration", 0), scale_set=True)
                machine.health_extension = self.has_health_extension(res)
                self.model.machines.append(machine)
            elif res.type == LEGACY_VM:
                self.model.machines.append(self.legacy_vm(res))
            elif res.type == NSG:
                rules = res.get("security_rule")
                if rules is UNKNOWN:
                    self.model.unresolved.append((res.address, "security_rule"))
                for index, rule in enumerate(rules if isinstance(rules, list) else []):
                    self.rule(res, (("security_rule", index)), rule)
            elif res.type == NSG_RULE:
                self.rule(res, (), res.values)
            elif res.type == AZAPI:
                self.azapi(res)
        return self.model

    def machine(self, res: _Resource, block: tuple[str | int, ...], *, scale_set: bool) -> Machine:
        machine = Machine(
            label=res.address, scale_set=scale_set, words=TERRAFORM_WORDS,
            agent=res.setting(block, "provision_vm_agent"),
            hotpatch=res.setting(block, "hotpatching_enabled"),
            patch_mode=res.setting(block, "patch_mode"),
            bypass=res.setting(block, "bypass_platform_safety_checks_on_user_schedule_enabled"),
            assessment=res.setting(block, "patch_assessment_mode"),
        )
        self.image(machine, res, "source_image_reference", "source_image_id")
        return machine

    def legacy_vm(self, res: _Resource) -> Machine:
        """azurerm_virtual_machine has no patch settings at all: Azure then refuses a hotpatch image."""
        machine = Machine(label=res.address, scale_set=False, words=TERRAFORM_WORDS,
                          agent=res.setting(("os_profile_windows_config", 0), "provision_vm_agent"),
                          patch_settings=[MISSING])
        self.image(machine, res, "storage_image_reference", None)
        return machine

    @staticmethod
    def image(machine: Machine, res: _Resource, block: str, id_attribute: str | None) -> None:
        fields = [res.get(block, 0, key) for key in ("publisher", "offer", "sku")]
        image_id = res.get(block, 0, "id") if id_attribute is None else res.get(id_attribute)
        if any(f is UNKNOWN for f in fields) or image_id is UNKNOWN:
            machine.images = UNKNOWN
        elif all(f is MISSING for f in fields):
            machine.custom_image = image_id is not MISSING
        else:
            machine.images = [tuple(fields)]  # type: ignore[list-item]

    def has_health_extension(self, res: _Resource) -> bool:
        blocks = res.get("extension")
        candidates = [b for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else []
        scale_sets = [r for r in self.resources if r.type == FLEXIBLE_VMSS]
        name = res.get("name")
        for other in self.resources:
            if other.type != VMSS_EXTENSION:
                continue
            target = other.get("virtual_machine_scale_set_id")
            # An id Terraform learns only on apply (a scale set created in this plan): with a single scale set in
            # the plan it must be this one's.
            if (target is UNKNOWN and len(scale_sets) == 1) or (
                    isinstance(target, str) and isinstance(name, str)
                    and target.rstrip("/").rsplit("/", 1)[-1].lower() == name.lower()):
                candidates.append(other.values)
        return any(str(c.get("publisher", "")).lower() == HEALTH_PUBLISHER
                   and str(c.get("type", "")).lower() in HEALTH_TYPES for c in candidates)

    def rule(self, res: _Resource, where: tuple[Any, ...], rule: Any) -> None:
        if not isinstance(rule, dict):
            return
        prefix: tuple[str | int, ...] = tuple(where)

        def vals(*keys: str) -> list[Any] | None:
            out: list[Any] = []
            for key in keys:
                value = res.get(*prefix, key)
                if value is UNKNOWN:
                    return None
                if isinstance(value, list):
                    out.extend(value)
                elif value is not MISSING and value != "":
                    out.append(value)
            return out

        name = str(rule.get("name"))
        fields = [vals("direction"), vals("access"), vals("protocol"),
                  vals("destination_port_range", "destination_port_ranges"),
                  vals("source_address_prefix", "source_address_prefixes")]
        if any(f is None for f in fields):
            self.model.unresolved.append((res.address, f"security rule {name}"))
            return
        direction, access, protocol, ports, sources = fields
        self.model.rules.append(SecurityRule(res.address, name, TERRAFORM_WORDS, direction, access,  # type: ignore[arg-type]
                                             protocol, ports, sources))  # type: ignore[arg-type]

    def azapi(self, res: _Resource) -> None:
        """azapi_resource's body is an ARM resource body: the ARM reader reads it, labelled with the address."""
        from hpctl.core.arm_model import read_arm

        kind = res.get("type")
        body = res.get("body")
        if kind is UNKNOWN or body is UNKNOWN:
            self.model.unresolved.append((res.address, "the azapi resource type or body"))
            return
        if isinstance(body, str):  # azapi 1.x: a JSON string
            try:
                body = json.loads(body)
            except ValueError:
                self.model.unresolved.append((res.address, "the azapi body (not JSON)"))
                return
        if not isinstance(kind, str) or not isinstance(body, dict):
            return
        type_name, _, api_version = kind.partition("@")
        name = res.get("name")
        inner = read_arm({"resources": [{**body, "type": type_name, "apiVersion": api_version,
                                         "name": name if isinstance(name, str) else res.address}]})
        for machine in inner.machines:
            machine.label = res.address
        for rule in inner.rules:
            rule.label = res.address
        self.model.machines += inner.machines
        self.model.rules += inner.rules
        self.model.unresolved += [(res.address, what) for _, what in inner.unresolved]


def is_terraform_plan(doc: Any) -> bool:
    """`terraform show -json` output (of a plan, or of state), rather than an ARM template."""
    return isinstance(doc, dict) and "format_version" in doc and (
        "resource_changes" in doc or "planned_values" in doc or "values" in doc or "terraform_version" in doc)


def read_terraform_plan(doc: dict[str, Any]) -> LintModel:
    """The VMs, scale sets and security rules a Terraform plan creates or keeps."""
    return _Reader(doc).run()

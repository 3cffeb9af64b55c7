"""The hotpatch rules Azure enforces (or silently depends on), checked on IaC of any format read into the lint model."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from hpctl.core.lint_model import MISSING, LintModel, Machine, SecurityRule, Values, _Unknown

Severity = Literal["high", "medium", "low", "info"]
EligibilityCheck = Callable[[str, str, str], bool]

# Azure refuses hotpatch-compatible VMs below 2020-06-01; enableHotpatching itself arrived in 2020-12-01.
MIN_HOTPATCH_API_VERSION = "2020-12-01"
RDP_PORT = 3389
WORLD_SOURCES = frozenset({"*", "internet", "any", "0.0.0.0/0", "0.0.0.0", "::/0", "0/0"})

# Used only if hpctl.core.images cannot be imported; it mirrors BRIEF §1 (images.json is the source of truth).
_FALLBACK_PUBLISHER = "microsoftwindowsserver"
_FALLBACK_OFFER = "windowsserver"
_FALLBACK_SKUS = frozenset(
    {
        "2022-datacenter-azure-edition-core",
        "2022-datacenter-azure-edition-core-smalldisk",
        "2022-datacenter-azure-edition-hotpatch",
        "2022-datacenter-azure-edition-hotpatch-smalldisk",
        "2025-datacenter-azure-edition",
        "2025-datacenter-azure-edition-smalldisk",
        "2025-datacenter-azure-edition-core",
        "2025-datacenter-azure-edition-core-smalldisk",
    }
)

RULES: dict[str, tuple[Severity, str]] = {
    "HP-T001": ("high", "VM or scale set on a hotpatch image without patchSettings"),
    "HP-T002": ("high", "enableHotpatching missing or false on a hotpatch image"),
    "HP-T003": ("high", "patchMode is not AutomaticByPlatform on a hotpatch image"),
    "HP-T004": ("high", "provisionVMAgent is false on a hotpatch image"),
    "HP-T005": ("high", "bypassPlatformSafetyChecksOnUserSchedule is true with hotpatch"),
    "HP-T006": ("low", "assessmentMode is not AutomaticByPlatform (no periodic assessment)"),
    "HP-T007": ("high", "Uniform scale set (or no orchestrationMode) on a hotpatch image"),
    "HP-T008": ("high", "Flexible scale set with AutomaticByPlatform and no Application Health extension"),
    "HP-T009": ("high", "enableHotpatching true on an image that cannot hotpatch"),
    "HP-T010": ("high", "RDP (3389) open to the internet"),
    "HP-T011": ("info", "value could not be resolved statically"),
    "HP-T012": ("high", "Compute apiVersion too old for hotpatch settings"),
}


@dataclass(frozen=True)
class Finding:
    """One lint result: which rule, how bad, which resource, what is wrong and how to fix it."""

    rule_id: str
    severity: Severity
    resource: str
    message: str
    fix: str


def _default_is_eligible(publisher: str, offer: str, sku: str) -> bool:
    try:
        from hpctl.core.images import is_eligible_image
    except ImportError:  # pragma: no cover - images.py ships with hpctl; this keeps lint usable without it
        return (
            publisher.strip().lower() == _FALLBACK_PUBLISHER
            and offer.strip().lower() == _FALLBACK_OFFER
            and sku.strip().lower() in _FALLBACK_SKUS
        )
    return is_eligible_image(publisher, offer, sku)




# ================================================================================ the rules


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _shown(values: list[Any]) -> str:
    return "missing" if all(v is MISSING for v in values) else ", ".join(sorted({str(v) for v in values}))


class _Rules:
    """Runs every rule over one lint model; findings are deduplicated."""

    def __init__(self, model: LintModel, is_eligible: EligibilityCheck) -> None:
        self.model = model
        self.is_eligible = is_eligible
        self.findings: list[Finding] = []

    def add(self, rule_id: str, resource: str, message: str, fix: str) -> None:
        finding = Finding(rule_id, RULES[rule_id][0], resource, message, fix)
        if finding not in self.findings:
            self.findings.append(finding)

    def unresolved(self, label: str, what: str) -> None:
        self.add(
            "HP-T011",
            label,
            f"{what} could not be resolved from the template alone, so the hotpatch rules on it were not checked",
            "check it by hand, or give the parameter a defaultValue (Terraform: a value known at plan time)",
        )

    def known(self, machine: Machine, values: Values, name: str) -> list[Any] | None:
        if isinstance(values, _Unknown):
            self.unresolved(machine.label, name)
            return None
        return values

    def run(self) -> list[Finding]:
        for label, what in self.model.unresolved:
            self.unresolved(label, what)
        for machine in self.model.machines:
            self.machine(machine)
        for rule in self.model.rules:
            self.security_rule(rule)
        return self.findings

    # ------------------------------------------------------------------ images

    def image_verdict(self, machine: Machine) -> tuple[bool, bool, str] | None:
        """(may be eligible, may be ineligible, description); None when there is nothing to judge."""
        if isinstance(machine.images, _Unknown):
            self.unresolved(machine.label, "the image reference")
            return None
        if not machine.images:
            return (False, True, "a custom or gallery image") if machine.custom_image else None
        eligible = ineligible = False
        seen: list[str] = []
        for pub, offer, sku in machine.images:
            if not all(isinstance(v, str) for v in (pub, offer, sku)):
                ineligible = True
                continue
            ok = self.is_eligible(pub, offer, sku)
            eligible |= ok
            ineligible |= not ok
            seen.append(f"{pub}:{offer}:{sku}")
        return eligible, ineligible, ", ".join(seen[:3]) or "an unknown image"

    # ------------------------------------------------------------------ VMs and scale sets

    def machine(self, machine: Machine) -> None:
        verdict = self.image_verdict(machine)
        if verdict is None:
            return
        eligible, ineligible, image = verdict
        kind = "the scale set" if machine.scale_set else "the VM"
        if not eligible:
            if ineligible:
                self.hotpatch_on_ineligible(machine, image, kind)
            return
        self.api_version(machine, kind)
        if machine.scale_set:
            modes = self.known(machine, machine.orchestration, "orchestrationMode")
            if modes is None:
                return
            if any(str(m).lower() != "flexible" for m in modes):
                shown = "missing (which means Uniform)" if all(m is MISSING for m in modes) else "Uniform"
                self.add(
                    "HP-T007",
                    machine.label,
                    f"orchestrationMode is {shown} on a scale set with hotpatch image {image}; Azure does not "
                    "support Uniform scale sets on hotpatch images",
                    machine.words.use_flexible,
                )
                return
        self.patch_settings(machine, image, kind)
        if machine.scale_set and not machine.health_extension:
            mode = machine.patch_mode
            if isinstance(mode, list) and any(str(m).lower() == "automaticbyplatform" for m in mode):
                self.add(
                    "HP-T008",
                    machine.label,
                    "Flexible scale set with patchMode AutomaticByPlatform has no Application Health extension; "
                    "Azure needs it to patch availability-first",
                    machine.words.add_health_extension,
                )

    def patch_settings(self, machine: Machine, image: str, kind: str) -> None:
        words, label = machine.words, machine.label
        agent = self.known(machine, machine.agent, words.agent)
        if agent is not None and any(v is False or str(v).lower() == "false" for v in agent):
            self.add(
                "HP-T004",
                label,
                f"{words.agent} is false on {kind} with hotpatch image {image}; hotpatch needs the VM agent",
                f"set {words.agent} to true (or remove it: true is the default)",
            )
        settings = self.known(machine, machine.patch_settings, words.patch_settings)
        if settings is not None and all(v is MISSING or v is None for v in settings):
            self.add(
                "HP-T001",
                label,
                f"{kind} uses hotpatch image {image} but has no {words.patch_settings}; Azure refuses it "
                "('PatchSettings must be specified for hotpatch compatible VMs')",
                words.add_patch_settings,
            )
            return
        hot = self.known(machine, machine.hotpatch, words.hotpatch)
        if hot is not None and any(not _true(v) for v in hot):
            state = "missing" if all(v is MISSING for v in hot) else "false"
            self.add(
                "HP-T002",
                label,
                f"{words.hotpatch} is {state} on {kind} with hotpatch image {image}: every update month then "
                "reboots",
                f"set {words.hotpatch} to true",
            )
        mode = self.known(machine, machine.patch_mode, words.patch_mode)
        if mode is not None and any(str(v).lower() != "automaticbyplatform" for v in mode):
            self.add(
                "HP-T003",
                label,
                f"{words.patch_mode} is {_shown(mode)} on {kind} with hotpatch image {image}; hotpatch needs "
                "AutomaticByPlatform",
                f"set {words.patch_mode} to AutomaticByPlatform",
            )
        bypass = self.known(machine, machine.bypass, words.bypass)
        if bypass is not None and any(_true(v) for v in bypass):
            self.add(
                "HP-T005",
                label,
                f"{words.bypass} is true; Azure refuses hotpatch with it ('Hotpatch updates require platform "
                "safety checks')",
                f"set {words.bypass} to false and drop any customer-managed maintenance schedule",
            )
        assess = self.known(machine, machine.assessment, words.assessment)
        if assess is not None and any(str(v).lower() != "automaticbyplatform" for v in assess):
            self.add(
                "HP-T006",
                label,
                f"{words.assessment} is {_shown(assess)}: Azure will not assess {kind} for missing patches every "
                "24 hours",
                f"set {words.assessment} to AutomaticByPlatform",
            )

    def hotpatch_on_ineligible(self, machine: Machine, image: str, kind: str) -> None:
        if isinstance(machine.hotpatch, list) and any(_true(v) for v in machine.hotpatch):
            self.add(
                "HP-T009",
                machine.label,
                f"{machine.words.hotpatch} is true but {kind} uses {image}, which cannot hotpatch; Azure rejects "
                "the deployment",
                "use a Windows Server Datacenter: Azure Edition SKU from `hpctl images list`, or set "
                f"{machine.words.hotpatch} to false",
            )

    def api_version(self, machine: Machine, kind: str) -> None:
        api = machine.api_version
        if api and re.match(r"^\d{4}-\d{2}-\d{2}", api) and api[:10] < MIN_HOTPATCH_API_VERSION:
            self.add(
                "HP-T012",
                machine.label,
                f"{kind} uses Compute apiVersion {api}, older than {MIN_HOTPATCH_API_VERSION} where "
                "enableHotpatching appeared; Azure refuses hotpatch-compatible VMs on old API versions",
                "use Compute apiVersion 2024-07-01 or newer",
            )

    # ------------------------------------------------------------------ network

    def security_rule(self, rule: SecurityRule) -> None:
        inbound = any(str(d).lower() == "inbound" for d in rule.direction)
        allow = any(str(a).lower() == "allow" for a in rule.access)
        tcp = any(str(p).lower() in ("tcp", "*", "any") for p in rule.protocol)
        rdp = any(_port_covers(p, RDP_PORT) for p in rule.ports)
        world = [s for s in rule.sources if isinstance(s, str) and s.strip().lower() in WORLD_SOURCES]
        if inbound and allow and tcp and rdp and world:
            self.add(
                "HP-T010",
                rule.label,
                f"security rule {rule.name} allows RDP (3389) from {world[0]}: hotpatch VMs open to the internet",
                rule.words.narrow_rdp,
            )


def _port_covers(value: Any, port: int) -> bool:
    text = str(value).strip()
    if text in ("*", "Any", "any"):
        return True
    if "-" in text:
        low, _, high = text.partition("-")
        return low.strip().isdigit() and high.strip().isdigit() and int(low) <= port <= int(high)
    return text.isdigit() and int(text) == port


_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}


def check(model: LintModel, *, is_eligible: EligibilityCheck | None = None) -> list[Finding]:
    """Every hotpatch finding in a lint model, most severe first (the same rules whatever the source format).

    `is_eligible(publisher, offer, sku)` decides which images can hotpatch (default: hpctl.core.images).
    """
    findings = _Rules(model, is_eligible or _default_is_eligible).run()
    return sorted(findings, key=lambda f: (_ORDER[f.severity], f.rule_id, f.resource))


def lint_template(doc: dict[str, Any], *, is_eligible: EligibilityCheck | None = None) -> list[Finding]:
    """Every hotpatch finding in an ARM template (a parsed JSON document), most severe first.

    Parameters resolve to their defaultValue (or their allowedValues when there is none); image SKUs also
    count every allowedValue, since any of them may be deployed.
    """
    from hpctl.core.arm_model import read_arm

    if not isinstance(doc, dict):
        return [
            Finding(
                "HP-T011", "info", "(template)", "the document is not a JSON object", "lint an ARM template"
            )
        ]
    return check(read_arm(doc), is_eligible=is_eligible)


def lint_terraform_plan(doc: dict[str, Any], *, is_eligible: EligibilityCheck | None = None) -> list[Finding]:
    """Every hotpatch finding in a Terraform plan (`terraform show -json`): azurerm and azapi resources."""
    from hpctl.core.terraform_model import read_terraform_plan

    return check(read_terraform_plan(doc), is_eligible=is_eligible)

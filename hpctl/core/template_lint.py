"""Lints users' ARM templates for the hotpatch rules Azure enforces (or silently depends on)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import product
from typing import Any, Literal

Severity = Literal["high", "medium", "low", "info"]
EligibilityCheck = Callable[[str, str, str], bool]

VM_TYPE = "microsoft.compute/virtualmachines"
VMSS_TYPE = "microsoft.compute/virtualmachinescalesets"
VMSS_EXTENSION_TYPE = "microsoft.compute/virtualmachinescalesets/extensions"
NSG_TYPE = "microsoft.network/networksecuritygroups"
NSG_RULE_TYPE = "microsoft.network/networksecuritygroups/securityrules"
DEPLOYMENT_TYPE = "microsoft.resources/deployments"
HEALTH_EXTENSION_PUBLISHER = "microsoft.managedservices"
HEALTH_EXTENSION_TYPES = frozenset({"applicationhealthwindows", "applicationhealthlinux"})
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


# ================================================================================ ARM expression evaluation
#
# Just enough of ARM's expression language to follow parameters/variables and the usual if/empty switches.
# A value evaluates to a list of *candidates* (every value it may take) or to UNKNOWN.


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


UNKNOWN = _Unknown()
MISSING = _Missing()
_MAX_CANDIDATES = 32

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)|(?P<punct>[(),.\[\]]))"
)


class _ExprError(ValueError):
    pass


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN_RE.match(text, pos)
        if not match:
            raise _ExprError(f"cannot parse {text[pos:]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    """Recursive descent over ARM expressions: calls, 'strings', integers, .property and [index] access."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, value: str | None = None) -> tuple[str, str]:
        token = self._peek()
        if token is None or (value is not None and token[1] != value):
            raise _ExprError(f"expected {value!r}")
        self.pos += 1
        return token

    def parse(self) -> tuple:
        node = self._expr()
        if self._peek() is not None:
            raise _ExprError("trailing tokens")
        return node

    def _expr(self) -> tuple:
        kind, value = self._take()
        if kind == "str":
            node: tuple = ("lit", value[1:-1].replace("''", "'"))
        elif kind == "num":
            node = ("lit", int(value))
        elif kind == "name":
            self._take("(")
            args: list[tuple] = []
            if self._peek() != ("punct", ")"):
                args.append(self._expr())
                while self._peek() == ("punct", ","):
                    self._take(",")
                    args.append(self._expr())
            self._take(")")
            node = ("call", value.lower(), args)
        else:
            raise _ExprError(f"unexpected {value!r}")
        while self._peek() in (("punct", "."), ("punct", "[")):
            if self._take()[1] == ".":
                node = ("prop", node, self._take()[1])
            else:
                node = ("index", node, self._expr())
                self._take("]")
        return node


def _is_expression(value: Any) -> bool:
    return (
        isinstance(value, str)
        and value.startswith("[")
        and value.endswith("]")
        and not value.startswith("[[")
    )


def _get_ci(mapping: dict[str, Any], key: str) -> Any:
    """ARM property names are case-insensitive."""
    if key in mapping:
        return mapping[key]
    lowered = key.lower()
    for k, v in mapping.items():
        if isinstance(k, str) and k.lower() == lowered:
            return v
    return MISSING


def _dedupe(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if not any(type(value) is type(seen) and value == seen for seen in out):
            out.append(value)
    return out


class _Scope:
    """Parameters and variables of one template, for resolving expressions inside it."""

    def __init__(self, template: dict[str, Any]) -> None:
        params = template.get("parameters")
        variables = template.get("variables")
        self.parameters: dict[str, Any] = params if isinstance(params, dict) else {}
        self.variables: dict[str, Any] = variables if isinstance(variables, dict) else {}
        self._resolving: set[str] = set()

    def resolve(self, value: Any, *, all_allowed: bool = False) -> list[Any] | _Unknown:
        """Candidates for a template value. Literal strings come back as themselves."""
        if _is_expression(value):
            try:
                node = _Parser(value[1:-1]).parse()
            except _ExprError:
                return UNKNOWN
            return self._eval(node, all_allowed)
        if isinstance(value, str) and value.startswith("[["):
            return [value[1:]]
        return [value]

    def parameter(self, name: str, all_allowed: bool) -> list[Any] | _Unknown:
        spec = _get_ci(self.parameters, name)
        if not isinstance(spec, dict):
            return UNKNOWN
        candidates: list[Any] = []
        default = _get_ci(spec, "defaultValue")
        allowed = _get_ci(spec, "allowedValues")
        if default is not MISSING:
            resolved = self.resolve(default, all_allowed=all_allowed)
            if isinstance(resolved, _Unknown):
                return UNKNOWN
            candidates.extend(resolved)
        # Without a default the deployer must pick one of allowedValues; with one, the default is what an
        # unattended deployment gets, unless the caller asks for every value the template admits.
        if isinstance(allowed, list) and (default is MISSING or all_allowed):
            candidates.extend(allowed)
        return _dedupe(candidates) if candidates else UNKNOWN

    def variable(self, name: str, all_allowed: bool) -> list[Any] | _Unknown:
        if name.lower() in self._resolving:
            return UNKNOWN
        value = _get_ci(self.variables, name)
        if value is MISSING:
            return UNKNOWN
        self._resolving.add(name.lower())
        try:
            return self.resolve(value, all_allowed=all_allowed)
        finally:
            self._resolving.discard(name.lower())

    def _eval(self, node: tuple, all_allowed: bool) -> list[Any] | _Unknown:
        kind = node[0]
        if kind == "lit":
            return [node[1]]
        if kind in ("prop", "index"):
            base = self._eval(node[1], all_allowed)
            keys = [node[2]] if kind == "prop" else self._eval(node[2], all_allowed)
            if isinstance(base, _Unknown) or isinstance(keys, _Unknown):
                return UNKNOWN
            out: list[Any] = []
            for item, key in product(base, keys):
                if isinstance(item, dict) and isinstance(key, str):
                    got = _get_ci(item, key)
                elif isinstance(item, list) and isinstance(key, int) and -len(item) <= key < len(item):
                    got = item[key]
                else:
                    return UNKNOWN
                if got is MISSING:
                    return UNKNOWN
                resolved = self.resolve(got, all_allowed=all_allowed)
                if isinstance(resolved, _Unknown):
                    return UNKNOWN
                out.extend(resolved)
            return _dedupe(out)
        name, args = node[1], node[2]
        if name == "if" and len(args) == 3:
            condition = self._eval(args[0], all_allowed)
            branches: list[Any] = []
            # An undecidable condition means either branch may be deployed.
            pick = [True, False] if isinstance(condition, _Unknown) else _dedupe([bool(c) for c in condition])
            for chosen in pick:
                branch = self._eval(args[1] if chosen else args[2], all_allowed)
                if isinstance(branch, _Unknown):
                    return UNKNOWN
                branches.extend(branch)
            return _dedupe(branches)
        evaluated = [self._eval(arg, all_allowed) for arg in args]
        if any(isinstance(e, _Unknown) for e in evaluated):
            return UNKNOWN
        if name == "parameters" and len(args) == 1:
            return _flatten(self.parameter(str(v), all_allowed) for v in evaluated[0])
        if name == "variables" and len(args) == 1:
            return _flatten(self.variable(str(v), all_allowed) for v in evaluated[0])
        combos = list(product(*evaluated))  # type: ignore[arg-type]
        if len(combos) > _MAX_CANDIDATES:
            return UNKNOWN
        out = []
        for combo in combos:
            result = _call(name, list(combo))
            if isinstance(result, _Unknown):
                return UNKNOWN
            out.append(result)
        return _dedupe(out)


def _flatten(results: Iterator[list[Any] | _Unknown]) -> list[Any] | _Unknown:
    out: list[Any] = []
    for result in results:
        if isinstance(result, _Unknown):
            return UNKNOWN
        out.extend(result)
    return _dedupe(out)


def _call(name: str, args: list[Any]) -> Any:
    """The pure functions the linter can compute; anything else (resourceId, reference...) is UNKNOWN."""
    try:
        if name == "empty" and len(args) == 1:
            return args[0] is None or (hasattr(args[0], "__len__") and len(args[0]) == 0)
        if name == "not" and len(args) == 1 and isinstance(args[0], bool):
            return not args[0]
        if name == "equals" and len(args) == 2:
            return args[0] == args[1]
        if name == "and" and args and all(isinstance(a, bool) for a in args):
            return all(args)
        if name == "or" and args and all(isinstance(a, bool) for a in args):
            return any(args)
        if name in ("true", "false") and not args:
            return name == "true"
        if name == "null" and not args:
            return None
        if name == "json" and args == ["null"]:
            return None
        if name == "concat" and args and all(isinstance(a, str) for a in args):
            return "".join(args)
        if name == "concat" and args and all(isinstance(a, list) for a in args):
            return [item for a in args for item in a]
        if name == "format" and args and isinstance(args[0], str):
            return args[0].format(*args[1:])
        if name == "tolower" and len(args) == 1 and isinstance(args[0], str):
            return args[0].lower()
        if name == "toupper" and len(args) == 1 and isinstance(args[0], str):
            return args[0].upper()
        if name == "createarray":
            return list(args)
        if name == "string" and len(args) == 1 and isinstance(args[0], (str, int, bool)):
            return str(args[0]).lower() if isinstance(args[0], bool) else str(args[0])
        if name == "bool" and len(args) == 1:
            return args[0] if isinstance(args[0], bool) else str(args[0]).lower() == "true"
    except (IndexError, KeyError, ValueError, TypeError):
        return UNKNOWN
    return UNKNOWN


# ================================================================================ walking the template


@dataclass
class _Node:
    resource: dict[str, Any]
    type: str
    label: str
    scope: _Scope
    parent: dict[str, Any] | None


def _lookup(scope: _Scope, node: Any, path: list[str], *, all_allowed: bool = False) -> list[Any] | _Unknown:
    """Every value at `path` below `node`, following expressions; MISSING marks an absent key."""
    current = scope.resolve(node, all_allowed=all_allowed)
    if isinstance(current, _Unknown):
        return UNKNOWN
    for key in path:
        nxt: list[Any] = []
        for item in current:
            if item is MISSING or item is None:
                nxt.append(MISSING)
                continue
            if not isinstance(item, dict):
                return UNKNOWN
            got = _get_ci(item, key)
            if got is MISSING:
                nxt.append(MISSING)
                continue
            resolved = scope.resolve(got, all_allowed=all_allowed)
            if isinstance(resolved, _Unknown):
                return UNKNOWN
            nxt.extend(resolved)
        current = _dedupe(nxt)
    return current


def _iter_resources(
    template: Any, scope: _Scope, parent: str | None = None, parent_resource: dict[str, Any] | None = None
) -> Iterator[_Node]:
    resources = template.get("resources") if parent is None else template
    if isinstance(resources, dict):  # languageVersion 2.0: symbolic names
        items = list(resources.values())
    elif isinstance(resources, list):
        items = resources
    else:
        return
    for res in items:
        if not isinstance(res, dict):
            continue
        rtype = str(_get_ci(res, "type") if _get_ci(res, "type") is not MISSING else "")
        name = _get_ci(res, "name")
        full_type = rtype if parent is None or "/" in rtype.split("/", 1)[-1] else f"{parent}/{rtype}"
        shown = scope.resolve(name)
        name_text = str(shown[0]) if isinstance(shown, list) and len(shown) == 1 else str(name)
        yield _Node(res, full_type.lower(), f"{full_type}/{name_text}", scope, parent_resource)
        children = _get_ci(res, "resources")
        if isinstance(children, (list, dict)):
            yield from _iter_resources(children, scope, full_type, res)
        if full_type.lower() == DEPLOYMENT_TYPE:
            inner = _lookup(scope, res, ["properties", "template"])
            if isinstance(inner, list) and len(inner) == 1 and isinstance(inner[0], dict):
                yield from _iter_resources(inner[0], _Scope(inner[0]))


class _Linter:
    def __init__(self, doc: dict[str, Any], is_eligible: EligibilityCheck) -> None:
        self.doc = doc
        self.is_eligible = is_eligible
        self.findings: list[Finding] = []
        self.nodes = list(_iter_resources(doc, _Scope(doc)))

    def add(self, rule_id: str, resource: str, message: str, fix: str) -> None:
        finding = Finding(rule_id, RULES[rule_id][0], resource, message, fix)
        if finding not in self.findings:
            self.findings.append(finding)

    def unresolved(self, node: _Node, what: str) -> None:
        self.add(
            "HP-T011",
            node.label,
            f"{what} could not be resolved from the template alone, so the hotpatch rules on it were not "
            "checked",
            "check it by hand, or give the parameter a defaultValue",
        )

    # ------------------------------------------------------------------ images

    def image_verdict(self, node: _Node, base: list[str]) -> tuple[bool, bool, str] | None:
        """(may be eligible, may be ineligible, description) of the image under `base`; None if unknown."""
        ref_path = [*base, "storageProfile", "imageReference"]
        id_lists = [
            _lookup(node.scope, node.resource, [*ref_path, key], all_allowed=True)
            for key in ("id", "sharedGalleryImageId", "communityGalleryImageId")
        ]
        ids = UNKNOWN if any(isinstance(i, _Unknown) for i in id_lists) else _flat(id_lists)  # type: ignore[arg-type]
        fields = [
            _lookup(node.scope, node.resource, [*ref_path, key], all_allowed=True)
            for key in ("publisher", "offer", "sku")
        ]
        if any(isinstance(f, _Unknown) for f in fields) or isinstance(ids, _Unknown):
            self.unresolved(node, "the image reference")
            return None
        pubs, offers, skus = fields  # type: ignore[misc]
        if all(v is MISSING for v in pubs) and all(v is MISSING for v in skus):
            if any(v is not MISSING for v in ids):  # type: ignore[union-attr]
                return False, True, "a custom or gallery image"
            return None
        eligible = ineligible = False
        seen: list[str] = []
        for pub, offer, sku in product(pubs, offers, skus):  # type: ignore[arg-type]
            if not all(isinstance(v, str) for v in (pub, offer, sku)):
                ineligible = True
                continue
            ok = self.is_eligible(pub, offer, sku)
            eligible |= ok
            ineligible |= not ok
            seen.append(f"{pub}:{offer}:{sku}")
        return eligible, ineligible, ", ".join(seen[:3]) or "an unknown image"

    # ------------------------------------------------------------------ patch settings

    def check_patch_settings(self, node: _Node, base: list[str], image: str, kind: str) -> None:
        win = [*base, "osProfile", "windowsConfiguration"]
        label = node.label

        def values(*path: str) -> list[Any] | None:
            found = _lookup(node.scope, node.resource, [*win, *path])
            if isinstance(found, _Unknown):
                self.unresolved(node, "windowsConfiguration." + ".".join(path))
                return None
            return found

        agent = values("provisionVMAgent")
        if agent is not None and any(v is False or str(v).lower() == "false" for v in agent):
            self.add(
                "HP-T004",
                label,
                f"provisionVMAgent is false on {kind} with hotpatch image {image}; enableHotpatching needs "
                "the VM agent",
                "set osProfile.windowsConfiguration.provisionVMAgent to true (or remove it: true is the "
                "default)",
            )
        settings = values("patchSettings")
        if settings is not None and all(v is MISSING or v is None for v in settings):
            self.add(
                "HP-T001",
                label,
                f"{kind} uses hotpatch image {image} but has no windowsConfiguration.patchSettings; Azure "
                "refuses it "
                "('PatchSettings must be specified for hotpatch compatible VMs')",
                "add patchSettings {patchMode: AutomaticByPlatform, enableHotpatching: true, assessmentMode: "
                "AutomaticByPlatform, automaticByPlatformSettings "
                "{bypassPlatformSafetyChecksOnUserSchedule: false}}",
            )
            return
        hot = values("patchSettings", "enableHotpatching")
        if hot is not None and any(v is not True and str(v).lower() != "true" for v in hot):
            state = "missing" if all(v is MISSING for v in hot) else "false"
            self.add(
                "HP-T002",
                label,
                f"enableHotpatching is {state} on {kind} with hotpatch image {image}: every update month "
                "then reboots",
                "set patchSettings.enableHotpatching to true",
            )
        mode = values("patchSettings", "patchMode")
        if mode is not None and any(str(v).lower() != "automaticbyplatform" for v in mode):
            shown = (
                "missing" if all(v is MISSING for v in mode) else ", ".join(sorted({str(v) for v in mode}))
            )
            self.add(
                "HP-T003",
                label,
                f"patchMode is {shown} on {kind} with hotpatch image {image}; hotpatch needs "
                "AutomaticByPlatform",
                "set patchSettings.patchMode to AutomaticByPlatform (with enableAutomaticUpdates true at "
                "creation)",
            )
        bypass = values(
            "patchSettings", "automaticByPlatformSettings", "bypassPlatformSafetyChecksOnUserSchedule"
        )
        if bypass is not None and any(v is True or str(v).lower() == "true" for v in bypass):
            self.add(
                "HP-T005",
                label,
                "bypassPlatformSafetyChecksOnUserSchedule is true; Azure refuses hotpatch with it "
                "('Hotpatch updates "
                "require platform safety checks')",
                "set automaticByPlatformSettings.bypassPlatformSafetyChecksOnUserSchedule to false and drop "
                "any "
                "customer-managed maintenance schedule",
            )
        assess = values("patchSettings", "assessmentMode")
        if assess is not None and any(str(v).lower() != "automaticbyplatform" for v in assess):
            shown = (
                "missing"
                if all(v is MISSING for v in assess)
                else ", ".join(sorted({str(v) for v in assess}))
            )
            self.add(
                "HP-T006",
                label,
                f"assessmentMode is {shown}: Azure will not assess {kind} for missing patches every 24 hours",
                "set patchSettings.assessmentMode to AutomaticByPlatform",
            )

    def check_hotpatch_on_ineligible(self, node: _Node, base: list[str], image: str, kind: str) -> None:
        path = [*base, "osProfile", "windowsConfiguration", "patchSettings", "enableHotpatching"]
        hot = _lookup(node.scope, node.resource, path)
        if isinstance(hot, list) and any(v is True or str(v).lower() == "true" for v in hot):
            self.add(
                "HP-T009",
                node.label,
                f"enableHotpatching is true but {kind} uses {image}, which cannot hotpatch; Azure rejects "
                "the deployment",
                "use a Windows Server Datacenter: Azure Edition SKU from `hpctl images list`, or set "
                "enableHotpatching to false",
            )

    def check_api_version(self, node: _Node, kind: str) -> None:
        api = _get_ci(node.resource, "apiVersion")
        if (
            isinstance(api, str)
            and re.match(r"^\d{4}-\d{2}-\d{2}", api)
            and api[:10] < MIN_HOTPATCH_API_VERSION
        ):
            self.add(
                "HP-T012",
                node.label,
                f"{kind} uses Compute apiVersion {api}, older than {MIN_HOTPATCH_API_VERSION} where "
                "enableHotpatching "
                "appeared; Azure refuses hotpatch-compatible VMs on old API versions",
                "use Compute apiVersion 2024-07-01 or newer",
            )

    # ------------------------------------------------------------------ resources

    def lint_vm(self, node: _Node) -> None:
        verdict = self.image_verdict(node, ["properties"])
        if verdict is None:
            return
        eligible, ineligible, image = verdict
        if eligible:
            self.check_api_version(node, "the VM")
            self.check_patch_settings(node, ["properties"], image, "the VM")
        elif ineligible:
            self.check_hotpatch_on_ineligible(node, ["properties"], image, "the VM")

    def lint_vmss(self, node: _Node) -> None:
        base = ["properties", "virtualMachineProfile"]
        verdict = self.image_verdict(node, base)
        if verdict is None:
            return
        eligible, ineligible, image = verdict
        if not eligible:
            if ineligible:
                self.check_hotpatch_on_ineligible(node, base, image, "the scale set")
            return
        self.check_api_version(node, "the scale set")
        modes = _lookup(node.scope, node.resource, ["properties", "orchestrationMode"])
        if isinstance(modes, _Unknown):
            self.unresolved(node, "orchestrationMode")
        elif any(str(m).lower() != "flexible" for m in modes):
            shown = "missing (which means Uniform)" if all(m is MISSING for m in modes) else "Uniform"
            self.add(
                "HP-T007",
                node.label,
                f"orchestrationMode is {shown} on a scale set with hotpatch image {image}; Azure does not "
                "support "
                "Uniform scale sets on hotpatch images",
                "set properties.orchestrationMode to Flexible (it cannot be changed later: recreate the "
                "scale set)",
            )
            return
        self.check_patch_settings(node, base, image, "the scale set")
        patch_mode = _lookup(
            node.scope,
            node.resource,
            [*base, "osProfile", "windowsConfiguration", "patchSettings", "patchMode"],
        )
        if isinstance(patch_mode, list) and any(str(m).lower() == "automaticbyplatform" for m in patch_mode):
            if not self.has_health_extension(node, base):
                self.add(
                    "HP-T008",
                    node.label,
                    "Flexible scale set with patchMode AutomaticByPlatform has no Application Health "
                    "extension; "
                    "Azure needs it to patch availability-first",
                    "add extension Microsoft.ManagedServices/ApplicationHealthWindows to "
                    "virtualMachineProfile.extensionProfile.extensions",
                )

    def has_health_extension(self, node: _Node, base: list[str]) -> bool:
        extensions = _lookup(node.scope, node.resource, [*base, "extensionProfile", "extensions"])
        candidates: list[Any] = []
        if isinstance(extensions, list):
            for ext_list in extensions:
                if isinstance(ext_list, list):
                    candidates.extend(ext_list)
        # A separate ".../extensions" resource (nested, or top level "<scale set>/<extension>") counts too.
        candidates.extend(other.resource for other in self.nodes if other.parent is node.resource)
        vmss_names = node.scope.resolve(_get_ci(node.resource, "name"))
        scale_sets = [n for n in self.nodes if n.type == VMSS_TYPE]
        for other in self.nodes:
            if other.type != VMSS_EXTENSION_TYPE or other.parent is not None:
                continue
            ext_names = other.scope.resolve(_get_ci(other.resource, "name"))
            if isinstance(vmss_names, _Unknown) or isinstance(ext_names, _Unknown):
                # Names we cannot compute: with a single scale set in the template it must be its extension.
                if len(scale_sets) == 1:
                    candidates.append(other.resource)
                continue
            if any(str(e).lower().startswith(f"{str(v).lower()}/") for e in ext_names for v in vmss_names):
                candidates.append(other.resource)
        for ext in candidates:
            if not isinstance(ext, dict):
                continue
            props = _get_ci(ext, "properties")
            if not isinstance(props, dict):
                continue
            publisher = node.scope.resolve(_get_ci(props, "publisher"))
            ext_type = node.scope.resolve(_get_ci(props, "type"))
            if isinstance(publisher, list) and isinstance(ext_type, list):
                if any(str(p).lower() == HEALTH_EXTENSION_PUBLISHER for p in publisher) and any(
                    str(t).lower() in HEALTH_EXTENSION_TYPES for t in ext_type
                ):
                    return True
        return False

    def lint_nsg_rules(self, node: _Node, rules: list[Any] | _Unknown, nested: bool) -> None:
        if isinstance(rules, _Unknown):
            self.unresolved(node, "securityRules")
            return
        for candidate in rules:
            items = [candidate] if nested else candidate if isinstance(candidate, list) else []
            for item in items:
                resolved = node.scope.resolve(item)
                if isinstance(resolved, _Unknown):
                    self.unresolved(node, "a security rule")
                    continue
                for rule in resolved:
                    self.lint_rule(node, rule)

    def lint_rule(self, node: _Node, rule: Any) -> None:
        if not isinstance(rule, dict):
            return
        scope = node.scope

        def vals(key: str) -> list[Any] | None:
            found = _lookup(scope, rule, ["properties", key])
            return None if isinstance(found, _Unknown) else found

        name = _get_ci(rule, "name")
        direction, access, protocol = vals("direction"), vals("access"), vals("protocol")
        port_one, port_many = vals("destinationPortRange"), vals("destinationPortRanges")
        src_one, src_many = vals("sourceAddressPrefix"), vals("sourceAddressPrefixes")
        if None in (direction, access, protocol, port_one, port_many, src_one, src_many):
            self.unresolved(node, f"security rule {name}")
            return
        ports = _flat(port_one) + _flat(port_many)
        sources = _flat(src_one) + _flat(src_many)
        inbound = any(str(d).lower() == "inbound" for d in direction)  # type: ignore[union-attr]
        allow = any(str(a).lower() == "allow" for a in access)  # type: ignore[union-attr]
        tcp = any(str(p).lower() in ("tcp", "*", "any") for p in protocol)  # type: ignore[union-attr]
        rdp = any(_port_covers(p, RDP_PORT) for p in ports)
        world = [s for s in sources if isinstance(s, str) and s.strip().lower() in WORLD_SOURCES]
        if inbound and allow and tcp and rdp and world:
            self.add(
                "HP-T010",
                node.label,
                f"security rule {name} allows RDP (3389) from {world[0]}: hotpatch VMs open to the internet",
                "limit sourceAddressPrefix to your own network's CIDR, or reach the VMs through Azure "
                "Bastion",
            )

    def run(self) -> list[Finding]:
        for node in self.nodes:
            if node.type == VM_TYPE:
                self.lint_vm(node)
            elif node.type == VMSS_TYPE:
                self.lint_vmss(node)
            elif node.type == NSG_TYPE:
                self.lint_nsg_rules(
                    node, _lookup(node.scope, node.resource, ["properties", "securityRules"]), False
                )
            elif node.type == NSG_RULE_TYPE:
                self.lint_rule(node, node.resource)
        return self.findings


def _flat(values: list[Any] | None) -> list[Any]:
    out: list[Any] = []
    for value in values or []:
        if isinstance(value, list):
            out.extend(value)
        elif value is not MISSING:
            out.append(value)
    return out


def _port_covers(value: Any, port: int) -> bool:
    text = str(value).strip()
    if text in ("*", "Any", "any"):
        return True
    if "-" in text:
        low, _, high = text.partition("-")
        return low.strip().isdigit() and high.strip().isdigit() and int(low) <= port <= int(high)
    return text.isdigit() and int(text) == port


def lint_template(doc: dict[str, Any], *, is_eligible: EligibilityCheck | None = None) -> list[Finding]:
    """Every hotpatch finding in an ARM template (a parsed JSON document), most severe first.

    `is_eligible(publisher, offer, sku)` decides which images can hotpatch (default: hpctl.core.images).
    Parameters resolve to their defaultValue (or their allowedValues when there is none); image SKUs also
    count every allowedValue, since any of them may be deployed.
    """
    if not isinstance(doc, dict):
        return [
            Finding(
                "HP-T011", "info", "(template)", "the document is not a JSON object", "lint an ARM template"
            )
        ]
    linter = _Linter(doc, is_eligible or _default_is_eligible)
    order = {"high": 0, "medium": 1, "low": 2, "info": 3}
    return sorted(linter.run(), key=lambda f: (order[f.severity], f.rule_id, f.resource))

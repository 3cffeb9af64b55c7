"""Reads ARM templates (JSON) into the lint model: follows parameters, variables and the usual expressions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import product
from typing import Any

from hpctl.core.lint_model import (
    ARM_WORDS,
    MISSING,
    UNKNOWN,
    LintModel,
    Machine,
    SecurityRule,
    _Unknown,
)

VM_TYPE = "microsoft.compute/virtualmachines"
VMSS_TYPE = "microsoft.compute/virtualmachinescalesets"
VMSS_EXTENSION_TYPE = "microsoft.compute/virtualmachinescalesets/extensions"
NSG_TYPE = "microsoft.network/networksecuritygroups"
NSG_RULE_TYPE = "microsoft.network/networksecuritygroups/securityrules"
DEPLOYMENT_TYPE = "microsoft.resources/deployments"
HEALTH_EXTENSION_PUBLISHER = "microsoft.managedservices"
HEALTH_EXTENSION_TYPES = frozenset({"applicationhealthwindows", "applicationhealthlinux"})

# ================================================================================ ARM expression evaluation
#
# Just enough of ARM's expression language to follow parameters/variables and the usual if/empty switches.
# A value evaluates to a list of *candidates* (every value it may take) or to UNKNOWN.


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




# ================================================================================ the model


class _Reader:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.nodes = list(_iter_resources(doc, _Scope(doc)))
        self.model = LintModel()

    def run(self) -> LintModel:
        for node in self.nodes:
            if node.type == VM_TYPE:
                self.model.machines.append(self.machine(node, ["properties"], scale_set=False))
            elif node.type == VMSS_TYPE:
                base = ["properties", "virtualMachineProfile"]
                machine = self.machine(node, base, scale_set=True)
                machine.orchestration = _lookup(node.scope, node.resource, ["properties", "orchestrationMode"])
                machine.health_extension = self.has_health_extension(node, base)
                self.model.machines.append(machine)
            elif node.type == NSG_TYPE:
                self.nsg_rules(node, _lookup(node.scope, node.resource, ["properties", "securityRules"]), False)
            elif node.type == NSG_RULE_TYPE:
                self.rule(node, node.resource)
        return self.model

    def machine(self, node: _Node, base: list[str], *, scale_set: bool) -> Machine:
        win = [*base, "osProfile", "windowsConfiguration"]
        settings = [*win, "patchSettings"]

        def at(*path: str) -> list[Any] | _Unknown:
            return _lookup(node.scope, node.resource, list(path))

        api = _get_ci(node.resource, "apiVersion")
        machine = Machine(
            label=node.label, scale_set=scale_set, words=ARM_WORDS,
            api_version=api if isinstance(api, str) else None,
            agent=at(*win, "provisionVMAgent"),
            patch_settings=at(*settings),
            hotpatch=at(*settings, "enableHotpatching"),
            patch_mode=at(*settings, "patchMode"),
            bypass=at(*settings, "automaticByPlatformSettings", "bypassPlatformSafetyChecksOnUserSchedule"),
            assessment=at(*settings, "assessmentMode"),
        )
        ref_path = [*base, "storageProfile", "imageReference"]
        id_lists = [
            _lookup(node.scope, node.resource, [*ref_path, key], all_allowed=True)
            for key in ("id", "sharedGalleryImageId", "communityGalleryImageId")
        ]
        fields = [
            _lookup(node.scope, node.resource, [*ref_path, key], all_allowed=True)
            for key in ("publisher", "offer", "sku")
        ]
        if any(isinstance(f, _Unknown) for f in [*fields, *id_lists]):
            machine.images = UNKNOWN
            return machine
        pubs, offers, skus = fields  # type: ignore[misc]
        if all(v is MISSING for v in pubs) and all(v is MISSING for v in skus):  # type: ignore[union-attr]
            machine.custom_image = any(v is not MISSING for v in _flat(id_lists))  # type: ignore[arg-type]
            return machine
        machine.images = list(product(pubs, offers, skus))  # type: ignore[arg-type]
        return machine

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


    def nsg_rules(self, node: _Node, rules: list[Any] | _Unknown, nested: bool) -> None:
        if isinstance(rules, _Unknown):
            self.model.unresolved.append((node.label, "securityRules"))
            return
        for candidate in rules:
            items = [candidate] if nested else candidate if isinstance(candidate, list) else []
            for item in items:
                resolved = node.scope.resolve(item)
                if isinstance(resolved, _Unknown):
                    self.model.unresolved.append((node.label, "a security rule"))
                    continue
                for rule in resolved:
                    self.rule(node, rule)

    def rule(self, node: _Node, rule: Any) -> None:
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
            self.model.unresolved.append((node.label, f"security rule {name}"))
            return
        self.model.rules.append(SecurityRule(
            label=node.label, name=str(name), words=ARM_WORDS, direction=_flat(direction), access=_flat(access),
            protocol=_flat(protocol), ports=_flat(port_one) + _flat(port_many),
            sources=_flat(src_one) + _flat(src_many),
        ))


def _flat(values: list[Any] | None) -> list[Any]:
    out: list[Any] = []
    for value in values or []:
        if isinstance(value, list):
            out.extend(value)
        elif value is not MISSING:
            out.append(value)
    return out




def read_arm(doc: dict[str, Any]) -> LintModel:
    """The VMs, scale sets and security rules an ARM template declares (nested inline templates included)."""
    return _Reader(doc).run()

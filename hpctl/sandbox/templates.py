"""ARM template evaluation: parameters, variables, the expression language and its functions, resources."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urljoin

# ARM's help links, as its messages carry them (azure-wire.md searches: real InvalidTemplate texts).
HELP_EXPRESSIONS = "Please see https://aka.ms/arm-template-expressions for usage details."
HELP_PARAMETERS = "Please see https://aka.ms/arm-template/#parameters for usage details."
HELP_VARIABLES = "Please see https://aka.ms/arm-template/#variables for usage details."
HELP_PARAMETER_FILE = "Please see https://aka.ms/arm-create-parameter-file for usage details."
HELP_DEPLOY = "Please see https://aka.ms/arm-deploy/#parameter-file for usage details."
HELP_PARAMETER_TYPES = "Please see https://aka.ms/resource-manager-parameter-files for usage details."
HELP_SYNTAX = "Please see https://aka.ms/arm-syntax for usage details."
HELP_RESOURCES = "Please see https://aka.ms/arm-template/#resources for usage details."

PARAMETER_TYPES = {
    "string": "String",
    "securestring": "SecureString",
    "int": "Int",
    "bool": "Bool",
    "object": "Object",
    "secureobject": "SecureObject",
    "array": "Array",
}
# What ARM's "JToken type is not valid" message says each parameter type expects.
_EXPECTED_TOKEN = {
    "string": "String, Uri",
    "securestring": "String, Uri",
    "int": "Integer",
    "bool": "Boolean",
    "object": "Object",
    "secureobject": "Object",
    "array": "Array",
}
SECURE_TYPES = ("securestring", "secureobject")
# The namespace ARM's guid() hashes under (a name-based UUID v5 over the arguments joined with '-').
GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")
MAX_COPY = 800  # ARM's limit on copy loop iterations


class ExpressionError(Exception):
    """An expression ARM cannot evaluate; the text is ARM's inner message."""


class NeedsRuntime(Exception):
    """reference() met during validation: the value can only be known while the deployment runs."""

    def __init__(self, target: str | None) -> None:
        super().__init__(target)
        self.target = target


class TemplateError(Exception):
    """A template ARM refuses at validation. `{at}` in the message becomes " at line 'L' and column 'C'"."""

    def __init__(
        self,
        message: str,
        path: tuple[Any, ...] = (),
        code: str = "InvalidTemplate",
        wrap: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.code = code
        self.wrap = wrap  # whether the message goes inside "Deployment template validation failed: '...'."


def jtype(value: Any) -> str:
    """The JSON.NET token type name ARM's messages use for a value."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    return "Object"


def deep_equal(a: Any, b: Any) -> bool:
    """JSON equality that keeps true apart from 1 (Python's == does not)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def strip_nulls(value: Any) -> Any:
    """Drop null-valued properties (a property set to json('null') reaches the provider as absent)."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def arm_string(value: Any) -> str:
    """string(): how ARM turns a value into text (True/False as .NET writes them, JSON for containers)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


# -- uniqueString: ARM's 64-bit MurmurHash variant, base32 of the top 65 bits, 13 characters -----------------

_M32 = 0xFFFFFFFF


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32


def _mix(x: int) -> int:
    x = ((x ^ (x >> 16)) * 0x85EBCA6B) & _M32
    x = ((x ^ (x >> 13)) * 0xC2B2AE35) & _M32
    return x ^ (x >> 16)


def unique_string(*values: str) -> str:
    """ARM's uniqueString(): deterministic, 13 characters of [a-z2-7] (checked against published outputs)."""
    data = "-".join(values).encode("utf-8")
    c1, c2 = 0xAB0E9789, 0x239B961B
    h1 = h2 = 0
    index = 0
    while index + 8 <= len(data):
        k1 = int.from_bytes(data[index : index + 4], "little")
        k2 = int.from_bytes(data[index + 4 : index + 8], "little")
        h1 = (_rotl(h1 ^ (_rotl((k1 * c2) & _M32, 15) * c1 & _M32), 19) + h2) & _M32
        h1 = (h1 * 5 + 0x561CCD1B) & _M32
        h2 = (_rotl(h2 ^ (_rotl((k2 * c1) & _M32, 17) * c2 & _M32), 13) + h1) & _M32
        h2 = (h2 * 5 + 0x0BCAA747) & _M32
        index += 8
    rest = data[index:]
    if rest:
        k1 = int.from_bytes(rest[:4], "little")
        h1 ^= _rotl((k1 * c2) & _M32, 15) * c1 & _M32
        if len(rest) > 4:
            k2 = int.from_bytes(rest[4:], "little")
            h2 ^= _rotl((k2 * c1) & _M32, 17) * c2 & _M32
    length = len(data)
    h2 = (h2 ^ length) & _M32
    h1 = ((h1 ^ length) + h2) & _M32
    h2 = (h2 + h1) & _M32
    h1, h2 = _mix(h1), _mix(h2)
    h1 = (h1 + h2) & _M32
    h2 = (h2 + h1) & _M32
    hash64 = (h2 << 32) | h1
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    # Five bits at a time from the top; the 13th character takes the last four bits and a zero.
    return "".join(alphabet[(((hash64 << (5 * i)) & 0xFFFFFFFFFFFFFFFF) >> 59) & 31] for i in range(13))


def arm_guid(*values: str) -> str:
    return str(uuid.uuid5(GUID_NAMESPACE, "-".join(values)))


def template_hash(template: Any) -> str:
    """A stable 64-bit decimal hash of the template (real ARM's templateHash looks like this)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return str(int.from_bytes(digest[:8], "big"))


# -- the expression language: tokens, parser ---------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<int>-?\d+)|(?P<id>[A-Za-z_$][\w$]*)|(?P<str>'(?:[^']|'')*')|(?P<p>[(),.\[\]]))")
_PUNCT = {
    "(": "LeftParenthesis",
    ")": "RightParenthesis",
    ",": "Comma",
    ".": "Dot",
    "[": "LeftSquareBracket",
    "]": "RightSquareBracket",
}


@dataclass
class _Tok:
    kind: str
    text: str


def _tokens(expression: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(expression):
        if expression[pos:].strip() == "":
            break
        match = _TOKEN.match(expression, pos)
        if not match:
            bad = len(expression) - len(expression[pos:].lstrip())
            raise ExpressionError(
                f"The language expression '{expression}' is not valid: the string character "
                f"'{expression[bad]}' at position '{bad}' is not expected."
            )
        if match.group("int") is not None:
            tokens.append(_Tok("Integer", match.group("int")))
        elif match.group("id") is not None:
            tokens.append(_Tok("Identifier", match.group("id")))
        elif match.group("str") is not None:
            tokens.append(_Tok("String", match.group("str")[1:-1].replace("''", "'")))
        else:
            tokens.append(_Tok(_PUNCT[match.group("p")], match.group("p")))
        pos = match.end()
    tokens.append(_Tok("EndOfData", ""))
    return tokens


Node = tuple[Any, ...]


class _Parser:
    """Recursive descent over ARM's grammar: calls, 'strings', integers, .property and [index] accessors."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokens(expression)
        self.pos = 0

    def fail(self, expected: str) -> ExpressionError:
        actual = self.tokens[self.pos].kind
        return ExpressionError(
            f"Unable to parse language expression '{self.expression}': expected token '{expected}' and "
            f"actual '{actual}'."
        )

    def take(self, kind: str) -> _Tok:
        token = self.tokens[self.pos]
        if token.kind != kind:
            raise self.fail(kind)
        self.pos += 1
        return token

    def peek(self, offset: int = 0) -> str:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)].kind

    def parse(self) -> Node:
        node = self.expr()
        self.take("EndOfData")
        return node

    def expr(self) -> Node:
        token = self.tokens[self.pos]
        node: Node
        if token.kind == "Integer":
            self.pos += 1
            node = ("lit", int(token.text))
        elif token.kind == "String":
            self.pos += 1
            node = ("lit", token.text)
        elif token.kind == "Identifier":
            self.pos += 1
            name = token.text
            # A user-defined function is namespace.name(...).
            if self.peek() == "Dot" and self.peek(1) == "Identifier" and self.peek(2) == "LeftParenthesis":
                self.pos += 1
                name = f"{name}.{self.take('Identifier').text}"
            self.take("LeftParenthesis")
            args: list[Node] = []
            if self.peek() != "RightParenthesis":
                args.append(self.expr())
                while self.peek() == "Comma":
                    self.pos += 1
                    args.append(self.expr())
            self.take("RightParenthesis")
            node = ("call", name, args)
        else:
            raise self.fail("Identifier")
        while self.peek() in ("Dot", "LeftSquareBracket"):
            if self.peek() == "Dot":
                self.pos += 1
                node = ("prop", node, self.take("Identifier").text)
            else:
                self.pos += 1
                index = self.expr()
                self.take("RightSquareBracket")
                node = ("index", node, index)
        return node


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("[") and value.endswith("]") and not value.startswith("[[")


def parse_expression(text: str) -> Node:
    """The AST of a "[...]" string (without the brackets)."""
    return _Parser(text[1:-1]).parse()


# -- evaluation context ------------------------------------------------------------------------------------


@dataclass
class DeploymentContext:
    """What the functions see about where the deployment runs."""

    subscription_id: str
    tenant_id: str
    group: dict[str, Any]  # resourceGroup()
    deployment_name: str
    now: dt.datetime
    api_versions: Callable[[str, str], list[str]] = lambda namespace, type_name: []
    new_guid: Callable[[], str] = lambda: str(uuid.uuid4())


@dataclass
class ResourcePlan:
    """One resource instance of the template, evaluated as far as validation allows."""

    index: int  # position in the template's resources (for line/column in errors)
    symbol: str  # the raw name as written (ARM names resources this way in its messages)
    type: str
    name: str
    api_version: str
    id: str
    condition: bool
    raw: dict[str, Any]
    body: dict[str, Any] | None  # location/tags/zones/sku/properties...; None while deferred
    depends_on: list[str] = field(default_factory=list)  # resource ids (lower case)
    loop: str | None = None
    loop_index: int | None = None
    runtime_target: str | None = None  # a reference() target found while deferring

    @property
    def key(self) -> str:
        return self.id.lower()

    @property
    def namespace(self) -> str:
        return self.type.split("/", 1)[0]


# -- the evaluator -----------------------------------------------------------------------------------------

Function = Callable[["Evaluator", str, list[Any]], Any]
_FUNCTIONS: dict[str, tuple[Function, int, int | None]] = {}


def _register(name: str, low: int, high: int | None) -> Callable[[Function], Function]:
    def add(fn: Function) -> Function:
        _FUNCTIONS[name.lower()] = (fn, low, high)
        return fn

    return add


def supported_functions() -> list[str]:
    """Every function the sandbox evaluates (for docs and the report)."""
    return sorted(["if", *(name for name in _FUNCTIONS)])


class Evaluator:
    """Evaluates one template's parameters, variables, resources and outputs for one deployment."""

    def __init__(self, template: dict[str, Any], supplied: dict[str, Any], ctx: DeploymentContext) -> None:
        self.template = template
        self.ctx = ctx
        self.param_defs: dict[str, Any] = _section(template, "parameters")
        self.var_defs: dict[str, Any] = _section(template, "variables")
        self._param_names = {name.lower(): name for name in self.param_defs}
        self._var_names = {name.lower(): name for name in self.var_defs if name.lower() != "copy"}
        for item in self._var_copies():
            self._var_names[str(item["name"]).lower()] = str(item["name"])
        self.values: dict[str, Any] = {}  # parameter values by lower-case name
        self._vars: dict[str, Any] = {}
        self._resolving: list[str] = []
        self.location = "template"  # parameters | variables | resources | outputs: what functions may run
        self.loops: dict[str | None, int] = {}
        self.resolver: Callable[[str, str | None, bool], Any] | None = None  # reference() once running
        self.plans: list[ResourcePlan] = []
        self._bind_parameters(supplied)

    # -- parameters -----------------------------------------------------------------------------------

    def _bind_parameters(self, supplied: dict[str, Any]) -> None:
        unknown = [name for name in supplied if name.lower() not in self._param_names]
        if unknown:
            raise TemplateError(
                f"The template parameters '{', '.join(unknown)}' in the parameters file are not valid; they "
                "are not present in the original template and can therefore not be provided at deployment "
                f"time. The only supported parameters for this template are '{', '.join(self.param_defs)}'. "
                f"{HELP_DEPLOY}"
            )
        given = {name.lower(): value for name, value in supplied.items()}
        for name, definition in self.param_defs.items():
            path = ("parameters", name)
            if not isinstance(definition, dict) or not isinstance(definition.get("type"), str):
                raise TemplateError(f"The template parameter '{name}'{{at}} is not valid: its type is missing.", path)
            kind = definition["type"].lower()
            if kind not in PARAMETER_TYPES:
                raise TemplateError(
                    f"The template parameter '{name}'{{at}} has an invalid type '{definition['type']}'. The "
                    f"allowed types are '{', '.join(PARAMETER_TYPES.values())}'. {HELP_PARAMETERS}",
                    path,
                )
            if name.lower() in given:
                value = given[name.lower()]
            elif "defaultValue" in definition:
                self.location = "parameters"
                try:
                    value = self.evaluate(definition["defaultValue"])
                except ExpressionError as exc:
                    raise TemplateError(
                        f"The template parameter '{name}'{{at}} is not valid: {exc}. {HELP_EXPRESSIONS}", path
                    ) from None
            else:
                raise TemplateError(
                    f"The value for the template parameter '{name}'{{at}} is not provided. {HELP_PARAMETER_FILE}",
                    path,
                )
            self.values[name.lower()] = self._check_parameter(name, kind, definition, value)

    def _check_parameter(self, name: str, kind: str, definition: dict[str, Any], value: Any) -> Any:
        path = ("parameters", name)
        ok = {
            "string": isinstance(value, str),
            "securestring": isinstance(value, str),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "object": isinstance(value, dict),
            "secureobject": isinstance(value, dict),
            "array": isinstance(value, list),
        }[kind]
        if not ok:
            raise TemplateError(
                f"Template parameter JToken type is not valid. Expected '{_EXPECTED_TOKEN[kind]}'. Actual "
                f"'{jtype(value)}'. {HELP_PARAMETER_TYPES}",
                path,
            )
        secure = kind in SECURE_TYPES
        allowed = definition.get("allowedValues")
        if isinstance(allowed, list):
            items = value if kind == "array" else [value]
            for item in items:
                if not any(deep_equal(item, option) for option in allowed):
                    shown = "" if secure else f" The value '{arm_string(item)}' is"
                    raise TemplateError(
                        f"The provided value for the template parameter '{name}' is not valid."
                        f"{shown or ' The value is'} not part of the allowed value(s): "
                        f"'{','.join(arm_string(a) for a in allowed)}'.",
                        (*path, "allowedValues"),
                    )
        # Not verbatim: the wording of ARM's length/range messages was not found in a primary source.
        if isinstance(value, (str, list)):
            low, high = definition.get("minLength"), definition.get("maxLength")
            if isinstance(low, int) and len(value) < low:
                raise TemplateError(
                    f"The provided value for the template parameter '{name}'{{at}} is not valid. Length of the "
                    f"value should be greater than or equal to '{low}'.",
                    (*path, "minLength"),
                )
            if isinstance(high, int) and len(value) > high:
                raise TemplateError(
                    f"The provided value for the template parameter '{name}'{{at}} is not valid. Length of the "
                    f"value should be less than or equal to '{high}'.",
                    (*path, "maxLength"),
                )
        if kind == "int":
            low, high = definition.get("minValue"), definition.get("maxValue")
            if isinstance(low, int) and value < low:
                raise TemplateError(
                    f"The provided value for the template parameter '{name}'{{at}} is not valid. The value "
                    f"should be greater than or equal to '{low}'.",
                    (*path, "minValue"),
                )
            if isinstance(high, int) and value > high:
                raise TemplateError(
                    f"The provided value for the template parameter '{name}'{{at}} is not valid. The value "
                    f"should be less than or equal to '{high}'.",
                    (*path, "maxValue"),
                )
        return value

    def parameter(self, name: str) -> Any:
        key = name.lower()
        if key not in self._param_names:
            raise ExpressionError(f"The template parameter '{name}' is not found. {HELP_PARAMETERS}")
        if key not in self.values:
            # A default that refers to a parameter declared after it.
            definition = self.param_defs[self._param_names[key]]
            if "defaultValue" not in definition or key in self._resolving:
                raise ExpressionError(f"The template parameter '{name}' is not found. {HELP_PARAMETERS}")
            self._resolving.append(key)
            try:
                self.values[key] = self.evaluate(definition["defaultValue"])
            finally:
                self._resolving.pop()
        return copy.deepcopy(self.values[key])

    def parameters_echo(self) -> dict[str, Any]:
        """The deployment's properties.parameters: every parameter with its type; secure ones without a value."""
        echo: dict[str, Any] = {}
        for name, definition in self.param_defs.items():
            kind = str(definition.get("type", "")).lower()
            item: dict[str, Any] = {"type": PARAMETER_TYPES.get(kind, definition.get("type"))}
            if kind not in SECURE_TYPES:
                item["value"] = self.values.get(name.lower())
            echo[name] = item
        return echo

    # -- variables ------------------------------------------------------------------------------------

    def _var_copies(self) -> list[dict[str, Any]]:
        loops = self.var_defs.get("copy")
        if isinstance(loops, list):
            return [item for item in loops if isinstance(item, dict) and "name" in item]
        return []

    def variable(self, name: str) -> Any:
        key = name.lower()
        if key not in self._var_names:
            raise ExpressionError(f"The template variable '{name}' is not found. {HELP_VARIABLES}")
        if key in self._vars:
            return copy.deepcopy(self._vars[key])
        if key in self._resolving:
            raise ExpressionError(f"The template variable '{name}' has a circular reference. {HELP_VARIABLES}")
        self._resolving.append(key)
        saved = self.location
        self.location = "variables"
        try:
            loop = next((item for item in self._var_copies() if str(item["name"]).lower() == key), None)
            if loop is not None:
                value = self._copy_array(loop, str(loop["name"]))
            else:
                value = self.evaluate(self.var_defs[self._var_names[key]])
        finally:
            self.location = saved
            self._resolving.pop()
        self._vars[key] = value
        return copy.deepcopy(value)

    def check_variables(self) -> None:
        """ARM validates every variable, used or not."""
        for key, name in self._var_names.items():
            try:
                self.variable(key)
            except ExpressionError as exc:
                raise TemplateError(
                    f"The template variable '{name}' is not valid: {exc}. {HELP_EXPRESSIONS}", ("variables", name)
                ) from None

    # -- expressions ----------------------------------------------------------------------------------

    def evaluate(self, value: Any, properties: bool = False) -> Any:
        """A template value with every "[...]" expression in it evaluated (property copy loops when asked)."""
        if isinstance(value, str):
            if is_expression(value):
                return self.run(parse_expression(value))
            if value.startswith("[["):
                return value[1:]
            return value
        if isinstance(value, list):
            return [self.evaluate(item, properties) for item in value]
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if properties and key == "copy" and isinstance(item, list):
                    for loop in item:
                        if not isinstance(loop, dict) or "name" not in loop or "input" not in loop:
                            raise ExpressionError("The copy property requires 'name', 'count' and 'input'.")
                        out[str(loop["name"])] = self._copy_array(loop, str(loop["name"]), properties)
                    continue
                out[key] = self.evaluate(item, properties)
            return out
        return value

    def _copy_array(self, loop: dict[str, Any], name: str, properties: bool = False) -> list[Any]:
        count = self.evaluate(loop.get("count"))
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COPY:
            raise ExpressionError(
                f"The copy count for '{name}' must be an integer between 0 and {MAX_COPY}; it is "
                f"'{arm_string(count)}'."
            )
        items = []
        for index in range(count):
            self.loops[name.lower()] = index
            try:
                items.append(self.evaluate(loop["input"], properties))
            finally:
                self.loops.pop(name.lower(), None)
        return items

    def run(self, node: Node) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "prop":
            return _property(self.run(node[1]), node[2])
        if kind == "index":
            return _index(self.run(node[1]), self.run(node[2]))
        name, args = node[1], node[2]
        key = name.lower()
        if key == "if":
            # Only the branch taken is evaluated (so json('null') beside a missing value is fine).
            if len(args) != 3:
                raise _arity(name, 3, 3, len(args))
            condition = self.run(args[0])
            if not isinstance(condition, bool):
                raise _type_error(name, "a boolean", condition)
            return self.run(args[1] if condition else args[2])
        entry = _FUNCTIONS.get(key)
        if entry is None:
            raise ExpressionError(f"The template function '{name}' is not valid. {HELP_EXPRESSIONS}")
        fn, low, high = entry
        if len(args) < low or (high is not None and len(args) > high):
            raise _arity(name, low, high, len(args))
        return fn(self, name, [self.run(arg) for arg in args])

    # -- resources ------------------------------------------------------------------------------------

    def plan_resources(self) -> list[ResourcePlan]:
        """Every resource instance in template order, with dependencies resolved; validation errors raise."""
        raw_resources = self.template.get("resources", [])
        if isinstance(raw_resources, dict):
            raise TemplateError(
                "The sandbox evaluates templates with a 'resources' array; languageVersion 2.0 symbolic "
                "resources are not supported."
            )
        if not isinstance(raw_resources, list):
            raise TemplateError(f"The template 'resources' property must be an array. {HELP_RESOURCES}")
        flat: list[tuple[int, dict[str, Any], dict[str, Any] | None]] = []
        for index, raw in enumerate(raw_resources):
            if not isinstance(raw, dict):
                raise TemplateError(f"The template resource at index '{index}'{{at}} is not an object.",
                                    ("resources", index))
            flat.append((index, raw, None))
            for child in raw.get("resources") or []:
                if isinstance(child, dict):
                    flat.append((index, child, raw))
        self.location = "resources"
        plans: list[ResourcePlan] = []
        loops: dict[str, list[str]] = {}
        for index, raw, parent in flat:
            loop = raw.get("copy")
            if isinstance(loop, dict):
                loop_name = str(loop.get("name", ""))
                try:
                    count = self.evaluate(loop.get("count"))
                except ExpressionError as exc:
                    raise self._resource_error(raw, index, exc) from None
                if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COPY:
                    raise TemplateError(
                        f"The template resource '{raw.get('name')}'{{at}} is not valid: the copy count must be "
                        f"an integer between 0 and {MAX_COPY}.",
                        ("resources", index),
                    )
                for i in range(count):
                    self.loops[None] = i
                    self.loops[loop_name.lower()] = i
                    plan = self._plan_one(index, raw, parent)
                    plan.loop, plan.loop_index = loop_name, i
                    plans.append(plan)
                    loops.setdefault(loop_name.lower(), []).append(plan.key)
                self.loops.clear()
            else:
                plans.append(self._plan_one(index, raw, parent))
        seen: dict[str, ResourcePlan] = {}
        for plan in plans:
            if plan.key in seen:
                raise TemplateError(
                    f"The resource '{plan.id}'{{at}} is defined multiple times in a template. {HELP_RESOURCES}",
                    ("resources", plan.index),
                )
            seen[plan.key] = plan
        for plan in plans:
            self.loops = {None: plan.loop_index} if plan.loop_index is not None else {}
            if plan.loop:
                self.loops[plan.loop.lower()] = plan.loop_index or 0
            resolved: list[str] = []
            raw_depends = plan.raw.get("dependsOn") or []
            if not isinstance(raw_depends, list):
                raise TemplateError(f"The template resource '{plan.symbol}'{{at}} has an invalid dependsOn.",
                                    ("resources", plan.index))
            for item in raw_depends:
                try:
                    ref = self.evaluate(item)
                except ExpressionError as exc:
                    raise self._resource_error(plan.raw, plan.index, exc) from None
                resolved.extend(self._resolve_dependency(str(ref), plans, loops))
            if plan.runtime_target is not None:
                resolved.extend(self._resolve_dependency(plan.runtime_target, plans, loops, implicit=True))
            plan.depends_on = [key for key in dict.fromkeys(resolved) if key != plan.key]
        self.loops = {}
        _check_cycles(plans)
        self.plans = plans
        return plans

    def _plan_one(self, index: int, raw: dict[str, Any], parent: dict[str, Any] | None) -> ResourcePlan:
        symbol = str(raw.get("name", ""))
        try:
            condition = self.evaluate(raw["condition"]) if "condition" in raw else True
            if not isinstance(condition, bool):
                raise ExpressionError(
                    f"The condition of the resource must be a boolean; it is of type '{jtype(condition)}'."
                )
            type_name = self.evaluate(raw.get("type"))
            name = self.evaluate(raw.get("name"))
            api_version = self.evaluate(raw.get("apiVersion"))
        except ExpressionError as exc:
            raise self._resource_error(raw, index, exc) from None
        if not isinstance(name, str) or not name:
            raise TemplateError(
                f"The template resource '{symbol}'{{at}} is not valid. The name property cannot be null or empty. "
                f"{HELP_RESOURCES}",
                ("resources", index),
            )
        if not isinstance(type_name, str) or "/" not in type_name and parent is None:
            raise TemplateError(
                f"The template resource '{name}'{{at}} is not valid. The type property must be a resource type "
                f"including the resource provider namespace. {HELP_RESOURCES}",
                ("resources", index),
            )
        if not isinstance(api_version, str) or not api_version:
            raise TemplateError(
                f"The template resource '{name}'{{at}} is not valid. The apiVersion property cannot be null or "
                f"empty. {HELP_RESOURCES}",
                ("resources", index),
            )
        if parent is not None:
            parent_name = str(self.evaluate(parent.get("name")))
            parent_type = str(self.evaluate(parent.get("type")))
            if "/" not in type_name or not type_name.lower().startswith(parent_type.lower() + "/"):
                type_name = f"{parent_type}/{type_name}"
            if not name.lower().startswith(parent_name.lower() + "/"):
                name = f"{parent_name}/{name}"
        if len(type_name.split("/")) != len(name.split("/")) + 1:
            raise TemplateError(
                f"The template resource '{name}' for type '{type_name}'{{at}} has incorrect segment lengths. A "
                "nested resource type must have identical number of segments as its resource name. A root "
                f"resource type must have segment length one greater than its resource name. {HELP_SYNTAX}",
                ("resources", index),
            )
        plan = ResourcePlan(
            index,
            symbol,
            type_name,
            name,
            api_version,
            self.resource_id(type_name, name.split("/")),
            condition,
            raw,
            None,
        )
        if condition:
            try:
                plan.body = self.resource_body(raw)
            except NeedsRuntime as deferred:
                plan.runtime_target = deferred.target
            except ExpressionError as exc:
                raise self._resource_error(raw, index, exc) from None
        return plan

    def resource_body(self, raw: dict[str, Any]) -> dict[str, Any]:
        """What the resource provider gets: the evaluated location, tags, zones, sku, properties..."""
        body: dict[str, Any] = {}
        for key in ("location", "tags", "zones", "sku", "kind", "identity", "plan", "extendedLocation", "properties"):
            if key in raw:
                body[key] = self.evaluate(raw[key], properties=key == "properties")
        return strip_nulls(body)

    def runtime_body(self, plan: ResourcePlan) -> dict[str, Any]:
        """A deferred resource's body, evaluated while the deployment runs (reference() now resolves)."""
        self.location = "resources"
        self.loops = {None: plan.loop_index} if plan.loop_index is not None else {}
        if plan.loop:
            self.loops[plan.loop.lower()] = plan.loop_index or 0
        try:
            return self.resource_body(plan.raw)
        finally:
            self.loops = {}

    def _resource_error(self, raw: dict[str, Any], index: int, exc: Exception) -> TemplateError:
        return TemplateError(
            f"The template resource '{raw.get('name', '')}'{{at}} is not valid: {exc}. {HELP_EXPRESSIONS}",
            ("resources", index),
        )

    def _resolve_dependency(
        self, ref: str, plans: list[ResourcePlan], loops: dict[str, list[str]], implicit: bool = False
    ) -> list[str]:
        lowered = ref.lower()
        if lowered in loops:
            return loops[lowered]
        for plan in plans:
            if plan.key == lowered or lowered == f"{plan.type}/{plan.name}".lower():
                return [plan.key]
        by_name = [plan.key for plan in plans if plan.name.lower() == lowered]
        if len(by_name) == 1:
            return by_name
        if implicit:
            return []  # reference() to a resource outside the template: no ordering needed
        raise TemplateError(f"The resource '{ref}' is not defined in the template. {HELP_SYNTAX}")

    # -- resource functions ---------------------------------------------------------------------------

    def resource_id(self, type_name: str, names: list[str], group: str | None = None, sub: str | None = None) -> str:
        namespace, *types = type_name.split("/")
        path = (
            f"/subscriptions/{sub or self.ctx.subscription_id}/resourceGroups/{group or self.ctx.group['name']}"
            f"/providers/{namespace}"
        )
        for type_part, name in zip(types, names, strict=False):
            path += f"/{type_part}/{name}"
        return path

    def target_of(self, ref: str) -> str:
        """reference()'s first argument as a resource id (a bare name means a resource of this template)."""
        if ref.startswith("/"):
            return ref
        for plan in self.plans:
            if plan.name.lower() == ref.lower():
                return plan.id
        return ref

    # -- outputs --------------------------------------------------------------------------------------

    def outputs(self) -> dict[str, Any]:
        """Evaluate the outputs (reference() resolves now); errors carry the output's name."""
        self.location = "outputs"
        result: dict[str, Any] = {}
        for name, definition in _section(self.template, "outputs").items():
            try:
                if not isinstance(definition, dict):
                    raise ExpressionError("The output definition must be an object.")
                if "condition" in definition and self.evaluate(definition["condition"]) is not True:
                    continue
                kind = str(definition.get("type", "")).lower()
                loop = definition.get("copy")
                if isinstance(loop, dict):
                    value: Any = self._copy_array({**loop, "name": "__output"}, "__output")
                    self.loops.pop("__output", None)
                else:
                    value = self.evaluate(definition.get("value"))
            except (ExpressionError, NeedsRuntime) as exc:
                raise OutputError(name, str(exc)) from None
            item: dict[str, Any] = {"type": PARAMETER_TYPES.get(kind, str(definition.get("type", "")))}
            if kind not in SECURE_TYPES:
                item["value"] = value
            result[name] = item
        return result


class OutputError(Exception):
    """An output that could not be evaluated (the deployment then fails with DeploymentOutputEvaluationFailed)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


def _section(template: dict[str, Any], key: str) -> dict[str, Any]:
    value = template.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TemplateError(f"The template '{key}' property must be an object. {HELP_SYNTAX}", (key,))
    return value


def _check_cycles(plans: list[ResourcePlan]) -> None:
    by_key = {plan.key: plan for plan in plans}
    state: dict[str, int] = {}

    def visit(key: str) -> None:
        state[key] = 1
        for dep in by_key[key].depends_on:
            if state.get(dep) == 1:
                raise TemplateError(
                    f"Circular dependency detected on resource: '{by_key[dep].id}'. {HELP_RESOURCES}"
                )
            if state.get(dep) is None and dep in by_key:
                visit(dep)
        state[key] = 2

    for plan in plans:
        if state.get(plan.key) is None:
            visit(plan.key)


# -- accessors and helpers ---------------------------------------------------------------------------------


def _property(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        if name in value:
            return value[name]
        for key, item in value.items():
            if key.lower() == name.lower():  # ARM's property access ignores case
                return item
        raise ExpressionError(
            f"The language expression property '{name}' doesn't exist, available properties are "
            f"'{', '.join(value)}'."
        )
    raise ExpressionError(
        f"The language expression property '{name}' can't be evaluated, the value is of type '{jtype(value)}'."
    )


def _index(value: Any, index: Any) -> Any:
    if isinstance(value, list):
        if isinstance(index, bool) or not isinstance(index, int):
            raise ExpressionError(
                f"The language expression property array index '{arm_string(index)}' is not an integer."
            )
        if not 0 <= index < len(value):
            raise ExpressionError(f"The language expression property array index '{index}' is out of bounds.")
        return value[index]
    if isinstance(value, dict) and isinstance(index, str):
        return _property(value, index)
    raise ExpressionError(
        f"The language expression property '{arm_string(index)}' can't be evaluated, the value is of type "
        f"'{jtype(value)}'."
    )


def _arity(name: str, low: int, high: int | None, given: int) -> ExpressionError:
    if high == low:
        need = f"{low} argument(s)"
    elif high is None:
        need = f"at least {low} argument(s)"
    else:
        need = f"between {low} and {high} argument(s)"
    return ExpressionError(
        f"Unable to evaluate template language function '{name}': function requires {need} while {given} were "
        f"provided. Please see https://aka.ms/arm-template-expressions/#{name} for usage details."
    )


def _type_error(name: str, expected: str, value: Any) -> ExpressionError:
    return ExpressionError(
        f"The template function '{name}' expects its parameter to be {expected}. The provided value is of type "
        f"'{jtype(value)}'. Please see https://aka.ms/arm-template-expressions#{name} for usage details."
    )


def _str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _type_error(name, "a string", value)
    return value


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(name, "an integer", value)
    return value


def _list(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _type_error(name, "an array", value)
    return value


def _only(ev: Evaluator, name: str, *places: str) -> None:
    """Functions ARM allows in some sections only (reference() not in variables, for one)."""
    if ev.location not in places:
        raise ExpressionError(f"The template function '{name}' is not expected at this location. {HELP_EXPRESSIONS}")


def _dotnet_format(fmt: str, args: list[Any]) -> str:
    """.NET composite formatting as format() does it: {0}, {1,-5}, {0:D3}, {{ and }}."""

    def one(match: re.Match[str]) -> str:
        text = match.group(0)
        if text in ("{{", "}}"):
            return text[0]
        index = int(match.group(1))
        if index >= len(args):
            raise ExpressionError(
                "Unable to evaluate template language function 'format': Index (zero based) must be greater "
                "than or equal to zero and less than the size of the argument list."
            )
        value = args[index]
        spec = match.group(3) or ""
        if spec and isinstance(value, int) and not isinstance(value, bool):
            letter, digits = spec[0].upper(), spec[1:]
            width = int(digits) if digits.isdigit() else 0
            if letter == "D":
                text = str(value).zfill(width) if value >= 0 else "-" + str(-value).zfill(width)
            elif letter == "X":
                text = format(value, "X" if spec[0] == "X" else "x").zfill(width)
            elif letter == "N":
                text = f"{value:,.{width}f}"
            else:
                text = str(value)
        else:
            text = arm_string(value)
        align = match.group(2)
        if align:
            width = int(align)
            text = text.rjust(width) if width > 0 else text.ljust(-width)
        return text

    return re.sub(r"\{\{|\}\}|\{(\d+)(?:,(-?\d+))?(?::([^}]*))?\}", one, fmt)


def _dotnet_date(moment: dt.datetime, fmt: str) -> str:
    if fmt == "u":
        return moment.strftime("%Y-%m-%d %H:%M:%SZ")
    if fmt == "d":
        return f"{moment.month}/{moment.day}/{moment.year}"
    out = fmt
    for token, value in (
        ("yyyy", f"{moment.year:04d}"),
        ("MM", f"{moment.month:02d}"),
        ("dd", f"{moment.day:02d}"),
        ("HH", f"{moment.hour:02d}"),
        ("mm", f"{moment.minute:02d}"),
        ("ss", f"{moment.second:02d}"),
    ):
        out = out.replace(token, value)
    return out


def _union(values: list[Any]) -> Any:
    if all(isinstance(v, dict) for v in values):
        merged: dict[str, Any] = {}
        for value in values:
            for key, item in value.items():
                if isinstance(item, dict) and isinstance(merged.get(key), dict):
                    merged[key] = _union([merged[key], item])  # nested objects merge too
                else:
                    merged[key] = copy.deepcopy(item)
        return merged
    if all(isinstance(v, list) for v in values):
        out: list[Any] = []
        for value in values:
            for item in value:
                if not any(deep_equal(item, seen) for seen in out):
                    out.append(item)
        return out
    raise _type_error("union", "all objects or all arrays", next(v for v in values if not isinstance(v, (list, dict))))


# -- the functions -----------------------------------------------------------------------------------------


@_register("parameters", 1, 1)
def _fn_parameters(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return ev.parameter(_str(name, args[0]))


@_register("variables", 1, 1)
def _fn_variables(ev: Evaluator, name: str, args: list[Any]) -> Any:
    if ev.location == "parameters":
        raise ExpressionError(f"The template function '{name}' is not expected at this location. {HELP_EXPRESSIONS}")
    return ev.variable(_str(name, args[0]))


@_register("resourceGroup", 0, 0)
def _fn_resource_group(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return copy.deepcopy(ev.ctx.group)


@_register("subscription", 0, 0)
def _fn_subscription(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return {
        "id": f"/subscriptions/{ev.ctx.subscription_id}",
        "subscriptionId": ev.ctx.subscription_id,
        "tenantId": ev.ctx.tenant_id,
        "displayName": "hpctl sandbox",
    }


@_register("tenant", 0, 0)
def _fn_tenant(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return {"countryCode": "US", "displayName": "hpctl sandbox", "id": f"/tenants/{ev.ctx.tenant_id}",
            "tenantId": ev.ctx.tenant_id}


@_register("deployment", 0, 0)
def _fn_deployment(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return {
        "name": ev.ctx.deployment_name,
        "properties": {
            "templateHash": template_hash(ev.template),
            "template": {"contentVersion": ev.template.get("contentVersion", "1.0.0.0")},
            "mode": "Incremental",
            "provisioningState": "Accepted",
        },
    }


@_register("environment", 0, 0)
def _fn_environment(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return {
        "name": "AzureCloud",
        "gallery": "https://gallery.azure.com/",
        "graph": "https://graph.windows.net/",
        "portal": "https://portal.azure.com",
        "graphAudience": "https://graph.windows.net/",
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "batch": "https://batch.core.windows.net/",
        "media": "https://rest.media.azure.net",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/main/arm-compute/"
        "quickstart-templates/aliases.json",
        "resourceManager": "https://management.azure.com/",
        "authentication": {
            "loginEndpoint": "https://login.microsoftonline.com/",
            "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "suffixes": {
            "acrLoginServer": ".azurecr.io",
            "azureDatalakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
            "azureDatalakeStoreFileSystem": "azuredatalakestore.net",
            "azureFrontDoorEndpointSuffix": "azurefd.net",
            "keyvaultDns": ".vault.azure.net",
            "sqlServerHostname": ".database.windows.net",
            "storage": "core.windows.net",
        },
    }


@_register("providers", 1, 2)
def _fn_providers(ev: Evaluator, name: str, args: list[Any]) -> Any:
    namespace = _str(name, args[0])
    type_name = _str(name, args[1]) if len(args) > 1 else ""
    return {
        "namespace": namespace,
        "resourceType": type_name,
        "locations": [ev.ctx.group.get("location", "")],
        "apiVersions": ev.ctx.api_versions(namespace, type_name),
    }


def _split_resource_args(ev: Evaluator, name: str, args: list[Any]) -> tuple[list[str], str, list[str]]:
    texts = [_str(name, a) for a in args]
    for i, text in enumerate(texts):
        if re.match(r"^[A-Za-z0-9]+\.[A-Za-z0-9.]+/[A-Za-z0-9/.]+$", text) and not text.startswith("/"):
            return texts[:i], text, texts[i + 1 :]
    raise ExpressionError(
        f"Unable to evaluate template language function '{name}': function requires exactly one multi-segmented "
        "argument which must be resource type including resource provider namespace. Current function "
        f"arguments '{','.join(texts)}'. Please see https://aka.ms/arm-template-expressions/#{name.lower()} for "
        "usage details."
    )


def _check_names(name: str, type_name: str, names: list[str]) -> None:
    need = len(type_name.split("/")) - 1
    if len(names) != need:
        raise ExpressionError(
            f"Unable to evaluate template language function '{name}': the type '{type_name}' requires '{need}' "
            f"resource name argument(s). Please see https://aka.ms/arm-template-expressions/#{name.lower()} for "
            "usage details."
        )


@_register("resourceId", 2, None)
def _fn_resource_id(ev: Evaluator, name: str, args: list[Any]) -> Any:
    scope, type_name, names = _split_resource_args(ev, name, args)
    _check_names(name, type_name, names)
    if len(scope) > 2:
        raise _arity(name, 2, None, len(args))
    sub = scope[0] if len(scope) == 2 else None
    group = scope[-1] if scope else None
    return ev.resource_id(type_name, names, group, sub)


@_register("subscriptionResourceId", 2, None)
def _fn_subscription_resource_id(ev: Evaluator, name: str, args: list[Any]) -> Any:
    scope, type_name, names = _split_resource_args(ev, name, args)
    _check_names(name, type_name, names)
    namespace, *types = type_name.split("/")
    path = f"/subscriptions/{scope[0] if scope else ev.ctx.subscription_id}/providers/{namespace}"
    for type_part, item in zip(types, names, strict=True):
        path += f"/{type_part}/{item}"
    return path


@_register("tenantResourceId", 2, None)
def _fn_tenant_resource_id(ev: Evaluator, name: str, args: list[Any]) -> Any:
    _, type_name, names = _split_resource_args(ev, name, args)
    _check_names(name, type_name, names)
    namespace, *types = type_name.split("/")
    path = f"/providers/{namespace}"
    for type_part, item in zip(types, names, strict=True):
        path += f"/{type_part}/{item}"
    return path


@_register("extensionResourceId", 3, None)
def _fn_extension_resource_id(ev: Evaluator, name: str, args: list[Any]) -> Any:
    base = _str(name, args[0])
    _, type_name, names = _split_resource_args(ev, name, args[1:])
    _check_names(name, type_name, names)
    namespace, *types = type_name.split("/")
    path = f"{base}/providers/{namespace}"
    for type_part, item in zip(types, names, strict=True):
        path += f"/{type_part}/{item}"
    return path


@_register("reference", 1, 3)
def _fn_reference(ev: Evaluator, name: str, args: list[Any]) -> Any:
    _only(ev, name, "resources", "outputs")
    target = ev.target_of(_str(name, args[0]))
    api_version = _str(name, args[1]) if len(args) > 1 else None
    full = len(args) > 2 and str(args[2]).lower() == "full"
    if ev.resolver is None:
        raise NeedsRuntime(target)
    return ev.resolver(target, api_version, full)


@_register("copyIndex", 0, 2)
def _fn_copy_index(ev: Evaluator, name: str, args: list[Any]) -> Any:
    loop: str | None = None
    offset = 0
    if args and isinstance(args[0], str):
        loop = args[0].lower()
        if len(args) > 1:
            offset = _int(name, args[1])
    elif args:
        offset = _int(name, args[0])
    if loop not in ev.loops:
        raise ExpressionError(
            f"The template function 'copyIndex' is not expected at this location. The function can only be used "
            f"within a resource, property, variable or output with a copy. {HELP_EXPRESSIONS}"
        )
    return ev.loops[loop] + offset


@_register("format", 1, None)
def _fn_format(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return _dotnet_format(_str(name, args[0]), args[1:])


@_register("concat", 1, None)
def _fn_concat(ev: Evaluator, name: str, args: list[Any]) -> Any:
    if isinstance(args[0], list):
        out: list[Any] = []
        for arg in args:
            out.extend(_list(name, arg))
        return out
    for arg in args:
        if isinstance(arg, (list, dict)):
            raise _type_error(name, "a string or an array", arg)
    return "".join(arm_string(a) for a in args)


@_register("empty", 1, 1)
def _fn_empty(ev: Evaluator, name: str, args: list[Any]) -> Any:
    value = args[0]
    if value is None:
        return True
    if not isinstance(value, (str, list, dict)):
        raise _type_error(name, "an object, an array, or a string", value)
    return len(value) == 0


@_register("equals", 2, 2)
def _fn_equals(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return deep_equal(args[0], args[1])


@_register("json", 1, 1)
def _fn_json(ev: Evaluator, name: str, args: list[Any]) -> Any:
    try:
        return json.loads(_str(name, args[0]))
    except json.JSONDecodeError as exc:
        raise ExpressionError(f"Unable to evaluate template language function 'json': {exc}.") from None


@_register("null", 0, 0)
def _fn_null(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return None


@_register("true", 0, 0)
def _fn_true(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return True


@_register("false", 0, 0)
def _fn_false(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return False


@_register("not", 1, 1)
def _fn_not(ev: Evaluator, name: str, args: list[Any]) -> Any:
    if not isinstance(args[0], bool):
        raise _type_error(name, "a boolean", args[0])
    return not args[0]


@_register("and", 2, None)
def _fn_and(ev: Evaluator, name: str, args: list[Any]) -> Any:
    for arg in args:
        if not isinstance(arg, bool):
            raise _type_error(name, "a boolean", arg)
    return all(args)


@_register("or", 2, None)
def _fn_or(ev: Evaluator, name: str, args: list[Any]) -> Any:
    for arg in args:
        if not isinstance(arg, bool):
            raise _type_error(name, "a boolean", arg)
    return any(args)


@_register("bool", 1, 1)
def _fn_bool(ev: Evaluator, name: str, args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _type_error(name, "a boolean, an integer, or 'true' or 'false'", value)


@_register("int", 1, 1)
def _fn_int(ev: Evaluator, name: str, args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    raise _type_error(name, "an integer or a string of an integer", value)


@_register("string", 1, 1)
def _fn_string(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return arm_string(args[0])


@_register("array", 1, 1)
def _fn_array(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return args[0] if isinstance(args[0], list) else [args[0]]


@_register("createArray", 0, None)
def _fn_create_array(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return list(args)


@_register("createObject", 0, None)
def _fn_create_object(ev: Evaluator, name: str, args: list[Any]) -> Any:
    if len(args) % 2:
        raise ExpressionError(
            f"Unable to evaluate template language function '{name}': the function requires an even number of "
            f"arguments. {HELP_EXPRESSIONS}"
        )
    return {_str(name, args[i]): args[i + 1] for i in range(0, len(args), 2)}


@_register("toLower", 1, 1)
def _fn_to_lower(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return _str(name, args[0]).lower()


@_register("toUpper", 1, 1)
def _fn_to_upper(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return _str(name, args[0]).upper()


@_register("trim", 1, 1)
def _fn_trim(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return _str(name, args[0]).strip()


@_register("length", 1, 1)
def _fn_length(ev: Evaluator, name: str, args: list[Any]) -> Any:
    if not isinstance(args[0], (str, list, dict)):
        raise _type_error(name, "an object, an array, or a string", args[0])
    return len(args[0])


@_register("contains", 2, 2)
def _fn_contains(ev: Evaluator, name: str, args: list[Any]) -> Any:
    container, item = args
    if isinstance(container, str):
        return arm_string(item) in container
    if isinstance(container, list):
        return any(deep_equal(item, x) for x in container)
    if isinstance(container, dict):
        return isinstance(item, str) and item.lower() in (key.lower() for key in container)
    raise _type_error(name, "an object, an array, or a string", container)


@_register("union", 1, None)
def _fn_union(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return _union(args)


@_register("intersection", 2, None)
def _fn_intersection(ev: Evaluator, name: str, args: list[Any]) -> Any:
    if all(isinstance(a, dict) for a in args):
        first = args[0]
        return {k: v for k, v in first.items() if all(k in o and deep_equal(o[k], v) for o in args[1:])}
    if all(isinstance(a, list) for a in args):
        out: list[Any] = []
        for item in args[0]:
            if all(any(deep_equal(item, x) for x in other) for other in args[1:]) and not any(
                deep_equal(item, x) for x in out
            ):
                out.append(item)
        return out
    raise _type_error(name, "all objects or all arrays", args[0])


@_register("items", 1, 1)
def _fn_items(ev: Evaluator, name: str, args: list[Any]) -> Any:
    if not isinstance(args[0], dict):
        raise _type_error(name, "an object", args[0])
    return [{"key": k, "value": args[0][k]} for k in sorted(args[0], key=str.lower)]


@_register("first", 1, 1)
def _fn_first(ev: Evaluator, name: str, args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, (str, list)):
        return value[0] if value else (None if isinstance(value, list) else "")
    raise _type_error(name, "an array or a string", value)


@_register("last", 1, 1)
def _fn_last(ev: Evaluator, name: str, args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, (str, list)):
        return value[-1] if value else (None if isinstance(value, list) else "")
    raise _type_error(name, "an array or a string", value)


@_register("take", 2, 2)
def _fn_take(ev: Evaluator, name: str, args: list[Any]) -> Any:
    value, count = args[0], max(0, _int(name, args[1]))
    if not isinstance(value, (str, list)):
        raise _type_error(name, "an array or a string", value)
    return value[:count]


@_register("skip", 2, 2)
def _fn_skip(ev: Evaluator, name: str, args: list[Any]) -> Any:
    value, count = args[0], max(0, _int(name, args[1]))
    if not isinstance(value, (str, list)):
        raise _type_error(name, "an array or a string", value)
    return value[count:]


@_register("flatten", 1, 1)
def _fn_flatten(ev: Evaluator, name: str, args: list[Any]) -> Any:
    out: list[Any] = []
    for item in _list(name, args[0]):
        out.extend(_list(name, item))
    return out


@_register("join", 2, 2)
def _fn_join(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return _str(name, args[1]).join(arm_string(x) for x in _list(name, args[0]))


@_register("split", 2, 2)
def _fn_split(ev: Evaluator, name: str, args: list[Any]) -> Any:
    text = _str(name, args[0])
    delimiters = args[1] if isinstance(args[1], list) else [args[1]]
    pattern = "|".join(re.escape(_str(name, d)) for d in delimiters)
    return re.split(pattern, text) if pattern else [text]


@_register("replace", 3, 3)
def _fn_replace(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return _str(name, args[0]).replace(_str(name, args[1]), _str(name, args[2]))


@_register("substring", 2, 3)
def _fn_substring(ev: Evaluator, name: str, args: list[Any]) -> Any:
    text, start = _str(name, args[0]), _int(name, args[1])
    length = _int(name, args[2]) if len(args) > 2 else len(text) - start
    if start < 0 or start > len(text) or length < 0 or start + length > len(text):
        raise ExpressionError(
            "The index and length parameters must refer to a location within the string. The index parameter: "
            f"'{start}', the length parameter: '{length}', the length of the string parameter: '{len(text)}'. "
            f"{HELP_EXPRESSIONS}"
        )
    return text[start : start + length]


@_register("startsWith", 2, 2)
def _fn_starts_with(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return _str(name, args[0]).lower().startswith(_str(name, args[1]).lower())


@_register("endsWith", 2, 2)
def _fn_ends_with(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return _str(name, args[0]).lower().endswith(_str(name, args[1]).lower())


@_register("indexOf", 2, 2)
def _fn_index_of(ev: Evaluator, name: str, args: list[Any]) -> Any:
    if isinstance(args[0], list):
        return next((i for i, x in enumerate(args[0]) if deep_equal(x, args[1])), -1)
    return _str(name, args[0]).lower().find(_str(name, args[1]).lower())


@_register("lastIndexOf", 2, 2)
def _fn_last_index_of(ev: Evaluator, name: str, args: list[Any]) -> Any:
    if isinstance(args[0], list):
        found = [i for i, x in enumerate(args[0]) if deep_equal(x, args[1])]
        return found[-1] if found else -1
    return _str(name, args[0]).lower().rfind(_str(name, args[1]).lower())


@_register("padLeft", 2, 3)
def _fn_pad_left(ev: Evaluator, name: str, args: list[Any]) -> Any:
    text = arm_string(args[0])
    fill = _str(name, args[2]) if len(args) > 2 else " "
    if len(fill) != 1:
        raise ExpressionError("The padding character of 'padLeft' must be a single character.")
    return text.rjust(_int(name, args[1]), fill)


@_register("uniqueString", 1, None)
def _fn_unique_string(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return unique_string(*(_str(name, a) for a in args))


@_register("guid", 1, None)
def _fn_guid(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return arm_guid(*(_str(name, a) for a in args))


@_register("newGuid", 0, 0)
def _fn_new_guid(ev: Evaluator, name: str, args: list[Any]) -> Any:
    _only(ev, name, "parameters")
    return ev.ctx.new_guid()


@_register("utcNow", 0, 1)
def _fn_utc_now(ev: Evaluator, name: str, args: list[Any]) -> Any:
    _only(ev, name, "parameters")
    return _dotnet_date(ev.ctx.now, _str(name, args[0]) if args else "yyyyMMddTHHmmssZ")


@_register("base64", 1, 1)
def _fn_base64(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return base64.b64encode(_str(name, args[0]).encode()).decode()


@_register("base64ToString", 1, 1)
def _fn_base64_to_string(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return base64.b64decode(_str(name, args[0])).decode()


@_register("base64ToJson", 1, 1)
def _fn_base64_to_json(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return json.loads(base64.b64decode(_str(name, args[0])).decode())


@_register("uri", 2, 2)
def _fn_uri(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return urljoin(_str(name, args[0]), _str(name, args[1]))


@_register("uriComponent", 1, 1)
def _fn_uri_component(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return quote(_str(name, args[0]), safe="")


@_register("uriComponentToString", 1, 1)
def _fn_uri_component_to_string(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return unquote(_str(name, args[0]))


@_register("coalesce", 1, None)
def _fn_coalesce(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return next((a for a in args if a is not None), None)


def _compare(name: str, a: Any, b: Any) -> int:
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    return (_int(name, a) > _int(name, b)) - (_int(name, a) < _int(name, b))


@_register("less", 2, 2)
def _fn_less(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return _compare(name, *args) < 0


@_register("lessOrEquals", 2, 2)
def _fn_less_or_equals(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return _compare(name, *args) <= 0


@_register("greater", 2, 2)
def _fn_greater(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return _compare(name, *args) > 0


@_register("greaterOrEquals", 2, 2)
def _fn_greater_or_equals(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return _compare(name, *args) >= 0


@_register("add", 2, 2)
def _fn_add(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return _int(name, args[0]) + _int(name, args[1])


@_register("sub", 2, 2)
def _fn_sub(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return _int(name, args[0]) - _int(name, args[1])


@_register("mul", 2, 2)
def _fn_mul(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return _int(name, args[0]) * _int(name, args[1])


def _divide(name: str, a: int, b: int) -> tuple[int, int]:
    if b == 0:
        raise ExpressionError(f"Unable to evaluate template language function '{name}': Attempted to divide by zero.")
    quotient = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)  # .NET truncates toward zero
    return quotient, a - quotient * b


@_register("div", 2, 2)
def _fn_div(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return _divide(name, _int(name, args[0]), _int(name, args[1]))[0]


@_register("mod", 2, 2)
def _fn_mod(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return _divide(name, _int(name, args[0]), _int(name, args[1]))[1]


def _numbers(name: str, args: list[Any]) -> list[int]:
    values = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    if not values:
        raise ExpressionError(f"Unable to evaluate template language function '{name}': the array is empty.")
    return [_int(name, v) for v in values]


@_register("min", 1, None)
def _fn_min(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return min(_numbers(name, args))


@_register("max", 1, None)
def _fn_max(ev: Evaluator, name: str, args: list[Any]) -> Any:
    return max(_numbers(name, args))


@_register("range", 2, 2)
def _fn_range(ev: Evaluator, name: str, args: list[Any]) -> Any:
    start, count = _int(name, args[0]), _int(name, args[1])
    if count < 0 or count > 10000:
        raise ExpressionError(
            f"Unable to evaluate template language function '{name}': the count must be between 0 and 10000."
        )
    return list(range(start, start + count))

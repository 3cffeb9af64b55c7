"""KQL for the sandbox's Resource Graph: a tokenizer, parser and evaluator of the documented subset below.

The subset is what hpctl's fleet queries need, plus a few cheap neighbours (docs/sandbox-kql.md says the same):

Tables
    ``resources``, ``resourcecontainers``, ``patchassessmentresources``, ``patchinstallationresources``
    (case-insensitive, as in ARG). A query that starts with an operator (``where ...``) reads ``resources``.
Tabular operators (after ``|``)
    ``where`` (alias ``filter``) PREDICATE
    ``project`` [NAME =] EXPR, ...
    ``extend`` [NAME =] EXPR, ...
    ``order by`` / ``sort by`` EXPR [asc|desc] [nulls first|nulls last], ...  (default desc, as in KQL)
    ``union`` TABLE, ...  (also as the first word: ``union T1, T2``)
    ``limit`` N / ``take`` N  (ARG then returns no $skipToken)
Scalar operators, loosest first
    ``or``;  ``and``;
    ``==`` ``!=`` (case-sensitive), ``=~`` ``!~`` (case-insensitive), ``<`` ``<=`` ``>`` ``>=``,
    ``in`` ``!in`` (case-sensitive), ``in~`` ``!in~`` (case-insensitive) followed by ``(EXPR, ...)``,
    ``startswith`` ``endswith`` ``contains`` (case-insensitive) and their ``_cs`` and ``!`` forms;
    ``+`` ``-`` (numbers, datetime +/- timespan, datetime - datetime);
    unary ``-``; member access ``a.b`` and indexing ``a['k']`` / ``a[0]`` on dynamic values.
Literals
    'single' or "double" quoted strings with backslash escapes (``\\'``, ``\\"``, ``\\\\``, ``\\n``, ``\\t``),
    verbatim @'...' strings, integers and reals, timespans (``30d``, ``12h``, ``5m``, ``10s``, ``100ms``,
    ``1day`` ...), ``true``/``false``, ``datetime(2026-05-01)`` / ``datetime(2026-05-01T10:00:00Z)``.
Functions
    ``tolower`` ``toupper`` ``tostring`` ``todatetime`` ``toint`` ``tolong`` ``tobool`` ``strlen``
    ``isnull`` ``isnotnull`` ``isempty`` ``isnotempty`` ``not`` ``ago`` ``now``.
Null semantics (the subset's choice, documented): a comparison with a null (missing dynamic value) is false,
except ``!=``/``!~``/``!in``/``!in~``/``!contains``..., which are true when exactly one side is null; string
functions read null as "". Comments (``// ...``) are skipped.

Anything else is refused the way ARG refuses queries (KqlError carries the error detail): a syntax error is
``ParserFailure`` with line, characterPositionInLine and token; a real KQL operator outside the subset is
``InvalidQueryLanguage``; an unknown function ``UnknownFunction``; an unknown table
``DisallowedLogicalTableName``; an unknown column ``SemanticError`` with Kusto's message.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

UTC = dt.timezone.utc

# ARG's detail shapes (verbatim from service responses quoted in public issues; see docs/sandbox-kql.md).
INVALID_QUERY_MESSAGE = (
    "Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the "
    "error before retrying."
)

# Real KQL tabular operators the subset does not implement: they answer InvalidQueryLanguage, not ParserFailure.
KNOWN_KQL_OPERATORS = frozenset(
    {
        "as", "consume", "count", "distinct", "evaluate", "facet", "find", "fork", "getschema", "invoke",
        "join", "lookup", "make-series", "mv-apply", "mv-expand", "parse", "parse-where", "partition",
        "project-away", "project-keep", "project-rename", "project-reorder", "range", "reduce", "render",
        "sample", "sample-distinct", "scan", "search", "serialize", "summarize", "top", "top-hitters",
        "top-nested",
    }
)
SUPPORTED_OPERATORS = frozenset({"where", "filter", "project", "extend", "order", "sort", "union", "limit", "take"})
_HYPHEN_STEMS = frozenset({"project", "mv", "make", "top", "parse", "sample"})

# Column types as ARG's table format names them.
STRING, INTEGER, NUMBER, BOOLEAN, OBJECT, DATETIME, TIMESPAN = (
    "string", "integer", "number", "boolean", "object", "datetime", "timespan",
)

_TIMESPAN_UNITS: dict[str, float] = {
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0,
    "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
    "ms": 0.001, "milli": 0.001, "millis": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
}


# --------------------------------------------------------------------------------------------- errors


class KqlError(Exception):
    """A query ARG would refuse: `detail` is the entry for error.details; `invalid_query` says whether ARG puts
    its generic InvalidQuery entry before it (it does for parser and function errors, not for unknown tables)."""

    def __init__(self, detail: dict[str, Any], *, invalid_query: bool = True) -> None:
        super().__init__(f"{detail.get('code')}: {detail.get('message')} {detail.get('token', '')}".strip())
        self.detail = detail
        self.invalid_query = invalid_query

    def details(self) -> list[dict[str, Any]]:
        """error.details as ARG sends it."""
        head = [{"code": "InvalidQuery", "message": INVALID_QUERY_MESSAGE}] if self.invalid_query else []
        return head + [self.detail]


def parser_failure(text: str, offset: int, token: str) -> KqlError:
    line, column = _line_col(text, offset)
    return KqlError(
        {"code": "ParserFailure", "message": "ParserFailure", "line": line, "characterPositionInLine": column,
         "token": token}
    )


def unknown_function(name: str) -> KqlError:
    return KqlError({"code": "UnknownFunction", "message": f"Unknown function: '{name}'."})


def unknown_table(name: str) -> KqlError:
    # ARG answers this one with the table detail alone (no InvalidQuery entry).
    return KqlError(
        {"code": "DisallowedLogicalTableName", "message": f"Table {name} is invalid, unsupported or disallowed."},
        invalid_query=False,
    )


def unsupported_operator(name: str) -> KqlError:
    return KqlError(
        {"code": "InvalidQueryLanguage", "message": "InvalidQueryLanguage", "line": -1,
         "characterPositionInLine": -1, "token": name}
    )


def semantic_error(message: str) -> KqlError:
    return KqlError({"code": "SemanticError", "message": message})


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return line, offset - start


# ------------------------------------------------------------------------------------------ tokenizer


@dataclass(frozen=True)
class Token:
    kind: str  # name | string | number | timespan | datetime | op | eof
    text: str  # as written (the offending token in errors)
    value: Any
    pos: int


_OPS = ("!in~", "in~", "==", "!=", "=~", "!~", "<=", ">=", "|", "(", ")", "[", "]", ",", ".", "=", "<", ">",
        "+", "-", "*", "/", "%", ";")
_NEGATABLE = ("in", "contains", "contains_cs", "startswith", "startswith_cs", "endswith", "endswith_cs", "has",
              "has_cs", "between")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def tokenize(text: str) -> list[Token]:
    """The query's tokens; ParserFailure for an unterminated string or a character KQL does not have."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if c in "'\"" or (c == "@" and i + 1 < n and text[i + 1] in "'\""):
            token, i = _string(text, i)
            tokens.append(token)
            continue
        if c.isdigit():
            token, i = _number(text, i)
            tokens.append(token)
            continue
        if c.isalpha() or c == "_":
            match = _WORD.match(text, i)
            assert match is not None
            word, end = match.group(), match.end()
            while word.lower() in _HYPHEN_STEMS and end < n and text[end] == "-" and _WORD.match(text, end + 1):
                nxt = _WORD.match(text, end + 1)
                assert nxt is not None
                word, end = text[i:nxt.end()], nxt.end()
            if word == "in" and end < n and text[end] == "~":
                tokens.append(Token("op", "in~", "in~", i))
                i = end + 1
                continue
            if word.lower() == "datetime":
                literal = _datetime_literal(text, end)
                if literal is not None:
                    raw, after = literal
                    tokens.append(Token("datetime", text[i:after], _parse_datetime_literal(text, raw, i), i))
                    i = after
                    continue
            tokens.append(Token("name", word, word, i))
            i = end
            continue
        if c == "!":
            match = _WORD.match(text, i + 1)
            if match and match.group() in _NEGATABLE:
                word = match.group()
                end = match.end()
                if word == "in" and end < n and text[end] == "~":
                    tokens.append(Token("op", "!in~", "!in~", i))
                    i = end + 1
                else:
                    tokens.append(Token("op", "!" + word, "!" + word, i))
                    i = end
                continue
        for op in _OPS:
            if text.startswith(op, i):
                tokens.append(Token("op", op, op, i))
                i += len(op)
                break
        else:
            raise parser_failure(text, i, c)
    tokens.append(Token("eof", "<EOF>", None, n))
    return tokens


def _string(text: str, start: int) -> tuple[Token, int]:
    verbatim = text[start] == "@"
    i = start + 1 if verbatim else start
    quote = text[i]
    i += 1
    out: list[str] = []
    while i < len(text):
        c = text[i]
        if c == "\n":
            break  # KQL strings do not span lines
        if c == quote:
            if verbatim and text.startswith(quote * 2, i):
                out.append(quote)
                i += 2
                continue
            return Token("string", text[start:i + 1], "".join(out), start), i + 1
        if c == "\\" and not verbatim and i + 1 < len(text):
            nxt = text[i + 1]
            out.append({"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    end = text.find("\n", start)
    raise parser_failure(text, start, text[start:] if end < 0 else text[start:end])


def _number(text: str, start: int) -> tuple[Token, int]:
    match = _NUMBER.match(text, start)
    assert match is not None
    raw, end = match.group(), match.end()
    unit = _WORD.match(text, end)
    if unit is not None:
        name = unit.group().lower()
        if name not in _TIMESPAN_UNITS:
            raise parser_failure(text, start, text[start:unit.end()])
        seconds = float(raw) * _TIMESPAN_UNITS[name]
        return Token("timespan", text[start:unit.end()], dt.timedelta(seconds=seconds), start), unit.end()
    value: Any = float(raw) if any(ch in raw for ch in ".eE") else int(raw)
    return Token("number", raw, value, start), end


def _datetime_literal(text: str, end: int) -> tuple[str, int] | None:
    j = end
    while j < len(text) and text[j] in " \t":
        j += 1
    if j >= len(text) or text[j] != "(":
        return None
    close = text.find(")", j)
    if close < 0:
        return None
    raw = text[j + 1:close].strip()
    # datetime(x) where x is an expression (e.g. a column) is a function call, not a literal.
    if not raw or not raw[0].isdigit():
        return None
    return raw, close + 1


def _parse_datetime_literal(text: str, raw: str, pos: int) -> dt.datetime:
    value = to_datetime(raw.strip("'\""))
    if value is None:
        raise parser_failure(text, pos, raw)
    return value


# ------------------------------------------------------------------------------------------------ AST


@dataclass
class Expr:
    """A scalar expression: `kind` and its parts (`args`); `pos` for messages."""

    kind: str  # column | literal | member | index | call | binary | unary | inlist
    value: Any = None  # column/member/function name, literal value, operator
    args: list[Expr] = field(default_factory=list)
    pos: int = 0


@dataclass
class Operator:
    name: str  # where | project | extend | order | union | limit
    exprs: list[Expr] = field(default_factory=list)
    names: list[str | None] = field(default_factory=list)  # project/extend output names
    order: list[tuple[bool, bool]] = field(default_factory=list)  # per key: (descending, nulls_first)
    tables: list[str] = field(default_factory=list)  # union
    count: int = 0  # limit
    pos: int = 0


@dataclass
class Query:
    text: str
    tables: list[str]
    operators: list[Operator]

    @property
    def pageable(self) -> bool:
        """ARG pages (returns $skipToken) unless the query limits itself with limit/take."""
        return not any(op.name == "limit" for op in self.operators)


# --------------------------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str, tables: Iterable[str]) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.tables = {t.lower() for t in tables}

    # -- token helpers

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.kind != "eof":
            self.i += 1
        return token

    def fail(self, token: Token | None = None) -> KqlError:
        token = token or self.tok
        return parser_failure(self.text, token.pos, token.text)

    def is_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.value in ops

    def is_word(self, *words: str) -> bool:
        return self.tok.kind == "name" and self.tok.value.lower() in words

    def expect_op(self, op: str) -> Token:
        if not self.is_op(op):
            raise self.fail()
        return self.advance()

    def expect_word(self, word: str) -> Token:
        if not self.is_word(word):
            raise self.fail()
        return self.advance()

    # -- query

    def query(self) -> Query:
        if self.tok.kind == "eof":
            raise self.fail()
        tables: list[str] = []
        operators: list[Operator] = []
        if self.is_word("union"):
            self.advance()
            tables = self.table_list()
        elif self.tok.kind == "name" and self.tok.value.lower() in SUPPORTED_OPERATORS | KNOWN_KQL_OPERATORS:
            tables = ["resources"]  # ARG's implicit table
            operators.append(self.operator())
        elif self.tok.kind == "name":
            tables = [self.table_name()]
        else:
            raise self.fail()
        while self.tok.kind != "eof":
            self.expect_op("|")
            operators.append(self.operator())
        return Query(self.text, tables, operators)

    def table_name(self) -> str:
        token = self.tok
        if token.kind != "name":
            raise self.fail()
        self.advance()
        if token.value.lower() not in self.tables:
            raise unknown_table(token.value)
        return token.value.lower()

    def table_list(self) -> list[str]:
        names = [self.table_name()]
        while self.is_op(","):
            self.advance()
            names.append(self.table_name())
        return names

    def operator(self) -> Operator:
        token = self.tok
        if token.kind != "name":
            raise self.fail()
        name = token.value.lower()
        if name in KNOWN_KQL_OPERATORS:
            raise unsupported_operator(token.value)
        if name not in SUPPORTED_OPERATORS:
            raise self.fail()
        self.advance()
        op = Operator(name, pos=token.pos)
        if name in ("where", "filter"):
            op.name = "where"
            op.exprs.append(self.expr())
        elif name in ("project", "extend"):
            self.assignments(op)
        elif name in ("order", "sort"):
            op.name = "order"
            self.expect_word("by")
            self.sort_keys(op)
        elif name == "union":
            op.tables = self.table_list()
        else:  # limit, take
            op.name = "limit"
            count = self.advance()
            if count.kind != "number" or not isinstance(count.value, int):
                raise self.fail(count)
            op.count = count.value
        return op

    def assignments(self, op: Operator) -> None:
        while True:
            name = None
            after = self.tokens[self.i + 1] if self.tok.kind == "name" else None
            if after is not None and after.kind == "op" and after.value == "=":
                name = self.advance().value
                self.advance()
            op.names.append(name)
            op.exprs.append(self.expr())
            if not self.is_op(","):
                return
            self.advance()

    def sort_keys(self, op: Operator) -> None:
        while True:
            op.exprs.append(self.expr())
            descending = True  # KQL's default direction
            if self.is_word("asc", "desc"):
                descending = self.advance().value.lower() == "desc"
            nulls_first = not descending  # KQL: nulls first ascending, last descending
            if self.is_word("nulls"):
                self.advance()
                if not self.is_word("first", "last"):
                    raise self.fail()
                nulls_first = self.advance().value.lower() == "first"
            op.order.append((descending, nulls_first))
            if not self.is_op(","):
                return
            self.advance()

    # -- expressions, loosest first

    def expr(self) -> Expr:
        left = self.and_expr()
        while self.is_word("or"):
            token = self.advance()
            left = Expr("binary", "or", [left, self.and_expr()], token.pos)
        return left

    def and_expr(self) -> Expr:
        left = self.comparison()
        while self.is_word("and"):
            token = self.advance()
            left = Expr("binary", "and", [left, self.comparison()], token.pos)
        return left

    _COMPARE = ("==", "!=", "=~", "!~", "<", "<=", ">", ">=")
    _STRING_OPS = ("contains", "contains_cs", "startswith", "startswith_cs", "endswith", "endswith_cs")

    def comparison(self) -> Expr:
        left = self.additive()
        token = self.tok
        if token.kind == "op" and token.value in self._COMPARE:
            self.advance()
            return Expr("binary", token.value, [left, self.additive()], token.pos)
        if token.kind == "op" and token.value in ("in~", "!in~", "!in") or self.is_word("in"):
            self.advance()
            op = token.value.lower()
            self.expect_op("(")
            items = [self.expr()]
            while self.is_op(","):
                self.advance()
                items.append(self.expr())
            self.expect_op(")")
            return Expr("inlist", op, [left, *items], token.pos)
        word = token.value.lower() if token.kind == "name" else token.value if token.kind == "op" else None
        if word is not None and (word in self._STRING_OPS or (word.startswith("!") and word[1:] in self._STRING_OPS)):
            self.advance()
            return Expr("binary", word, [left, self.additive()], token.pos)
        if word in ("has", "has_cs", "!has", "!has_cs", "between", "!between", "matches", "like", "notlike"):
            raise unsupported_operator(token.text)
        return left

    def additive(self) -> Expr:
        left = self.unary()
        while self.is_op("+", "-"):
            token = self.advance()
            left = Expr("binary", token.value, [left, self.unary()], token.pos)
        if self.is_op("*", "/", "%"):
            raise unsupported_operator(self.tok.text)
        return left

    def unary(self) -> Expr:
        if self.is_op("-"):
            token = self.advance()
            return Expr("unary", "-", [self.unary()], token.pos)
        return self.postfix()

    def postfix(self) -> Expr:
        node = self.primary()
        while True:
            if self.is_op("."):
                self.advance()
                token = self.advance()
                if token.kind != "name":
                    raise self.fail(token)
                node = Expr("member", token.value, [node], token.pos)
            elif self.is_op("["):
                token = self.advance()
                index = self.expr()
                self.expect_op("]")
                node = Expr("index", None, [node, index], token.pos)
            else:
                return node

    def primary(self) -> Expr:
        token = self.tok
        if token.kind in ("string", "number", "timespan", "datetime"):
            self.advance()
            return Expr("literal", token.value, pos=token.pos)
        if token.kind == "op" and token.value == "(":
            self.advance()
            inner = self.expr()
            self.expect_op(")")
            return inner
        if token.kind == "name":
            self.advance()
            lowered = token.value.lower()
            if self.is_op("("):
                self.advance()
                args: list[Expr] = []
                if not self.is_op(")"):
                    args.append(self.expr())
                    while self.is_op(","):
                        self.advance()
                        args.append(self.expr())
                self.expect_op(")")
                return Expr("call", token.value, args, token.pos)
            if lowered in ("true", "false"):
                return Expr("literal", lowered == "true", pos=token.pos)
            return Expr("column", token.value, pos=token.pos)
        raise self.fail()


def parse(text: str, tables: Iterable[str]) -> Query:
    """Parse `text` against the known table names; KqlError when ARG would refuse it."""
    if not isinstance(text, str) or not text.strip():
        raise parser_failure(text or "", 0, "<EOF>")
    return _Parser(text, tables).query()


# ------------------------------------------------------------------------------------------ values


def to_string(value: Any) -> str:
    """KQL's tostring(): null is "", dynamic values are compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.timedelta):
        return format_timespan(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)


def to_datetime(value: Any) -> dt.datetime | None:
    """KQL's todatetime(): ISO 8601 strings (up to 7 fractional digits, Z or an offset; no zone means UTC)."""
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        return None
    return _parse_iso(value)


@functools.lru_cache(maxsize=1 << 17)
def _parse_iso(value: str) -> dt.datetime | None:
    # Cached: a history query parses the same few thousand timestamps on every page of every run.
    try:
        moment = dt.datetime.fromisoformat(value)  # C speed; Python 3.11 reads 7 digits, Z and offsets
    except ValueError:
        moment = None
    if moment is not None and len(value) >= 10 and value[4] == "-":
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    match = _ISO.match(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = dt.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")), tzinfo=UTC,
        )
    except ValueError:
        return None
    if zone and zone.upper() != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        moment -= sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment


def format_datetime(value: dt.datetime) -> str:
    """Kusto's datetime rendering: seven fractional digits and Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def format_timespan(value: dt.timedelta) -> str:
    """Kusto's timespan rendering: [-][d.]hh:mm:ss[.fffffff]."""
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if value.days:
        text = f"{value.days}.{text}"
    if value.microseconds:
        text += f".{value.microseconds:06d}0"
    return sign + text


def output_value(value: Any) -> Any:
    """A value as JSON in the response (datetimes and timespans as Kusto writes them)."""
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.timedelta):
        return format_timespan(value)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _coerce_pair(a: Any, b: Any) -> tuple[Any, Any]:
    """Bring two values to comparable types the way KQL compares a dynamic with a typed value."""
    if isinstance(a, dt.datetime) and isinstance(b, str):
        return a, to_datetime(b)
    if isinstance(b, dt.datetime) and isinstance(a, str):
        return to_datetime(a), b
    if isinstance(a, str) and not isinstance(b, str) and b is not None and not isinstance(b, (dict, list)):
        return a, to_string(b)
    if isinstance(b, str) and not isinstance(a, str) and a is not None and not isinstance(a, (dict, list)):
        return to_string(a), b
    return a, b


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    a, b = _coerce_pair(a, b)
    if a is None or b is None:
        return False
    return bool(a == b)


def _order(op: str) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if a is None or b is None:
            return False
        a, b = _coerce_pair(a, b)
        if a is None or b is None:
            return False
        if _is_number(a) and _is_number(b) or type(a) is type(b):
            try:
                if op == "<":
                    return bool(a < b)
                if op == "<=":
                    return bool(a <= b)
                if op == ">":
                    return bool(a > b)
                return bool(a >= b)
            except TypeError:
                return False
        return False

    return compare


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, float(value))
    if _is_number(value):
        return (0, float(value))
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, dt.datetime):
        return (2, value.timestamp())
    if isinstance(value, dt.timedelta):
        return (3, value.total_seconds())
    return (4, to_string(value))


# ----------------------------------------------------------------------------------------- compiler

Row = Mapping[str, Any]
Fn = Callable[[Row], Any]


@dataclass
class Context:
    """What evaluation needs besides the rows: the simulated now (for ago() and now())."""

    now: dt.datetime


_FUNCTIONS: dict[str, tuple[int, int]] = {  # name -> (min args, max args)
    "tolower": (1, 1), "toupper": (1, 1), "tostring": (1, 1), "todatetime": (1, 1), "toint": (1, 1),
    "tolong": (1, 1), "tobool": (1, 1), "strlen": (1, 1), "isnull": (1, 1), "isnotnull": (1, 1),
    "isempty": (1, 1), "isnotempty": (1, 1), "not": (1, 1), "ago": (1, 1), "now": (0, 1),
}


class _Compiler:
    """Turns expressions into Python closures over a row, checking names against the current columns."""

    def __init__(self, context: Context, operator: str) -> None:
        self.context = context
        self.operator = operator  # for Kusto's "'where' operator: ..." messages

    def compile(self, node: Expr, columns: Mapping[str, str]) -> tuple[Fn, str]:
        """(closure, result type)."""
        kind = node.kind
        if kind == "literal":
            value = node.value
            return (lambda row: value), _literal_type(value)
        if kind == "column":
            name = node.value
            if name not in columns:
                raise semantic_error(f"'{self.operator}' operator: Failed to resolve scalar expression named '{name}'")
            return (lambda row: row.get(name)), columns[name]
        if kind == "member":
            inner, _ = self.compile(node.args[0], columns)
            key = node.value

            def member(row: Row) -> Any:
                base = inner(row)
                return base.get(key) if isinstance(base, dict) else None

            return member, OBJECT
        if kind == "index":
            inner, _ = self.compile(node.args[0], columns)
            index, _ = self.compile(node.args[1], columns)
            return (lambda row: _index(inner(row), index(row))), OBJECT
        if kind == "unary":
            inner, kind_of = self.compile(node.args[0], columns)
            return (lambda row: _negate(inner(row))), kind_of
        if kind == "call":
            return self.call(node, columns)
        if kind == "inlist":
            return self.inlist(node, columns)
        return self.binary(node, columns)

    def call(self, node: Expr, columns: Mapping[str, str]) -> tuple[Fn, str]:
        name = node.value.lower()
        if name not in _FUNCTIONS or node.value != name:
            # KQL function names are case-sensitive: ToLower() is as unknown as strcat() is to the subset.
            raise unknown_function(node.value)
        low, high = _FUNCTIONS[name]
        if not low <= len(node.args) <= high:
            raise semantic_error(
                f"'{self.operator}' operator: Function '{name}' expects {low if low == high else f'{low}-{high}'} "
                f"argument(s), got {len(node.args)}"
            )
        args = [self.compile(arg, columns) for arg in node.args]
        fns = [fn for fn, _ in args]
        context = self.context
        if name == "now":
            if fns:
                offset = fns[0]
                return (lambda row: _plus(context.now, offset(row))), DATETIME
            return (lambda row: context.now), DATETIME
        (arg,) = fns
        if name == "ago":
            return (lambda row: _ago(context.now, arg(row))), DATETIME
        if name == "tolower":
            return (lambda row: to_string(arg(row)).lower()), STRING
        if name == "toupper":
            return (lambda row: to_string(arg(row)).upper()), STRING
        if name == "tostring":
            return (lambda row: to_string(arg(row))), STRING
        if name == "todatetime":
            return (lambda row: to_datetime(arg(row))), DATETIME
        if name in ("toint", "tolong"):
            return (lambda row: _to_int(arg(row))), INTEGER
        if name == "tobool":
            return (lambda row: _to_bool(arg(row))), BOOLEAN
        if name == "strlen":
            return (lambda row: len(to_string(arg(row)))), INTEGER
        if name == "isnull":
            return (lambda row: arg(row) is None), BOOLEAN
        if name == "isnotnull":
            return (lambda row: arg(row) is not None), BOOLEAN
        if name == "isempty":
            return (lambda row: arg(row) in (None, "")), BOOLEAN
        if name == "isnotempty":
            return (lambda row: arg(row) not in (None, "")), BOOLEAN
        return (lambda row: not _truthy(arg(row))), BOOLEAN  # not()

    def inlist(self, node: Expr, columns: Mapping[str, str]) -> tuple[Fn, str]:
        left, _ = self.compile(node.args[0], columns)
        op = node.value
        insensitive = op.endswith("~")
        negated = op.startswith("!")
        items = node.args[1:]
        if all(item.kind == "literal" for item in items):
            # Literal lists (hpctl's type and id lists) become one set lookup per row.
            values = [item.value for item in items]
            if all(isinstance(v, str) for v in values):
                pool = {v.lower() for v in values} if insensitive else set(values)

                def member_of(row: Row) -> Any:
                    value = left(row)
                    if value is None:
                        return negated
                    text = to_string(value)
                    found = (text.lower() if insensitive else text) in pool
                    return found != negated

                return member_of, BOOLEAN
        fns = [self.compile(item, columns)[0] for item in items]

        def member_of_any(row: Row) -> Any:
            value = left(row)
            if value is None:
                return negated
            found = any(
                (_iequal(value, fn(row)) if insensitive else _equal(value, fn(row))) for fn in fns
            )
            return found != negated

        return member_of_any, BOOLEAN

    def binary(self, node: Expr, columns: Mapping[str, str]) -> tuple[Fn, str]:
        op = node.value
        if op == "or":
            prefixes = _prefix_chain(node)
            if prefixes is not None:
                # `x startswith 'a' or x startswith 'b' or ...` (hpctl's id scopes): one tuple startswith per row.
                subject, words = prefixes
                left, _ = self.compile(subject, columns)
                pool = tuple(w.lower() for w in words)
                return (lambda row: to_string(left(row)).lower().startswith(pool)), BOOLEAN
        left, left_type = self.compile(node.args[0], columns)
        right, right_type = self.compile(node.args[1], columns)
        if op == "and":
            return (lambda row: _truthy(left(row)) and _truthy(right(row))), BOOLEAN
        if op == "or":
            return (lambda row: _truthy(left(row)) or _truthy(right(row))), BOOLEAN
        if op == "==":
            return (lambda row: _equal(left(row), right(row))), BOOLEAN
        if op == "!=":
            return (lambda row: _not_equal(left(row), right(row))), BOOLEAN
        if op == "=~":
            return (lambda row: _iequal(left(row), right(row))), BOOLEAN
        if op == "!~":
            return (lambda row: _not_iequal(left(row), right(row))), BOOLEAN
        if op in ("<", "<=", ">", ">="):
            compare = _order(op)
            return (lambda row: compare(left(row), right(row))), BOOLEAN
        if op in ("+", "-"):
            arith = _plus if op == "+" else _minus
            return (lambda row: arith(left(row), right(row))), _arith_type(op, left_type, right_type)
        negated = op.startswith("!")
        base = op.lstrip("!")
        test = _STRING_TESTS[base]

        def string_test(row: Row) -> Any:
            a, b = left(row), right(row)
            if a is None or b is None:
                return negated and (a is None) != (b is None)
            return test(to_string(a), to_string(b)) != negated

        return string_test, BOOLEAN


_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "contains": lambda a, b: b.lower() in a.lower(),
    "contains_cs": lambda a, b: b in a,
    "startswith": lambda a, b: a.lower().startswith(b.lower()),
    "startswith_cs": lambda a, b: a.startswith(b),
    "endswith": lambda a, b: a.lower().endswith(b.lower()),
    "endswith_cs": lambda a, b: a.endswith(b),
}


def _prefix_chain(node: Expr) -> tuple[Expr, list[str]] | None:
    """For an or-chain of `X startswith 'literal'` with the same X, (X, literals); else None."""
    terms: list[Expr] = []

    def flatten(n: Expr) -> None:
        if n.kind == "binary" and n.value == "or":
            flatten(n.args[0])
            flatten(n.args[1])
        else:
            terms.append(n)

    flatten(node)
    if len(terms) < 2:
        return None
    subject = None
    words = []
    for term in terms:
        if term.kind != "binary" or term.value != "startswith" or term.args[1].kind != "literal":
            return None
        if not isinstance(term.args[1].value, str):
            return None
        if subject is None:
            subject = term.args[0]
        elif not _same(term.args[0], subject):
            return None
        words.append(term.args[1].value)
    assert subject is not None
    return subject, words


def _same(a: Expr, b: Expr) -> bool:
    """Structural equality of two expressions (positions aside)."""
    return (
        a.kind == b.kind
        and a.value == b.value
        and len(a.args) == len(b.args)
        and all(_same(x, y) for x, y in zip(a.args, b.args, strict=True))
    )


def _literal_type(value: Any) -> str:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    if isinstance(value, dt.datetime):
        return DATETIME
    if isinstance(value, dt.timedelta):
        return TIMESPAN
    return STRING


def _arith_type(op: str, left: str, right: str) -> str:
    if DATETIME in (left, right):
        return TIMESPAN if op == "-" and left == right == DATETIME else DATETIME
    if left == right == TIMESPAN:
        return TIMESPAN
    if left == right == INTEGER:
        return INTEGER
    return NUMBER


def _truthy(value: Any) -> bool:
    return value is True


def _not_equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return (a is None) != (b is None)
    return not _equal(a, b)


def _iequal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    return to_string(a).lower() == to_string(b).lower()


def _not_iequal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return (a is None) != (b is None)
    return not _iequal(a, b)


def _index(base: Any, key: Any) -> Any:
    if isinstance(base, dict) and isinstance(key, str):
        return base.get(key)
    if isinstance(base, list) and _is_number(key) and float(key).is_integer():
        position = int(key)
        return base[position] if -len(base) <= position < len(base) else None
    return None


def _negate(value: Any) -> Any:
    if _is_number(value) or isinstance(value, dt.timedelta):
        return -value
    return None


def _plus(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if isinstance(a, dt.datetime) and isinstance(b, dt.timedelta) or _is_number(a) and _is_number(b):
        return a + b
    if isinstance(a, dt.timedelta) and isinstance(b, (dt.datetime, dt.timedelta)):
        return b + a
    return None


def _minus(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if isinstance(a, dt.datetime) and isinstance(b, (dt.timedelta, dt.datetime)):
        return a - b
    if isinstance(a, dt.timedelta) and isinstance(b, dt.timedelta) or _is_number(a) and _is_number(b):
        return a - b
    return None


def _ago(now: dt.datetime, span: Any) -> dt.datetime | None:
    return now - span if isinstance(span, dt.timedelta) else None


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if _is_number(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value.strip()))
        except ValueError:
            return None
    return None


def _to_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if _is_number(value):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


# --------------------------------------------------------------------------------------- evaluation


class LazyRow(dict):  # type: ignore[type-arg]
    """A row whose costly columns are computed on first read, from `source` by loaders shared by every row of a
    table: `where` runs before a VM's properties are built, and `project` builds only the rows a page returns."""

    def __init__(self, eager: dict[str, Any], lazy: Mapping[str, Callable[[Any], Any]], source: Any) -> None:
        super().__init__(eager)
        self._lazy = lazy
        self._source = source

    def __missing__(self, key: str) -> Any:
        loader = self._lazy.get(key)
        if loader is None:
            raise KeyError(key)
        value = self[key] = loader(self._source)
        return value

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        if key in self or key in self._lazy:
            return self[key]
        return default


@dataclass
class Table:
    """A table the evaluator can read: its columns (name -> type) and a way to get its rows."""

    columns: Mapping[str, str]
    rows: Callable[[], Iterable[Row]]


@dataclass
class Result:
    """A query's outcome: its columns and rows (computed lazily; `page` renders the ones a response returns)."""

    columns: list[tuple[str, str]]  # (name, ARG type) in output order
    lazy_rows: list[Row]
    pageable: bool  # False when ARG would send no $skipToken (limit/take, or only dynamic columns)

    def __len__(self) -> int:
        return len(self.lazy_rows)

    def page(self, offset: int = 0, size: int | None = None) -> list[dict[str, Any]]:
        """Rows [offset, offset + size) as JSON-ready dicts with every column, in column order."""
        names = [name for name, _ in self.columns]
        chosen = self.lazy_rows[offset:] if size is None else self.lazy_rows[offset : offset + size]
        return [{name: output_value(row.get(name)) for name in names} for row in chosen]

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.page()


def run(query: Query, tables: Mapping[str, Table], now: dt.datetime) -> Result:
    """Evaluate a parsed query over `tables` (keyed by lower-case name) at the simulated `now`."""
    context = Context(now)
    columns: dict[str, str] = {}
    rows: list[Row] = []
    for name in query.tables:
        rows, columns = _union(rows, columns, tables[name])
    for op in query.operators:
        if op.name == "where":
            predicate, _ = _Compiler(context, "where").compile(op.exprs[0], columns)
            rows = [row for row in rows if predicate(row) is True]
        elif op.name == "union":
            for name in op.tables:
                rows, columns = _union(rows, columns, tables[name])
        elif op.name == "limit":
            rows = rows[: max(op.count, 0)]
        elif op.name == "order":
            rows = _sort(rows, op, columns, context)
        else:
            rows, columns = _project(rows, op, columns, context)
    # ARG cannot page when every output column is dynamic (paging-results doc); the subset follows.
    dynamic_only = all(kind == OBJECT for kind in columns.values())
    return Result(list(columns.items()), rows, query.pageable and not dynamic_only)


def _union(rows: list[Row], columns: dict[str, str], table: Table) -> tuple[list[Row], dict[str, str]]:
    merged = dict(columns)
    for name, kind in table.columns.items():
        merged.setdefault(name, kind)
    return rows + list(table.rows()), merged


def _sort(rows: list[Row], op: Operator, columns: Mapping[str, str], context: Context) -> list[Row]:
    compiler = _Compiler(context, "order")
    keys = [compiler.compile(expr, columns)[0] for expr in op.exprs]
    ordered = list(rows)
    # Stable sorts from the last key to the first give the multi-key order.
    for fn, (descending, nulls_first) in reversed(list(zip(keys, op.order, strict=True))):
        null_rank = 0 if nulls_first != descending else 2

        def key(row: Row, fn: Fn = fn, null_rank: int = null_rank) -> tuple[int, tuple[int, Any]]:
            value = fn(row)
            return (null_rank, (0, 0)) if value is None else (1, _sort_key(value))

        ordered.sort(key=key, reverse=descending)
    return ordered


def _project(
    rows: list[Row], op: Operator, columns: Mapping[str, str], context: Context
) -> tuple[list[Row], dict[str, str]]:
    compiler = _Compiler(context, op.name)
    outputs: list[tuple[str, Fn]] = []
    types: dict[str, str] = {} if op.name == "project" else dict(columns)
    for position, (name, expr) in enumerate(zip(op.names, op.exprs, strict=True), start=1):
        fn, kind = compiler.compile(expr, columns)
        label = name or _auto_name(expr, position)
        outputs.append((label, fn))
        types[label] = kind
    if op.name == "project":
        loaders: dict[str, Callable[[Any], Any]] = dict(outputs)
    else:
        loaders = {name: (lambda row, name=name: row.get(name)) for name in columns}
        loaders.update(outputs)
    # Computed when read: only the rows a page returns (and the columns later operators use) are evaluated.
    projected: list[Row] = [LazyRow({}, loaders, row) for row in rows]
    return projected, types


def _auto_name(expr: Expr, position: int) -> str:
    """Kusto's name for an unnamed projection: the column, a_b for a.b / a['b'], else ColumnN."""
    parts: list[str] = []
    node = expr
    while True:
        if node.kind == "column":
            parts.append(node.value)
            return "_".join(reversed(parts))
        if node.kind == "member":
            parts.append(node.value)
        elif node.kind == "index" and node.args[1].kind == "literal":
            parts.append(str(node.args[1].value))
        else:
            return f"Column{position}"
        node = node.args[0]


def evaluate(text: str, tables: Mapping[str, Table], now: dt.datetime) -> Result:
    """Parse and run in one step (tests, tools)."""
    return run(parse(text, tables.keys()), tables, now)


def column_types(result: Result) -> Sequence[dict[str, str]]:
    """ARG's table-format column list."""
    return [{"name": name, "type": kind} for name, kind in result.columns]

"""The one renderer: every command's data goes through `render` to stdout (az's -o/--query)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, TextIO

from hpctl.errors import InputError

OUTPUT_FORMATS = ("json", "jsonc", "yaml", "table", "tsv", "none", "svg")
# Formats only a picture has (`calendar --picture`); data rows can't be drawn as one.
PICTURE_FORMATS = ("svg",)


# Default tables fit this many characters; wider ones drop their last columns (--wide shows them all).
TABLE_WIDTH = 120


@dataclass(frozen=True)
class Column:
    """One table column: its header and the JMESPath-free dotted path of the value in a row. A wide column
    (long text: ids, messages, patch lists) is left out of the default table and shown with --wide or
    --columns. When a default table is too wide, columns give way by `rank` (lowest first), the last first
    among equals; the order itself is -o tsv's, which scripts rely on."""

    header: str
    path: str
    wide: bool = False
    rank: int = 0
    wrap: bool = False  # long text (a message) that wraps inside its cell rather than widen the table


@dataclass(frozen=True)
class TableLayout:
    """--wide and --columns: which columns a table (and tsv) shows."""

    wide: bool = False
    only: tuple[str, ...] = ()  # headers or field names, as given to --columns


# Set once per command from --wide/--columns (hpctl.cli.common), read by every table this command renders.
table_layout: ContextVar[TableLayout] = ContextVar("table_layout", default=TableLayout())  # noqa: B039 - frozen


def check_query(query: str | None) -> None:
    """Reject a malformed --query before anything is sent to Azure: syntax only (it is compiled, not run,
    since functions such as length(@) or keys(@[0]) fail on data that isn't there yet)."""
    _compile(query)


def _compile(query: str | None) -> Any:
    if not query:
        return None
    import jmespath  # imported here: --help must stay fast
    from jmespath.exceptions import JMESPathError

    try:
        expression = jmespath.compile(query)
    except JMESPathError as exc:
        where = getattr(exc, "lex_position", None)
        what = str(exc).splitlines()[0].rstrip(":")
        raise InputError(
            f"--query {query!r} is not valid JMESPath: {what}" + (f" at character {where + 1}." if where is not None
                                                                   else ""),
            hint=_QUERY_HINT,
        ) from exc
    unknown = sorted(_function_names(expression.parsed) - set(_known_functions()))
    if unknown:
        raise InputError(f"--query {query!r} calls {', '.join(f + '()' for f in unknown)}, which JMESPath doesn't "
                         "have.", hint=_QUERY_HINT)
    return expression


_QUERY_HINT = "See https://jmespath.org/tutorial.html; e.g. --query \"[?status=='Failed'].name\"."


def _known_functions() -> Any:
    from jmespath.functions import Functions

    return Functions.FUNCTION_TABLE


def _function_names(node: Any) -> set[str]:
    """Every function a parsed JMESPath expression calls (jmespath itself only finds out when it runs)."""
    names: set[str] = set()
    if isinstance(node, dict):
        if node.get("type") == "function_expression":
            names.add(node["value"])
        for child in node.get("children", []):
            names |= _function_names(child)
    return names


def apply_query(data: Any, query: str | None) -> Any:
    """Apply a JMESPath --query as az does, before formatting."""
    expression = _compile(query)
    if expression is None:
        return data
    from jmespath.exceptions import JMESPathError, JMESPathTypeError

    try:
        return expression.search(data)
    except JMESPathError as exc:
        # Valid syntax that doesn't fit this result (e.g. abs() of a list); the value itself stays out of the
        # message, which would otherwise print the whole result on one line.
        what = (f"{exc.function_name}() expects {' or '.join(exc.expected_types)}, got {exc.actual_type}"
                if isinstance(exc, JMESPathTypeError) else str(exc).splitlines()[0])
        raise InputError(
            f"--query {query!r} can't be applied to this result: {what}.",
            hint="Run without --query (-o json) to see the result's shape.",
        ) from exc


def _dig(row: Any, path: str) -> Any:
    value = row
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _rows(data: Any) -> list[Any]:
    if data is None:
        return []
    return list(data) if isinstance(data, (list, tuple)) else [data]


def _auto_columns(rows: Sequence[Any]) -> list[Column]:
    # az's table format shows the scalar fields of each object; nested objects are left out.
    keys: list[str] = []
    for row in rows:
        if isinstance(row, dict):
            for key, value in row.items():
                if key not in keys and not isinstance(value, (dict, list)):
                    keys.append(key)
    return [Column(k[:1].upper() + k[1:], k) for k in keys]


def _chosen(columns: Sequence[Column], layout: TableLayout) -> list[Column]:
    """The columns --columns names (by header or field, any case), all with --wide, else the default ones."""
    if layout.only:
        by_name = {name.lower(): c for c in columns for name in (c.header, c.path, c.path.split(".")[-1])}
        unknown = [n for n in layout.only if n.lower() not in by_name]
        if unknown:
            raise InputError(f"--columns {', '.join(unknown)}: no such column here; use any of "
                             f"{', '.join(c.header for c in columns)}.")
        return [by_name[n.lower()] for n in layout.only]
    return list(columns) if layout.wide else [c for c in columns if not c.wide]


def to_table(data: Any, columns: Sequence[Column] | None = None, layout: TableLayout | None = None) -> str:
    """Plain aligned text table (no colour, so it is stable in logs and tests)."""
    layout = layout or table_layout.get()
    rows = _rows(data)
    if rows and not isinstance(rows[0], dict):
        return "\n".join(_cell(r) for r in rows) + "\n"
    cols = _chosen(columns or _auto_columns(rows), layout)
    if not cols:
        return ""
    cells = [[_cell(_dig(r, c.path)) for c in cols] for r in rows]
    widths = [max([len(c.header)] + [len(line[i]) for line in cells]) for i, c in enumerate(cols)]
    if not layout.wide and not layout.only:
        # The default view fits TABLE_WIDTH: long text wraps in its cell (down to MIN_WRAP), then the least
        # important columns give way.
        while len(cols) > 1 and (excess := sum(widths) + 2 * (len(widths) - 1) - TABLE_WIDTH) > 0:
            wrapping = [i for i, c in enumerate(cols) if c.wrap and widths[i] > MIN_WRAP]
            if wrapping:
                widths[wrapping[0]] = max(MIN_WRAP, widths[wrapping[0]] - excess)
                continue
            drop = min(range(len(cols)), key=lambda i: (cols[i].rank, -i))
            cols, widths = cols[:drop] + cols[drop + 1:], widths[:drop] + widths[drop + 1:]
            cells = [line[:drop] + line[drop + 1:] for line in cells]
    out = ["  ".join(c.header.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    for line in cells:
        out += _row_lines(line, widths)
    return "\n".join(out) + "\n"


# A wrapped column keeps at least this many characters a line.
MIN_WRAP = 16


def _row_lines(values: list[str], widths: list[int]) -> list[str]:
    """One table row: a cell longer than its column wraps between words onto the following lines."""
    import textwrap

    parts = [textwrap.wrap(v, w, break_on_hyphens=False) or [""] if len(v) > w else [v]
             for v, w in zip(values, widths, strict=True)]
    return ["  ".join((p[n] if n < len(p) else "").ljust(w) for p, w in zip(parts, widths, strict=True)).rstrip()
            for n in range(max(len(p) for p in parts))]


def to_tsv(data: Any, columns: Sequence[Column] | None = None, layout: TableLayout | None = None) -> str:
    """Tab-separated values without headers, az's scripting format: every column (scripts rely on their
    order), or those --columns names."""
    layout = layout or table_layout.get()
    rows = _rows(data)
    lines = []
    for row in rows:
        if isinstance(row, dict):
            cols = columns or _auto_columns([row])
            cols = _chosen(cols, layout) if layout.only else list(cols)
            lines.append("\t".join(_cell(_dig(row, c.path)) for c in cols))
        elif isinstance(row, (list, tuple)):
            lines.append("\t".join(_cell(v) for v in row))
        else:
            lines.append(_cell(row))
    return "\n".join(lines) + ("\n" if lines else "")


def to_yaml(data: Any) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, default=str) + "\n"


# --------------------------------------------------------------------------- streamed JSON
# `json.dumps(indent=2)` runs the pure-Python encoder and joins millions of small strings: for a 10,000-VM
# report that was most of the run's memory and a second of CPU. write_json writes the same bytes as it goes,
# and hands each container that holds only scalars to the C encoder, with separators that lay it out exactly
# as the indenting encoder would.

_CONTAINERS = (dict, list, tuple)
_WRITE_CHUNK = 1 << 16


def _key(key: Any) -> str:
    # The json module's rules for dict keys (skipkeys=False).
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return json.dumps(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


class _JsonWriter:
    """Appends the indented JSON of a value to a buffer, writing the buffer out whenever it is large."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.parts: list[str] = []
        self.size = 0
        self.scalar = json.JSONEncoder(default=str).encode
        self._leaf: dict[int, Callable[[Any], str]] = {}

    def leaf(self, level: int) -> Callable[[Any], str]:
        # The encoder of a scalars-only container whose items sit at `level`: json's C encoder, made once per
        # level (JSONEncoder.encode would build it again for every container).
        encode = self._leaf.get(level)
        if encode is None:
            separators = (",\n" + "  " * level, ": ")
            if c_make_encoder is None:
                encode = json.JSONEncoder(default=str, separators=separators).encode
            else:
                chunks = c_make_encoder(None, str, encode_basestring_ascii, None, separators[1], separators[0],
                                        False, False, True)

                def encode(value: Any) -> str:
                    return "".join(chunks(value, 0))
            self._leaf[level] = encode
        return encode

    def flush(self) -> None:
        self.stream.write("".join(self.parts))
        self.parts.clear()
        self.size = 0

    def value(self, value: Any, level: int) -> None:
        parts = self.parts
        if type(value) is Laid:
            if value.level != level:
                raise ValueError(f"JSON text laid out for level {value.level} placed at level {level}")
            parts.append(value.text())
            self.size += value.length
            if self.size >= _WRITE_CHUNK:
                self.flush()
            return
        if not isinstance(value, _CONTAINERS):
            parts.append(self.scalar(value))
            return
        is_dict = isinstance(value, dict)
        if not value:
            parts.append("{}" if is_dict else "[]")
            return
        inner = "\n" + "  " * (level + 1)
        encode = self.leaf(level + 1)
        # Runs of scalar items go to the C encoder as one container; only nested containers recurse here.
        opener = ("{" if is_dict else "[") + inner
        run: Any = {} if is_dict else []
        pairs = value.items() if is_dict else enumerate(value)
        for key, v in pairs:
            if not isinstance(v, _CONTAINERS) and type(v) is not Laid:
                if is_dict:
                    run[key] = v
                else:
                    run.append(v)
                continue
            if run:
                text = encode(run)
                parts.append(opener + text[1:-1])
                opener = "," + inner
                self.size += len(text)
                run = {} if is_dict else []
            parts.append(opener + self.scalar(_key(key)) + ": " if is_dict else opener)
            opener = "," + inner
            self.value(v, level + 1)
        if run:
            text = encode(run)
            parts.append(opener + text[1:-1])
            self.size += len(text)
        parts.append("\n" + "  " * level + ("}" if is_dict else "]"))
        if self.size >= _WRITE_CHUNK:
            self.flush()


class Laid:
    """A value's JSON text as write_json lays it out at one nesting level, made ahead (e.g. while a command waits
    for a quota) and kept in a Spool until it takes its place in a document."""

    __slots__ = ("spool", "offset", "length", "level")

    def __init__(self, spool: Spool, offset: int, length: int, level: int) -> None:
        self.spool, self.offset, self.length, self.level = spool, offset, length, level

    def text(self) -> str:
        return self.spool.read(self.offset, self.length)


class Spool:
    """JSON texts laid out ahead, kept in an unnamed temporary file rather than in memory (a 10,000-VM report's
    are 45 MB), read back one at a time as the document is written."""

    def __init__(self) -> None:
        import tempfile

        self._file = tempfile.TemporaryFile()  # private to this process, gone when closed (or the process ends)
        self._end = 0

    def lay(self, value: Any, level: int) -> Laid:
        """`value` as write_json would write it `level` containers deep."""
        import io

        buffer = io.StringIO()
        writer = _JsonWriter(buffer)
        writer.value(value, level)
        writer.flush()
        data = buffer.getvalue().encode("utf-8")
        self._file.seek(self._end)
        self._file.write(data)
        laid = Laid(self, self._end, len(data), level)
        self._end += len(data)
        return laid

    def read(self, offset: int, length: int) -> str:
        self._file.seek(offset)
        return self._file.read(length).decode("utf-8")

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_json(data: Any, stream: TextIO) -> None:
    """Write `data` as to_json does (two-space indent, then a newline), a buffer at a time."""
    from hpctl.core.gc_pause import cyclic_gc_paused

    writer = _JsonWriter(stream)
    with cyclic_gc_paused():
        writer.value(data, 0)
    writer.parts.append("\n")
    writer.flush()


def render(
    data: Any,
    output: str = "json",
    query: str | None = None,
    *,
    columns: Sequence[Column] | None = None,
    table_view: Callable[[Any], Any] | None = None,
    stream: TextIO | None = None,
) -> None:
    """Write `data` to stdout in the chosen format.

    `table_view` reshapes the data for table/tsv when no --query was given (az's table transformers);
    with --query the user's projection is shown as is.
    """
    if output not in OUTPUT_FORMATS:
        raise InputError(
            f"--output {output!r} is not a format hpctl knows; use one of {', '.join(OUTPUT_FORMATS)}."
        )
    if output in PICTURE_FORMATS:
        raise InputError(f"--output {output} draws a picture, which only `hpctl calendar --picture` has; use json, "
                         "jsonc, yaml, table, tsv or none here.")
    stream = stream or sys.stdout
    data = apply_query(data, query)
    if output == "none":
        return
    if output in ("table", "tsv") and not query and table_view is not None:
        data = table_view(data)
    elif query:
        columns = None
    if output == "json":
        write_json(data, stream)
        stream.flush()
        return
    if output == "jsonc":
        text = to_json(data)
        if stream.isatty():
            from rich.console import Console
            from rich.json import JSON

            Console(file=stream).print(JSON(text))
            return
    if output == "yaml":
        text = to_yaml(data)
    elif output == "table":
        layout = table_layout.get()
        # A --query projection is the user's own choice of fields: shown whole, never cut to fit.
        text = to_table(data, columns, TableLayout(wide=True, only=layout.only) if query else layout)
    else:
        text = to_tsv(data, columns)
    stream.write(text)
    stream.flush()


def write_document(text: str, stream: TextIO | None = None) -> None:
    """A document a command builds itself (a .reg file, a PowerShell script) goes to stdout as it is."""
    stream = stream or sys.stdout
    stream.write(text)
    stream.flush()

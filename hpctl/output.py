"""The one renderer: every command's data goes through `render` to stdout (az's -o/--query)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from hpctl.errors import InputError

OUTPUT_FORMATS = ("json", "jsonc", "yaml", "table", "tsv", "none", "svg")
# Formats only a picture has (`calendar --picture`); data rows can't be drawn as one.
PICTURE_FORMATS = ("svg",)


@dataclass(frozen=True)
class Column:
    """One table column: its header and the JMESPath-free dotted path of the value in a row."""

    header: str
    path: str


def check_query(query: str | None) -> None:
    """Reject a malformed --query before anything is sent to Azure."""
    if query:
        apply_query(None, query)


def apply_query(data: Any, query: str | None) -> Any:
    """Apply a JMESPath --query as az does, before formatting."""
    if not query:
        return data
    import jmespath  # imported here: --help must stay fast
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.search(query, data)
    except JMESPathError as exc:
        raise InputError(
            f"--query {query!r} is not valid JMESPath: {str(exc).splitlines()[0]}",
            hint="See https://jmespath.org/tutorial.html; e.g. --query \"[?status=='Failed'].name\".",
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


def to_table(data: Any, columns: Sequence[Column] | None = None) -> str:
    """Plain aligned text table (no colour, so it is stable in logs and tests)."""
    rows = _rows(data)
    if rows and not isinstance(rows[0], dict):
        return "\n".join(_cell(r) for r in rows) + "\n"
    cols = list(columns) if columns else _auto_columns(rows)
    if not cols:
        return ""
    cells = [[_cell(_dig(r, c.path)) for c in cols] for r in rows]
    widths = [max([len(c.header)] + [len(line[i]) for line in cells]) for i, c in enumerate(cols)]
    out = ["  ".join(c.header.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in cells]
    return "\n".join(out) + "\n"


def to_tsv(data: Any, columns: Sequence[Column] | None = None) -> str:
    """Tab-separated values without headers, az's scripting format."""
    rows = _rows(data)
    lines = []
    for row in rows:
        if isinstance(row, dict):
            cols = list(columns) if columns else _auto_columns([row])
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
        text = to_json(data)
    elif output == "jsonc":
        text = to_json(data)
        if stream.isatty():
            from rich.console import Console
            from rich.json import JSON

            Console(file=stream).print(JSON(text))
            return
    elif output == "yaml":
        text = to_yaml(data)
    elif output == "table":
        text = to_table(data, columns)
    else:
        text = to_tsv(data, columns)
    stream.write(text)
    stream.flush()


def write_document(text: str, stream: TextIO | None = None) -> None:
    """A document a command builds itself (a .reg file, a PowerShell script) goes to stdout as it is."""
    stream = stream or sys.stdout
    stream.write(text)
    stream.flush()

"""The one renderer: formats, --query, table views."""

from __future__ import annotations

import io
import json

import pytest
import yaml

from hpctl.errors import InputError
from hpctl.output import Column, render

ROWS = [
    {"name": "web-01", "status": "Succeeded", "count": 2, "pending": True, "nested": {"a": 1}},
    {"name": "web-02", "status": "Failed", "count": None, "pending": False, "nested": {"a": 2}},
]


def out(data, fmt, query=None, **kw):
    stream = io.StringIO()
    render(data, fmt, query, stream=stream, **kw)
    return stream.getvalue()


def test_json_round_trips():
    assert json.loads(out(ROWS, "json")) == ROWS


def test_yaml_round_trips():
    assert yaml.safe_load(out(ROWS, "yaml")) == ROWS


def test_table_shows_scalar_columns_only():
    text = out(ROWS, "table")
    header = text.splitlines()[0]
    assert header.split() == ["Name", "Status", "Count", "Pending"]
    assert "web-02  Failed" in text
    assert "nested" not in text.lower()


def test_table_with_columns_and_dotted_paths():
    text = out(ROWS, "table", columns=[Column("VM", "name"), Column("A", "nested.a")])
    assert text.splitlines()[2].split() == ["web-01", "1"]


def test_tsv_has_no_header_and_tabs():
    assert out(ROWS, "tsv").splitlines()[0] == "web-01\tSucceeded\t2\ttrue"


def test_query_applies_before_format():
    assert out(ROWS, "tsv", "[?status=='Failed'].name") == "web-02\n"
    assert json.loads(out(ROWS, "json", "length(@)")) == 2


def test_none_prints_nothing():
    assert out(ROWS, "none") == ""


def test_table_view_used_only_without_query():
    view = lambda rows: [{"only": r["name"]} for r in rows]  # noqa: E731
    assert out(ROWS, "table", table_view=view).split()[0] == "Only"
    assert out(ROWS, "table", "[].status", table_view=view).split() == ["Succeeded", "Failed"]


@pytest.mark.parametrize("query", ["[?", "foo[", "&&"])
def test_bad_query_is_input_error(query):
    with pytest.raises(InputError, match="JMESPath"):
        out(ROWS, "json", query)


def test_unknown_format_is_input_error():
    with pytest.raises(InputError, match="xml"):
        out(ROWS, "xml")


def test_default_table_drops_wide_then_last_columns_to_fit():
    from hpctl.output import TABLE_WIDTH, Column, TableLayout, to_table

    rows = [{"name": "vm-1", "group": "rg", "note": "x" * 80, "more": "y" * 60, "id": "/subscriptions/" + "z" * 90}]
    cols = [Column("Name", "name"), Column("Group", "group"), Column("Note", "note"), Column("More", "more"),
            Column("Id", "id", wide=True)]
    default = to_table(rows, cols, TableLayout())
    assert default.split("\n")[0].split() == ["Name", "Group", "Note"]  # More gave way, Id is wide
    assert max(len(line) for line in default.splitlines()) <= TABLE_WIDTH
    assert to_table(rows, cols, TableLayout(wide=True)).split("\n")[0].split() == ["Name", "Group", "Note", "More",
                                                                                 "Id"]
    assert to_table(rows, cols, TableLayout(only=("id", "NAME"))).split("\n")[0].split() == ["Id", "Name"]


def test_unknown_column_lists_the_known_ones():
    from hpctl.output import Column, TableLayout, to_table

    with pytest.raises(InputError, match=r"--columns Colour: no such column here; use any of Name, Id\."):
        to_table([{"name": "a"}], [Column("Name", "name"), Column("Id", "id", wide=True)],
                 TableLayout(only=("Colour",)))


def test_long_text_wraps_in_its_cell_between_words():
    from hpctl.output import TABLE_WIDTH, Column, TableLayout, to_table

    message = "Virtualization-based security is not running; " * 4
    table = to_table([{"level": "error", "message": message}],
                     [Column("Level", "level"), Column("Message", "message", wrap=True)], TableLayout())
    lines = table.splitlines()
    assert max(len(line) for line in lines) <= TABLE_WIDTH and len(lines) > 3
    assert lines[2].startswith("error  Virtualization-based") and lines[3].startswith("       ")
    assert " ".join(" ".join(line.split()[1:] if n == 0 else line.split()) for n, line in enumerate(lines[2:])) \
        == message.strip()

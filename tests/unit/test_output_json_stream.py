"""The streamed JSON writer writes exactly the bytes json.dumps(indent=2) would, for every kind of value."""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

import pytest

from hpctl.output import render, to_json, write_json


class Opaque:
    def __str__(self) -> str:
        return "opaque\u00e9"


CASES: list[Any] = [
    {}, [], (), 0, -1.5, float("nan"), float("inf"), True, None, "", "tab\tquote\"back\\slash\u2028é😀",
    [[]], [{}], {"a": {}}, {"a": []}, {"a": [], "b": [1, {"c": ()}]},
    {7: 2, None: 3, True: [1.5, float("-inf")], False: 0, 2.5: "x"},
    (1, (2, 3), [4, [5, [6, {}]]]),
    {"k": Opaque(), "d": date(2026, 5, 20), "set": {1}},
    [Opaque(), {"z": Opaque()}, [Opaque()]],
    {"deep": {"a": {"b": {"c": [1, [2, [3, {"x": None}]]]}}}},
    [1, [2], 3, {"a": 1, "b": [], "c": 2, "d": {"e": [1, 2]}, "f": "g"}, 4],
    {"é": "ü", "\u0000": "\u001f"},
    {"resources": [{"id": f"/subscriptions/s/vm-{i}", "findings": ["HP001"] * (i % 3), "n": i} for i in range(50)]},
]


@pytest.mark.parametrize("value", CASES, ids=lambda v: type(v).__name__)
def test_write_json_is_byte_identical_to_the_indenting_encoder(value: Any) -> None:
    out = io.StringIO()
    write_json(value, out)
    assert out.getvalue() == to_json(value) == json.dumps(value, indent=2, default=str) + "\n"


def test_write_json_writes_in_pieces_and_render_json_streams() -> None:
    class Recorder(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.writes = 0

        def write(self, text: str) -> int:
            self.writes += 1
            return super().write(text)

    big = [{"name": f"vm-{i:05d}", "tags": {"env": "prod"}, "text": "x" * 100} for i in range(3000)]
    out = Recorder()
    render(big, "json", stream=out)
    assert out.getvalue() == to_json(big)
    assert out.writes > 2  # not one string of the whole document


def test_keys_json_cannot_write_are_refused_as_json_refuses_them() -> None:
    with pytest.raises(TypeError):
        json.dumps({(1, 2): 1, "a": [1]}, indent=2)
    with pytest.raises(TypeError):
        write_json({(1, 2): [1], "a": [1]}, io.StringIO())

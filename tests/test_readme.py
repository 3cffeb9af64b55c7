"""The README's Quick start is exactly two commands, and .ci/run runs the second one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_start() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```\n(.*?)```", section, re.S)
    assert block, "Quick start has no code block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_is_two_commands():
    lines = quick_start()
    assert len(lines) == 2
    assert lines[0] == "pip install . && hpctl demo"
    assert lines[1].startswith('pip install ".[test]" && ')


def test_ci_runs_the_readme_test_command():
    install, test = quick_start()[1].split(" && ")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pip install --quiet \".[test]\"" in ci
    assert test in ci
    assert "--record-mode=none --block-network" in test

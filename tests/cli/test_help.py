"""Every command has help with an example, and the common options work before and after subcommands."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer.main

from hpctl.cli import app


def walk(command, path=()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from walk(sub, (*path, name))


COMMANDS = [(" ".join(p), c) for p, c in walk(typer.main.get_command(app)) if p]


@pytest.mark.parametrize("path,command", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_has_help(path, command):
    assert command.help and len(command.help.strip()) > 20, f"hpctl {path} has no help"
    if not hasattr(command, "commands"):
        assert "Example" in command.help, f"hpctl {path}'s help has no example"


@pytest.mark.parametrize("path", [p for p, c in COMMANDS if not hasattr(c, "commands")])
def test_every_command_takes_common_options_after_the_subcommand(path, hpctl):
    result = hpctl(*path.split(), "--help")
    assert result.exit_code == 0
    for option in ("--subscription", "--output", "--query", "--cloud", "--debug", "--verbose",
                   "--only-show-errors"):
        assert option in result.stdout, f"hpctl {path} lacks {option}"


def test_help_imports_no_azure_sdk():
    code = ("import sys\nfrom hpctl.cli import main\nsys.argv=['hpctl','assess','--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "bad=[m for m in sys.modules if m == 'azure' or m.startswith('azure.')]\n"
            "print('AZURE:' + ','.join(bad), file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "AZURE:\n" in out.stderr or out.stderr.rstrip().endswith("AZURE:"), out.stderr[-500:]


def test_version(hpctl):
    result = hpctl("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("hpctl ")


def test_unknown_output_format_is_rejected_with_exit_2(hpctl):
    result = hpctl("images", "list", "-o", "xml")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--output 'xml'" in result.stderr and "json" in result.stderr


def test_unknown_cloud_is_rejected_with_exit_2(hpctl):
    result = hpctl("--cloud", "AzureGermany", "images", "list")
    assert result.exit_code == 2
    assert "AzureGermany" in result.stderr and "sandbox" in result.stderr


def test_output_option_before_and_after_subcommand(hpctl):
    before = hpctl("-o", "tsv", "--query", "[0].sku", "images", "list")
    after = hpctl("images", "list", "-o", "tsv", "--query", "[0].sku")
    assert before.exit_code == after.exit_code == 0
    assert before.stdout == after.stdout
    assert before.stdout.strip().endswith(("core", "hotpatch", "smalldisk", "edition"))


def test_invalid_jmespath_exits_2(hpctl):
    result = hpctl("images", "list", "--query", "[?sku==")
    assert result.exit_code == 2
    assert "JMESPath" in result.stderr


GROUPS_AND_COMMANDS = [p for p, _ in COMMANDS] + [""]


@pytest.mark.parametrize("path", GROUPS_AND_COMMANDS, ids=[p or "hpctl" for p in GROUPS_AND_COMMANDS])
def test_help_wraps_between_words_and_shows_no_markup(path, hpctl):
    import re

    result = hpctl(*path.split(), "--help", env={"COLUMNS": "80"})
    assert result.exit_code == 0
    text = result.stdout
    # A wrap inside a flag or date (--reboot-\n setting, YYYY-\n MM-DD) leaves a hyphen at a line's end.
    broken = re.findall(r"\S+-\n\s*\S+", text)
    assert not broken, f"hpctl {path} --help wraps inside a word: {broken}"
    assert "\\[" not in text, f"hpctl {path} --help shows Rich escapes"
    commands = text.split("\nCommands:", 1)[1] if "\nCommands:" in text else ""
    assert "..." not in commands and "…" not in text, f"hpctl {path} --help cuts a summary short"
    if path and not hasattr(dict(COMMANDS)[path], "commands"):
        assert "json (the default" in text, f"hpctl {path} --help doesn't state the default -o"


def test_shell_completion_as_typer_installs_it(tmp_path):
    """--show-completion prints the script --install-completion would install; the script's callback completes."""
    import os

    env = {**os.environ, "HOME": str(tmp_path)}
    script = subprocess.run([sys.executable, "-m", "hpctl", "--show-completion", "bash"], capture_output=True,
                            text=True, env=env, check=True)
    assert "_HPCTL_COMPLETE=complete_bash" in script.stdout
    completing = {**env, "_HPCTL_COMPLETE": "complete_bash", "COMP_WORDS": "hpctl sta", "COMP_CWORD": "1"}
    words = subprocess.run([sys.executable, "-m", "hpctl"], capture_output=True, text=True, check=True,
                           env=completing)
    assert words.stdout.split() == ["status"]

"""`hpctl template lint`: check users' ARM templates against the hotpatch rules before they deploy them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from hpctl.cli.common import command, info, settings
from hpctl.errors import InputError, NonCompliantError
from hpctl.output import Column, render

app = typer.Typer(help="ARM templates: lint them for the hotpatch rules.", no_args_is_help=True)

COLUMNS = [Column("File", "file"), Column("Rule", "ruleId"), Column("Severity", "severity"),
           Column("Resource", "resource"), Column("Finding", "message"), Column("Fix", "fix")]
SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3}


def _load(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path} does not exist; give the path of an ARM template (JSON).") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} can't be read ({exc}); give the path of an ARM template (JSON).") from None
    except ValueError as exc:
        raise InputError(f"{path} is not valid JSON ({exc}); Bicep files need `az bicep build` first.") from None
    if not isinstance(doc, dict) or "resources" not in doc:
        raise InputError(f"{path} has no 'resources'; it doesn't look like an ARM template.")
    return doc


@app.command("lint")
@command
def lint(
    files: Annotated[list[Path], typer.Argument(metavar="TEMPLATE...", help="ARM template files (JSON).")],
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", metavar="SEVERITY", help="Exit 5 when a finding is at or above high, medium or low.")] = None,
) -> None:
    """Lint ARM templates for hotpatch rules: eligible images without hotpatch settings, patch modes, the VM
    agent, the safety-check bypass, Uniform scale sets, Flexible ones without a health extension, RDP open to
    the world. Sends nothing to Azure.

    Example:

        hpctl template lint azuredeploy.json -o table

        hpctl template lint infra/*.json --fail-on high
    """
    from hpctl.core.template_lint import lint_template

    threshold = fail_on.lower() if fail_on else None
    if threshold is not None and threshold not in ("high", "medium", "low"):
        raise InputError(f"--fail-on {fail_on!r} is not a severity; use high, medium or low.")
    rows = []
    for path in files:
        for finding in lint_template(_load(path)):
            rows.append({"file": str(path), "ruleId": finding.rule_id, "severity": finding.severity,
                         "resource": finding.resource, "message": finding.message, "fix": finding.fix})
    s = settings()
    info(f"{len(files)} template(s) checked: {len(rows)} finding(s).")
    render(rows, s.output, s.query, columns=COLUMNS)
    worst = max((SEVERITY_RANK[r["severity"]] for r in rows), default=-1)
    if threshold is not None and worst >= SEVERITY_RANK[threshold]:
        raise NonCompliantError(f"Findings at or above --fail-on {threshold}; each lists its fix.")

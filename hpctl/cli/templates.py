"""`hpctl template lint`: check users' ARM, Terraform and Bicep against the hotpatch rules before they deploy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hpctl.cli.common import HpctlGroup, command, info, settings
from hpctl.errors import InputError, NonCompliantError
from hpctl.output import Column, render

app = typer.Typer(cls=HpctlGroup, help="IaC (ARM, Terraform, Bicep): lint it for the hotpatch rules.",
                  no_args_is_help=True)

COLUMNS = [Column("File", "file"), Column("Rule", "ruleId"), Column("Severity", "severity"),
           Column("Resource", "resource"), Column("Finding", "message", wide=True), Column("Fix", "fix", wide=True)]
SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3}


@app.command("lint")
@command
def lint(
    files: Annotated[list[Path], typer.Argument(
        metavar="FILE...", help="ARM templates, Terraform plans (`terraform show -json`, or a saved plan), .tf "
        "files or directories (needs terraform), .bicep files (needs bicep or az).")],
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", metavar="SEVERITY", help="Exit 5 when a finding is at or above high, medium or low.")] = None,
) -> None:
    """Lint IaC for hotpatch rules: eligible images without hotpatch settings, patch modes, the VM agent, the
    safety-check bypass, Uniform scale sets, Flexible ones without a health extension, RDP open to the world.
    The same rules (and rule ids) for ARM, Terraform (azurerm, azapi) and Bicep. Sends nothing to Azure.

    Example:

        hpctl template lint azuredeploy.json -o table

        terraform show -json tfplan > plan.json && hpctl template lint plan.json --fail-on high

        hpctl template lint main.bicep infra/terraform/
    """
    from hpctl.iac_sources import lint_file

    threshold = fail_on.lower() if fail_on else None
    if threshold is not None and threshold not in ("high", "medium", "low"):
        raise InputError(f"--fail-on {fail_on!r} is not a severity; use high, medium or low.")
    rows = []
    for path in files:
        kind, findings = lint_file(path)
        for finding in findings:
            rows.append({"file": str(path), "format": kind, "ruleId": finding.rule_id, "severity": finding.severity,
                         "resource": finding.resource, "message": finding.message, "fix": finding.fix})
    s = settings()
    info(f"{len(files)} file(s) checked: {len(rows)} finding(s).")
    render(rows, s.output, s.query, columns=COLUMNS)
    worst = max((SEVERITY_RANK[r["severity"]] for r in rows), default=-1)
    if threshold is not None and worst >= SEVERITY_RANK[threshold]:
        raise NonCompliantError(f"Findings at or above --fail-on {threshold}; each lists its fix.")

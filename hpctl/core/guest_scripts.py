"""The PowerShell scripts hpctl runs inside VMs through Run Command (RunPowerShellScript), and their output.

Kept small and reviewable (`hpctl vm patches --show-script` prints the read-only one). Run Command keeps only
the last 4,096 bytes of output (hotpatch-program.md §6.2), so the inventory lists only servicing packages and
prints one compact JSON document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hpctl.errors import HpctlError

SCHEMA = 1

# Read-only: registry values, Get-HotFix and DISM's package list. Nothing here changes the VM.
INVENTORY_SCRIPT: tuple[str, ...] = (
    "# hpctl vm patches: read-only. Reads the OS build (registry CurrentBuild + UBR), the installed updates",
    "# (Get-HotFix) and the servicing packages (DISM /Get-Packages), and prints them as one JSON document.",
    "$ErrorActionPreference = 'Stop'",
    r"$cv = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'",
    "$hotfixes = Get-HotFix | Sort-Object -Property InstalledOn | Format-Table -Property Description, HotFixID, "
    "InstalledOn -AutoSize | Out-String -Width 200",
    "$packages = (dism.exe /English /Online /Get-Packages /Format:Table) -match 'Package Identity|RollupFix|"
    "ServicingStack|Hotpatch' -join \"`n\"",
    "[ordered]@{ schema = 1; computerName = $env:COMPUTERNAME; productName = $cv.ProductName; "
    "currentBuild = $cv.CurrentBuild; ubr = $cv.UBR; hotfixes = $hotfixes; packages = $packages } | "
    "ConvertTo-Json -Compress",
)

# Removes one servicing package with DISM, without restarting (hpctl restarts the VM through Azure afterwards).
# Never wusa /uninstall: it can't remove a combined servicing stack + cumulative update package (§5).
REMOVE_SCRIPT: tuple[str, ...] = (
    "# hpctl rollback: removes one servicing package with DISM (/NoRestart); hpctl restarts the VM afterwards.",
    "param([string]$PackageName)",
    "$ErrorActionPreference = 'Stop'",
    "$out = dism.exe /English /Online /Remove-Package /PackageName:$PackageName /NoRestart /Quiet",
    "$code = $LASTEXITCODE",
    'if ($code -ne 0 -and $code -ne 3010) { throw "DISM could not remove $PackageName (exit code $code)" }',
    "[ordered]@{ schema = 1; package = $PackageName; exitCode = $code; restartRequired = ($code -eq 3010) } | "
    "ConvertTo-Json -Compress",
)


def script_text(script: tuple[str, ...]) -> str:
    return "\n".join(script) + "\n"


@dataclass(frozen=True)
class ScriptOutput:
    """What Run Command returned: the script's stdout and stderr."""

    stdout: str
    stderr: str


class ScriptFailed(HpctlError):
    """The script ran but reported an error (on stderr), or printed something hpctl can't read."""


def script_output(result: dict[str, Any]) -> ScriptOutput:
    """Stdout and stderr from a RunCommandResult (`value`: ComponentStatus/StdOut/… and …/StdErr/…)."""
    stdout = stderr = ""
    for entry in result.get("value") or []:
        code = str(entry.get("code") or "")
        message = str(entry.get("message") or "")
        if code.startswith("ComponentStatus/StdOut/"):
            stdout = message
        elif code.startswith("ComponentStatus/StdErr/"):
            stderr = message
        elif code.startswith("ProvisioningState/"):
            raise ScriptFailed(f"Run Command answered as for a Linux VM ({code}); hpctl runs PowerShell on "
                               "Windows VMs only.")
    return ScriptOutput(stdout, stderr)


def script_document(output: ScriptOutput, what: str) -> dict[str, Any]:
    """The JSON document a script printed, or ScriptFailed saying why there is none."""
    if output.stderr.strip():
        first = output.stderr.strip().splitlines()[0]
        raise ScriptFailed(f"the {what} script failed in the guest: {first}",
                           hint="Its full error is in the row's stderr; see `hpctl vm patches --show-script`.")
    text = output.stdout.strip()
    start = text.find("{")
    try:
        doc = json.loads(text[start:]) if start >= 0 else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ScriptFailed(f"the {what} script printed no JSON document hpctl can read "
                           f"({len(output.stdout)} characters; Run Command keeps only the last 4,096 bytes).")
    return doc

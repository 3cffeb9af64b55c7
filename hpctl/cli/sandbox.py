"""`hpctl sandbox serve` and `hpctl demo`: a local ARM endpoint with a simulated hotpatch fleet."""

from __future__ import annotations

import io
import os
import shlex
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NamedTuple, TextIO

import typer

from hpctl.cli.common import HpctlGroup, command, info
from hpctl.errors import InputError

app = typer.Typer(cls=HpctlGroup, help="A local ARM-compatible endpoint to rehearse every command on.",
                  no_args_is_help=True)


def _parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--date {text!r} is not a date; use YYYY-MM-DD, e.g. 2026-06-20.") from None


@app.command("serve")
@command
def serve(
    fleet: Annotated[int, typer.Option("--fleet", min=0, max=100000, help="How many VMs to seed.")] = 50,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the fleet and fault randomness.")] = 7,
    sim_date: Annotated[str | None, typer.Option("--date", help="Simulated today (YYYY-MM-DD).")] = None,
    time_scale: Annotated[float, typer.Option("--time-scale", min=1.0,
                                              help="600 = a 10-minute assessment takes 1 s.")] = 600.0,
    faults: Annotated[str, typer.Option("--faults", help="Fault rates, e.g. 429=0.05,500=0.02,503=0.01,"
                                        "drop=0.01,fail=0.05.")] = "",
    budget: Annotated[list[str] | None, typer.Option(
        "--budget", metavar="POLICY=N", help="Override a throttling budget, e.g. VMGuestPatchOperationResource=5 "
        "or subscription-writes=200 (repeatable).")] = None,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="0 picks a free port.")] = 0,
    state_dir: Annotated[Path | None, typer.Option("--state-dir", help="Where endpoint.json and the CA go "
                                                   "(default: $HPCTL_SANDBOX_DIR or ~/.hpctl/sandbox).")] = None,
) -> None:
    """Serve a local HTTPS endpoint that behaves like Azure Resource Manager, until Ctrl-C.

    Other hpctl commands reach it with --cloud sandbox.

    Example:

        hpctl sandbox serve --fleet 200

        hpctl --cloud sandbox status -g rg-web -o table
    """
    from hpctl.edge.clients import sandbox_dir
    from hpctl.sandbox import SandboxConfig
    from hpctl.sandbox import serve as serve_forever

    try:
        config = SandboxConfig(fleet=fleet, seed=seed, date=_parse_date(sim_date) or date.today(),
                               time_scale=time_scale, faults=faults, port=port, state_dir=state_dir or sandbox_dir(),
                               budgets=_budgets(budget or []))
    except ValueError as exc:
        # The sandbox checks its own settings (it is Azure's side); say which flag to fix.
        raise InputError(f"sandbox serve: {exc}; see `hpctl sandbox serve --help`.") from None
    serve_forever(config)


def _budgets(items: list[str]) -> dict[str, int] | None:
    budgets: dict[str, int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip().isdigit():
            raise InputError(f"--budget {item!r} is not POLICY=N; e.g. --budget VMGuestPatchOperationResource=5.")
        budgets[name.strip()] = int(value)
    return budgets or None


class DemoStep(NamedTuple):
    """One walkthrough step: what it shows, the command line a user would type, the exit code it must end
    with, and a piece of text its output must contain (so a usage error can't pass as an expected exit 2)."""

    title: str
    line: str
    exit_code: int
    shows: str


DEMO_STEPS: list[DemoStep] = [
    DemoStep("The eight images Azure supports hotpatch on", "images list -o table", 0,
             "2025-datacenter-azure-edition-core"),
    DemoStep("An image that looks right but can't hotpatch",
             "images check MicrosoftWindowsServer:WindowsServer:2022-datacenter-azure-edition:latest", 2,
             "Did you mean MicrosoftWindowsServer:WindowsServer:2022-datacenter-azure-edition-hotpatch"),
    DemoStep("An eligible image", "images check 2025-datacenter-azure-edition-core -o tsv --query sku", 0,
             "is hotpatch-eligible"),
    DemoStep("Create a VM that hotpatches (Trusted Launch, no public IP, a generated password in a 0600 file)",
             "--cloud sandbox vm create -g rg-web -n web-demo --image 2025-datacenter-azure-edition-core "
             "--query {{name:name,zone:zone,patchSettings:patchSettings,securityType:securityType}}", 0,
             '"enableHotpatching": true'),
    DemoStep("Refuse to create one from an image that can't hotpatch",
             "--cloud sandbox vm create -g rg-web -n web-demo2 --image 2022-datacenter-azure-edition", 2,
             "is not hotpatch-eligible"),
    DemoStep("Refuse a Uniform scale set on a hotpatch image",
             "--cloud sandbox vmss create -g rg-api -n api-uniform --image 2025-datacenter-azure-edition-core "
             "--orchestration-mode Uniform", 2, "Azure does not support Uniform scale sets on hotpatch images"),
    DemoStep("Check the scale sets that already exist", "--cloud sandbox vmss check -o table", 0, "HP013"),
    DemoStep("Patch state of a resource group", "--cloud sandbox status -g rg-web -o table --as-of {day}", 0,
             "behind 2026-"),
    DemoStep("Assess every VM in the group, in parallel", "--cloud sandbox assess -g rg-web -o table", 0,
             "Succeeded"),
    DemoStep("Install critical and security patches availability-first: one zone at a time, health-checked",
             "--cloud sandbox install -g rg-web --classification Critical,Security --reboot-setting IfRequired "
             "--rollout availability --yes -o table", 0, "Wave 1: zone 1"),
    DemoStep("The group after the install", "--cloud sandbox status -g rg-web -o table --as-of {day}", 0,
             "hotpatch 2026-"),
    DemoStep("What one VM really has installed, read inside it through Run Command (read-only)",
             "--cloud sandbox vm patches -g rg-web -n web-01 -o table --as-of {day}", 0, "AboveBaseline"),
    DemoStep("Roll that VM back to its last known good baseline: remove the hotpatch, restart, verify the build",
             "--cloud sandbox rollback -g rg-web -n web-01 --yes -o table", 0, "healthy"),
    DemoStep("Arc-connected servers and Azure Local VMs, in the same columns as VMs",
             "--cloud sandbox status --kind arc -g rg-arc-onprem -o table --as-of {day}", 0, "arc-std-01"),
    DemoStep("Enroll an Arc server in hotpatch: checked first, billing shown, the license profile's LRO awaited",
             "--cloud sandbox arc enable-hotpatch -g rg-arc-onprem -n arc-std-01 --yes -o table", 0, "Enabled"),
    DemoStep("The next release that needs a reboot", "calendar --next-reboot --as-of {day} -o table", 0,
             "baseline"),
    DemoStep("Hotpatch can't share a VM with a customer-managed Update Manager schedule: refused",
             "--cloud sandbox vm enable-hotpatch -g rg-api -n api-02", 2, "schedule"),
    DemoStep("...unless the VM leaves the schedule: its assignment is deleted, then hotpatch is turned on",
             "--cloud sandbox vm enable-hotpatch -g rg-api -n api-02 --leave-schedule --yes -o table", 0,
             "enableHotpatching"),
    DemoStep("Windows Update client settings for an Azure Local guest without Arc, each with its source",
             "local wu-settings --os 2025 -o table", 0, "Source"),
    DemoStep("The whole fleet against the compliance rules (exit 5: findings at or above --fail-on)",
             "--cloud sandbox report --as-of {day} --fail-on high", 5, "Non-compliant:"),
]
# Click's words for a command line it could not parse: never what a step means to show.
USAGE_ERROR_MARKERS = ("No such option", "Usage: hpctl", "Try 'hpctl", "Missing option", "Invalid value")


class _Tee(io.TextIOBase):
    """Writes go to the terminal as usual and are kept, so the demo can check what each step said."""

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self.kept = io.StringIO()

    def write(self, text: str) -> int:
        self.kept.write(text)
        return self.target.write(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()


def run_step(args: list[str]) -> tuple[int, str]:
    """Run one hpctl command line in this process: its exit code and everything it printed."""
    out, err = _Tee(sys.stdout), _Tee(sys.stderr)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
    try:
        code = run_in_process(args)
    finally:
        sys.stdout, sys.stderr = saved
    return code, out.kept.getvalue() + err.kept.getvalue()


def step_verdict(step: DemoStep, code: int, said: str) -> str | None:
    """None when the step went as the walkthrough means it to; else what went wrong."""
    usage = next((m for m in USAGE_ERROR_MARKERS if m in said), None)
    if usage:
        return f"exited {code} with a usage error ({usage!r})"
    if code != step.exit_code:
        return f"exited {code}, expected {step.exit_code}"
    if step.shows not in said:
        return f"exited {code} as expected but did not say {step.shows!r}"
    return None


def demo_day() -> date:
    """A week after the newest hotpatch in hpctl's calendar: every build the fleet runs is then a known one, and
    up-to-date VMs run a hotpatch (which the rollback step removes), not a baseline."""
    from datetime import timedelta

    from hpctl.core.calendar import HOTPATCH, OS_LINES, load_calendar

    calendar = load_calendar()
    newest = max(r.date for line in OS_LINES for r in calendar.releases(line) if r.known and r.kind == HOTPATCH)
    return min(date.today(), newest + timedelta(days=8))


def run_in_process(args: list[str]) -> int:
    """Run one hpctl command line in this process and return its exit code."""
    import typer.main

    from hpctl.cli import app as root_app

    try:
        code = typer.main.get_command(root_app).main(args, prog_name="hpctl", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except Exception as exc:  # click usage errors carry their own exit code
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        return int(getattr(exc, "exit_code", 1))
    return int(code or 0)


@command
def demo(
    fleet: Annotated[int, typer.Option("--fleet", min=5, max=2000, help="How many VMs to seed.")] = 30,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the simulated fleet.")] = 7,
) -> None:
    """Walk through the whole hotpatch flow on a built-in sandbox: images, status, assess, install, a mixed
    fleet with Arc machines, the report.

    Starts a sandbox on a free port with a temporary state, runs each step as you would type it, and
    exits 0 when every step behaved as expected. No Azure subscription needed.

    Example:

        hpctl demo
    """
    from hpctl.cli.common import warn_if_stale
    from hpctl.core.calendar import load_calendar
    from hpctl.sandbox import Sandbox, SandboxConfig

    started = time.monotonic()
    day = demo_day()
    # The demo runs on the calendar's last month; say once if the real day is past it.
    warn_if_stale(load_calendar(), date.today())
    with tempfile.TemporaryDirectory(prefix="hpctl-demo-") as tmp:
        sandbox = Sandbox(SandboxConfig(fleet=fleet, seed=seed, date=day, time_scale=6000.0,
                                        state_dir=Path(tmp)))
        sandbox.start()
        saved = {name: os.environ.get(name) for name in ("HPCTL_SANDBOX_DIR", "HPCTL_SECRETS_DIR",
                                                         "HPCTL_STATE_DIR", "HPCTL_CONFIG_DIR",
                                                         "AZURE_SUBSCRIPTION_ID", "AZURE_CORE_OUTPUT")}
        # The walkthrough is the same for everyone: no configured default group or subscription, no
        # AZURE_CORE_OUTPUT changing what each step prints.
        for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_CORE_OUTPUT"):
            os.environ.pop(name, None)
        os.environ["HPCTL_CONFIG_DIR"] = str(Path(tmp) / "config")
        os.environ["HPCTL_SANDBOX_DIR"] = tmp
        # Generated passwords go with the demo's temporary state, not into the user's home.
        os.environ["HPCTL_SECRETS_DIR"] = str(Path(tmp) / "secrets")
        os.environ["HPCTL_STATE_DIR"] = str(Path(tmp) / "rollouts")
        unexpected: list[str] = []
        try:
            info(f"Sandbox ARM endpoint at {sandbox.url} with {fleet} simulated VMs; simulated date {day} "
                 "(a week after the latest hotpatch hpctl's calendar knows the KB and build of).\n")
            for step in DEMO_STEPS:
                line = step.line.format(day=day.isoformat())
                info(f"# {step.title}\n$ hpctl {line}")
                sys.stdout.flush()
                code, said = run_step(shlex.split(line))
                sys.stdout.flush()
                problem = step_verdict(step, code, said)
                info(f"(exit {code}, {problem or 'as expected'})\n")
                if problem:
                    unexpected.append(f"`hpctl {line}` {problem}")
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            requests: list[Any] = sandbox.requests()
            sandbox.stop()
    info(f"Demo finished in {time.monotonic() - started:.1f} s; the sandbox answered {len(requests)} requests.")
    if unexpected:
        raise typer.Exit(_fail(unexpected))


def _fail(unexpected: list[str]) -> int:
    print("ERROR: the demo did not go as expected: " + "; ".join(unexpected), file=sys.stderr)
    return 1

"""The `hpctl` command: the root Typer app, its common options, and the command groups."""

from __future__ import annotations

import typer

from hpctl import __version__
from hpctl.cli import arc, calendar, compliance, configure, images, local, patch, rollback, sandbox, templates, vm, vmss
from hpctl.cli.common import (
    ROOT_OPTIONS,
    CloudOpt,
    ColumnsOpt,
    DebugOpt,
    HpctlGroup,
    OnlyErrorsOpt,
    OutputOpt,
    QueryOpt,
    SubscriptionOpt,
    VerboseOpt,
    WideOpt,
)

app = typer.Typer(
    name="hpctl",
    cls=HpctlGroup,
    help="Run Azure Hotpatch for Windows Server Datacenter: Azure Edition VMs: eligible images, "
    "patch assessments and installs across fleets, compliance.",
    no_args_is_help=True,
    add_completion=True,
    # Locals in tracebacks could hold tokens; a scheduled CI job prints its logs.
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"hpctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    subscription: SubscriptionOpt = None,
    output: OutputOpt = None,
    query: QueryOpt = None,
    verbose: VerboseOpt = False,
    debug: DebugOpt = False,
    only_show_errors: OnlyErrorsOpt = False,
    cloud: CloudOpt = None,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """hpctl: Azure Hotpatch for Windows Server Azure Edition VMs, from the command line and CI.

    Common options (-s, -o, --query, --cloud, --verbose, --debug) go before or after the subcommand.

    Example:

        hpctl demo

        hpctl --cloud sandbox status -g rg-web -o table
    """
    ROOT_OPTIONS.clear()
    ROOT_OPTIONS.update(subscription=subscription, output=output, query=query, verbose=verbose, debug=debug,
                        only_show_errors=only_show_errors, cloud=cloud, wide=wide, columns=columns)


app.add_typer(images.app, name="images")
app.add_typer(vm.app, name="vm")
app.add_typer(vmss.app, name="vmss")
app.add_typer(arc.app, name="arc")
app.add_typer(templates.app, name="template")
app.add_typer(local.app, name="local")
app.command("assess")(patch.assess)
app.command("install")(patch.install)
app.command("status")(patch.status)
app.command("rollback")(rollback.rollback)
app.command("restart")(rollback.restart)
app.add_typer(calendar.app, name="calendar")
app.command("history")(compliance.history)
app.command("report")(compliance.report)
app.command("configure")(configure.configure)
app.add_typer(sandbox.app, name="sandbox")
app.command("demo")(sandbox.demo)


def main() -> None:
    # One program name however it was started (hpctl, python -m hpctl): help and completion say hpctl.
    app(prog_name="hpctl")

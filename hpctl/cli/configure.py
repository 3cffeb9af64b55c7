"""`hpctl configure`: defaults for -s and -g, kept in ~/.hpctl/config (as `az configure --defaults`)."""

from __future__ import annotations

from typing import Annotated

import typer

from hpctl.cli.common import command, settings
from hpctl.output import render


@command
def configure(
    defaults: Annotated[list[str] | None, typer.Option(
        "--defaults", metavar="KEY=VALUE",
        help="subscription=ID|NAME and/or group=NAME (space-separated or repeated); KEY= clears one.")] = None,
    list_defaults: Annotated[bool, typer.Option("--list-defaults", "-l", help="Show the stored defaults.")] = False,
) -> None:
    """Set the defaults -s and -g fall back to, as `az configure --defaults` does.

    A subscription is taken from -s, then $AZURE_SUBSCRIPTION_ID, then these defaults, then the Azure CLI's
    current subscription (az account show); --verbose says which. The group default applies wherever -g
    is accepted and neither -g nor --ids is given. Stored in ~/.hpctl/config ($HPCTL_CONFIG_DIR).

    Example:

        hpctl configure --defaults subscription=Production group=rg-web

        hpctl configure --defaults group=

        hpctl configure --list-defaults -o table
    """
    from hpctl.defaults import config_path, parse_assignments, read_defaults, write_defaults
    from hpctl.errors import InputError

    if not defaults and not list_defaults:
        raise InputError("Nothing to do: give --defaults KEY=VALUE or --list-defaults.")
    stored = write_defaults(parse_assignments(defaults)) if defaults else read_defaults()
    s = settings()
    render([{"name": k, "value": v, "source": str(config_path())} for k, v in stored.items()], s.output, s.query)

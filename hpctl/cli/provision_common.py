"""What `vm create` and `vmss create` share: the admin password, the image gate, deploying with progress."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from hpctl.cli.common import info, settings, warn
from hpctl.errors import InputError
from hpctl.output import render

PASSWORD_ENV = "HPCTL_ADMIN_PASSWORD"

PasswordFileOpt = Annotated[Path | None, typer.Option(
    "--admin-password-file", metavar="FILE",
    help=f"File holding the admin password (or set ${PASSWORD_ENV}; else you're prompted, or a strong one is "
         "generated and written to a 0600 file). Never given on the command line.")]
ImageOpt = Annotated[str, typer.Option("--image", metavar="IMAGE",
                                       help="An eligible SKU or URN, e.g. 2025-datacenter-azure-edition-core.")]
AdminUserOpt = Annotated[str, typer.Option("--admin-username", metavar="NAME", show_default=False,
                                           help="Local administrator (default hpctladmin).")]
RebootSettingOpt = Annotated[str, typer.Option("--reboot-setting", metavar="SETTING", show_default=False,
                                               help="IfRequired (default), Never or Always.")]
TagsOpt = Annotated[list[str] | None, typer.Option("--tags", metavar="KEY=VALUE", help="Tags (repeatable).")]
CreateGroupOpt = Annotated[bool, typer.Option("--create-group", help="Create the resource group if it's missing.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print what would be deployed; send nothing.")]


def password_from_inputs(password_file: Path | None, *, dry_run: bool) -> tuple[str | None, str]:
    """(password or None to generate, where it came from). Never from argv."""
    from hpctl.core.passwords import read_secret_file

    if password_file is not None:
        return read_secret_file(password_file), f"--admin-password-file {password_file}"
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV], f"${PASSWORD_ENV}"
    if not dry_run and sys.stdin.isatty() and sys.stderr.isatty():
        typed = typer.prompt("Admin password (empty: generate one)", default="", hide_input=True,
                             show_default=False, err=True)
        if typed:
            typer.prompt("Repeat it", hide_input=True, err=True, value_proc=_same_as(typed))
            return typed, "the password you typed"
    return None, "a generated password"


def _same_as(first: str) -> Callable[[str], str]:
    def check(second: str) -> str:
        if second != first:
            raise typer.BadParameter("the two passwords differ")
        return second

    return check


def secrets_dir() -> Path:
    return Path(os.environ.get("HPCTL_SECRETS_DIR") or Path.home() / ".hpctl" / "secrets")


def generate_and_store(resource_group: str, name: str, username: str) -> tuple[str, Path]:
    """A strong password, written once to a 0600 file; only its path is ever shown."""
    from hpctl.core.passwords import generate_password, write_secret_file

    password = generate_password(username=username)
    path = write_secret_file(secrets_dir() / resource_group / f"{name}-admin-password", password)
    return password, path


def require_eligible(image: str) -> None:
    """Refuse anything but the eight hotpatch images, with the reason and the likely SKU."""
    from hpctl.core.images import check_image
    from hpctl.core.vm_rules import expand_image_shorthand

    verdict = check_image(expand_image_shorthand(image))
    if not verdict.eligible:
        raise InputError(verdict.reason,
                         hint=f"Use {verdict.suggestion}." if verdict.suggestion else "See `hpctl images list`.")


def show_warnings(warnings: tuple[str, ...]) -> None:
    for message in warnings:
        warn(message)


@contextmanager
def deploying(what: str) -> Iterator[None]:
    """A spinner on stderr while a deployment runs (a terminal only); a plain line otherwise."""
    if settings().only_show_errors:
        yield
        return
    if sys.stderr.isatty():
        from rich.console import Console

        with Console(stderr=True).status(f"Deploying {what}…"):
            yield
        return
    info(f"Deploying {what}…")
    yield


def render_plan(plan: Any) -> dict[str, Any]:
    return {"dryRun": True, "deployment": plan.redacted()}


def deploy_spec(
    *, kind: str, label: str, resource_group: str, spec: Any, template_name: str, password: str | None,
    create_group: bool, dry_run: bool, no_wait: bool,
    parameters: Callable[[str | None, bool, str], dict[str, Any]],
    read_back: Callable[[Any], dict[str, Any]],
) -> None:
    """The shared tail of `vm create` and `vmss create`: print the plan (--dry-run), or make sure the group
    exists, generate the password if none was given, deploy the template with a progress display, and show
    the result as Azure reports it."""
    from hpctl.provisioning import DeploymentPlan, deployment_name, load_template

    s = settings()
    template = load_template(template_name)
    name = deployment_name(kind, spec.name)
    if dry_run:
        plan = DeploymentPlan(resource_group, name, template,
                              parameters(None, True, s.subscription or "00000000-0000-0000-0000-000000000000"))
        render(render_plan(plan), s.output, s.query)
        return
    from hpctl import provisioning
    from hpctl.edge.clients import connect

    conn = connect(s.cloud, s.subscription)
    provisioning.ensure_group(conn, resource_group, spec.location, create_group)
    secret_path: Path | None = None
    if password is None:
        password, secret_path = generate_and_store(resource_group, spec.name, spec.admin_username)
        info(f"Generated the admin password; it is in {secret_path} (readable only by you).")
    plan = DeploymentPlan(resource_group, name, template, parameters(password, False, conn.subscription_id))
    with deploying(label):
        result = provisioning.deploy_plan(conn, plan, wait=not no_wait)
    if no_wait:
        row: dict[str, Any] = {"name": spec.name, "resourceGroup": resource_group, "deployment": result}
    else:
        row = {**read_back(conn), "deployment": result["name"]}
    if secret_path is not None:
        row["adminPasswordFile"] = str(secret_path)
    render(row, s.output, s.query)

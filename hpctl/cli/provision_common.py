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
from hpctl.output import Column, render

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


def password_from_inputs(password_file: Path | None, *, dry_run: bool, key_vault: bool = False
                         ) -> tuple[str | None, str]:
    """(password or None to generate, where it came from). Never from argv; with a Key Vault reference,
    nothing: ARM reads the secret itself."""
    from hpctl.core.passwords import read_secret_file

    if key_vault:
        return None, "--admin-password-keyvault"

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


def generated_password(resource_group: str, name: str, username: str) -> tuple[str, Path, bool]:
    """(password, its file, reused): a strong password written once to a private file. A file left by an
    earlier attempt whose deployment failed is reused rather than refused, so a retry just works; only the
    path is ever shown."""
    from hpctl.core.passwords import generate_password, read_secret_file, write_secret_file

    path = secrets_dir() / resource_group / f"{name}-admin-password"
    if path.is_file():
        return read_secret_file(path, "the generated password file"), path, True
    password = generate_password(username=username)
    return password, write_secret_file(path, password), False


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
    return {"dryRun": True, "resourceGroup": plan.resource_group, "name": plan.name, "deployment": plan.redacted()}


def plan_table(data: Any) -> list[dict[str, Any]]:
    """--dry-run -o table: what would be deployed, one template parameter a row (the secret redacted)."""
    rows = []
    for item in data if isinstance(data, list) else [data]:
        params = ((item.get("deployment") or {}).get("properties") or {}).get("parameters") or {}
        for key, entry in params.items():
            shown = entry.get("value") if "value" in entry else f"Key Vault reference: {_reference_text(entry)}"
            rows.append({"deployment": item.get("name"), "resourceGroup": item.get("resourceGroup"),
                         "parameter": key, "value": shown})
    return rows


def _reference_text(entry: dict[str, Any]) -> str:
    ref = entry.get("reference") or {}
    vault = str(((ref.get("keyVault") or {}).get("id")) or "").rsplit("/", 1)[-1]
    return f"{vault}/{ref.get('secretName')}"


PLAN_COLUMNS = [Column("Deployment", "deployment"), Column("ResourceGroup", "resourceGroup"),
                Column("Parameter", "parameter"), Column("Value", "value")]


def deploy_spec(
    *, kind: str, label: str, resource_group: str, spec: Any, template_name: str, password: str | None,
    create_group: bool, dry_run: bool, no_wait: bool,
    parameters: Callable[[str | None, bool, str], dict[str, Any]],
    read_back: Callable[[Any], dict[str, Any]],
    existing: Callable[[Any], bool],
    key_vault: bool = False,
    prepare: Callable[[Any], dict[str, Any]] | None = None,
) -> None:
    """The shared tail of `vm create` and `vmss create`: print the plan (--dry-run), or make sure the group
    exists and the resource doesn't yet, generate the password if none was given (or reuse the one a failed
    attempt left), deploy the template with a progress display, and show the result as Azure reports it.

    `prepare(conn)` adds template parameters only Azure's state decides (conn is None for --dry-run);
    with `key_vault` ARM reads the password from Key Vault and hpctl neither has nor generates one."""
    from hpctl.provisioning import DeploymentPlan, deployment_name, load_template

    s = settings()
    template = load_template(template_name)
    name = deployment_name(kind, spec.name)

    def prepared(conn: Any) -> dict[str, Any]:
        return {key: {"value": value} for key, value in (prepare(conn) if prepare else {}).items()}

    if dry_run:
        plan = DeploymentPlan(resource_group, name, template,
                              {**parameters(None, True, s.subscription or "00000000-0000-0000-0000-000000000000"),
                               **prepared(None)})
        render(render_plan(plan), s.output, s.query, columns=PLAN_COLUMNS, table_view=plan_table)
        return
    from hpctl import provisioning
    from hpctl.edge.clients import connect

    conn = connect(s.cloud, s.subscription)
    group_existed = provisioning.ensure_group(conn, resource_group, spec.location, create_group)
    if group_existed and existing(conn):
        fix = {"vm": f"`hpctl vm enable-hotpatch -g {resource_group} -n {spec.name}` turns hotpatch on for it",
               "vmss": f"`hpctl vmss check -g {resource_group} -n {spec.name}` checks it"}[kind]
        raise InputError(f"{label[0].upper()}{label[1:]} already exists in {resource_group}: `{kind} create` makes "
                         f"new ones only; pick another --name ({fix}).")
    extra = prepared(conn)
    secret_path: Path | None = None
    if password is None and not key_vault:
        password, secret_path, reused = generated_password(resource_group, spec.name, spec.admin_username)
        if reused:
            info(f"Reusing the admin password generated for an earlier attempt; it is in {secret_path}.")
        else:
            info(f"Generated the admin password; it is in {secret_path} (readable only by you).")
    plan = DeploymentPlan(resource_group, name, template,
                          {**parameters(password, False, conn.subscription_id), **extra})
    try:
        with deploying(label):
            result = provisioning.deploy_plan(conn, plan, wait=not no_wait)
    except Exception:
        if secret_path is not None:
            info(f"The deployment failed; the generated admin password stays in {secret_path}, and running the "
                 "same command again reuses it.")
        raise
    if no_wait:
        row: dict[str, Any] = {"name": spec.name, "resourceGroup": resource_group, "deployment": result}
    else:
        row = {**read_back(conn), **provisioning.output_values(result), "deployment": result["name"]}
    if secret_path is not None:
        row["adminPasswordFile"] = str(secret_path)
    render(row, s.output, s.query)

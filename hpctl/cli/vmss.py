"""`hpctl vmss`: Flexible scale sets that hotpatch, and a check of existing scale sets."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hpctl.cli.common import GroupOpt, HpctlGroup, NoWaitOpt, command, settings
from hpctl.cli.provision_common import (
    AdminUserOpt,
    CreateGroupOpt,
    DryRunOpt,
    ImageOpt,
    PasswordFileOpt,
    RebootSettingOpt,
    TagsOpt,
    deploy_spec,
    password_from_inputs,
    require_eligible,
    show_warnings,
)
from hpctl.errors import InputError
from hpctl.output import Column, render

app = typer.Typer(cls=HpctlGroup, help="Scale sets: Flexible only on hotpatch images.", no_args_is_help=True)


@app.command("create")
@command
def create(
    name: Annotated[str, typer.Option("--name", "-n", metavar="VMSS", help="Scale set name.")],
    image: ImageOpt,
    resource_group: GroupOpt = None,
    location: Annotated[str | None, typer.Option("--location", "-l", metavar="LOCATION",
                                                 help="Region (default: the group's).")] = None,
    size: Annotated[str | None, typer.Option("--size", metavar="SIZE", show_default=False,
                                             help="A Gen2-capable size (default Standard_D2s_v5).")] = None,
    instance_count: Annotated[str, typer.Option("--instance-count", metavar="N", show_default=False,
                                                help="Instances to create, 0-1000 (default 2).")] = "2",
    zones: Annotated[list[str] | None, typer.Option("--zones", metavar="ZONE", help="Zones (repeatable).")] = None,
    orchestration_mode: Annotated[str, typer.Option(
        "--orchestration-mode", metavar="MODE", show_default=False,
        help="Flexible (the default, and the only mode hotpatch images support).")] = "Flexible",
    computer_name_prefix: Annotated[str | None, typer.Option(
        "--computer-name-prefix", metavar="PREFIX", help="Windows computer name prefix, at most 9 characters.")] = None,
    admin_username: AdminUserOpt = "hpctladmin",
    admin_password_file: PasswordFileOpt = None,
    reboot_setting: RebootSettingOpt = "IfRequired",
    rdp_from: Annotated[str | None, typer.Option("--rdp-from", metavar="CIDR",
                                                 help="Allow RDP from this address range only.")] = None,
    subnet_id: Annotated[str | None, typer.Option("--subnet-id", metavar="ID", help="Existing subnet.")] = None,
    health_protocol: Annotated[str | None, typer.Option("--health-protocol", metavar="tcp|http|https",
                                                        help="Application Health probe (default tcp).")] = None,
    health_port: Annotated[str | None, typer.Option("--health-port", metavar="PORT",
                                                    help="Probe port (default 3389).")] = None,
    health_path: Annotated[str | None, typer.Option("--health-path", metavar="PATH",
                                                    help="Probe path for http/https.")] = None,
    tags: TagsOpt = None,
    create_group: CreateGroupOpt = False,
    dry_run: DryRunOpt = False,
    no_wait: NoWaitOpt = False,
) -> None:
    """Create a Flexible scale set that hotpatches, with the Application Health extension Azure requires.

    Uniform orchestration is refused (exit 2): Azure does not support Uniform scale sets on hotpatch images.
    Deploys templates/hotpatch-vmss-flex.json.

    Example:

        hpctl vmss create -g rg-api -n api --image 2025-datacenter-azure-edition-core --instance-count 3
    """
    from hpctl.core.vm_rules import VmssCreateRequest, validate_vmss_create
    from hpctl.provisioning import VMSS_TEMPLATE

    if resource_group is None:
        raise InputError("vmss create needs -g/--resource-group; add --create-group --location L to make one.")
    # Uniform is refused before anything else: it is the mistake this command exists to prevent.
    spec_request = dict(
        name=name, image=image, resource_group=resource_group, location=location, size=size, zones=zones or [],
        orchestration_mode=orchestration_mode, instance_count=instance_count,
        computer_name_prefix=computer_name_prefix, admin_username=admin_username, reboot_setting=reboot_setting,
        rdp_from=rdp_from, subnet_id=subnet_id, tags=tags or [], health_protocol=health_protocol,
        health_port=health_port, health_path=health_path,
    )
    from hpctl.core.vm_rules import validate_orchestration_mode

    validate_orchestration_mode(orchestration_mode)
    if create_group and not location:
        raise InputError("--create-group needs --location for the new group; e.g. --location westeurope.")
    require_eligible(image)
    password, source = password_from_inputs(admin_password_file, dry_run=dry_run)
    spec = validate_vmss_create(VmssCreateRequest(**spec_request, admin_password=password,
                                                  admin_password_source=source))
    show_warnings(spec.warnings)
    from hpctl.edge import compute
    from hpctl.provisioning import scale_set_exists, scale_set_row

    deploy_spec(
        kind="vmss", label=f"scale set {spec.name}", resource_group=resource_group, spec=spec,
        template_name=VMSS_TEMPLATE, password=password, create_group=create_group, dry_run=dry_run, no_wait=no_wait,
        parameters=lambda secret, redact, _subscription: spec.template_parameters(password=secret,
                                                                                 redact_password=redact),
        read_back=lambda conn: scale_set_row(compute.get_scale_set(conn, resource_group, spec.name)),
        existing=lambda conn: scale_set_exists(conn, resource_group, spec.name),
    )


# The order is -o tsv's (scripts rely on it): new columns go at the end.
CHECK_COLUMNS = [Column("Name", "name"), Column("ResourceGroup", "resourceGroup"),
                 Column("Orchestration", "orchestrationMode"), Column("Image", "image", wide=True),
                 Column("Status", "status"), Column("Findings", "findingList", wide=True),
                 Column("Rules", "findingIds"), Column("Sku", "sku"), Column("Id", "id", wide=True)]


def _sku(image: str | None) -> str | None:
    """publisher:offer:sku[:version] -> sku (the part that tells the images apart); anything else as it is."""
    parts = (image or "").split(":")
    return parts[2] if len(parts) >= 3 else image


@app.command("check")
@command
def check(
    resource_group: GroupOpt = None,
    name: Annotated[str | None, typer.Option("--name", "-n", metavar="VMSS", help="One scale set (needs -g).")] = None,
) -> None:
    """Check existing scale sets: Uniform (or no orchestrationMode) on a hotpatch image, Flexible without a
    health extension, hotpatch off on an eligible image, safety checks bypassed.

    Exits 0 when every scale set is OK; findings are data, so scripts can act on them.

    Example:

        hpctl vmss check

        hpctl vmss check -g rg-api -o table
    """
    from hpctl import provisioning
    from hpctl.edge.clients import connect

    if name and not resource_group:
        raise InputError("-n/--name needs -g/--resource-group; give -g GROUP -n NAME.")
    s = settings()
    conn = connect(s.cloud, s.subscription)
    rows = provisioning.check_scale_sets(conn, resource_group, name)

    def table(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**r, "findingList": "; ".join(f"{f['ruleId']} {f['message']}" for f in r["findings"]),
                 "findingIds": ", ".join(f["ruleId"] for f in r["findings"]),
                 "sku": _sku(r.get("image"))}
                for r in data]

    render(rows, s.output, s.query, columns=CHECK_COLUMNS, table_view=table)

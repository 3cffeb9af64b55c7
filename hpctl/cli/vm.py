"""`hpctl vm`: create hotpatch VMs (only from eligible images) and turn hotpatch on for existing ones."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hpctl.cli.common import (
    GroupOpt,
    HpctlGroup,
    IdsOpt,
    NameOpt,
    NoWaitOpt,
    TagOpt,
    command,
    info,
    settings,
    warn,
)
from hpctl.cli.confirm import YesOpt
from hpctl.cli.patch import InFlightOpt
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
from hpctl.errors import AzureOperationError, InputError
from hpctl.output import Column, render

app = typer.Typer(cls=HpctlGroup, help="Hotpatch VMs: create them right, or fix existing ones.", no_args_is_help=True)

VmNameOpt = Annotated[str, typer.Option("--name", "-n", metavar="VM", help="VM name.")]


@app.command("create")
@command
def create(
    name: VmNameOpt,
    image: ImageOpt,
    resource_group: GroupOpt = None,
    location: Annotated[str | None, typer.Option("--location", "-l", metavar="LOCATION",
                                                 help="Region (default: the group's).")] = None,
    size: Annotated[str | None, typer.Option("--size", metavar="SIZE", show_default=False,
                                             help="A Gen2-capable size (default Standard_D2s_v5).")] = None,
    zone: Annotated[str | None, typer.Option("--zone", metavar="1|2|3", help="Availability zone.")] = None,
    availability_set: Annotated[str | None, typer.Option("--availability-set", metavar="NAME|ID",
                                                         help="Availability set (not with --zone).")] = None,
    computer_name: Annotated[str | None, typer.Option("--computer-name", metavar="NAME",
                                                      help="Windows computer name (default: the VM name).")] = None,
    admin_username: AdminUserOpt = "hpctladmin",
    admin_password_file: PasswordFileOpt = None,
    reboot_setting: RebootSettingOpt = "IfRequired",
    public_ip: Annotated[bool, typer.Option("--public-ip", help="Give the VM a public IP (no inbound RDP "
                                            "unless --rdp-from).")] = False,
    rdp_from: Annotated[str | None, typer.Option("--rdp-from", metavar="CIDR",
                                                 help="Allow RDP from this address range only.")] = None,
    subnet_id: Annotated[str | None, typer.Option("--subnet-id", metavar="ID",
                                                  help="Use this subnet instead of a new VNet.")] = None,
    vnet_name: Annotated[str | None, typer.Option(
        "--vnet-name", metavar="VNET", help="VNet in the group: used if it exists, else created.")] = None,
    subnet: Annotated[str | None, typer.Option(
        "--subnet", metavar="NAME|ID", help="Subnet name in --vnet-name (used or added; default 'default'), or "
        "a subnet id.")] = None,
    license_type: Annotated[str | None, typer.Option(
        "--license-type", metavar="TYPE", help="Windows_Server: Azure Hybrid Benefit (your own licence).")] = None,
    admin_password_keyvault: Annotated[str | None, typer.Option(
        "--admin-password-keyvault", metavar="VAULT_ID", help="Key Vault (resource id) holding the password; "
        "ARM reads it, hpctl never does. Needs --admin-password-secret.")] = None,
    admin_password_secret: Annotated[str | None, typer.Option(
        "--admin-password-secret", metavar="NAME", help="The secret in --admin-password-keyvault.")] = None,
    tags: TagsOpt = None,
    create_group: CreateGroupOpt = False,
    dry_run: DryRunOpt = False,
    no_wait: NoWaitOpt = False,
) -> None:
    """Create a VM that hotpatches: an eligible image, AutomaticByPlatform with hotpatch on, secure defaults.

    Everything is checked before anything is sent. Deploys templates/hotpatch-vm.json: Trusted Launch, no
    public IP unless --public-ip, no inbound RDP unless --rdp-from. Shows the hotpatch settings Azure reports
    and the private IP. A VM that already exists is left alone (exit 2).

    Example:

        hpctl vm create -g rg-web -n web-01 --image 2025-datacenter-azure-edition-core --location westeurope

        hpctl vm create -g rg-web -n web-02 --image 2022-datacenter-azure-edition-hotpatch --zone 2 --dry-run

        hpctl vm create -g rg-web -n web-03 --image 2025-datacenter-azure-edition --vnet-name vnet-web --subnet app

        hpctl vm create -g rg-web -n web-04 --image 2025-datacenter-azure-edition --license-type Windows_Server

        hpctl vm create -g rg-web -n web-05 --image $IMAGE --admin-password-keyvault $KV_ID --admin-password-secret pw
    """
    from hpctl.core.vm_rules import VmCreateRequest, validate_vm_create
    from hpctl.provisioning import VM_TEMPLATE

    if resource_group is None:
        raise InputError("vm create needs -g/--resource-group; add --create-group --location L to make a new one.")
    if create_group and not location:
        raise InputError("--create-group needs --location for the new group; e.g. --location westeurope.")
    require_eligible(image)
    from_vault = bool(admin_password_keyvault or admin_password_secret) and admin_password_file is None
    password, source = password_from_inputs(admin_password_file, dry_run=dry_run, key_vault=from_vault)
    spec = validate_vm_create(VmCreateRequest(
        name=name, image=image, resource_group=resource_group, location=location, size=size, zone=zone,
        availability_set=availability_set, computer_name=computer_name, admin_username=admin_username,
        admin_password=password, admin_password_source=source, reboot_setting=reboot_setting,
        public_ip=public_ip, rdp_from=rdp_from, subnet_id=subnet_id, tags=tags or [], vnet_name=vnet_name,
        subnet=subnet, license_type=license_type, key_vault_id=admin_password_keyvault,
        key_vault_secret=admin_password_secret, password_file_given=admin_password_file is not None,
    ))
    show_warnings(spec.warnings)
    if rdp_from and not public_ip and not spec.subnet_id:
        warn("--rdp-from without --public-ip only opens RDP inside the virtual network.")
    if dry_run and spec.network.by_name:
        info(f"--dry-run reads nothing from Azure, so the plan shows a new VNet {spec.network.vnet_name}; a real "
             "run uses it (and its subnet) if it exists.")
    from hpctl import provisioning
    from hpctl.edge import compute

    deploy_spec(
        kind="vm", label=f"VM {spec.name}", resource_group=resource_group, spec=spec, template_name=VM_TEMPLATE,
        password=password, create_group=create_group, dry_run=dry_run, no_wait=no_wait,
        parameters=lambda secret, redact, subscription: spec.template_parameters(
            password=secret, redact_password=redact, subscription_id=subscription),
        read_back=lambda conn: provisioning.settings_row(compute.get_vm(conn, resource_group, spec.name)),
        existing=lambda conn: provisioning.vm_exists(conn, resource_group, spec.name),
        key_vault=spec.key_vault is not None,
        prepare=lambda conn: provisioning.network_values(conn, resource_group, spec.network),
    )


@app.command("enable-hotpatch")
@command
def enable_hotpatch(
    name: NameOpt = None,
    resource_group: GroupOpt = None,
    ids: IdsOpt = None,
    tag: TagOpt = None,
    reboot_setting: Annotated[str | None, typer.Option(
        "--reboot-setting", metavar="SETTING", help="Also set rebootSetting: IfRequired, Never or Always "
        "(default: leave the VM's as it is).")] = None,
    leave_schedule: Annotated[bool, typer.Option(
        "--leave-schedule", help="Remove the VM's assignment to a customer-managed Update Manager schedule "
        "(after the confirmation); without it such a VM is refused.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change (reads only); send no "
                                          "write.")] = False,
    yes: YesOpt = False,
    max_parallel: InFlightOpt = None,
) -> None:
    """Turn hotpatch on for existing VMs on eligible images: one, a group, tagged, or the whole subscription.

    Changes only what hotpatch needs (patchMode AutomaticByPlatform, enableHotpatching, the safety-check
    bypass off; rebootSetting only with --reboot-setting) and reports other drift without fixing it. Refuses
    (exit 2 for one VM; listed for a fleet) an image that can't hotpatch, a patch-mode change Azure won't make,
    and a VM in a customer-managed schedule unless --leave-schedule. Shows the plan, and asks before writing
    to more than one VM or taking a VM out of its schedule (--yes to skip); a VM that is already right is
    left alone.

    Example:

        hpctl vm enable-hotpatch -g rg-legacy -n app-07 --dry-run -o table

        hpctl vm enable-hotpatch -g rg-api --tag env=prod --leave-schedule --yes
    """
    from hpctl.cli.patch import _targets
    from hpctl.core.vm_rules import validate_reboot_setting

    wanted = validate_reboot_setting(reboot_setting) if reboot_setting else None
    spec = _targets(name, resource_group, ids, tag)
    _enable(spec, wanted, leave_schedule, dry_run, yes, max_parallel)


def _enable(spec: Any, reboot_setting: str | None, leave_schedule: bool, dry_run: bool, yes: bool,
            max_parallel: int | None) -> None:
    """Resolve the targets per subscription, run hotpatch_enable.enable with the shared confirmation and
    progress display, render one row per VM (an object for one VM), and exit as the outcome says."""
    from hpctl import hotpatch_enable as he
    from hpctl.cli.confirm import confirm_write, require_tty_or_yes, target_lines
    from hpctl.cli.patch import _in_flight, _pool
    from hpctl.cli.progress import fleet_progress
    from hpctl.fleet.commands import resolve_parts

    in_flight = _in_flight(max_parallel)
    single = spec.scope == "vms" and len(spec.vms) == 1
    if not dry_run:
        require_tty_or_yes(yes=yes, may_be_many=not single)
    s = settings()

    def confirm(items: list[Any]) -> None:
        planned = [i for i in items if i.state == he.PLANNED]
        leaving = he.leaving_lines(items)
        confirm_write("enable-hotpatch", len(planned), target_lines([i.target for i in planned]) + leaving,
                      yes=yes, always=bool(leaving))

    result = he.enable(resolve_parts(s.cloud, s.subscription, spec, pool_size=_pool(in_flight)),
                       reboot_setting=reboot_setting, leave_schedule=leave_schedule, named=bool(spec.vms),
                       single=single, dry_run=dry_run, in_flight=in_flight, confirm=confirm,
                       progress=lambda total: fleet_progress(total, "enable-hotpatch"), say=info, warn=warn)
    if result.single_error is not None:
        raise result.single_error
    columns = [Column("Name", "name"), Column("ResourceGroup", "resourceGroup"), Column("Outcome", "outcome"),
               Column("Setting", "setting"), Column("Before", "before"), Column("After", "after"),
               Column("Note", "note")]
    render(result.rows[0] if single else result.rows, s.output, s.query, columns=columns,
           table_view=lambda data: he.table_rows(data if isinstance(data, list) else [data]))
    if result.interrupted is not None:
        raise typer.Exit(result.interrupted)
    if result.failed:
        names = ", ".join(f"{r['resourceGroup']}/{r['name']}" for r in result.failed[:5])
        more = " …" if len(result.failed) > 5 else ""
        raise AzureOperationError(f"hotpatch was not turned on for {len(result.failed)} of {len(result.rows)} VMs: "
                                  f"{names}{more}")


def _patches_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        baseline = r.get("lastKnownGoodBaseline") or {}
        track = r.get("track") or {}
        above = [h for h in r.get("hotfixes") or [] if h.get("build") and baseline.get("build")
                 and int(h["build"].split(".")[1]) > int(baseline["build"].split(".")[1])]
        out.append({**r, "trackText": f"{track.get('state') or ''} {track.get('month') or ''}".strip(),
                    "baselineText": baseline.get("kb") or "",
                    "above": ", ".join(f"{h['kb']} {h['calendar']}" for h in above),
                    "errorMessage": (r.get("error") or {}).get("message")})
    return out


PATCHES_COLUMNS = [Column("Name", "name"), Column("ResourceGroup", "resourceGroup"), Column("Outcome", "outcome"),
                   Column("Build", "build"), Column("Track", "trackText"), Column("Baseline", "baselineText"),
                   Column("AboveBaseline", "above"), Column("Error", "errorMessage"),
                   Column("Id", "id", wide=True)]


@app.command("patches")
@command
def patches(
    name: NameOpt = None,
    resource_group: GroupOpt = None,
    ids: IdsOpt = None,
    tag: TagOpt = None,
    show_script: Annotated[bool, typer.Option("--show-script", help="Print the read-only PowerShell script "
                                              "hpctl runs in each VM, and send nothing.")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", metavar="DATE",
                                              help="Judge the hotpatch track as of this day (default today).")] = None,
    max_parallel: InFlightOpt = None,
) -> None:
    """Show what each VM really has installed, read inside it through Run Command (read-only).

    Per VM: the exact build with its update revision (registry CurrentBuild and UBR) and the hotpatch track it
    means, each installed update (Get-HotFix) and servicing package (DISM) matched to the calendar (baseline,
    hotpatch, out-of-band, or not in the calendar), and the last known good baseline present. A VM that is
    deallocated, has no VM agent, or whose script fails gets its own outcome; the rest go on.

    Example:

        hpctl vm patches -g rg-web -n web-01

        hpctl vm patches -g rg-web -o table

        hpctl vm patches --show-script
    """
    if show_script:
        from hpctl.core.guest_scripts import INVENTORY_SCRIPT, script_text

        print(script_text(INVENTORY_SCRIPT), end="")
        return
    from hpctl import installed_patches
    from hpctl.cli.patch import _as_of, _finish, _in_flight, _pool, _targets
    from hpctl.cli.progress import fleet_progress
    from hpctl.fleet.commands import resolve_parts, target_count
    from hpctl.fleet.interrupts import interrupts
    from hpctl.fleet.writes import WriteOptions
    from hpctl.patching import FleetResult

    today = _as_of(as_of)
    in_flight = _in_flight(max_parallel)
    spec = _targets(name, resource_group, ids, tag)
    s = settings()
    parts = resolve_parts(s.cloud, s.subscription, spec, instance_view=True, pool_size=_pool(in_flight))
    result = FleetResult()
    with interrupts() as interrupt, fleet_progress(target_count(parts), "vm patches") as progress:
        for part in parts:
            if part.error is not None:
                raise part.error
            options = WriteOptions(interrupt, in_flight, True, None, progress)
            found = installed_patches.patches(part.conn, part.targets, options, today=today)
            result.rows += found.rows
            result.failed += found.failed
            result.single_error = found.single_error if len(parts) == 1 else None
            result.interrupted = result.interrupted or found.interrupted
    _finish(result, columns=PATCHES_COLUMNS, table_view=_patches_table, what="reading installed patches")

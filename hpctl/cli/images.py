"""`hpctl images`: which marketplace images can hotpatch, and whether a given image can."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from hpctl.cli.common import HpctlGroup, command, info, settings
from hpctl.errors import InputError
from hpctl.output import Column, render

app = typer.Typer(cls=HpctlGroup, help="Hotpatch-eligible images.", no_args_is_help=True)

LIST_COLUMNS = [Column("Sku", "sku"), Column("OS", "osVersion"), Column("Edition", "edition"),
                Column("Disk", "disk"), Column("Urn", "urn", wide=True)]
CHECK_COLUMNS = [Column("Sku", "sku"), Column("Version", "version"), Column("Eligible", "eligible"),
                 Column("Location", "location"), Column("LatestVersion", "latestVersion"),
                 Column("Publisher", "publisher", wide=True), Column("Offer", "offer", wide=True),
                 Column("Reason", "reason", wide=True)]


@app.command("list")
@command
def list_images() -> None:
    """List the eight marketplace images Azure supports hotpatch on.

    Example:

        hpctl images list -o table
    """
    from hpctl.core.images import eligible_images

    s = settings()
    render([_image_row(i) for i in eligible_images()], s.output, s.query, columns=LIST_COLUMNS)


def _image_row(image: Any) -> dict[str, Any]:
    row = asdict(image)
    return {
        "publisher": row.get("publisher"),
        "offer": row.get("offer"),
        "sku": row.get("sku"),
        "osVersion": row.get("os_version"),
        "edition": row.get("edition"),
        "disk": row.get("disk"),
        "urn": row.get("urn"),
    }


@app.command("check")
@command
def check(
    image: Annotated[str, typer.Argument(help="URN publisher:offer:sku[:version], a SKU, or an image id.")],
    location: Annotated[str | None, typer.Option(
        "--location", "-l", help="Also check with the Images API that the SKU is offered in this region.")] = None,
) -> None:
    """Check whether VMs from IMAGE can hotpatch; exits 2 with the reason (and the likely SKU) if not.

    Example:

        hpctl images check MicrosoftWindowsServer:WindowsServer:2025-datacenter-azure-edition-core:latest

        hpctl images check 2022-datacenter-azure-edition-hotpatch --location westeurope
    """
    from hpctl.core.images import check_image

    verdict = check_image(image)
    if not verdict.eligible:
        hint = f"Did you mean {verdict.suggestion}?" if verdict.suggestion else None
        raise InputError(verdict.reason, hint=hint)
    ref = verdict.image
    row: dict[str, Any] = {
        "image": image,
        "eligible": True,
        "publisher": ref.publisher,
        "offer": ref.offer,
        "sku": ref.sku,
        "version": ref.version,
        "reason": verdict.reason,
    }
    if location:
        row.update(_regional_check(location, ref))
    s = settings()
    info(verdict.reason)
    render(row, s.output, s.query, columns=CHECK_COLUMNS)


def _regional_check(location: str, ref: Any) -> dict[str, Any]:
    from hpctl.edge import compute
    from hpctl.edge.clients import connect

    s = settings()
    location = location.replace(" ", "").lower()
    conn = connect(s.cloud, s.subscription)
    skus = {sku.lower(): sku for sku in compute.image_skus(conn, location, ref.publisher, ref.offer)}
    if ref.sku.lower() not in skus:
        raise InputError(
            f"{ref.sku} is not offered in {location} (the Images API lists {len(skus)} WindowsServer SKUs there).",
            hint="Pick another region, or run `hpctl images check SKU --location REGION` to find one.",
        )
    versions = compute.image_versions(conn, location, ref.publisher, ref.offer, skus[ref.sku.lower()])

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) if p.isdigit() else -1 for p in v.split("."))

    return {"location": location, "offered": True, "latestVersion": max(versions, key=key) if versions else None}

"""`vm create`'s network choice (--vnet-name/--subnet), licence type and Key Vault password reference."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from hpctl.core.vm_rules import SUBNET_ID_RE, _fail, _require_text, _show

DEFAULT_SUBNET_NAME = "default"
VNET_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?$")
SUBNET_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$")
# The values Azure takes for a Windows Server VM's licenseType ("None" turns Azure Hybrid Benefit off).
LICENSE_TYPES = ("Windows_Server", "None")
_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
KEY_VAULT_ID_RE = re.compile(
    rf"^/subscriptions/{_GUID}/resourceGroups/[-\w._()]{{1,90}}/providers/Microsoft\.KeyVault/vaults/"
    r"[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){2,23}$",
    re.IGNORECASE,
)
SECRET_NAME_RE = re.compile(r"^[A-Za-z0-9-]{1,127}$")
# The template's new-subnet prefix length when hpctl carves one out of an existing VNet.
NEW_SUBNET_PREFIX = 24


@dataclass(frozen=True)
class NetworkChoice:
    """Where the NIC goes: an existing subnet by id, or a VNet/subnet by name (existing or new)."""

    subnet_id: str | None = None
    vnet_name: str | None = None
    subnet_name: str = DEFAULT_SUBNET_NAME

    @property
    def by_name(self) -> bool:
        return self.subnet_id is None and self.vnet_name is not None


def validate_network(vnet_name: object, subnet: object, subnet_id: str | None) -> NetworkChoice:
    """az's rules: --subnet is a name (with --vnet-name) or a full id; --subnet-id is the id form only."""
    subnet_text = None if subnet is None or subnet == "" else _require_text(subnet, "--subnet", "subnet name or id")
    vnet = None if vnet_name is None or vnet_name == "" else _require_text(vnet_name, "--vnet-name", "VNet name")
    if subnet_text is not None and subnet_text.startswith("/"):
        if subnet_id is not None:
            raise _fail("--subnet and --subnet-id both name a subnet: give one of them")
        if vnet is not None:
            raise _fail("--subnet is already a full subnet id, which names its VNet: drop --vnet-name")
        if not SUBNET_ID_RE.match(subnet_text.rstrip("/")):
            raise _fail(f"--subnet {_show(subnet_text)} is not a subnet id: use /subscriptions/<guid>/resourceGroups/"
                        "<rg>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>, or a name "
                        "with --vnet-name")
        return NetworkChoice(subnet_id=subnet_text.rstrip("/"))
    if subnet_id is not None and (vnet is not None or subnet_text is not None):
        raise _fail("--subnet-id already names the VNet and subnet: drop --vnet-name/--subnet")
    if subnet_id is not None:
        return NetworkChoice(subnet_id=subnet_id)
    if subnet_text is not None and vnet is None:
        raise _fail(f"--subnet {_show(subnet_text)} is a name, so it needs --vnet-name (or give the subnet's full id)")
    if vnet is None:
        return NetworkChoice()
    if not VNET_NAME_RE.match(vnet):
        raise _fail(f"--vnet-name {_show(vnet)} is not a VNet name: use 2-64 letters, digits, '_', '.', '-' "
                    "(start with a letter or digit; end with a letter, digit or '_')")
    name = subnet_text or DEFAULT_SUBNET_NAME
    if not SUBNET_NAME_RE.match(name):
        raise _fail(f"--subnet {_show(name)} is not a subnet name: use 1-80 letters, digits, '_', '.', '-' "
                    "(start with a letter or digit; end with a letter, digit or '_')")
    return NetworkChoice(vnet_name=vnet, subnet_name=name)


def validate_license_type(value: object) -> str | None:
    """Windows_Server turns Azure Hybrid Benefit on, None leaves it off; nothing given means Azure's default."""
    if value is None or value == "":
        return None
    text = _require_text(value, "--license-type", "licence type")
    for known in LICENSE_TYPES:
        if text.lower() == known.lower():
            return known
    raise _fail(f"--license-type {_show(text)} is not a licence type for Windows Server: use Windows_Server "
                "(Azure Hybrid Benefit) or None")


@dataclass(frozen=True)
class KeyVaultSecret:
    """A Key Vault secret ARM reads at deployment time: hpctl never sees its value."""

    vault_id: str
    secret_name: str

    def parameter(self) -> dict[str, Any]:
        """The deployment parameter form of a Key Vault reference."""
        return {"reference": {"keyVault": {"id": self.vault_id}, "secretName": self.secret_name}}


def validate_key_vault_secret(vault_id: object, secret_name: object, *, password_file_given: bool
                              ) -> KeyVaultSecret | None:
    """--admin-password-keyvault VAULT_ID and --admin-password-secret NAME go together, instead of a file."""
    if (vault_id is None or vault_id == "") and (secret_name is None or secret_name == ""):
        return None
    if vault_id is None or vault_id == "":
        raise _fail("--admin-password-secret needs --admin-password-keyvault VAULT_ID (the vault's resource id)")
    if secret_name is None or secret_name == "":
        raise _fail("--admin-password-keyvault needs --admin-password-secret NAME (the secret holding the password)")
    vault = _require_text(vault_id, "--admin-password-keyvault", "Key Vault resource id")
    if not KEY_VAULT_ID_RE.match(vault.rstrip("/")):
        raise _fail(f"--admin-password-keyvault {_show(vault)} is not a Key Vault id: use /subscriptions/<guid>/"
                    "resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<vault> (az keyvault show --query id)")
    secret = _require_text(secret_name, "--admin-password-secret", "secret name")
    if not SECRET_NAME_RE.match(secret):
        raise _fail(f"--admin-password-secret {_show(secret)} is not a secret name: use 1-127 letters, digits "
                    "and '-'")
    if password_file_given:
        raise _fail("--admin-password-file and --admin-password-keyvault both give the password: use one")
    return KeyVaultSecret(vault.rstrip("/"), secret)


def free_subnet_prefix(address_prefixes: list[str], used: list[str], length: int = NEW_SUBNET_PREFIX) -> str | None:
    """The first /length block of the VNet's address space that no existing subnet overlaps; None if full."""
    taken = []
    for prefix in used:
        try:
            taken.append(ipaddress.ip_network(prefix, strict=False))
        except ValueError:
            continue
    for space_text in address_prefixes:
        try:
            space = ipaddress.ip_network(space_text, strict=False)
        except ValueError:
            continue
        if space.version != 4 or space.prefixlen > length:
            continue
        for candidate in space.subnets(new_prefix=length):
            if not any(candidate.overlaps(t) for t in taken):
                return str(candidate)
    return None


def network_parameters(choice: NetworkChoice, vnet: dict[str, Any] | None) -> dict[str, Any]:
    """Template values for a by-name choice, given the VNet as Azure has it (None: it doesn't exist yet)."""
    if not choice.by_name:
        return {}
    values: dict[str, Any] = {"vnetName": choice.vnet_name, "subnetName": choice.subnet_name}
    if vnet is None:
        return {**values, "networkMode": "new"}
    props = vnet.get("properties") or {}
    subnets = props.get("subnets") or []
    if any(str(s.get("name", "")).lower() == choice.subnet_name.lower() for s in subnets):
        return {**values, "networkMode": "existing"}
    used = [s.get("properties", {}).get("addressPrefix", "") for s in subnets]
    prefix = free_subnet_prefix((props.get("addressSpace") or {}).get("addressPrefixes") or [], used)
    if prefix is None:
        raise _fail(f"VNet {choice.vnet_name} has no free /{NEW_SUBNET_PREFIX} left for subnet {choice.subnet_name}: "
                    "name an existing subnet with --subnet")
    return {**values, "networkMode": "newSubnet", "subnetAddressPrefix": prefix}

"""Checks every `hpctl vm create` / `hpctl vmss create` input before anything is sent to Azure."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from hpctl.errors import InputError

DEFAULT_VM_SIZE = "Standard_D2s_v5"
DEFAULT_ADMIN_USERNAME = "hpctladmin"
DEFAULT_REBOOT_SETTING = "IfRequired"
DEFAULT_IMAGE_PUBLISHER = "MicrosoftWindowsServer"
DEFAULT_IMAGE_OFFER = "WindowsServer"
DEFAULT_HEALTH_PROTOCOL = "tcp"
# RDP listens on every Azure Windows image out of the box, so a TCP probe on 3389 means "the OS booted and
# its services came back" without asking the user to run an application first (see templates/).
DEFAULT_HEALTH_PORT = 3389

# Azure's API accepts 8-123 characters for Windows; the portal and az CLI insist on 12, and so does hpctl.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 123
MAX_ADMIN_USERNAME_LENGTH = 20
MAX_COMPUTER_NAME_LENGTH = 15
# Azure appends 6 characters to the prefix of each scale-set instance, and Windows stops at 15.
MAX_COMPUTER_NAME_PREFIX_LENGTH = 9
MAX_RESOURCE_NAME_LENGTH = 64
MAX_INSTANCE_COUNT = 1000
MAX_TAGS = 50
MAX_TAG_NAME_LENGTH = 512
MAX_TAG_VALUE_LENGTH = 256

REBOOT_SETTINGS = ("IfRequired", "Never", "Always")
ZONES = ("1", "2", "3")
HEALTH_PROTOCOLS = ("tcp", "http", "https")
OS_DISK_PREMIUM = "Premium_LRS"
OS_DISK_STANDARD_SSD = "StandardSSD_LRS"

# Azure's reserved admin names for Windows VMs (compared case-insensitively).
DISALLOWED_ADMIN_USERNAMES = frozenset(
    {
        "administrator",
        "admin",
        "user",
        "user1",
        "test",
        "user2",
        "test1",
        "user3",
        "admin1",
        "1",
        "123",
        "a",
        "actuser",
        "adm",
        "admin2",
        "aspnet",
        "backup",
        "console",
        "david",
        "guest",
        "john",
        "owner",
        "root",
        "server",
        "sql",
        "support",
        "support_388945a0",
        "sys",
        "test2",
        "test3",
        "user4",
        "user5",
    }
)
ADMIN_USERNAME_FORBIDDEN_CHARS = '\\/"[]:|<>+=;,?*@'

# Azure refuses these exact passwords for Windows VMs; hpctl also refuses them in any letter case.
DISALLOWED_PASSWORDS = frozenset(
    p.lower()
    for p in (
        "abc@123",
        "P@$$w0rd",
        "P@ssw0rd",
        "P@ssword123",
        "Pa$$word",
        "pass@word1",
        "Password!",
        "Password1",
        "Password22",
        "iloveyou!",
    )
)

COMPUTER_NAME_FORBIDDEN_CHARS = "`~!@#$%^&*()=+_[]{}\\|;:.'\",<>/? "
TAG_NAME_FORBIDDEN_CHARS = "<>%&\\?/"

# "Open to the world" spellings an NSG accepts: RDP open to any of them is what hpctl refuses.
WORLD_SOURCES = frozenset({"*", "internet", "any", "0.0.0.0/0", "0.0.0.0", "::/0", "::", "0/0"})
# Narrower than the whole internet but still most of it: a typo such as 1.0.0.0/1 is refused too.
MIN_IPV4_PREFIX = 8
MIN_IPV6_PREFIX = 32

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_RG = r"[-\w._()]{1,90}"
SUBNET_ID_RE = re.compile(
    rf"^/subscriptions/{_GUID}/resourceGroups/{_RG}/providers/Microsoft\.Network/virtualNetworks/"
    r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}/subnets/[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$",
    re.IGNORECASE,
)
AVAILABILITY_SET_ID_RE = re.compile(
    rf"^/subscriptions/{_GUID}/resourceGroups/{_RG}/providers/Microsoft\.Compute/availabilitySets/"
    r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$",
    re.IGNORECASE,
)
AVAILABILITY_SET_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$")
RESOURCE_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
RESOURCE_GROUP_RE = re.compile(r"^[-\w._()]+$")
COMPUTER_NAME_RE = re.compile(r"^[A-Za-z0-9-]+$")
LOCATION_RE = re.compile(r"^[a-z][a-z0-9]{1,39}$")
SIZE_RE = re.compile(r"^(standard|basic)_[a-z0-9][a-z0-9_-]*$", re.IGNORECASE)
URN_PART_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
IMAGE_VERSION_RE = re.compile(r"^(latest|\d+\.\d+\.\d+)$", re.IGNORECASE)


# --------------------------------------------------------------------------------------------------- helpers


def _show(value: object, limit: int = 48) -> str:
    """Quote a user value for a one-line message: control characters escaped, long values cut."""
    text = str(value)
    cut = len(text) > limit
    if cut:
        text = text[:limit]
    # A newline in a bad value must not break the one-line error contract.
    text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    return f"'{text}…'" if cut else f"'{text}'"


def _fail(message: str, hint: str | None = None) -> InputError:
    return InputError(message, hint=hint)


def _require_text(value: object, flag: str, what: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _fail(f"{flag} is empty: give the {what}")
    if not isinstance(value, str):
        raise _fail(f"{flag} must be text, got {type(value).__name__}: give the {what}")
    if value != value.strip():
        raise _fail(f"{flag} {_show(value)} has leading or trailing spaces: remove them")
    return value


def _first_bad_char(value: str, forbidden: str) -> str | None:
    for ch in value:
        if ch in forbidden or not ch.isprintable():
            return ch
    return None


# --------------------------------------------------------------------------------------------------- names


def validate_resource_name(name: object, flag: str = "--name", kind: str = "VM") -> str:
    """A VM or scale-set resource name: 1-64 of letters, digits, -_. ; no leading _, no trailing . or -."""
    text = _require_text(name, flag, f"{kind} name")
    if len(text) > MAX_RESOURCE_NAME_LENGTH:
        raise _fail(
            f"{flag} {_show(text)} is {len(text)} characters: Azure {kind} names are 1-64, shorten it"
        )
    if not RESOURCE_NAME_RE.match(text):
        bad = next(ch for ch in text if not RESOURCE_NAME_RE.match(ch))
        raise _fail(f"{flag} {_show(text)} contains {_show(bad)}: use only letters, digits, '-', '_' and '.'")
    if text.startswith("_"):
        raise _fail(
            f"{flag} {_show(text)} starts with '_': Azure {kind} names must start with a letter or digit"
        )
    if text[-1] in ".-":
        raise _fail(f"{flag} {_show(text)} ends with {_show(text[-1])}: end it with a letter, digit or '_'")
    return text


def validate_resource_group_name(name: object, flag: str = "--resource-group") -> str:
    """A resource group name: 1-90 letters, digits, '-', '_', '.', '(', ')'; no trailing period."""
    text = _require_text(name, flag, "resource group name")
    if len(text) > 90:
        raise _fail(
            f"{flag} {_show(text)} is {len(text)} characters: resource group names are 1-90, shorten it"
        )
    if not RESOURCE_GROUP_RE.match(text):
        bad = next(ch for ch in text if not RESOURCE_GROUP_RE.match(ch))
        raise _fail(
            f"{flag} {_show(text)} contains {_show(bad)}: use letters, digits, '-', '_', '.', '(' and ')'"
        )
    if text.endswith("."):
        raise _fail(f"{flag} {_show(text)} ends with '.': remove the trailing period")
    return text


def _windows_name_problem(text: str, limit: int, what: str) -> str | None:
    """Why `text` can't be a Windows computer name (or prefix) of at most `limit` characters, or None."""
    if len(text) > limit:
        return f"is {len(text)} characters, and a Windows {what} is at most {limit}"
    bad = _first_bad_char(text, COMPUTER_NAME_FORBIDDEN_CHARS)
    if bad is None and not COMPUTER_NAME_RE.match(text):
        bad = next(ch for ch in text if not COMPUTER_NAME_RE.match(ch))
    if bad is not None:
        return f"contains {_show(bad)}, and a Windows {what} allows only letters, digits and '-'"
    if text.isdigit():
        return f"is all digits, and a Windows {what} needs a letter"
    if text.startswith("-") or text.endswith("-"):
        return f"starts or ends with '-', and a Windows {what} must begin and end with a letter or digit"
    return None


def validate_computer_name(name: object, flag: str = "--computer-name") -> str:
    """A Windows computer name: 1-15 letters, digits and '-', not all digits, no '-' at either end.

    With flag='--name' the VM name is checked as the computer name it becomes when --computer-name is absent.
    """
    text = _require_text(name, flag, "Windows computer name")
    problem = _windows_name_problem(text, MAX_COMPUTER_NAME_LENGTH, "computer name")
    if problem is None:
        return text
    if flag == "--computer-name":
        raise _fail(f"{flag} {_show(text)} {problem}: choose a name like web-01")
    raise _fail(
        f"{flag} {_show(text)} doubles as the computer name but {problem}: pass --computer-name (e.g. web-01)"
    )


def validate_computer_name_prefix(prefix: object, flag: str = "--computer-name-prefix") -> str:
    """A Windows scale-set computerNamePrefix: 1-9 characters (Azure appends 6 to reach 15).

    With flag='--name' the scale-set name is checked as the prefix it becomes when no prefix is given.
    """
    text = _require_text(prefix, flag, "computer name prefix")
    problem = _windows_name_problem(text, MAX_COMPUTER_NAME_PREFIX_LENGTH, "scale-set computer name prefix")
    if problem is None:
        return text
    if flag == "--computer-name-prefix":
        raise _fail(f"{flag} {_show(text)} {problem}: choose a prefix like api")
    raise _fail(
        f"{flag} {_show(text)} doubles as the computer name prefix but {problem}: pass --computer-name-prefix"
        " (e.g. api)"
    )


def validate_admin_username(username: object, flag: str = "--admin-username") -> str:
    """A Windows admin user name: 1-20 characters, none of \\/"[]:|<>+=;,?*@, no final '.', not reserved."""
    text = _require_text(username, flag, "admin user name")
    if len(text) > MAX_ADMIN_USERNAME_LENGTH:
        raise _fail(f"{flag} {_show(text)} is {len(text)} characters: Windows admin names are at most 20")
    bad = _first_bad_char(text, ADMIN_USERNAME_FORBIDDEN_CHARS)
    if bad is not None:
        raise _fail(
            f'{flag} {_show(text)} contains {_show(bad)}: Azure forbids \\/"[]:|<>+=;,?*@ in admin names'
        )
    if text.endswith("."):
        raise _fail(f"{flag} {_show(text)} ends with '.': remove the trailing period")
    if text.lower() in DISALLOWED_ADMIN_USERNAMES:
        raise _fail(
            f"{flag} {_show(text)} is a name Azure reserves: choose another, e.g. {DEFAULT_ADMIN_USERNAME!r}"
        )
    return text


# --------------------------------------------------------------------------------------------------- password


def password_problems(password: str, username: str | None = None) -> list[str]:
    """Every rule the password breaks, as short phrases that never contain the password itself."""
    problems: list[str] = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"it has {len(password)} characters, hpctl needs at least {MIN_PASSWORD_LENGTH}")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"it has {len(password)} characters, Azure allows at most {MAX_PASSWORD_LENGTH}")
    if any(not ch.isprintable() for ch in password):
        problems.append("it contains a control character (a stray newline from the file?)")
    classes = sum(
        (
            any("a" <= ch <= "z" for ch in password),
            any("A" <= ch <= "Z" for ch in password),
            any("0" <= ch <= "9" for ch in password),
            any(not ch.isalnum() and ch.isprintable() for ch in password),
        )
    )
    if classes < 3:
        problems.append(
            f"it uses {classes} of the 4 character classes (lower, upper, digit, special), Azure needs 3"
        )
    if password.lower() in DISALLOWED_PASSWORDS:
        problems.append("it is on Azure's list of refused passwords")
    # Windows itself refuses a password containing the account name once the name has 3+ characters.
    if username and len(username) >= 3 and username.lower() in password.lower():
        problems.append("it contains the admin user name")
    return problems


def validate_admin_password(
    password: object, username: str | None = None, flag: str = "the admin password"
) -> str:
    """Azure's Windows password rules (hpctl minimum 12); the message never repeats the password."""
    if not isinstance(password, str) or password == "":
        raise _fail(
            f"{flag} is empty: give one with --admin-password-file or HPCTL_ADMIN_PASSWORD, or leave both "
            "unset "
            "to have hpctl generate one"
        )
    problems = password_problems(password, username)
    if problems:
        raise _fail(
            f"{flag} is rejected: {'; '.join(problems)}: use 12-123 characters with 3 of "
            "lower/upper/digit/special, "
            "or let hpctl generate one"
        )
    return password


# --------------------------------------------------------------------------------------------------- sizes


@dataclass(frozen=True)
class SizeVerdict:
    """What hpctl knows about a size: canonical name, Gen2 support, premium disks, a warning if unknown."""

    name: str
    known: bool
    premium: bool
    family: str | None = None
    warning: str | None = None

    @property
    def os_disk_type(self) -> str:
        """Premium SSD where the size takes it, else Standard SSD (accepted by every size)."""
        return OS_DISK_PREMIUM if self.premium else OS_DISK_STANDARD_SSD


@lru_cache(maxsize=1)
def _size_data() -> dict[str, Any]:
    text = resources.files("hpctl.core").joinpath("data", "vm_sizes.json").read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _size_index() -> dict[str, tuple[str, str, bool]]:
    index: dict[str, tuple[str, str, bool]] = {}
    for fam in _size_data()["gen2"]:
        for size in fam["sizes"]:
            index[size.lower()] = (size, fam["family"], bool(fam["premium"]))
    return index


def known_gen2_sizes() -> list[str]:
    """Every size in hpctl's data file known to run Gen2 images, in file order."""
    return [canonical for canonical, _, _ in _size_index().values()]


def validate_size(size: object, flag: str = "--size") -> SizeVerdict:
    """A Gen2-capable VM size; Gen1-only families are refused, unknown sizes pass with a warning."""
    if size is None or (isinstance(size, str) and size == ""):
        size = _size_data().get("default", DEFAULT_VM_SIZE)
    text = _require_text(size, flag, "VM size, e.g. Standard_D2s_v5")
    if not SIZE_RE.match(text):
        raise _fail(f"{flag} {_show(text)} is not an Azure VM size name: use one like {DEFAULT_VM_SIZE}")
    for rule in _size_data()["gen1Only"]:
        if re.match(rule["pattern"], text, re.IGNORECASE):
            raise _fail(
                f"{flag} {_show(text)} ({rule['family']}) runs only Generation 1 images and Azure Edition is "
                f"Gen2-only: use a Gen2 size such as {DEFAULT_VM_SIZE}"
            )
    hit = _size_index().get(text.lower())
    if hit is not None:
        canonical, family, premium = hit
        return SizeVerdict(name=canonical, known=True, premium=premium, family=family)
    prefix, _, rest = text.partition("_")
    canonical = f"{prefix.capitalize()}_{rest}"
    return SizeVerdict(
        name=canonical,
        known=False,
        premium=False,
        warning=(
            f"size {canonical} is not in hpctl's list of Gen2-capable sizes; Azure will refuse it if it "
            "cannot run "
            f"Generation 2 images; the OS disk falls back to {OS_DISK_STANDARD_SSD}"
        ),
    )


# ------------------------------------------------------------------------------------------------ placement


def validate_location(location: object, flag: str = "--location") -> str:
    """An Azure region name; a display name such as 'West Europe' is folded to 'westeurope'."""
    text = _require_text(location, flag, "Azure region, e.g. westeurope")
    folded = text.replace(" ", "").lower()
    if not LOCATION_RE.match(folded):
        raise _fail(f"{flag} {_show(text)} is not an Azure region name: use the short form, e.g. westeurope")
    return folded


def validate_zone(zone: object, flag: str = "--zone") -> str | None:
    """An availability zone '1', '2' or '3', or None for no zone."""
    if zone is None or zone == "":
        return None
    text = str(zone).strip()
    if text not in ZONES:
        raise _fail(f"{flag} {_show(zone)} is not an availability zone: use 1, 2 or 3, or leave it out")
    return text


def validate_zones(zones: Iterable[object] | None, flag: str = "--zones") -> tuple[str, ...]:
    """Zones for a scale set: each 1, 2 or 3, no repeats; empty means regional."""
    if not zones:
        return ()
    out: list[str] = []
    for zone in zones:
        checked = validate_zone(zone, flag)
        if checked is None:
            continue
        if checked in out:
            raise _fail(f"{flag} names zone {checked} twice: list each zone once")
        out.append(checked)
    return tuple(sorted(out))


def validate_availability_set(value: object, flag: str = "--availability-set") -> str | None:
    """An availability set name (same resource group) or full resource id; None for none."""
    if value is None or value == "":
        return None
    text = _require_text(value, flag, "availability set name or id")
    if text.startswith("/"):
        if not AVAILABILITY_SET_ID_RE.match(text):
            raise _fail(
                f"{flag} {_show(text)} is not an availability set id: use "
                "/subscriptions/<guid>/resourceGroups/<rg>/"
                "providers/Microsoft.Compute/availabilitySets/<name>, or just the name"
            )
        return text
    if not AVAILABILITY_SET_NAME_RE.match(text):
        raise _fail(
            f"{flag} {_show(text)} is not an availability set name: use 1-80 letters, digits, '_', '.', '-' "
            "(start with a letter or digit)"
        )
    return text


def availability_set_resource_id(value: str, subscription_id: str, resource_group: str) -> str:
    """The full id of an availability set given by name (in the VM's group) or already by id."""
    if value.startswith("/"):
        return value
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.Compute/availabilitySets/{value}"
    )


def check_zone_and_availability_set(zone: str | None, availability_set: str | None) -> None:
    """Azure places a VM either in a zone or in an availability set, never both."""
    if zone is not None and availability_set is not None:
        raise _fail(
            f"--zone {zone} and --availability-set {_show(availability_set)} were both given: Azure puts a "
            "VM in a "
            "zone or an availability set, not both; drop one"
        )


def validate_reboot_setting(value: object, flag: str = "--reboot-setting") -> str:
    """IfRequired, Never or Always, in any letter case, returned in Azure's spelling."""
    if value is None or value == "":
        return DEFAULT_REBOOT_SETTING
    text = str(value).strip()
    for option in REBOOT_SETTINGS:
        if text.lower() == option.lower():
            return option
    raise _fail(f"{flag} {_show(value)} is not a reboot setting: use IfRequired, Never or Always")


# --------------------------------------------------------------------------------------------------- network


def validate_rdp_source(value: object, flag: str = "--rdp-from") -> str | None:
    """A CIDR or single IP allowed to reach RDP 3389; never the whole internet. None means no inbound RDP."""
    if value is None or value == "":
        return None
    # Stray spaces around an address are harmless here; strip them rather than refuse.
    text = _require_text(str(value).strip(), flag, "CIDR or IP address allowed to reach RDP")
    if text.lower() in WORLD_SOURCES:
        raise _fail(
            f"{flag} {_show(text)} opens RDP to the whole internet, which hpctl refuses: give your own "
            "network's "
            "CIDR (e.g. 203.0.113.0/24) or use Azure Bastion"
        )
    try:
        # Parse leniently first so an over-broad range is reported as such, not as a host-bits typo.
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise _fail(
            f"{flag} {_show(text)} is not an IP address or CIDR: give one like 203.0.113.0/24 or "
            "2001:db8::/48"
        ) from None
    minimum = MIN_IPV4_PREFIX if network.version == 4 else MIN_IPV6_PREFIX
    if network.prefixlen < minimum:
        raise _fail(
            f"{flag} {_show(text)} covers {network.num_addresses:,} addresses, effectively the internet: "
            f"narrow it to /{minimum} or longer"
        )
    if "/" in text and ipaddress.ip_interface(text).ip != network.network_address:
        raise _fail(f"{flag} {_show(text)} has host bits set: did you mean {network}?")
    # A host route keeps the form the user typed: NSGs take a bare address as well as a /32.
    return text if "/" not in text else str(network)


def validate_subnet_id(value: object, flag: str = "--subnet-id") -> str | None:
    """A full subnet resource id, or None to have the template create a VNet and subnet."""
    if value is None or value == "":
        return None
    text = _require_text(value, flag, "subnet resource id")
    if not SUBNET_ID_RE.match(text.rstrip("/")):
        raise _fail(
            f"{flag} {_show(text)} is not a subnet id: use "
            "/subscriptions/<guid>/resourceGroups/<rg>/providers/"
            "Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>"
        )
    return text.rstrip("/")


def validate_public_ip(value: object, flag: str = "--public-ip") -> bool:
    """A yes/no flag; strings from config files are accepted in the usual spellings."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off", ""):
        return False
    raise _fail(
        f"{flag} {_show(value)} is not true or false: pass --public-ip to create one, omit it otherwise"
    )


# --------------------------------------------------------------------------------------------------- tags


def validate_tags(tags: Mapping[str, object] | Iterable[str] | None, flag: str = "--tags") -> dict[str, str]:
    """Tags from `k=v` strings (bare `k` = empty value, as in az) or a mapping, within Azure's limits."""
    if not tags:
        return {}
    pairs: list[tuple[str, str]] = []
    if isinstance(tags, Mapping):
        pairs = [(str(k), "" if v is None else str(v)) for k, v in tags.items()]
    elif isinstance(tags, str):
        raise _fail(
            f"{flag} must be a list of key=value pairs, got one string {_show(tags)}: split it on spaces"
        )
    else:
        for item in tags:
            key, sep, val = str(item).partition("=")
            pairs.append((key, val if sep else ""))
    if len(pairs) > MAX_TAGS:
        raise _fail(f"{flag} has {len(pairs)} tags: Azure allows at most {MAX_TAGS} per resource, drop some")
    out: dict[str, str] = {}
    seen: set[str] = set()
    for key, val in pairs:
        if not key.strip():
            raise _fail(
                f"{flag} has a tag with an empty name ({_show(key + '=' + val)}): write it as name=value"
            )
        if len(key) > MAX_TAG_NAME_LENGTH:
            raise _fail(f"{flag} tag name {_show(key)} is {len(key)} characters: Azure allows at most 512")
        bad = _first_bad_char(key, TAG_NAME_FORBIDDEN_CHARS)
        if bad is not None:
            raise _fail(
                f"{flag} tag name {_show(key)} contains {_show(bad)}: Azure forbids <>%&\\?/ in tag names"
            )
        if len(val) > MAX_TAG_VALUE_LENGTH:
            raise _fail(f"{flag} tag {_show(key)} has a {len(val)}-character value: Azure allows at most 256")
        if any(not ch.isprintable() for ch in val):
            raise _fail(f"{flag} tag {_show(key)} has a control character in its value: remove it")
        # Azure tag names are case-insensitive, so Env and env would overwrite each other.
        if key.lower() in seen:
            raise _fail(f"{flag} names tag {_show(key)} twice (tag names ignore case): keep one")
        seen.add(key.lower())
        out[key] = val
    return out


# --------------------------------------------------------------------------------------------------- image


def expand_image_shorthand(text: object, flag: str = "--image") -> str:
    """A SKU alone means MicrosoftWindowsServer:WindowsServer:SKU:latest; a URN is returned as given.

    Only the form is checked here; whether the image can hotpatch is decided by hpctl.core.images.
    """
    value = _require_text(text, flag, "image SKU or URN, e.g. 2025-datacenter-azure-edition-core")
    if value.startswith("/"):
        raise _fail(
            f"{flag} {_show(value)} is a resource id (custom or gallery image), and hotpatch needs a "
            "marketplace "
            "image: give an Azure Edition SKU such as 2025-datacenter-azure-edition-core"
        )
    if ":" in value:
        parts = value.split(":")
        if len(parts) != 4 or not all(parts):
            raise _fail(
                f"{flag} {_show(value)} is not a URN: use publisher:offer:sku:version, or the SKU alone"
            )
        for part in parts[:3]:
            if not URN_PART_RE.match(part):
                raise _fail(
                    f"{flag} {_show(value)} has an invalid part {_show(part)}: check the URN for typos"
                )
        if not IMAGE_VERSION_RE.match(parts[3]):
            raise _fail(
                f"{flag} {_show(value)} has version {_show(parts[3])}: use 'latest' or a version like "
                "26100.4652.250808"
            )
        version = "latest" if parts[3].lower() == "latest" else parts[3]
        return ":".join([*parts[:3], version])
    if not URN_PART_RE.match(value):
        raise _fail(
            f"{flag} {_show(value)} is neither a SKU nor a URN: give e.g. 2025-datacenter-azure-edition-core"
        )
    return f"{DEFAULT_IMAGE_PUBLISHER}:{DEFAULT_IMAGE_OFFER}:{value}:latest"


def split_urn(urn: str) -> tuple[str, str, str, str]:
    """(publisher, offer, sku, version) of a URN produced by expand_image_shorthand."""
    publisher, offer, sku, version = urn.split(":")
    return publisher, offer, sku, version


def check_template_image(urn: str, flag: str = "--image") -> None:
    """The deployment templates pin publisher/offer: no other publisher or offer can be deployed by them."""
    publisher, offer, _, _ = split_urn(urn)
    if publisher.lower() != DEFAULT_IMAGE_PUBLISHER.lower() or offer.lower() != DEFAULT_IMAGE_OFFER.lower():
        raise _fail(
            f"{flag} {_show(urn)} is not a {DEFAULT_IMAGE_PUBLISHER}:{DEFAULT_IMAGE_OFFER} image, the only "
            "ones that "
            "hotpatch: use an Azure Edition SKU such as 2025-datacenter-azure-edition-core"
        )


# ----------------------------------------------------------------------------------------------- scale sets


def validate_orchestration_mode(value: object, flag: str = "--orchestration-mode") -> str:
    """Flexible only: Azure does not run hotpatch images in Uniform scale sets."""
    if value is None or value == "":
        return "Flexible"
    text = str(value).strip()
    if text.lower() == "flexible":
        return "Flexible"
    if text.lower() == "uniform":
        raise _fail(
            f"{flag} Uniform is not supported: Azure does not support Uniform scale sets on hotpatch images; "
            "use --orchestration-mode Flexible (the default)"
        )
    raise _fail(f"{flag} {_show(value)} is not an orchestration mode: use Flexible")


def validate_instance_count(value: object, flag: str = "--instance-count") -> int:
    """0-1000 instances (Azure's limit for a Flexible scale set)."""
    if isinstance(value, bool):
        raise _fail(f"{flag} {_show(value)} is not a number: give a whole number from 0 to 1000")
    try:
        count = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise _fail(f"{flag} {_show(value)} is not a number: give a whole number from 0 to 1000") from None
    if not 0 <= count <= MAX_INSTANCE_COUNT:
        raise _fail(f"{flag} {count} is out of range: a scale set holds 0 to {MAX_INSTANCE_COUNT} instances")
    return count


def validate_health_probe(protocol: object, port: object, request_path: object) -> tuple[str, int, str]:
    """The Application Health extension probe: tcp (no path) or http/https with a path starting '/'.

    A missing port defaults by protocol: tcp 3389 (RDP, up on every Azure Windows image), http 80, https 443.
    """
    proto = str(protocol or DEFAULT_HEALTH_PROTOCOL).strip().lower()
    if proto not in HEALTH_PROTOCOLS:
        raise _fail(f"--health-protocol {_show(protocol)} is not tcp, http or https: pick one of those")
    if port is None or port == "":
        port = {"tcp": DEFAULT_HEALTH_PORT, "http": 80, "https": 443}[proto]
    try:
        number = int(str(port).strip()) if port is not None and not isinstance(port, bool) else -1
    except ValueError:
        number = -1
    if not 1 <= number <= 65535:
        raise _fail(f"--health-port {_show(port)} is not a port number: give 1-65535")
    path = "" if request_path is None else str(request_path).strip()
    if proto == "tcp":
        if path:
            raise _fail(
                f"--health-path {_show(path)} is set but the probe is tcp: drop the path or use http/https"
            )
    elif not path.startswith("/"):
        raise _fail(f"--health-path {_show(path)} must start with '/' for an {proto} probe: e.g. /healthz")
    return proto, number, path


# --------------------------------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class VmCreateRequest:
    """Raw `hpctl vm create` input as the command received it (strings, bools, None for 'not given')."""

    name: str
    image: str
    resource_group: str | None = None
    location: str | None = None
    size: str | None = None
    zone: str | None = None
    availability_set: str | None = None
    computer_name: str | None = None
    admin_username: str = DEFAULT_ADMIN_USERNAME
    admin_password: str | None = field(default=None, repr=False)
    # Where the password came from, for messages: "--admin-password-file PATH", "HPCTL_ADMIN_PASSWORD", ...
    admin_password_source: str = "the admin password"
    reboot_setting: str | None = None
    public_ip: bool = False
    rdp_from: str | None = None
    subnet_id: str | None = None
    tags: Mapping[str, str] | tuple[str, ...] | list[str] | None = None
    vnet_name: str | None = None
    subnet: str | None = None
    license_type: str | None = None
    # A Key Vault reference instead of a password: ARM reads the secret, hpctl never sees it.
    key_vault_id: str | None = None
    key_vault_secret: str | None = None
    password_file_given: bool = False


@dataclass(frozen=True)
class VmCreateSpec:
    """Validated, normalised `hpctl vm create` values; `admin_password` None means hpctl generates one."""

    name: str
    image_urn: str
    image_sku: str
    image_version: str
    resource_group: str | None
    location: str | None
    size: str
    size_known: bool
    os_disk_type: str
    zone: str | None
    availability_set: str | None
    computer_name: str
    admin_username: str
    admin_password: str | None = field(repr=False)
    reboot_setting: str
    public_ip: bool
    rdp_from: str | None
    subnet_id: str | None
    tags: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...] = ()
    network: Any = None  # vm_create_extras.NetworkChoice
    license_type: str | None = None
    key_vault: Any = None  # vm_create_extras.KeyVaultSecret

    @property
    def tags_dict(self) -> dict[str, str]:
        return dict(self.tags)

    def template_parameters(
        self,
        *,
        password: str | None = None,
        redact_password: bool = False,
        subscription_id: str | None = None,
    ) -> dict[str, dict[str, Any]]:
        """ARM `parameters` for templates/hotpatch-vm.json (deployment body form: {"name": {"value": ...}}).

        `password` overrides the spec's (e.g. a generated one); `redact_password` is for --dry-run output.
        An availability set given by name needs `subscription_id` and the spec's resource group.
        """
        secret = password if password is not None else self.admin_password
        if secret is None and not redact_password and self.key_vault is None:
            raise ValueError("no admin password: pass password= (a generated one) or redact_password=True")
        avset = ""
        if self.availability_set:
            if self.availability_set.startswith("/"):
                avset = self.availability_set
            elif subscription_id and self.resource_group:
                avset = availability_set_resource_id(
                    self.availability_set, subscription_id, self.resource_group
                )
            else:
                raise ValueError(
                    "availability set given by name: pass subscription_id and set resource_group"
                )
        values: dict[str, Any] = {
            "vmName": self.name,
            "vmSize": self.size,
            "imageSku": self.image_sku,
            "imageVersion": self.image_version,
            "adminUsername": self.admin_username,
            "adminPassword": "***" if redact_password else secret,
            "computerName": self.computer_name,
            "zone": self.zone or "",
            "availabilitySetId": avset,
            "rebootSetting": self.reboot_setting,
            "createPublicIp": self.public_ip,
            "rdpSourceAddressPrefix": self.rdp_from or "",
            "subnetId": self.subnet_id or "",
            "osDiskType": self.os_disk_type,
            "tags": self.tags_dict,
        }
        if self.license_type:
            values["licenseType"] = self.license_type
        if self.location:
            values["location"] = self.location
        params = {key: {"value": value} for key, value in values.items()}
        if self.key_vault is not None:
            params["adminPassword"] = self.key_vault.parameter()
        return params


def _common_image(image: object) -> tuple[str, str, str]:
    urn = expand_image_shorthand(image)
    check_template_image(urn)
    _, _, sku, version = split_urn(urn)
    return urn, sku, version


def validate_vm_create(request: VmCreateRequest) -> VmCreateSpec:
    """Run every `vm create` check in flag order; the first failure raises InputError (exit 2)."""
    name = validate_resource_name(request.name, "--name", "VM")
    resource_group = (
        validate_resource_group_name(request.resource_group) if request.resource_group is not None else None
    )
    urn, sku, version = _common_image(request.image)
    location = validate_location(request.location) if request.location else None
    size = validate_size(request.size)
    zone = validate_zone(request.zone)
    avset = validate_availability_set(request.availability_set)
    check_zone_and_availability_set(zone, avset)
    # Without --computer-name the VM name doubles as the Windows computer name, so its limits apply.
    if request.computer_name:
        computer_name = validate_computer_name(request.computer_name, "--computer-name")
    else:
        computer_name = validate_computer_name(name, "--name")
    username = validate_admin_username(request.admin_username)
    password = request.admin_password
    if password is not None:
        validate_admin_password(password, username, request.admin_password_source)
    reboot = validate_reboot_setting(request.reboot_setting)
    public_ip = validate_public_ip(request.public_ip)
    rdp_from = validate_rdp_source(request.rdp_from)
    subnet_id = validate_subnet_id(request.subnet_id)
    from hpctl.core.vm_create_extras import validate_key_vault_secret, validate_license_type, validate_network

    network = validate_network(request.vnet_name, request.subnet, subnet_id)
    tags = validate_tags(request.tags)
    license_type = validate_license_type(request.license_type)
    key_vault = validate_key_vault_secret(request.key_vault_id, request.key_vault_secret,
                                          password_file_given=request.password_file_given)
    warnings = tuple(w for w in (size.warning,) if w)
    return VmCreateSpec(
        name=name,
        image_urn=urn,
        image_sku=sku,
        image_version=version,
        resource_group=resource_group,
        location=location,
        size=size.name,
        size_known=size.known,
        os_disk_type=size.os_disk_type,
        zone=zone,
        availability_set=avset,
        computer_name=computer_name,
        admin_username=username,
        admin_password=password,
        reboot_setting=reboot,
        public_ip=public_ip,
        rdp_from=rdp_from,
        subnet_id=network.subnet_id,
        tags=tuple(tags.items()),
        warnings=warnings,
        network=network,
        license_type=license_type,
        key_vault=key_vault,
    )


@dataclass(frozen=True)
class VmssCreateRequest:
    """Raw `hpctl vmss create` input as the command received it."""

    name: str
    image: str
    resource_group: str | None = None
    location: str | None = None
    size: str | None = None
    zones: tuple[str, ...] | list[str] | None = None
    orchestration_mode: str | None = None
    instance_count: int | str = 2
    computer_name_prefix: str | None = None
    admin_username: str = DEFAULT_ADMIN_USERNAME
    admin_password: str | None = field(default=None, repr=False)
    admin_password_source: str = "the admin password"
    reboot_setting: str | None = None
    rdp_from: str | None = None
    subnet_id: str | None = None
    tags: Mapping[str, str] | tuple[str, ...] | list[str] | None = None
    health_protocol: str | None = None
    health_port: int | str | None = None
    health_path: str | None = None


@dataclass(frozen=True)
class VmssCreateSpec:
    """Validated, normalised `hpctl vmss create` values (always a Flexible scale set)."""

    name: str
    image_urn: str
    image_sku: str
    image_version: str
    resource_group: str | None
    location: str | None
    size: str
    size_known: bool
    os_disk_type: str
    zones: tuple[str, ...]
    orchestration_mode: str
    instance_count: int
    computer_name_prefix: str
    admin_username: str
    admin_password: str | None = field(repr=False)
    reboot_setting: str
    rdp_from: str | None
    subnet_id: str | None
    tags: tuple[tuple[str, str], ...]
    health_protocol: str
    health_port: int
    health_path: str
    warnings: tuple[str, ...] = ()

    @property
    def tags_dict(self) -> dict[str, str]:
        return dict(self.tags)

    def template_parameters(
        self, *, password: str | None = None, redact_password: bool = False
    ) -> dict[str, dict[str, Any]]:
        """ARM `parameters` for templates/hotpatch-vmss-flex.json (deployment body form)."""
        secret = password if password is not None else self.admin_password
        if secret is None and not redact_password:
            raise ValueError("no admin password: pass password= (a generated one) or redact_password=True")
        values: dict[str, Any] = {
            "vmssName": self.name,
            "vmSize": self.size,
            "imageSku": self.image_sku,
            "imageVersion": self.image_version,
            "adminUsername": self.admin_username,
            "adminPassword": "***" if redact_password else secret,
            "computerNamePrefix": self.computer_name_prefix,
            "instanceCount": self.instance_count,
            "zones": list(self.zones),
            "rebootSetting": self.reboot_setting,
            "rdpSourceAddressPrefix": self.rdp_from or "",
            "subnetId": self.subnet_id or "",
            "osDiskType": self.os_disk_type,
            "healthProtocol": self.health_protocol,
            "healthPort": self.health_port,
            "healthRequestPath": self.health_path,
            "tags": self.tags_dict,
        }
        if self.location:
            values["location"] = self.location
        return {key: {"value": value} for key, value in values.items()}


def validate_vmss_create(request: VmssCreateRequest) -> VmssCreateSpec:
    """Run every `vmss create` check; Uniform orchestration is refused before anything else is looked at."""
    mode = validate_orchestration_mode(request.orchestration_mode)
    name = validate_resource_name(request.name, "--name", "scale set")
    resource_group = (
        validate_resource_group_name(request.resource_group) if request.resource_group is not None else None
    )
    urn, sku, version = _common_image(request.image)
    location = validate_location(request.location) if request.location else None
    size = validate_size(request.size)
    zones = validate_zones(request.zones)
    count = validate_instance_count(request.instance_count)
    if request.computer_name_prefix:
        prefix = validate_computer_name_prefix(request.computer_name_prefix)
    else:
        prefix = validate_computer_name_prefix(name, "--name")
    username = validate_admin_username(request.admin_username)
    if request.admin_password is not None:
        validate_admin_password(request.admin_password, username, request.admin_password_source)
    reboot = validate_reboot_setting(request.reboot_setting)
    rdp_from = validate_rdp_source(request.rdp_from)
    subnet_id = validate_subnet_id(request.subnet_id)
    tags = validate_tags(request.tags)
    proto, port_number, path = validate_health_probe(
        request.health_protocol, request.health_port, request.health_path
    )
    return VmssCreateSpec(
        name=name,
        image_urn=urn,
        image_sku=sku,
        image_version=version,
        resource_group=resource_group,
        location=location,
        size=size.name,
        size_known=size.known,
        os_disk_type=size.os_disk_type,
        zones=zones,
        orchestration_mode=mode,
        instance_count=count,
        computer_name_prefix=prefix,
        admin_username=username,
        admin_password=request.admin_password,
        reboot_setting=reboot,
        rdp_from=rdp_from,
        subnet_id=subnet_id,
        tags=tuple(tags.items()),
        health_protocol=proto,
        health_port=port_number,
        health_path=path,
        warnings=tuple(w for w in (size.warning,) if w),
    )

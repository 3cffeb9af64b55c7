"""Parse which VMs and Arc machines a command targets (-n/-g/--ids/--tag/--kind) into a TargetSpec, as az users
expect."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from hpctl.errors import InputError

Scope = Literal["vms", "resource-group", "subscription"]
# What a target is: an Azure VM (Microsoft.Compute) or an Arc-connected machine (Microsoft.HybridCompute, which
# includes Azure Local VMs). --kind all reads both.
VM_KIND = "vm"
ARC_KIND = "arc"
ALL_KINDS = "all"
KINDS = (VM_KIND, ARC_KIND, ALL_KINDS)
PROVIDERS = {VM_KIND: ("Microsoft.Compute", "virtualMachines"), ARC_KIND: ("Microsoft.HybridCompute", "machines")}

_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Resource group names: letters, digits, '_', '-', '.', '(' and ')', 1-90 characters, not ending in '.'.
_RG_RE = re.compile(r"^[\w\-.()]{1,90}$", re.UNICODE)
# VM resource names: 1-64 characters without the characters ARM forbids in resource names.
_VM_FORBIDDEN = set(" \t\\/\"'[]:|<>+=;,?*@&#%")
_TAG_KEY_FORBIDDEN = set("<>%&\\?/")
_ID_SHAPE = (
    "/subscriptions/{subscription-id}/resourceGroups/{group}"
    "/providers/Microsoft.Compute/virtualMachines/{name} (or Microsoft.HybridCompute/machines/{name})"
)


@dataclass(frozen=True)
class VmRef:
    """One explicitly named VM or Arc machine; subscription is set when it came from an --ids resource id.

    kind is "vm" or "arc" when the id said which; a name given with -n under --kind all is "all" until read.
    """

    resource_group: str
    name: str
    subscription: str | None = None
    kind: str = VM_KIND

    def resource_id(self, subscription: str | None = None, kind: str | None = None) -> str:
        """The ARM id; the subscription from --ids wins over the one the command runs in."""
        sub = self.subscription or subscription
        if not sub:
            raise InputError(
                f"No subscription for {self.name}; pass -s/--subscription or set AZURE_SUBSCRIPTION_ID."
            )
        provider, type_name = PROVIDERS[kind or (self.kind if self.kind != ALL_KINDS else VM_KIND)]
        return f"/subscriptions/{sub}/resourceGroups/{self.resource_group}/providers/{provider}/{type_name}/{self.name}"

    def key(self) -> tuple[str, str, str]:
        """Identity for de-duplication: ARM names are case-insensitive."""
        return ((self.subscription or "").lower(), self.resource_group.lower(), self.name.lower())


@dataclass(frozen=True)
class TagFilter:
    """--tag key=value (value compared exactly) or --tag key (the tag is present with any value)."""

    key: str
    value: str | None = None

    def matches(self, tags: Mapping[str, str] | None) -> bool:
        """Azure tag names are case-insensitive; tag values are case-sensitive."""
        wanted = self.key.lower()
        for key, value in (tags or {}).items():
            if key.lower() == wanted:
                return self.value is None or value == self.value
        return False


@dataclass(frozen=True)
class TargetSpec:
    """Which VMs to act on: named VMs, every VM of a group, or the whole subscription; then the tag filter."""

    scope: Scope
    vms: tuple[VmRef, ...] = ()
    resource_group: str | None = None
    tag_filters: tuple[TagFilter, ...] = ()
    kind: str = ALL_KINDS

    def includes(self, kind: str) -> bool:
        """True when targets of this kind ("vm" or "arc") are in scope."""
        return self.kind in (ALL_KINDS, kind)

    def matches_tags(self, tags: Mapping[str, str] | None) -> bool:
        """True when a VM with these tags passes every --tag filter (all must match)."""
        return all(tag_filter.matches(tags) for tag_filter in self.tag_filters)

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Subscriptions named by --ids (empty for -n/-g/no target: the command's own subscription)."""
        return tuple(dict.fromkeys(vm.subscription for vm in self.vms if vm.subscription))


def _check_resource_group(value: str, flag: str) -> str:
    group = value.strip()
    if not group:
        raise InputError(f"{flag} is empty; give the name of a resource group.")
    if not _RG_RE.match(group) or group.endswith("."):
        raise InputError(
            f"{flag} '{value}' is not a valid resource group name; use up to 90 letters, digits, "
            "'_', '-', '.', '(' or ')', not ending in '.'."
        )
    return group


def _check_vm_name(value: str, flag: str) -> str:
    name = value.strip()
    if not name:
        raise InputError(f"{flag} is empty; give a VM name, or leave {flag} out to target the whole group.")
    bad = sorted(set(name) & _VM_FORBIDDEN)
    if bad or len(name) > 64:
        what = f"contains {''.join(bad)!r}" if bad else "is longer than 64 characters"
        raise InputError(
            f"{flag} '{value}' {what}; give the name as Azure shows it (1-64 letters, digits, '-', '_', '.')."
        )
    return name


def parse_vm_id(text: str) -> VmRef:
    """Parse a VM or Arc machine resource id (segment names case-insensitive); InputError naming what's wrong."""
    raw = text.strip()
    if not raw:
        raise InputError(f"--ids has an empty value; give VM resource ids like {_ID_SHAPE}.")
    segments = raw.strip("/").split("/")
    if not raw.startswith("/") or len(segments) != 8 or any(not s for s in segments):
        extra = ""
        lowered = [s.lower() for s in segments]
        if "virtualmachinescalesets" in lowered:
            extra = " (a scale set or scale-set instance id; target the VMs of a Flexible scale set by VM id)"
        raise InputError(f"--ids '{text}' is not a VM resource id{extra}; use the form {_ID_SHAPE}.")
    expected = {0: "subscriptions", 2: "resourceGroups", 4: "providers"}
    for index, word in expected.items():
        if segments[index].lower() != word.lower():
            raise InputError(
                f"--ids '{text}' has '{segments[index]}' where '{word}' belongs; use the form {_ID_SHAPE}."
            )
    kind = next((k for k, (provider, _) in PROVIDERS.items() if provider.lower() == segments[5].lower()), None)
    if kind is None:
        raise InputError(
            f"--ids '{text}' has '{segments[5]}' where 'Microsoft.Compute' (or 'Microsoft.HybridCompute') belongs; "
            f"use the form {_ID_SHAPE}."
        )
    if segments[6].lower() != PROVIDERS[kind][1].lower():
        what = "virtual machine" if kind == VM_KIND else "Arc machine"
        raise InputError(
            f"--ids '{text}' is a {segments[5]}/{segments[6]} id, not a {what}; "
            f"give VM or Arc machine ids of the form {_ID_SHAPE}."
        )
    if not _GUID_RE.match(segments[1]):
        raise InputError(
            f"--ids '{text}' has subscription '{segments[1]}', which is not a GUID; copy the id from "
            "az vm list --query [].id or the portal."
        )
    group = _check_resource_group(segments[3], "--ids resource group")
    name = _check_vm_name(segments[7], "--ids VM name" if kind == VM_KIND else "--ids machine name")
    return VmRef(resource_group=group, name=name, subscription=segments[1].lower(), kind=kind)


def parse_kind(text: str | None) -> str:
    """--kind vm|arc|all (default all), case-insensitive."""
    value = (text or ALL_KINDS).strip().lower()
    if value not in KINDS:
        raise InputError(f"--kind {text!r} is not a kind of target; use vm, arc or all.")
    return value


def parse_tag(text: str) -> TagFilter:
    """'key=value' (exact value, may be empty) or 'key' (tag present)."""
    raw = text.strip()
    if not raw:
        raise InputError("--tag is empty; give key=value, or key alone to match any value.")
    key, sep, value = raw.partition("=")
    key = key.strip()
    if not key:
        raise InputError(f"--tag '{text}' has no key before '='; give key=value, e.g. --tag env=prod.")
    bad = sorted(set(key) & _TAG_KEY_FORBIDDEN)
    if bad or len(key) > 512:
        what = f"contains {''.join(bad)!r}" if bad else "is longer than 512 characters"
        raise InputError(f"--tag key '{key}' {what}, which Azure tag names can't; fix the key.")
    if sep and len(value) > 256:
        raise InputError(f"--tag '{key}' has a value longer than Azure's 256 characters; shorten it.")
    # Values are kept as typed (no strip): Azure compares tag values exactly.
    return TagFilter(key=key, value=value if sep else None)


def parse_targets(
    names: list[str] | None,
    resource_group: str | None,
    ids: list[str] | None,
    tags: list[str] | None,
    kind: str | None = None,
) -> TargetSpec:
    """Turn -n (repeatable), -g, --ids, --tag and --kind into a TargetSpec; reject combinations az would misread."""
    wanted = parse_kind(kind)
    names = list(names or [])
    ids = list(ids or [])
    if ids and (names or resource_group is not None):
        raise InputError(
            "--ids can't be combined with -n/--name or -g/--resource-group; give either --ids, or -g with -n."
        )
    if names and resource_group is None:
        raise InputError("-n/--name needs -g/--resource-group; give -g GROUP -n NAME, or use --ids.")

    tag_filters: dict[str, TagFilter] = {}
    for text in tags or []:
        tag = parse_tag(text)
        previous = tag_filters.get(tag.key.lower())
        if previous is None or previous.value is None:
            # A valued filter is stricter than 'key present', so it replaces it.
            tag_filters[tag.key.lower()] = tag
        elif tag.value is not None and tag.value != previous.value:
            # Filters are ANDed, so two values for one key could never match any VM.
            raise InputError(
                f"--tag '{tag.key}' is given twice with different values; a VM has one value per tag, "
                "so give the key once."
            )
    filters = tuple(tag_filters.values())

    if ids:
        vms = {}
        for text in ids:
            for part in text.split():
                # az takes space-separated ids in one argument, e.g. from $(az vm list --query [].id -o tsv).
                vm = parse_vm_id(part)
                if wanted != ALL_KINDS and vm.kind != wanted:
                    what, only = ("an Arc machine", "VMs") if vm.kind == ARC_KIND else ("a VM", "Arc machines")
                    raise InputError(
                        f"--ids '{part}' is {what} but only {only} are targeted here (--kind {wanted}, or a command "
                        f"for {only} only); leave the id out, or use --kind all where the command has it."
                    )
                vms.setdefault(vm.key(), vm)
        if not vms:
            raise InputError(f"--ids has no ids; give VM resource ids like {_ID_SHAPE}.")
        return TargetSpec(scope="vms", vms=tuple(vms.values()), tag_filters=filters, kind=wanted)

    if resource_group is not None:
        group = _check_resource_group(resource_group, "-g/--resource-group")
        if names:
            refs: dict[tuple[str, str, str], VmRef] = {}
            for text in names:
                vm = VmRef(resource_group=group, name=_check_vm_name(text, "-n/--name"), kind=wanted)
                refs.setdefault(vm.key(), vm)
            return TargetSpec(
                scope="vms", vms=tuple(refs.values()), resource_group=group, tag_filters=filters, kind=wanted
            )
        return TargetSpec(scope="resource-group", resource_group=group, tag_filters=filters, kind=wanted)

    return TargetSpec(scope="subscription", tag_filters=filters, kind=wanted)

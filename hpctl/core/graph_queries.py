"""The Azure Resource Graph (KQL) queries hpctl sends: fleet reads in a few paged queries, not a call per VM.

They follow Microsoft's published samples for the Update Manager tables (patchassessmentresources,
patchinstallationresources) and stay within a small KQL subset: where (==, =~, !=, in~, startswith,
>=, and, or), extend, project, order by, union, tolower(), tostring(), todatetime(), ago().
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

VM_TYPE = "microsoft.compute/virtualmachines"
VMSS_TYPE = "microsoft.compute/virtualmachinescalesets"
ASSESSMENT_TYPE = "microsoft.compute/virtualmachines/patchassessmentresults"
INSTALLATION_TYPE = "microsoft.compute/virtualmachines/patchinstallationresults"
ASSESSMENT_PATCH_TYPE = ASSESSMENT_TYPE + "/softwarepatches"
INSTALLATION_PATCH_TYPE = INSTALLATION_TYPE + "/softwarepatches"
# Update Manager schedules: configurations live in `resources`, their assignments in `maintenanceresources`.
MAINTENANCE_CONFIG_TYPE = "microsoft.maintenance/maintenanceconfigurations"
MAINTENANCE_ASSIGNMENT_TYPE = "microsoft.maintenance/configurationassignments"
# Arc machines (Azure Local VMs among them): Update Manager keeps their results in the same tables under their
# own types (azure-wire.md §9.8).
ARC_TYPE = "microsoft.hybridcompute/machines"
ARC_ASSESSMENT_TYPE = ARC_TYPE + "/patchassessmentresults"
ARC_INSTALLATION_TYPE = ARC_TYPE + "/patchinstallationresults"
ARC_ASSESSMENT_PATCH_TYPE = ARC_ASSESSMENT_TYPE + "/softwarepatches"
ARC_INSTALLATION_PATCH_TYPE = ARC_INSTALLATION_TYPE + "/softwarepatches"
# What each record type is, whichever kind of machine it belongs to.
ASSESSMENT = "assessment"
INSTALLATION = "installation"
ASSESSMENT_PATCH = "assessment-patch"
INSTALLATION_PATCH = "installation-patch"
_RECORD_KINDS = {
    ASSESSMENT_TYPE: ASSESSMENT, ARC_ASSESSMENT_TYPE: ASSESSMENT,
    INSTALLATION_TYPE: INSTALLATION, ARC_INSTALLATION_TYPE: INSTALLATION,
    ASSESSMENT_PATCH_TYPE: ASSESSMENT_PATCH, ARC_ASSESSMENT_PATCH_TYPE: ASSESSMENT_PATCH,
    INSTALLATION_PATCH_TYPE: INSTALLATION_PATCH, ARC_INSTALLATION_PATCH_TYPE: INSTALLATION_PATCH,
}
_TYPES_BY_KIND = {
    "vm": {ASSESSMENT: ASSESSMENT_TYPE, INSTALLATION: INSTALLATION_TYPE, ASSESSMENT_PATCH: ASSESSMENT_PATCH_TYPE,
           INSTALLATION_PATCH: INSTALLATION_PATCH_TYPE},
    "arc": {ASSESSMENT: ARC_ASSESSMENT_TYPE, INSTALLATION: ARC_INSTALLATION_TYPE,
            ASSESSMENT_PATCH: ARC_ASSESSMENT_PATCH_TYPE, INSTALLATION_PATCH: ARC_INSTALLATION_PATCH_TYPE},
}
ALL = ("vm", "arc")

# ARG returns at most 1000 rows a page.
PAGE_SIZE = 1000


def quote(value: str) -> str:
    """A KQL string literal (single quotes; backslash and quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _scope(resource_group: str | None, vm_ids: Sequence[str], tags: Iterable[tuple[str, str | None]],
           *, by_prefix: bool) -> list[str]:
    lines = []
    if resource_group:
        lines.append(f"| where resourceGroup =~ {quote(resource_group)}")
    if vm_ids:
        if by_prefix:
            # Child records (patch results) live under the VM's id.
            terms = " or ".join(f"tolower(id) startswith {quote(v.lower().rstrip('/') + '/')}" for v in vm_ids)
        else:
            terms = "tolower(id) in~ (" + ", ".join(quote(v.lower()) for v in vm_ids) + ")"
        lines.append(f"| where {terms}")
    for key, value in tags:
        if value is None:
            lines.append(f"| where isnotnull(tags[{quote(key)}])")
        else:
            lines.append(f"| where tostring(tags[{quote(key)}]) == {quote(value)}")
    return lines


def record_kind(record_type: str | None) -> str | None:
    """assessment, installation, assessment-patch or installation-patch for a patch-result type (VM or Arc)."""
    return _RECORD_KINDS.get((record_type or "").lower())


def _resources_query(type_name: str, resource_group: str | None, ids: Sequence[str],
                     tags: Iterable[tuple[str, str | None]], columns: str) -> str:
    return "\n".join([
        "resources",
        f"| where type =~ {quote(type_name)}",
        *_scope(resource_group, ids, tags, by_prefix=False),
        f"| project {columns}",
        "| order by id asc",
    ])


def vms_query(resource_group: str | None = None, vm_ids: Sequence[str] = (),
              tags: Iterable[tuple[str, str | None]] = ()) -> str:
    """VMs with their model (image, patch settings) and ARG's instance-view extract (osVersion)."""
    return _resources_query(VM_TYPE, resource_group, vm_ids, tags,
                            "id, name, type, location, resourceGroup, subscriptionId, tags, zones, properties")


def arc_machines_query(resource_group: str | None = None, ids: Sequence[str] = (),
                       tags: Iterable[tuple[str, str | None]] = ()) -> str:
    """Arc machines with the agent's report (status, osSku, osVersion), patch settings and license profile;
    `kind` says HCI for an Azure Local VM."""
    return _resources_query(ARC_TYPE, resource_group, ids, tags,
                            "id, name, type, kind, location, resourceGroup, subscriptionId, tags, properties")


# What the report reads of a VM (hpctl.core.compliance.vm_model): Resource Graph projects these columns, so a
# page carries them and not the whole model (about half the bytes). (column, path under properties)
VM_FACT_COLUMNS = (
    ("imageReference", "storageProfile.imageReference"),
    ("osType", "storageProfile.osDisk.osType"),
    ("windowsConfiguration", "osProfile.windowsConfiguration"),
    ("availabilitySet", "availabilitySet"),
    ("instanceView", "extended.instanceView"),
)
_VM_TOP_COLUMNS = ("id", "name", "type", "location", "resourceGroup", "subscriptionId", "tags", "zones")


def vm_facts_query(resource_group: str | None = None, vm_ids: Sequence[str] = (),
                   tags: Iterable[tuple[str, str | None]] = ()) -> str:
    """VMs with only the model and instance-view fields the report judges (vm_from_facts_row rebuilds them)."""
    return "\n".join([
        "resources",
        f"| where type =~ {quote(VM_TYPE)}",
        *_scope(resource_group, vm_ids, tags, by_prefix=False),
        "| project " + ", ".join([*_VM_TOP_COLUMNS, *(f"{column} = properties.{path}"
                                                      for column, path in VM_FACT_COLUMNS)]),
        "| order by id asc",
    ])


def vm_from_facts_row(row: dict[str, Any]) -> dict[str, Any]:
    """A vm_facts_query row in the VM's own ARM shape (properties nested as Azure nests them)."""
    vm = {key: row.get(key) for key in _VM_TOP_COLUMNS}
    props: dict[str, Any] = {}
    for column, path in VM_FACT_COLUMNS:
        value = row.get(column)
        if value is None:
            continue
        node = props
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    vm["properties"] = props
    return vm


def scale_sets_query(resource_group: str | None = None, tags: Iterable[tuple[str, str | None]] = ()) -> str:
    return "\n".join([
        "resources",
        f"| where type =~ {quote(VMSS_TYPE)}",
        *_scope(resource_group, (), tags, by_prefix=False),
        "| project id, name, type, location, resourceGroup, subscriptionId, tags, zones, properties",
        "| order by id asc",
    ])


def _patch_results_query(days: int, types: Sequence[str], resource_group: str | None,
                         vm_ids: Sequence[str]) -> str:
    return "\n".join([
        "patchassessmentresources",
        "| union patchinstallationresources",
        "| where type in~ (" + ", ".join(quote(t) for t in types) + ")",
        f"| where todatetime(properties.lastModifiedDateTime) >= ago({int(days)}d)",
        *_scope(resource_group, vm_ids, (), by_prefix=True),
        "| project id, name, type, resourceGroup, subscriptionId, properties",
        "| order by id asc",
    ])


def _types(kinds: Sequence[str], records: Sequence[str]) -> list[str]:
    return [_TYPES_BY_KIND[kind][record] for kind in kinds for record in records]


def history_query(days: int, resource_group: str | None = None, vm_ids: Sequence[str] = (),
                  *, patches: bool = False, kinds: Sequence[str] = ("vm",)) -> str:
    """Assessments (ARG keeps the latest, 7 days) and installations (30 days) in one paged query, for VMs
    and/or Arc machines (`kinds`)."""
    records = [ASSESSMENT, INSTALLATION] + ([ASSESSMENT_PATCH, INSTALLATION_PATCH] if patches else [])
    return _patch_results_query(days, _types(kinds, records), resource_group, vm_ids)


def latest_patch_results_query(resource_group: str | None = None, vm_ids: Sequence[str] = (),
                               kinds: Sequence[str] = ("vm",)) -> str:
    """For the report: each VM's (or Arc machine's) latest assessment with the patches it found (their age
    matters), and its installations; the patches of past installations are not needed, so they are not read."""
    return _patch_results_query(30, _types(kinds, [ASSESSMENT, INSTALLATION, ASSESSMENT_PATCH]), resource_group,
                                vm_ids)


def maintenance_configurations_query() -> str:
    """Every maintenance configuration (schedule) the caller can read: its scope and window."""
    return "\n".join([
        "resources",
        f"| where type =~ {quote(MAINTENANCE_CONFIG_TYPE)}",
        "| project id, name, type, location, resourceGroup, subscriptionId, properties",
        "| order by id asc",
    ])


def maintenance_assignments_query(vm_ids: Sequence[str] = ()) -> str:
    """Configuration assignments: dynamic scopes (a filter) always; static ones (resourceId is a VM) of the
    given VMs, or of every VM when none are given."""
    lines = ["maintenanceresources", f"| where type =~ {quote(MAINTENANCE_ASSIGNMENT_TYPE)}"]
    if vm_ids:
        wanted = ", ".join(quote(v) for v in sorted({v.lower() for v in vm_ids}))  # one text for one set of VMs
        lines.append(f"| where isnotnull(properties.filter) or tolower(tostring(properties.resourceId)) in~ ({wanted})")
    return "\n".join([*lines, "| project id, name, type, resourceGroup, subscriptionId, properties",
                      "| order by id asc"])


def vm_id_of(record_id: str) -> str:
    """The VM id a patch-result record belongs to (lower case, as ARG compares ids)."""
    lowered = record_id.lower()
    for marker in ("/patchassessmentresults/", "/patchinstallationresults/"):
        if marker in lowered:
            return lowered.split(marker, 1)[0]
    return lowered


def patch_evidence_query(vm_ids: Sequence[str]) -> str:
    """For VMs whose agent reports no update revision: the KBs their installations (30 days) installed and
    those their latest assessment lists, so their track can come from the calendar's KBs."""
    return "\n".join([
        "patchinstallationresources",
        "| union patchassessmentresources",
        f"| where type in~ ({quote(INSTALLATION_PATCH_TYPE)}, {quote(ASSESSMENT_PATCH_TYPE)})",
        *_scope(None, vm_ids, (), by_prefix=True),
        f"| where type =~ {quote(ASSESSMENT_PATCH_TYPE)} or tostring(properties.installationState) == 'Installed'",
        "| project id, type, properties",
        "| order by id asc",
    ])

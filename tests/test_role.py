"""The operator role grants exactly what hpctl uses: every ARM call in the cassettes, the resources the
templates deploy, and the Resource Graph tables hpctl reads; nothing more."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from hpctl.core import graph_queries as q

ROOT = Path(__file__).resolve().parents[1]
ROLE = json.loads((ROOT / "templates" / "hpctl-operator.role.json").read_text())
READER = json.loads((ROOT / "templates" / "hpctl-reader.role.json").read_text())
VERBS = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}

# Resource Graph only returns rows the caller may read: the tables hpctl queries need these.
GRAPH_TABLE_ACTIONS = {
    q.VM_TYPE: "Microsoft.Compute/virtualMachines/read",
    q.VMSS_TYPE: "Microsoft.Compute/virtualMachineScaleSets/read",
    q.ASSESSMENT_TYPE: "Microsoft.Compute/virtualMachines/patchAssessmentResults/latest/read",
    q.ASSESSMENT_PATCH_TYPE: "Microsoft.Compute/virtualMachines/patchAssessmentResults/latest/softwarePatches/read",
    q.INSTALLATION_TYPE: "Microsoft.Compute/virtualMachines/patchInstallationResults/read",
    q.INSTALLATION_PATCH_TYPE: "Microsoft.Compute/virtualMachines/patchInstallationResults/softwarePatches/read",
    q.MAINTENANCE_CONFIG_TYPE: "Microsoft.Maintenance/maintenanceConfigurations/read",
    q.MAINTENANCE_ASSIGNMENT_TYPE: "Microsoft.Maintenance/configurationAssignments/read",
    q.ARC_TYPE: "Microsoft.HybridCompute/machines/read",
    q.ARC_ASSESSMENT_TYPE: "Microsoft.HybridCompute/machines/patchAssessmentResults/read",
    q.ARC_ASSESSMENT_PATCH_TYPE: "Microsoft.HybridCompute/machines/patchAssessmentResults/softwarePatches/read",
    q.ARC_INSTALLATION_TYPE: "Microsoft.HybridCompute/machines/patchInstallationResults/read",
    q.ARC_INSTALLATION_PATCH_TYPE: "Microsoft.HybridCompute/machines/patchInstallationResults/softwarePatches/read",
}
# The one delete: vm enable-hotpatch --leave-schedule removes the VM's configuration assignment (the schedule
# itself stays); the cassettes hold that DELETE, so needed() requires it too.
ALLOWED_DELETES = {"microsoft.maintenance/configurationassignments/delete"}


def action_for(method: str, uri: str) -> str:
    """The RBAC action ARM checks for a request (provider namespace, resource types, then the verb)."""
    parts = [p for p in urlsplit(uri).path.split("/") if p]
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        # /subscriptions/{sub}/resourcegroups[/{rg}]
        return f"Microsoft.Resources/subscriptions/resourceGroups/{VERBS[method]}"
    at = len(lowered) - 1 - lowered[::-1].index("providers")
    namespace, rest = parts[at + 1], parts[at + 2:]
    if namespace.lower() == "microsoft.resourcegraph":
        return "Microsoft.ResourceGraph/resources/read"
    types = [segment for index, segment in enumerate(rest) if index % 2 == 0]
    # Image paths carry the artifact type as a name ("vmimage"), which actions leave out.
    if method == "POST" and len(rest) % 2 == 1:
        return f"{namespace}/{'/'.join(types)}/action"
    return f"{namespace}/{'/'.join(types)}/{VERBS[method]}"


def is_read(request: dict) -> bool:
    """A request that changes nothing: a GET/HEAD, or a Resource Graph query (a POST that only reads)."""
    return request["method"] in ("GET", "HEAD") or "/microsoft.resourcegraph/" in request["uri"].lower()


def cassette_actions(reads_only: bool = False) -> set[str]:
    """Every action the recordings use; with reads_only, those of read commands: a recording without a
    single write is a read command's."""
    actions = set()
    for path in (ROOT / "cassettes").rglob("*.yaml"):
        interactions = yaml.safe_load(path.read_text())["interactions"]
        if reads_only and not all(is_read(i["request"]) for i in interactions):
            continue
        for interaction in interactions:
            request = interaction["request"]
            if request["method"] == "POST" and urlsplit(request["uri"]).path.lower().endswith("/register"):
                # azure-mgmt-core's ARMAutoResourceProviderRegistrationPolicy tries this by itself after a
                # MissingSubscriptionRegistration answer; hpctl works without it, so the roles don't grant it.
                continue
            actions.add(action_for(request["method"], request["uri"]))
            if request["method"] == "PUT" and '"keyVault"' in str(request.get("body") or ""):
                # A deployment whose parameter is a Key Vault reference: ARM checks the deployer may use the vault.
                actions.add("Microsoft.KeyVault/vaults/deploy/action")
    return actions


def template_actions() -> set[str]:
    """Deploying a template needs write (and read) on each resource type in it, and join on what a
    resource attaches: the subnet, the NSG, the NIC, the public IP."""
    actions: set[str] = set()
    for name in ("hotpatch-vm.json", "hotpatch-vmss-flex.json"):
        text = (ROOT / "templates" / name).read_text()
        for resource in json.loads(text)["resources"]:
            actions |= {f"{resource['type']}/write", f"{resource['type']}/read"}
        for joined in ("virtualNetworks/subnets", "networkSecurityGroups", "networkInterfaces",
                       "publicIPAddresses"):
            if joined.split("/")[-1] in text:
                actions.add(f"Microsoft.Network/{joined}/join/action")
        if "availabilitySet" in text:
            actions.add("Microsoft.Compute/availabilitySets/read")
        if "/subnets" in text:
            actions.add("Microsoft.Network/virtualNetworks/subnets/read")
    return actions


def needed() -> set[str]:
    return {a.lower() for a in cassette_actions() | template_actions() | set(GRAPH_TABLE_ACTIONS.values())}


def test_role_is_well_formed_and_narrow():
    assert ROLE["IsCustom"] is True and ROLE["AssignableScopes"] == ["/subscriptions/{subscriptionId}"]
    assert ROLE["DataActions"] == [] and ROLE["NotActions"] == []
    assert not [a for a in ROLE["Actions"] if "*" in a]
    assert {a.lower() for a in ROLE["Actions"] if a.lower().endswith("/delete")} == ALLOWED_DELETES


def test_every_call_hpctl_makes_is_allowed():
    granted = {a.lower() for a in ROLE["Actions"]}
    missing = sorted(needed() - granted)
    assert not missing, f"the role lacks {missing}"


def test_the_role_grants_nothing_hpctl_does_not_use():
    extra = sorted({a.lower() for a in ROLE["Actions"]} - needed())
    assert not extra, f"the role grants {extra}, which no command uses"


def test_action_mapping_examples():
    vm = "https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/v"
    assert action_for("POST", vm + "/assessPatches") == "Microsoft.Compute/virtualMachines/assessPatches/action"
    assert action_for("POST", vm + "/runCommand") == "Microsoft.Compute/virtualMachines/runCommand/action"
    assert action_for("POST", vm + "/restart") == "Microsoft.Compute/virtualMachines/restart/action"
    assert action_for("GET", vm + "?$expand=instanceView") == "Microsoft.Compute/virtualMachines/read"
    assert action_for("GET", "https://management.azure.com/subscriptions/s/providers/Microsoft.Compute/locations/"
                      "eastus/operations/1?p=2") == "Microsoft.Compute/locations/operations/read"
    assert action_for("PUT", "https://management.azure.com/subscriptions/s/resourcegroups/rg") == (
        "Microsoft.Resources/subscriptions/resourceGroups/write")
    assert action_for("DELETE", vm + "/providers/Microsoft.Maintenance/configurationAssignments/mc?api-version=1") == (
        "Microsoft.Maintenance/configurationAssignments/delete")
    arc = "https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.HybridCompute/machines/m"
    assert action_for("PUT", arc + "/licenseProfiles/default?api-version=2024-07-10") == (
        "Microsoft.HybridCompute/machines/licenseProfiles/write")
    assert action_for("POST", arc + "/installPatches") == "Microsoft.HybridCompute/machines/installPatches/action"


def needed_reads() -> set[str]:
    return {a.lower() for a in cassette_actions(reads_only=True) | set(GRAPH_TABLE_ACTIONS.values())}


def test_reader_role_is_well_formed_and_read_only():
    assert READER["IsCustom"] is True and READER["AssignableScopes"] == ["/subscriptions/{subscriptionId}"]
    assert READER["DataActions"] == [] and READER["NotActions"] == [] and READER["NotDataActions"] == []
    assert all(a.lower().endswith("/read") for a in READER["Actions"]), READER["Actions"]
    assert not [a for a in READER["Actions"] if "*" in a]


def test_reader_role_grants_exactly_what_the_read_commands_use():
    granted = {a.lower() for a in READER["Actions"]}
    assert len(cassette_actions(reads_only=True)) >= 5, "the read commands' recordings were not found"
    assert not sorted(needed_reads() - granted), f"the reader role lacks {sorted(needed_reads() - granted)}"
    assert not sorted(granted - needed_reads()), f"the reader role grants {sorted(granted - needed_reads())}"
    assert granted <= {a.lower() for a in ROLE["Actions"]}, "the operator role covers everything the reader does"

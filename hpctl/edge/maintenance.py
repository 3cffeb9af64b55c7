"""Microsoft.Maintenance calls hpctl makes (azure-mgmt-maintenance 2.1.0, api-version 2023-04-01)."""

from __future__ import annotations

from hpctl.edge.clients import Connection


def delete_vm_assignment(conn: Connection, resource_group: str, vm: str, assignment: str) -> None:
    """Remove one configuration assignment from a VM (the VM leaves that schedule; the schedule stays)."""
    conn.maintenance.configuration_assignments.delete(resource_group, "Microsoft.Compute", "virtualMachines", vm,
                                                      assignment)

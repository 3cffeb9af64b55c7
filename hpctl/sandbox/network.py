"""Microsoft.Network state (VNets and subnets, NSGs, public IPs, NICs) and a generic store for other types."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from hpctl.sandbox.armerrors import ArmError, resource_not_found
from hpctl.sandbox.ids import stable_guid
from hpctl.sandbox.images import normalize_location
from hpctl.sandbox.keyvault import SECRET, SecretValues
from hpctl.sandbox.resources import ResourceGroups

VNET = "Microsoft.Network/virtualNetworks"
SUBNET = "Microsoft.Network/virtualNetworks/subnets"
NSG = "Microsoft.Network/networkSecurityGroups"
RULE = "Microsoft.Network/networkSecurityGroups/securityRules"
PIP = "Microsoft.Network/publicIPAddresses"
NIC = "Microsoft.Network/networkInterfaces"
NETWORK_TYPES = {t.lower(): t for t in (VNET, NSG, PIP, NIC)}
# Child types a template may declare on their own; they land inside their parent, as on Azure.
CHILD_TYPES = {SUBNET.lower(): (VNET, "subnets", SUBNET), RULE.lower(): (NSG, "securityRules", RULE)}

# Every NSG carries these six rules (Azure's defaults, lowest priority).
DEFAULT_RULES: tuple[tuple[str, str, int, str, str, str, str], ...] = (
    ("AllowVnetInBound", "Allow inbound traffic from all VMs in VNET", 65000, "Inbound", "Allow",
     "VirtualNetwork", "VirtualNetwork"),
    ("AllowAzureLoadBalancerInBound", "Allow inbound traffic from azure load balancer", 65001, "Inbound", "Allow",
     "AzureLoadBalancer", "*"),
    ("DenyAllInBound", "Deny all inbound traffic", 65500, "Inbound", "Deny", "*", "*"),
    ("AllowVnetOutBound", "Allow outbound traffic from all VMs to all VMs in VNET", 65000, "Outbound", "Allow",
     "VirtualNetwork", "VirtualNetwork"),
    ("AllowInternetOutBound", "Allow outbound traffic from all VMs to Internet", 65001, "Outbound", "Allow", "*",
     "Internet"),
    ("DenyAllOutBound", "Deny all outbound traffic", 65500, "Outbound", "Deny", "*", "*"),
)


def bad_request(message: str = "Cannot parse the request.") -> ArmError:
    return ArmError(400, "InvalidRequestFormat", message)


def missing_reference(target: str, referrer: str) -> ArmError:
    # The Network RP's text for a reference to something that does not exist.
    return ArmError(
        400,
        "InvalidResourceReference",
        f"Resource {target} referenced by resource {referrer} was not found. Please make sure that the referenced "
        "resource exists, and that both resources are in the same region.",
    )


class ResourceStore:
    """Resources kept as their GET bodies by lower-case id: the four network types, plus any other type."""

    def __init__(self, subscription: str, groups: ResourceGroups, regions: tuple[str, ...]) -> None:
        self.subscription = subscription
        self.groups = groups
        self.regions = regions
        self._items: dict[str, dict[str, Any]] = {}
        self._next_ip: dict[str, int] = {}  # subnet id -> next host number (Azure hands out .4 first)
        self._writes = 0  # each write gets a new etag, shared by the resource and its children
        self.secrets = SecretValues()

    # -- lookups --------------------------------------------------------------------------------------

    def resource_id(self, group: str, type_name: str, name: str) -> str:
        namespace, *types = type_name.split("/")
        path = f"/subscriptions/{self.subscription}/resourceGroups/{group}/providers/{namespace}"
        for type_part, part in zip(types, name.split("/"), strict=False):
            path += f"/{type_part}/{part}"
        return path

    def find(self, resource_id: str) -> dict[str, Any] | None:
        lowered = resource_id.rstrip("/").lower()
        item = self._items.get(lowered)
        if item is not None:
            return item
        # A child (subnet, rule) is found inside its parent.
        for child, (parent_type, key, _) in CHILD_TYPES.items():
            parent_key, child_name = _split_child(lowered, child)
            parent = self._items.get(parent_key) if child_name else None
            if parent is not None and parent["type"].lower() == parent_type.lower():
                for entry in parent["properties"].get(key, []):
                    if entry.get("name", "").lower() == child_name:
                        return entry
        return None

    def get(self, group: str, type_name: str, name: str) -> dict[str, Any]:
        resource_group = self.groups.get(group)
        found = self.find(self.resource_id(resource_group.name, type_name, name))
        if found is None:
            raise resource_not_found(type_name, name, resource_group.name)
        return copy.deepcopy(found)

    def list(self, group: str | None, type_name: str) -> list[dict[str, Any]]:
        if group is not None:
            self.groups.get(group)
        out = []
        for key, item in self._items.items():
            if item["type"].lower() != type_name.lower():
                continue
            if group is not None and key.split("/")[4] != group.lower():
                continue
            out.append(copy.deepcopy(item))
        return sorted(out, key=lambda item: item["id"].lower())

    def ids_in(self, group: str) -> list[str]:
        return [item["id"] for key, item in self._items.items() if key.split("/")[4] == group.lower()]

    def delete(self, resource_id: str) -> None:
        self._items.pop(resource_id.lower(), None)

    # -- writes ---------------------------------------------------------------------------------------

    def put(self, group: str, type_name: str, name: str, body: Any) -> dict[str, Any]:
        """Create or replace a resource as its provider would; returns the GET body."""
        resource_group = self.groups.get(group)
        if not isinstance(body, dict):
            raise bad_request()
        key = type_name.lower()
        resource_id = self.resource_id(resource_group.name, type_name, name)
        if key in CHILD_TYPES:
            return self._put_child(resource_id, key, body)
        location = self._location(body, type_name, resource_group.location)
        existing = self._items.get(resource_id.lower())
        guid = existing["properties"].get("resourceGuid") if existing else stable_guid("net", resource_id.lower())
        canonical = NETWORK_TYPES.get(key, type_name)
        item: dict[str, Any] = {"name": name.split("/")[-1] if key in NETWORK_TYPES else name, "id": resource_id}
        self._writes += 1
        etag = f'W/"{stable_guid("etag", resource_id.lower(), self._writes)}"'
        if key in NETWORK_TYPES:
            item["etag"] = etag
        item["type"] = canonical
        item["location"] = location
        if body.get("tags") is not None:
            item["tags"] = dict(body["tags"])
        for extra in ("zones", "sku", "kind", "identity", "plan"):
            if body.get(extra) is not None:
                item[extra] = copy.deepcopy(body[extra])
        props = copy.deepcopy(body.get("properties") or {})
        if not isinstance(props, dict):
            raise bad_request()
        if key == VNET.lower():
            item["properties"] = self._vnet(resource_id, name.split("/")[-1], props, guid, etag)
        elif key == NSG.lower():
            item["properties"] = self._nsg(resource_id, props, guid, etag)
        elif key == PIP.lower():
            item["properties"] = self._pip(resource_id, props, guid, item)
        elif key == NIC.lower():
            item["properties"] = self._nic(resource_id, props, guid, existing, etag)
        elif key == SECRET.lower():
            if self.find(resource_id.rsplit("/secrets/", 1)[0]) is None:
                raise ArmError(404, "ParentResourceNotFound", "Can not perform requested operation on nested "
                               f"resource. Parent resource '{name.split('/')[0]}' not found.")
            item["properties"] = self.secrets.store(resource_id, props)
        else:
            item["properties"] = {**props, "provisioningState": "Succeeded"}
        self._items[resource_id.lower()] = item
        return copy.deepcopy(item)

    def _location(self, body: dict[str, Any], type_name: str, default: str) -> str:
        raw = body.get("location")
        if not isinstance(raw, str) or not raw.strip():
            if type_name.lower() in NETWORK_TYPES:
                raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
            return default
        region = normalize_location(raw)
        if region not in self.regions and region != "global":
            raise ArmError(
                400,
                "LocationNotAvailableForResourceType",
                f"The provided location '{raw}' is not available for resource type '{type_name}'. List of "
                f"available regions for the resource type is '{','.join(self.regions)}'.",
            )
        return region

    def _put_child(self, resource_id: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
        parent_type, collection, child_type = CHILD_TYPES[key]
        parent_key, _ = _split_child(resource_id.lower(), key)
        parent_id = resource_id[: len(parent_key)]
        child_name = resource_id[len(parent_key) + len(child_type.split("/")[-1]) + 2 :]
        parent = self._items.get(parent_key)
        if parent is None:
            raise ArmError(
                404,
                "ParentResourceNotFound",
                f"Can not perform requested operation on nested resource. Parent resource "
                f"'{parent_id.split('/')[-1]}' not found.",
            )
        children = [c for c in parent["properties"].get(collection, []) if c["name"].lower() != child_name.lower()]
        children.append({"name": child_name, "properties": copy.deepcopy(body.get("properties") or {})})
        raw = {**parent, "properties": {**parent["properties"], collection: children}}
        group = parent_id.split("/")[4]
        rebuilt = self.put(group, parent_type, parent["name"], raw)
        return next(c for c in rebuilt["properties"][collection] if c["name"].lower() == child_name.lower())

    def _child(self, parent_id: str, collection: str, child_type: str, item: Any, etag: str) -> dict[str, Any]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise bad_request()
        props = {k: v for k, v in copy.deepcopy(item.get("properties") or {}).items() if k != "provisioningState"}
        return {
            "name": item["name"],
            "id": f"{parent_id}/{collection}/{item['name']}",
            "etag": etag,
            "type": child_type,
            "properties": {"provisioningState": "Succeeded", **props},
        }

    def _vnet(
        self, vnet_id: str, name: str, props: dict[str, Any], guid: str, etag: str
    ) -> dict[str, Any]:
        prefixes = (props.get("addressSpace") or {}).get("addressPrefixes") or []
        try:
            networks = [ipaddress.ip_network(p, strict=False) for p in prefixes]
        except ValueError:
            raise bad_request(f"Address space of virtual network {vnet_id} is not valid.") from None
        subnets = []
        for raw in props.get("subnets") or []:
            subnet = self._child(vnet_id, "subnets", SUBNET, raw, etag)
            prefix = subnet["properties"].get("addressPrefix")
            try:
                net = ipaddress.ip_network(prefix, strict=False) if isinstance(prefix, str) else None
            except ValueError:
                net = None
            if net is None or not any(net.subnet_of(space) for space in networks if space.version == net.version):
                raise ArmError(
                    400,
                    "NetcfgSubnetRangeOutsideVnet",
                    f"Subnet '{subnet['name']}' is not valid because its IP address range is outside the IP address "
                    f"range of virtual network '{name}'.",
                )
            nsg = (subnet["properties"].get("networkSecurityGroup") or {}).get("id")
            if nsg and self.find(nsg) is None:
                raise missing_reference(nsg, subnet["id"])
            subnets.append(subnet)
        out = {"provisioningState": "Succeeded", "resourceGuid": guid}
        out.update({k: v for k, v in props.items() if k not in ("subnets", "provisioningState", "resourceGuid")})
        out["subnets"] = subnets
        out.setdefault("virtualNetworkPeerings", [])
        out.setdefault("enableDdosProtection", False)
        return out

    def _nsg(self, nsg_id: str, props: dict[str, Any], guid: str, etag: str) -> dict[str, Any]:
        rules = []
        for raw in props.get("securityRules") or []:
            rule = self._child(nsg_id, "securityRules", RULE, raw, etag)
            rp = rule["properties"]
            priority = rp.get("priority")
            if isinstance(priority, bool) or not isinstance(priority, int) or not 100 <= priority <= 4096:
                raise ArmError(
                    400,
                    "SecurityRuleInvalidPriority",
                    f"Security rule has invalid Priority. Value provided: {priority} Allowed range 100-4096.",
                )
            if str(rp.get("direction", "")).lower() not in ("inbound", "outbound"):
                raise bad_request(f"Security rule {rule['name']} has invalid direction.")
            rules.append(rule)
        defaults = [
            {
                "name": name,
                "id": f"{nsg_id}/defaultSecurityRules/{name}",
                "etag": etag,
                "type": "Microsoft.Network/networkSecurityGroups/defaultSecurityRules",
                "properties": {
                    "provisioningState": "Succeeded",
                    "description": text,
                    "protocol": "*",
                    "sourcePortRange": "*",
                    "destinationPortRange": "*",
                    "sourceAddressPrefix": source,
                    "destinationAddressPrefix": destination,
                    "access": access,
                    "priority": priority,
                    "direction": direction,
                },
            }
            for name, text, priority, direction, access, source, destination in DEFAULT_RULES
        ]
        out = {"provisioningState": "Succeeded", "resourceGuid": guid, "securityRules": rules}
        out["defaultSecurityRules"] = defaults
        out.update({k: v for k, v in props.items() if k not in ("securityRules", "provisioningState", "resourceGuid")})
        return out

    def _pip(self, pip_id: str, props: dict[str, Any], guid: str, item: dict[str, Any]) -> dict[str, Any]:
        item.setdefault("sku", {"name": "Standard", "tier": "Regional"})
        standard = str(item["sku"].get("name", "")).lower() == "standard"
        seed = int(guid.replace("-", "")[:8], 16)
        out: dict[str, Any] = {"provisioningState": "Succeeded", "resourceGuid": guid}
        # A documentation-range-free, deterministic public address per resource.
        out["ipAddress"] = f"20.{(seed >> 16) % 256}.{(seed >> 8) % 256}.{seed % 254 + 1}"
        out["publicIPAddressVersion"] = props.get("publicIPAddressVersion") or "IPv4"
        out["publicIPAllocationMethod"] = props.get("publicIPAllocationMethod") or ("Static" if standard else "Dynamic")
        out["idleTimeoutInMinutes"] = props.get("idleTimeoutInMinutes") or 4
        out["ipTags"] = props.get("ipTags") or []
        out.update({k: v for k, v in props.items() if k not in out})
        return out

    def _nic(
        self, nic_id: str, props: dict[str, Any], guid: str, existing: dict[str, Any] | None, etag: str
    ) -> dict[str, Any]:
        old_ips = {
            c["name"].lower(): c["properties"].get("privateIPAddress")
            for c in ((existing or {}).get("properties") or {}).get("ipConfigurations", [])
        }
        configs = []
        raw_configs = props.get("ipConfigurations") or []
        if not raw_configs:
            raise bad_request("Network interface must have at least one IP configuration.")
        for position, raw in enumerate(raw_configs):
            config = self._child(nic_id, "ipConfigurations", f"{NIC}/ipConfigurations", raw, etag)
            cp = config["properties"]
            subnet_id = (cp.get("subnet") or {}).get("id")
            if not isinstance(subnet_id, str) or not subnet_id:
                raise bad_request()
            subnet = self.find(subnet_id)
            if subnet is None:
                raise missing_reference(subnet_id, nic_id)
            pip = (cp.get("publicIPAddress") or {}).get("id")
            if pip and self.find(pip) is None:
                raise missing_reference(pip, nic_id)
            cp.setdefault("privateIPAllocationMethod", "Dynamic")
            cp["privateIPAddress"] = cp.get("privateIPAddress") or old_ips.get(config["name"].lower()) or (
                self._allocate(subnet_id, subnet)
            )
            cp.setdefault("primary", position == 0)
            cp.setdefault("privateIPAddressVersion", "IPv4")
            configs.append(config)
        nsg = (props.get("networkSecurityGroup") or {}).get("id")
        if nsg and self.find(nsg) is None:
            raise missing_reference(nsg, nic_id)
        out: dict[str, Any] = {"provisioningState": "Succeeded", "resourceGuid": guid, "ipConfigurations": configs}
        out["dnsSettings"] = props.get("dnsSettings") or {"dnsServers": [], "appliedDnsServers": []}
        mac = guid.replace("-", "")[:12].upper()
        out["macAddress"] = "-".join(mac[i : i + 2] for i in range(0, 12, 2))
        out["enableAcceleratedNetworking"] = bool(props.get("enableAcceleratedNetworking", False))
        out["enableIPForwarding"] = bool(props.get("enableIPForwarding", False))
        if nsg:
            out["networkSecurityGroup"] = {"id": nsg}
        if existing and "virtualMachine" in existing["properties"]:
            out["virtualMachine"] = existing["properties"]["virtualMachine"]
        out["nicType"] = "Standard"
        out.update({k: v for k, v in props.items() if k not in out})
        return out

    def _allocate(self, subnet_id: str, subnet: dict[str, Any]) -> str:
        prefix = subnet["properties"].get("addressPrefix", "10.0.0.0/24")
        network = ipaddress.ip_network(prefix, strict=False)
        host = self._next_ip.get(subnet_id.lower(), 4)
        self._next_ip[subnet_id.lower()] = host + 1
        return str(network.network_address + host)

    def attach(self, nic_id: str, vm_id: str) -> None:
        """A VM now uses this NIC (the NIC's GET shows it, as on Azure)."""
        nic = self._items.get(nic_id.lower())
        if nic is not None and nic["type"] == NIC:
            nic["properties"]["virtualMachine"] = {"id": vm_id}
            nic["properties"]["primary"] = True


def _split_child(lowered_id: str, child_type: str) -> tuple[str, str]:
    """(parent id, child name) of a child resource id, both lower case; ("", "") when it is not one."""
    marker = "/" + child_type.rsplit("/", 1)[-1].lower() + "/"
    position = lowered_id.rfind(marker)
    if position < 0:
        return "", ""
    return lowered_id[:position], lowered_id[position + len(marker) :]

"""Microsoft.Resources state: the subscription's resource groups."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hpctl.sandbox.armerrors import ArmError, group_not_found
from hpctl.sandbox.images import normalize_location

# ARM's resource group name rule: 1-90 of letters, digits, underscores, parentheses, hyphens, periods
# (not ending in a period), plus Unicode letters.
_GROUP_PUNCTUATION = set("_-().")


@dataclass
class ResourceGroup:
    subscription: str
    name: str
    location: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.name}"

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": self.location,
        }
        if self.tags:
            body["tags"] = dict(self.tags)
        body["properties"] = {"provisioningState": "Succeeded"}
        return body


def valid_group_name(name: str) -> bool:
    return (
        0 < len(name) <= 90
        and not name.endswith(".")
        and all(c.isalnum() or c in _GROUP_PUNCTUATION for c in name)
    )


class ResourceGroups:
    """Resource groups by case-insensitive name."""

    def __init__(self, subscription: str, regions: tuple[str, ...]) -> None:
        self.subscription = subscription
        self.regions = regions
        self._groups: dict[str, ResourceGroup] = {}

    def get(self, name: str) -> ResourceGroup:
        group = self._groups.get(name.lower())
        if group is None:
            raise group_not_found(name)
        return group

    def exists(self, name: str) -> bool:
        return name.lower() in self._groups

    def list(self) -> list[ResourceGroup]:
        return sorted(self._groups.values(), key=lambda g: g.name.lower())

    def put(self, name: str, body: Any) -> tuple[ResourceGroup, bool]:
        """Create or update; returns (group, created)."""
        if not valid_group_name(name):
            raise ArmError(
                400,
                "InvalidResourceGroup",
                f"The provided resource group name '{name}' has these invalid characters: "
                f"'{''.join(sorted({c for c in name if not (c.isalnum() or c in _GROUP_PUNCTUATION)}))}'. "
                "The name can only be a letter, digit, '-', '.', '(', ')' or '_'.",
            )
        if not isinstance(body, dict):
            raise ArmError(
                400,
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized: 'Expected an object.'.",
            )
        location = body.get("location")
        if not isinstance(location, str) or not location.strip():
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        region = normalize_location(location)
        if region not in self.regions:
            raise ArmError(
                400,
                "LocationNotAvailableForResourceGroup",
                f"The provided location '{location}' is not available for resource group. List of "
                f"available regions is '{','.join(self.regions)}'.",
            )
        tags = body.get("tags") or {}
        if not isinstance(tags, dict) or any(not isinstance(v, str) for v in tags.values()):
            raise ArmError(
                400,
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized: 'tags must map names "
                "to strings'.",
            )
        existing = self._groups.get(name.lower())
        if existing is not None:
            if existing.location != region:
                raise ArmError(
                    409,
                    "InvalidResourceGroupLocation",
                    f"Invalid resource group location '{region}'. The Resource group already exists in "
                    f"location '{existing.location}'.",
                )
            existing.tags = dict(tags)
            return existing, False
        group = ResourceGroup(self.subscription, name, region, dict(tags))
        self._groups[name.lower()] = group
        return group, True

    def ensure(self, name: str, location: str, tags: dict[str, str] | None = None) -> ResourceGroup:
        """Create a group if missing (for seeding and tests)."""
        if name.lower() in self._groups:
            return self._groups[name.lower()]
        group, _ = self.put(name, {"location": location, "tags": tags or {}})
        return group

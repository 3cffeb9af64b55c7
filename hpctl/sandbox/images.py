"""The VM image catalog per region: publishers, offers, SKUs and versions built from the release calendar."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from hpctl.sandbox.armerrors import ArmError, image_not_found
from hpctl.sandbox.world import World, load_json


def normalize_location(location: str) -> str:
    """ARM's canonical region name: "West US 2" → "westus2"."""
    return "".join(location.split()).lower()


def version_key(version: str) -> tuple[int, ...]:
    parts: list[int] = []
    for part in version.split("."):
        parts.append(int(part) if part.isdigit() else -1)
    return tuple(parts)


@dataclass(frozen=True)
class Sku:
    """One marketplace SKU and how the world treats VMs made from it."""

    publisher: str
    offer: str
    name: str
    os: str  # an OS line key ("2022", "2025", "2019", "2016"), or "linux" / "client"
    os_name: str
    generation: str
    disk_gb: int
    versions_rule: Any
    hotpatch: bool
    missing_in: tuple[str, ...]

    @property
    def windows_server(self) -> bool:
        return self.os not in ("linux", "client")

    @property
    def is_windows(self) -> bool:
        return self.os != "linux"


class ImageCatalog:
    """Marketplace images as CRP lists them (bare JSON arrays, capitalised ids)."""

    def __init__(self, world: World, data: dict[str, Any] | None = None) -> None:
        data = data or load_json("images.json")
        self.world = world
        self.regions: tuple[str, ...] = tuple(data["regions"])
        self._publishers: dict[str, str] = {}
        self._offers: dict[tuple[str, str], str] = {}
        self._skus: dict[tuple[str, str, str], Sku] = {}
        for publisher in data["publishers"]:
            self._publishers[publisher["name"].lower()] = publisher["name"]
            for offer in publisher["offers"]:
                self._offers[(publisher["name"].lower(), offer["name"].lower())] = offer["name"]
                for sku in offer["skus"]:
                    item = Sku(
                        publisher["name"],
                        offer["name"],
                        sku["name"],
                        sku["os"],
                        sku["osName"],
                        sku["gen"],
                        sku["diskGb"],
                        sku["versions"],
                        bool(sku.get("hotpatch")),
                        tuple(sku.get("missingIn", ())),
                    )
                    self._skus[(publisher["name"].lower(), offer["name"].lower(), sku["name"].lower())] = item
        self._version_cache: dict[tuple[str, str, str], list[str]] = {}

    # -- lookups that ignore the region ---------------------------------------------------------------

    def find_sku(self, publisher: str, offer: str, sku: str) -> Sku | None:
        return self._skus.get((publisher.lower(), offer.lower(), sku.lower()))

    def hotpatch_compatible(self, publisher: str | None, offer: str | None, sku: str | None) -> bool:
        """One of the eight Azure Edition SKUs Azure treats as hotpatch compatible (case-insensitive)."""
        if not (publisher and offer and sku):
            return False
        found = self.find_sku(publisher, offer, sku)
        return bool(found and found.hotpatch)

    # -- region-aware listings ------------------------------------------------------------------------

    def check_location(self, location: str) -> str:
        region = normalize_location(location)
        if region not in self.regions:
            raise ArmError(
                400,
                "LocationNotAvailableForResourceType",
                f"The provided location '{location}' is not available for resource type "
                f"'Microsoft.Compute/locations/publishers'. List of available regions for the resource "
                f"type is '{','.join(self.regions)}'.",
            )
        return region

    def _in_region(self, sku: Sku, region: str) -> bool:
        return region not in sku.missing_in

    def publishers(self, location: str) -> list[str]:
        self.check_location(location)
        return sorted(self._publishers.values(), key=str.lower)

    def offers(self, location: str, publisher: str) -> list[str]:
        self.check_location(location)
        names = [name for (pub, _), name in self._offers.items() if pub == publisher.lower()]
        if not names:
            raise image_not_found()
        return sorted(names, key=str.lower)

    def skus(self, location: str, publisher: str, offer: str) -> list[Sku]:
        region = self.check_location(location)
        if (publisher.lower(), offer.lower()) not in self._offers:
            raise image_not_found()
        found = [
            sku
            for (pub, off, _), sku in self._skus.items()
            if pub == publisher.lower() and off == offer.lower() and self._in_region(sku, region)
        ]
        return sorted(found, key=lambda s: s.name.lower())

    def sku(self, location: str, publisher: str, offer: str, sku: str) -> Sku:
        region = self.check_location(location)
        found = self.find_sku(publisher, offer, sku)
        if found is None or not self._in_region(found, region):
            raise image_not_found()
        return found

    def versions(self, location: str, publisher: str, offer: str, sku: str) -> list[str]:
        """Versions of a SKU in a region, oldest first (CRP's default order)."""
        found = self.sku(location, publisher, offer, sku)
        return list(self._versions(found))

    def _versions(self, sku: Sku) -> list[str]:
        key = (sku.publisher.lower(), sku.offer.lower(), sku.name.lower())
        cached = self._version_cache.get(key)
        if cached is not None:
            return cached
        if isinstance(sku.versions_rule, list):
            versions = sorted(sku.versions_rule, key=version_key)
        else:
            line = self.world.calendar.lines[sku.os]
            releases = []
            for month in self.world.calendar.months(sku.os):
                if month.date > self.world.today:
                    break
                if sku.versions_rule == "baselines" and not month.lcu.is_baseline:
                    continue
                releases.append(month.lcu)
            versions = []
            for release in releases[-6:]:
                # Images are built a few days before Patch Tuesday: 20348.2655.240810 carries 20348.2655
                # (the 2024-08-13 baseline), as in the real installPatches recording.
                stamp = (release.date - dt.timedelta(days=3)).strftime("%y%m%d")
                versions.append(f"{line.build_prefix}.{release.ubr}.{stamp}")
        self._version_cache[key] = versions
        return versions

    def latest(self, sku: Sku) -> str:
        return max(self._versions(sku), key=version_key)

    def resolve(self, location: str, publisher: str, offer: str, sku: str, version: str) -> tuple[Sku, str]:
        """The SKU and exact version a VM's imageReference names, or CRP's PlatformImageNotFound."""
        urn = f"{publisher}:{offer}:{sku}:{version}"
        not_found = ArmError(
            404,
            "PlatformImageNotFound",
            f"The platform image '{urn}' is not available. Verify that all fields in the storage "
            "profile are correct. For more details about storage profile information, please "
            "refer to https://aka.ms/storageprofile",
            target="imageReference",
        )
        region = normalize_location(location)
        found = self.find_sku(publisher, offer, sku)
        if found is None or not self._in_region(found, region) or region not in self.regions:
            raise not_found
        if version.lower() == "latest":
            return found, self.latest(found)
        if version not in self._versions(found):
            raise not_found
        return found, version

    def build_of(self, sku: Sku, version: str) -> str | None:
        """The OS build an image version boots into (Windows Server versions are build.ubr.yymmdd)."""
        if not sku.windows_server:
            return None
        parts = version.split(".")
        return f"{parts[0]}.{parts[1]}"

    # -- bodies ---------------------------------------------------------------------------------------

    @staticmethod
    def _base_id(subscription: str, region: str) -> str:
        return f"/Subscriptions/{subscription}/Providers/Microsoft.Compute/Locations/{region}"

    def publisher_items(self, subscription: str, location: str) -> list[dict[str, Any]]:
        region = normalize_location(location)
        base = self._base_id(subscription, region)
        return [
            {"name": name, "location": region, "id": f"{base}/Publishers/{name}"}
            for name in self.publishers(location)
        ]

    def offer_items(self, subscription: str, location: str, publisher: str) -> list[dict[str, Any]]:
        region = normalize_location(location)
        names = self.offers(location, publisher)
        pub = self._publishers[publisher.lower()]
        base = f"{self._base_id(subscription, region)}/Publishers/{pub}/ArtifactTypes/VMImage/Offers"
        return [{"name": name, "location": region, "id": f"{base}/{name}"} for name in names]

    def sku_items(self, subscription: str, location: str, publisher: str, offer: str) -> list[dict[str, Any]]:
        region = normalize_location(location)
        skus = self.skus(location, publisher, offer)
        items = []
        for sku in skus:
            base = (
                f"{self._base_id(subscription, region)}/Publishers/{sku.publisher}/ArtifactTypes/VMImage"
                f"/Offers/{sku.offer}/Skus"
            )
            items.append({"name": sku.name, "location": region, "id": f"{base}/{sku.name}"})
        return items

    def version_items(
        self,
        subscription: str,
        location: str,
        publisher: str,
        offer: str,
        sku: str,
        top: int | None = None,
        descending: bool = False,
    ) -> list[dict[str, Any]]:
        region = normalize_location(location)
        found = self.sku(location, publisher, offer, sku)
        versions = sorted(self._versions(found), key=version_key, reverse=descending)
        if top is not None:
            versions = versions[:top]
        return [
            {
                "name": version,
                "location": region,
                "id": self._version_id(subscription, region, found, version),
            }
            for version in versions
        ]

    def _version_id(self, subscription: str, region: str, sku: Sku, version: str) -> str:
        return (
            f"{self._base_id(subscription, region)}/Publishers/{sku.publisher}/ArtifactTypes/VMImage/Offers/"
            f"{sku.offer}/Skus/{sku.name}/Versions/{version}"
        )

    def version_body(
        self, subscription: str, location: str, publisher: str, offer: str, sku: str, version: str
    ) -> dict[str, Any]:
        region = normalize_location(location)
        found = self.sku(location, publisher, offer, sku)
        if version not in self._versions(found):
            raise image_not_found()
        features = [{"name": "IsAcceleratedNetworkSupported", "value": "True"}]
        if found.generation == "V2":
            features.insert(0, {"name": "SecurityType", "value": "TrustedLaunchSupported"})
            features.append({"name": "DiskControllerTypes", "value": "SCSI, NVMe"})
        return {
            "properties": {
                "hyperVGeneration": found.generation,
                "architecture": "x64",
                "replicaType": "Managed",
                "replicaCount": 10,
                "disallowed": {"vmDiskType": "Unmanaged"},
                "automaticOSUpgradeProperties": {"automaticOSUpgradeSupported": found.windows_server},
                "imageDeprecationStatus": {"imageState": "Active"},
                "features": features,
                "osDiskImage": {
                    "operatingSystem": "Linux" if found.os == "linux" else "Windows",
                    "sizeInGb": found.disk_gb,
                },
                "dataDiskImages": [],
            },
            "location": region,
            "name": version,
            "id": self._version_id(subscription, region, found, version),
        }

"""Hotpatch image eligibility: parse an image reference and judge it against the data in images.json."""

from __future__ import annotations

import difflib
import fnmatch
import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from hpctl.errors import InputError

ImageKind = Literal["marketplace", "custom-image", "gallery", "community-gallery", "shared-gallery"]

# Azure compares publisher/offer/SKU names case-insensitively; these are the characters its names use.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Generation suffixes users add out of habit from non-Azure-Edition SKUs; Azure Edition images are Gen2 only.
_GEN_TOKENS = frozenset({"g2", "gen2", "gensecond"})
_TYPO_CUTOFF = 0.9

_EXAMPLE_URN = "MicrosoftWindowsServer:WindowsServer:2025-datacenter-azure-edition:latest"
_GALLERY_KINDS = {
    "gallery": "Azure Compute Gallery",
    "community-gallery": "Community gallery",
    "shared-gallery": "Direct-shared gallery",
}
_HOTPATCH_ONLY_ON = "Azure supports hotpatch only on the Azure Edition marketplace images (hpctl images list)"


@dataclass(frozen=True)
class EligibleImage:
    """One hotpatch-eligible marketplace image (a row of images.json)."""

    publisher: str
    offer: str
    sku: str
    os_version: str
    edition: str
    disk: str
    disk_gb: int
    notes: str
    urn: str


@dataclass(frozen=True)
class NearMiss:
    """An ineligible SKU pattern, the eligible SKU the user probably meant, and why."""

    pattern: str
    suggest: str | None
    why: str


@dataclass(frozen=True)
class PreviewOffer:
    """A preview offer that looks like hotpatch but is not on Microsoft's supported list."""

    offer: str
    suggest: str | None
    why: str


@dataclass(frozen=True)
class ImageCatalog:
    """The whole of images.json, validated."""

    publisher: str
    offer: str
    images: tuple[EligibleImage, ...]
    near_misses: tuple[NearMiss, ...]
    preview_offers: tuple[PreviewOffer, ...]
    aliases: tuple[tuple[str, str], ...]

    def find(self, sku: str) -> EligibleImage | None:
        """The eligible image with this SKU (case-insensitive), or None."""
        wanted = sku.lower()
        return next((image for image in self.images if image.sku.lower() == wanted), None)

    def urn(self, sku: str, version: str = "latest") -> str:
        """The full URN of a SKU of the eligible publisher/offer."""
        return f"{self.publisher}:{self.offer}:{sku}:{version}"


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference: a marketplace URN/id, or one of the image ids Azure accepts."""

    kind: ImageKind
    text: str
    publisher: str | None = None
    offer: str | None = None
    sku: str | None = None
    version: str | None = None
    subscription: str | None = None
    resource_group: str | None = None
    location: str | None = None
    gallery: str | None = None
    name: str | None = None

    @property
    def urn(self) -> str | None:
        """publisher:offer:sku:version for a marketplace image, else None."""
        if self.kind != "marketplace":
            return None
        return f"{self.publisher}:{self.offer}:{self.sku}:{self.version or 'latest'}"


@dataclass(frozen=True)
class ImageVerdict:
    """Whether an image can hotpatch, why (one line), and what the user probably meant."""

    eligible: bool
    image: ImageRef
    reason: str
    suggestion: str | None = None
    eligible_image: EligibleImage | None = None


# --------------------------------------------------------------------------- loading


def _bad_data(path: str, what: str) -> InputError:
    return InputError(
        f"Image data file {path} is invalid: {what}; fix the file or remove it to use hpctl's built-in list.",
    )


def _str_field(row: dict[str, Any], key: str, path: str, where: str, *, optional: bool = False) -> Any:
    value = row.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _bad_data(path, f"{where} needs a non-empty string '{key}'")
    return value.strip()


def _parse_catalog(raw: Any, path: str) -> ImageCatalog:
    if not isinstance(raw, dict):
        raise _bad_data(path, "the top level must be a JSON object")
    publisher = _str_field(raw, "publisher", path, "the top level")
    offer = _str_field(raw, "offer", path, "the top level")
    rows = raw.get("skus")
    if not isinstance(rows, list) or not rows:
        raise _bad_data(path, "'skus' must be a non-empty list")
    images: list[EligibleImage] = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        where = f"skus[{index}]"
        if not isinstance(row, dict):
            raise _bad_data(path, f"{where} must be an object")
        sku = _str_field(row, "sku", path, where)
        if not _NAME_RE.match(sku):
            raise _bad_data(path, f"{where} sku '{sku}' has characters a SKU can't have")
        if sku.lower() in seen:
            raise _bad_data(path, f"{where} repeats sku '{sku}'")
        seen.add(sku.lower())
        disk_gb = row.get("disk_gb")
        if not isinstance(disk_gb, int) or isinstance(disk_gb, bool) or disk_gb <= 0:
            raise _bad_data(path, f"{where} needs a positive integer 'disk_gb'")
        images.append(
            EligibleImage(
                publisher=publisher,
                offer=offer,
                sku=sku,
                os_version=_str_field(row, "os_version", path, where),
                edition=_str_field(row, "edition", path, where),
                disk=_str_field(row, "disk", path, where),
                disk_gb=disk_gb,
                notes=str(row.get("notes") or ""),
                urn=f"{publisher}:{offer}:{sku}:latest",
            )
        )

    def suggestion(row: dict[str, Any], where: str) -> str | None:
        suggest = _str_field(row, "suggest", path, where, optional=True)
        if suggest is not None and suggest.lower() not in seen:
            raise _bad_data(path, f"{where} suggests '{suggest}', which is not one of the eligible skus")
        return suggest

    near_misses: list[NearMiss] = []
    for index, row in enumerate(raw.get("near_misses") or []):
        where = f"near_misses[{index}]"
        if not isinstance(row, dict):
            raise _bad_data(path, f"{where} must be an object")
        near_misses.append(
            NearMiss(
                pattern=_str_field(row, "pattern", path, where).lower(),
                suggest=suggestion(row, where),
                why=_str_field(row, "why", path, where),
            )
        )
    previews: list[PreviewOffer] = []
    for index, row in enumerate(raw.get("preview_offers") or []):
        where = f"preview_offers[{index}]"
        if not isinstance(row, dict):
            raise _bad_data(path, f"{where} must be an object")
        previews.append(
            PreviewOffer(
                offer=_str_field(row, "offer", path, where),
                suggest=suggestion(row, where),
                why=_str_field(row, "why", path, where),
            )
        )
    aliases_raw = raw.get("aliases") or {}
    if not isinstance(aliases_raw, dict):
        raise _bad_data(path, "'aliases' must be an object of alias -> eligible sku")
    aliases: list[tuple[str, str]] = []
    for alias, sku in aliases_raw.items():
        if not isinstance(sku, str) or sku.lower() not in seen:
            raise _bad_data(path, f"alias '{alias}' must name one of the eligible skus")
        aliases.append((alias.lower(), sku))
    return ImageCatalog(
        publisher=publisher,
        offer=offer,
        images=tuple(images),
        near_misses=tuple(near_misses),
        preview_offers=tuple(previews),
        aliases=tuple(aliases),
    )


def load_images(path: str | Path | None = None) -> ImageCatalog:
    """Load the image catalog: hpctl's built-in images.json, or the JSON file at `path` (same format).

    Passing a path lets a caller (or a test) add a SKU Microsoft has just published without a code change.
    """
    if path is None:
        return _builtin_catalog()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"Can't read image data file {path}: {exc.strerror or exc}; check the path and its permissions."
        ) from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad_data(str(path), f"not JSON ({exc.msg} at line {exc.lineno})") from exc
    return _parse_catalog(raw, str(path))


@functools.lru_cache(maxsize=1)
def _builtin_catalog() -> ImageCatalog:
    # Loaded once per process: the file ships inside the package and never changes while hpctl runs.
    text = resources.files("hpctl.core").joinpath("data/images.json").read_text(encoding="utf-8")
    return _parse_catalog(json.loads(text), "hpctl/core/data/images.json")


def eligible_images(catalog: ImageCatalog | None = None) -> list[EligibleImage]:
    """The hotpatch-eligible marketplace images, in the order of images.json."""
    return list((catalog or load_images()).images)


def is_eligible_image(publisher: str, offer: str, sku: str, catalog: ImageCatalog | None = None) -> bool:
    """True when publisher/offer/sku is one of the eligible images (case-insensitive)."""
    catalog = catalog or load_images()
    return (
        publisher.strip().lower() == catalog.publisher.lower()
        and offer.strip().lower() == catalog.offer.lower()
        and catalog.find(sku.strip()) is not None
    )


# --------------------------------------------------------------------------- parsing


def _check_name(value: str, what: str, text: str) -> str:
    if not value:
        raise InputError(
            f"Image '{text}' has an empty {what}; write it as publisher:offer:sku[:version], "
            f"e.g. {_EXAMPLE_URN}."
        )
    if not _NAME_RE.match(value):
        raise InputError(
            f"Image '{text}' has a {what} '{value}' with characters Azure names can't contain; "
            "use letters, digits, '-', '_' and '.' only."
        )
    return value


def _check_version(value: str, text: str) -> str:
    if value.lower() == "latest":
        return "latest"
    if not _VERSION_RE.match(value):
        raise InputError(
            f"Image '{text}' has version '{value}', which is neither 'latest' nor major.minor.patch; "
            "use latest or a version like 20348.1850.230707."
        )
    return value


def _parse_urn(text: str) -> ImageRef:
    parts = [part.strip() for part in text.split(":")]
    if len(parts) not in (3, 4):
        raise InputError(
            f"Image URN '{text}' has {len(parts)} parts separated by ':', not 3 or 4; "
            "write it as publisher:offer:sku[:version]."
        )
    publisher = _check_name(parts[0], "publisher", text)
    offer = _check_name(parts[1], "offer", text)
    sku = _check_name(parts[2], "SKU", text)
    version = "latest"
    if len(parts) == 4:
        if not parts[3]:
            raise InputError(
                f"Image URN '{text}' ends with ':' but no version; add a version or 'latest', "
                "or drop the last ':'."
            )
        version = _check_version(parts[3], text)
    return ImageRef(kind="marketplace", text=text, publisher=publisher, offer=offer, sku=sku, version=version)


def _id_error(text: str, what: str) -> InputError:
    return InputError(
        f"Image id '{text}' {what}; give a URN (publisher:offer:sku[:version]) or a full image resource id."
    )


def _segment(segments: list[str], index: int, expected: str, text: str) -> None:
    if index >= len(segments) or segments[index].lower() != expected.lower():
        found = segments[index] if index < len(segments) else "nothing"
        raise _id_error(text, f"has '{found}' where '{expected}' belongs")


def _value(segments: list[str], index: int, what: str, text: str) -> str:
    if index >= len(segments) or not segments[index]:
        raise _id_error(text, f"has no {what}")
    value = segments[index]
    if any(ch.isspace() for ch in value) or any(ch in value for ch in '\\"<>|?*'):
        raise _id_error(text, f"has a {what} '{value}' with characters Azure names can't contain")
    return value


def _subscription(segments: list[str], index: int, text: str) -> str:
    value = _value(segments, index, "subscription", text)
    if not _GUID_RE.match(value):
        raise _id_error(text, f"has subscription '{value}', which is not a GUID")
    return value


def _exact_length(segments: list[str], allowed: tuple[int, ...], text: str, shape: str) -> None:
    if len(segments) not in allowed:
        raise _id_error(text, f"does not have the shape {shape}")


def _parse_marketplace_id(segments: list[str], text: str) -> ImageRef:
    # /Subscriptions/{sub}/Providers/Microsoft.Compute/Locations/{loc}/Publishers/{pub}
    #   /ArtifactTypes/VMImage/Offers/{offer}/Skus/{sku}/Versions/{v}
    shape = (
        ".../Providers/Microsoft.Compute/Locations/L/Publishers/P"
        "/ArtifactTypes/VMImage/Offers/O/Skus/S/Versions/V"
    )
    _exact_length(segments, (16,), text, shape)
    subscription = _subscription(segments, 1, text)
    location = _value(segments, 5, "location", text)
    _segment(segments, 6, "Publishers", text)
    publisher = _check_name(segments[7], "publisher", text)
    _segment(segments, 8, "ArtifactTypes", text)
    _segment(segments, 9, "VMImage", text)
    _segment(segments, 10, "Offers", text)
    offer = _check_name(segments[11], "offer", text)
    _segment(segments, 12, "Skus", text)
    sku = _check_name(segments[13], "SKU", text)
    _segment(segments, 14, "Versions", text)
    version = _check_version(_value(segments, 15, "version", text), text)
    return ImageRef(
        kind="marketplace",
        text=text,
        publisher=publisher,
        offer=offer,
        sku=sku,
        version=version,
        subscription=subscription,
        location=location,
    )


def _parse_public_gallery(segments: list[str], text: str) -> ImageRef:
    # /CommunityGalleries/{name}/Images/{definition}[/Versions/{v}] and the same under /SharedGalleries.
    kind: ImageKind = "community-gallery" if segments[0].lower() == "communitygalleries" else "shared-gallery"
    _exact_length(segments, (4, 6), text, f"/{segments[0]}/G/Images/D[/Versions/V]")
    gallery = _value(segments, 1, "gallery name", text)
    _segment(segments, 2, "Images", text)
    name = _value(segments, 3, "image definition", text)
    version = None
    if len(segments) == 6:
        _segment(segments, 4, "Versions", text)
        version = _value(segments, 5, "image version", text)
    return ImageRef(kind=kind, text=text, gallery=gallery, name=name, version=version)


def _parse_subscription_id(segments: list[str], text: str) -> ImageRef:
    if len(segments) >= 4 and segments[2].lower() == "providers":
        _segment(segments, 3, "Microsoft.Compute", text)
        _segment(segments, 4, "Locations", text)
        return _parse_marketplace_id(segments, text)
    subscription = _subscription(segments, 1, text)
    _segment(segments, 2, "resourceGroups", text)
    resource_group = _value(segments, 3, "resource group", text)
    _segment(segments, 4, "providers", text)
    provider = _value(segments, 5, "resource provider", text)
    resource_type = segments[6] if len(segments) > 6 else ""
    if provider.lower() != "microsoft.compute" or resource_type.lower() not in ("images", "galleries"):
        kind = f"{provider}/{resource_type}" if resource_type else provider
        raise InputError(
            f"'{text}' is the id of a {kind} resource, not an image; "
            "give an image URN, a Microsoft.Compute/images id or a gallery image id."
        )
    if resource_type.lower() == "images":
        _exact_length(
            segments, (8,), text, "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/images/NAME"
        )
        name = _value(segments, 7, "image name", text)
        return ImageRef(
            kind="custom-image",
            text=text,
            subscription=subscription,
            resource_group=resource_group,
            name=name,
        )
    _exact_length(
        segments, (10, 12), text, ".../providers/Microsoft.Compute/galleries/G/images/D[/versions/V]"
    )
    gallery = _value(segments, 7, "gallery name", text)
    _segment(segments, 8, "images", text)
    name = _value(segments, 9, "image definition", text)
    version = None
    if len(segments) == 12:
        _segment(segments, 10, "versions", text)
        version = _value(segments, 11, "image version", text)
    return ImageRef(
        kind="gallery",
        text=text,
        subscription=subscription,
        resource_group=resource_group,
        gallery=gallery,
        name=name,
        version=version,
    )


def _parse_id(text: str) -> ImageRef:
    if not text.startswith("/"):
        raise _id_error(text, "does not start with '/'")
    body = text[1:-1] if text.endswith("/") else text[1:]
    segments = body.split("/")
    if any(not segment for segment in segments):
        raise _id_error(text, "has an empty segment ('//')")
    head = segments[0].lower()
    if head in ("communitygalleries", "sharedgalleries"):
        return _parse_public_gallery(segments, text)
    if head == "subscriptions":
        return _parse_subscription_id(segments, text)
    raise _id_error(
        text, f"starts with '/{segments[0]}', not /subscriptions, /CommunityGalleries or /SharedGalleries"
    )


def parse_image(text: str, catalog: ImageCatalog | None = None) -> ImageRef:
    """Parse a URN, a SKU alone, a known alias, or an image resource id; malformed input raises InputError."""
    if text is None or not text.strip():
        raise InputError(f"The image is empty; give a URN like {_EXAMPLE_URN} or an image resource id.")
    original = text
    text = text.strip()
    if "/" in text:
        if ":" in text:
            raise InputError(
                f"Image '{original}' mixes ':' and '/'; give either a URN (publisher:offer:sku[:version]) "
                "or a resource id starting with /subscriptions."
            )
        return _parse_id(text)
    if ":" in text:
        return _parse_urn(text)
    catalog = catalog or load_images()
    alias = dict(catalog.aliases).get(text.lower())
    if alias is not None:
        # The az CLI / PowerShell image aliases users copy from Microsoft quickstarts.
        return ImageRef(
            kind="marketplace",
            text=text,
            publisher=catalog.publisher,
            offer=catalog.offer,
            sku=alias,
            version="latest",
        )
    if not _NAME_RE.match(text):
        raise InputError(
            f"Image '{original}' is neither a URN, a SKU nor a resource id; write it as "
            f"publisher:offer:sku[:version], e.g. {_EXAMPLE_URN}."
        )
    # A bare SKU means the eligible publisher/offer at its latest version, as `hpctl images list` shows them.
    return ImageRef(
        kind="marketplace",
        text=text,
        publisher=catalog.publisher,
        offer=catalog.offer,
        sku=text,
        version="latest",
    )


# --------------------------------------------------------------------------- judging


def _normalise_sku(sku: str) -> str:
    tokens = [token for token in sku.strip().lower().split("-") if token not in _GEN_TOKENS]
    return "-".join(tokens)


def _resolve_sku(sku: str, catalog: ImageCatalog) -> tuple[str | None, str]:
    """For an ineligible SKU of the eligible offer: (the eligible SKU probably meant, why not eligible)."""
    lowered = sku.strip().lower()
    normalised = _normalise_sku(sku)
    without_generation = catalog.find(normalised)
    if normalised != lowered and without_generation is not None:
        why = f"SKU {sku} does not exist: Azure Edition images are Gen2 and have no -g2 SKU"
        return without_generation.sku, why
    for near in catalog.near_misses:
        if fnmatch.fnmatchcase(normalised, near.pattern):
            return near.suggest, f"SKU {sku}: {near.why}"
    skus = [image.sku for image in catalog.images]
    close = difflib.get_close_matches(normalised, [s.lower() for s in skus], 1, _TYPO_CUTOFF)
    if close:
        typo_of = next(s for s in skus if s.lower() == close[0])
        return typo_of, f"SKU {sku} does not exist; it looks like a typo"
    return None, f"SKU {sku} is not one of the {len(skus)} hotpatch-eligible {catalog.offer} SKUs"


def _gallery_reason(what: str, image: ImageRef) -> str:
    where = f"gallery '{image.gallery}', image '{image.name}'"
    return f"{what} images can't hotpatch ({where}); {_HOTPATCH_ONLY_ON}."


def check_image(text: str, catalog: ImageCatalog | None = None) -> ImageVerdict:
    """Judge whether an image can hotpatch; raises InputError for malformed input, never for ineligible."""
    catalog = catalog or load_images()
    image = parse_image(text, catalog)
    if image.kind == "custom-image":
        reason = f"Custom images can't hotpatch ('{image.name}'); {_HOTPATCH_ONLY_ON}."
        return ImageVerdict(eligible=False, image=image, reason=reason)
    if image.kind != "marketplace":
        reason = _gallery_reason(_GALLERY_KINDS[image.kind], image)
        return ImageVerdict(eligible=False, image=image, reason=reason)

    publisher, offer, sku = image.publisher or "", image.offer or "", image.sku or ""
    eligible = catalog.find(sku)
    prefix = f"{image.urn} is not hotpatch-eligible"

    def verdict(why: str, suggested_sku: str | None) -> ImageVerdict:
        # Suggest a full URN at 'latest': every hpctl command takes it, whatever form the user gave.
        suggestion = catalog.urn(suggested_sku) if suggested_sku else None
        return ImageVerdict(eligible=False, image=image, reason=f"{prefix}: {why}.", suggestion=suggestion)

    if publisher.lower() != catalog.publisher.lower():
        suggested = eligible.sku if eligible else _resolve_sku(sku, catalog)[0]
        return verdict(f"publisher {publisher} is not {catalog.publisher}; {_HOTPATCH_ONLY_ON}", suggested)
    if offer.lower() != catalog.offer.lower():
        preview = next((p for p in catalog.preview_offers if p.offer.lower() == offer.lower()), None)
        if preview is not None:
            return verdict(f"offer {offer}: {preview.why}", preview.suggest)
        suggested = eligible.sku if eligible else _resolve_sku(sku, catalog)[0]
        return verdict(f"offer {offer} is not {catalog.offer}; {_HOTPATCH_ONLY_ON}", suggested)
    if eligible is None:
        suggested, why = _resolve_sku(sku, catalog)
        return verdict(why, suggested)
    return ImageVerdict(
        eligible=True,
        image=image,
        reason=(
            f"{image.urn} is hotpatch-eligible: Windows Server {eligible.os_version} Datacenter: "
            f"Azure Edition, {eligible.edition}, {eligible.disk_gb} GB OS disk."
        ),
        eligible_image=eligible,
    )

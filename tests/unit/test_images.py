"""Unit tests for hpctl.core.images: eligibility data, parsing, verdicts and malformed input."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from hpctl.core import images
from hpctl.core.images import (
    EligibleImage,
    ImageRef,
    check_image,
    eligible_images,
    is_eligible_image,
    load_images,
    parse_image,
)
from hpctl.errors import InputError

SUB = "0b1f6471-1bf0-4dda-aec3-111122223333"
PUB, OFFER = "MicrosoftWindowsServer", "WindowsServer"

ELIGIBLE = [
    "2022-datacenter-azure-edition-core",
    "2022-datacenter-azure-edition-core-smalldisk",
    "2022-datacenter-azure-edition-hotpatch",
    "2022-datacenter-azure-edition-hotpatch-smalldisk",
    "2025-datacenter-azure-edition",
    "2025-datacenter-azure-edition-smalldisk",
    "2025-datacenter-azure-edition-core",
    "2025-datacenter-azure-edition-core-smalldisk",
]


def urn(sku: str, version: str = "latest") -> str:
    return f"{PUB}:{OFFER}:{sku}:{version}"


def marketplace_id(
    sku: str, version: str = "20348.1850.230707", publisher: str = PUB, offer: str = OFFER
) -> str:
    return (
        f"/Subscriptions/{SUB}/Providers/Microsoft.Compute/Locations/westeurope/Publishers/{publisher}"
        f"/ArtifactTypes/VMImage/Offers/{offer}/Skus/{sku}/Versions/{version}"
    )


def title_case(sku: str) -> str:
    # The docs print SKUs as 2022-Datacenter-Azure-Edition-Core.
    return "-".join(part.capitalize() for part in sku.split("-"))


# --------------------------------------------------------------------------- the data


def test_exactly_the_eight_documented_skus():
    found = eligible_images()
    assert [image.sku for image in found] == ELIGIBLE
    assert all(isinstance(image, EligibleImage) for image in found)
    assert {(image.publisher, image.offer) for image in found} == {(PUB, OFFER)}
    assert all(image.urn == urn(image.sku) for image in found)


@pytest.mark.parametrize(
    ("sku", "os_version", "edition", "disk", "disk_gb"),
    [
        ("2022-datacenter-azure-edition-core", "2022", "Core", "standard", 127),
        ("2022-datacenter-azure-edition-core-smalldisk", "2022", "Core", "smalldisk", 30),
        ("2022-datacenter-azure-edition-hotpatch", "2022", "Desktop Experience", "standard", 127),
        ("2022-datacenter-azure-edition-hotpatch-smalldisk", "2022", "Desktop Experience", "smalldisk", 30),
        ("2025-datacenter-azure-edition", "2025", "Desktop Experience", "standard", 127),
        ("2025-datacenter-azure-edition-smalldisk", "2025", "Desktop Experience", "smalldisk", 30),
        ("2025-datacenter-azure-edition-core", "2025", "Core", "standard", 127),
        ("2025-datacenter-azure-edition-core-smalldisk", "2025", "Core", "smalldisk", 30),
    ],
)
def test_attributes_of_each_sku(sku, os_version, edition, disk, disk_gb):
    image = next(image for image in eligible_images() if image.sku == sku)
    assert (image.os_version, image.edition, image.disk, image.disk_gb) == (
        os_version,
        edition,
        disk,
        disk_gb,
    )
    assert image.notes


def test_one_sku_is_one_line_of_the_data_file():
    text = resources.files("hpctl.core").joinpath("data/images.json").read_text(encoding="utf-8")
    for sku in ELIGIBLE:
        assert sum(f'"sku": "{sku}"' in line for line in text.splitlines()) == 1


# --------------------------------------------------------------------------- eligible forms


@pytest.mark.parametrize("sku", ELIGIBLE)
@pytest.mark.parametrize("casing", [str.lower, str.upper, title_case])
def test_every_eligible_sku_in_every_form_and_casing(sku, casing):
    forms = [
        casing(sku),
        f"{PUB}:{OFFER}:{casing(sku)}",
        f"{PUB.lower()}:{OFFER.upper()}:{casing(sku)}:latest",
        f"{PUB}:{OFFER}:{casing(sku)}:LATEST",
        f"{PUB}:{OFFER}:{casing(sku)}:20348.1850.230707",
        f"  {PUB}:{OFFER}:{casing(sku)}:latest  ",
        marketplace_id(casing(sku)),
        marketplace_id(casing(sku)).lower(),
    ]
    for text in forms:
        verdict = check_image(text)
        assert verdict.eligible, text
        assert verdict.eligible_image is not None and verdict.eligible_image.sku == sku
        assert verdict.suggestion is None
        assert "is hotpatch-eligible" in verdict.reason and "\n" not in verdict.reason


@pytest.mark.parametrize("sku", ELIGIBLE)
def test_is_eligible_image_is_case_insensitive(sku):
    assert is_eligible_image(PUB, OFFER, sku)
    assert is_eligible_image(PUB.upper(), OFFER.lower(), sku.upper())
    assert not is_eligible_image("MicrosoftWindowsDesktop", OFFER, sku)
    assert not is_eligible_image(PUB, "WindowsServerHotpatch-previews", sku)


def test_is_eligible_image_rejects_the_traps():
    assert not is_eligible_image(PUB, OFFER, "2022-datacenter-azure-edition")
    assert is_eligible_image(PUB, OFFER, "2025-datacenter-azure-edition")
    assert not is_eligible_image(PUB, OFFER, "2025-datacenter-azure-edition-hotpatch")


def test_trap_plain_2022_azure_edition_is_not_eligible():
    verdict = check_image(urn("2022-datacenter-azure-edition"))
    assert not verdict.eligible
    assert verdict.eligible_image is None
    assert verdict.suggestion == urn("2022-datacenter-azure-edition-hotpatch")
    assert "-hotpatch" in verdict.reason


def test_trap_plain_2025_azure_edition_is_eligible():
    verdict = check_image(urn("2025-datacenter-azure-edition"))
    assert verdict.eligible
    assert verdict.reason == (
        f"{urn('2025-datacenter-azure-edition')} is hotpatch-eligible: Windows Server 2025 Datacenter: "
        "Azure Edition, Desktop Experience, 127 GB OS disk."
    )


def test_alias_from_microsoft_quickstarts():
    verdict = check_image("Win2022AzureEditionCore")
    assert verdict.eligible
    assert verdict.image.sku == "2022-datacenter-azure-edition-core"
    assert verdict.image.text == "Win2022AzureEditionCore"


# --------------------------------------------------------------------------- near misses


NEAR_MISSES = [
    ("2022-datacenter-azure-edition", "2022-datacenter-azure-edition-hotpatch", "plain 2022 Azure Edition"),
    (
        "2022-datacenter-azure-edition-smalldisk",
        "2022-datacenter-azure-edition-hotpatch-smalldisk",
        "small disk",
    ),
    ("2022-Datacenter", "2022-datacenter-azure-edition-hotpatch", "not Azure Edition"),
    ("2022-datacenter-g2", "2022-datacenter-azure-edition-hotpatch", "not Azure Edition"),
    ("2022-datacenter-core", "2022-datacenter-azure-edition-core", "not Azure Edition"),
    ("2022-datacenter-core-g2", "2022-datacenter-azure-edition-core", "not Azure Edition"),
    ("2022-datacenter-smalldisk", "2022-datacenter-azure-edition-hotpatch-smalldisk", "not Azure Edition"),
    ("2022-datacenter-smalldisk-g2", "2022-datacenter-azure-edition-hotpatch-smalldisk", "not Azure Edition"),
    ("2022-datacenter-core-smalldisk", "2022-datacenter-azure-edition-core-smalldisk", "not Azure Edition"),
    (
        "2022-datacenter-core-smalldisk-g2",
        "2022-datacenter-azure-edition-core-smalldisk",
        "not Azure Edition",
    ),
    ("2025-datacenter", "2025-datacenter-azure-edition", "not Azure Edition"),
    ("2025-datacenter-g2", "2025-datacenter-azure-edition", "not Azure Edition"),
    ("2025-datacenter-core", "2025-datacenter-azure-edition-core", "not Azure Edition"),
    ("2025-datacenter-core-g2", "2025-datacenter-azure-edition-core", "not Azure Edition"),
    ("2025-datacenter-smalldisk", "2025-datacenter-azure-edition-smalldisk", "not Azure Edition"),
    (
        "2025-datacenter-core-smalldisk-g2",
        "2025-datacenter-azure-edition-core-smalldisk",
        "not Azure Edition",
    ),
    ("2025-datacenter-azure-edition-hotpatch", "2025-datacenter-azure-edition", "no -hotpatch SKU for 2025"),
    (
        "2025-datacenter-azure-edition-hotpatch-smalldisk",
        "2025-datacenter-azure-edition-smalldisk",
        "no -hotpatch SKU for 2025",
    ),
    ("2019-Datacenter", "2025-datacenter-azure-edition", "2019 and older have no hotpatch"),
    ("2019-datacenter-gensecond", "2025-datacenter-azure-edition", "2019 and older have no hotpatch"),
    ("2019-datacenter-core-g2", "2025-datacenter-azure-edition-core", "2019 and older have no hotpatch"),
    (
        "2019-Datacenter-smalldisk",
        "2025-datacenter-azure-edition-smalldisk",
        "2019 and older have no hotpatch",
    ),
    ("2016-Datacenter", "2025-datacenter-azure-edition", "2019 and older have no hotpatch"),
    ("2016-Datacenter-Server-Core", "2025-datacenter-azure-edition-core", "2019 and older have no hotpatch"),
    (
        "2016-datacenter-server-core-smalldisk",
        "2025-datacenter-azure-edition-core-smalldisk",
        "2019 and older have no hotpatch",
    ),
    ("2022-datacenter-azure-edition-core-g2", "2022-datacenter-azure-edition-core", "no -g2 SKU"),
    ("2025-datacenter-azure-edition-g2", "2025-datacenter-azure-edition", "no -g2 SKU"),
    ("2022-datacenter-azure-editon-hotpatch", "2022-datacenter-azure-edition-hotpatch", "typo"),
    ("2025-datacenter-azure-edition-cor", "2025-datacenter-azure-edition-core", "typo"),
]


@pytest.mark.parametrize(("sku", "suggested", "why"), NEAR_MISSES)
def test_near_miss_names_what_the_user_probably_meant(sku, suggested, why):
    for text in (sku, sku.upper(), urn(sku), marketplace_id(sku)):
        verdict = check_image(text)
        assert not verdict.eligible, text
        assert verdict.suggestion == urn(suggested), text
        assert why in verdict.reason, verdict.reason
        assert verdict.reason.startswith(f"{PUB}:{OFFER}:{verdict.image.sku}:")
        assert "\n" not in verdict.reason
        # The suggestion is itself eligible: following it works.
        assert check_image(verdict.suggestion).eligible


@pytest.mark.parametrize(
    ("offer", "sku", "suggested"),
    [
        ("WindowsServerHotpatch-previews", "windows-server-2022-azure-edition-hotpatch", ELIGIBLE[2]),
        (
            "MicrosoftServerOperatingSystems-previews",
            "windows-server-2025-azure-edition-hotpatch",
            ELIGIBLE[4],
        ),
        ("windowsserverhotpatch-PREVIEWS", "windows-server-2022-azure-edition-hotpatch", ELIGIBLE[2]),
    ],
)
def test_preview_offers_are_not_supported(offer, sku, suggested):
    verdict = check_image(f"{PUB}:{offer}:{sku}:latest")
    assert not verdict.eligible
    assert "not in Microsoft's supported hotpatch image list" in verdict.reason
    assert verdict.suggestion == urn(suggested)


def test_unknown_sku_of_windows_server_has_no_suggestion():
    verdict = check_image(urn("datacenter-core-20h2-with-containers-smalldisk"))
    assert not verdict.eligible
    assert verdict.suggestion is None
    assert "is not one of the 8 hotpatch-eligible WindowsServer SKUs" in verdict.reason


def test_other_publisher():
    verdict = check_image("Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest")
    assert not verdict.eligible
    assert "publisher Canonical is not MicrosoftWindowsServer" in verdict.reason
    assert verdict.suggestion is None


def test_other_publisher_with_an_eligible_sku_suggests_the_right_publisher():
    verdict = check_image(f"MicrosoftWindowsDesktop:{OFFER}:2025-datacenter-azure-edition-core")
    assert "publisher MicrosoftWindowsDesktop is not MicrosoftWindowsServer" in verdict.reason
    assert verdict.suggestion == urn("2025-datacenter-azure-edition-core")


def test_other_offer():
    verdict = check_image(f"{PUB}:WindowsServerSemiAnnual:datacenter-core-20h2-with-containers-smalldisk-gs")
    assert not verdict.eligible
    assert "offer WindowsServerSemiAnnual is not WindowsServer" in verdict.reason


def test_other_offer_with_a_near_miss_sku_suggests_the_eligible_urn():
    verdict = check_image(f"{PUB}:WindowsServer-Gen2:2022-datacenter-azure-edition")
    assert "offer WindowsServer-Gen2 is not WindowsServer" in verdict.reason
    assert verdict.suggestion == urn("2022-datacenter-azure-edition-hotpatch")


# --------------------------------------------------------------------------- ids


CUSTOM_ID = f"/subscriptions/{SUB}/resourceGroups/rg-images/providers/Microsoft.Compute/images/golden-2025"
GALLERY_ID = (
    f"/subscriptions/{SUB}/resourceGroups/rg-img/providers/Microsoft.Compute/galleries/corp/images/ws2025"
)


def test_custom_image_id():
    for text in (CUSTOM_ID, CUSTOM_ID.lower(), CUSTOM_ID + "/"):
        verdict = check_image(text)
        assert not verdict.eligible
        assert verdict.image.kind == "custom-image"
        assert verdict.image.name == "golden-2025" and verdict.image.resource_group == "rg-images"
        assert verdict.reason.startswith("Custom images can't hotpatch")
        assert "Azure Edition marketplace images" in verdict.reason
        assert verdict.suggestion is None


@pytest.mark.parametrize("version", [None, "1.0.0"])
def test_compute_gallery_image_and_version(version):
    text = GALLERY_ID + (f"/versions/{version}" if version else "")
    verdict = check_image(text)
    assert not verdict.eligible
    assert verdict.image == ImageRef(
        kind="gallery",
        text=text,
        subscription=SUB,
        resource_group="rg-img",
        gallery="corp",
        name="ws2025",
        version=version,
    )
    assert verdict.reason.startswith(
        "Azure Compute Gallery images can't hotpatch (gallery 'corp', image 'ws2025')"
    )


@pytest.mark.parametrize(
    "text",
    [
        "/CommunityGalleries/contoso-1a2b/Images/ws2025-ae",
        "/CommunityGalleries/contoso-1a2b/Images/ws2025-ae/Versions/latest",
        "/communitygalleries/contoso-1a2b/images/ws2025-ae/versions/1.2.3",
    ],
)
def test_community_gallery(text):
    verdict = check_image(text)
    assert verdict.image.kind == "community-gallery"
    assert verdict.image.gallery == "contoso-1a2b" and verdict.image.name == "ws2025-ae"
    assert not verdict.eligible
    assert verdict.reason.startswith("Community gallery images can't hotpatch")


@pytest.mark.parametrize(
    "text",
    [
        "/SharedGalleries/11111111-2222-3333-4444-555555555555-CORP/Images/ws2025",
        "/sharedgalleries/11111111-2222-3333-4444-555555555555-CORP/images/ws2025/versions/2.0.0",
    ],
)
def test_direct_shared_gallery(text):
    verdict = check_image(text)
    assert verdict.image.kind == "shared-gallery"
    assert not verdict.eligible
    assert verdict.reason.startswith("Direct-shared gallery images can't hotpatch")


def test_each_image_kind_has_its_own_reason():
    reasons = {
        check_image(text).reason.split(" images can't")[0]
        for text in (
            CUSTOM_ID,
            GALLERY_ID,
            "/CommunityGalleries/c/Images/d",
            "/SharedGalleries/s/Images/d",
        )
    }
    assert reasons == {"Custom", "Azure Compute Gallery", "Community gallery", "Direct-shared gallery"}


def test_marketplace_version_id_is_checked_like_a_urn():
    text = marketplace_id("2025-datacenter-azure-edition-core", "26100.1742.240906")
    image = parse_image(text)
    assert image.kind == "marketplace"
    assert (image.publisher, image.offer, image.sku, image.version) == (
        PUB,
        OFFER,
        "2025-datacenter-azure-edition-core",
        "26100.1742.240906",
    )
    assert image.location == "westeurope" and image.subscription == SUB
    assert image.urn == urn("2025-datacenter-azure-edition-core", "26100.1742.240906")
    other = check_image(marketplace_id("22_04-lts-gen2", "22.4.1", publisher="Canonical", offer="ubuntu"))
    assert "publisher Canonical" in other.reason


def test_parse_urn_fields_and_original_text():
    image = parse_image(f" {PUB}:{OFFER}:2022-datacenter-azure-edition-core ")
    assert image == ImageRef(
        kind="marketplace",
        text=f"{PUB}:{OFFER}:2022-datacenter-azure-edition-core",
        publisher=PUB,
        offer=OFFER,
        sku="2022-datacenter-azure-edition-core",
        version="latest",
    )
    assert parse_image("2025-datacenter-azure-edition").urn == urn("2025-datacenter-azure-edition")
    assert parse_image(CUSTOM_ID).urn is None


# --------------------------------------------------------------------------- malformed input


MALFORMED = [
    ("", "The image is empty"),
    ("   ", "The image is empty"),
    ("MicrosoftWindowsServer:WindowsServer", "has 2 parts separated by ':', not 3 or 4"),
    ("a:b:c:latest:extra", "has 5 parts separated by ':', not 3 or 4"),
    (":WindowsServer:2025-datacenter-azure-edition", "has an empty publisher"),
    ("MicrosoftWindowsServer::2025-datacenter-azure-edition", "has an empty offer"),
    ("MicrosoftWindowsServer:WindowsServer::latest", "has an empty SKU"),
    ("MicrosoftWindowsServer:WindowsServer:2025-datacenter-azure-edition:", "ends with ':' but no version"),
    ("MicrosoftWindowsServer:WindowsServer:2025-datacenter-azure-edition:1.2", "neither 'latest' nor major"),
    (
        "MicrosoftWindowsServer:WindowsServer:2025-datacenter-azure-edition:newest",
        "neither 'latest' nor major",
    ),
    (
        "Microsoft Windows Server:WindowsServer:2025-datacenter-azure-edition",
        "publisher 'Microsoft Windows Server'",
    ),
    (
        "MicrosoftWindowsServer:Windows$erver:2025-datacenter-azure-edition",
        "offer 'Windows$erver' with characters",
    ),
    ("MicrosoftWindowsServer:WindowsServer:2025 datacenter", "SKU '2025 datacenter' with characters"),
    ("2025 datacenter azure edition", "neither a URN, a SKU nor a resource id"),
    ("https://example.com/images/ws2025.vhd", "mixes ':' and '/'"),
    ("images/ws2025", "does not start with '/'"),
    ("/resourceGroups/rg/providers/Microsoft.Compute/images/x", "starts with '/resourceGroups'"),
    (f"/subscriptions/{SUB}//resourceGroups/rg", "empty segment"),
    (
        "/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.Compute/images/x",
        "which is not a GUID",
    ),
    (
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
        "is the id of a Microsoft.Compute/virtualMachines resource, not an image",
    ),
    (
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa",
        "is the id of a Microsoft.Storage/storageAccounts resource, not an image",
    ),
    (
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/images/x/extra",
        "does not have the shape",
    ),
    (
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/galleries/g",
        "does not have the shape",
    ),
    (
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/definitions/d",
        "has 'definitions' where 'images' belongs",
    ),
    (f"/subscriptions/{SUB}/resourceGroup/rg/providers/Microsoft.Compute/images/x", "'resourceGroup' where"),
    ("/CommunityGalleries/c/Images", "does not have the shape /CommunityGalleries/G/Images/D"),
    ("/SharedGalleries/s/Pictures/d", "has 'Pictures' where 'Images' belongs"),
    (marketplace_id("2025-datacenter-azure-edition", "1.2"), "has version '1.2'"),
    (
        marketplace_id("2025-datacenter-azure-edition").replace("/VMImage/", "/VMExtension/"),
        "'VMExtension' where",
    ),
    (marketplace_id("2025-datacenter-azure-edition").rsplit("/Versions/", 1)[0], "does not have the shape"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_input_raises_input_error_with_its_own_reason(text, message):
    with pytest.raises(InputError) as caught:
        parse_image(text)
    assert message in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.exit_code == 2
    # check_image raises the same error rather than returning a verdict.
    with pytest.raises(InputError):
        check_image(text)


def test_malformed_messages_are_distinct():
    messages = []
    for text, _ in MALFORMED:
        with pytest.raises(InputError) as caught:
            parse_image(text)
        messages.append(caught.value.message)
    # Every kind of mistake gets its own message (only "" and "   " share one: both are empty).
    assert len(set(messages)) == len(messages) - 1 >= 15


def test_malformed_messages_say_how_to_fix():
    for text, _ in MALFORMED:
        with pytest.raises(InputError) as caught:
            parse_image(text)
        message = caught.value.message
        assert any(word in message for word in ("give", "write it", "use", "add", "URN")), message


# --------------------------------------------------------------------------- data is data


def _builtin_raw() -> dict:
    return json.loads(resources.files("hpctl.core").joinpath("data/images.json").read_text(encoding="utf-8"))


def test_a_new_sku_in_a_copy_of_images_json_is_eligible_without_code_changes(tmp_path):
    raw = _builtin_raw()
    new_row = dict(raw["skus"][-1], sku="2028-datacenter-azure-edition", os_version="2028")
    raw["skus"].append(new_row)
    path = tmp_path / "images.json"
    path.write_text(json.dumps(raw), encoding="utf-8")

    catalog = load_images(path)
    new = urn("2028-datacenter-azure-edition")
    assert not check_image(new).eligible  # the built-in list is unchanged
    verdict = check_image(new, catalog=catalog)
    assert verdict.eligible and verdict.eligible_image.os_version == "2028"
    assert is_eligible_image(PUB, OFFER, "2028-Datacenter-Azure-Edition", catalog=catalog)
    assert len(eligible_images(catalog)) == 9
    assert check_image("2028-datacenter-azure-edition", catalog=catalog).eligible


def test_load_images_without_a_path_is_the_builtin_catalog():
    assert load_images() is load_images()
    assert [image.sku for image in load_images().images] == ELIGIBLE


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw: raw.pop("skus"), "'skus' must be a non-empty list"),
        (lambda raw: raw["skus"].append(dict(raw["skus"][0])), "repeats sku"),
        (lambda raw: raw["skus"][0].pop("os_version"), "needs a non-empty string 'os_version'"),
        (lambda raw: raw["skus"][0].update(disk_gb="30"), "positive integer 'disk_gb'"),
        (lambda raw: raw["near_misses"][0].update(suggest="2030-nope"), "not one of the eligible skus"),
        (lambda raw: raw["aliases"].update(bad="2030-nope"), "must name one of the eligible skus"),
        (lambda raw: raw["skus"][0].update(sku="bad sku"), "has characters a SKU can't have"),
    ],
)
def test_a_broken_data_file_is_rejected_with_a_reason(tmp_path, mutate, message):
    raw = _builtin_raw()
    mutate(raw)
    path = tmp_path / "images.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_images(path)
    assert message in caught.value.message
    assert str(path) in caught.value.message


def test_unreadable_or_non_json_data_file(tmp_path):
    with pytest.raises(InputError, match="Can't read image data file"):
        load_images(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not JSON"):
        load_images(broken)


def test_module_is_pure():
    source = resources.files("hpctl.core").joinpath("images.py").read_text(encoding="utf-8")
    for forbidden in ("import azure", "from azure", "typer", "rich"):
        assert forbidden not in source
    assert images.__doc__ and "\n" not in images.__doc__.strip()

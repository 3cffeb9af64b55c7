"""Table-driven tests of `vm create` / `vmss create` input rules: bad input refused, good input normalised."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from hpctl.core import vm_rules as r
from hpctl.core.vm_rules import VmCreateRequest, VmssCreateRequest, validate_vm_create, validate_vmss_create
from hpctl.errors import EXIT_INPUT_REJECTED, InputError

ROOT = Path(__file__).resolve().parents[2]
SUB = "00000000-0000-0000-0000-000000000000"
SUBNET = (
    f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/hub/subnets/apps"
)
AVSET = f"/subscriptions/{SUB}/resourceGroups/rg-web/providers/Microsoft.Compute/availabilitySets/web-as"
GOOD_PASSWORD = "Tr1cky-Harbour-42"
SKU = "2025-datacenter-azure-edition-core"

VM = VmCreateRequest(name="web-01", image=SKU, admin_password=GOOD_PASSWORD)
VMSS = VmssCreateRequest(name="api", image=SKU, admin_password=GOOD_PASSWORD)

# (case id, request, what the message must name, a word of the fix it must give)
BAD_VM: list[tuple[str, VmCreateRequest, str, str]] = [
    ("name-empty", dataclasses.replace(VM, name=""), "--name", "give"),
    ("name-too-long", dataclasses.replace(VM, name="v" * 65, computer_name="web-01"), "--name", "shorten"),
    ("name-bad-char", dataclasses.replace(VM, name="web 01", computer_name="web-01"), "--name", "use only"),
    ("name-slash", dataclasses.replace(VM, name="web/01", computer_name="web-01"), "'/'", "use only"),
    ("name-leading-underscore", dataclasses.replace(VM, name="_web", computer_name="web"), "_web", "start"),
    ("name-trailing-period", dataclasses.replace(VM, name="web.", computer_name="web"), "web.", "end it"),
    ("name-trailing-hyphen", dataclasses.replace(VM, name="web-", computer_name="web"), "web-", "end it"),
    ("name-spaces-around", dataclasses.replace(VM, name=" web"), "--name", "remove"),
    ("name-newline", dataclasses.replace(VM, name="web\n01"), "\\n", "use only"),
    (
        "name-as-computer-too-long",
        dataclasses.replace(VM, name="web-frontend-0001"),
        "--computer-name",
        "pass",
    ),
    ("name-as-computer-underscore", dataclasses.replace(VM, name="web_01"), "--computer-name", "pass"),
    ("name-as-computer-period", dataclasses.replace(VM, name="web.01"), "'.'", "--computer-name"),
    ("name-all-digits", dataclasses.replace(VM, name="12345"), "12345", "--computer-name"),
    (
        "computer-too-long",
        dataclasses.replace(VM, computer_name="abcdefghijklmnop"),
        "--computer-name",
        "choose",
    ),
    ("computer-bad-char", dataclasses.replace(VM, computer_name="web#1"), "'#'", "choose"),
    ("computer-all-digits", dataclasses.replace(VM, computer_name="2024"), "--computer-name", "choose"),
    ("computer-leading-hyphen", dataclasses.replace(VM, computer_name="-web"), "--computer-name", "choose"),
    ("computer-trailing-hyphen", dataclasses.replace(VM, computer_name="web-"), "--computer-name", "choose"),
    ("rg-bad-char", dataclasses.replace(VM, resource_group="rg web"), "--resource-group", "use"),
    ("rg-trailing-period", dataclasses.replace(VM, resource_group="rg."), "--resource-group", "remove"),
    ("user-reserved-admin", dataclasses.replace(VM, admin_username="Admin"), "--admin-username", "choose"),
    (
        "user-reserved-administrator",
        dataclasses.replace(VM, admin_username="ADMINISTRATOR"),
        "ADMINISTRATOR",
        "choose",
    ),
    ("user-reserved-root", dataclasses.replace(VM, admin_username="root"), "'root'", "choose"),
    (
        "user-reserved-support",
        dataclasses.replace(VM, admin_username="support_388945a0"),
        "support_",
        "choose",
    ),
    ("user-too-long", dataclasses.replace(VM, admin_username="a" * 21), "--admin-username", "at most 20"),
    ("user-bad-char", dataclasses.replace(VM, admin_username="ops@corp"), "'@'", "forbids"),
    ("user-backslash", dataclasses.replace(VM, admin_username="corp\\ops"), "--admin-username", "forbids"),
    ("user-trailing-period", dataclasses.replace(VM, admin_username="ops."), "--admin-username", "remove"),
    ("user-empty", dataclasses.replace(VM, admin_username=""), "--admin-username", "give"),
    ("password-short", dataclasses.replace(VM, admin_password="Ab1!short"), "admin password", "12-123"),
    ("password-long", dataclasses.replace(VM, admin_password="Ab1!" + "x" * 120), "admin password", "12-123"),
    (
        "password-two-classes",
        dataclasses.replace(VM, admin_password="alllowercase123"),
        "2 of the 4",
        "generate",
    ),
    (
        "password-disallowed",
        dataclasses.replace(VM, admin_password="P@ssword123"),
        "refused passwords",
        "generate",
    ),
    (
        "password-disallowed-case",
        dataclasses.replace(VM, admin_password="p@SSWORD123"),
        "refused",
        "generate",
    ),
    (
        "password-contains-user",
        dataclasses.replace(VM, admin_username="opsteam", admin_password="OPSTEAM-rocks-99"),
        "user name",
        "generate",
    ),
    (
        "password-newline",
        dataclasses.replace(VM, admin_password="Tr1cky-Harbour-42\n"),
        "control character",
        "use",
    ),
    ("password-empty", dataclasses.replace(VM, admin_password=""), "admin password", "--admin-password-file"),
    ("size-gen1-basic", dataclasses.replace(VM, size="Basic_A1"), "Basic_A1", "Gen2 size"),
    ("size-gen1-av2", dataclasses.replace(VM, size="Standard_A4_v2"), "Standard_A4_v2", "Gen2 size"),
    ("size-gen1-av2m", dataclasses.replace(VM, size="standard_a2m_v2"), "--size", "Standard_D2s_v5"),
    ("size-gen1-a-v1", dataclasses.replace(VM, size="Standard_A3"), "Standard_A3", "Gen2 size"),
    ("size-not-a-size", dataclasses.replace(VM, size="D2s_v5"), "--size", "Standard_D2s_v5"),
    ("zone-4", dataclasses.replace(VM, zone="4"), "--zone", "1, 2 or 3"),
    ("zone-word", dataclasses.replace(VM, zone="east"), "'east'", "1, 2 or 3"),
    (
        "zone-and-avset",
        dataclasses.replace(VM, zone="1", availability_set="web-as"),
        "--availability-set",
        "drop one",
    ),
    (
        "avset-bad-id",
        dataclasses.replace(VM, availability_set="/subscriptions/x/avs"),
        "--availability-set",
        "use",
    ),
    ("avset-bad-name", dataclasses.replace(VM, availability_set="as!"), "--availability-set", "use"),
    ("reboot-bad", dataclasses.replace(VM, reboot_setting="Sometimes"), "--reboot-setting", "IfRequired"),
    ("rdp-star", dataclasses.replace(VM, rdp_from="*"), "--rdp-from", "Bastion"),
    ("rdp-internet", dataclasses.replace(VM, rdp_from="Internet"), "'Internet'", "CIDR"),
    ("rdp-any", dataclasses.replace(VM, rdp_from="any"), "--rdp-from", "CIDR"),
    ("rdp-all-v4", dataclasses.replace(VM, rdp_from="0.0.0.0/0"), "0.0.0.0/0", "CIDR"),
    ("rdp-all-v6", dataclasses.replace(VM, rdp_from="::/0"), "::/0", "CIDR"),
    ("rdp-zero-address", dataclasses.replace(VM, rdp_from="0.0.0.0"), "0.0.0.0", "CIDR"),
    ("rdp-too-broad-v4", dataclasses.replace(VM, rdp_from="0.0.0.0/1"), "--rdp-from", "narrow"),
    ("rdp-too-broad-v6", dataclasses.replace(VM, rdp_from="2000::/3"), "--rdp-from", "narrow"),
    ("rdp-host-bits", dataclasses.replace(VM, rdp_from="10.1.2.3/24"), "--rdp-from", "10.1.2.0/24"),
    ("rdp-not-ip", dataclasses.replace(VM, rdp_from="my-office"), "'my-office'", "203.0.113.0/24"),
    ("rdp-bad-octet", dataclasses.replace(VM, rdp_from="10.0.0.256"), "--rdp-from", "give one like"),
    ("public-ip-word", dataclasses.replace(VM, public_ip="maybe"), "--public-ip", "omit"),  # type: ignore[arg-type]
    ("subnet-not-id", dataclasses.replace(VM, subnet_id="apps"), "--subnet-id", "/subscriptions/"),
    (
        "subnet-vnet-only",
        dataclasses.replace(VM, subnet_id=SUBNET.rsplit("/subnets", 1)[0]),
        "--subnet-id",
        "use",
    ),
    (
        "subnet-bad-guid",
        dataclasses.replace(VM, subnet_id=SUBNET.replace(SUB, "not-a-guid")),
        "--subnet-id",
        "use",
    ),
    ("tags-empty-name", dataclasses.replace(VM, tags=["=prod"]), "--tags", "name=value"),
    ("tags-bad-char", dataclasses.replace(VM, tags=["cost<center>=1"]), "'<'", "forbids"),
    ("tags-slash", dataclasses.replace(VM, tags=["a/b=1"]), "--tags", "forbids"),
    ("tags-name-too-long", dataclasses.replace(VM, tags=["k" * 513 + "=v"]), "--tags", "512"),
    ("tags-value-too-long", dataclasses.replace(VM, tags=["k=" + "v" * 257]), "--tags", "256"),
    ("tags-too-many", dataclasses.replace(VM, tags=[f"k{i}=v" for i in range(51)]), "51 tags", "drop"),
    ("tags-duplicate", dataclasses.replace(VM, tags=["env=a", "ENV=b"]), "'ENV'", "keep one"),
    ("tags-one-string", dataclasses.replace(VM, tags="env=prod"), "--tags", "split"),  # type: ignore[arg-type]
    ("location-spaces-bad", dataclasses.replace(VM, location="west-europe"), "--location", "westeurope"),
    ("location-digit-first", dataclasses.replace(VM, location="1west"), "--location", "westeurope"),
    ("image-empty", dataclasses.replace(VM, image=""), "--image", "give"),
    (
        "image-three-part-urn",
        dataclasses.replace(VM, image="MicrosoftWindowsServer:WindowsServer:x"),
        "URN",
        "use",
    ),
    ("image-empty-part", dataclasses.replace(VM, image="MicrosoftWindowsServer::x:latest"), "--image", "use"),
    (
        "image-bad-version",
        dataclasses.replace(VM, image=f"MicrosoftWindowsServer:WindowsServer:{SKU}:v1"),
        "'v1'",
        "latest",
    ),
    (
        "image-resource-id",
        dataclasses.replace(VM, image=f"/subscriptions/{SUB}/x/images/img"),
        "resource id",
        "SKU",
    ),
    (
        "image-other-publisher",
        dataclasses.replace(VM, image="Canonical:ubuntu:22_04-lts:latest"),
        "--image",
        "Azure Edition",
    ),
    ("image-garbage", dataclasses.replace(VM, image="win 2025"), "--image", "give e.g."),
]

BAD_VMSS: list[tuple[str, VmssCreateRequest, str, str]] = [
    ("uniform", dataclasses.replace(VMSS, orchestration_mode="Uniform"), "Uniform", "Flexible"),
    (
        "uniform-lower",
        dataclasses.replace(VMSS, orchestration_mode="uniform"),
        "--orchestration-mode",
        "Flexible",
    ),
    ("mode-unknown", dataclasses.replace(VMSS, orchestration_mode="Elastic"), "'Elastic'", "Flexible"),
    ("count-negative", dataclasses.replace(VMSS, instance_count=-1), "--instance-count", "0 to 1000"),
    ("count-too-many", dataclasses.replace(VMSS, instance_count=1001), "--instance-count", "0 to 1000"),
    ("count-word", dataclasses.replace(VMSS, instance_count="three"), "'three'", "whole number"),
    ("count-bool", dataclasses.replace(VMSS, instance_count=True), "--instance-count", "whole number"),  # type: ignore[arg-type]
    (
        "prefix-too-long",
        dataclasses.replace(VMSS, computer_name_prefix="abcdefghij"),
        "--computer-name-prefix",
        "choose",
    ),
    ("prefix-bad-char", dataclasses.replace(VMSS, computer_name_prefix="api_"), "'_'", "choose"),
    (
        "name-as-prefix-too-long",
        dataclasses.replace(VMSS, name="api-scaleset"),
        "--computer-name-prefix",
        "pass",
    ),
    ("zones-bad", dataclasses.replace(VMSS, zones=["1", "5"]), "--zones", "1, 2 or 3"),
    ("zones-repeat", dataclasses.replace(VMSS, zones=["2", "2"]), "--zones", "once"),
    ("health-protocol", dataclasses.replace(VMSS, health_protocol="udp"), "--health-protocol", "pick"),
    ("health-port", dataclasses.replace(VMSS, health_port=70000), "--health-port", "1-65535"),
    ("health-path-tcp", dataclasses.replace(VMSS, health_path="/x"), "--health-path", "drop the path"),
    (
        "health-path-http",
        dataclasses.replace(VMSS, health_protocol="http", health_path="healthz"),
        "--health-path",
        "/healthz",
    ),
    ("vmss-rdp-world", dataclasses.replace(VMSS, rdp_from="Internet"), "--rdp-from", "CIDR"),
    ("vmss-size-gen1", dataclasses.replace(VMSS, size="Basic_A0"), "--size", "Gen2"),
    ("vmss-user-reserved", dataclasses.replace(VMSS, admin_username="guest"), "--admin-username", "choose"),
]


def _assert_one_line_error(exc: InputError, names: str, fix: str) -> None:
    assert exc.exit_code == EXIT_INPUT_REJECTED
    assert "\n" not in exc.message and "\r" not in exc.message, exc.message
    assert names in exc.message, f"{names!r} not named in: {exc.message}"
    assert fix.lower() in exc.message.lower(), f"fix {fix!r} not given in: {exc.message}"
    # Every message has the "what is wrong: how to fix it" shape.
    assert ": " in exc.message


def test_table_is_big_enough() -> None:
    assert len(BAD_VM) + len(BAD_VMSS) >= 40
    assert len({case[0] for case in BAD_VM + BAD_VMSS}) == len(BAD_VM) + len(BAD_VMSS)


@pytest.mark.parametrize(("case", "request_", "names", "fix"), BAD_VM, ids=[c[0] for c in BAD_VM])
def test_bad_vm_input_is_rejected(case: str, request_: VmCreateRequest, names: str, fix: str) -> None:
    with pytest.raises(InputError) as info:
        validate_vm_create(request_)
    _assert_one_line_error(info.value, names, fix)


@pytest.mark.parametrize(("case", "request_", "names", "fix"), BAD_VMSS, ids=[c[0] for c in BAD_VMSS])
def test_bad_vmss_input_is_rejected(case: str, request_: VmssCreateRequest, names: str, fix: str) -> None:
    with pytest.raises(InputError) as info:
        validate_vmss_create(request_)
    _assert_one_line_error(info.value, names, fix)


@pytest.mark.parametrize(
    "password",
    ["Ab1!short", "alllowercase123", "P@ssword123", "Tr1cky-Harbour-42\n", "x" * 200, "OPSTEAM-rocks-99"],
)
def test_password_errors_never_repeat_the_password(password: str) -> None:
    with pytest.raises(InputError) as info:
        r.validate_admin_password(password, "opsteam")
    assert password.strip() not in info.value.message
    assert password.strip() not in (info.value.hint or "")


def test_password_message_names_its_source() -> None:
    bad = dataclasses.replace(
        VM, admin_password="short", admin_password_source="--admin-password-file pw.txt"
    )
    with pytest.raises(InputError, match=r"^--admin-password-file pw\.txt is rejected"):
        validate_vm_create(bad)


def test_uniform_is_refused_before_anything_else() -> None:
    # Even with every other field wrong, the Uniform refusal is the one the user sees.
    bad = VmssCreateRequest(name="_", image="", orchestration_mode="Uniform", admin_username="admin")
    with pytest.raises(InputError, match="Uniform"):
        validate_vmss_create(bad)


def test_good_vm_is_normalised() -> None:
    spec = validate_vm_create(
        VmCreateRequest(
            name="web-02",
            image=f"MicrosoftWindowsServer:WindowsServer:{SKU}:LATEST",
            resource_group="rg-web",
            location="West Europe",
            size="standard_d4S_V5",
            zone="2",
            admin_username="OpsAdmin",
            admin_password=GOOD_PASSWORD,
            reboot_setting="ifrequired",
            public_ip=True,
            rdp_from="  203.0.113.0/24 ",
            subnet_id=SUBNET + "/",
            tags=["env=prod", "owner=platform", "empty"],
        )
    )
    assert spec.image_urn == f"MicrosoftWindowsServer:WindowsServer:{SKU}:latest"
    assert (spec.image_sku, spec.image_version) == (SKU, "latest")
    assert spec.location == "westeurope"
    assert (spec.size, spec.size_known, spec.os_disk_type) == ("Standard_D4s_v5", True, "Premium_LRS")
    assert spec.zone == "2" and spec.availability_set is None
    assert spec.computer_name == "web-02"
    assert spec.reboot_setting == "IfRequired"
    assert spec.public_ip is True
    assert spec.rdp_from == "203.0.113.0/24"
    assert spec.subnet_id == SUBNET
    assert spec.tags_dict == {"env": "prod", "owner": "platform", "empty": ""}
    assert spec.warnings == ()
    assert GOOD_PASSWORD not in repr(spec)


def test_defaults() -> None:
    spec = validate_vm_create(VmCreateRequest(name="web-03", image=SKU))
    assert spec.size == r.DEFAULT_VM_SIZE == "Standard_D2s_v5"
    assert spec.image_urn == f"MicrosoftWindowsServer:WindowsServer:{SKU}:latest"
    assert spec.reboot_setting == "IfRequired"
    assert spec.public_ip is False and spec.rdp_from is None and spec.subnet_id is None
    assert spec.admin_username == r.DEFAULT_ADMIN_USERNAME
    assert spec.admin_password is None  # hpctl generates one
    assert spec.location is None  # the resource group's


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Standard_D2s_v5", "Standard_D2s_v5"),
        ("STANDARD_E8S_V5", "Standard_E8s_v5"),
        ("standard_b2ms", "Standard_B2ms"),
        ("Standard_F4s_v2", "Standard_F4s_v2"),
        ("Standard_DC2s_v3", "Standard_DC2s_v3"),
        ("Standard_D4_v3", "Standard_D4_v3"),
        ("Standard_D8s_v6", "Standard_D8s_v6"),
    ],
)
def test_known_gen2_sizes(given: str, expected: str) -> None:
    verdict = r.validate_size(given)
    assert verdict.name == expected and verdict.known and verdict.warning is None


def test_non_premium_size_gets_standard_ssd() -> None:
    spec = validate_vm_create(dataclasses.replace(VM, size="Standard_D2_v5"))
    assert spec.os_disk_type == "StandardSSD_LRS"


def test_unknown_size_is_accepted_with_a_warning() -> None:
    spec = validate_vm_create(dataclasses.replace(VM, size="standard_zz9s_v9"))
    assert spec.size == "Standard_zz9s_v9"
    assert spec.size_known is False
    assert spec.os_disk_type == "StandardSSD_LRS"
    assert len(spec.warnings) == 1 and "Standard_zz9s_v9" in spec.warnings[0]
    assert "\n" not in spec.warnings[0]


def test_size_data_file_is_consistent() -> None:
    data = json.loads((ROOT / "hpctl/core/data/vm_sizes.json").read_text())
    names = [s.lower() for fam in data["gen2"] for s in fam["sizes"]]
    assert len(names) == len(set(names)), "a size is listed twice"
    assert data["default"].lower() in names
    # No Gen2 size may match a Gen1-only pattern.
    clashes = [s for s in names for rule in data["gen1Only"] if re.match(rule["pattern"], s, re.IGNORECASE)]
    assert clashes == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "2025-datacenter-azure-edition",
            "MicrosoftWindowsServer:WindowsServer:2025-datacenter-azure-edition:latest",
        ),
        (
            "MicrosoftWindowsServer:WindowsServer:2022-datacenter-azure-edition-hotpatch:20348.2582.240703",
            "MicrosoftWindowsServer:WindowsServer:2022-datacenter-azure-edition-hotpatch:20348.2582.240703",
        ),
        ("Canonical:ubuntu-24_04-lts:server:Latest", "Canonical:ubuntu-24_04-lts:server:latest"),
        ("2016-Datacenter", "MicrosoftWindowsServer:WindowsServer:2016-Datacenter:latest"),
    ],
)
def test_expand_image_shorthand(given: str, expected: str) -> None:
    # Only the form is normalised; eligibility is hpctl.core.images' job.
    assert r.expand_image_shorthand(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("2001:DB8::/48", "2001:db8::/48"),
        ("", None),
    ],
)
def test_rdp_source_normalised(given: str, expected: str | None) -> None:
    assert r.validate_rdp_source(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"), [("never", "Never"), ("ALWAYS", "Always"), (None, "IfRequired")]
)
def test_reboot_setting_normalised(given: str | None, expected: str) -> None:
    assert r.validate_reboot_setting(given) == expected


def test_availability_set_by_name_and_id() -> None:
    spec = validate_vm_create(dataclasses.replace(VM, availability_set="web-as", resource_group="rg-web"))
    params = spec.template_parameters(password="x", subscription_id=SUB)
    assert params["availabilitySetId"]["value"] == AVSET
    spec = validate_vm_create(dataclasses.replace(VM, availability_set=AVSET))
    assert spec.template_parameters(password="x")["availabilitySetId"]["value"] == AVSET
    with pytest.raises(ValueError):
        validate_vm_create(dataclasses.replace(VM, availability_set="web-as")).template_parameters(
            password="x"
        )


def _template(name: str) -> dict:
    return json.loads((ROOT / "templates" / name).read_text())


def test_vm_template_parameters_match_the_template() -> None:
    spec = validate_vm_create(dataclasses.replace(VM, location="westeurope", zone="1", tags=["a=b"]))
    params = spec.template_parameters()
    declared = _template("hotpatch-vm.json")["parameters"]
    assert set(params) <= set(declared), set(params) - set(declared)
    # Every required template parameter (no defaultValue) is supplied.
    assert {k for k, v in declared.items() if "defaultValue" not in v} <= set(params)
    assert params["adminPassword"]["value"] == GOOD_PASSWORD
    assert spec.template_parameters(redact_password=True)["adminPassword"]["value"] == "***"


def test_vm_template_parameters_need_a_password() -> None:
    spec = validate_vm_create(VmCreateRequest(name="web-04", image=SKU))
    with pytest.raises(ValueError):
        spec.template_parameters()
    assert (
        spec.template_parameters(password="Generated-Pass-123")["adminPassword"]["value"]
        == "Generated-Pass-123"
    )


def test_good_vmss_is_normalised() -> None:
    spec = validate_vmss_create(
        VmssCreateRequest(
            name="api-scaleset",
            image=SKU,
            computer_name_prefix="api",
            zones=["3", "1", "2"],
            orchestration_mode="flexible",
            instance_count="3",
            admin_password=GOOD_PASSWORD,
            health_protocol="HTTP",
            health_path="/healthz",
        )
    )
    assert spec.orchestration_mode == "Flexible"
    assert spec.zones == ("1", "2", "3")
    assert spec.instance_count == 3
    assert (spec.health_protocol, spec.health_port, spec.health_path) == ("http", 80, "/healthz")
    params = spec.template_parameters()
    declared = _template("hotpatch-vmss-flex.json")["parameters"]
    assert set(params) <= set(declared), set(params) - set(declared)
    assert {k for k, v in declared.items() if "defaultValue" not in v} <= set(params)


def test_vmss_defaults() -> None:
    spec = validate_vmss_create(VmssCreateRequest(name="api", image=SKU))
    assert spec.orchestration_mode == "Flexible"
    assert spec.computer_name_prefix == "api"
    assert (spec.health_protocol, spec.health_port, spec.health_path) == ("tcp", 3389, "")
    assert spec.instance_count == 2
    assert spec.zones == ()


def test_vm_rules_is_a_pure_core_module() -> None:
    import ast

    for module in ("vm_rules", "passwords", "template_lint", "lint_model", "arm_model", "terraform_model",
                   "vm_create_extras", "calendar_strip"):
        tree = ast.parse((ROOT / "hpctl" / "core" / f"{module}.py").read_text())
        imported = {
            (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        }
        for name in imported:
            assert not name.startswith(("azure", "typer", "rich", "click")), (module, name)
            if name.startswith("hpctl"):
                # Core modules lean on each other and on hpctl.errors only: never on the CLI, edge or sandbox.
                assert name == "hpctl.errors" or name.startswith("hpctl.core."), (module, name)

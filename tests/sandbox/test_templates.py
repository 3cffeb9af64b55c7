"""The sandbox's ARM template evaluator: expressions, functions, parameters, variables, resources, errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from hpctl.sandbox.templates import (
    DeploymentContext,
    Evaluator,
    ExpressionError,
    TemplateError,
    arm_guid,
    parse_expression,
    supported_functions,
    unique_string,
)

REPO = Path(__file__).resolve().parents[2]
SUB = "00000000-0000-0000-0000-000000000001"
GROUP = {
    "id": f"/subscriptions/{SUB}/resourceGroups/rg1",
    "name": "rg1",
    "type": "Microsoft.Resources/resourceGroups",
    "location": "westeurope",
    "tags": {},
    "properties": {"provisioningState": "Succeeded"},
}


def ctx() -> DeploymentContext:
    now = dt.datetime(2026, 5, 20, 9, 30, tzinfo=dt.timezone.utc)
    return DeploymentContext(SUB, "tenant-1", dict(GROUP), "dep1", now)


def template(**parts: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [],
    }
    body.update(parts)
    return body


def evaluate(expression: str, parameters: dict[str, Any] | None = None, variables: dict[str, Any] | None = None) -> Any:
    definitions = {name: {"type": _kind(value)} for name, value in (parameters or {}).items()}
    ev = Evaluator(template(parameters=definitions, variables=variables or {}), parameters or {}, ctx())
    ev.location = "resources"
    return ev.evaluate(expression)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["test"], "rbgf3xv4ufgzg"),
        (["hello", "world"], "a7wkljktk6wne"),
        (["abc"], "cgtzqvhu4i23s"),
        ([f"/subscriptions/{'0' * 8}-0000-0000-0000-{'0' * 12}/resourceGroups/my-rg"], "bmg7c6xu4tw46"),
        (["foo", "bar", "baz"], "xzi4ioaxtmth4"),
    ],
)
def test_unique_string_matches_published_arm_outputs(args: list[str], expected: str) -> None:
    assert unique_string(*args) == expected


def test_guid_is_arm_name_based_uuid() -> None:
    # guid() is a v5 UUID over the arguments joined with '-' under ARM's namespace: stable and well formed.
    value = arm_guid("a", "b")
    assert value == arm_guid("a", "b") != arm_guid("a-b", "c")
    assert value[14] == "5"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("[concat('a', 'b', 'c')]", "abc"),
        ("[concat(createArray(1, 2), createArray(3))]", [1, 2, 3]),
        ("[format('{0}-{1}', 'vm', 7)]", "vm-7"),
        ("[format('{0:D3}|{{x}}|{1}', 5, true())]", "005|{x}|True"),
        ("[toLower('ABC')]", "abc"),
        ("[toUpper('abc')]", "ABC"),
        ("[length('abcd')]", 4),
        ("[length(createArray(1, 2))]", 2),
        ("[length(createObject('a', 1))]", 1),
        ("[empty('')]", True),
        ("[empty(createArray())]", True),
        ("[empty(json('null'))]", True),
        ("[equals('a', 'A')]", False),
        ("[equals(1, 1)]", True),
        ("[not(equals(1, 2))]", True),
        ("[and(true(), false())]", False),
        ("[or(true(), false())]", True),
        ("[if(equals(1, 1), 'yes', 'no')]", "yes"),
        ("[if(false(), json('null'), createArray('1'))]", ["1"]),
        ("[contains('hotpatch', 'patch')]", True),
        ("[contains(createArray('a'), 'b')]", False),
        ("[contains(createObject('Key', 1), 'key')]", True),
        ("[union(createObject('a', 1), createObject('b', 2))]", {"a": 1, "b": 2}),
        ("[union(createArray(1, 2), createArray(2, 3))]", [1, 2, 3]),
        ("[string(createObject('a', true()))]", '{"a":true}'),
        ("[string(true())]", "True"),
        ("[int('42')]", 42),
        ("[bool('TRUE')]", True),
        ("[json('{\"a\": [1, 2]}').a[1]]", 2),
        ("[createObject('x', createObject('y', 'z')).x.y]", "z"),
        ("[split('a,b', ',')[1]]", "b"),
        ("[replace('a-b', '-', '_')]", "a_b"),
        ("[substring('hotpatch', 3)]", "patch"),
        ("[startsWith('AzureEdition', 'azure')]", True),
        ("[add(2, 3)]", 5),
        ("[div(-7, 2)]", -3),
        ("[mod(7, 3)]", 1),
        ("[max(createArray(1, 5, 3))]", 5),
        ("[range(1, 3)]", [1, 2, 3]),
        ("[padLeft('7', 3, '0')]", "007"),
        ("[first(createArray('x', 'y'))]", "x"),
        ("[last('abc')]", "c"),
        ("[take(createArray(1, 2, 3), 2)]", [1, 2]),
        ("[skip('abcdef', 4)]", "ef"),
        ("[coalesce(json('null'), 'b')]", "b"),
        ("[uniqueString('test')]", "rbgf3xv4ufgzg"),
        ("[[not an expression]", "[not an expression]"),
        ("plain text", "plain text"),
        ("[resourceGroup().location]", "westeurope"),
        ("[subscription().subscriptionId]", SUB),
        ("[deployment().name]", "dep1"),
        ("['it''s']", "it's"),
    ],
)
def test_functions(expression: str, expected: Any) -> None:
    assert evaluate(expression) == expected


def test_resource_id_forms() -> None:
    base = f"/subscriptions/{SUB}/resourceGroups"
    assert evaluate("[resourceId('Microsoft.Network/virtualNetworks/subnets', 'v', 's')]") == (
        f"{base}/rg1/providers/Microsoft.Network/virtualNetworks/v/subnets/s"
    )
    assert evaluate("[resourceId('rg2', 'Microsoft.Compute/virtualMachines', 'vm')]") == (
        f"{base}/rg2/providers/Microsoft.Compute/virtualMachines/vm"
    )
    assert evaluate("[resourceId('s2', 'rg2', 'Microsoft.Compute/virtualMachines', 'vm')]") == (
        "/subscriptions/s2/resourceGroups/rg2/providers/Microsoft.Compute/virtualMachines/vm"
    )
    with pytest.raises(ExpressionError, match="requires '2' resource name argument"):
        evaluate("[resourceId('Microsoft.Network/virtualNetworks/subnets', 'v')]")


def test_parameters_and_variables_referring_to_each_other() -> None:
    ev = Evaluator(
        template(
            parameters={"name": {"type": "string"}, "size": {"type": "int", "defaultValue": 3}},
            variables={
                "a": "[format('{0}-a', parameters('name'))]",
                "b": "[concat(variables('a'), '-b')]",
                "obj": {"nested": "[variables('b')]", "list": ["[parameters('size')]"]},
                "copy": [{"name": "disks", "count": "[parameters('size')]", "input": "[copyIndex('disks', 1)]"}],
            },
        ),
        {"name": "vm"},
        ctx(),
    )
    ev.check_variables()
    assert ev.variable("obj") == {"nested": "vm-a-b", "list": [3]}
    assert ev.variable("disks") == [1, 2, 3]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("[nosuch('x')]", "The template function 'nosuch' is not valid."),
        ("[parameters('missing')]", "The template parameter 'missing' is not found."),
        ("[variables('missing')]", "The template variable 'missing' is not found."),
        ("[concat('a', toLower('b')]", "expected token 'RightParenthesis' and actual 'EndOfData'"),
        ("[]", "expected token 'Identifier' and actual 'EndOfData'"),
        ("[empty(100)]", "The template function 'empty' expects its parameter to be an object, an array, or a string"),
        ("[empty()]", "function requires 1 argument(s) while 0 were provided"),
        ("[createArray(1)[3]]", "The language expression property array index '3' is out of bounds."),
        ("[resourceGroup().nothing]", "The language expression property 'nothing' doesn't exist"),
        ("[div(1, 0)]", "Attempted to divide by zero"),
    ],
)
def test_expression_errors_use_arm_wording(expression: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate(expression)
    assert message in str(caught.value)


def test_parser_accepts_nested_calls_and_accessors() -> None:
    node = parse_expression("[reference(resourceId('A.B/c', 'n'), '2024-07-01').x.y[0]]")
    assert node[0] == "index" and node[1][0] == "prop"


def test_parameter_validation_messages() -> None:
    definitions = {
        "sku": {"type": "string", "allowedValues": ["a", "b"]},
        "count": {"type": "int", "minValue": 1, "maxValue": 3},
        "name": {"type": "string", "minLength": 2},
        "secret": {"type": "securestring"},
    }
    good = {"sku": "a", "count": 2, "name": "ok", "secret": "s"}
    Evaluator(template(parameters=definitions), good, ctx())
    cases = [
        ({**good, "sku": "A"}, "The value 'A' is not part of the allowed value(s): 'a,b'."),
        ({**good, "count": "2"}, "Template parameter JToken type is not valid. Expected 'Integer'. Actual 'String'."),
        ({**good, "count": 9}, "should be less than or equal to '3'"),
        ({**good, "name": "x"}, "Length of the value should be greater than or equal to '2'"),
        ({k: v for k, v in good.items() if k != "secret"}, "The value for the template parameter 'secret'"),
        ({**good, "extra": 1}, "The template parameters 'extra' in the parameters file are not valid"),
    ]
    for supplied, message in cases:
        with pytest.raises(TemplateError) as caught:
            Evaluator(template(parameters=definitions), supplied, ctx())
        assert message in caught.value.message


def test_repo_vm_template_plans_its_resources_in_dependency_order() -> None:
    doc = json.loads((REPO / "templates" / "hotpatch-vm.json").read_text())
    ev = Evaluator(doc, {"vmName": "vm1", "adminUsername": "hpadmin", "adminPassword": "S3cure!Passw0rd#1"}, ctx())
    ev.check_variables()
    plans = {p.type.split("/", 1)[1]: p for p in ev.plan_resources()}
    assert not plans["publicIPAddresses"].condition  # no public IP unless asked
    assert plans["virtualNetworks"].condition
    assert not plans["virtualNetworks/subnets"].condition  # a subnet of its own only in an existing VNet
    nic = plans["networkInterfaces"]
    assert plans["virtualNetworks"].key in nic.depends_on
    assert "publicIPAddress" not in nic.body["properties"]["ipConfigurations"][0]["properties"]  # json('null')
    assert plans["networkSecurityGroups"].body["properties"]["securityRules"] == []
    vm = plans["virtualMachines"]
    assert vm.depends_on == [nic.key]
    assert "zones" not in vm.body and "availabilitySet" not in vm.body["properties"]
    assert vm.body["location"] == "westeurope"  # defaultValue: resourceGroup().location
    assert vm.body["properties"]["osProfile"]["computerName"] == "vm1"
    assert ev.parameters_echo()["adminPassword"] == {"type": "SecureString"}  # never echoed


def test_every_function_the_repo_templates_use_is_supported() -> None:
    names = set(supported_functions())
    for file in ("hotpatch-vm.json", "hotpatch-vmss-flex.json"):
        text = (REPO / "templates" / file).read_text()
        for used in ("parameters", "variables", "resourcegroup", "resourceid", "format", "if", "empty", "equals",
                     "and", "or", "json", "reference"):
            if f"{used}(" in text.lower():
                assert used in names


def test_resource_copy_loops_conditions_and_depends_on_names() -> None:
    doc = template(
        parameters={"n": {"type": "int", "defaultValue": 2}},
        resources=[
            {
                "type": "Microsoft.Network/networkSecurityGroups",
                "apiVersion": "2023-11-01",
                "name": "[format('nsg{0}', copyIndex(1))]",
                "location": "eastus",
                "copy": {"name": "nsgs", "count": "[parameters('n')]"},
            },
            {
                "condition": "[equals(parameters('n'), 3)]",
                "type": "Microsoft.Network/publicIPAddresses",
                "apiVersion": "2023-11-01",
                "name": "pip",
                "location": "eastus",
            },
            {
                "type": "Microsoft.Network/virtualNetworks",
                "apiVersion": "2023-11-01",
                "name": "vnet",
                "location": "eastus",
                "dependsOn": ["nsgs", "pip"],
                "properties": {
                    "copy": [
                        {"name": "subnets", "count": 2, "input": {"name": "[format('s{0}', copyIndex('subnets'))]"}}
                    ]
                },
            },
        ],
    )
    plans = Evaluator(doc, {}, ctx()).plan_resources()
    assert [p.name for p in plans] == ["nsg1", "nsg2", "pip", "vnet"]
    assert not plans[2].condition
    assert len(plans[3].depends_on) == 3
    assert plans[3].body["properties"]["subnets"] == [{"name": "s0"}, {"name": "s1"}]


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (
            [{"type": "Microsoft.Network/virtualNetworks", "apiVersion": "x", "name": "a", "dependsOn": ["nope"]}],
            "The resource 'nope' is not defined in the template.",
        ),
        ([{"type": "Microsoft.Network/virtualNetworks/subnets", "apiVersion": "x", "name": "a"}], "segment lengths"),
        (
            [
                {"type": "A.B/c", "apiVersion": "x", "name": "a", "dependsOn": ["b"]},
                {"type": "A.B/c", "apiVersion": "x", "name": "b", "dependsOn": ["a"]},
            ],
            "Circular dependency detected",
        ),
        ([{"type": "A.B/c", "apiVersion": "x", "name": "a"}] * 2, "is defined multiple times"),
        ([{"type": "A.B/c", "apiVersion": "x", "name": "[nope()]"}], "The template function 'nope' is not valid"),
    ],
)
def test_resource_validation_errors(resources: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        Evaluator(template(resources=resources), {}, ctx()).plan_resources()
    assert message in caught.value.message


def test_reference_is_deferred_to_run_time_and_orders_the_resource() -> None:
    doc = template(
        resources=[
            {"type": "A.B/c", "apiVersion": "x", "name": "first", "properties": {"v": 1}},
            {"type": "A.B/c", "apiVersion": "x", "name": "second", "properties": {"value": "[reference('first').v]"}},
        ],
        outputs={"v": {"type": "int", "value": "[reference('first').v]"}},
    )
    ev = Evaluator(doc, {}, ctx())
    first, second = ev.plan_resources()
    assert second.body is None and second.depends_on == [first.key]
    ev.resolver = lambda target, version, full: {"v": 41} if target == first.id else {}
    assert ev.runtime_body(second)["properties"] == {"value": 41}
    assert ev.outputs() == {"v": {"type": "Int", "value": 41}}


def test_reference_is_refused_in_variables() -> None:
    ev = Evaluator(template(variables={"x": "[reference('a').b]"}), {}, ctx())
    with pytest.raises(TemplateError, match="The template function 'reference' is not expected at this location"):
        ev.check_variables()

"""The sandbox's KQL subset: every operator and function, precedence, paging rules and ARG's error shapes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hpctl.core import graph_queries as gq
from hpctl.sandbox import kql
from hpctl.sandbox.resourcegraph import COLUMNS, TABLES

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
SUB = "/subscriptions/00000000-0000-0000-0000-000000000001"
VM = "microsoft.compute/virtualmachines"


def vm(group: str, name: str, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {column: None for column in COLUMNS}
    row.update(
        id=f"{SUB}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/{name}",
        name=name,
        type=VM,
        resourceGroup=group.lower(),
        location="eastus",
        tags={},
        properties={},
    )
    row.update(extra)
    return row


ROWS = [
    vm("rg-web", "web-01", tags={"env": "prod", "app": "shop"}, zones=["1"],
       properties={"extended": {"instanceView": {"osVersion": "10.0.26100.32690"}},
                   "lastModifiedDateTime": "2026-05-19T06:00:00.1234567+00:00"}),
    vm("RG-Web", "web-02", tags={"env": "dev"}, location="westus2",
       properties={"lastModifiedDateTime": "2026-05-10T06:00:00Z"}),
    vm("rg-app", "O'Brien", tags={"env": "prod"},
       properties={"lastModifiedDateTime": "2026-04-15T06:00:00+00:00"}),
    vm("rg-app", "app-01", type="microsoft.compute/virtualmachinescalesets", tags={"team": "x"},
       properties={"lastModifiedDateTime": "2026-04-25T00:00:00Z"}),
]
HISTORY = [
    {
        **vm("rg-web", "run-1", type=gq.INSTALLATION_TYPE,
             properties={"lastModifiedDateTime": "2026-05-01T00:00:00Z"}),
        "id": f"{SUB}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-01"
        "/patchInstallationResults/run-1",
    }
]


def tables(rows: list[dict[str, Any]] | None = None) -> dict[str, kql.Table]:
    chosen = ROWS if rows is None else rows
    return {
        "resources": kql.Table(COLUMNS, lambda: list(chosen)),
        "resourcecontainers": kql.Table(COLUMNS, lambda: []),
        "patchassessmentresources": kql.Table(COLUMNS, lambda: []),
        "patchinstallationresources": kql.Table(COLUMNS, lambda: list(HISTORY)),
    }


def run(query: str, rows: list[dict[str, Any]] | None = None) -> kql.Result:
    return kql.evaluate(query, tables(rows), NOW)


def names(query: str) -> list[str]:
    return [row["name"] for row in run(query).rows]


def failure(query: str) -> list[dict[str, Any]]:
    with pytest.raises(kql.KqlError) as caught:
        run(query)
    return caught.value.details()


# -- comparison and string operators ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("predicate", "expected"),
    [
        ("name == 'web-01'", ["web-01"]),
        ("name == 'WEB-01'", []),  # == is case-sensitive
        ("name =~ 'WEB-01'", ["web-01"]),
        ("name != 'web-01'", ["web-02", "O'Brien", "app-01"]),
        ("name !~ 'WEB-01'", ["web-02", "O'Brien", "app-01"]),
        ("location < 'f'", ["web-01", "O'Brien", "app-01"]),
        ("location <= 'eastus'", ["web-01", "O'Brien", "app-01"]),
        ("location > 'eastus'", ["web-02"]),
        ("location >= 'westus2'", ["web-02"]),
        ("name in ('web-01', 'WEB-02')", ["web-01"]),
        ("name !in ('web-01', 'WEB-02')", ["web-02", "O'Brien", "app-01"]),
        ("name in~ ('web-01', 'WEB-02')", ["web-01", "web-02"]),
        ("name !in~ ('web-01', 'WEB-02')", ["O'Brien", "app-01"]),
        ("name startswith 'WEB'", ["web-01", "web-02"]),
        ("name !startswith 'web'", ["O'Brien", "app-01"]),
        ("name startswith_cs 'WEB'", []),
        ("name endswith '-01'", ["web-01", "app-01"]),
        ("name endswith_cs '-01'", ["web-01", "app-01"]),
        ("name contains 'EB'", ["web-01", "web-02"]),
        ("name contains_cs 'EB'", []),
        ("name !contains 'eb'", ["O'Brien", "app-01"]),
    ],
)
def test_comparison_and_string_operators(predicate: str, expected: list[str]) -> None:
    assert names(f"resources | where {predicate}") == expected


def test_in_list_of_expressions_and_types() -> None:
    assert names("resources | where name in (tolower('WEB-01'), 'x')") == ["web-01"]
    assert names("resources | where type in~ ('Microsoft.Compute/virtualMachines')") == [
        "web-01", "web-02", "O'Brien"
    ]


def test_and_binds_tighter_than_or() -> None:
    # web-02 or (O'Brien and prod): not (web-02 or O'Brien) and prod.
    assert names("resources | where name == 'web-02' or name == \"O'Brien\" and tags['env'] == 'prod'") == [
        "web-02", "O'Brien"
    ]
    assert names("resources | where (name == 'web-02' or name == \"O'Brien\") and tags['env'] == 'prod'") == [
        "O'Brien"
    ]
    assert names("resources | where name == 'web-01' and tags['env'] == 'dev' or name == 'app-01'") == ["app-01"]


def test_case_insensitive_resource_group_and_type() -> None:
    assert names("resources | where resourceGroup =~ 'RG-WEB'") == ["web-01", "web-02"]
    assert names(f"resources | where type =~ '{VM.upper()}'") == ["web-01", "web-02", "O'Brien"]


def test_string_escapes() -> None:
    assert names("resources | where name == 'O\\'Brien'") == ["O'Brien"]
    assert names('resources | where name == "O\'Brien"') == ["O'Brien"]
    assert names("resources | where name == @'O''Brien'") == ["O'Brien"]
    rows = [vm("rg", "a\\b")]
    assert [r["name"] for r in run("resources | where name == 'a\\\\b'", rows).rows] == ["a\\b"]
    # hpctl's own quoting gives literals the parser reads back exactly.
    for value in ("O'Brien", "a\\b", "plain", "it's \\'odd\\'"):
        assert run(f"resources | project v = {gq.quote(value)} | limit 1").rows[0]["v"] == value


def test_startswith_on_ids_and_prefix_chains() -> None:
    web = f"{SUB}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/".lower()
    one = f"resources | where tolower(id) startswith '{web}web-01/' or tolower(id) startswith '{web}web-02/'"
    # The or-chain of prefixes (hpctl's id scope) is answered by one tuple startswith: same rows as one by one.
    assert names(one.replace("resources", "patchinstallationresources")) == ["run-1"]
    assert names(f"resources | where tolower(id) startswith '{web}web-0'") == ["web-01", "web-02"]
    mixed = f"resources | where tolower(id) startswith '{web}web-01' or name == 'app-01'"
    assert names(mixed) == ["web-01", "app-01"]
    assert names(f"resources | where tolower(id) startswith '{web.upper()}web-02' or id startswith 'x'") == [
        "web-02"
    ]


def test_arithmetic_and_unary_minus() -> None:
    row = run("resources | where name == 'web-01' | project a = 1 + 2, b = 5 - 7, c = -3, d = now() - 1d").rows[0]
    assert (row["a"], row["b"], row["c"]) == (3, -2, -3)
    assert row["d"] == kql.format_datetime(NOW - dt.timedelta(days=1))


# -- functions ----------------------------------------------------------------------------------------------


def test_functions() -> None:
    row = run(
        "resources | where name == 'web-01' | project lo = tolower('AbC'), up = toupper(name), "
        "t = tostring(tags), z = tostring(zones[0]), n = strlen(name), i = toint('42'), l = tolong(7.9), "
        "b = tobool('true'), nn = isnull(tags['missing']), nv = isnotnull(tags['env']), "
        "e = isempty(tostring(tags['missing'])), ne = isnotempty(name), x = not(name == 'web-01'), "
        "dtm = todatetime(properties.lastModifiedDateTime)"
    ).rows[0]
    assert row == {
        "lo": "abc", "up": "WEB-01", "t": '{"env":"prod","app":"shop"}', "z": "1", "n": 6, "i": 42, "l": 7,
        "b": True, "nn": True, "nv": True, "e": True, "ne": True, "x": False,
        "dtm": "2026-05-19T06:00:00.1234560Z",
    }


def test_tag_filters_like_hpctl() -> None:
    assert names("resources | where isnotnull(tags['env'])") == ["web-01", "web-02", "O'Brien"]
    assert names("resources | where tostring(tags['env']) == 'prod'") == ["web-01", "O'Brien"]
    assert names("resources | where tostring(tags['missing']) == ''") == ["web-01", "web-02", "O'Brien", "app-01"]


@pytest.mark.parametrize(
    ("span", "expected"),
    [("7d", ["web-01"]), ("30d", ["web-01", "web-02", "app-01"]), ("40d", ["web-01", "web-02", "O'Brien", "app-01"]),
     ("12h", []), ("168h", ["web-01"])],
)
def test_ago_is_relative_to_the_simulated_now(span: str, expected: list[str]) -> None:
    assert names(f"resources | where todatetime(properties.lastModifiedDateTime) >= ago({span})") == expected


def test_datetime_literals_and_timezones() -> None:
    assert names("resources | where todatetime(properties.lastModifiedDateTime) > datetime(2026-05-19)") == [
        "web-01"
    ]
    assert names(
        "resources | where todatetime(properties.lastModifiedDateTime) == datetime(2026-05-10T06:00:00Z)"
    ) == ["web-02"]
    assert kql.to_datetime("2026-05-19T08:00:00+02:00") == dt.datetime(2026, 5, 19, 6, tzinfo=UTC)
    assert kql.to_datetime("not a date") is None


# -- tabular operators --------------------------------------------------------------------------------------


def test_order_by_defaults_to_descending_and_sorts_several_keys() -> None:
    assert names("resources | order by name") == ["web-02", "web-01", "app-01", "O'Brien"]
    assert names("resources | order by name asc") == ["O'Brien", "app-01", "web-01", "web-02"]
    assert names("resources | sort by location asc, name desc") == ["web-01", "app-01", "O'Brien", "web-02"]
    assert names("resources | order by location desc, name asc") == ["web-02", "O'Brien", "app-01", "web-01"]


def test_order_by_puts_nulls_where_kql_does() -> None:
    key = "tostring(tags['env'])"
    assert names(f"resources | order by isnull(tags['env']) asc, {key} asc, name asc") == [
        "web-02", "O'Brien", "web-01", "app-01"
    ]
    assert names("resources | order by tags['env'] asc, name asc")[0] == "app-01"  # nulls first ascending
    assert names("resources | order by tags['env'] desc, name asc")[-1] == "app-01"  # nulls last descending
    assert names("resources | order by tags['env'] desc nulls first, name asc")[0] == "app-01"


def test_project_nested_fields_names_and_aliases() -> None:
    result = run(
        "resources | where name == 'web-01' | project id, properties.extended.instanceView.osVersion, "
        "env = tags['env'], tags.app, tolower(name)"
    )
    assert [name for name, _ in result.columns] == [
        "id", "properties_extended_instanceView_osVersion", "env", "tags_app", "Column5"
    ]
    assert result.rows[0]["properties_extended_instanceView_osVersion"] == "10.0.26100.32690"
    assert result.rows[0]["env"] == "prod"
    assert dict(result.columns)["Column5"] == kql.STRING


def test_extend_keeps_columns_and_order_by_can_use_them() -> None:
    result = run("resources | extend n = strlen(name) | order by n asc, name asc | project name, n")
    assert [(r["name"], r["n"]) for r in result.rows] == [("app-01", 6), ("web-01", 6), ("web-02", 6),
                                                          ("O'Brien", 7)]
    assert "properties" in dict(run("resources | extend x = 1").columns)


def test_projected_columns_are_checked() -> None:
    details = failure("resources | project id | where name == 'x'")
    assert details[1] == {
        "code": "SemanticError",
        "message": "'where' operator: Failed to resolve scalar expression named 'name'",
    }


def test_union_as_source_and_operator() -> None:
    assert names("union resources, patchinstallationresources | where name in ('run-1', 'web-01')") == [
        "web-01", "run-1"
    ]
    assert names("resources | union patchinstallationresources | where type =~ 'x' or name == 'run-1'") == [
        "run-1"
    ]
    assert names("patchassessmentresources | union patchinstallationresources") == ["run-1"]


def test_limit_and_take_stop_paging() -> None:
    assert names("resources | limit 2") == ["web-01", "web-02"]
    result = run("resources | take 1")
    assert [r["name"] for r in result.rows] == ["web-01"] and not result.pageable
    assert run("resources | project id").pageable
    assert not run("resources | project tags, properties").pageable  # only dynamic columns: ARG cannot page


def test_implicit_table_comments_and_table_name_case() -> None:
    assert names("where name == 'web-01'") == ["web-01"]
    assert names("Resources // every resource\n| where name == 'web-02' // this one") == ["web-02"]
    assert names("project name | where name == 'app-01'") == ["app-01"]


def test_result_columns_are_typed_for_table_format() -> None:
    result = run("resources | project id, tags, n = strlen(name), ok = name == 'x', t = ago(1d), r = 1.5")
    assert list(kql.column_types(result)) == [
        {"name": "id", "type": "string"}, {"name": "tags", "type": "object"}, {"name": "n", "type": "integer"},
        {"name": "ok", "type": "boolean"}, {"name": "t", "type": "datetime"}, {"name": "r", "type": "number"},
    ]


def test_lazy_rows_build_costly_columns_only_when_read() -> None:
    built: list[str] = []

    def properties(name: str) -> dict[str, Any]:
        built.append(name)
        return {"x": name}

    rows = [kql.LazyRow({k: v for k, v in vm("rg", n).items() if k != "properties"}, {"properties": properties}, n)
            for n in ("a", "b", "c")]
    result = run("resources | where name != 'b' | project name, properties | order by name asc", rows)
    assert built == []  # where, project and order by did not need them
    assert result.page(0, 1) == [{"name": "a", "properties": {"x": "a"}}]
    assert built == ["a"]


# -- hpctl's own queries ------------------------------------------------------------------------------------


def every_hpctl_query() -> list[str]:
    vm_ids = [f"{SUB}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/Web-01",
              f"{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/O'Brien"]
    tags = [("env", "prod"), ("team", None)]
    return [
        gq.vms_query(),
        gq.vms_query("rg-web"),
        gq.vms_query(None, vm_ids),
        gq.vms_query("rg-web", (), tags),
        gq.scale_sets_query(),
        gq.scale_sets_query("rg-app", tags),
        gq.history_query(30),
        gq.history_query(7, "rg-web", patches=True),
        gq.history_query(30, None, vm_ids),
        gq.latest_patch_results_query(),
        gq.latest_patch_results_query(None, vm_ids),
    ]


@pytest.mark.parametrize("query", every_hpctl_query())
def test_every_query_hpctl_builds_runs(query: str) -> None:
    kql.parse(query, TABLES)
    run(query)


def test_hpctl_vm_queries_select_the_right_rows() -> None:
    # order by id asc is ordinal: web-02's id spells its group RG-Web, and upper case sorts first.
    assert names(gq.vms_query("RG-WEB")) == ["web-02", "web-01"]
    ids = [ROWS[0]["id"].upper(), ROWS[2]["id"]]
    assert names(gq.vms_query(None, ids)) == ["O'Brien", "web-01"]  # order by id asc: rg-app before rg-web
    assert names(gq.vms_query(None, (), [("env", "prod")])) == ["O'Brien", "web-01"]
    assert names(gq.vms_query(None, (), [("env", None)])) == ["web-02", "O'Brien", "web-01"]
    assert names(gq.history_query(30, None, [ROWS[0]["id"]])) == ["run-1"]


# -- refusals in ARG's shape --------------------------------------------------------------------------------


INVALID = {"code": "InvalidQuery", "message": kql.INVALID_QUERY_MESSAGE}


def test_unknown_operator_after_a_pipe() -> None:
    assert failure("resources | frobnicate") == [
        INVALID,
        {"code": "ParserFailure", "message": "ParserFailure", "line": 1, "characterPositionInLine": 12,
         "token": "frobnicate"},
    ]


@pytest.mark.parametrize("operator", ["summarize count()", "join (resources) on id", "project-away tags",
                                      "mv-expand zones", "distinct name", "parse id with * '/' x"])
def test_kql_operators_outside_the_subset(operator: str) -> None:
    details = failure(f"resources | {operator}")
    assert details[0] == INVALID
    assert details[1] == {"code": "InvalidQueryLanguage", "message": "InvalidQueryLanguage", "line": -1,
                          "characterPositionInLine": -1, "token": operator.split()[0]}


def test_scalar_operators_outside_the_subset() -> None:
    assert failure("resources | where name has 'web'")[1]["token"] == "has"
    assert failure("resources | where strlen(name) * 2 > 3")[1]["token"] == "*"


def test_unknown_function() -> None:
    assert failure("resources | where strcat(name, 'x') == 'y'") == [
        INVALID, {"code": "UnknownFunction", "message": "Unknown function: 'strcat'."}
    ]
    assert failure("resources | project ToLower(name)")[1]["message"] == "Unknown function: 'ToLower'."
    assert failure("resources | project ago(1d, 2d)")[1]["code"] == "SemanticError"


def test_unknown_table_is_answered_without_invalid_query() -> None:
    assert failure("advisorresources | where name == 'x'") == [
        {"code": "DisallowedLogicalTableName", "message": "Table advisorresources is invalid, unsupported or "
         "disallowed."}
    ]
    assert failure("resources | union nosuchtable")[0]["code"] == "DisallowedLogicalTableName"


def test_unbalanced_parentheses() -> None:
    missing = failure("resources\n| where (name == 'x'")
    assert missing[1] == {"code": "ParserFailure", "message": "ParserFailure", "line": 2,
                          "characterPositionInLine": 20, "token": "<EOF>"}
    extra = failure("resources | where name == 'x')")
    assert extra[1]["token"] == ")" and extra[1]["characterPositionInLine"] == 29
    assert failure("resources | where name in~ ('a', 'b'")[1]["token"] == "<EOF>"


def test_unterminated_string() -> None:
    details = failure("resources\n| where name == 'web-01\n| project id")
    assert details[1] == {"code": "ParserFailure", "message": "ParserFailure", "line": 2,
                          "characterPositionInLine": 16, "token": "'web-01"}


@pytest.mark.parametrize(
    ("query", "token"),
    [("", "<EOF>"), ("resources |", "<EOF>"), ("resources where", "where"), ("resources | where", "<EOF>"),
     ("resources | where name == ", "<EOF>"), ("resources | where name = 'x'", "="), ("resources | limit x", "x"),
     ("resources | order name", "name"), ("resources | where name == 5x", "5x"), ("resources # x", "#"),
     ("resources | where name == !", "!")],
)
def test_malformed_queries_are_parser_failures(query: str, token: str) -> None:
    details = failure(query)
    assert details[0] == INVALID
    assert details[1]["code"] == "ParserFailure" and details[1]["token"] == token

"""Unit tests for hpctl.core.patch_options: every `hpctl install` value, accepted and rejected."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hpctl.core.patch_options import (
    CLASSIFICATIONS,
    InstallOptions,
    build_install_options,
    normalise_classification,
    normalise_kb,
    normalise_max_duration,
    normalise_max_publish_date,
    normalise_reboot_setting,
)
from hpctl.errors import InputError

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=timezone.utc)


def build(**overrides):
    values = {"classifications": "Critical,Security", "reboot_setting": "IfRequired", "now": NOW}
    values.update(overrides)
    return build_install_options(**values)


# --------------------------------------------------------------------------- accepted forms


@pytest.mark.parametrize("name", CLASSIFICATIONS)
def test_every_classification_in_any_case(name):
    assert normalise_classification(name) == name
    assert normalise_classification(name.lower()) == name
    assert normalise_classification(name.upper()) == name
    assert normalise_classification(f"  {name} ") == name


def test_update_rollup_spelling_is_normalised():
    assert normalise_classification("UpdateRollup") == "UpdateRollUp"
    assert normalise_classification("updaterollup") == "UpdateRollUp"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Critical", ("Critical",)),
        ("critical,security", ("Critical", "Security")),
        ("Critical, Security ,UpdateRollup", ("Critical", "Security", "UpdateRollUp")),
        (["Critical", "Security"], ("Critical", "Security")),
        (["Critical,Security", "Definition"], ("Critical", "Security", "Definition")),
        (["Security", "security", "SECURITY,Critical"], ("Security", "Critical")),
        (list(CLASSIFICATIONS), CLASSIFICATIONS),
    ],
)
def test_classifications_comma_separated_repeated_and_deduplicated(given, expected):
    assert build(classifications=given).classifications == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("KB5031364", "5031364"),
        ("kb5031364", "5031364"),
        ("Kb5031364", "5031364"),
        ("5031364", "5031364"),
        (" KB5031364 ", "5031364"),
        ("KB890830", "890830"),
        ("1234", "1234"),
        ("12345678", "12345678"),
    ],
)
def test_kb_forms(given, expected):
    assert normalise_kb(given) == expected


def test_kb_lists_are_normalised_split_and_deduplicated():
    options = build(
        kb_include=["KB5031364", "5031364,kb5032189", "KB890830"],
        kb_exclude="KB2267602, 4023057",
    )
    assert options.kb_include == ("5031364", "5032189", "890830")
    assert options.kb_exclude == ("2267602", "4023057")


def test_kb_include_alone_is_enough_to_install_something():
    options = build(classifications=None, kb_include="KB5031364")
    assert options.classifications == ()
    assert options.kb_include == ("5031364",)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("IfRequired", "IfRequired"), ("ifrequired", "IfRequired"), ("NEVER", "Never"), (" always ", "Always")],
)
def test_reboot_setting_any_case(given, expected):
    assert normalise_reboot_setting(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("PT2H", "PT2H"),
        ("pt2h", "PT2H"),
        ("PT4H", "PT4H"),
        ("PT30M", "PT30M"),
        ("PT90M", "PT1H30M"),
        ("PT1H30M", "PT1H30M"),
        ("P0DT2H", "PT2H"),
        ("P0DT3H15M", "PT3H15M"),
        ("PT7200S", "PT2H"),
        ("PT3H59M60S", "PT4H"),
        ("PT1800S", "PT30M"),
        ("PT45M30S", "PT45M30S"),
        ("PT240M", "PT4H"),
        ("  PT3H  ", "PT3H"),
    ],
)
def test_max_duration_forms(given, expected):
    assert normalise_max_duration(given) == expected


def test_max_duration_default_is_two_hours():
    assert build().max_duration == "PT2H"
    assert build(max_duration=None).max_duration == "PT2H"
    assert build().max_duration_timedelta == timedelta(hours=2)
    assert build(max_duration="PT90M").max_duration_timedelta == timedelta(minutes=90)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-06-09", "2026-06-09T23:59:59Z"),
        ("2026-06-09T17:00:00Z", "2026-06-09T17:00:00Z"),
        ("2026-06-09t17:00:00z", "2026-06-09T17:00:00Z"),
        ("2026-06-09T17:00Z", "2026-06-09T17:00:00Z"),
        ("2026-06-09T19:00:00+02:00", "2026-06-09T17:00:00Z"),
        ("2026-06-09T10:00:00-0700", "2026-06-09T17:00:00Z"),
        ("2026-06-09T01:00:00+05:30", "2026-06-08T19:30:00Z"),
        ("2020-11-19T02:36:43.0539904+00:00", "2020-11-19T02:36:43Z"),
        ("2024-07-31T18:36:43.000Z", "2024-07-31T18:36:43Z"),
        ("2027-06-09", "2027-06-09T23:59:59Z"),
        ("2024-02-29", "2024-02-29T23:59:59Z"),
    ],
)
def test_max_publish_date_forms(given, expected):
    assert normalise_max_publish_date(given, now=NOW) == expected


def test_max_publish_date_accepts_a_naive_now():
    assert normalise_max_publish_date("2026-06-09", now=NOW.replace(tzinfo=None)) == "2026-06-09T23:59:59Z"


def test_max_publish_date_uses_the_real_clock_by_default():
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    assert normalise_max_publish_date(today) == f"{today}T23:59:59Z"


# --------------------------------------------------------------------------- to_wire


def test_to_wire_minimal():
    assert build(classifications="Critical,Security", reboot_setting="ifrequired").to_wire() == {
        "maximumDuration": "PT2H",
        "rebootSetting": "IfRequired",
        "windowsParameters": {"classificationsToInclude": ["Critical", "Security"]},
    }


def test_to_wire_everything():
    options = build_install_options(
        classifications=["security", "critical", "UpdateRollup"],
        kb_include=["KB5031364"],
        kb_exclude=["kb5032189", "890830"],
        exclude_reboot_required=True,
        max_publish_date="2026-06-09T19:00:00+02:00",
        reboot_setting="never",
        max_duration="PT90M",
        now=NOW,
    )
    assert options == InstallOptions(
        reboot_setting="Never",
        max_duration="PT1H30M",
        classifications=("Security", "Critical", "UpdateRollUp"),
        kb_include=("5031364",),
        kb_exclude=("5032189", "890830"),
        exclude_reboot_required=True,
        max_publish_date="2026-06-09T17:00:00Z",
    )
    assert options.to_wire() == {
        "maximumDuration": "PT1H30M",
        "rebootSetting": "Never",
        "windowsParameters": {
            "classificationsToInclude": ["Security", "Critical", "UpdateRollUp"],
            "kbNumbersToInclude": ["5031364"],
            "kbNumbersToExclude": ["5032189", "890830"],
            "excludeKbsRequiringReboot": True,
            "maxPatchPublishDate": "2026-06-09T17:00:00Z",
        },
    }


def test_to_wire_kb_only_hotpatch_install():
    options = build(classifications=None, kb_include="KB5031364", reboot_setting="Never", max_duration="PT4H")
    assert options.to_wire() == {
        "maximumDuration": "PT4H",
        "rebootSetting": "Never",
        "windowsParameters": {"kbNumbersToInclude": ["5031364"]},
    }


def test_to_wire_leaves_out_false_and_empty_fields():
    wire = build(
        classifications="Security", exclude_reboot_required=False, kb_exclude=[], max_publish_date=None
    )
    assert wire.to_wire()["windowsParameters"] == {"classificationsToInclude": ["Security"]}


def test_to_wire_exclude_reboot_required_with_publish_date():
    options = build(classifications="Critical", exclude_reboot_required=True, max_publish_date="2026-05-12")
    assert options.to_wire() == {
        "maximumDuration": "PT2H",
        "rebootSetting": "IfRequired",
        "windowsParameters": {
            "classificationsToInclude": ["Critical"],
            "excludeKbsRequiringReboot": True,
            "maxPatchPublishDate": "2026-05-12T23:59:59Z",
        },
    }


def test_to_wire_returns_fresh_lists():
    options = build()
    options.to_wire()["windowsParameters"]["classificationsToInclude"].append("Tools")
    assert options.to_wire()["windowsParameters"]["classificationsToInclude"] == ["Critical", "Security"]


# --------------------------------------------------------------------------- rejected values

REJECTED = [
    # (overrides, flag named, fragment of the message)
    ({"classifications": "Definition Updates"}, "--classification", "did you mean Definition?"),
    ({"classifications": "Update Rollups"}, "--classification", "did you mean UpdateRollUp?"),
    ({"classifications": "Critical Updates"}, "--classification", "did you mean Critical?"),
    ({"classifications": "Secruity"}, "--classification", "did you mean Security?"),
    ({"classifications": "Other"}, "--classification", "Linux classification"),
    ({"classifications": "Bogus"}, "--classification", "use one of Critical, Security, UpdateRollUp"),
    ({"classifications": "Critical,,Security"}, "--classification", "empty value"),
    ({"classifications": "Critical,"}, "--classification", "empty value"),
    ({"classifications": None}, "--classification", "Nothing to install"),
    ({"classifications": [], "kb_exclude": "KB5031364"}, "--kb-include", "Nothing to install"),
    ({"kb_include": "KB"}, "--kb-include", "is not a KB id"),
    ({"kb_include": "KB 5031364"}, "--kb-include", "is not a KB id"),
    ({"kb_include": "KB-5031364"}, "--kb-include", "is not a KB id"),
    ({"kb_include": "123"}, "--kb-include", "4 to 8 digits"),
    ({"kb_include": "123456789"}, "--kb-include", "4 to 8 digits"),
    ({"kb_include": "0123456"}, "--kb-include", "is not a KB id"),
    ({"kb_include": "Q5031364"}, "--kb-include", "is not a KB id"),
    ({"kb_exclude": "KB50313x4"}, "--kb-exclude", "is not a KB id"),
    ({"kb_exclude": "KB5031364,,KB5032189"}, "--kb-exclude", "empty value"),
    ({"kb_include": "KB5031364", "kb_exclude": "5031364"}, "--kb-exclude", "both name KB5031364"),
    ({"reboot_setting": None}, "--reboot-setting", "is required"),
    ({"reboot_setting": ""}, "--reboot-setting", "is required"),
    ({"reboot_setting": "IfNeeded"}, "--reboot-setting", "give IfRequired, Never or Always"),
    ({"reboot_setting": "yes"}, "--reboot-setting", "give IfRequired, Never or Always"),
    ({"max_duration": "2h"}, "--max-duration", "must start with P"),
    ({"max_duration": "120"}, "--max-duration", "must start with P"),
    ({"max_duration": ""}, "--max-duration", "is empty"),
    ({"max_duration": "PT"}, "--max-duration", "not a valid ISO 8601 duration"),
    ({"max_duration": "P"}, "--max-duration", "not a valid ISO 8601 duration"),
    ({"max_duration": "P0DT"}, "--max-duration", "not a valid ISO 8601 duration"),
    ({"max_duration": "PT2H2H"}, "--max-duration", "not a valid ISO 8601 duration"),
    ({"max_duration": "PT30M2H"}, "--max-duration", "not a valid ISO 8601 duration"),
    ({"max_duration": "P2H"}, "--max-duration", "not a valid ISO 8601 duration"),
    ({"max_duration": "-PT2H"}, "--max-duration", "is negative"),
    ({"max_duration": "PT0H"}, "--max-duration", "is zero"),
    ({"max_duration": "PT0S"}, "--max-duration", "is zero"),
    ({"max_duration": "PT1.5H"}, "--max-duration", "fractional"),
    ({"max_duration": "PT0.5S"}, "--max-duration", "fractional"),
    ({"max_duration": "PT29M"}, "--max-duration", "shorter than 30 minutes"),
    ({"max_duration": "PT1799S"}, "--max-duration", "shorter than 30 minutes"),
    ({"max_duration": "PT4H1M"}, "--max-duration", "longer than Azure's 4-hour limit"),
    ({"max_duration": "PT5H"}, "--max-duration", "longer than Azure's 4-hour limit"),
    ({"max_duration": "P1D"}, "--max-duration", "longer than Azure's 4-hour limit"),
    ({"max_duration": "P1M"}, "--max-duration", "years, months or weeks"),
    ({"max_duration": "P1W"}, "--max-duration", "years, months or weeks"),
    ({"max_duration": "P1Y"}, "--max-duration", "years, months or weeks"),
    ({"max_publish_date": "yesterday"}, "--max-publish-date", "is not an ISO 8601 date"),
    ({"max_publish_date": "06/09/2026"}, "--max-publish-date", "is not an ISO 8601 date"),
    ({"max_publish_date": "2026-6-9"}, "--max-publish-date", "is not an ISO 8601 date"),
    ({"max_publish_date": "2026-02-30"}, "--max-publish-date", "not a real calendar date"),
    ({"max_publish_date": "2026-13-01"}, "--max-publish-date", "not a real calendar date"),
    ({"max_publish_date": "2026-06-09T17:00:00"}, "--max-publish-date", "no time zone"),
    ({"max_publish_date": "2026-06-09T25:00:00Z"}, "--max-publish-date", "impossible time of day"),
    ({"max_publish_date": "2026-06-09T17:00:00+15:00"}, "--max-publish-date", "impossible UTC offset"),
    ({"max_publish_date": "2027-06-12"}, "--max-publish-date", "more than a year in the future"),
    ({"max_publish_date": "9999-12-31"}, "--max-publish-date", "more than a year in the future"),
]


@pytest.mark.parametrize(("overrides", "flag", "fragment"), REJECTED)
def test_rejected_values(overrides, flag, fragment):
    with pytest.raises(InputError) as caught:
        build(**overrides)
    message = caught.value.message
    assert fragment in message
    assert flag in message
    assert "\n" not in message
    assert caught.value.exit_code == 2
    # Every message says how to fix it, after a ';'.
    fix = message.split(";", 1)[1]
    assert any(word in fix for word in ("give", "use", "add", "keep", "separate", "shorten")), message


def test_at_least_25_rejections():
    assert len(REJECTED) >= 25


def test_classification_error_lists_the_valid_set():
    with pytest.raises(InputError) as caught:
        normalise_classification("Drivers")
    assert "Critical, Security, UpdateRollUp, FeaturePack, ServicePack, Definition, Tools, Updates" in (
        caught.value.message
    )


def test_options_are_frozen():
    options = build()
    with pytest.raises(AttributeError):
        options.reboot_setting = "Always"  # type: ignore[misc]

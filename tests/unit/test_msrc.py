"""hpctl.core.msrc on the real MSRC excerpts (shared/msrc-samples): months, index selection, the data's flaws."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hpctl.core.calendar import BASELINE, HOTPATCH, UNPLANNED_BASELINE
from hpctl.core.msrc import MsrcDataError, month_facts, parse_document, parse_index, patch_tuesday_documents


@pytest.fixture(scope="module")
def samples(shared: Path) -> Path:
    return shared / "msrc-samples"


def _text(samples: Path, name: str) -> str:
    return (samples / name).read_text(encoding="utf-8")


def _may(samples: Path) -> str:
    return _text(samples, "msrc-cvrf-2026-May-excerpt.xml")


def _june(samples: Path) -> str:
    return _text(samples, "msrc-cvrf-2026-Jun-excerpt.xml")


def _vulnerability(text: str) -> tuple[str, str, str]:
    start = text.index("  <vuln:Vulnerability")
    end = text.index("</vuln:Vulnerability>") + len("</vuln:Vulnerability>\n")
    return text[:start], text[start:end], text[end:]


def test_may_2026_is_a_hotpatch_month_for_both_lines(samples: Path) -> None:
    doc = parse_document(_may(samples), "May")
    assert (doc.id, doc.month, doc.released.date().isoformat()) == ("2026-May", "2026-05", "2026-05-12")
    ws2022 = month_facts(doc, "2022", previous_build=5020)
    ws2025 = month_facts(doc, "2025", previous_build=32690)
    assert ws2022 is not None and ws2025 is not None
    assert (ws2022.release.kind, ws2022.release.kb, ws2022.release.build) == (HOTPATCH, "KB5087424", "20348.5074")
    assert (ws2025.release.kind, ws2025.release.kb, ws2025.release.build) == (HOTPATCH, "KB5087423", "26100.32772")
    # The month's LCU is kept too: a VM on it has left the hotpatch track.
    assert (ws2022.lcu.kb, ws2022.lcu.build, ws2022.lcu.month) == ("KB5087545", "20348.5139", "2026-05")
    assert (ws2025.lcu.kb, ws2025.lcu.build) == ("KB5087539", "26100.32860")
    assert ws2022.release.reboot is False and "2026-May" in ws2022.release.source


def test_june_2026_has_no_hotpatch_so_it_is_an_unplanned_baseline(samples: Path) -> None:
    doc = parse_document(_june(samples), "June")
    ws2022 = month_facts(doc, "2022", previous_build=5074)
    ws2025 = month_facts(doc, "2025", previous_build=32772)
    assert (ws2022.release.kind, ws2022.release.kb, ws2022.release.build) == (
        UNPLANNED_BASELINE, "KB5094128", "20348.5256")
    assert (ws2025.release.kind, ws2025.release.kb, ws2025.release.build) == (
        UNPLANNED_BASELINE, "KB5094125", "26100.32995")
    assert ws2022.release.reboot is True and ws2022.lcu is None


def test_index_keeps_only_patch_tuesday_documents(samples: Path) -> None:
    entries = parse_index(_text(samples, "msrc-cvrf-updates-index-excerpt.json"), "index")
    assert len(entries) == 5  # incl. "Mariner Release Notes" (1999-Sep) and "July 2026 Early Security Updates"
    assert patch_tuesday_documents(entries) == {"2026-04": "2026-Apr", "2026-05": "2026-May", "2026-06": "2026-Jun"}
    assert patch_tuesday_documents(entries, since="2026-05") == {"2026-05": "2026-May", "2026-06": "2026-Jun"}


def test_the_kb_cited_by_most_vulnerabilities_wins_over_carried_over_kbs(samples: Path) -> None:
    head, block, tail = _vulnerability(_may(samples))
    own = [block.replace("CVE-2026-33834", f"CVE-2026-3383{n}") for n in range(5, 8)]
    # Like the real 2026-May document: June's LCU KB5094125 (a higher build) cited on one later-revised CVE...
    june_lcu = block.replace("5087539", "5094125").replace("26100.32860", "26100.32995")
    # ...and March's hotpatch cited more often than May's own, but below April's baseline build.
    march = [block.replace("5087424", "5078737").replace("20348.5074", "20348.4830")
             .replace("CVE-2026-33834", f"CVE-2026-2000{n}") for n in range(6)]
    doc = parse_document(head + "".join(own) + june_lcu + "".join(march) + tail, "May+carry-over")
    ws2025 = month_facts(doc, "2025", previous_build=32690)
    assert ws2025.lcu.kb == "KB5087539"
    ws2022 = month_facts(doc, "2022", previous_build=5020)
    assert ws2022.release.kb == "KB5087424" and "cited by 4 vulnerabilities" in ws2022.release.source


def test_json_form_reads_the_same_month(samples: Path) -> None:
    doc = {
        "DocumentTitle": {"Value": "May 2026 Security Updates"},
        "DocumentTracking": {"Identification": {"ID": {"Value": "2026-May"}},
                             "InitialReleaseDate": "2026-05-12T07:00:00Z",
                             "CurrentReleaseDate": "2026-07-03T14:42:36Z"},
        "Vulnerability": [{"CVE": "CVE-2026-33834", "Remediations": [
            {"Description": {"Value": "5087545"}, "ProductID": ["11923", "11924"], "Type": 2,
             "SubType": "Security Update", "FixedBuild": "10.0.20348.5139"},
            {"Description": {"Value": "5087424"}, "ProductID": ["11923", "11924"], "Type": 2,
             "SubType": "Security Hotpatch Update", "FixedBuild": "10.0.20348.5074"},
            {"Description": {"Value": "5087424"}, "ProductID": ["11923"], "Type": 5, "SubType": "Security Update",
             "FixedBuild": "10.0.20348.9999"},
        ]}],
    }
    facts = month_facts(parse_document(json.dumps(doc), "May.json"), "2022", previous_build=5020)
    assert (facts.release.kind, facts.release.kb, facts.lcu.kb) == (HOTPATCH, "KB5087424", "KB5087545")


def test_a_planned_baseline_month_ignores_a_carried_over_hotpatch(samples: Path) -> None:
    text = _may(samples).replace("May 2026", "July 2026").replace("2026-May", "2026-Jul") \
        .replace("2026-05-12T07:00:00", "2026-07-14T07:00:00")
    facts = month_facts(parse_document(text, "Jul"), "2022", previous_build=5020)
    assert (facts.release.kind, facts.release.kb) == (BASELINE, "KB5087545")


def test_before_2025_11_a_month_without_hotpatch_entries_is_not_called_a_baseline(samples: Path) -> None:
    text = _june(samples).replace("June 2026", "June 2025").replace("2026-Jun", "2025-Jun") \
        .replace("2026-06-09T07:00:00", "2025-06-10T07:00:00")
    assert month_facts(parse_document(text, "Jun 2025"), "2022", previous_build=None) is None


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.replace("June 2026 Security Updates", "July 2026 Early Security Updates"),
     "not a monthly Patch Tuesday document"),
    (lambda t: t.replace("2026-06-09T07:00:00", "2026-06-02T07:00:00"), "not on Patch Tuesday"),
    (lambda t: re.sub(r"<vuln:ProductID>1243[67]</vuln:ProductID>", "", t), "no Windows Server 2025 security update"),
])
def test_partial_or_odd_documents_are_refused(samples: Path, change, message: str) -> None:
    doc = parse_document(change(_june(samples)), "June")
    with pytest.raises(MsrcDataError, match=message):
        month_facts(doc, "2025", previous_build=32772)


def test_a_build_not_above_the_previous_month_is_not_this_months(samples: Path) -> None:
    doc = parse_document(_june(samples), "June")
    with pytest.raises(MsrcDataError, match="above the previous month"):
        month_facts(doc, "2022", previous_build=5300)


@pytest.mark.parametrize(("text", "message"), [
    ("not a document", "neither CVRF XML nor CVRF JSON"),
    ("<cvrf:cvrfdoc", "not well-formed XML"),
    ("<html><body>Service Unavailable</body></html>", "not a CVRF document"),
    ('<!DOCTYPE x [<!ENTITY a "b">]><x/>', "declares a DTD"),
    ('{"value": []}', "not a CVRF document"),
])
def test_non_cvrf_text_is_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(MsrcDataError, match=message):
        parse_document(text, "file")


def test_index_that_is_not_the_index_is_refused() -> None:
    with pytest.raises(MsrcDataError, match="no 'value' list"):
        parse_index('{"error": "nope"}', "index")
    with pytest.raises(MsrcDataError, match="not JSON"):
        parse_index("<html/>", "index")


def test_a_hotpatch_under_the_generic_subtype_leaves_the_month_out(samples: Path) -> None:
    # Reported for 2026-08 (hotpatch-program.md §9.2): the hotpatch KB listed as a plain "Security Update".
    from hpctl.core.msrc import AmbiguousMonth

    head, block, tail = _vulnerability(_may(samples))
    generic = block.replace("Security Hotpatch Update", "Security Update")
    copies = [generic.replace("CVE-2026-33834", f"CVE-2026-4000{n}") for n in range(3)]
    doc = parse_document(head + "".join(copies) + tail, "May, generic SubType")
    with pytest.raises(AmbiguousMonth, match="KB5087424 .*KB5087545 .*left out"):
        month_facts(doc, "2022", previous_build=5020)

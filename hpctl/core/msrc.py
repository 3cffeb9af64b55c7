"""Microsoft's Security Update Guide data (MSRC CVRF v3.0): the update index and monthly documents, read
into hotpatch calendar months, with the data's known flaws handled (hotpatch-program.md §9.2)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hpctl.core.calendar import (
    BASELINE,
    HOTPATCH,
    LCU,
    PLANNED_BASELINE_MONTHS,
    UNPLANNED_BASELINE,
    OtherUpdate,
    Release,
    patch_tuesday,
)

# Hotpatch KBs hang off the ordinary Windows Server products (there is no "Hotpatch" product).
PRODUCTS = {"2022": frozenset({"11923", "11924"}), "2025": frozenset({"12436", "12437"})}
BUILD_PREFIX = {"2022": "20348", "2025": "26100"}
HOTPATCH_SUBTYPE = "security hotpatch update"
LCU_SUBTYPE = "security update"
# Hotpatch remediations are in every hotpatch month's document only since 2025-11; before, a month without
# one is not evidence of a baseline (hotpatch-program.md §9.2 "Coverage gaps").
COMPLETE_SINCE = "2025-11"
VENDOR_FIX = "vendor fix"
# In the JSON form, Remediation Type is an integer; 2 is Vendor Fix.
_JSON_VENDOR_FIX = 2
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_TITLE_RE = re.compile("^(" + "|".join(_MONTHS) + r") (\d{4}) Security Updates$")
_ID_RE = re.compile(r"^\d{4}-[A-Z][a-z]{2}$")
_NS = {"cvrf": "http://www.icasi.org/CVRF/schema/cvrf/1.1", "vuln": "http://www.icasi.org/CVRF/schema/vuln/1.1"}


class MsrcDataError(ValueError):
    """The data is not what the MSRC API serves, or is partial; the message says what is wrong."""


class AmbiguousMonth(MsrcDataError):
    """The document can't tell this month's release: it is left out (the calendar keeps what it has)."""


@dataclass(frozen=True)
class IndexEntry:
    """One entry of GET /updates."""

    id: str  # e.g. "2026-May"
    title: str
    released: datetime | None


@dataclass(frozen=True)
class Fix:
    """One Vendor Fix KB of a document, with how many vulnerabilities cite it."""

    kb: str  # "KB5087424"
    sub_type: str
    build: str | None  # "20348.5074" (FixedBuild without "10.0.")
    products: frozenset[str]
    cited_by: int


@dataclass(frozen=True)
class CvrfDocument:
    """What hpctl reads of one monthly CVRF document."""

    id: str
    title: str
    released: datetime | None
    revised: str | None
    fixes: tuple[Fix, ...]

    @property
    def month(self) -> str | None:
        """YYYY-MM of a "<Month> <yyyy> Security Updates" document, else None."""
        match = _TITLE_RE.match(self.title.strip())
        if not match:
            return None
        return f"{match.group(2)}-{_MONTHS.index(match.group(1)) + 1:02d}"

    @property
    def label(self) -> str:
        return f"MSRC CVRF {self.id}" + (f" (revised {self.revised})" if self.revised else "")


@dataclass(frozen=True)
class MonthFacts:
    """One OS line's release in one month, as the document says."""

    release: Release
    lcu: OtherUpdate | None  # the month's regular LCU when the month is a hotpatch month


# --------------------------------------------------------------------------- the index


def parse_index(text: str, origin: str) -> list[IndexEntry]:
    """The entries of GET /updates (JSON, {"value": [...]})."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise MsrcDataError(f"{origin} is not JSON ({exc}); expected the MSRC /updates index") from None
    values = doc.get("value") if isinstance(doc, dict) else None
    if not isinstance(values, list):
        raise MsrcDataError(f"{origin} has no 'value' list; expected the MSRC /updates index")
    entries = []
    for item in values:
        if not isinstance(item, dict) or not isinstance(item.get("ID"), str):
            raise MsrcDataError(f"{origin}: an index entry has no ID: {json.dumps(item)[:120]}")
        entries.append(IndexEntry(item["ID"], str(item.get("DocumentTitle") or ""),
                                  _time(item.get("InitialReleaseDate"))))
    return entries


def patch_tuesday_documents(entries: list[IndexEntry], since: str | None = None) -> dict[str, str]:
    """{YYYY-MM: document id} of the monthly Patch Tuesday documents, oldest first.

    The index is unordered and holds other documents ("Mariner Release Notes") and early pre-release ones
    ("July 2026 Early Security Updates"): keep "<Month> <yyyy> Security Updates" released on Patch Tuesday.
    """
    found: dict[str, str] = {}
    for entry in entries:
        match = _TITLE_RE.match(entry.title.strip())
        if not match or entry.released is None or not _ID_RE.match(entry.id):
            continue
        year, month = int(match.group(2)), _MONTHS.index(match.group(1)) + 1
        if entry.released.date() != patch_tuesday(year, month):
            continue
        key = f"{year:04d}-{month:02d}"
        if since is None or key >= since:
            found[key] = entry.id
    return dict(sorted(found.items()))


# --------------------------------------------------------------------------- documents


def parse_document(text: str, origin: str) -> CvrfDocument:
    """A CVRF document in its XML form (the API's default) or its JSON form."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("<"):
        return _parse_xml(stripped, origin)
    if stripped.startswith("{"):
        return _parse_json(stripped, origin)
    raise MsrcDataError(f"{origin} is neither CVRF XML nor CVRF JSON")


def _parse_xml(text: str, origin: str) -> CvrfDocument:
    # CVRF documents declare no DTD or entities; refusing them keeps entity expansion out of the parser.
    if "<!DOCTYPE" in text[:4096] or "<!ENTITY" in text:
        raise MsrcDataError(f"{origin} declares a DTD or entities, which CVRF documents never do")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise MsrcDataError(f"{origin} is not well-formed XML ({exc})") from None
    if root.tag != f"{{{_NS['cvrf']}}}cvrfdoc":
        raise MsrcDataError(f"{origin} is not a CVRF document (root element {root.tag})")
    doc_id = (root.findtext("cvrf:DocumentTracking/cvrf:Identification/cvrf:ID", namespaces=_NS) or "").strip()
    title = (root.findtext("cvrf:DocumentTitle", namespaces=_NS) or "").strip()
    released = _time(root.findtext("cvrf:DocumentTracking/cvrf:InitialReleaseDate", namespaces=_NS))
    revised = root.findtext("cvrf:DocumentTracking/cvrf:CurrentReleaseDate", namespaces=_NS)
    cited: list[tuple[str, str, str | None, frozenset[str], str]] = []
    for vulnerability in root.iterfind("vuln:Vulnerability", _NS):
        cve = (vulnerability.findtext("vuln:CVE", namespaces=_NS) or "").strip()
        for remediation in vulnerability.iterfind("vuln:Remediations/vuln:Remediation", _NS):
            if (remediation.get("Type") or "").strip().lower() != VENDOR_FIX:
                continue
            cited.append((
                (remediation.findtext("vuln:Description", namespaces=_NS) or "").strip(),
                (remediation.findtext("vuln:SubType", namespaces=_NS) or "").strip(),
                remediation.findtext("vuln:FixedBuild", namespaces=_NS),
                frozenset(p.text.strip() for p in remediation.iterfind("vuln:ProductID", _NS) if p.text),
                cve,
            ))
    return _document(origin, doc_id, title, released, revised, cited)


def _parse_json(text: str, origin: str) -> CvrfDocument:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise MsrcDataError(f"{origin} is not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("DocumentTracking"), dict):
        raise MsrcDataError(f"{origin} is not a CVRF document (no DocumentTracking)")
    tracking = doc["DocumentTracking"]
    doc_id = str(_value(_get(tracking, "Identification", "ID")) or "").strip()
    title = str(_value(doc.get("DocumentTitle")) or "").strip()
    cited = []
    for vulnerability in doc.get("Vulnerability") or []:
        cve = str((vulnerability or {}).get("CVE") or "")
        for remediation in (vulnerability or {}).get("Remediations") or []:
            kind = remediation.get("Type")
            if kind != _JSON_VENDOR_FIX and str(kind).strip().lower() != VENDOR_FIX:
                continue
            cited.append((str(_value(remediation.get("Description")) or "").strip(),
                          str(remediation.get("SubType") or "").strip(), remediation.get("FixedBuild"),
                          frozenset(str(p) for p in remediation.get("ProductID") or []), cve))
    return _document(origin, doc_id, title, _time(tracking.get("InitialReleaseDate")),
                     tracking.get("CurrentReleaseDate"), cited)


def _document(origin: str, doc_id: str, title: str, released: datetime | None, revised: Any,
              cited: list[tuple[str, str, str | None, frozenset[str], str]]) -> CvrfDocument:
    if not _ID_RE.match(doc_id):
        raise MsrcDataError(f"{origin} has no document ID such as 2026-May (got {doc_id!r})")
    cves: dict[tuple[str, str, str | None, frozenset[str]], set[str]] = defaultdict(set)
    for description, sub_type, fixed, products, cve in cited:
        if not description.isdigit():
            continue  # Vendor Fixes of other kinds (e.g. a URL-only fix) name no KB
        build = _build(fixed)
        cves[(f"KB{description}", sub_type, build, products)].add(cve)
    fixes = tuple(Fix(kb, sub, build, products, len(names))
                  for (kb, sub, build, products), names in sorted(cves.items(), key=lambda kv: kv[0][0]))
    return CvrfDocument(doc_id, title, released, str(revised).strip() if revised else None, fixes)


# --------------------------------------------------------------------------- months


def month_facts(doc: CvrfDocument, os_key: str, previous_build: int | None) -> MonthFacts | None:
    """The OS line's release of the document's month, or None when the data can't tell it (before
    COMPLETE_SINCE without a hotpatch entry). MsrcDataError when the document is partial or inconsistent."""
    month = doc.month
    if month is None:
        raise MsrcDataError(f"{doc.label} is not a monthly Patch Tuesday document (title {doc.title!r})")
    if doc.released is None:
        raise MsrcDataError(f"{doc.label} has no InitialReleaseDate")
    year, number = int(month[:4]), int(month[5:])
    released = doc.released.date()
    if released != patch_tuesday(year, number):
        raise MsrcDataError(f"{doc.label} was released {released.isoformat()}, not on Patch Tuesday "
                            f"{patch_tuesday(year, number).isoformat()}: it is a pre-release or out-of-band document")
    lcu = _pick(doc, os_key, LCU_SUBTYPE, previous_build)
    if lcu is None:
        products = "/".join(sorted(PRODUCTS[os_key]))
        raise MsrcDataError(f"{doc.label} has no Windows Server {os_key} security update (products {products}) "
                            f"with a build above the previous month's: the data is partial")
    hotpatch = None
    if number not in PLANNED_BASELINE_MONTHS:
        # A hotpatch KB cited in a planned baseline month is another month's, carried over.
        hotpatch = _pick(doc, os_key, HOTPATCH_SUBTYPE, previous_build)
    if hotpatch is not None and _ubr(hotpatch.build) >= _ubr(lcu.build):
        raise MsrcDataError(f"{doc.label}: hotpatch {hotpatch.kb} ({hotpatch.build}) is not below the month's LCU "
                            f"{lcu.kb} ({lcu.build})")
    source = f"{doc.label}, products {'/'.join(sorted(PRODUCTS[os_key]))}"
    if hotpatch is not None:
        release = Release(os_key, month, released, HOTPATCH, hotpatch.kb, hotpatch.build, False, True,
                          source=f"{source}: 'Security Hotpatch Update' {hotpatch.kb} {_cited(hotpatch.cited_by)}")
        other = OtherUpdate(os_key, LCU, lcu.kb, released, lcu.build, False, month,
                            note=f"The month's regular LCU ({doc.label}); a VM on it is not on the hotpatch track.")
        return MonthFacts(release, other)
    if month < COMPLETE_SINCE and number not in PLANNED_BASELINE_MONTHS:
        return None
    if number not in PLANNED_BASELINE_MONTHS:
        _check_one_update(doc, os_key, lcu, previous_build)
    kind = BASELINE if number in PLANNED_BASELINE_MONTHS else UNPLANNED_BASELINE
    note = None if kind == BASELINE else "No hotpatch remediation for this OS in the month's document."
    release = Release(os_key, month, released, kind, lcu.kb, lcu.build, True, True, note=note,
                      source=f"{source}: no 'Security Hotpatch Update'; 'Security Update' {lcu.kb} "
                             f"{_cited(lcu.cited_by)}")
    return MonthFacts(release, None)


def _check_one_update(doc: CvrfDocument, os_key: str, lcu: Fix, previous_build: int | None) -> None:
    """No hotpatch entry: a baseline, unless a second widely cited 'Security Update' of the line is there too,
    which is how a hotpatch listed under the generic SubType would look (reported for 2026-08,
    hotpatch-program.md §9.2): then the month can't be told from this document."""
    others = [f for f in _candidates(doc, os_key, LCU_SUBTYPE, previous_build)
              if f.kb != lcu.kb and f.cited_by >= max(2, lcu.cited_by // 5)]
    if others:
        listed = ", ".join(f"{f.kb} ({f.build}, {_cited(f.cited_by)})" for f in [lcu, *others])
        raise AmbiguousMonth(f"{doc.label}: no 'Security Hotpatch Update' for Windows Server {os_key} but several "
                             f"'Security Update' KBs ({listed}); one may be the hotpatch under the generic SubType, "
                             "so the month was left out")


def _candidates(doc: CvrfDocument, os_key: str, sub_type: str, previous_build: int | None) -> list[Fix]:
    prefix = BUILD_PREFIX[os_key] + "."
    return [
        f for f in doc.fixes
        if f.sub_type.lower() == sub_type and f.products & PRODUCTS[os_key] and f.build and f.build.startswith(prefix)
        and (previous_build is None or _ubr(f.build) > previous_build)
    ]


def _pick(doc: CvrfDocument, os_key: str, sub_type: str, previous_build: int | None) -> Fix | None:
    """The KB of this OS line and kind cited by the most vulnerabilities; documents also cite other months'
    KBs on CVEs revised later, whose builds are at or below the previous month's or outside the OS line."""
    candidates = _candidates(doc, os_key, sub_type, previous_build)
    if not candidates:
        return None
    # Ties go to the lower build: a later month's KB cited early is the carry-over, not this month's.
    return max(candidates, key=lambda f: (f.cited_by, -_ubr(f.build)))


# --------------------------------------------------------------------------- helpers


def _cited(count: int) -> str:
    return f"cited by {count} vulnerabilit{'y' if count == 1 else 'ies'}"


def _build(fixed: Any) -> str | None:
    text = str(fixed or "").strip()
    match = re.fullmatch(r"(?:10\.0\.)?(\d{4,5}\.\d{1,7})", text)
    return match.group(1) if match else None


def _ubr(build: str | None) -> int:
    return int(build.split(".")[1]) if build else 0


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def _get(doc: Any, *keys: str) -> Any:
    for key in keys:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


def _value(node: Any) -> Any:
    # The JSON form wraps many strings as {"Value": ...}.
    return node.get("Value") if isinstance(node, dict) else node

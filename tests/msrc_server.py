"""A small local stand-in for the MSRC CVRF v3.0 API, serving documents built from the real excerpts'
structure (shared/msrc-samples): the same XML, with the month, KBs and builds swapped in.

Months up to 2026-09 use the reference's KBs and builds (hotpatch-program.md §9.1); 2026-10 and 2026-11 are
made up for tests (nothing was published about them when the reference was written)."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SAMPLES = ("msrc-cvrf-2026-May-excerpt.xml", "msrc-cvrf-2026-Jun-excerpt.xml", "msrc-cvrf-updates-index-excerpt.json")


@dataclass(frozen=True)
class Month:
    """One Patch Tuesday document: its id, title, day, and per OS line the LCU and (optionally) hotpatch."""

    doc_id: str
    title: str
    day: str
    lcu: dict[str, tuple[str, str]]  # os -> (KB digits, build)
    hotpatch: dict[str, tuple[str, str]] | None = None
    cited: int = 1  # vulnerabilities citing the month's own KBs
    carry_over: dict[str, tuple[str, str]] | None = None  # another month's hotpatch KBs, cited once


MONTHS = (
    Month("2026-Sep", "September 2026 Security Updates", "2026-09-08",
          {"2022": ("5122882", "20348.5622"), "2025": ("5122871", "26100.33438")}),
    Month("2026-Oct", "October 2026 Security Updates", "2026-10-13",
          {"2022": ("5130011", "20348.5702"), "2025": ("5130012", "26100.33561")}),
    Month("2026-Nov", "November 2026 Security Updates", "2026-11-10",
          {"2022": ("5140021", "20348.5811"), "2025": ("5140022", "26100.33694")},
          hotpatch={"2022": ("5140031", "20348.5760"), "2025": ("5140032", "26100.33630")}, cited=3,
          carry_over={"2022": ("5120229", "20348.5440"), "2025": ("5120228", "26100.33222")}),
)


class MsrcData:
    """The documents, built once from the excerpts."""

    def __init__(self, samples: Path, months: tuple[Month, ...] = MONTHS) -> None:
        self.may = (samples / SAMPLES[0]).read_text(encoding="utf-8")
        self.june = (samples / SAMPLES[1]).read_text(encoding="utf-8")
        self.index_sample = json.loads((samples / SAMPLES[2]).read_text(encoding="utf-8"))
        self.months = months
        self.documents = {m.doc_id: self.document(m) for m in months}

    def index(self) -> dict[str, Any]:
        """The real excerpt's entries (with its Mariner and early pre-release oddities) plus our months, unordered."""
        values = list(self.index_sample["value"])
        for month in self.months:
            values.insert(1, {"ID": month.doc_id, "Alias": month.doc_id, "DocumentTitle": month.title,
                              "Severity": None, "InitialReleaseDate": f"{month.day}T07:00:00Z",
                              "CurrentReleaseDate": f"{month.day}T07:00:00Z",
                              "CvrfUrl": f"https://api.msrc.microsoft.com/cvrf/v3.0/cvrf/{month.doc_id}"})
        values.append({"ID": "2026-Dec", "Alias": "2026-Dec", "DocumentTitle": "December 2026 Early Security Updates",
                       "Severity": None, "InitialReleaseDate": "2026-12-03T07:00:00Z",
                       "CurrentReleaseDate": "2026-12-03T07:00:00Z",
                       "CvrfUrl": "https://api.msrc.microsoft.com/cvrf/v3.0/cvrf/2026-Dec"})
        return {"@odata.context": self.index_sample["@odata.context"], "value": values}

    def document(self, month: Month) -> str:
        template = self.may if month.hotpatch else self.june
        head, vulnerability, tail = _split(template)
        source_month = "2026-May" if month.hotpatch else "2026-Jun"
        swaps = _swaps(month.lcu, month.hotpatch) if month.hotpatch else _swaps(month.lcu, None, june=True)
        blocks = [_renumber(_apply(vulnerability, swaps), n) for n in range(month.cited)]
        if month.carry_over:
            blocks.append(_renumber(_apply(vulnerability, _swaps(month.lcu, month.carry_over)), 99))
        text = head + "".join(blocks) + tail
        title = "May 2026 Security Updates" if month.hotpatch else "June 2026 Security Updates"
        day = "2026-05-12" if month.hotpatch else "2026-06-09"
        text = re.sub(r"<cvrf:CurrentReleaseDate>[^<]*<", f"<cvrf:CurrentReleaseDate>{month.day}T07:00:00<", text)
        return (text.replace(title, month.title).replace(source_month, month.doc_id)
                .replace(f"{day}T07:00:00", f"{month.day}T07:00:00"))


def _split(template: str) -> tuple[str, str, str]:
    start = template.index("  <vuln:Vulnerability")
    end = template.index("</vuln:Vulnerability>") + len("</vuln:Vulnerability>\n")
    return template[:start], template[start:end], template[end:]


def _swaps(lcu: dict[str, tuple[str, str]], hotpatch: dict[str, tuple[str, str]] | None,
           *, june: bool = False) -> dict[str, str]:
    if june:
        return {"5094128": lcu["2022"][0], "20348.5256": lcu["2022"][1],
                "5094125": lcu["2025"][0], "26100.32995": lcu["2025"][1]}
    assert hotpatch is not None
    return {"5087545": lcu["2022"][0], "20348.5139": lcu["2022"][1], "5087424": hotpatch["2022"][0],
            "20348.5074": hotpatch["2022"][1], "5087539": lcu["2025"][0], "26100.32860": lcu["2025"][1],
            "5087423": hotpatch["2025"][0], "26100.32772": hotpatch["2025"][1]}


def _apply(text: str, swaps: dict[str, str]) -> str:
    pattern = re.compile("|".join(re.escape(k) for k in sorted(swaps, key=len, reverse=True)))
    return pattern.sub(lambda m: swaps[m.group(0)], text)


def _renumber(block: str, number: int) -> str:
    # Each copy is its own vulnerability (its own CVE), so the KB counts as cited once more.
    return re.sub(r"CVE-(\d{4})-(\d+)", lambda m: f"CVE-{m.group(1)}-{int(m.group(2)) + number * 7}", block)


class MsrcServer:
    """Serves /cvrf/v3.0/updates and /cvrf/v3.0/cvrf/{id} on loopback; `broken` documents answer partial XML."""

    def __init__(self, data: MsrcData) -> None:
        self.data = data
        self.requests: list[str] = []
        self.overrides: dict[str, tuple[int, str]] = {}
        self.once: dict[str, int] = {}  # path -> a status answered once, before the normal answer
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.requests.append(self.path)
                status, body, kind = server.answer(self.path.split("?", 1)[0])
                payload = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/cvrf/v3.0"

    def answer(self, path: str) -> tuple[int, str, str]:
        if path in self.once:
            return self.once.pop(path), "", "text/plain"
        if path in self.overrides:
            status, body = self.overrides[path]
            return status, body, "application/xml"
        if path == "/cvrf/v3.0/updates":
            return 200, json.dumps(self.data.index(), separators=(",", ":")), "application/json; charset=utf-8"
        doc_id = path.rsplit("/", 1)[-1]
        if path.startswith("/cvrf/v3.0/cvrf/") and doc_id in self.data.documents:
            return 200, self.data.documents[doc_id], "application/xml"
        return 404, "", "text/plain"

    def __enter__(self) -> MsrcServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

"""`hpctl calendar refresh`: read Microsoft's Security Update Guide documents (online or saved), turn them into
calendar months, merge them without losing known facts, and replace the calendar file atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from hpctl.core.calendar import (
    CALENDAR_ENV,
    OS_LINES,
    REFRESH_COMMAND,
    Calendar,
    OtherUpdate,
    Release,
    builtin_calendar,
    default_calendar_file,
    parse_calendar,
)
from hpctl.core.calendar_merge import Change, calendar_document, merge_calendars, merge_months
from hpctl.core.msrc import (
    AmbiguousMonth,
    CvrfDocument,
    MsrcDataError,
    month_facts,
    parse_document,
    parse_index,
    patch_tuesday_documents,
)
from hpctl.errors import AzureOperationError, HpctlError, InputError


@dataclass
class RefreshResult:
    """What a refresh read, what it changed, and where the calendar now is."""

    path: Path
    documents: list[str] = field(default_factory=list)  # CVRF document ids read, oldest first
    changes: list[Change] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # months the documents can't tell, and why
    written: bool = False
    calendar: Calendar | None = None


def target_file(calendar_file: Path | None) -> Path:
    """Where the refreshed calendar goes: --calendar-file, else $HPCTL_CALENDAR_FILE, else ~/.hpctl/calendar.json
    (the file every command reads first)."""
    if calendar_file is not None:
        return Path(calendar_file).expanduser()
    env = os.environ.get(CALENDAR_ENV, "").strip()
    return Path(env).expanduser() if env else default_calendar_file()


def refresh(*, calendar_file: Path | None, files: Sequence[Path], endpoint: str | None, since: str | None,
            today: date, dry_run: bool = False) -> RefreshResult:
    """Bring the calendar up to date from MSRC data: saved documents (`files`) or the API at `endpoint`."""
    path = target_file(calendar_file)
    # Saved documents are input: checked before anything else is read or written.
    saved = [_read_saved(file) for file in files]
    base = _base_calendar(path)
    if files:
        documents = saved
        bad_data: type[HpctlError] = InputError
    else:
        documents = _fetch(endpoint, since or _first_month(base), today)
        bad_data = AzureOperationError
    documents.sort(key=lambda d: d.month or "")
    result = RefreshResult(path, [d.id for d in documents])
    try:
        months, others = _months(base, documents, result.left_out)
        merged = merge_months(base, months, others, as_of=max((d.released.date() for d in documents if d.released),
                                                                default=None))
    except (MsrcDataError, InputError) as exc:
        text = exc.message if isinstance(exc, InputError) else str(exc)
        raise bad_data(f"{text}; the calendar file was not changed",
                       hint="Check the documents (or --endpoint); hpctl keeps the calendar it has.") from None
    result.changes = [c for c in merged.changes]
    result.calendar = merged.calendar
    if (result.changes or not path.exists()) and not dry_run:
        _write_atomically(path, merged.calendar)
        result.written = True
    return result


def _base_calendar(path: Path) -> Calendar:
    builtin = builtin_calendar()
    if not path.exists():
        return Calendar(builtin.lines, builtin.schema_version, builtin.as_of, str(path))
    hint = f"Fix or delete {path}, then run `{REFRESH_COMMAND}` again."
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"calendar file {path} cannot be read ({exc})", hint=hint) from None
    existing = parse_calendar(text, str(path), hint)
    return merge_calendars(existing, builtin).calendar


def _first_month(base: Calendar) -> str:
    # From the oldest "last known month": its document is read again to check the data still agrees.
    return min(base.line(key).known_until for key in OS_LINES)


def _read_saved(file: Path) -> CvrfDocument:
    origin = str(file)
    try:
        text = Path(file).expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"--from {origin}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--from {origin} cannot be read as text ({exc})") from None
    try:
        return parse_document(text, origin)
    except MsrcDataError as exc:
        raise InputError(f"--from {exc}",
                         hint="Save documents with GET https://api.msrc.microsoft.com/cvrf/v3.0/cvrf/<yyyy-Mmm>.") \
            from None


def _fetch(endpoint: str | None, since: str, today: date) -> list[CvrfDocument]:
    from hpctl.edge.msrc import DEFAULT_ENDPOINT, MsrcClient

    client = MsrcClient(endpoint or DEFAULT_ENDPOINT)
    try:
        index = parse_index(client.index(), client.url("/updates"))
    except MsrcDataError as exc:
        raise AzureOperationError(f"{exc}; the calendar file was not changed",
                                  hint="Check --endpoint; it must serve the MSRC CVRF v3.0 API.") from None
    wanted = {m: i for m, i in patch_tuesday_documents(index, since).items() if m <= today.strftime("%Y-%m")}
    documents = []
    for doc_id in wanted.values():
        origin = client.url(f"/cvrf/{doc_id}")
        try:
            document = parse_document(client.document(doc_id), origin)
        except MsrcDataError as exc:
            raise AzureOperationError(f"{exc}; the calendar file was not changed",
                                      hint="Retry later, or use --from with saved documents.") from None
        if document.id != doc_id:
            raise AzureOperationError(f"{origin} answered document {document.id}, not {doc_id}; the calendar file "
                                      "was not changed", hint="Check --endpoint; a mirror may be out of date.")
        documents.append(document)
    return documents


def _months(base: Calendar, documents: list[CvrfDocument], left_out: list[str]
            ) -> tuple[dict[str, list[Release]], dict[str, list[OtherUpdate]]]:
    months: dict[str, list[Release]] = {key: [] for key in OS_LINES}
    others: dict[str, list[OtherUpdate]] = {key: [] for key in OS_LINES}
    for doc in documents:
        for key in OS_LINES:
            line = base.line(key)
            if (doc.month or "") < line.first_month or (line.last_month and (doc.month or "") > line.last_month):
                continue  # outside the OS line's hotpatch program (WS2025's starts 2024-11)
            try:
                facts = month_facts(doc, key, _previous_build(base, months[key], key, doc.month or ""))
            except AmbiguousMonth as exc:
                left_out.append(str(exc))
                continue
            if facts is None:
                continue
            months[key].append(facts.release)
            if facts.lcu is not None:
                others[key].append(facts.lcu)
    return months, others


def _previous_build(base: Calendar, accepted: list[Release], os_key: str, month: str) -> int | None:
    """The highest build released before `month`: a KB of this month must be above it."""
    known = [r for r in (*base.line(os_key).releases, *accepted) if r.month < month and r.build]
    return max((r.ubr or 0 for r in known), default=None)


def _write_atomically(path: Path, cal: Calendar) -> None:
    """Write next to the target and rename over it, so a reader never sees half a file."""
    from hpctl.output import to_json

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".calendar-", suffix=".json", dir=path.parent)
    except OSError as exc:
        raise InputError(f"cannot write the calendar to {path} ({exc.strerror or exc})",
                         hint="Choose a writable place with --calendar-file.") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(to_json(calendar_document(cal)) + "\n")
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise InputError(f"cannot write the calendar to {path} ({exc.strerror or exc})",
                         hint="Choose a writable place with --calendar-file.") from None

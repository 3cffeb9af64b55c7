"""The write-ahead journal of a fleet write: one JSON line per event, appended and fsynced before the engine
acts on it, locked to one process. Generic over operation kinds; --resume reads it back."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import IO, Any

from hpctl.errors import InputError

VERSION = 2
# Events: sending (about to send; may carry `before`, what the VM showed before), accepted (Azure said 202;
# carries the continuation token), notAccepted (429 or no connection: nothing started), done (the outcome).
SENDING, ACCEPTED, NOT_ACCEPTED, DONE = "sending", "accepted", "notAccepted", "done"


def _lock(handle: IO[str]) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


class Journal:
    """Entries by target id (lower-case resource id): the merged state of every event recorded for it."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        self.header = header
        self.entries: dict[str, dict[str, Any]] = {}
        self._handle: IO[str] | None = None
        self._lock_handle: IO[str] | None = None
        self._cond = threading.Condition()
        self._buffer: list[str] = []
        self._queued = 0
        self._durable = 0
        self._writing = False

    # -- opening -------------------------------------------------------------------------------------

    @staticmethod
    def preflight(path: Path, *, resume: bool = False) -> None:
        """Before anything is read or sent: a journal path that can't be written, that another process holds,
        or (to resume) that isn't a journal, is refused now (exit 2)."""
        probe = Journal(path, {})
        probe._acquire()
        try:
            if resume and path.exists():
                probe._read()
        finally:
            probe.close()
        if path.exists() and not os.access(path, os.W_OK):
            raise InputError(f"Can't write the journal {path} (permission denied); give a writable file with "
                             "--state-file.")

    @classmethod
    def open(cls, path: Path, kind: str, key: str, settings: dict[str, Any], *, resume: bool) -> Journal:
        """Lock the journal and prove it writable before anything is sent (InputError, exit 2, otherwise).

        Without resume a new journal starts, unless the old one holds operations that were accepted or may
        have started (then only --resume may touch those VMs). With resume the old one is read back."""
        header = {"version": VERSION, "kind": kind, "key": key, "settings": settings}
        journal = cls(path, header)
        journal._acquire()
        try:
            existing = journal._read() if path.exists() else None
            if resume:
                if existing is None:
                    raise InputError(f"--resume: no journal at {path}; run without --resume to start one.")
                if existing.get("kind") != kind or existing.get("key") != key:
                    raise InputError(f"--resume: {path} is for another run (other VMs, operation or settings); "
                                     "run without --resume to start this one, or give its own --state-file.")
                journal._append_handle()
            else:
                if existing is not None:
                    open_ = journal.unfinished()
                    if open_:
                        raise InputError(
                            f"{path} records {len(open_)} VM(s) whose operation was accepted or may have started "
                            "in an interrupted run; rerun with --resume to follow them up (or remove the file).")
                journal.entries = {}
                journal._create()
        except BaseException:
            journal.close()
            raise
        return journal

    def _acquire(self) -> None:
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            if self.path.is_dir():
                raise IsADirectoryError(str(self.path))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
        except OSError as exc:
            raise InputError(f"Can't write the journal {self.path} ({exc.strerror or exc}); give a writable "
                             "file with --state-file.") from None
        if not _lock(handle):
            handle.seek(0)
            pid = handle.read().strip() or "unknown"
            handle.close()
            raise InputError(f"{self.path} is in use by another hpctl process (pid {pid}); wait for it to finish "
                             "or stop it, then retry.")
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_handle = handle

    def _read(self) -> dict[str, Any]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{self.path} is unreadable ({exc}); remove it to start over.") from None
        try:
            header = json.loads(lines[0]) if lines else None
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get("version") != VERSION or "key" not in header:
            raise InputError(f"{self.path} is not an hpctl journal (version {VERSION}); remove it or give another "
                             "--state-file.")
        for number, line in enumerate(lines[1:], start=2):
            try:
                event = json.loads(line)
            except ValueError:
                if number == len(lines):
                    break  # a write cut short by a crash: the event before it stands
                raise InputError(f"{self.path} line {number} is corrupt; remove the file to start over.") from None
            if not isinstance(event, dict) or not isinstance(event.get("id"), str):
                raise InputError(f"{self.path} line {number} is not a journal event; remove the file to start over.")
            self._apply(event)
        return header

    def _create(self) -> None:
        try:
            handle = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - appended to for the whole run
            handle.write(json.dumps(self.header, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as exc:
            raise InputError(f"Can't write the journal {self.path} ({exc.strerror or exc}); give a writable "
                             "file with --state-file.") from None
        self._handle = handle

    def _append_handle(self) -> None:
        try:
            self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise InputError(f"Can't write the journal {self.path} ({exc.strerror or exc}).") from None

    # -- events --------------------------------------------------------------------------------------

    def _apply(self, event: dict[str, Any]) -> None:
        entry = self.entries.setdefault(event["id"], {})
        kind = event.get("event")
        if kind == SENDING:
            entry.pop("outcome", None)
            entry.pop("token", None)
        entry.update({k: v for k, v in event.items() if k not in ("id",)})
        entry["state"] = kind

    def record(self, target_id: str, event: str, *, durable: bool = True, **data: Any) -> None:
        """Append one event and return once it is on disk (events of concurrent callers share one fsync).
        `durable=False` only queues it for the next durable write (or close): for events a crash may lose
        without harm, such as an outcome --resume can read from Azure again."""
        self.record_many([(target_id, event, data)], durable=durable)

    def record_many(self, events: list[tuple[str, str, dict[str, Any]]], *, durable: bool = True) -> None:
        """Several events, on disk together (one fsync) before this returns."""
        with self._cond:
            for target_id, event, data in events:
                self._apply({"id": target_id, "event": event, **data})
                self._buffer.append(json.dumps({"id": target_id, "event": event, **data}, sort_keys=True,
                                               default=str) + "\n")
                self._queued += 1
            mine = self._queued if durable else 0
            while self._durable < mine:
                if self._writing:
                    self._cond.wait()
                    continue
                batch, upto, self._buffer = self._buffer, self._queued, []
                self._writing = True
                self._cond.release()
                try:
                    assert self._handle is not None
                    self._handle.write("".join(batch))
                    self._handle.flush()
                    os.fsync(self._handle.fileno())
                finally:
                    self._cond.acquire()
                    self._writing = False
                    self._durable = upto
                    self._cond.notify_all()

    def state(self, target_id: str) -> str | None:
        entry = self.entries.get(target_id)
        return entry.get("state") if entry else None

    def unfinished(self) -> list[str]:
        """Targets whose operation was accepted or may have been (sent, no answer recorded)."""
        return [t for t, e in self.entries.items() if e.get("state") in (SENDING, ACCEPTED)]

    def close(self) -> None:
        if self._handle is not None and self._buffer:
            try:
                self.record_many([])  # what was queued without waiting goes to disk now
            except OSError:
                pass
        for handle in (self._handle, self._lock_handle):
            if handle is not None:
                try:
                    handle.close()
                except OSError:
                    pass
        self._handle = self._lock_handle = None

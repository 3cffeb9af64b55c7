"""The instance view's osVersion in the three forms Azure writes it (azure-wire.md §9.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Today's agents: "10.0.20348.3932" (with the update revision). Registry-style values drop the "10.0.".
# Old agents: "Microsoft Windows NT 10.0.14393.0" (the revision is always 0, i.e. not reported).
# Deallocated VMs: null. Windows builds have four or five digits, which keeps Linux versions such as "22.04"
# or "5.15.0.1051" from matching.
_VERSION_RE = re.compile(
    r"^(?P<nt>Microsoft Windows NT\s+)?(?:(?:10|6)\.\d{1,2}\.)?(?P<build>\d{4,5})(?:\.(?P<rev>\d{1,7}))?$",
    re.IGNORECASE,
)
_NEEDS_PREFIX_RE = re.compile(r"^(?:10|6)\.\d{1,2}\.\d{4,5}$")

WITH_REVISION = "with-revision"
NO_REVISION = "no-revision"  # old agents ("Microsoft Windows NT 10.0.14393.0") or a bare build
NOT_REPORTED = "not-reported"  # null: deallocated, or the agent not ready
NOT_WINDOWS = "not-windows"


@dataclass(frozen=True)
class OsVersion:
    """What an osVersion value tells: the Windows build and, when the agent reports it, the revision."""

    raw: str | None
    form: str  # WITH_REVISION, NO_REVISION, NOT_REPORTED or NOT_WINDOWS
    build: str | None = None  # "20348"
    revision: int | None = None  # 3932; None when not reported

    @property
    def full(self) -> str | None:
        """"20348.3932" when the revision is known."""
        return f"{self.build}.{self.revision}" if self.build and self.revision is not None else None


def parse_os_version(value: object) -> OsVersion:
    """Read osVersion as Azure writes it. A trailing ".0" (always 0 from old agents) means "revision not
    reported", never "revision 0"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return OsVersion(None, NOT_REPORTED)
    if not isinstance(value, str):
        return OsVersion(str(value), NOT_WINDOWS)
    raw = value.strip()
    match = _VERSION_RE.match(raw)
    if not match:
        return OsVersion(raw, NOT_WINDOWS)
    if match.group("rev") is None and not (_NEEDS_PREFIX_RE.match(raw) or match.group("nt")):
        # "26100" alone is not an OS version.
        return OsVersion(raw, NOT_WINDOWS)
    revision = int(match.group("rev")) if match.group("rev") is not None else None
    if revision == 0 or revision is None:
        return OsVersion(raw, NO_REVISION, match.group("build"))
    return OsVersion(raw, WITH_REVISION, match.group("build"), revision)

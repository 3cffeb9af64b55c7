"""Validate `hpctl install` options and build the exact installPatches request body (azure-wire.md §3.1)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from hpctl.errors import InputError

# VMGuestPatchClassificationWindows, in the order Azure documents them (hotpatch-program.md §4).
CLASSIFICATIONS: tuple[str, ...] = (
    "Critical",
    "Security",
    "UpdateRollUp",
    "FeaturePack",
    "ServicePack",
    "Definition",
    "Tools",
    "Updates",
)
REBOOT_SETTINGS: tuple[str, ...] = ("IfRequired", "Never", "Always")
DEFAULT_MAX_DURATION = "PT2H"

# Azure caps the installPatches window at 4 hours (PT4H, the API's own example and the AUM limit).
MAX_DURATION = timedelta(hours=4)
# Not confirmed as an Azure-enforced minimum: no Microsoft source found states one. Windows Update
# skips an update unless 15-20 minutes of the window remain (AUM "Timeline of maintenance window"),
# so a shorter window would install next to nothing; 30 minutes leaves room for at least one update.
MIN_DURATION = timedelta(minutes=30)
# A cut-off this far ahead can't filter anything (no patch is published in the future) and is
# almost always a typo in the year.
MAX_PUBLISH_DATE_AHEAD = timedelta(days=366)

# Windows Update category names and other spellings users copy from the portal or the spec examples.
_CLASSIFICATION_HINTS = {
    "criticalupdates": "Critical",
    "securityupdates": "Security",
    "updaterollups": "UpdateRollUp",
    "rollups": "UpdateRollUp",
    "rollup": "UpdateRollUp",
    "definitionupdates": "Definition",
    "definitions": "Definition",
    "featurepacks": "FeaturePack",
    "servicepacks": "ServicePack",
    "update": "Updates",
}
_CLASSIFICATION_FLAG = "--classification"

_KB_RE = re.compile(r"^(?:kb)?([1-9][0-9]{3,7})$", re.IGNORECASE)
_DURATION_RE = re.compile(
    r"^P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_DATE_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[Tt](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?)?"
    r"(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?)?$"
)


@dataclass(frozen=True)
class InstallOptions:
    """Validated, normalised `hpctl install` options."""

    reboot_setting: str
    max_duration: str
    classifications: tuple[str, ...] = ()
    kb_include: tuple[str, ...] = ()
    kb_exclude: tuple[str, ...] = ()
    exclude_reboot_required: bool = False
    max_publish_date: str | None = None

    @property
    def max_duration_timedelta(self) -> timedelta:
        """The window as a timedelta, for callers that wait on the operation."""
        return _duration_value(self.max_duration)

    def to_wire(self) -> dict[str, Any]:
        """The installPatches JSON body, with empty fields left out."""
        windows: dict[str, Any] = {}
        if self.classifications:
            windows["classificationsToInclude"] = list(self.classifications)
        if self.kb_include:
            windows["kbNumbersToInclude"] = list(self.kb_include)
        if self.kb_exclude:
            windows["kbNumbersToExclude"] = list(self.kb_exclude)
        if self.exclude_reboot_required:
            windows["excludeKbsRequiringReboot"] = True
        if self.max_publish_date:
            windows["maxPatchPublishDate"] = self.max_publish_date
        body: dict[str, Any] = {"maximumDuration": self.max_duration, "rebootSetting": self.reboot_setting}
        if windows:
            body["windowsParameters"] = windows
        return body


def _split(values: str | Iterable[str] | None, flag: str) -> list[str]:
    """Flatten repeated and comma-separated values; an empty item is a mistake, not something to skip."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    items: list[str] = []
    for value in values:
        if value is None:
            continue
        for item in str(value).split(","):
            item = item.strip()
            if not item:
                example = "Critical,Security" if flag == _CLASSIFICATION_FLAG else "KB5031364,KB5032189"
                raise InputError(
                    f"{flag} has an empty value in '{value}'; "
                    f"separate values with single commas, e.g. {example}."
                )
            items.append(item)
    return items


def _dedupe(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _classification_key(value: str) -> str:
    return re.sub(r"[\s_\-]+", "", value).lower()


def normalise_classification(value: str) -> str:
    """The canonical spelling of one Windows classification; InputError naming the valid set otherwise."""
    key = _classification_key(value)
    canonical = {name.lower(): name for name in CLASSIFICATIONS}
    if key in canonical and not re.search(r"[\s_\-]", value.strip()):
        return canonical[key]
    valid = ", ".join(CLASSIFICATIONS)
    if key == "other":
        raise InputError(f"--classification Other is a Linux classification; for Windows use one of {valid}.")
    guess = _CLASSIFICATION_HINTS.get(key) or canonical.get(key)
    if guess is None:
        close = difflib.get_close_matches(key, list(canonical), n=1, cutoff=0.75)
        guess = canonical[close[0]] if close else None
    hint = f" (did you mean {guess}?)" if guess else ""
    raise InputError(f"--classification '{value}' is not a Windows classification{hint}; use one of {valid}.")


def normalise_kb(value: str, flag: str = "--kb-include") -> str:
    """KB5031364, kb5031364 or 5031364 → '5031364', the digits-only form Azure expects."""
    match = _KB_RE.match(value.strip())
    if not match:
        raise InputError(
            f"{flag} '{value}' is not a KB id; give it as KB5031364 or 5031364 (4 to 8 digits, no spaces)."
        )
    return match.group(1)


def normalise_reboot_setting(value: str | None) -> str:
    """IfRequired | Never | Always, case-insensitive; required as in the installPatches API."""
    if value is None or not value.strip():
        raise InputError(
            "--reboot-setting is required (the installPatches API has no default); "
            "give IfRequired, Never or Always."
        )
    by_lower = {name.lower(): name for name in REBOOT_SETTINGS}
    found = by_lower.get(value.strip().lower())
    if found is None:
        raise InputError(f"--reboot-setting '{value}' is not valid; give IfRequired, Never or Always.")
    return found


def _duration_value(text: str) -> timedelta:
    match = _DURATION_RE.match(text)
    if not match:
        raise ValueError(text)
    parts = {key: int(value) for key, value in match.groupdict().items() if value is not None}
    return timedelta(**parts)


def parse_duration_seconds(text: str) -> float:
    """Seconds in an ISO 8601 duration hpctl sent (PT2H → 7200.0); 7200 when it can't be read."""
    try:
        return _duration_value(text.strip().upper()).total_seconds()
    except ValueError:
        return _duration_value(DEFAULT_MAX_DURATION).total_seconds()


def _format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if seconds:
        text += f"{seconds}S"
    return text


def normalise_max_duration(value: str | None) -> str:
    """An ISO 8601 duration between PT30M and PT4H, returned in its shortest form (P0DT2H → PT2H)."""
    if value is None:
        return DEFAULT_MAX_DURATION
    text = value.strip().upper()
    example = "use an ISO 8601 duration such as PT2H, PT90M or PT1H30M"
    if not text:
        raise InputError(f"--max-duration is empty; {example}.")
    if text.startswith("-"):
        raise InputError(f"--max-duration '{value}' is negative; {example} (at most PT4H).")
    if not text.startswith("P"):
        raise InputError(f"--max-duration '{value}' is not ISO 8601 (it must start with P); {example}.")
    if re.search(r"[.,]", text):
        raise InputError(
            f"--max-duration '{value}' has a fractional number; use whole hours and minutes, e.g. PT1H30M."
        )
    if re.search(r"\d+[YW]", text) or re.match(r"^P[^T]*\d+M", text):
        raise InputError(
            f"--max-duration '{value}' uses years, months or weeks; the window is at most 4 hours, {example}."
        )
    match = _DURATION_RE.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise InputError(f"--max-duration '{value}' is not a valid ISO 8601 duration; {example}.")
    duration = _duration_value(text)
    if not duration:
        raise InputError(f"--max-duration '{value}' is zero; give the window Azure may use, e.g. PT2H.")
    if duration > MAX_DURATION:
        raise InputError(f"--max-duration '{value}' is longer than Azure's 4-hour limit; use at most PT4H.")
    if duration < MIN_DURATION:
        raise InputError(
            f"--max-duration '{value}' is shorter than 30 minutes, too short to install updates; "
            "use PT30M to PT4H."
        )
    return _format_duration(duration)


def normalise_max_publish_date(value: str | None, now: datetime | None = None) -> str | None:
    """An ISO date or date-time → 'YYYY-MM-DDTHH:MM:SSZ' in UTC; a bare date means the end of that day."""
    if value is None:
        return None
    text = value.strip()
    example = "use a date like 2026-06-09 or a UTC date-time like 2026-06-09T17:00:00Z"
    match = _DATE_RE.match(text)
    if not match:
        raise InputError(f"--max-publish-date '{value}' is not an ISO 8601 date; {example}.")
    try:
        day = datetime.strptime(match["date"], "%Y-%m-%d")
    except ValueError:
        raise InputError(f"--max-publish-date '{value}' is not a real calendar date; {example}.") from None
    if match["hour"] is None:
        # Azure keeps patches published on or before the cut-off; a user who names a day means that day
        # included, and Patch Tuesday releases land in the afternoon UTC, so use the day's last second.
        moment = day.replace(hour=23, minute=59, second=59, tzinfo=timezone.utc)
    else:
        if match["tz"] is None:
            raise InputError(
                f"--max-publish-date '{value}' has a time but no time zone; "
                "add Z (UTC) or an offset like +02:00."
            )
        hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"] or 0)
        if hour > 23 or minute > 59 or second > 59:
            raise InputError(f"--max-publish-date '{value}' has an impossible time of day; {example}.")
        zone = match["tz"].upper()
        offset = timedelta(0)
        if zone != "Z":
            digits = zone[1:].replace(":", "")
            hours_off, minutes_off = int(digits[:2]), int(digits[2:])
            if hours_off > 14 or minutes_off > 59:
                raise InputError(f"--max-publish-date '{value}' has an impossible UTC offset; {example}.")
            offset = timedelta(hours=hours_off, minutes=minutes_off) * (-1 if zone[0] == "-" else 1)
        local = day.replace(hour=hour, minute=minute, second=second, tzinfo=timezone(offset))
        # Fractions of a second are dropped: Azure's own examples use whole seconds.
        moment = local.astimezone(timezone.utc)
    current = now or datetime.now(timezone.utc)
    if current.tzinfo is None:
        current = current.replace(tzinfo=timezone.utc)
    if moment > current + MAX_PUBLISH_DATE_AHEAD:
        raise InputError(
            f"--max-publish-date '{value}' is more than a year in the future; "
            "give the latest publish date to install, e.g. today's date."
        )
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_install_options(
    classifications: str | list[str] | None = None,
    kb_include: str | list[str] | None = None,
    kb_exclude: str | list[str] | None = None,
    exclude_reboot_required: bool = False,
    max_publish_date: str | None = None,
    reboot_setting: str | None = None,
    max_duration: str | None = DEFAULT_MAX_DURATION,
    *,
    now: datetime | None = None,
) -> InstallOptions:
    """Validate every `hpctl install` value (InputError on the first bad one) and normalise it for Azure.

    `max_duration=None` means the default window, PT2H. `now` is the clock for the far-future check.
    """
    reboot = normalise_reboot_setting(reboot_setting)
    classes = _dedupe(
        normalise_classification(item) for item in _split(classifications, _CLASSIFICATION_FLAG)
    )
    include = _dedupe(normalise_kb(item, "--kb-include") for item in _split(kb_include, "--kb-include"))
    exclude = _dedupe(normalise_kb(item, "--kb-exclude") for item in _split(kb_exclude, "--kb-exclude"))
    both = [kb for kb in include if kb in exclude]
    if both:
        listed = ", ".join(f"KB{kb}" for kb in both)
        raise InputError(
            f"--kb-include and --kb-exclude both name {listed}; keep each KB in one of the two lists."
        )
    if not classes and not include:
        raise InputError(
            "Nothing to install: Azure installs only what --classification or --kb-include selects; "
            "give e.g. --classification Critical,Security or --kb-include KB5031364."
        )
    return InstallOptions(
        reboot_setting=reboot,
        max_duration=normalise_max_duration(max_duration),
        classifications=classes,
        kb_include=include,
        kb_exclude=exclude,
        exclude_reboot_required=bool(exclude_reboot_required),
        max_publish_date=normalise_max_publish_date(max_publish_date, now),
    )

"""installPatches parameters: the request body parsed and checked the way CRP checks it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from hpctl.sandbox.armerrors import ArmError, invalid_parameter, missing_parameter
from hpctl.sandbox.world import CLASSIFICATIONS, InstallRequest

_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)


def parse_duration(text: str) -> float:
    """An ISO 8601 duration in minutes (PT4H, PT04H00M00S, PT90M, P0DT1H)."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not match or text.strip().upper() in ("P", "PT") or not any(match.groupdict().values()):
        raise ValueError(text)
    parts = {key: float(value) if value else 0.0 for key, value in match.groupdict().items()}
    return parts["d"] * 1440 + parts["h"] * 60 + parts["m"] + parts["s"] / 60


def parse_datetime(text: Any) -> dt.datetime:
    if not isinstance(text, str):
        raise ValueError(text)
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    # Python before 3.11 parses exactly three or six fractional digits; ARM sends one to seven.
    value = re.sub(r"\.(\d+)", lambda m: "." + m[1][:6].ljust(6, "0"), value, count=1)
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment


def parse_install_request(body: Any) -> InstallRequest:
    """Validate an installPatches body as CRP does (rebootSetting required, maximumDuration at most PT4H)."""
    if not isinstance(body, dict):
        raise ArmError(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'Expected an object.'.",
        )
    reboot = body.get("rebootSetting")
    if reboot is None:
        raise missing_parameter("rebootSetting")
    options = ("IfRequired", "Never", "Always")
    matched = next((o for o in options if isinstance(reboot, str) and reboot.lower() == o.lower()), None)
    if matched is None:
        raise invalid_parameter(
            f"The value '{reboot}' of parameter 'rebootSetting' is not valid. Allowed values "
            f"are: {', '.join(options)}.",
            target="rebootSetting",
        )
    minutes: float | None = None
    if body.get("maximumDuration") is not None:
        raw = body["maximumDuration"]
        try:
            minutes = parse_duration(raw)
        except ValueError:
            raise invalid_parameter(
                f"The value '{raw}' of parameter 'maximumDuration' is not a valid ISO 8601 "
                "duration, e.g. PT4H.",
                target="maximumDuration",
            ) from None
        if minutes <= 0 or minutes > 240:
            raise invalid_parameter(
                f"The value '{raw}' of parameter 'maximumDuration' is out of range. It must be "
                "greater than PT0S and at most PT4H (4 hours).",
                target="maximumDuration",
            )
    windows = body.get("windowsParameters")
    windows = {} if windows is None else windows
    if not isinstance(windows, dict):
        raise ArmError(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'windowsParameters must be "
            "an object'.",
        )
    classes: list[str] = []
    for item in _string_list(windows, "classificationsToInclude"):
        found = next((c for c in CLASSIFICATIONS if c.lower() == item.lower()), None)
        if found is None:
            raise invalid_parameter(
                f"The value '{item}' of parameter 'classificationsToInclude' is not valid. "
                f"Allowed values are: {', '.join(CLASSIFICATIONS)}.",
                target="windowsParameters.classificationsToInclude",
            )
        classes.append(found)
    kbs = {}
    for key in ("kbNumbersToInclude", "kbNumbersToExclude"):
        values = _string_list(windows, key)
        for value in values:
            if not re.fullmatch(r"(?i)(kb)?\d{4,8}", value.strip()):
                raise invalid_parameter(
                    f"The value '{value}' of parameter '{key}' is not a KB number.",
                    target=f"windowsParameters.{key}",
                )
        kbs[key] = tuple(v.strip().upper().removeprefix("KB") for v in values)
    exclude_reboot = windows.get("excludeKbsRequiringReboot", False)
    if not isinstance(exclude_reboot, bool):
        raise ArmError(
            400,
            "InvalidRequestContent",
            f"The request content was invalid and could not be deserialized: 'Error converting value "
            f"{exclude_reboot!r} to type 'System.Boolean'. Path 'windowsParameters.excludeKbsRequiringReboot'"
            f".'.",
        )
    max_publish = None
    if windows.get("maxPatchPublishDate") is not None:
        try:
            max_publish = parse_datetime(windows["maxPatchPublishDate"])
        except ValueError:
            raise invalid_parameter(
                f"The value '{windows['maxPatchPublishDate']}' of parameter "
                "'maxPatchPublishDate' is not a valid date-time.",
                target="windowsParameters.maxPatchPublishDate",
            ) from None
    masks = {}
    for key in ("patchNameMasksToInclude", "patchNameMasksToExclude"):
        values = _string_list(windows, key)
        for value in values:
            if not re.fullmatch(r"[A-Za-z0-9*?._\- ]+", value):
                raise invalid_parameter(
                    f"The value '{value}' of parameter '{key}' may only contain letters, digits "
                    "and the wildcards * and ?.",
                    target=f"windowsParameters.{key}",
                )
        masks[key] = tuple(values)
    return InstallRequest(
        matched,
        minutes,
        tuple(classes),
        kbs["kbNumbersToInclude"],
        kbs["kbNumbersToExclude"],
        exclude_reboot,
        max_publish,
        masks["patchNameMasksToInclude"],
        masks["patchNameMasksToExclude"],
    )


def _string_list(parent: dict[str, Any], key: str) -> list[str]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or any(not isinstance(v, str) for v in value):
        raise ArmError(
            400,
            "InvalidRequestContent",
            f"The request content was invalid and could not be deserialized: '{key} must be a list of "
            "strings'.",
        )
    return value

"""Hotpatch enrollment of Arc machines: who may enroll (checked before anything is sent), the license-profile
request bodies (azure-wire.md §9.8), and what enrolling means for billing on a given day (§1.4, §10.1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from hpctl.core.arc_facts import (
    ENABLED,
    MIN_BUILD,
    MIN_BUILD_TEXT,
    PENDING,
    ArcFacts,
)

ENROLL = "enroll"
DISENROLL = "disenroll"
ALREADY = "already"  # nothing to send: the machine is already as asked
NOT_NEEDED = "not-needed"  # Azure Edition: hotpatch is built in
REFUSE = "refuse"

# Billing of hotpatch enabled by Azure Arc (hotpatch-program.md §1.4, §10.1): free in preview, then a monthly
# fee per core, then free again since AUM-ARC's "Billing considerations" of 2026-05-19.
PAID_FROM = date(2025, 7, 1)
FREE_FROM = date(2026, 5, 19)
PRICE = "US$1.50 per CPU core per month"


@dataclass(frozen=True)
class Verdict:
    """What to do with one machine, and why (one line)."""

    action: str
    reason: str


def _os_text(f: ArcFacts) -> str:
    return f.os_sku or (f"Windows Server {f.os_line}" if f.os_line else "an unknown OS")


def enroll_verdict(f: ArcFacts) -> Verdict:
    """Whether `hpctl arc enable-hotpatch` may enroll this machine; every refusal says how to fix it."""
    if f.built_in:
        return Verdict(NOT_NEEDED, f"{f.name} runs {_os_text(f)}: hotpatch is built in, no Arc enrollment is "
                                   "needed (VBS must still run).")
    if not f.is_windows or f.os_line != "2025":
        return Verdict(REFUSE, f"{f.name} runs {_os_text(f)}; hotpatch through Arc needs Windows Server 2025 "
                               "Standard or Datacenter: upgrade it first, or leave it out of the targets.")
    if f.edition not in ("Standard", "Datacenter"):
        return Verdict(REFUSE, f"{f.name} reports edition {_os_text(f)!r}; hotpatch through Arc needs Windows "
                               "Server 2025 Standard or Datacenter: leave it out of the targets.")
    if f.build is None or f.build < MIN_BUILD:
        found = f"{f.build[0]}.{f.build[1]}" if f.build else "unknown"
        return Verdict(REFUSE, f"{f.name} is on build {found}, below {MIN_BUILD_TEXT} (preview and Insider builds "
                               "can't hotpatch); install the latest cumulative update first, then enroll.")
    if not f.connected:
        since = f" since {f.last_status_change}" if f.last_status_change else ""
        return Verdict(REFUSE, f"{f.name}'s Connected Machine agent is {f.agent_status or 'not reporting'}{since}; "
                               "reconnect it (azcmagent show on the machine), then enroll.")
    if f.enrollment == ENABLED:
        return Verdict(ALREADY, f"{f.name} is already enrolled (Hotpatch license Enabled).")
    if f.enrollment == PENDING:
        return Verdict(ALREADY, f"{f.name} has an enrollment under way ({f.license_status or f.hotpatch_enablement}); "
                                "wait about 10 minutes, then check with hpctl status.")
    note = " (the last attempt said VBS was not running: make sure it runs now)" if f.vbs_not_running else ""
    return Verdict(ENROLL, f"{f.name}: enroll ({f.enrollment}){note}.")


def disenroll_verdict(f: ArcFacts) -> Verdict:
    """Whether `hpctl arc disable-hotpatch` has anything to send for this machine."""
    if f.built_in:
        return Verdict(NOT_NEEDED, f"{f.name} runs {_os_text(f)}: hotpatch is built in and has no Arc enrollment "
                                   "to remove.")
    if f.license_status is None or f.license_status.lower() in ("disabled", "unknown"):
        return Verdict(ALREADY, f"{f.name} is not enrolled.")
    if f.license_status.lower() == "disabling":
        return Verdict(ALREADY, f"{f.name} is already being disenrolled.")
    if not f.connected:
        return Verdict(REFUSE, f"{f.name}'s Connected Machine agent is {f.agent_status or 'not reporting'}; "
                               "reconnect it (azcmagent show on the machine), then disenroll.")
    return Verdict(DISENROLL, f"{f.name}: disenroll ({f.license_status}).")


def enroll_body(location: str) -> dict[str, Any]:
    """PUT …/licenseProfiles/default: Windows Server product profile with the Hotpatch feature Enabled."""
    return {
        "location": location,
        "properties": {"productProfile": {
            "subscriptionStatus": "Enabled",
            "productType": "WindowsServer",
            "productFeatures": [{"name": "Hotpatch", "subscriptionStatus": "Enabled"}],
        }},
    }


def disenroll_body() -> dict[str, Any]:
    """PATCH …/licenseProfiles/default with the update value Disable (not "Disabled", §9.8)."""
    return {"properties": {"productProfile": {
        "subscriptionStatus": "Disable",
        "productType": "WindowsServer",
        "productFeatures": [{"name": "Hotpatch", "subscriptionStatus": "Disable"}],
    }}}


def billing_notice(today: date) -> str:
    """What enrolling means for billing on `today`, as hotpatch-program.md §1.4/§10.1 state it (one paragraph)."""
    if today >= FREE_FROM:
        return (f"Billing: since {FREE_FROM.isoformat()} hotpatch enabled by Azure Arc costs nothing for Windows "
                "Server 2025 Standard and Datacenter (Azure Update Manager, 'Billing considerations': no per-core "
                f"charge, new enrollments free); from {PAID_FROM.isoformat()} until then it was {PRICE}. "
                "Check the current terms before enrolling.")
    if today >= PAID_FROM:
        return (f"Billing: hotpatch enabled by Azure Arc is a monthly subscription, {PRICE}, billed from enrollment "
                "until you disenroll (Windows Server blog, 2025-04-24).")
    return (f"Billing: hotpatch enabled by Azure Arc is free during its preview; from {PAID_FROM.isoformat()} it "
            f"becomes a monthly subscription of {PRICE}.")

"""Hotpatch compliance rules over VMs and scale sets: records from ARM JSON, findings with stable ids and severities."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from hpctl.core.arc_facts import ACTION_REQUIRED, CANCELED, FAILED, NOT_ENROLLED, PENDING, ArcFacts, arc_facts
from hpctl.core.calendar import Calendar, Release, Staleness
from hpctl.core.images import check_image, is_eligible_image
from hpctl.core.patch_results import error_of, hotpatch_incompatible, patch_status_row
from hpctl.core.schedules import STATIC, VmSchedule
from hpctl.core.track import BEHIND, OFF_TRACK, Track, patch_evidence, track_of
from hpctl.core.vm_facts import VmFacts, iso, parse_time, power_state, resource_group_of, vm_facts
from hpctl.errors import InputError

HIGH = "high"
MEDIUM = "medium"
LOW = "low"
INFO = "info"
SEVERITIES = (HIGH, MEDIUM, LOW, INFO)
_RANK = {INFO: 0, LOW: 1, MEDIUM: 2, HIGH: 3}

VM = "vm"
VMSS = "vmss"
ARC = "arc"  # an Arc-connected machine (Microsoft.HybridCompute/machines; Azure Local VMs too)

AUTOMATIC_BY_PLATFORM = "AutomaticByPlatform"
# Application Health extension types (publisher Microsoft.ManagedServices); Linux is listed so a Linux
# Flexible scale set with the extension is not reported as missing it.
HEALTH_EXTENSION_TYPES = frozenset({"applicationhealthwindows", "applicationhealthlinux"})

# At most this many KBs are named in one finding; the JSON evidence lists them all.
_KBS_IN_MESSAGE = 5
_DAY_SECONDS = 86400.0


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rule:
    """One compliance rule: a stable id and name, its default severity, what it checks and the generic fix."""

    id: str
    name: str
    severity: str
    applies_to: tuple[str, ...]
    title: str
    fix: str
    severity_note: str | None = None


RULES: tuple[Rule, ...] = (
    Rule("HP001", "hotpatch-off", HIGH, (VM, VMSS),
         "Eligible image, but hotpatch is off",
         "Turn hotpatch on: hpctl vm enable-hotpatch -g GROUP -n NAME (scale set: set "
         "patchSettings.enableHotpatching true in its model)."),
    Rule("HP002", "patch-mode", HIGH, (VM, VMSS),
         "Patch mode is not AutomaticByPlatform",
         "Set patchSettings.patchMode to AutomaticByPlatform (hpctl vm enable-hotpatch on an eligible image).",
         "medium on images that can't hotpatch"),
    Rule("HP003", "assessment-mode", MEDIUM, (VM, VMSS),
         "Assessment mode is not AutomaticByPlatform",
         "Set patchSettings.assessmentMode to AutomaticByPlatform so Azure assesses the VM every 24 hours."),
    Rule("HP004", "bypass-safety-checks", HIGH, (VM, VMSS),
         "bypassPlatformSafetyChecksOnUserSchedule is on for a hotpatch VM",
         "Set automaticByPlatformSettings.bypassPlatformSafetyChecksOnUserSchedule to false and remove the "
         "VM from customer-managed maintenance schedules."),
    Rule("HP005", "vm-agent-off", HIGH, (VM, VMSS),
         "VM agent is not provisioned",
         "Install the Azure VM Agent in the guest, or recreate the VM with hpctl vm create (which provisions it)."),
    Rule("HP006", "assessment-stale", MEDIUM, (VM, ARC),
         "Last assessment is too old, failed, or never ran",
         "Run hpctl assess -g GROUP -n NAME, and set assessmentMode AutomaticByPlatform for daily assessments."),
    Rule("HP007", "security-patches-pending", HIGH, (VM, ARC),
         "Critical or security patches pending longer than the threshold",
         "Install them: hpctl install -g GROUP -n NAME --classification Critical,Security "
         "--reboot-setting IfRequired; check why automatic patching did not."),
    Rule("HP008", "reboot-pending", LOW, (VM, ARC),
         "A reboot is pending",
         "Restart the VM in a maintenance window (az vm restart -g GROUP -n NAME) so installed updates take effect.",
         "medium when a baseline is due within reboot_due_within_days"),
    Rule("HP009", "installation-failed", HIGH, (VM, ARC),
         "Last patch installation failed",
         "Read the error (hpctl status -g GROUP -n NAME), fix its cause, then hpctl install again."),
    Rule("HP010", "off-track", HIGH, (VM, ARC),
         "Off the hotpatch track",
         "Install the latest baseline (it reboots); until then every monthly update needs a reboot."),
    Rule("HP011", "behind", MEDIUM, (VM, ARC),
         "Behind on the hotpatch track",
         "Install the missing releases: hpctl install -g GROUP -n NAME --classification Critical,Security "
         "--reboot-setting IfRequired."),
    Rule("HP012", "uniform-scale-set", HIGH, (VMSS,),
         "Uniform scale set (or orchestrationMode missing) on a hotpatch image",
         "Recreate it as a Flexible scale set (hpctl vmss create); orchestration mode can't be changed."),
    Rule("HP013", "no-health-extension", MEDIUM, (VMSS,),
         "Flexible scale set with AutomaticByPlatform but no Application Health extension",
         "Add the Application Health extension (Microsoft.ManagedServices ApplicationHealthWindows) to the "
         "scale set model."),
    Rule("HP014", "ineligible-image", INFO, (VM, VMSS),
         "Image can't hotpatch",
         "Rebuild from an eligible image (hpctl images list) to use hotpatch; until then updates reboot."),
    Rule("HP015", "hotpatch-incompatible", HIGH, (VM,),
         "Azure reports the VM can't hotpatch (instance view hotPatchStatus: Incompatible)",
         "Fix what the error names (e.g. a Generation 1 VM size: move to a Generation 2 size; see "
         "aka.ms/HotPatchCompatibility); until then every monthly update reboots.",
         "low when hotpatch is off"),
    Rule("HP016", "hotpatch-on-schedule", HIGH, (VM,),
         "Hotpatch VM assigned to a customer-managed schedule",
         "Take it out of the schedule: hpctl vm enable-hotpatch -g GROUP -n NAME --leave-schedule (a dynamic "
         "scope: change the VM's tags or the scope's filter)."),
    Rule("HP017", "no-patching", HIGH, (VM,),
         "Nothing patches the VM: no automatic patching and no schedule",
         "Turn on automatic patching (patchMode AutomaticByPlatform, bypass false; on an eligible image hpctl vm "
         "enable-hotpatch), or assign it to a maintenance schedule."),
    Rule("HP018", "schedule-not-running", HIGH, (VM,),
         "In a customer-managed schedule that can't run on it (patch mode or bypass flag)",
         "Set patchMode AutomaticByPlatform and bypassPlatformSafetyChecksOnUserSchedule true (Update Manager's "
         "Customer Managed Schedules), or take the VM out of the schedule."),
    # Arc-connected machines (hotpatch-program.md §1.4, §10.1, §10.3).
    Rule("HP020", "arc-not-enrolled", MEDIUM, (ARC,),
         "Windows Server 2025 Arc machine that could hotpatch but isn't enrolled",
         "Enroll it: hpctl arc enable-hotpatch -g GROUP -n NAME (VBS must be running)."),
    Rule("HP021", "arc-enrollment-incomplete", HIGH, (ARC,),
         "Hotpatch enrollment pending, failed or waiting for action",
         "Read the machine's enablement error (hpctl status), fix it, then hpctl arc enable-hotpatch again; a "
         "pending one that stays over 10 minutes means the agent needs attention.",
         "medium while pending"),
    Rule("HP022", "arc-vbs-not-running", HIGH, (ARC,),
         "Virtualization-based security is not running, so hotpatch can't be enabled",
         "Turn VBS on (UEFI with Secure Boot; DeviceGuard EnableVirtualizationBasedSecurity = 1), restart, then "
         "hpctl arc enable-hotpatch again."),
    Rule("HP023", "arc-disconnected", HIGH, (ARC,),
         "Connected Machine agent is not connected",
         "Check the agent on the machine (azcmagent show; azcmagent check for connectivity) and reconnect it."),
)
RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
_RULES_BY_NAME: dict[str, Rule] = {r.name: r for r in RULES}


def _valid_rules_text() -> str:
    return ", ".join(f"{r.id} ({r.name})" for r in RULES)


def _resolve_rule(text: str) -> str | None:
    """The rule id for an id (any case) or a rule name, or None."""
    token = text.strip()
    if token.upper() in RULES_BY_ID:
        return token.upper()
    rule = _RULES_BY_NAME.get(token.lower())
    return rule.id if rule else None


def parse_rule_ids(text_list: Iterable[str], *, option: str = "--rule") -> frozenset[str]:
    """Rule ids from --rule / --skip-rule values: ids or names, repeated or comma-separated."""
    found: set[str] = set()
    for text in text_list:
        for token in re.split(r"[,\s]+", str(text)):
            if not token:
                continue
            rule_id = _resolve_rule(token)
            if rule_id is None:
                raise InputError(f"{option} {token!r} is not a rule; use one of {_valid_rules_text()}.")
            found.add(rule_id)
    return frozenset(found)


def parse_severity(text: str, *, allow_info: bool = False, option: str = "--fail-on") -> str:
    """A severity name from user input; info only when allowed (info findings never fail a run)."""
    value = str(text).strip().lower() if text is not None else ""
    allowed = SEVERITIES if allow_info else (HIGH, MEDIUM, LOW)
    if value in allowed:
        return value
    if value == INFO:
        raise InputError(f"{option} info is not allowed: info findings never fail a run; use high, medium or low.")
    raise InputError(f"{option} {text!r} is not a severity; use {', '.join(allowed[:-1])} or {allowed[-1]}.")


def severity_rank(severity: str) -> int:
    """0 for info up to 3 for high, so severities compare as numbers."""
    return _RANK[severity]


def worst_of(severities: Iterable[str]) -> str | None:
    """The most severe of the given severities, or None when there are none."""
    return max(severities, key=_RANK.__getitem__, default=None)


# --------------------------------------------------------------------------- config


_DAY_KEYS = ("assessment_max_age_days", "pending_max_age_days", "reboot_due_within_days", "behind_grace_days")
CONFIG_KEYS = (*_DAY_KEYS, "rules", "skip_rules", "severity_overrides")


@dataclass(frozen=True)
class ReportConfig:
    """Thresholds and rule selection for a report; the defaults are hpctl's documented ones."""

    assessment_max_age_days: int = 3
    pending_max_age_days: int = 7
    reboot_due_within_days: int = 7
    # A release out for fewer days than this is not yet counted as missing: Azure's automatic patching
    # installs within 30 days of Patch Tuesday, so a VM is routinely a few days "behind" after each release.
    behind_grace_days: int = 7
    rules: frozenset[str] | None = None
    skip_rules: frozenset[str] = frozenset()
    severity_overrides: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for key in _DAY_KEYS:
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(f"{key} must be a whole number of days, 0 or more (got {value!r}).")
        if self.rules is not None:
            object.__setattr__(self, "rules", parse_rule_ids(self.rules, option="rules"))
            if not self.rules:
                raise InputError("rules is empty: name at least one rule id, or leave rules out to run every rule.")
        object.__setattr__(self, "skip_rules", parse_rule_ids(self.skip_rules, option="skip_rules"))
        overrides: dict[str, str] = {}
        for key, value in dict(self.severity_overrides).items():
            rule_id = _resolve_rule(str(key))
            if rule_id is None:
                raise InputError(f"severity_overrides: {key!r} is not a rule; use one of {_valid_rules_text()}.")
            overrides[rule_id] = parse_severity(value, allow_info=True, option=f"severity_overrides.{key}")
        object.__setattr__(self, "severity_overrides", dict(sorted(overrides.items())))

    def selected(self, rule_id: str) -> bool:
        """True when the rule is evaluated (in `rules` when given, and not skipped)."""
        return (self.rules is None or rule_id in self.rules) and rule_id not in self.skip_rules

    def active_rules(self) -> tuple[Rule, ...]:
        """The rules this config evaluates, in id order."""
        return tuple(r for r in RULES if self.selected(r.id))


def load_report_config(path: str | Path) -> ReportConfig:
    """A ReportConfig from a YAML or JSON file; every problem is an InputError naming the file, key and fix."""
    file = Path(path).expanduser()
    where = f"report config file {file}"
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{where} does not exist; check the path, or leave it out to use the defaults.") from None
    except UnicodeDecodeError:
        raise InputError(f"{where} is not UTF-8 text; save it as UTF-8 YAML or JSON.") from None
    except OSError as exc:
        raise InputError(f"{where} cannot be read ({exc.strerror or exc}); check the path and permissions.") from None
    doc = _decode_config(text, file, where)
    if doc is None:
        return ReportConfig()
    if not isinstance(doc, dict):
        raise InputError(
            f"{where} must be a mapping of settings such as 'assessment_max_age_days: 3' (got {_kind(doc)})."
        )
    values: dict[str, Any] = {}
    for raw_key, value in doc.items():
        key = str(raw_key).strip().replace("-", "_")
        if key not in CONFIG_KEYS:
            close = difflib.get_close_matches(key, CONFIG_KEYS, 1, 0.75)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise InputError(f"{where}: unknown key '{raw_key}'; {hint}valid keys: {', '.join(CONFIG_KEYS)}.")
        if key in values:
            raise InputError(f"{where}: key '{raw_key}' is given twice; keep one.")
        values[key] = _config_value(key, raw_key, value, where)
    return ReportConfig(**values)


def _decode_config(text: str, file: Path, where: str) -> Any:
    if file.suffix.lower() == ".json":
        try:
            return json.loads(text) if text.strip() else None
        except json.JSONDecodeError as exc:
            raise InputError(f"{where} is not valid JSON ({exc.msg} at line {exc.lineno}); fix the syntax.") from None
    import yaml  # only config files need it

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "syntax error"
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{where} is not valid YAML ({problem}{at}); fix the syntax.") from None


def _config_value(key: str, raw_key: Any, value: Any, where: str) -> Any:
    if key in _DAY_KEYS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(
                f"{where}: {raw_key} must be a whole number of days, 0 or more (got {value!r}); e.g. {raw_key}: 3."
            )
        return value
    if key in ("rules", "skip_rules"):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise InputError(f"{where}: {raw_key} must be a list of rule ids, e.g. {raw_key}: [HP014].")
        ids = parse_rule_ids(items, option=f"{where}: {raw_key}:")
        if key == "rules" and not ids:
            raise InputError(f"{where}: {raw_key} is empty; list rule ids, or remove the key to run every rule.")
        return ids
    # severity_overrides
    if not isinstance(value, dict):
        raise InputError(f"{where}: {raw_key} must map rule ids to severities, e.g. {raw_key}: {{HP014: low}}.")
    overrides: dict[str, str] = {}
    for rule_key, severity in value.items():
        rule_id = _resolve_rule(str(rule_key))
        if rule_id is None:
            raise InputError(f"{where}: {raw_key}: {rule_key!r} is not a rule; use one of {_valid_rules_text()}.")
        if not isinstance(severity, str) or severity.strip().lower() not in SEVERITIES:
            raise InputError(
                f"{where}: {raw_key}.{rule_key}: {severity!r} is not a severity; use high, medium, low or info."
            )
        overrides[rule_id] = severity.strip().lower()
    return overrides


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


# --------------------------------------------------------------------------- records


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def subscription_of(resource_id: str) -> str:
    """The subscription id in an ARM resource id ('' when there is none)."""
    parts = resource_id.split("/")
    lowered = [p.lower() for p in parts]
    return parts[lowered.index("subscriptions") + 1] if "subscriptions" in lowered[:-1] else ""


def _unwrap(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    # Resource Graph rows and Compute sub-resources put the payload under "properties".
    props = doc.get("properties")
    return props if isinstance(props, dict) else doc


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _first_time(doc: Mapping[str, Any], *keys: str) -> str | None:
    return next((iso(doc[k]) for k in keys if doc.get(k) and iso(doc[k])), None)


def assessment_summary(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The last assessment in patch_status_row's shape, from that shape, an assessPatches result, an
    instance view availablePatchSummary or a Resource Graph patchassessmentresources row."""
    if not doc:
        return None
    doc = _unwrap(doc)
    if "time" in doc:
        time = iso(doc.get("time"))
    else:
        time = _first_time(doc, "lastModifiedDateTime", "lastModifiedTime", "startDateTime", "startTime")
    by_class = doc.get("availablePatchCountByClassification")
    critical = _int(doc.get("criticalAndSecurityPatchCount"))
    other = _int(doc.get("otherPatchCount"))
    if isinstance(by_class, dict):
        if critical is None:
            critical = (_int(by_class.get("critical")) or 0) + (_int(by_class.get("security")) or 0)
        if other is None:
            other = sum(_int(v) or 0 for k, v in by_class.items() if k not in ("critical", "security"))
    return {
        "time": time,
        "status": doc.get("status"),
        "criticalAndSecurityPatchCount": critical,
        "otherPatchCount": other,
        "rebootPending": doc.get("rebootPending"),
        "error": error_of(doc.get("error") or doc.get("errorDetails")),
    }


def installation_summary(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The last installation in patch_status_row's shape (plus rebootStatus), from that shape, an
    installPatches result, an instance view lastPatchInstallationSummary or a patchinstallationresources row."""
    if not doc:
        return None
    doc = _unwrap(doc)
    if "time" in doc:
        time = iso(doc.get("time"))
    else:
        time = _first_time(doc, "lastModifiedDateTime", "lastModifiedTime", "startDateTime", "startTime")
    return {
        "time": time,
        "status": doc.get("status"),
        "installedPatchCount": _int(doc.get("installedPatchCount")),
        "failedPatchCount": _int(doc.get("failedPatchCount")),
        "pendingPatchCount": _int(doc.get("pendingPatchCount")),
        "maintenanceWindowExceeded": doc.get("maintenanceWindowExceeded"),
        "rebootStatus": doc.get("rebootStatus"),
        "error": error_of(doc.get("error") or doc.get("errorDetails")),
    }


def _kb(value: Any) -> str | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    return text if text.upper().startswith("KB") else f"KB{text}"


def pending_patches(patches: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    """Available patches as {kbId, name, classifications, rebootBehavior, publishedDate}, one per patchId, from
    assessPatches availablePatches, hpctl's assessment rows or Resource Graph softwarepatches rows."""
    seen: dict[str, dict[str, Any]] = {}
    for position, raw in enumerate(patches):
        if not isinstance(raw, dict):
            continue
        p = _unwrap(raw)
        kb = _kb(p.get("kbId"))
        row = {
            "kbId": kb,
            "name": p.get("name") or p.get("patchName"),
            "classifications": sorted(str(c) for c in p.get("classifications") or []),
            "rebootBehavior": p.get("rebootBehavior"),
            "publishedDate": iso(p.get("publishedDate") or p.get("publishedDateTime")),
        }
        # One KB can be listed twice with two patchIds (two patches; the counts count both): key by patchId
        # (a Resource Graph softwarepatches row is named by it).
        ident = p.get("patchId") or raw.get("name") or raw.get("id") or f"#{position}"
        if ident in seen:
            merged = seen[ident]
            merged["classifications"] = sorted(set(merged["classifications"]) | set(row["classifications"]))
            continue
        seen[ident] = row
    return tuple(seen.values())


class _MachineIdentity:
    """id, name and resource group of a record, from its facts (VM or Arc machine)."""

    facts: VmFacts | ArcFacts

    @property
    def id(self) -> str:
        return self.facts.id

    @property
    def name(self) -> str:
        return self.facts.name

    @property
    def resource_group(self) -> str:
        return self.facts.resource_group


@dataclass(frozen=True)
class VmRecord(_MachineIdentity):
    """What the report needs about one VM: its model facts plus the latest assessment and installation."""

    facts: VmFacts
    subscription: str
    os_version: str | None
    last_assessment: dict[str, Any] | None
    last_installation: dict[str, Any] | None
    pending_patches: tuple[dict[str, Any], ...] = ()
    installed_kbs: tuple[str, ...] = ()  # from recent installations, read only when the revision is not reported
    power_state: str | None = None
    hot_patch_status: dict[str, Any] | None = None
    # The Update Manager schedules it is in; None when they were not read (the schedule rules are skipped).
    schedules: tuple[VmSchedule, ...] | None = None


@dataclass(frozen=True)
class VmModel:
    """The part of a VmRecord that comes from the VM's own JSON (model + instance view), made as soon as a page of
    VMs arrives so that the JSON itself need not be kept; the patch results complete it (complete_record)."""

    facts: VmFacts
    subscription: str
    os_version: str | None
    last_assessment: dict[str, Any] | None  # from the instance view's patchStatus, when it has one
    last_installation: dict[str, Any] | None
    power_state: str | None = None
    hot_patch_status: dict[str, Any] | None = None
    schedules: tuple[VmSchedule, ...] | None = None  # None when they were not read


def vm_model(vm: dict[str, Any], *, instance_view: dict[str, Any] | None = None,
             schedules: Iterable[VmSchedule] | None = None) -> VmModel:
    """The VM's facts from its ARM JSON (Compute or Resource Graph).

    The instance view may be passed or sit in properties.instanceView (Compute $expand) or
    properties.extended.instanceView (Resource Graph).
    """
    props = vm.get("properties") or {}
    view = instance_view or props.get("instanceView") or _get(props, "extended", "instanceView") or {}
    status = patch_status_row(view)
    facts = vm_facts(vm)
    return VmModel(
        facts=facts,
        subscription=str(vm.get("subscriptionId") or subscription_of(facts.id)),
        os_version=view.get("osVersion") or None,
        last_assessment=status["lastAssessment"],
        last_installation=status["lastInstallation"],
        power_state=power_state(view),
        hot_patch_status=status["hotPatchStatus"],
        schedules=tuple(schedules) if schedules is not None else None,
    )


def complete_record(
    model: VmModel,
    *,
    assessment: dict[str, Any] | None = None,
    installation: dict[str, Any] | None = None,
    patches: Iterable[dict[str, Any]] = (),
    installed_kbs: Iterable[str] = (),
) -> VmRecord:
    """A VmRecord from a VM's model and, when given, its patch results: assessment/installation win over the
    instance view's patchStatus. Patches default to those embedded in an assessPatches result."""
    embedded = (assessment or {}).get("availablePatches") or (assessment or {}).get("patches") or ()
    return VmRecord(
        facts=model.facts,
        subscription=model.subscription,
        os_version=model.os_version,
        last_assessment=assessment_summary(assessment if assessment else model.last_assessment),
        last_installation=installation_summary(installation if installation else model.last_installation),
        pending_patches=pending_patches(list(patches) or list(embedded)),
        installed_kbs=tuple(installed_kbs),
        power_state=model.power_state,
        hot_patch_status=model.hot_patch_status,
        schedules=model.schedules,
    )


def vm_record(
    vm: dict[str, Any],
    *,
    instance_view: dict[str, Any] | None = None,
    assessment: dict[str, Any] | None = None,
    installation: dict[str, Any] | None = None,
    patches: Iterable[dict[str, Any]] = (),
    installed_kbs: Iterable[str] = (),
    schedules: Iterable[VmSchedule] | None = None,
) -> VmRecord:
    """A VmRecord from a VM's ARM JSON (Compute or Resource Graph) and, when given, its patch results
    (vm_model, then complete_record)."""
    return complete_record(vm_model(vm, instance_view=instance_view, schedules=schedules), assessment=assessment,
                           installation=installation, patches=patches, installed_kbs=installed_kbs)


@dataclass(frozen=True)
class ArcRecord(_MachineIdentity):
    """What the report needs about one Arc machine: the agent's report and enrollment, plus its latest
    assessment and installation (from Resource Graph, as for VMs)."""

    facts: ArcFacts
    subscription: str
    last_assessment: dict[str, Any] | None
    last_installation: dict[str, Any] | None
    pending_patches: tuple[dict[str, Any], ...] = ()

    @property
    def os_version(self) -> str | None:
        return self.facts.os_version


def arc_record(
    machine: dict[str, Any],
    *,
    assessment: dict[str, Any] | None = None,
    installation: dict[str, Any] | None = None,
    patches: Iterable[dict[str, Any]] = (),
) -> ArcRecord:
    """An ArcRecord from an Arc machine's ARM JSON (HybridCompute or Resource Graph) and its patch results
    (Arc results have counts by classification and errorDetails; the summaries read both shapes)."""
    facts = arc_facts(machine)
    return ArcRecord(
        facts=facts,
        subscription=str(machine.get("subscriptionId") or subscription_of(facts.id)),
        last_assessment=assessment_summary(assessment),
        last_installation=installation_summary(installation),
        pending_patches=pending_patches(list(patches)),
    )


@dataclass(frozen=True)
class ScaleSetRecord:
    """What the report needs about one scale set, from its model (virtualMachineProfile)."""

    id: str
    name: str
    resource_group: str
    subscription: str
    location: str
    orchestration_mode: str | None  # None when missing, which Azure treats as Uniform
    publisher: str | None
    offer: str | None
    sku: str | None
    image_id: str | None
    eligible: bool
    patch_mode: str | None  # None when the model has no Windows configuration
    hotpatch: bool
    bypass_safety_checks: bool
    provision_vm_agent: bool | None
    extensions: tuple[str, ...]  # extension types, e.g. "ApplicationHealthWindows"
    assessment_mode: str | None = None

    @property
    def image(self) -> str | None:
        """publisher:offer:sku for a marketplace image, else the image id, else None (no model image)."""
        if self.publisher and self.offer and self.sku:
            return f"{self.publisher}:{self.offer}:{self.sku}"
        return self.image_id

    @property
    def uniform(self) -> bool:
        """True for Uniform orchestration, including a missing orchestrationMode."""
        return (self.orchestration_mode or "Uniform").lower() == "uniform"

    @property
    def has_health_extension(self) -> bool:
        """True when the model has the Application Health extension."""
        return any(t.lower() in HEALTH_EXTENSION_TYPES for t in self.extensions)


def scale_set_record(vmss: dict[str, Any]) -> ScaleSetRecord:
    """A ScaleSetRecord from a scale set's ARM JSON (Compute or Resource Graph)."""
    props = vmss.get("properties") or {}
    profile = props.get("virtualMachineProfile") or {}
    image_ref = _get(profile, "storageProfile", "imageReference") or {}
    publisher, offer, sku = image_ref.get("publisher"), image_ref.get("offer"), image_ref.get("sku")
    image_id = (image_ref.get("id") or image_ref.get("sharedGalleryImageId")
                or image_ref.get("communityGalleryImageId") or None)
    win = _get(profile, "osProfile", "windowsConfiguration")
    os_type = _get(profile, "storageProfile", "osDisk", "osType")
    is_windows = isinstance(win, dict) or str(os_type or "").lower() == "windows"
    win = win if isinstance(win, dict) else {}
    patch = win.get("patchSettings") or {}
    auto = patch.get("automaticByPlatformSettings") or {}
    patch_mode = patch.get("patchMode")
    if patch_mode is None and is_windows:
        # Azure's default, as for single VMs.
        patch_mode = "AutomaticByOS" if win.get("enableAutomaticUpdates", True) else "Manual"
    extensions = tuple(
        str(_get(ext, "properties", "type"))
        for ext in _get(profile, "extensionProfile", "extensions") or []
        if _get(ext, "properties", "type")
    )
    vmss_id = vmss.get("id", "")
    return ScaleSetRecord(
        id=vmss_id,
        name=vmss.get("name", ""),
        resource_group=vmss.get("resourceGroup") or resource_group_of(vmss_id),
        subscription=str(vmss.get("subscriptionId") or subscription_of(vmss_id)),
        location=vmss.get("location", ""),
        orchestration_mode=props.get("orchestrationMode") or None,
        publisher=publisher,
        offer=offer,
        sku=sku,
        image_id=image_id,
        eligible=bool(publisher and offer and sku and is_eligible_image(publisher, offer, sku)),
        patch_mode=patch_mode if is_windows else None,
        hotpatch=bool(patch.get("enableHotpatching")),
        bypass_safety_checks=bool(auto.get("bypassPlatformSafetyChecksOnUserSchedule")),
        provision_vm_agent=win.get("provisionVMAgent", True) if is_windows else None,
        extensions=extensions,
        assessment_mode=(patch.get("assessmentMode") or "ImageDefault") if is_windows else None,
    )


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Finding:
    """One rule that one resource breaks: what is wrong (one line) and how to fix it (one line)."""

    rule_id: str
    severity: str
    resource_id: str
    resource_name: str
    resource_group: str
    subscription: str
    kind: str  # "vm" or "vmss"
    message: str
    fix: str
    evidence: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def rule(self) -> Rule:
        return RULES_BY_ID[self.rule_id]


@dataclass(frozen=True)
class ResourceResult:
    """One VM or scale set with its findings; VMs with hotpatch on also carry their track and next reboot."""

    kind: str
    record: VmRecord | ScaleSetRecord | ArcRecord
    compliant: bool
    findings: tuple[Finding, ...]
    worst_severity: str | None
    track: Track | None = None
    next_reboot: Release | None = None

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def resource_group(self) -> str:
        return self.record.resource_group

    @property
    def subscription(self) -> str:
        return self.record.subscription


@dataclass(frozen=True)
class Summary:
    """The top of a report: what was checked, how much is compliant, findings by severity, next reboot."""

    vms_checked: int
    scale_sets_checked: int
    compliant: int
    vms_compliant: int
    scale_sets_compliant: int
    findings_by_severity: Mapping[str, int]  # every severity, high first
    worst_severity: str | None
    next_reboot: date | None  # earliest next baseline among the OS lines of the hotpatch VMs and scale sets
    next_reboot_releases: tuple[Release, ...] = ()  # the baselines on that date, one per OS line
    # Set when release days have passed that the calendar does not list: tracks and dates after it are open.
    calendar_stale: Staleness | None = None
    arc_machines_checked: int = 0
    arc_machines_compliant: int = 0

    @property
    def resources_checked(self) -> int:
        return self.vms_checked + self.scale_sets_checked + self.arc_machines_checked

    @property
    def non_compliant(self) -> int:
        return self.resources_checked - self.compliant

    @property
    def findings_total(self) -> int:
        return sum(self.findings_by_severity.values())


@dataclass(frozen=True)
class Report:
    """The outcome of evaluate(): findings, per-resource results and the summary, in a stable order."""

    today: date
    generated_at: datetime
    config: ReportConfig
    rules: tuple[Rule, ...]  # the rules evaluated
    results: tuple[ResourceResult, ...]
    findings: tuple[Finding, ...]
    summary: Summary
    calendar_origin: str = "built-in"
    calendar_as_of: date | None = None

    def exceeds(self, threshold: str | None) -> bool:
        """True when a finding is at or above `threshold` (for --fail-on, exit 5); info findings never count."""
        if threshold is None:
            return False
        return self.at_or_above(threshold)[0] > 0

    def at_or_above(self, threshold: str) -> tuple[int, int]:
        """(findings, resources with at least one of them) at or above `threshold`; info never counts."""
        level = _RANK[parse_severity(threshold, allow_info=True)]
        hits = [f for f in self.findings if f.severity != INFO and _RANK[f.severity] >= level]
        return len(hits), len({f.resource_id.lower() for f in hits})


# --------------------------------------------------------------------------- evaluation


def _os_line_of_sku(sku: str | None) -> str | None:
    # Eligible SKUs start with their OS line ("2022-…", "2025-…").
    head = (sku or "").split("-", 1)[0]
    return head if head in ("2022", "2025") else None


def _days_since(now: datetime, then: datetime) -> float:
    return (now - then).total_seconds() / _DAY_SECONDS


def _plural(count: int, word: str) -> str:
    if count == 1:
        return f"{count} {word}"
    return f"{count} {word}es" if word.endswith(("ch", "sh", "s", "x")) else f"{count} {word}s"


def _sort_key(kind: str, subscription: str, group: str, name: str, resource_id: str) -> tuple[str, ...]:
    return (subscription.lower(), group.lower(), name.lower(), kind, resource_id.lower())


class _Evaluator:
    """Applies the selected rules to one resource at a time, with the day's calendar and config."""

    def __init__(self, today: date, now: datetime, calendar: Calendar, config: ReportConfig):
        self.today = today
        # A naive `now` is UTC, as Azure's timestamps are; an aware one is converted so reports say ...Z.
        self.now = (now if now.tzinfo else now.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
        self.calendar = calendar
        self.config = config
        self._baselines: dict[str, Release | None] = {}

    def next_baseline(self, os_line: str | None) -> Release | None:
        """The first baseline on or after today for an OS line (None past the end of its program)."""
        if os_line is None:
            return None
        if os_line not in self._baselines:
            try:
                self._baselines[os_line] = self.calendar.next_reboot(os_line, self.today)
            except InputError:
                self._baselines[os_line] = None
        return self._baselines[os_line]

    def _finding(
        self, out: list[Finding], rule_id: str, severity: str, target: tuple[str, str, str, str, str],
        message: str, fix: str, evidence: Mapping[str, Any] | None = None,
    ) -> None:
        if not self.config.selected(rule_id):
            return
        kind, resource_id, name, group, subscription = target
        out.append(Finding(
            rule_id=rule_id,
            severity=self.config.severity_overrides.get(rule_id, severity),
            resource_id=resource_id,
            resource_name=name,
            resource_group=group,
            subscription=subscription,
            kind=kind,
            # Azure error texts can span lines; a finding is one line in every format.
            message=" ".join(message.split()),
            fix=" ".join(fix.split()),
            evidence=dict(evidence or {}),
        ))

    def _result(
        self, kind: str, record: VmRecord | ScaleSetRecord | ArcRecord, found: list[Finding],
        track: Track | None = None, next_reboot: Release | None = None,
    ) -> ResourceResult:
        findings = tuple(sorted(found, key=lambda f: f.rule_id))
        return ResourceResult(
            kind=kind,
            record=record,
            compliant=all(f.severity == INFO for f in findings),
            findings=findings,
            worst_severity=worst_of(f.severity for f in findings),
            track=track,
            next_reboot=next_reboot,
        )

    # ----------------------------------------------------------------- VMs

    def vm(self, rec: VmRecord) -> ResourceResult:
        f = rec.facts
        target = (VM, f.id, f.name, f.resource_group, rec.subscription)
        out: list[Finding] = []
        track: Track | None = None
        os_line = _os_line_of_sku(f.sku) if f.eligible else None
        next_reboot: Release | None = None
        if f.hotpatch:
            evidence = patch_evidence(rec.installed_kbs, [p.get("kbId") for p in rec.pending_patches],
                                      (rec.last_assessment or {}).get("time"))
            track = track_of(rec.os_version, self.today, self.calendar, evidence=evidence, os_hint=f.os_line,
                             power_state=rec.power_state)
            os_line = track.os or os_line
            next_reboot = self.next_baseline(os_line)
        if f.is_windows:
            self._settings(out, target, eligible=f.eligible, hotpatch=f.hotpatch, patch_mode=f.patch_mode,
                           assessment_mode=f.assessment_mode, bypass=f.bypass_safety_checks,
                           agent=f.provision_vm_agent)
            self._assessment(out, target, rec)
            self._pending(out, target, rec)
            self._reboot(out, target, rec, os_line)
            self._installation(out, target, rec)
            self._compatibility(out, target, rec)
            if track is not None:
                self._track(out, target, track)
            if rec.schedules is not None:
                self._schedules(out, target, rec)
        if not f.eligible:
            self._ineligible(out, target, f.image if f.image != "unknown" else None)
        return self._result(VM, rec, out, track, next_reboot)

    # ----------------------------------------------------------------- Arc machines

    def arc(self, rec: ArcRecord) -> ResourceResult:
        f = rec.facts
        target = (ARC, f.id, f.name, f.resource_group, rec.subscription)
        out: list[Finding] = []
        track: Track | None = None
        next_reboot: Release | None = None
        if f.hotpatch:
            track = track_of(f.os_version, self.today, self.calendar, os_hint=f.os_line)
            next_reboot = self.next_baseline(track.os or f.os_line)
        if f.is_windows:
            self._enrollment(out, target, f)
            if not f.connected:
                since = f" (last status change {iso(f.last_status_change)})" if iso(f.last_status_change) else ""
                self._finding(out, "HP023", HIGH, target,
                              f"The Connected Machine agent is {f.agent_status or 'not reporting'}{since}: Azure can't "
                              "assess, patch or enroll the machine.",
                              f"On {f.name}, run azcmagent show and azcmagent check, fix its connectivity, and "
                              "reconnect the agent.", {"status": f.agent_status,
                                                      "lastStatusChange": iso(f.last_status_change)})
            self._assessment(out, target, rec)
            self._pending(out, target, rec)
            self._reboot(out, target, rec, track.os if track else f.os_line)
            self._installation(out, target, rec)
            if track is not None:
                self._track(out, target, track)
        return self._result(ARC, rec, out, track, next_reboot)

    def _enrollment(self, out: list[Finding], target: tuple[str, str, str, str, str], f: ArcFacts) -> None:
        _, _, name, group, _ = target
        enable = f"hpctl arc enable-hotpatch -g {group} -n {name}"
        error = f.enablement_error or {}
        detail = " ".join(str(error.get("message") or error.get("code") or "").split())
        evidence = {"enrollment": f.enrollment, "licenseStatus": f.license_status,
                    "hotpatchEnablementStatus": f.hotpatch_enablement, "error": f.enablement_error}
        if f.vbs_not_running:
            self._finding(out, "HP022", HIGH, target,
                          "Virtualization-based security is not running, so hotpatch can't be enabled"
                          + (f" ({detail})." if detail else "."),
                          f"Turn VBS on (UEFI with Secure Boot; HKLM\\System\\CurrentControlSet\\Control\\DeviceGuard "
                          f"EnableVirtualizationBasedSecurity = 1), restart, then {enable}.", evidence)
            return
        if f.enrollment in (NOT_ENROLLED, CANCELED) and f.capable:
            build = f"{f.build[0]}.{f.build[1]}" if f.build else "?"
            was = "its enrollment was canceled" if f.enrollment == CANCELED else "it isn't enrolled"
            self._finding(out, "HP020", MEDIUM, target,
                          f"{f.os_sku or 'Windows Server 2025'} (build {build}) can hotpatch through Azure Arc, but "
                          f"{was}: every monthly update restarts it.",
                          f"Enroll it: {enable} (VBS must be running).", evidence)
        elif f.enrollment == PENDING:
            self._finding(out, "HP021", MEDIUM, target,
                          f"The hotpatch enrollment is pending ({f.license_status or f.hotpatch_enablement}); it "
                          "normally completes in about 10 minutes.",
                          "If it stays pending, check the Connected Machine agent (azcmagent show), then "
                          f"{enable} again.", evidence)
        elif f.enrollment in (FAILED, ACTION_REQUIRED):
            what = "failed" if f.enrollment == FAILED else "needs action (ActionRequired)"
            self._finding(out, "HP021", HIGH, target,
                          f"The hotpatch enrollment {what}" + (f": {detail}." if detail else "."),
                          f"Fix what the error names, then {enable} again.", evidence)

    def _settings(
        self, out: list[Finding], target: tuple[str, str, str, str, str], *, eligible: bool, hotpatch: bool,
        patch_mode: str | None, assessment_mode: str | None, bypass: bool, agent: bool | None,
    ) -> None:
        kind, _, name, group, _ = target
        vm = kind == VM
        where = "osProfile.windowsConfiguration.patchSettings" if vm else \
            "virtualMachineProfile.osProfile.windowsConfiguration.patchSettings"
        az = f"az vm update -g {group} -n {name}" if vm else f"az vmss update -g {group} -n {name}"
        if eligible and not hotpatch:
            fix = (f"Run hpctl vm enable-hotpatch -g {group} -n {name} (patchMode AutomaticByPlatform, "
                   "enableHotpatching true)." if vm else
                   f"{az} --set {where}.patchMode=AutomaticByPlatform {where}.enableHotpatching=true")
            self._finding(out, "HP001", HIGH, target,
                          "The image can hotpatch but enableHotpatching is off, so every monthly update reboots.",
                          fix)
        if patch_mode != AUTOMATIC_BY_PLATFORM:
            fix = f"{az} --set {where}.patchMode=AutomaticByPlatform"
            if eligible and vm:
                fix = f"Run hpctl vm enable-hotpatch -g {group} -n {name}, or {fix}"
            elif not eligible:
                fix += " (supported images only; custom images can't use it)"
            self._finding(out, "HP002", HIGH if eligible else MEDIUM, target,
                          f"patchMode is {patch_mode or 'not set'}, not AutomaticByPlatform: Azure doesn't "
                          "orchestrate its patching (no availability-first rollout, no hotpatch).",
                          fix, {"patchMode": patch_mode})
        if assessment_mode != AUTOMATIC_BY_PLATFORM:
            self._finding(out, "HP003", MEDIUM, target,
                          f"assessmentMode is {assessment_mode or 'not set'}, not AutomaticByPlatform: Azure "
                          "doesn't assess it every 24 hours, so its compliance data goes stale.",
                          f"{az} --set {where}.assessmentMode=AutomaticByPlatform", {"assessmentMode": assessment_mode})
        if hotpatch and bypass:
            self._finding(out, "HP004", HIGH, target,
                          "bypassPlatformSafetyChecksOnUserSchedule is true on a hotpatch "
                          f"{'VM' if vm else 'scale set'}: Azure rejects hotpatch with customer-managed schedules.",
                          f"{az} --set {where}.automaticByPlatformSettings."
                          "bypassPlatformSafetyChecksOnUserSchedule=false, and remove it from customer-managed "
                          "maintenance schedules.")
        if agent is False:
            self._finding(out, "HP005", HIGH, target,
                          "provisionVMAgent is false: automatic guest patching and hotpatch need the Azure VM Agent.",
                          "Install the Azure VM Agent in the guest, or recreate with hpctl vm create, "
                          "which provisions it." if vm else
                          "Recreate the scale set with provisionVMAgent true (hpctl vmss create provisions it).")

    def _assessment(self, out: list[Finding], target: tuple[str, str, str, str, str], rec: VmRecord | ArcRecord
                    ) -> None:
        _, _, name, group, _ = target
        limit = self.config.assessment_max_age_days
        fix = (f"Run hpctl assess -g {group} -n {name}; with assessmentMode AutomaticByPlatform Azure assesses "
               "it every 24 hours (the VM must be running).")
        a = rec.last_assessment or {}
        when = parse_time(a.get("time"))
        if when is None:
            self._finding(out, "HP006", MEDIUM, target,
                          "Never assessed: Azure has no patch assessment for this VM.", fix,
                          {"lastAssessment": None, "limitDays": limit})
            return
        age = _days_since(self.now, when)
        evidence = {"lastAssessment": iso(when), "ageDays": round(age, 1), "limitDays": limit,
                    "status": a.get("status")}
        if str(a.get("status") or "").lower() == "failed":
            error = (a.get("error") or {}).get("message") or (a.get("error") or {}).get("code")
            detail = f": {' '.join(str(error).split())}" if error else ""
            self._finding(out, "HP006", MEDIUM, target,
                          f"The last assessment ({iso(when)}) failed{detail}.", fix, evidence)
        elif age > limit:
            self._finding(out, "HP006", MEDIUM, target,
                          f"The last assessment was {iso(when)}, {age:.1f} days ago (limit {limit} days).",
                          fix, evidence)

    def _pending(self, out: list[Finding], target: tuple[str, str, str, str, str], rec: VmRecord | ArcRecord
                 ) -> None:
        _, _, name, group, _ = target
        limit = self.config.pending_max_age_days
        a = rec.last_assessment or {}
        assessed = parse_time(a.get("time"))
        fix = (f"Install them: hpctl install -g {group} -n {name} --classification Critical,Security "
               "--reboot-setting IfRequired; then check why automatic patching did not (VM running, patchMode).")
        overdue: list[dict[str, Any]] = []
        urgent = [p for p in rec.pending_patches
                  if any(str(c).lower().startswith(("critical", "security")) for c in p.get("classifications") or [])]
        for p in urgent:
            published = parse_time(p.get("publishedDate"))
            since = published or assessed
            if since is None:
                continue
            age = _days_since(self.now, since)
            if age > limit:
                overdue.append({"kbId": p.get("kbId"), "name": p.get("name"), "publishedDate": iso(published),
                                "ageDays": round(age, 1), "measuredFrom": "published" if published else "assessment"})
        if not urgent:
            # No patch list (e.g. instance view only): the count is pending at least since the assessment.
            count = _int(a.get("criticalAndSecurityPatchCount")) or 0
            if count and assessed is not None and _days_since(self.now, assessed) > limit:
                age = _days_since(self.now, assessed)
                self._finding(out, "HP007", HIGH, target,
                              f"{_plural(count, 'critical/security patch')} pending since at least the assessment "
                              f"of {iso(assessed)} ({age:.1f} days, limit {limit}).",
                              fix, {"count": count, "limitDays": limit, "patches": []})
            return
        if not overdue:
            return
        overdue.sort(key=lambda p: (-p["ageDays"], p["kbId"] or ""))
        kbs = [p["kbId"] for p in overdue]
        # One KB can be two patches (two patchIds): tell them apart by publish date.
        names = [(p["kbId"] + (f" of {p['publishedDate'][:10]}" if kbs.count(p["kbId"]) > 1 and p["publishedDate"]
                               else "")) if p["kbId"] else (p["name"] or "unnamed patch")
                 for p in overdue[:_KBS_IN_MESSAGE]]
        more = f" and {len(overdue) - _KBS_IN_MESSAGE} more" if len(overdue) > _KBS_IN_MESSAGE else ""
        self._finding(out, "HP007", HIGH, target,
                      f"{_plural(len(overdue), 'critical/security patch')} pending longer than {limit} days: "
                      f"{', '.join(names)}{more} (oldest {overdue[0]['ageDays']:.0f} days).",
                      fix, {"count": len(overdue), "limitDays": limit, "patches": overdue})

    def _reboot(
        self, out: list[Finding], target: tuple[str, str, str, str, str], rec: VmRecord | ArcRecord,
        os_line: str | None
    ) -> None:
        kind, _, name, group, _ = target
        a = rec.last_assessment or {}
        i = rec.last_installation or {}
        assessed, installed = parse_time(a.get("time")), parse_time(i.get("time"))
        # An installation newer than the assessment that left a reboot undone also means a reboot is pending.
        by_install = str(i.get("rebootStatus") or "").lower() == "required" and (
            assessed is None or (installed is not None and installed >= assessed))
        if not (a.get("rebootPending") is True or by_install):
            return
        restart = (f"Restart it in a maintenance window (az vm restart -g {group} -n {name})" if kind == VM
                   else f"Restart {name} in a maintenance window")
        baseline = self.next_baseline(os_line)
        days = (baseline.date - self.today).days if baseline is not None else None
        source = "assessment" if a.get("rebootPending") is True else "installation"
        stamp = iso(assessed if source == "assessment" else installed)
        reported = f"reported by the last {source}" + (f" of {stamp}" if stamp else "")
        evidence = {"source": source, "nextBaseline": baseline.date.isoformat() if baseline else None,
                    "daysUntilBaseline": days, "dueWithinDays": self.config.reboot_due_within_days}
        if baseline is not None and days is not None and 0 <= days <= self.config.reboot_due_within_days:
            self._finding(out, "HP008", MEDIUM, target,
                          f"A reboot is pending ({reported}) and the {baseline.month} baseline on "
                          f"{baseline.date.isoformat()}, in {_plural(days, 'day')}, needs another one.",
                          f"{restart} before the baseline, so it installs on a clean state.", evidence)
        else:
            self._finding(out, "HP008", LOW, target, f"A reboot is pending ({reported}).",
                          f"{restart} so the installed updates take effect.", evidence)

    def _installation(self, out: list[Finding], target: tuple[str, str, str, str, str], rec: VmRecord | ArcRecord
                      ) -> None:
        _, _, name, group, _ = target
        i = rec.last_installation or {}
        status = str(i.get("status") or "")
        failed = _int(i.get("failedPatchCount")) or 0
        if not (status.lower() == "failed" or (status.lower() == "completedwithwarnings" and failed)):
            return
        error = i.get("error") or {}
        detail = " ".join(str(error.get("message") or error.get("code") or "").split())
        what = f"{_plural(failed, 'patch')} failed" if failed else "it failed"
        message = f"The last installation ({i.get('time') or 'time unknown'}) ended {status}: {what}"
        message += f" ({detail})." if detail else "."
        self._finding(out, "HP009", HIGH, target, message,
                      f"Read the error with hpctl status -g {group} -n {name}, fix its cause, then run hpctl install "
                      "again or let the next automatic run retry.",
                      {"status": status, "failedPatchCount": failed, "time": i.get("time"), "error": error or None})

    def _compatibility(self, out: list[Finding], target: tuple[str, str, str, str, str], rec: VmRecord) -> None:
        status = rec.hot_patch_status
        if not hotpatch_incompatible(status):
            return
        assert status is not None
        errors = status.get("errors") or []
        said = "; ".join(" ".join(f"{e.get('code') or ''} {e.get('message') or ''}".split()) for e in errors)
        on = rec.facts.hotpatch
        message = ("Azure reports this VM can't hotpatch (hotPatchCompatibility Incompatible"
                   + (f": {said}" if said else "") + ")"
                   + (", although enableHotpatching is on: monthly updates will reboot." if on else "."))
        fix = ("Fix what Azure names" + (f" ({errors[0].get('code')})" if errors and errors[0].get("code") else "")
               + ", e.g. move a Generation 1 VM to a Generation 2 size (aka.ms/HotPatchCompatibility); "
               "until then every monthly update reboots.")
        self._finding(out, "HP015", HIGH if on else LOW, target, message, fix,
                      {"hotPatchStatus": dict(status), "enableHotpatching": on})

    def _track(self, out: list[Finding], target: tuple[str, str, str, str, str], track: Track) -> None:
        _, _, name, group, _ = target
        if track.state == OFF_TRACK:
            baseline = next((r for r in track.missing if r.reboot), None)
            # The fix follows the track's own account (track.detail names the same baseline): a released
            # baseline the VM lacks is installed now, even one whose KB the calendar only predicts.
            if baseline is not None and baseline.kb:
                fix = (f"Install the {baseline.month} baseline {baseline.kb}: hpctl install -g {group} -n {name} "
                       f"--kb-include {baseline.kb} --reboot-setting IfRequired (it reboots).")
            elif baseline is not None:
                fix = (f"Install the {baseline.month} baseline (released {baseline.date.isoformat()}; hpctl's "
                       f"calendar has no KB for it yet): hpctl install -g {group} -n {name} --classification "
                       "Critical,Security --reboot-setting IfRequired (it reboots).")
            elif track.next_reboot is not None:
                fix = (f"Install the next baseline ({track.next_reboot.month}, {track.next_reboot.date.isoformat()}) "
                       "when it ships; until then each monthly update reboots.")
            else:
                fix = "Install the latest baseline (it reboots); until then each monthly update reboots."
            self._finding(out, "HP010", HIGH, target, f"Off the hotpatch track: {track.detail}.", fix,
                          {"build": track.build, "os": track.os, "missing": [r.month for r in track.missing]})
        elif track.state == BEHIND:
            grace = self.config.behind_grace_days
            overdue = [r for r in track.missing if (self.today - r.date).days > grace]
            if not overdue:
                return
            labels = ", ".join(f"{r.month} {'baseline' if r.reboot else 'hotpatch'}" + (f" {r.kb}" if r.kb else "")
                               for r in overdue)
            reboot = any(r.reboot for r in overdue)
            self._finding(out, "HP011", MEDIUM, target,
                          "Behind on the hotpatch track: "
                          + (f"build {track.build} is the {track.month} release; " if track.build and track.month
                             else "its last assessment still offers a calendar release (no update revision "
                                  "reported); ")
                          + f"missing {labels} (released more than {grace} days ago).",
                          f"Install them: hpctl install -g {group} -n {name} --classification Critical,Security "
                          f"--reboot-setting IfRequired{' (the baseline reboots)' if reboot else ''}.",
                          {"build": track.build, "month": track.month, "missing": [r.month for r in overdue],
                           "graceDays": grace})

    def _schedules(self, out: list[Finding], target: tuple[str, str, str, str, str], rec: VmRecord) -> None:
        """HP016/HP017/HP018 (prerequsite-for-schedule-patching.md's matrix: patch mode x bypass x schedule)."""
        _, _, name, group, _ = target
        f = rec.facts
        managed = [s for s in rec.schedules or () if s.schedule.customer_managed]
        evidence = {"schedules": [s.as_dict() for s in managed], "patchMode": f.patch_mode,
                    "bypassPlatformSafetyChecksOnUserSchedule": f.bypass_safety_checks}
        if f.hotpatch and managed:
            names = ", ".join(f"{s.schedule.name} ({s.how})" for s in managed)
            effect = ("the bypass is on, which Azure refuses for hotpatch" if f.bypass_safety_checks else
                      "the bypass is off, so neither the schedule nor automatic patching runs (Azure reports its "
                      "prerequisites unmet)")
            static = [s for s in managed if s.how == STATIC]
            dynamic = [s.assignment_name for s in managed if s.how != STATIC]
            fixes = []
            if static:
                fixes.append(f"hpctl vm enable-hotpatch -g {group} -n {name} --leave-schedule removes "
                             f"{', '.join(s.assignment_name for s in static)}")
            if dynamic:
                fixes.append(f"change its tags or the filter of dynamic scope {', '.join(dynamic)} so it no "
                             "longer matches")
            self._finding(out, "HP016", HIGH, target,
                          f"Hotpatch is on but the VM is in customer-managed schedule {names}: hotpatch needs "
                          f"bypassPlatformSafetyChecksOnUserSchedule false and the schedule needs it true; {effect}.",
                          "Take it out of the schedule: " + "; ".join(fixes) + ".", evidence)
            return
        if f.hotpatch:
            return
        if managed:
            if f.patch_mode == AUTOMATIC_BY_PLATFORM and f.bypass_safety_checks:
                return  # scenario 1: the schedule patches it
            names = ", ".join(f"{s.schedule.name} ({s.how})" for s in managed)
            why = (f"patchMode is {f.patch_mode or 'not set'}, not AutomaticByPlatform"
                   if f.patch_mode != AUTOMATIC_BY_PLATFORM else "bypassPlatformSafetyChecksOnUserSchedule is off")
            self._finding(out, "HP018", HIGH, target,
                          f"The VM is in customer-managed schedule {names}, but {why}: neither the schedule nor "
                          "automatic patching runs (Azure reports the schedule's prerequisites unmet).",
                          f"az vm update -g {group} -n {name} --set osProfile.windowsConfiguration.patchSettings."
                          "patchMode=AutomaticByPlatform osProfile.windowsConfiguration.patchSettings."
                          "automaticByPlatformSettings.bypassPlatformSafetyChecksOnUserSchedule=true (Customer "
                          "Managed Schedules; Azure's patch-mode rules apply), or take the VM out of the schedule.",
                          evidence)
            return
        scheduled_only = f.patch_mode == AUTOMATIC_BY_PLATFORM and f.bypass_safety_checks
        if f.patch_mode == "Manual" or scheduled_only:
            why = ("patchMode AutomaticByPlatform with bypassPlatformSafetyChecksOnUserSchedule true waits for a "
                   "schedule that it doesn't have" if scheduled_only else
                   "patchMode is Manual (Windows Update installs nothing on its own)")
            self._finding(out, "HP017", HIGH, target,
                          f"Nothing patches this VM: {why}, and no customer-managed schedule includes it.",
                          f"Assign it to a maintenance schedule (az maintenance assignment create … --resource-name "
                          f"{name} -g {group}), or let Azure patch it: patchMode AutomaticByPlatform with the bypass "
                          "off" + (f" (hpctl vm enable-hotpatch -g {group} -n {name} on this eligible image)."
                                   if f.eligible else "."), evidence)

    def _ineligible(self, out: list[Finding], target: tuple[str, str, str, str, str], image: str | None) -> None:
        if image is None:
            self._finding(out, "HP014", INFO, target,
                          "No image reference (specialized or attached OS disk): it can't hotpatch.",
                          "Hotpatch needs an eligible marketplace image: rebuild from one (hpctl images list).")
            return
        try:
            verdict = check_image(image)
            reason, suggestion = verdict.reason, verdict.suggestion
        except InputError:
            reason, suggestion = f"{image} is not a hotpatch-eligible image.", None
        fix = (f"To hotpatch, rebuild from {suggestion} (hpctl images list shows every eligible image)."
               if suggestion else "To hotpatch, rebuild from an eligible image (hpctl images list).")
        self._finding(out, "HP014", INFO, target, reason.rstrip(".") + ".", fix, {"image": image})

    # ----------------------------------------------------------------- scale sets

    def scale_set(self, rec: ScaleSetRecord) -> ResourceResult:
        target = (VMSS, rec.id, rec.name, rec.resource_group, rec.subscription)
        out: list[Finding] = []
        has_image = rec.image is not None
        if rec.uniform:
            if rec.eligible:
                how = ("no orchestrationMode, which Azure treats as Uniform" if rec.orchestration_mode is None
                       else f"orchestrationMode {rec.orchestration_mode}")
                self._finding(out, "HP012", HIGH, target,
                              f"Uniform scale set ({how}) on hotpatch image {rec.sku}: Uniform scale sets can't "
                              "hotpatch.",
                              f"Recreate it as a Flexible scale set (hpctl vmss create -g {rec.resource_group} "
                              f"-n {rec.name}); orchestration mode can't be changed in place.",
                              {"orchestrationMode": rec.orchestration_mode})
            elif has_image:
                self._ineligible(out, target, rec.image)
            return self._result(VMSS, rec, out)
        if rec.patch_mode is not None:
            self._settings(out, target, eligible=rec.eligible, hotpatch=rec.hotpatch, patch_mode=rec.patch_mode,
                           assessment_mode=rec.assessment_mode, bypass=rec.bypass_safety_checks,
                           agent=rec.provision_vm_agent)
            if rec.patch_mode == AUTOMATIC_BY_PLATFORM and not rec.has_health_extension:
                self._finding(out, "HP013", MEDIUM, target,
                              "Flexible scale set with AutomaticByPlatform patching but no Application Health "
                              "extension, which automatic guest patching needs on Flexible scale sets.",
                              f"az vmss extension set -g {rec.resource_group} --vmss-name {rec.name} "
                              "--publisher Microsoft.ManagedServices --name ApplicationHealthWindows --version 2.0 "
                              "--settings '{\"protocol\":\"http\",\"port\":80,\"requestPath\":\"/health\"}' "
                              "(use your application's health endpoint).",
                              {"extensions": list(rec.extensions)})
        if has_image and not rec.eligible:
            self._ineligible(out, target, rec.image)
        return self._result(VMSS, rec, out)


class Evaluation:
    """evaluate(), one resource at a time: a VM can be judged as soon as its data is in (hpctl report judges VMs
    while Resource Graph's quota holds back the next page), and report() sorts and sums the results up."""

    def __init__(self, *, today: date, now: datetime, calendar: Calendar, config: ReportConfig | None = None):
        self.config = config or ReportConfig()
        self.calendar = calendar
        self.today = today
        self._ev = _Evaluator(today, now, calendar, self.config)

    def vm(self, rec: VmRecord) -> ResourceResult:
        """One VM's result under the configured rules."""
        return self._ev.vm(rec)

    def scale_set(self, rec: ScaleSetRecord) -> ResourceResult:
        """One scale set's result under the configured rules."""
        return self._ev.scale_set(rec)

    def arc(self, rec: ArcRecord) -> ResourceResult:
        return self._ev.arc(rec)

    def report(self, vm_results: Iterable[ResourceResult], vmss_results: Iterable[ResourceResult],
               arc_results: Iterable[ResourceResult] = ()) -> Report:
        """The Report of these results: sorted by subscription, resource group and name, with the summary."""
        ev, config, calendar, today = self._ev, self.config, self.calendar, self.today
        vm_results, vmss_results, arc_results = list(vm_results), list(vmss_results), list(arc_results)
        results = sorted(
            vm_results + vmss_results + arc_results,
            key=lambda r: _sort_key(r.kind, r.subscription, r.resource_group, r.name, r.id),
        )
        findings = tuple(f for r in results for f in r.findings)
        by_severity = {s: 0 for s in SEVERITIES}
        for f in findings:
            by_severity[f.severity] += 1
        # The fleet's next reboot: the earliest next baseline among the OS lines hotpatch VMs/scale sets run.
        lines: set[str] = set()
        for r in vm_results:
            if isinstance(r.record, VmRecord) and r.record.facts.hotpatch:
                line = (r.track.os if r.track else None) or _os_line_of_sku(r.record.facts.sku)
                if line:
                    lines.add(line)
        for r in arc_results:
            if isinstance(r.record, ArcRecord) and r.record.facts.hotpatch:
                line = (r.track.os if r.track else None) or r.record.facts.os_line
                if line:
                    lines.add(line)
        for r in vmss_results:
            rec = r.record
            if isinstance(rec, ScaleSetRecord) and rec.hotpatch and rec.eligible and not rec.uniform:
                line = _os_line_of_sku(rec.sku)
                if line:
                    lines.add(line)
        baselines = [b for b in (ev.next_baseline(line) for line in sorted(lines)) if b is not None]
        next_date = min((b.date for b in baselines), default=None)
        summary = Summary(
            vms_checked=len(vm_results),
            scale_sets_checked=len(vmss_results),
            compliant=sum(r.compliant for r in results),
            vms_compliant=sum(r.compliant for r in vm_results),
            scale_sets_compliant=sum(r.compliant for r in vmss_results),
            findings_by_severity=by_severity,
            worst_severity=worst_of(f.severity for f in findings),
            next_reboot=next_date,
            next_reboot_releases=tuple(b for b in baselines if b.date == next_date),
            calendar_stale=calendar.staleness(today),
            arc_machines_checked=len(arc_results),
            arc_machines_compliant=sum(r.compliant for r in arc_results),
        )
        return Report(
            today=today,
            generated_at=ev.now,
            config=config,
            rules=config.active_rules(),
            results=tuple(results),
            findings=findings,
            summary=summary,
            calendar_origin=calendar.origin,
            calendar_as_of=calendar.as_of,
        )


def evaluate(
    vms: Iterable[VmRecord],
    scale_sets: Iterable[ScaleSetRecord],
    *,
    today: date,
    now: datetime,
    calendar: Calendar,
    config: ReportConfig | None = None,
    arc_machines: Iterable[ArcRecord] = (),
) -> Report:
    """Apply the configured rules to every VM, scale set and Arc machine; results and findings sorted by
    subscription, resource group and name."""
    evaluation = Evaluation(today=today, now=now, calendar=calendar, config=config)
    return evaluation.report([evaluation.vm(v) for v in vms], [evaluation.scale_set(s) for s in scale_sets],
                             [evaluation.arc(a) for a in arc_machines])

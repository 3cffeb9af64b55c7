"""Defaults as az keeps them: `hpctl configure --defaults` (~/.hpctl/config) and the Azure CLI's current
subscription (~/.azure/azureProfile.json), and the order in which a subscription is chosen."""

from __future__ import annotations

import configparser
import json
import os
from collections.abc import Mapping
from pathlib import Path

from hpctl.errors import InputError

DEFAULT_KEYS = ("subscription", "group")
SECTION = "defaults"


def config_path() -> Path:
    """$HPCTL_CONFIG_DIR/config, else ~/.hpctl/config."""
    return Path(os.environ.get("HPCTL_CONFIG_DIR") or Path.home() / ".hpctl") / "config"


def read_defaults(path: Path | None = None) -> dict[str, str]:
    """The stored defaults; a missing file means none. An unreadable one is an error that says which file."""
    path = path or config_path()
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise InputError(f"{path} is not a readable hpctl config ({str(exc).splitlines()[0]}); fix or delete it.",
                         ) from None
    if not parser.has_section(SECTION):
        return {}
    return {k: v for k, v in parser.items(SECTION) if k in DEFAULT_KEYS and v}


def parse_assignments(items: list[str]) -> dict[str, str]:
    """`subscription=ID group=NAME` (space-separated or repeated); an empty value clears that default."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in DEFAULT_KEYS:
            raise InputError(f"--defaults {item!r} is not KEY=VALUE with KEY one of {', '.join(DEFAULT_KEYS)}; "
                             "e.g. --defaults group=rg-web (group= clears it).")
        out[key] = value.strip()
    return out


def write_defaults(changes: Mapping[str, str], path: Path | None = None) -> dict[str, str]:
    """Merge `changes` into the stored defaults (empty values remove a key); returns what is now stored."""
    path = path or config_path()
    merged = {**read_defaults(path), **changes}
    merged = {k: v for k, v in merged.items() if v}
    parser = configparser.ConfigParser(interpolation=None)
    parser[SECTION] = dict(sorted(merged.items()))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        parser.write(handle)
    return merged


def azure_cli_subscription(cloud: str) -> str | None:
    """The subscription `az account show` would use (isDefault in azureProfile.json) for this cloud."""
    path = Path(os.environ.get("AZURE_CONFIG_DIR") or Path.home() / ".azure") / "azureProfile.json"
    try:
        # The Azure CLI writes this file with a byte-order mark.
        profile = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None
    for sub in profile.get("subscriptions") or [] if isinstance(profile, dict) else []:
        if isinstance(sub, dict) and sub.get("isDefault") and sub.get("id") and \
                (sub.get("environmentName") or "AzureCloud") == cloud:
            return str(sub["id"])
    return None


def choose_subscription(flag: str | None, cloud: str) -> tuple[str | None, str]:
    """(subscription, where it came from): -s, $AZURE_SUBSCRIPTION_ID, `hpctl configure --defaults`, then
    the Azure CLI's current subscription. The last two are for real clouds: the sandbox has its own."""
    if flag is not None:
        if not flag.strip():
            raise InputError("-s/--subscription is empty; give a subscription id or name, or leave it out.")
        return flag.strip(), "-s/--subscription"
    env = os.environ.get("AZURE_SUBSCRIPTION_ID", "").strip()
    if env:
        return env, "$AZURE_SUBSCRIPTION_ID"
    if cloud == "sandbox":
        return None, "the sandbox's own subscription"
    stored = read_defaults().get("subscription")
    if stored:
        return stored, f"hpctl configure --defaults ({config_path()})"
    current = azure_cli_subscription(cloud)
    if current:
        return current, "the Azure CLI's current subscription (az account show)"
    return None, "none given"

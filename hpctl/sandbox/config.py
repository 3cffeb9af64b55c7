"""SandboxConfig: what shapes one sandbox (fleet, seed, date, time scale, faults, budgets)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from hpctl.sandbox.faults import parse_fault_spec
from hpctl.sandbox.ids import stable_guid
from hpctl.sandbox.throttle import Throttle


def default_state_dir() -> Path:
    """$HPCTL_SANDBOX_DIR, else ~/.hpctl/sandbox."""
    return Path(os.environ.get("HPCTL_SANDBOX_DIR") or Path.home() / ".hpctl" / "sandbox").expanduser()


@dataclass
class SandboxConfig:
    """How to build and serve a sandbox. Invalid values raise ValueError when the config is made."""

    fleet: int = 200
    seed: int = 7
    date: dt.date | None = None
    time_scale: float = 600.0
    faults: str = ""
    state_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    subscription_id: str | None = None
    budgets: dict[str, int] | None = None
    # How fast the throttling budgets refill, in budget seconds per wall second; None: the time scale, so
    # budgets keep Azure's proportions to operation durations. Tests that must see a budget run dry use 1.
    budget_time_scale: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.fleet, bool) or not isinstance(self.fleet, int) or self.fleet < 0:
            raise ValueError(f"fleet must be a whole number of VMs >= 0 (got {self.fleet!r})")
        if self.date is None:
            self.date = dt.date.today()
        elif isinstance(self.date, str):
            try:
                self.date = dt.date.fromisoformat(self.date)
            except ValueError:
                raise ValueError(f"date must be YYYY-MM-DD (got {self.date!r})") from None
        elif isinstance(self.date, dt.datetime):
            self.date = self.date.date()
        elif not isinstance(self.date, dt.date):
            raise ValueError(f"date must be a datetime.date (got {self.date!r})")
        if self.date < dt.date(2025, 1, 1) or self.date > dt.date(2035, 12, 31):
            raise ValueError(
                f"date {self.date} is outside what the sandbox simulates (2025-01-01 to 2035-12-31)"
            )
        try:
            self.time_scale = float(self.time_scale)
        except (TypeError, ValueError):
            raise ValueError(f"time_scale must be a number (got {self.time_scale!r})") from None
        if not self.time_scale > 0:
            raise ValueError(f"time_scale must be positive (got {self.time_scale})")
        parse_fault_spec(self.faults or "")
        state_dir = Path(self.state_dir).expanduser() if self.state_dir is not None else default_state_dir()
        self.state_dir = state_dir.absolute()  # endpoint.json must work from any working directory
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0-65535 (got {self.port!r})")
        if self.subscription_id is None:
            self.subscription_id = stable_guid("subscription", self.seed)
        if self.budget_time_scale is None:
            self.budget_time_scale = self.time_scale
        Throttle(self.budgets, scale=self.budget_time_scale)  # validates the budget names, values and scale

    @property
    def today(self) -> dt.date:
        assert isinstance(self.date, dt.date)
        return self.date

    @property
    def tenant_id(self) -> str:
        return stable_guid("tenant", self.seed)

"""The sandbox's clocks: a fixed simulated date, ARM-style timestamps, and wall time scaled for waits."""

from __future__ import annotations

import datetime as dt
import math
import time

UTC = dt.timezone.utc


class SimClock:
    """Simulated time for one sandbox.

    The world's calendar date is fixed (`today`): which releases exist never drifts while a sandbox runs.
    Timestamps in bodies run at the real rate, shifted so that "now" falls on `today`. Only waiting is
    compressed: a simulated duration of d seconds completes after d / time_scale seconds of wall time,
    while its timestamps still say d seconds (an assessment reads as ten minutes long, as on Azure).
    """

    def __init__(self, today: dt.date, time_scale: float) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive (got {time_scale})")
        self.today = today
        self.time_scale = float(time_scale)
        real = dt.datetime.now(UTC)
        self._shift = dt.datetime.combine(today, real.time(), tzinfo=UTC) - real

    def now(self) -> dt.datetime:
        """The simulated current time (aware, UTC)."""
        return dt.datetime.now(UTC) + self._shift

    @staticmethod
    def wall() -> float:
        """Monotonic wall-clock seconds, for deadlines."""
        return time.monotonic()

    def wall_seconds(self, sim_seconds: float) -> float:
        """How long a simulated duration takes in wall time."""
        return sim_seconds / self.time_scale

    def hint(self, sim_seconds: float) -> int | None:
        """A Retry-After hint for a simulated wait, in scaled whole seconds; None when it rounds to 0."""
        value = round(sim_seconds / self.time_scale)
        return value if value >= 1 else None

    def midnight(self, days_before: float = 0.0) -> dt.datetime:
        """Midnight UTC of `today`, minus a number of days (deterministic, for seeding)."""
        base = dt.datetime.combine(self.today, dt.time(0, 0), tzinfo=UTC)
        return base - dt.timedelta(days=days_before)


def ts(moment: dt.datetime) -> str:
    """ARM's long timestamp form, seven fractional digits: 2024-08-26T09:52:06.2668697+00:00."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"


def ts_seconds(moment: dt.datetime) -> str:
    """ARM's short timestamp form: 2024-08-26T09:52:07+00:00."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def ts_zulu(moment: dt.datetime) -> str:
    """The Z form used for publish dates: 2026-05-12T00:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ceil_seconds(seconds: float) -> int:
    """Whole seconds for a Retry-After header (at least 1)."""
    return max(1, math.ceil(seconds))


def patch_tuesday(year: int, month: int) -> dt.date:
    """The second Tuesday of a month, when Windows updates ship."""
    first = dt.date(year, month, 1)
    first_tuesday = first + dt.timedelta(days=(1 - first.weekday()) % 7)
    return first_tuesday + dt.timedelta(days=7)

"""Time for the gates: an injectable clock, and how moments and durations are shown to people.

Every gate takes ``now`` from a :data:`Clock` (a function returning an aware datetime), so tests pass a
fixed one; promoter itself passes :func:`system_clock`. Moments are shown in UTC (``14:32 UTC`` within a
day of now, else with the date), durations to the minute (``12m``, ``1h5m``, ``2d3h``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

Clock = Callable[[], datetime]

__all__ = ["Clock", "as_utc", "fixed_clock", "format_moment", "format_span", "iso_utc", "system_clock"]


def system_clock() -> datetime:
    """Now, in UTC."""
    return datetime.now(timezone.utc)


def fixed_clock(moment: datetime) -> Clock:
    """A clock that always says ``moment`` (tests, benchmarks)."""
    fixed = as_utc(moment)
    return lambda: fixed


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is refused (every moment promoter compares carries an offset)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no UTC offset")
    return moment.astimezone(timezone.utc)


def iso_utc(moment: datetime) -> str:
    """``2026-12-01T14:32:05Z``: a moment as stored in hold files and JSON output."""
    return as_utc(moment).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def format_moment(moment: datetime, now: datetime) -> str:
    """``14:32 UTC`` when within a day of ``now``, else ``2026-12-20 14:32 UTC``."""
    utc = as_utc(moment)
    if abs(utc - as_utc(now)) < timedelta(hours=24):
        return utc.strftime("%H:%M UTC")
    return utc.strftime("%Y-%m-%d %H:%M UTC")


def format_span(seconds: float) -> str:
    """A duration as people read it, truncated: ``45s``, ``12m``, ``1h5m``, ``2d3h``."""
    whole = max(int(seconds), 0)
    if whole < 60:
        return f"{whole}s"
    minutes, _ = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"

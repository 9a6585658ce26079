"""Freeze windows: is an environment frozen at a moment, by which windows, and until when.

Pure functions of the windows (``environments.<env>.freeze``) and a moment. An absolute window covers
``from`` <= t < ``until``. A recurring window covers, on each of its ``days``, ``start`` <= local time <
``end`` in its ``timezone``; with ``end`` before ``start`` it ends on the next day. Local times become
moments through :mod:`zoneinfo`, so a window keeps its wall-clock times across a DST change (a window from
22:00 to 06:00 over the night the clocks go forward lasts 7 hours). Every comparison is made in UTC:
Python compares two datetimes that share a ``tzinfo`` by their wall times, which is wrong across a change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from promoter.config.freeze import END_OF_DAY
from promoter.gates.clock import as_utc

if TYPE_CHECKING:  # pragma: no cover
    from zoneinfo import ZoneInfo

    from promoter.config import FreezeWindow, RecurringFreezeWindow

__all__ = ["Freeze", "FreezeSpan", "describe_window", "freeze_at", "spans_at"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MAX_CHAIN = 1000  # windows that follow one another without a gap, at most


@dataclass(frozen=True)
class FreezeSpan:
    """One occurrence of a window: ``start`` <= t < ``end`` (aware; a recurring window's own zone)."""

    window: FreezeWindow
    start: datetime
    end: datetime

    def covers(self, moment: datetime) -> bool:
        return as_utc(self.start) <= as_utc(moment) < as_utc(self.end)


@dataclass(frozen=True)
class Freeze:
    """An environment frozen at a moment: the windows covering it and when the freeze ends.

    ``until`` follows windows that start before the previous one ends (or exactly when it ends): it is the
    first moment at which no window covers the environment.
    """

    spans: tuple[FreezeSpan, ...]
    until: datetime

    @property
    def reasons(self) -> list[str]:
        return list(dict.fromkeys(span.window.reason for span in self.spans))

    def describe(self) -> str:
        """``year-end (2026-12-20 00:00 +01:00 .. 2027-01-04 00:00 +01:00)``; several joined by '; '."""
        return "; ".join(f"{span.window.reason} ({describe_window(span.window)})" for span in self.spans)

    def until_text(self) -> str:
        """When it ends, in the zone of the window that ends last, and in UTC."""
        utc = as_utc(self.until)
        local = self.until
        zone = _zone_label(local)
        shown = local.strftime("%Y-%m-%d %H:%M")
        if zone == "UTC":
            return f"{shown} UTC"
        return f"{shown} {zone} ({utc.strftime('%Y-%m-%d %H:%M')} UTC)"


def spans_at(window: FreezeWindow, moment: datetime) -> list[FreezeSpan]:
    """The occurrences of ``window`` that cover ``moment`` (at most one for an absolute window)."""
    from promoter.config import AbsoluteFreezeWindow, RecurringFreezeWindow

    if isinstance(window, AbsoluteFreezeWindow):
        span = FreezeSpan(window, window.start, window.until)
        return [span] if span.covers(moment) else []
    if not isinstance(window, RecurringFreezeWindow):  # pragma: no cover - the model has two kinds
        raise TypeError(f"unknown freeze window {window!r}")
    zone = _zone(window.timezone)
    today = as_utc(moment).astimezone(zone).date()
    out = []
    for day in (today - timedelta(days=1), today):  # a window that crosses midnight began yesterday
        found = _occurrence(window, zone, day)
        if found is not None and found.covers(moment):
            out.append(found)
    return out


def freeze_at(windows: Sequence[FreezeWindow], moment: datetime) -> Freeze | None:
    """The freeze in force at ``moment``, or None when no window covers it."""
    covering = [span for window in windows for span in spans_at(window, moment)]
    if not covering:
        return None
    last = max(covering, key=lambda span: as_utc(span.end))
    for _ in range(_MAX_CHAIN):
        following = [span for window in windows for span in spans_at(window, last.end)]
        if not following:
            break
        last = max(following, key=lambda span: as_utc(span.end))
    return Freeze(tuple(covering), last.end)


def describe_window(window: FreezeWindow) -> str:
    """The window as configured, for messages: absolute bounds, or days, times and zone."""
    from promoter.config import AbsoluteFreezeWindow, RecurringFreezeWindow

    if isinstance(window, AbsoluteFreezeWindow):
        return f"{_stamp(window.start)} .. {_stamp(window.until)}"
    assert isinstance(window, RecurringFreezeWindow)
    days = ",".join(window.days)
    nextday = " next day" if window.end < window.start and window.end != END_OF_DAY else ""
    return f"{days} {window.start}-{window.end}{nextday} {window.timezone}"


def _occurrence(window: RecurringFreezeWindow, zone: ZoneInfo, day: date) -> FreezeSpan | None:
    if _DAYS[day.weekday()] not in window.days:
        return None
    start_text, end_text = window.start, window.end
    start = _clock(start_text)
    end = _clock("00:00" if end_text == END_OF_DAY else end_text)
    end_day = day + timedelta(days=1) if end_text == END_OF_DAY or end <= start else day
    return FreezeSpan(
        window, datetime.combine(day, start, tzinfo=zone), datetime.combine(end_day, end, tzinfo=zone)
    )


def _clock(text: str) -> time:
    hours, _, minutes = text.partition(":")
    return time(int(hours), int(minutes))


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _zone_label(moment: datetime) -> str:
    key = getattr(moment.tzinfo, "key", None)
    if key:
        return str(key)
    offset = moment.strftime("%z")
    if offset in ("+0000", "-0000", ""):
        return "UTC"
    return f"{offset[:3]}:{offset[3:]}"


def _stamp(moment: datetime) -> str:
    return f"{moment.strftime('%Y-%m-%d %H:%M')} {_zone_label(moment)}"

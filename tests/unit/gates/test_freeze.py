"""Freeze windows with fixed clocks: absolute windows with offsets, recurring windows across midnight and
across a DST change, chained windows, and the edges (start inclusive, end exclusive)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from promoter.config import Environment, parse_config
from promoter.gates.freeze import freeze_at

UTC = timezone.utc


def env_with(freeze: str) -> Environment:
    text = f"version: 1\nenvironments:\n  production:\n    branch: production\n    freeze: {freeze}\n"
    return parse_config(text, "promoter.yaml").environment("production")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


YEAR_END = (
    '[{from: "2026-12-20T00:00:00+01:00", until: "2027-01-04T00:00:00+01:00", reason: year-end freeze}]'
)


@pytest.mark.parametrize(
    ("moment", "frozen"),
    [
        ("2026-12-19T22:59:59+00:00", False),  # one second before 00:00 +01:00
        ("2026-12-19T23:00:00+00:00", True),  # the start is inside
        ("2026-12-19T18:00:00-05:00", True),  # the same moment written in another offset
        ("2027-01-03T22:59:59+00:00", True),
        ("2027-01-03T23:00:00+00:00", False),  # the end is outside
    ],
)
def test_absolute_window_edges_compare_moments_not_wall_times(moment: str, frozen: bool) -> None:
    found = freeze_at(env_with(YEAR_END).freeze, at(moment))
    assert (found is not None) is frozen


def test_absolute_window_says_why_and_until_when() -> None:
    found = freeze_at(env_with(YEAR_END).freeze, at("2026-12-24T12:00:00+00:00"))
    assert found is not None
    assert found.reasons == ["year-end freeze"]
    assert found.describe() == "year-end freeze (2026-12-20 00:00 +01:00 .. 2027-01-04 00:00 +01:00)"
    assert found.until_text() == "2027-01-04 00:00 +01:00 (2027-01-03 23:00 UTC)"


FRIDAY = '[{days: [fri], start: "16:00", end: "23:59", timezone: Europe/Berlin, reason: no Friday deploys}]'


@pytest.mark.parametrize(
    ("moment", "frozen"),
    [
        ("2026-12-04T14:59:00+00:00", False),  # Friday 15:59 in Berlin (CET, +01:00)
        ("2026-12-04T15:00:00+00:00", True),  # Friday 16:00 in Berlin
        ("2026-12-04T22:58:59+00:00", True),
        ("2026-12-04T22:59:00+00:00", False),  # 23:59 Berlin: the end is outside
        ("2026-12-03T15:30:00+00:00", False),  # Thursday
        ("2026-07-03T14:30:00+00:00", True),  # a summer Friday: 16:30 CEST (+02:00) is 14:30 UTC
        ("2026-07-03T13:59:00+00:00", False),  # 15:59 CEST
    ],
)
def test_recurring_window_in_its_own_zone(moment: str, frozen: bool) -> None:
    assert (freeze_at(env_with(FRIDAY).freeze, at(moment)) is not None) is frozen


NIGHTS = '[{days: [sat], start: "22:00", end: "06:00", timezone: Europe/Berlin, reason: batch jobs}]'


@pytest.mark.parametrize(
    ("moment", "frozen"),
    [
        ("2026-12-05T20:59:00+00:00", False),  # Saturday 21:59 Berlin
        ("2026-12-05T21:00:00+00:00", True),  # Saturday 22:00
        ("2026-12-05T23:30:00+00:00", True),  # Sunday 00:30: after midnight, still the Saturday window
        ("2026-12-06T04:59:00+00:00", True),  # Sunday 05:59
        ("2026-12-06T05:00:00+00:00", False),  # Sunday 06:00
        ("2026-12-06T23:30:00+00:00", False),  # Monday 00:30: Sunday has no window
    ],
)
def test_window_across_midnight_belongs_to_the_day_it_starts(moment: str, frozen: bool) -> None:
    assert (freeze_at(env_with(NIGHTS).freeze, at(moment)) is not None) is frozen


def test_window_across_the_night_clocks_go_forward_keeps_its_wall_times() -> None:
    # 2027-03-28: Berlin goes from 02:00 CET to 03:00 CEST. Saturday 22:00 CET = 21:00 UTC, Sunday 06:00
    # CEST = 04:00 UTC: the window lasts 7 hours, not 8.
    windows = env_with(NIGHTS).freeze
    assert freeze_at(windows, at("2027-03-27T20:59:00+00:00")) is None
    found = freeze_at(windows, at("2027-03-28T03:30:00+00:00"))  # 05:30 CEST
    assert found is not None
    assert found.until == datetime(2027, 3, 28, 6, 0, tzinfo=found.until.tzinfo)
    assert found.until.astimezone(UTC) == datetime(2027, 3, 28, 4, 0, tzinfo=UTC)
    assert found.until_text() == "2027-03-28 06:00 Europe/Berlin (2027-03-28 04:00 UTC)"
    # a window computed with the offset of its start (+01:00) would still be frozen here
    assert freeze_at(windows, at("2027-03-28T04:30:00+00:00")) is None


def test_window_across_the_night_clocks_go_back_lasts_nine_hours() -> None:
    # 2026-10-25: 03:00 CEST -> 02:00 CET. Saturday 22:00 CEST = 20:00 UTC, Sunday 06:00 CET = 05:00 UTC.
    windows = env_with(NIGHTS).freeze
    assert freeze_at(windows, at("2026-10-24T19:59:00+00:00")) is None
    assert freeze_at(windows, at("2026-10-24T20:00:00+00:00")) is not None
    assert freeze_at(windows, at("2026-10-25T04:59:00+00:00")) is not None
    assert freeze_at(windows, at("2026-10-25T05:00:00+00:00")) is None


def test_adjacent_windows_end_when_the_last_one_ends() -> None:
    chained = (
        "[{days: [fri], start: '18:00', end: '00:00', timezone: UTC, reason: weekend},"
        " {days: [sat, sun], start: '00:00', end: '24:00', timezone: UTC, reason: weekend},"
        " {days: [mon], start: '00:00', end: '06:00', timezone: UTC, reason: monday morning}]"
    )
    found = freeze_at(env_with(chained).freeze, at("2026-12-04T19:00:00+00:00"))
    assert found is not None
    assert [span.window.reason for span in found.spans] == ["weekend"]  # what covers now
    assert found.until == datetime(2026, 12, 7, 6, 0, tzinfo=found.until.tzinfo)  # Monday 06:00
    assert found.until_text() == "2026-12-07 06:00 UTC"


def test_no_window_no_freeze_and_several_windows_are_all_named() -> None:
    assert freeze_at((), at("2026-12-04T19:00:00+00:00")) is None
    both = YEAR_END[:-1] + ", " + FRIDAY[1:]
    found = freeze_at(env_with(both).freeze, at("2026-12-25T15:30:00+00:00"))  # a Friday in the freeze
    assert found is not None
    assert found.reasons == ["year-end freeze", "no Friday deploys"]
    assert "2027-01-04 00:00 +01:00" in found.until_text()
    assert found.until - found.spans[0].start > timedelta(days=14)


def test_end_of_day_is_written_24_00() -> None:
    whole = "[{days: [sun], start: '00:00', end: '24:00', timezone: Europe/Berlin, reason: sunday}]"
    windows = env_with(whole).freeze
    assert freeze_at(windows, at("2026-12-05T22:59:00+00:00")) is None  # Saturday 23:59 Berlin
    found = freeze_at(windows, at("2026-12-06T22:59:00+00:00"))  # Sunday 23:59 Berlin
    assert found is not None
    assert found.until_text() == "2026-12-07 00:00 Europe/Berlin (2026-12-06 23:00 UTC)"
    assert freeze_at(windows, at("2026-12-06T23:00:00+00:00")) is None  # Monday 00:00

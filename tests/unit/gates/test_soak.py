"""Soak verdicts with fixed clocks: the edges, the message, health and failure."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from promoter.gates.clock import fixed_clock, format_moment, format_span
from promoter.gates.soak import Since, soak_verdict

UTC = timezone.utc
SET = datetime(2026, 12, 1, 13, 32, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("after", "eligible"),
    [(timedelta(minutes=59, seconds=59), False), (timedelta(hours=1), True), (timedelta(hours=5), True)],
)
def test_soak_edge_is_inclusive(after: timedelta, eligible: bool) -> None:
    verdict = soak_verdict("api", "1.4.2", "staging", 3600, Since(SET, "committed", "a" * 40), SET + after)
    assert verdict.eligible is eligible
    assert verdict.eligible_at == SET + timedelta(hours=1)


def test_refusal_says_how_long_the_soak_and_when() -> None:
    verdict = soak_verdict(
        "api",
        "1.4.2",
        "staging",
        3600,
        Since(SET, "committed", "1a2b3c4d5e6f7a8b"),
        SET + timedelta(minutes=12),
    )
    assert not verdict.eligible
    assert verdict.remaining_seconds == 48 * 60
    assert verdict.message() == (
        "api 1.4.2 has been in staging for 12m, soak is 1h: eligible at 14:32 UTC "
        "(counted from commit 1a2b3c4d5e6f)"
    )


def test_health_counts_from_the_report_and_a_failure_never_soaks() -> None:
    healthy = Since(SET + timedelta(minutes=20), "healthy", "c" * 40, "argocd/staging")
    verdict = soak_verdict("api", "1.4.2", "staging", 3600, healthy, SET + timedelta(minutes=70))
    assert not verdict.eligible
    assert (
        "eligible at 14:52 UTC (counted from when it was reported healthy (argocd/staging))"
        in verdict.message()
    )
    failed = Since(SET, "failed", "c" * 40, "ci/deploy failed on cccccccccccc")
    verdict = soak_verdict("api", "1.4.2", "staging", 60, failed, SET + timedelta(days=3))
    assert not verdict.eligible
    assert (
        verdict.message()
        == "api 1.4.2 in staging: its deployment was reported failed (ci/deploy failed on cccccccccccc)"
    )


def test_times_and_spans_as_people_read_them() -> None:
    now = fixed_clock(datetime(2026, 12, 1, 14, 0, tzinfo=timezone(timedelta(hours=1))))()
    assert now.tzinfo == UTC and now.hour == 13
    assert format_moment(now + timedelta(hours=3), now) == "16:00 UTC"
    assert format_moment(now + timedelta(days=2), now) == "2026-12-03 13:00 UTC"
    assert [format_span(s) for s in (0, 59, 60, 3599, 3600, 3660, 86400, 90000, -5)] == [
        "0s",
        "59s",
        "1m",
        "59m",
        "1h",
        "1h1m",
        "1d",
        "1d1h",
        "0s",
    ]
    with pytest.raises(ValueError, match="no UTC offset"):
        fixed_clock(datetime(2026, 12, 1))

"""Required checks and health records read from commit statuses (pure parts)."""

from __future__ import annotations

from datetime import datetime, timezone

from promoter.forge.base import CommitStatus
from promoter.gates.checks import unmet_checks
from promoter.gates.health import reported_healthy


def test_every_required_context_must_be_success() -> None:
    statuses = [
        CommitStatus("ci/e2e", "success"),
        CommitStatus("ci/lint", "failed", "2 problems"),
        CommitStatus("ci/other", "pending"),
    ]
    unmet = unmet_checks(["ci/e2e", "ci/lint", "ci/other", "ci/perf"], statuses)
    assert [str(check) for check in unmet] == [
        "ci/lint: failed (2 problems)",
        "ci/other: pending",
        "ci/perf: missing",
    ]
    assert unmet_checks(["ci/e2e"], statuses) == []
    assert unmet_checks([], []) == []


def test_healthy_when_every_context_succeeded_from_the_latest_report() -> None:
    ok = [
        CommitStatus("flux/apps", "success", updated_at="2026-12-01T13:40:00Z"),
        CommitStatus("argocd/staging", "success", updated_at="2026-12-01T13:45:10.250+01:00"),
    ]
    moment = reported_healthy(ok, ("flux/apps", "argocd/staging"))
    assert moment == datetime(2026, 12, 1, 13, 40, tzinfo=timezone.utc)
    assert reported_healthy(ok, ("flux/apps",)) == datetime(2026, 12, 1, 13, 40, tzinfo=timezone.utc)
    assert reported_healthy(ok[:1], ("flux/apps", "argocd/staging")) is None  # one has not reported
    assert reported_healthy([CommitStatus("flux/apps", "success")], ("flux/apps",)) is None  # no time
    failed = [*ok, CommitStatus("ci/smoke", "failed")]
    assert reported_healthy(failed, ("flux/apps", "ci/smoke")) == "failed"

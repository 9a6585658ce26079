"""The state machine: every rule, including settle and the order in which rules apply."""

from __future__ import annotations

import pytest

from promoter.observe.machine import Tracker, classify
from promoter.observe.model import DeploymentState, FailingResource, Observation

AT = {"current": True, "attempt_current": True}
SYNCED_HEALTHY = Observation(revisions=("a" * 40,), in_sync=True, health="Healthy", sync_label="Synced")


@pytest.mark.parametrize(
    ("observation", "flags", "expected"),
    [
        (Observation(found=False), AT, ("pending", False)),
        (SYNCED_HEALTHY, AT, ("progressing", True)),
        (SYNCED_HEALTHY, {"current": False, "attempt_current": False}, ("pending", False)),
        # an operation on the pushed commit runs although the comparison still names the old one
        (Observation(busy=True), {"current": False, "attempt_current": True}, ("progressing", False)),
        (Observation(in_sync=False, health="Healthy"), AT, ("progressing", False)),
        (Observation(in_sync=True, busy=True, health="Healthy"), AT, ("progressing", False)),
        (Observation(in_sync=True, health="Healthy", stale=True), AT, ("progressing", False)),
        (Observation(in_sync=True, health="Progressing"), AT, ("progressing", False)),
        (Observation(in_sync=True, health="Degraded"), AT, ("failed", False)),
        (Observation(in_sync=True, health="Missing"), AT, ("failed", False)),
        # degraded before the sync finished is not a verdict yet
        (Observation(in_sync=False, health="Degraded"), AT, ("progressing", False)),
        (Observation(in_sync=True, busy=True, health="Degraded"), AT, ("progressing", False)),
        (Observation(in_sync=True, health="Suspended"), AT, ("progressing", False)),
        # a failed attempt counts only when it was at the pushed commit (or later)
        (Observation(attempt_failed=True), {"current": False, "attempt_current": True}, ("failed", False)),
        (Observation(attempt_failed=True), {"current": False, "attempt_current": False}, ("pending", False)),
        (
            Observation(attempt_failed=True, in_sync=True, health="Healthy"),
            {"current": True, "attempt_current": False},
            ("progressing", True),
        ),
        # a source that cannot name revisions is taken at its word
        (
            Observation(revision_blind=True, in_sync=True, health="Healthy"),
            {"current": False, "attempt_current": False},
            ("progressing", True),
        ),
    ],
)
def test_classify(observation: Observation, flags: dict[str, bool], expected: tuple[str, bool]) -> None:
    assert classify(observation, **flags) == expected


def test_healthy_at_once_without_settle() -> None:
    tracker = Tracker("staging", "api")
    state = tracker.advance(SYNCED_HEALTHY, now=105.0, started=100.0, revision="a" * 40, **AT)
    assert state == DeploymentState(
        env="staging",
        app="api",
        phase="healthy",
        revision="a" * 40,
        sync="Synced",
        health="Healthy",
        seconds=5.0,
    )
    assert state.done and state.word == "Healthy"


def test_settle_requires_health_to_hold() -> None:
    tracker = Tracker("staging", "api", settle_seconds=10)
    progressing = Observation(in_sync=True, health="Progressing", sync_label="Synced")
    assert tracker.advance(SYNCED_HEALTHY, now=0, started=0, revision=None, **AT).settling
    assert tracker.advance(SYNCED_HEALTHY, now=5, started=0, revision=None, **AT).phase == "progressing"
    # health dips: the clock starts again
    assert tracker.advance(progressing, now=8, started=0, revision=None, **AT).settling is False
    assert tracker.advance(SYNCED_HEALTHY, now=9, started=0, revision=None, **AT).word == "Settling"
    assert tracker.advance(SYNCED_HEALTHY, now=18, started=0, revision=None, **AT).phase == "progressing"
    assert tracker.advance(SYNCED_HEALTHY, now=19, started=0, revision=None, **AT).phase == "healthy"


def test_crash_loop_during_settle_fails() -> None:
    tracker = Tracker("staging", "api", settle_seconds=30)
    tracker.advance(SYNCED_HEALTHY, now=0, started=0, revision=None, **AT)
    broken = Observation(
        in_sync=True,
        health="Degraded",
        failing=(FailingResource("Deployment", "api", "Back-off restarting failed container"),),
    )
    state = tracker.advance(broken, now=12, started=0, revision=None, **AT)
    assert state.phase == "failed"
    assert state.problem() == 'Deployment "api": Back-off restarting failed container'
    assert state.word == "Degraded"


def test_retrying_keeps_the_last_state() -> None:
    tracker = Tracker("staging", "api")
    tracker.advance(Observation(in_sync=False, sync_label="OutOfSync"), now=1, started=0, revision="b", **AT)
    state = tracker.retrying("Argo CD: 502", now=7, started=0)
    assert (state.phase, state.sync, state.retrying, state.seconds) == (
        "progressing",
        "OutOfSync",
        "Argo CD: 502",
        7,
    )


def test_words_for_progress_lines() -> None:
    base = DeploymentState(env="staging", app="api")
    assert base.word == "Pending"
    assert DeploymentState(env="e", app="a", phase="pending", sync="NotFound").word == "NotFound"
    assert DeploymentState(env="e", app="a", phase="progressing", sync="OutOfSync").word == "OutOfSync"
    assert DeploymentState(
        env="e", app="a", phase="progressing", sync="Synced", health="Progressing"
    ).word == ("Progressing")
    assert DeploymentState(env="e", app="a", phase="failed", sync="Synced", health="Healthy").word == "Failed"

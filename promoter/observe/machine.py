"""The state machine: observations in, one :class:`DeploymentState` per app out. No I/O, no clock.

The rules, in order:

1. The object is not there (yet): **pending**.
2. The newest attempt is at the pushed commit (or a descendant) and the operator says it failed for good
   (Argo CD operation ``Failed``/``Error``, Flux ``Ready=False`` with a terminal reason, the bundled
   reconciler's ``failed``): **failed**.
3. The reported revision is not the pushed commit or a descendant: **progressing** while an attempt at it
   runs, else **pending** (the operator has not seen the commit yet).
4. At the commit, the status fresh (not ``stale``), in sync and no operation running:
   health ``Healthy`` is **healthy** once it has held for ``settle`` seconds (until then: progressing,
   "settling"); ``Degraded`` or ``Missing`` is **failed**; anything else is progressing.
5. Otherwise **progressing**.

A source that cannot name revisions (``revision_blind``) is taken at its word from rule 4 on.
"""

from __future__ import annotations

from dataclasses import replace

from promoter.observe.model import DeploymentState, Observation, Phase

FAILED_HEALTH = ("Degraded", "Missing")


def classify(observation: Observation, *, current: bool, attempt_current: bool) -> tuple[Phase, bool]:
    """(phase, healthy-candidate) for one observation; ``current`` says the reported revision is the
    pushed commit or a descendant, ``attempt_current`` the same for the newest attempt."""
    obs = observation
    if not obs.found:
        return "pending", False
    if obs.attempt_failed and (attempt_current or obs.revision_blind):
        return "failed", False
    if not (current or obs.revision_blind):
        return ("progressing" if obs.busy and attempt_current else "pending"), False
    if obs.stale or not obs.in_sync or obs.busy:
        return "progressing", False
    if obs.health == "Healthy":
        return "progressing", True
    if obs.health in FAILED_HEALTH:
        return "failed", False
    return "progressing", False


class Tracker:
    """One app's state across polls: remembers since when it has looked healthy (for ``settle``)."""

    def __init__(self, env: str, app: str, *, settle_seconds: float = 0.0) -> None:
        self.settle_seconds = max(settle_seconds, 0.0)
        self.state = DeploymentState(env=env, app=app)
        self._healthy_since: float | None = None

    def advance(
        self,
        observation: Observation,
        *,
        now: float,
        started: float,
        current: bool,
        attempt_current: bool,
        revision: str | None,
    ) -> DeploymentState:
        """Fold one observation in; ``now`` and ``started`` are seconds on one monotonic clock."""
        phase, candidate = classify(observation, current=current, attempt_current=attempt_current)
        settling = False
        if candidate:
            if self._healthy_since is None:
                self._healthy_since = now
            if now - self._healthy_since >= self.settle_seconds:
                phase = "healthy"
            else:
                settling = True
        else:
            self._healthy_since = None
        self.state = DeploymentState(
            env=self.state.env,
            app=self.state.app,
            phase=phase,
            revision=revision,
            sync=observation.sync_label or ("" if observation.found else "NotFound"),
            health=observation.health,
            message=observation.message,
            failing=observation.failing if phase == "failed" else observation.failing[:5],
            seconds=now - started,
            settling=settling,
        )
        return self.state

    def retrying(self, error: str, *, now: float, started: float) -> DeploymentState:
        """A poll failed with a transient error: keep the last state, note the error."""
        self.state = replace(self.state, retrying=error, seconds=now - started)
        return self.state

    def elapsed(self, *, now: float, started: float) -> DeploymentState:
        self.state = replace(self.state, seconds=now - started)
        return self.state

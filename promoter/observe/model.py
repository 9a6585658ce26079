"""What a deployment looks like from the outside: one observation per poll, one state per app.

Every source (Argo CD, Flux, commit statuses, the bundled reconciler) turns its own payload into an
:class:`Observation` in the same vocabulary; :mod:`promoter.observe.machine` turns observations into a
:class:`DeploymentState`. Keeping the vocabulary small is what lets one state machine serve four sources.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

#: pending: the deployment has not picked up the change yet; progressing: it is applying or rolling out
#: the change; healthy: done; failed: the change was applied and broke, or could not be applied.
Phase = Literal["pending", "progressing", "healthy", "failed"]
#: A source's view of the workload's health, in Argo CD's words (Flux and the others map onto them).
Health = Literal["Healthy", "Progressing", "Degraded", "Missing", "Suspended", "Unknown"]
#: How an observed revision relates to the commit promoter pushed.
Match = Literal["current", "other", "unknown"]
#: How a whole wait ended.
OutcomeStatus = Literal["healthy", "failed", "timeout", "interrupted"]

TERMINAL_PHASES: tuple[Phase, ...] = ("healthy", "failed")


@dataclass(frozen=True)
class FailingResource:
    """One object that keeps the deployment from being healthy, with the operator's own words."""

    kind: str
    name: str
    message: str = ""
    namespace: str | None = None
    status: str = ""

    def __str__(self) -> str:
        detail = self.message or self.status
        if not self.name:
            return detail
        text = f'{self.kind} "{self.name}"' if self.kind else f'"{self.name}"'
        return f"{text}: {detail}" if detail else text

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
            "status": self.status,
            "message": self.message,
        }


@dataclass(frozen=True)
class Observation:
    """What one poll of a source saw, normalised.

    ``revisions`` are the commits the deployment reports as its desired or applied state (Argo CD
    ``status.sync.revision(s)``, Flux ``lastAppliedRevision``); ``attempted`` are the commits of the
    newest attempt (an Argo CD sync operation, Flux ``lastAttemptedRevision``). ``attempt_failed`` says
    that attempt ended in a failure the operator will not retry by itself.
    """

    found: bool = True
    revisions: tuple[str, ...] = ()
    attempted: tuple[str, ...] = ()
    in_sync: bool = False
    busy: bool = False
    health: Health = "Unknown"
    attempt_failed: bool = False
    #: the source cannot name revisions; its readiness alone is trusted (see the source's docs)
    revision_blind: bool = False
    #: the status describes an older spec than the live one (Argo CD ``comparedTo`` differs from ``spec``)
    stale: bool = False
    #: source-native words for the progress line, e.g. "OutOfSync", "Synced", "Reconciling"
    sync_label: str = ""
    message: str = ""
    failing: tuple[FailingResource, ...] = ()


@dataclass(frozen=True)
class DeploymentState:
    """Where one app's deployment stands after the latest poll."""

    env: str
    app: str
    phase: Phase = "pending"
    revision: str | None = None  # the newest revision the source reported (full sha when it gave one)
    sync: str = ""
    health: str = "Unknown"
    message: str = ""
    failing: tuple[FailingResource, ...] = ()
    seconds: float = 0.0
    settling: bool = False
    retrying: str | None = None  # the last transient error, while polls keep failing

    @property
    def name(self) -> str:
        return f"{self.env}/{self.app}"

    @property
    def done(self) -> bool:
        return self.phase in TERMINAL_PHASES

    @property
    def word(self) -> str:
        """One word for the progress line: the most telling of sync and health."""
        if self.phase == "failed":
            return self.health if self.health in ("Degraded", "Missing") else "Failed"
        if self.phase == "healthy":
            return "Healthy"
        if self.phase == "pending":
            return self.sync or "Pending"
        if self.settling:
            return "Settling"
        if self.sync and self.sync not in ("Synced", "Ready", "Applied"):
            return self.sync
        return self.health if self.health not in ("Unknown", "Healthy") else "Progressing"

    def problem(self) -> str:
        """The failing resources and their messages, or the source's message, on one line."""
        if self.failing:
            return "; ".join(str(resource) for resource in self.failing)
        return self.message

    def as_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "app": self.app,
            "status": self.phase,
            "revision": self.revision,
            "sync": self.sync,
            "health": self.health,
            "message": self.message,
            "seconds": round(self.seconds, 1),
            "failing": [resource.as_dict() for resource in self.failing],
        }


@dataclass
class Outcome:
    """The end of a wait: every app's last state and how the whole wait ended."""

    status: OutcomeStatus
    states: list[DeploymentState] = field(default_factory=list)
    seconds: float = 0.0
    revision: str | None = None

    @property
    def failed(self) -> list[DeploymentState]:
        return [state for state in self.states if state.phase == "failed"]

    @property
    def waiting(self) -> list[DeploymentState]:
        return [state for state in self.states if not state.done]

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "revision": self.revision,
            "seconds": round(self.seconds, 1),
            "apps": [state.as_dict() for state in self.states],
        }

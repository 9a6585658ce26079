"""The wait loop: poll every target until all are healthy, one has failed, the deadline passes, or a stop.

* One operator call per target per poll (:mod:`promoter.observe.source`); targets poll in turn.
* The first successful poll of a target passes ``refresh=True`` (Argo CD refresh, Flux reconcile request).
* Transient errors (5xx, 429, timeouts) back off per target (``poll``, doubled per failure up to
  :data:`MAX_BACKOFF`, or the server's ``Retry-After``) until the deadline; they are never a failed deploy.
* :class:`SourceAccessDenied` (401/403) is raised at once: exit 1.
* The deadline holds to within one poll: the loop sleeps at most until the deadline, polls nothing at
  or after it, and a request in flight gets only the time left (its ``budget``). So a minute of waiting
  makes at most 60 / ``poll`` calls per target (12 at the default 5 s).
* ``stop`` (set by a SIGTERM handler in the command line) ends the wait with status ``interrupted``.
* The first failed target ends the wait (exit 6): the pipeline should not sit out a broken deploy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from promoter.observe.ancestry import Ancestry
from promoter.observe.machine import Tracker
from promoter.observe.model import DeploymentState, Outcome, OutcomeStatus
from promoter.observe.narrate import Narrator
from promoter.observe.source import SourceUnavailable, Target

MAX_BACKOFF = 60.0


@dataclass(frozen=True)
class WaitSettings:
    poll_seconds: float = 5.0
    timeout_seconds: float = 600.0
    settle_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.poll_seconds <= 0 or self.timeout_seconds <= 0 or self.settle_seconds < 0:
            raise ValueError("poll and timeout must be positive, settle not negative")


@dataclass
class _Slot:
    target: Target
    tracker: Tracker
    next_poll: float
    refreshed: bool = False
    errors: int = 0
    polls: int = 0

    @property
    def state(self) -> DeploymentState:
        return self.tracker.state


class Waiter:
    """Runs one wait. ``clock`` and ``stop`` are injectable so tests run without real sleeps."""

    def __init__(
        self,
        targets: Sequence[Target],
        ancestry: Ancestry,
        settings: WaitSettings,
        *,
        narrator: Narrator | None = None,
        clock: Callable[[], float] = time.monotonic,
        stop: threading.Event | None = None,
    ) -> None:
        self.targets = list(targets)
        self.ancestry = ancestry
        self.settings = settings
        self.narrator = narrator or Narrator()
        self.clock = clock
        self.stop = stop or threading.Event()
        self.slots: list[_Slot] = []
        self.started = 0.0

    def run(self) -> Outcome:
        self.started = start = self.clock()
        deadline = start + self.settings.timeout_seconds
        self.slots = [
            _Slot(t, Tracker(t.env, ",".join(t.apps), settle_seconds=self.settings.settle_seconds), start)
            for t in self.targets
        ]
        try:
            while True:
                for slot in self.slots:
                    now = self.clock()
                    if slot.state.done or now < slot.next_poll or now >= deadline:
                        continue
                    self._poll(slot, deadline)
                    if slot.state.phase == "failed":
                        return self._outcome("failed")
                    if self.stop.is_set():
                        return self._outcome("interrupted")
                if all(slot.state.done for slot in self.slots):
                    return self._outcome("healthy")
                now = self.clock()
                for slot in self.slots:
                    if not slot.state.done:
                        self.narrator.heartbeat(slot.target.name, slot.target.label, self._elapsed(slot), now)
                if now >= deadline:
                    return self._outcome("timeout")
                wake = min([deadline] + [slot.next_poll for slot in self.slots if not slot.state.done])
                beat = self.narrator.next_heartbeat()
                if beat is not None:
                    wake = min(wake, max(beat, now))
                if self.stop.wait(max(wake - now, 0.0)):
                    return self._outcome("interrupted")
        finally:
            for target in self.targets:
                target.source.close()

    def _poll(self, slot: _Slot, deadline: float) -> None:
        now = self.clock()
        slot.polls += 1
        try:
            observation = slot.target.source.observe(
                refresh=not slot.refreshed, budget=max(deadline - now, 0.0)
            )
        except SourceUnavailable as exc:
            slot.errors += 1
            delay = exc.retry_after or min(self.settings.poll_seconds * 2 ** (slot.errors - 1), MAX_BACKOFF)
            after = self.clock()
            slot.next_poll = after + max(delay, self.settings.poll_seconds)
            state = slot.tracker.retrying(exc.message, now=after, started=self.started)
            self.narrator.update(slot.target.name, slot.target.label, state, after)
            return
        slot.refreshed = True
        slot.errors = 0
        current = self.ancestry.any_current(observation.revisions)
        attempt_current = self.ancestry.any_current(observation.attempted)
        revision = next(
            (r for r in observation.revisions if self.ancestry.match(r) == "current"),
            observation.revisions[0] if observation.revisions else None,
        )
        after = self.clock()
        state = slot.tracker.advance(
            observation,
            now=after,
            started=self.started,
            current=current,
            attempt_current=attempt_current,
            revision=revision,
        )
        slot.next_poll = now + self.settings.poll_seconds
        self.narrator.update(slot.target.name, slot.target.label, state, after)

    def _elapsed(self, slot: _Slot) -> DeploymentState:
        return slot.tracker.elapsed(now=self.clock(), started=self.started)

    def _outcome(self, status: OutcomeStatus) -> Outcome:
        now = self.clock()
        states: list[DeploymentState] = []
        for slot in self.slots:
            state = slot.state if slot.state.done else self._elapsed(slot)
            states.extend(replace(state, app=app) for app in slot.target.apps)
        return Outcome(
            status=status,
            states=states,
            seconds=now - self.started,
            revision=self.ancestry.revision,
        )

    @property
    def polls(self) -> int:
        return sum(slot.polls for slot in self.slots)


def wait_for(
    targets: Sequence[Target],
    ancestry: Ancestry,
    settings: WaitSettings,
    *,
    stop: threading.Event | None = None,
    narrator: Narrator | None = None,
) -> Outcome:
    """Wait for every target (see the module docstring); returns how the wait ended."""
    return Waiter(targets, ancestry, settings, stop=stop, narrator=narrator).run()

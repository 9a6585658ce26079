"""The accepted close events waiting for the worker: bounded, and one entry per request.

A delivery is answered as soon as its event is here. Duplicates (a forge's redelivery, a close followed by
a merge) coalesce into the entry already waiting, so a burst of events costs one entry per request; a new
request when ``capacity`` requests are already waiting is refused with :class:`QueueFull` (HTTP 503 with
``Retry-After``). Events taken out for a round that then failed are put back (:meth:`restore`) even past
the capacity: they were accepted, and only the periodic preview GC may stand in for them.
"""

from __future__ import annotations

import threading
import time
from typing import Literal

from promoter.hook.events import CloseEvent

DEFAULT_CAPACITY = 1000
DEFAULT_RETRY_AFTER = 30


class QueueFull(Exception):
    """No room for another request; ask the sender to come back in ``retry_after`` seconds."""

    def __init__(self, capacity: int, retry_after: int) -> None:
        super().__init__(f"{capacity} requests are waiting to be handled")
        self.retry_after = retry_after


def _newer(candidate: CloseEvent, current: CloseEvent) -> bool:
    """Keep the event that says the most recent thing about the request."""
    new, old = candidate.moment, current.moment
    return new is not None and (old is None or new > old)


class DeletionQueue:
    """Thread-safe; any number of producers (the receiver), one consumer (the worker)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, *, retry_after: int = DEFAULT_RETRY_AFTER) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.retry_after = retry_after
        self._pending: dict[tuple[str, str, int], CloseEvent] = {}
        self._changed = threading.Condition()
        self._woken = False
        self._in_flight = 0  # events taken and not yet finished, plus other work (a sweep)

    def offer(self, event: CloseEvent) -> Literal["queued", "coalesced"]:
        """Add ``event``; "coalesced" when its request is already waiting. Raises :class:`QueueFull`."""
        with self._changed:
            current = self._pending.get(event.key)
            if current is not None:
                if _newer(event, current):
                    self._pending[event.key] = event
                return "coalesced"
            if len(self._pending) >= self.capacity:
                raise QueueFull(self.capacity, self.retry_after)
            self._pending[event.key] = event
            if len(self._pending) == 1:  # only an empty queue has a worker waiting on it
                self._changed.notify_all()
            return "queued"

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (None: until :meth:`wake`) for something to arrive; True if it
        did. Producers wake a waiting worker only when the queue stops being empty, not per event."""
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        with self._changed:
            while not self._pending and not self._woken:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._changed.wait(remaining)
            self._woken = False
            return bool(self._pending)

    def take(self, timeout: float | None = 0.0) -> list[CloseEvent]:
        """Everything waiting, oldest first, after waiting as :meth:`wait` does ([] if nothing came)."""
        if timeout != 0.0:
            self.wait(timeout)
        with self._changed:
            taken = list(self._pending.values())
            self._pending.clear()
            self._in_flight += len(taken)
            return taken

    def finish(self, count: int) -> None:
        """``count`` taken events are dealt with (done, dropped or restored)."""
        with self._changed:
            self._in_flight -= count
            self._changed.notify_all()

    def hold(self) -> None:
        """Count other work (a sweep) as in flight until ``finish(1)``, so :meth:`wait_idle` waits for it."""
        with self._changed:
            self._in_flight += 1

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing waits and nothing is in flight; False after ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._pending and self._in_flight == 0, timeout)

    def restore(self, events: list[CloseEvent]) -> None:
        """Put back events of a failed round; newer deliveries that arrived meanwhile win."""
        with self._changed:
            for event in events:
                current = self._pending.get(event.key)
                if current is None or _newer(event, current):
                    self._pending[event.key] = event

    def wake(self) -> None:
        """End a :meth:`take` that is waiting (the worker is asked to stop)."""
        with self._changed:
            self._woken = True
            self._changed.notify_all()

    def __len__(self) -> int:
        with self._changed:
            return len(self._pending)

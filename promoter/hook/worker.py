"""The one thread that acts on accepted events, and on the clock.

Each *round* takes every event waiting in the :class:`~promoter.hook.queue.DeletionQueue` and hands them
to ``run_round`` at once (the preview handler deletes all their previews in one commit), so a burst of
deliveries costs a few commits, not one push race per delivery. A round that fails for a reason that is
not about one event (git or the forge unreachable, the config broken, the branch kept moving) puts its
events back and the next round waits, doubling from ``retry_min`` up to ``retry_max`` seconds. A round
refused because of one event's preview (an unsafe file, say) is split into one round per event, so only
that event is dropped, with an error line; the periodic sweep then decides about its preview. A round that
could decide only some of its events raises :class:`Retry` with the others, which go back to the queue.

Every ``gc_interval`` seconds (first at start, so previews whose events a crash lost go soon) the worker
runs ``sweep`` (the fail-closed preview GC). :meth:`Worker.stop` lets the current round finish, then
drains what is waiting for up to ``drain_timeout`` seconds; anything left is logged and left to the sweep
of the next start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from promoter import masking
from promoter.errors import InputError, PromoterError, RefusedError
from promoter.hook.events import CloseEvent
from promoter.hook.queue import DeletionQueue

LOG = logging.getLogger("promoter.hook")

RunRound = Callable[[list[CloseEvent]], str]
"""Act on a batch of events; returns a one-line summary for the log. Raises on failure."""
Sweep = Callable[[], str]

DEFAULT_GC_INTERVAL = 15 * 60.0
DEFAULT_DRAIN_TIMEOUT = 20.0
DEFAULT_GATHER = 0.25
"""Seconds a round waits after the first event arrives, so a burst is handled in one round."""
RETRY_MIN = 1.0
RETRY_MAX = 60.0
# Errors about one event's preview rather than about the round: retrying the same batch cannot help.
_EVENT_ERRORS = (InputError, RefusedError)


class Retry(Exception):
    """A round did what it could; ``events`` must be tried again later (the forge did not answer for them)."""

    def __init__(self, summary: str, events: list[CloseEvent]) -> None:
        super().__init__(summary)
        self.summary = summary
        self.events = events


def _describe(event: CloseEvent) -> str:
    return f"{event.forge} {masking.mask(event.project)}!{event.request_id}"


class Worker:
    """Drains ``queue`` in rounds and runs ``sweep`` periodically, on one background thread."""

    def __init__(
        self,
        queue: DeletionQueue,
        run_round: RunRound,
        sweep: Sweep | None = None,
        *,
        gc_interval: float = DEFAULT_GC_INTERVAL,
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
        retry_min: float = RETRY_MIN,
        retry_max: float = RETRY_MAX,
        gather: float = DEFAULT_GATHER,
    ) -> None:
        self.queue = queue
        self.run_round = run_round
        self.sweep = sweep if gc_interval > 0 else None
        self.gc_interval = gc_interval
        self.drain_timeout = drain_timeout
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.gather = gather
        self.rounds = 0
        self.sweeps = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hook-worker", daemon=True)

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.sweep is not None:
            self.queue.hold()  # the first sweep is due at once: idle only after it
        self._thread.start()

    def stop(self, timeout: float | None = None) -> int:
        """Finish the current round, drain for up to ``drain_timeout`` s; return how many were left."""
        self._stopping.set()
        self.queue.wake()
        if self._thread.is_alive():
            self._thread.join(self.drain_timeout + 30.0 if timeout is None else timeout)
        return len(self.queue)

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing waits and no round or sweep runs (for tests and benchmarks)."""
        return self.queue.wait_idle(timeout)

    # -- the loop -------------------------------------------------------------------------------------
    def _run(self) -> None:
        next_sweep = time.monotonic() if self.sweep is not None else None
        held = self.sweep is not None  # start() holds the queue for the first sweep
        backoff = 0.0
        retry_at = 0.0
        while not self._stopping.is_set():
            now = time.monotonic()
            if next_sweep is not None and now >= next_sweep:
                if not held:
                    self.queue.hold()
                held = False
                self._sweep()
                next_sweep = time.monotonic() + self.gc_interval
                continue
            until_sweep = None if next_sweep is None else next_sweep - now
            if now < retry_at:  # the last round failed: let events gather, then try them all again
                wait = retry_at - now if until_sweep is None else min(retry_at - now, until_sweep)
                self._stopping.wait(wait)
                continue
            if not self.queue.wait(until_sweep):
                continue
            if self.gather > 0:
                self._stopping.wait(self.gather)  # let the rest of a burst arrive (no wake-up per event)
            batch = self.queue.take()
            if self._finished(batch, self._round(batch)):
                backoff = 0.0
            else:
                backoff = min(max(backoff * 2, self.retry_min), self.retry_max)
                retry_at = time.monotonic() + backoff
                LOG.warning("hook: next attempt in %.0f s", backoff)
        if held:
            self.queue.finish(1)
        self._drain()

    def _finished(self, batch: list[CloseEvent], ok: bool) -> bool:
        self.queue.finish(len(batch))
        return ok

    def _drain(self) -> None:
        deadline = time.monotonic() + self.drain_timeout
        while len(self.queue) and time.monotonic() < deadline:
            batch = self.queue.take()
            if not self._finished(batch, self._round(batch)):
                break
        left = len(self.queue)
        if left:
            LOG.warning(
                "hook: stopping with %d request(s) not handled; the preview GC of the next start deletes "
                "their previews",
                left,
            )

    def _round(self, batch: list[CloseEvent]) -> bool:
        """One round; False when it failed and its events went back to the queue."""
        self.rounds += 1
        try:
            summary = self.run_round(batch)
        except Retry as partial:
            self.queue.restore(partial.events)
            LOG.warning("hook: %s; %d request(s) to try again", partial.summary, len(partial.events))
            return False
        except _EVENT_ERRORS as exc:
            if len(batch) > 1:
                LOG.warning("hook: a round of %d requests was refused (%s); one round each", len(batch), exc)
                results = [self._round([event]) for event in batch]
                return all(results)
            LOG.error(
                "hook: cannot delete the preview of %s: %s; left to the preview GC", _describe(batch[0]), exc
            )
            return True
        except PromoterError as exc:
            self.queue.restore(batch)
            LOG.warning("hook: round of %d request(s) failed: %s", len(batch), exc)
            return False
        except Exception as exc:  # a bug must not end the worker: keep the events, log, go on
            self.queue.restore(batch)
            LOG.error("hook: round of %d request(s) failed: %s", len(batch), masking.mask(repr(exc)))
            LOG.debug("hook: round failure", exc_info=True)
            return False
        LOG.info("hook: %s", summary)
        return True

    def _sweep(self) -> None:
        assert self.sweep is not None
        self.sweeps += 1
        try:
            LOG.info("hook: preview gc: %s", self.sweep())
        except PromoterError as exc:
            LOG.warning("hook: preview gc failed: %s", exc)
        except Exception as exc:
            LOG.error("hook: preview gc failed: %s", masking.mask(repr(exc)))
            LOG.debug("hook: preview gc failure", exc_info=True)
        finally:
            self.queue.finish(1)  # the hold taken for this sweep

"""The receiver's queue (bounded, coalescing) and its worker (rounds, retries, sweeps, drain on stop)."""

from __future__ import annotations

import logging
import threading

import pytest

from promoter.errors import ConcurrencyError, GitError, UnsafeTargetError
from promoter.hook import CloseEvent, DeletionQueue, QueueFull, Worker, parse_event_time


def event(number: int, *, project: str = "acme/api", updated_at: str | None = None) -> CloseEvent:
    return CloseEvent("gitlab", project, number, "closed", f"feature-{number}", updated_at=updated_at)


# --- the queue ------------------------------------------------------------------------------------------
def test_duplicates_coalesce_and_the_newest_event_wins() -> None:
    queue = DeletionQueue(capacity=10)
    assert queue.offer(event(1, updated_at="2024-01-01T10:00:00Z")) == "queued"
    assert queue.offer(event(1, project="ACME/api", updated_at="2024-01-01T12:00:00Z")) == "coalesced"
    assert queue.offer(event(1, updated_at="2024-01-01T11:00:00Z")) == "coalesced"  # older: ignored
    assert queue.offer(event(1)) == "coalesced"  # no time: ignored
    assert [(e.project, e.updated_at) for e in queue.take(0)] == [("ACME/api", "2024-01-01T12:00:00Z")]


def test_a_full_queue_refuses_new_requests_but_keeps_what_it_accepted() -> None:
    queue = DeletionQueue(capacity=2, retry_after=9)
    queue.offer(event(1))
    queue.offer(event(2))
    with pytest.raises(QueueFull) as raised:
        queue.offer(event(3))
    assert raised.value.retry_after == 9
    assert queue.offer(event(2)) == "coalesced"
    taken = queue.take(0)
    queue.offer(event(3))
    queue.offer(event(4))
    queue.restore(taken)  # a failed round's events go back even past the capacity
    assert sorted(e.request_id for e in queue.take(0)) == [1, 2, 3, 4]


def test_take_waits_for_an_event_or_a_wake_up() -> None:
    queue = DeletionQueue()
    assert queue.take(0.01) == []
    threading.Timer(0.01, queue.offer, [event(5)]).start()
    assert [e.request_id for e in queue.take(10)] == [5]
    threading.Timer(0.01, queue.wake).start()
    assert queue.take(None) == []


def test_event_times_in_every_forge_format() -> None:
    moment = parse_event_time("2013-12-03T17:23:34Z")
    assert moment is not None and moment.isoformat() == "2013-12-03T17:23:34+00:00"
    assert parse_event_time("2013-12-03 17:23:34 UTC") == moment
    assert parse_event_time("2013-12-03T18:23:34+01:00") == moment
    for bad in ["", "2013-12-03", "yesterday", "2013-13-03T17:23:34Z"]:
        assert parse_event_time(bad) is None


# --- the worker -----------------------------------------------------------------------------------------
class Rounds:
    """A ``run_round`` double: records batches, fails as scripted, signals each call."""

    def __init__(self, *failures: BaseException | None) -> None:
        self.failures = list(failures)
        self.batches: list[list[int]] = []
        self.called = threading.Semaphore(0)

    def __call__(self, events: list[CloseEvent]) -> str:
        self.batches.append(sorted(e.request_id for e in events))
        self.called.release()
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        return f"{len(events)} handled"


@pytest.fixture
def hook_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="promoter.hook")
    return caplog


def test_a_round_takes_everything_waiting() -> None:
    queue = DeletionQueue()
    for number in (1, 2, 3):
        queue.offer(event(number))
    rounds = Rounds()
    worker = Worker(queue, rounds, gc_interval=0)
    worker.start()
    assert worker.wait_idle(10)
    worker.stop()
    assert rounds.batches == [[1, 2, 3]]


@pytest.mark.parametrize(
    "failure", [GitError("cannot fetch"), ConcurrencyError("kept moving"), KeyError("x")]
)
def test_a_failed_round_is_retried_with_what_arrived_meanwhile(failure: Exception, hook_log) -> None:
    queue = DeletionQueue()
    queue.offer(event(1))
    rounds = Rounds(failure)
    worker = Worker(queue, rounds, gc_interval=0, retry_min=0.01)
    worker.start()
    assert rounds.called.acquire(timeout=10)
    queue.offer(event(2))
    assert worker.wait_idle(10)
    worker.stop()
    assert rounds.batches[0] == [1]
    assert rounds.batches[-1] == [1, 2]
    assert any("failed" in line for line in hook_log.messages)


def test_an_event_refused_on_its_own_is_dropped_and_the_others_are_handled(hook_log) -> None:
    unsafe = UnsafeTargetError("unsafe target: apps/x.yaml is a symbolic link")
    queue = DeletionQueue()
    for number in (1, 2, 3):
        queue.offer(event(number))

    def run_round(events: list[CloseEvent]) -> str:
        if any(e.request_id == 2 for e in events):
            raise unsafe
        return "ok"

    worker = Worker(queue, run_round, gc_interval=0)
    worker.start()
    assert worker.wait_idle(10)
    worker.stop()
    assert worker.rounds == 4  # the batch, then one round per event
    assert any("acme/api!2" in line and "left to the preview GC" in line for line in hook_log.messages)


def test_the_sweep_runs_at_start_and_then_periodically() -> None:
    sweeps = threading.Semaphore(0)

    def sweep() -> str:
        sweeps.release()
        return "swept"

    worker = Worker(DeletionQueue(), Rounds(), sweep, gc_interval=0.01)
    worker.start()
    try:
        for _ in range(3):
            assert sweeps.acquire(timeout=10)
    finally:
        worker.stop()
    assert worker.sweeps >= 3


def test_gc_interval_zero_turns_the_sweep_off() -> None:
    called: list[int] = []
    worker = Worker(DeletionQueue(), Rounds(), lambda: str(called.append(1)), gc_interval=0)
    worker.start()
    worker.stop()
    assert called == [] and worker.sweep is None


def test_a_failing_sweep_does_not_stop_the_worker(hook_log) -> None:
    def sweep() -> str:
        raise GitError("cannot fetch dynamic-envs")

    queue = DeletionQueue()
    worker = Worker(queue, Rounds(), sweep, gc_interval=3600)
    worker.start()
    queue.offer(event(1))
    assert worker.wait_idle(10)
    worker.stop()
    assert worker.sweeps == 1 and worker.rounds == 1
    assert any("preview gc failed: cannot fetch" in line for line in hook_log.messages)


def test_stop_finishes_the_round_and_drains_what_is_waiting() -> None:
    queue = DeletionQueue()
    release = threading.Event()
    batches: list[list[int]] = []

    def run_round(events: list[CloseEvent]) -> str:
        batches.append(sorted(e.request_id for e in events))
        assert release.wait(10)
        return "ok"

    worker = Worker(queue, run_round, gc_interval=0)
    worker.start()
    queue.offer(event(1))
    while not batches:
        release.wait(0.001)
    queue.offer(event(2))
    queue.offer(event(3))
    stopper = threading.Thread(target=lambda: batches.append([worker.stop()]))
    stopper.start()
    release.set()
    stopper.join(10)
    assert batches == [[1], [2, 3], [0]]  # the last entry: how many were left


def test_stop_leaves_what_it_cannot_drain_to_the_next_sweep(hook_log) -> None:
    queue = DeletionQueue()
    queue.offer(event(1))
    queue.offer(event(2))
    worker = Worker(queue, Rounds(GitError("unreachable")), gc_interval=0, drain_timeout=0.0)
    worker.start()
    assert worker.stop() == 2  # the round failed (or never ran) and there is no time left to drain
    assert any("2 request(s) not handled" in line for line in hook_log.messages)


# --- the cached session -----------------------------------------------------------------------------------
def test_the_session_is_kept_and_read_again_once_it_is_old() -> None:
    from promoter.hook.previews import PreviewJobs

    opened: list[object] = []

    def open_session() -> object:
        opened.append(object())
        return opened[-1]

    jobs = PreviewJobs(open_session, refresh_after=3600)  # type: ignore[arg-type]
    assert jobs.session() is jobs.session() is opened[0]
    jobs.refresh_after = 0
    assert jobs.session() is opened[1] and jobs.session() is opened[2]


def test_events_a_round_could_not_decide_go_back_alone(hook_log) -> None:
    from promoter.hook.worker import Retry

    queue = DeletionQueue()
    for number in (1, 2, 3):
        queue.offer(event(number))
    batches: list[list[int]] = []

    def run_round(events: list[CloseEvent]) -> str:
        batches.append(sorted(e.request_id for e in events))
        if len(batches) == 1:
            raise Retry("2 deleted", [e for e in events if e.request_id == 3])
        return "done"

    worker = Worker(queue, run_round, gc_interval=0, retry_min=0.01)
    worker.start()
    assert worker.wait_idle(10)
    worker.stop()
    assert batches == [[1, 2, 3], [3]]
    assert any("1 request(s) to try again" in line for line in hook_log.messages)

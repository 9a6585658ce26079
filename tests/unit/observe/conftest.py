"""A fake clock for the wait loop: ``stop.wait(seconds)`` advances time instead of sleeping."""

from __future__ import annotations

import threading

import pytest


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.stop = FakeStop(self)
        self.on_sleep: list = []  # callbacks(now) run after each sleep (change the world mid-wait)

    def clock(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeStop(threading.Event):
    def __init__(self, time: FakeTime) -> None:
        super().__init__()
        self._time = time

    def wait(self, timeout: float | None = None) -> bool:
        if self.is_set():
            return True
        seconds = timeout or 0.0
        self._time.sleeps.append(seconds)
        self._time.advance(seconds)
        for callback in list(self._time.on_sleep):
            callback(self._time.now)
        return self.is_set()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()

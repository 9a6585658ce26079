from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest

from promoter import masking, progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    yield out
    progress.configure()


def test_quick_work_prints_nothing(stream: io.StringIO) -> None:
    progress.configure(stream=stream, tty=False, interval=5, delay=1)
    clock = FakeClock()
    reporter = progress.Progress("clone", clock=clock)
    clock.now += 0.5
    reporter.update(10)
    reporter.close()
    assert stream.getvalue() == ""


def test_ci_log_gets_one_line_per_interval_and_a_closing_line(stream: io.StringIO) -> None:
    progress.configure(stream=stream, tty=False, interval=10, delay=1)
    clock = FakeClock()
    reporter = progress.Progress("edit values.yaml", total=4 * 1024 * 1024, unit="B", clock=clock)
    for step in range(1, 31):
        clock.now += 1
        reporter.update(step * 100 * 1024)
    reporter.close()
    lines = stream.getvalue().splitlines()
    # shown at 1 s, 11 s, 21 s and the closing line; no carriage returns in a log
    assert len(lines) == 4, lines
    assert "\r" not in stream.getvalue()
    assert lines[0].startswith("edit values.yaml: 2% (100.0 KB of 4.0 MB)")
    assert lines[-1] == "edit values.yaml: done (30.0 s)"


def test_terminal_redraws_one_line_with_a_bar(stream: io.StringIO) -> None:
    progress.configure(stream=stream, tty=True, interval=10, delay=0)
    clock = FakeClock()
    reporter = progress.Progress("prune", total=10, unit="objects", clock=clock)
    reporter.update(5)
    reporter.close("3 deleted")
    text = stream.getvalue()
    assert text.startswith("\r\x1b[K[" + "#" * 12 + "-" * 12 + "] prune: 50% (5 objects of 10 objects)")
    assert text.endswith("prune: 3 deleted (0.0 s)\n")


def test_disabled_prints_nothing(stream: io.StringIO) -> None:
    progress.configure(enabled=False, stream=stream, tty=False, delay=0)
    reporter = progress.progress("gc", total=3)
    reporter.advance()
    reporter.close()
    assert stream.getvalue() == ""


def test_lines_are_masked(stream: io.StringIO) -> None:
    masking.register_secret("s3cr3t-token")
    progress.configure(stream=stream, tty=False, delay=0)
    reporter = progress.progress("fetch https://s3cr3t-token@git.example.com/env.git")
    reporter.update(1)
    assert "s3cr3t-token" not in stream.getvalue()
    assert "***@git.example.com" in stream.getvalue()


def _wait_for_output(stream: io.StringIO, lines: int) -> None:
    """Block until the heartbeat thread wrote ``lines`` lines (a loaded machine may delay it)."""
    deadline = time.monotonic() + 30
    while len(stream.getvalue().splitlines()) < lines and time.monotonic() < deadline:
        time.sleep(0.01)


def test_heartbeat_shows_a_silent_wait(stream: io.StringIO) -> None:
    progress.configure(stream=stream, tty=False, interval=0.05, delay=0)
    with progress.heartbeat("clone https://git.example.com/env.git", every=0.02):
        _wait_for_output(stream, 2)
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 2
    assert lines[0].startswith("clone https://git.example.com/env.git: ")
    assert lines[-1].startswith("clone https://git.example.com/env.git: done")


def test_heartbeat_reports_a_failure(stream: io.StringIO) -> None:
    progress.configure(stream=stream, tty=False, interval=0.01, delay=0)
    with pytest.raises(RuntimeError), progress.heartbeat("push", every=0.01):
        _wait_for_output(stream, 1)
        raise RuntimeError("boom")
    assert stream.getvalue().splitlines()[-1].startswith("push: stopped")

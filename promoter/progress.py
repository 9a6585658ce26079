"""Progress of long work on stderr: a bar in a terminal, a periodic line in CI logs.

Quick work prints nothing: a reporter stays silent for its first ``delay`` seconds. In a terminal it then
redraws one line (``\\r``) with a bar when the total is known; elsewhere (CI logs, files) it writes one
plain line at most every ``interval`` seconds and one closing line, so a log shows the work is alive
without a spinner's noise.

Library code creates reporters with :func:`progress` and never decides where they print: the command
line calls :func:`configure` once (``-q`` turns them off). Every line goes through :mod:`promoter.masking`.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

from promoter import masking

BAR_WIDTH = 24


@dataclass
class _Settings:
    enabled: bool = True
    stream: TextIO | None = None  # None: sys.stderr at the time of writing
    tty: bool | None = None  # None: ask the stream
    interval: float = 10.0  # seconds between plain lines (CI logs)
    delay: float = 1.0  # stay silent this long


_settings = _Settings()
_lock = threading.Lock()


def configure(
    *,
    enabled: bool = True,
    stream: TextIO | None = None,
    tty: bool | None = None,
    interval: float | None = None,
    delay: float | None = None,
) -> None:
    """Set where and how reporters print (the command line calls this; tests pass a stream)."""
    env_interval = os.environ.get("PROMOTER_PROGRESS_INTERVAL")
    _settings.enabled = enabled
    _settings.stream = stream
    _settings.tty = tty
    _settings.interval = interval if interval is not None else float(env_interval or 10.0)
    _settings.delay = delay if delay is not None else 1.0


def _stream() -> TextIO:
    return _settings.stream if _settings.stream is not None else sys.stderr


def _is_tty(stream: TextIO) -> bool:
    if _settings.tty is not None:
        return _settings.tty
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


def _human(value: float, unit: str) -> str:
    if unit == "B":
        for suffix in ("B", "KB", "MB", "GB"):
            if value < 1024 or suffix == "GB":
                return f"{value:.0f} {suffix}" if suffix == "B" else f"{value:.1f} {suffix}"
            value /= 1024
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return f"{text} {unit}".rstrip()


class Progress:
    """One long step. Call :meth:`update` or :meth:`advance` as work gets done, :meth:`close` at the end."""

    def __init__(
        self,
        label: str,
        total: float | None = None,
        unit: str = "",
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0.0
        self.detail = ""
        self._clock = clock
        self._started = clock()
        self._last_line = self._started
        self._drawn = False  # a terminal line is on screen and needs a newline at the end
        self._shown = False  # anything was printed
        self._closed = False

    # -- feeding -----------------------------------------------------------------------------------
    def update(self, done: float, total: float | None = None, detail: str | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        if detail is not None:
            self.detail = detail
        self._maybe_show()

    def advance(self, amount: float = 1, detail: str | None = None) -> None:
        self.update(self.done + amount, detail=detail)

    def close(self, summary: str | None = None) -> None:
        """End the step; prints a closing line only when something was shown before."""
        if self._closed:
            return
        self._closed = True
        if not _settings.enabled or not self._shown:
            return
        stream = _stream()
        text = f"{self.label}: {summary or 'done'} ({self.elapsed():.1f} s)"
        with _lock:
            if self._drawn:
                stream.write("\r\x1b[K")
            stream.write(masking.mask(text) + "\n")
            stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.close(None if exc_type is None else "stopped")

    # -- showing -----------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return self._clock() - self._started

    def describe(self) -> str:
        """The current state as one line (without the label's elapsed suffix)."""
        parts = [self.label + ":"]
        if self.total:
            fraction = min(max(self.done / self.total, 0.0), 1.0)
            parts.append(f"{fraction * 100:.0f}%")
            parts.append(f"({_human(self.done, self.unit)} of {_human(self.total, self.unit)})")
        elif self.done:
            parts.append(_human(self.done, self.unit))
        if self.detail:
            parts.append(self.detail)
        parts.append(f"{self.elapsed():.0f} s")
        return " ".join(parts)

    def _bar(self) -> str:
        if not self.total:
            return ""
        filled = int(BAR_WIDTH * min(max(self.done / self.total, 0.0), 1.0))
        return "[" + "#" * filled + "-" * (BAR_WIDTH - filled) + "] "

    def _maybe_show(self) -> None:
        if not _settings.enabled or self._closed:
            return
        now = self._clock()
        if now - self._started < _settings.delay:
            return
        stream = _stream()
        if _is_tty(stream):
            with _lock:
                stream.write("\r\x1b[K" + masking.mask(self._bar() + self.describe()))
                stream.flush()
            self._drawn = self._shown = True
            return
        if self._shown and now - self._last_line < _settings.interval:
            return
        self._last_line = now
        with _lock:
            stream.write(masking.mask(self.describe()) + "\n")
            stream.flush()
        self._shown = True


def note(text: str) -> None:
    """Write one line to the progress stream: for waits that report changes rather than a fraction.

    The same stream and switch as the reporters (``-q`` silences it); masked; never a spinner.
    """
    if not _settings.enabled:
        return
    stream = _stream()
    with _lock:
        stream.write(masking.mask(text) + "\n")
        stream.flush()


def progress(label: str, total: float | None = None, unit: str = "") -> Progress:
    """A reporter for one long step (silent unless the step lasts longer than a second)."""
    return Progress(label, total, unit)


@contextmanager
def heartbeat(label: str, every: float | None = None) -> Iterator[Progress]:
    """A reporter whose state is re-shown by a background thread while the block runs.

    For waits that do not call :meth:`Progress.update` often (a clone, a network call): the thread calls
    ``update`` every ``every`` seconds (default: the configured interval) so CI logs see a line.
    """
    reporter = progress(label)
    stop = threading.Event()
    period = every if every is not None else max(min(_settings.interval, 10.0), 0.05)

    def beat() -> None:
        while not stop.wait(period):
            reporter.update(reporter.done)

    thread = threading.Thread(target=beat, name=f"progress:{label}", daemon=True)
    thread.start()
    try:
        yield reporter
    except BaseException:
        stop.set()
        thread.join()
        reporter.close("stopped")
        raise
    stop.set()
    thread.join()
    reporter.close()

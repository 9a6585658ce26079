"""Time limits for git's network commands: ``PROMOTER_GIT_TIMEOUT`` seconds without progress end them.

A server that accepts the connection and never answers must not hang a pipeline. Two mechanisms, one limit:

* HTTP(S): curl's low-speed limit (``http.lowSpeedLimit=1`` byte/s during ``http.lowSpeedTime`` seconds),
  passed through ``GIT_CONFIG_*`` variables in the child's environment, so git gives up on a silent server
  itself, whatever the command (also the blob fetches a partial clone makes on its own).
* SSH, ``git://`` and local remotes: :func:`run_watched` kills the command's process group when it printed
  nothing (no data, no progress line) for that long.

A slow transfer that still moves is never cut: both limits measure silence, not duration. The progress
lines git prints feed :func:`promoter.progress.heartbeat`, so a long clone or fetch shows it is alive.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from promoter import progress
from promoter.settings import seconds_setting

if TYPE_CHECKING:  # pragma: no cover
    from git import Git

TIMEOUT_VARIABLE = "PROMOTER_GIT_TIMEOUT"
DEFAULT_TIMEOUT = 60.0
QUIET_FOR = 1.0  # a git step shorter than this shows no progress at all
_PROGRESS = re.compile(
    r"^(remote: )?(Enumerating|Counting|Compressing|Receiving|Resolving|Writing|Updating files|Unpacking|"
    r"Checking|Filtering|Total|Delta|Finding|Indexing|Deltifying)\b"
)


def git_timeout(environ: Mapping[str, str] | None = None) -> float:
    """Seconds without progress after which a git network command is given up (``PROMOTER_GIT_TIMEOUT``)."""
    return seconds_setting(TIMEOUT_VARIABLE, DEFAULT_TIMEOUT, environ)


def low_speed_environment(environ: Mapping[str, str], timeout: float) -> dict[str, str]:
    """``GIT_CONFIG_*`` variables (appended to those in ``environ``) that make curl give up after
    ``timeout`` seconds below one byte per second."""
    try:
        index = int(environ.get("GIT_CONFIG_COUNT", "0") or "0")
    except ValueError:
        index = 0
    settings = {"http.lowSpeedLimit": "1", "http.lowSpeedTime": str(max(1, round(timeout)))}
    extra = {"GIT_CONFIG_COUNT": str(index + len(settings))}
    for offset, (key, value) in enumerate(settings.items()):
        extra[f"GIT_CONFIG_KEY_{index + offset}"] = key
        extra[f"GIT_CONFIG_VALUE_{index + offset}"] = value
    return extra


def curl_gave_up(stderr: str) -> bool:
    """True when git's stderr says curl ended the transfer for its low-speed limit."""
    lowered = stderr.lower()
    return "operation too slow" in lowered or "curl 28" in lowered


@dataclass(frozen=True)
class Finished:
    status: int
    out: str
    err: str  # stderr without progress lines
    stalled: bool  # killed after the timeout without progress


def run_watched(
    cmd: Git,
    args: Sequence[str],
    *,
    timeout: float | None,
    label: str,
    env: Mapping[str, str] | None = None,
) -> Finished:
    """Run ``git ARGS`` through GitPython's runner; kill it after ``timeout`` s of silence (None: never).

    stdout is returned whole; stderr without progress lines, whose latest becomes the heartbeat's detail.
    """
    handle = cmd.execute(
        [cmd.GIT_PYTHON_GIT_EXECUTABLE, *args],
        as_process=True,
        env=dict(env or {}),
        start_new_session=True,  # the group holds git's helpers (ssh, remote-https) too
    )
    proc = handle.proc
    assert proc is not None and proc.stdout is not None and proc.stderr is not None
    watch = _Activity()
    out_chunks: list[bytes] = []
    shown = _Heartbeat(label)
    errors = _LineSplitter(shown.detail)
    readers = [
        threading.Thread(target=watch.drain, args=(proc.stdout.fileno(), out_chunks.append), daemon=True),
        threading.Thread(target=watch.drain, args=(proc.stderr.fileno(), errors.feed), daemon=True),
    ]
    for reader in readers:
        reader.start()
    stalled = False
    try:
        while not watch.closed.wait(0.2):
            shown.tick()
            if timeout is not None and watch.silent_for() > timeout:
                stalled = True
                _kill_group(proc.pid)
                break
            if proc.poll() is not None and watch.silent_for() > 1.0:
                break  # git is done; a helper it left behind still holds the pipes
        proc.wait()
        for reader in readers:
            reader.join(timeout=5)
        errors.flush()
    finally:
        shown.close("stopped" if stalled else None)
    status = proc.returncode if proc.returncode is not None else -1
    proc.stdout.close()
    proc.stderr.close()
    handle.proc = None  # finished: nothing left for GitPython to terminate
    text = b"".join(out_chunks).decode("utf-8", "replace")
    return Finished(status, text, "\n".join(errors.lines), stalled)


class _Heartbeat:
    """A :func:`promoter.progress.heartbeat` started only once the command has run for ``QUIET_FOR``
    seconds, so the many quick git steps of a run create no reporter at all."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self.latest = ""
        self._context: contextlib.AbstractContextManager[progress.Progress] | None = None
        self._reporter: progress.Progress | None = None

    def detail(self, line: str) -> None:
        self.latest = line
        if self._reporter is not None:
            self._reporter.detail = line

    def tick(self) -> None:
        if self._context is None and time.monotonic() - self.started >= QUIET_FOR:
            self._context = progress.heartbeat(self.label)
            self._reporter = self._context.__enter__()
            self._reporter.detail = self.latest

    def close(self, summary: str | None) -> None:
        if self._context is not None and self._reporter is not None:
            if summary is not None:
                self._reporter.close(summary)
            self._context.__exit__(None, None, None)


class _Activity:
    """When a watched command last printed anything."""

    def __init__(self, streams: int = 2) -> None:
        self.last = time.monotonic()
        self.closed = threading.Event()  # every stream reached its end
        self._open = streams
        self._lock = threading.Lock()

    def silent_for(self) -> float:
        return time.monotonic() - self.last

    def drain(self, fd: int, sink: Callable[[bytes], object]) -> None:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                with self._lock:
                    self._open -= 1
                    if self._open == 0:
                        self.closed.set()
                return
            self.last = time.monotonic()
            sink(data)


class _LineSplitter:
    """Splits stderr into lines (``\\r`` or ``\\n``); progress lines go to ``on_progress``."""

    def __init__(self, on_progress: Callable[[str], None]) -> None:
        self.lines: list[str] = []
        self.on_progress = on_progress
        self.pending = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def feed(self, data: bytes) -> None:
        self.pending += self._decoder.decode(data)
        *complete, self.pending = re.split(r"[\r\n]", self.pending)
        for line in complete:
            self._line(line)

    def flush(self) -> None:
        self._line(self.pending + self._decoder.decode(b"", final=True))
        self.pending = ""

    def _line(self, line: str) -> None:
        text = line.strip()
        if not text:
            return
        if _PROGRESS.match(text):
            self.on_progress(text.removeprefix("remote: "))
        else:
            self.lines.append(text)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)

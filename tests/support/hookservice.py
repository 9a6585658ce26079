"""The webhook receiver wired to a real env repo, in this process or as ``promoter hook serve``.

:func:`start_receiver` builds what ``promoter hook serve`` builds (receiver, queue, worker, preview jobs) and
runs it on threads, so a test can wait for the worker (:meth:`Receiver.settle`) instead of sleeping.
:class:`HookProcess` runs the real command line in a subprocess (for SIGTERM, SIGKILL and thread counts)
and collects its log lines as they come.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promoter.hook import DeletionQueue, HookServer, Limits, Worker
from promoter.hook.previews import PreviewJobs
from promoter.workflows.session import Session, open_session

SECRET = "whsec-8f2b1c9d4e7a6350"


def post(host: str, port: int, body: bytes, headers: dict[str, str], timeout: float = 30) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("POST", "/", body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else {}
    finally:
        conn.close()


@dataclass
class Receiver:
    server: HookServer
    queue: DeletionQueue
    worker: Worker
    jobs: PreviewJobs
    sessions_opened: list[Session] = field(default_factory=list)

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
        return post(self.server.host, self.server.port, body, headers)

    def settle(self, timeout: float = 120) -> None:
        """Wait until every accepted event is handled and no round or sweep runs."""
        assert self.worker.wait_idle(timeout), "the worker did not finish in time"


@contextmanager
def start_receiver(
    config: Path,
    remote: Path,
    *,
    gc_interval: float = 0.0,
    queue_size: int = 1000,
    limits: Limits | None = None,
    environ: dict[str, str] | None = None,
) -> Iterator[Receiver]:
    """A running receiver for the env repo ``remote`` configured by ``config``; stopped at exit."""
    opened: list[Session] = []

    def open_one() -> Session:
        session = open_session(config_path=str(config), repo=str(remote), environ=environ)
        opened.append(session)
        return session

    queue = DeletionQueue(queue_size)
    jobs = PreviewJobs(open_one)
    server = HookServer("127.0.0.1:0", queue.offer, gitlab_token=SECRET, github_secret=SECRET, limits=limits)
    worker = Worker(queue, jobs.delete, jobs.sweep, gc_interval=gc_interval, retry_min=0.05)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    worker.start()
    thread.start()
    try:
        yield Receiver(server, queue, worker, jobs, opened)
    finally:
        server.shutdown()
        thread.join(timeout=30)
        worker.stop(timeout=60)
        jobs.close()


class HookProcess:
    """``promoter --output json --config C --repo R hook serve --listen 127.0.0.1:0 ARGS`` in a subprocess."""

    def __init__(self, config: Path, remote: Path, *args: str, environ: dict[str, str] | None = None) -> None:
        env = {**os.environ, "PROMOTER_WEBHOOK_SECRET": SECRET, **(environ or {})}
        command = [
            sys.executable,
            "-m",
            "promoter",
            "--output",
            "json",
            "--config",
            str(config),
            "--repo",
            str(remote),
        ]
        self.process = subprocess.Popen(
            [*command, "hook", "serve", "--listen", "127.0.0.1:0", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._new_line = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        found = self.wait_for(r"listening on http://127\.0\.0\.1:(\d+)", timeout=60)
        port = re.search(r"127\.0\.0\.1:(\d+)", found)
        assert port, found
        self.port = int(port.group(1))

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._new_line:
                self.lines.append(line.rstrip("\n"))
                self._new_line.notify_all()
        with self._new_line:
            self._new_line.notify_all()

    def wait_for(self, pattern: str, timeout: float = 60, *, after: int = 0) -> str:
        """The first log line (from index ``after``) matching ``pattern``; fails after ``timeout`` s."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._new_line:
            while True:
                for line in self.lines[after:]:
                    if regex.search(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no log line matches {pattern!r}:\n" + "\n".join(self.lines))
                self._new_line.wait(min(remaining, 0.5))

    def post(self, body: bytes, headers: dict[str, str], timeout: float = 30) -> tuple[int, dict]:
        return post("127.0.0.1", self.port, body, headers, timeout)

    def threads(self) -> int:
        """How many threads the server process has now (Linux /proc)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"^Threads:\s+(\d+)$", status, re.MULTILINE)
        assert match, status
        return int(match.group(1))

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)
        self._reader.join(timeout=10)

    def stop(self, *, signal: bool = True) -> tuple[int, str]:
        """SIGTERM (unless ``signal`` is false: it was sent already) and wait; the exit code and stdout."""
        if signal and self.process.poll() is None:
            self.process.terminate()
        try:
            stdout, _ = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            stdout, _ = self.process.communicate()
        self._reader.join(timeout=10)
        return self.process.returncode, stdout or ""


@contextmanager
def hook_process(config: Path, remote: Path, *args: str, **kwargs: Any) -> Iterator[HookProcess]:
    running = HookProcess(config, remote, *args, **kwargs)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.kill()


def wait_until(check: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    """Poll ``check`` (for state in another process, where no event can be waited on)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)

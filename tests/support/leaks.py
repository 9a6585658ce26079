"""Fixtures for secret-leak tests: the command line of every process a test starts, seen while it runs."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import pytest


def _parent_pid(pid: int) -> int | None:
    """The parent of ``pid`` from /proc, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so split after the last ")"
    fields = stat.rpartition(b")")[2].split()
    return int(fields[1]) if len(fields) > 1 else None


def _cmdline(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None


class _Descendants:
    """The processes below one root, followed from scan to scan of /proc.

    A pid is judged once, when it first appears (ours if its parent is ours), and forgotten when it
    disappears, so each scan reads /proc only for new processes and for our own.
    """

    def __init__(self, root: int) -> None:
        self.root = root
        self.judged: dict[int, bool] = {}  # pid present at the last scan -> is it ours

    def scan(self) -> list[int]:
        present = {int(entry) for entry in os.listdir("/proc") if entry.isdigit()}
        for gone in self.judged.keys() - present:
            del self.judged[gone]
        parents = {}
        for pid in present - self.judged.keys():
            parent = _parent_pid(pid)
            if parent is not None:
                parents[pid] = parent
        grew = True
        while grew:  # a child listed before its new parent joins once the parent is judged ours
            grew = False
            for pid, parent in list(parents.items()):
                if pid == self.root or self.judged.get(parent):
                    self.judged[pid] = True
                    del parents[pid]
                    grew = True
        for pid in parents:
            self.judged[pid] = False
        return [pid for pid, ours in self.judged.items() if ours]


@contextlib.contextmanager
def sampled_cmdlines(interval: float = 0.001) -> Iterator[list[str]]:
    """Sample the command lines of this process's descendants from /proc until the block ends.

    Only descendants count: processes of other tests running at the same time (pytest-xdist workers,
    another checkout's suite) are not this test's to judge. Each distinct command line is listed once.
    """
    seen: list[str] = []
    unique: set[str] = set()
    descendants = _Descendants(os.getpid())
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for pid in descendants.scan():
                line = _cmdline(pid)
                if line is not None and line not in unique:
                    unique.add(line)
                    seen.append(line)
            stop.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(timeout=5)


@pytest.fixture
def proc_cmdlines() -> Iterator[list[str]]:
    """Command lines of the processes this test starts (and their children), seen while it runs."""
    with sampled_cmdlines() as seen:
        yield seen

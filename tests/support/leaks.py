"""Fixtures for secret-leak tests: every process command line seen while a test runs."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest


@pytest.fixture
def proc_cmdlines() -> Iterator[list[str]]:
    """Command lines of every process seen in /proc while the test runs."""
    seen: list[str] = []
    stop = threading.Event()

    def scan() -> None:
        while not stop.is_set():
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        with open(f"/proc/{entry}/cmdline", "rb") as handle:
                            seen.append(handle.read().replace(b"\0", b" ").decode(errors="replace"))
                    except OSError:
                        continue
            stop.wait(0.001)

    thread = threading.Thread(target=scan, daemon=True)
    thread.start()
    yield seen
    stop.set()
    thread.join(timeout=5)

"""The process sampler of the leak tests sees the processes a test starts, and only those.

Tests run side by side (pytest-xdist workers, other checkouts' suites): a secret in another test's argv
must not fail this test, and a secret in a grandchild of this test must.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest

from tests.support.leaks import sampled_cmdlines

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _pids_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if marker.encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as handle:
        return int(handle.read().rpartition(b")")[2].split()[1])


def test_children_and_grandchildren_are_seen_and_other_processes_are_not() -> None:
    foreign_marker, child_marker, grandchild_marker = (f"{kind}-{uuid.uuid4().hex}" for kind in "fcg")
    # a process that is not this test's: started detached, so its parent exits and it is no descendant
    subprocess.run(["setsid", "-f", "sh", "-c", "sleep 30", foreign_marker], check=True)
    deadline = time.monotonic() + 10
    while not (foreign := _pids_with(foreign_marker)) or _parent_of(foreign[0]) == os.getpid():
        assert time.monotonic() < deadline, "the detached process did not start"
        time.sleep(0.01)
    try:
        with sampled_cmdlines() as seen:
            script = f"sh -c 'sleep 0.3' {grandchild_marker}; sleep 0.3"
            subprocess.run(["sh", "-c", script, child_marker], check=True)
    finally:
        for pid in foreign:
            os.kill(pid, 15)
    text = "\n".join(seen)
    assert child_marker in text
    assert grandchild_marker in text
    assert foreign_marker not in text

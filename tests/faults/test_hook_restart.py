"""Accepted events survive a crash: after SIGKILL, the preview GC of the next start deletes their previews."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_preview import Env, rendered
from tests.faults.test_hook_burst import PROJECT, delivery
from tests.support.fakeforge import FakeForge, fake_forge
from tests.support.hookservice import hook_process, wait_until

REQUESTS = 8  # within the GC guard (previews.max_delete, 10 by default)
TOKEN = "forge-token-for-the-restart"


@pytest.fixture
def forge() -> Iterator[FakeForge]:
    with fake_forge() as running:
        yield running


@pytest.mark.parametrize("kind", ["gitlab", "github"])
def test_events_accepted_before_a_kill_are_handled_by_the_next_start(
    tmp_path: Path, forge: FakeForge, kind: str
) -> None:
    env = Env(tmp_path, forge=kind, url=forge.url)
    env.seed(dict(rendered(n, f"feature-{n}", project=PROJECT) for n in range(1, REQUESTS + 1)))
    for number in range(1, REQUESTS + 1):
        forge.set(PROJECT, number, "closed")
    seeded = env.files()
    environ = {"PROMOTER_TOKEN": TOKEN}

    forge.answering.clear()  # the forge hangs: the worker's first sweep cannot finish
    with hook_process(env.config, env.remote, environ=environ) as first:
        statuses = [first.post(*delivery(kind, n))[0] for n in range(1, REQUESTS + 1)]
        assert statuses == [202] * REQUESTS  # accepted while the worker is stuck
        first.wait_for(rf"delivery .* id={REQUESTS} .*status=202")
        first.kill()  # SIGKILL: the queue is lost
    assert env.files() == seeded  # nothing was deleted before the crash
    forge.answering.set()

    with hook_process(env.config, env.remote, "--gc-interval", "1h", environ=environ) as second:
        line = second.wait_for(r"hook: preview gc", timeout=120)
        assert line.endswith(f"{REQUESTS} deleted; 0 in use; commit " + line.rsplit(" ", 1)[-1])
        code, stdout = second.stop()
    assert env.files() == []
    assert code == 0 and json.loads(stdout)["sweeps"] == 1
    assert all(call.token and TOKEN in call.token for call in forge.calls)


def test_sigterm_finishes_the_round_and_drains_the_waiting_events(tmp_path: Path, forge: FakeForge) -> None:
    env = Env(tmp_path, forge="gitlab", url=forge.url)
    env.seed(dict(rendered(n, f"feature-{n}", project=PROJECT) for n in range(1, REQUESTS + 1)))
    for number in range(1, REQUESTS + 1):
        forge.set(PROJECT, number, "merged")
    forge.answering.clear()  # the first round will hang on the forge until released
    environ = {"PROMOTER_TOKEN": TOKEN}
    with hook_process(env.config, env.remote, "--gc-interval", "0", environ=environ) as server:
        assert server.post(*delivery("gitlab", 1))[0] == 202
        wait_until(lambda: bool(forge.calls), 30, "the first round to ask the forge")
        statuses = [server.post(*delivery("gitlab", n))[0] for n in range(2, REQUESTS + 1)]
        assert statuses == [202] * (REQUESTS - 1)  # waiting behind the round in flight
        server.process.terminate()
        server.wait_for("SIGTERM received")
        forge.answering.set()
        code, stdout = server.stop(signal=False)  # a second SIGTERM would end the drain
    assert code == 0
    assert json.loads(stdout)["left"] == 0
    assert env.files() == []

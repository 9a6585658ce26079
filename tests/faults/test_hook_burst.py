"""A burst of close events: every delivery answered at once, every preview deleted, in few commits.

The receiver runs as ``promoter hook serve`` in its own process, as in production; 60 clients send every
close event twice (the event and a redelivery) at the same moment.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.test_hook import github_headers, github_pr_payload, gitlab_headers, gitlab_mr_payload
from tests.e2e.test_preview import Env, rendered
from tests.support.fakeforge import FakeForge, fake_forge
from tests.support.hookservice import hook_process, wait_until

PROJECT = "acme/api"
REQUESTS = 60


@pytest.fixture
def forge() -> Iterator[FakeForge]:
    with fake_forge() as running:
        yield running


def delivery(kind: str, number: int) -> tuple[bytes, dict[str, str]]:
    """A close (GitLab: merge) event for request ``number``, shaped like the forge's documentation."""
    if kind == "gitlab":
        body = json.dumps(gitlab_mr_payload("merge", iid=number, branch=f"feature-{number}", project=PROJECT))
        return body.encode(), gitlab_headers()
    raw = json.dumps(github_pr_payload(number=number, branch=f"feature-{number}", project=PROJECT)).encode()
    return raw, github_headers(raw)


@pytest.mark.parametrize("kind", ["gitlab", "github"])
def test_a_burst_of_close_events_deletes_every_preview_in_few_commits(
    tmp_path: Path, forge: FakeForge, kind: str
) -> None:
    env = Env(tmp_path, forge=kind, url=forge.url)
    env.seed(dict(rendered(n, f"feature-{n}", project=PROJECT) for n in range(1, REQUESTS + 1)))
    for number in range(1, REQUESTS + 1):
        forge.set(PROJECT, number, "merged" if number % 2 else "closed")
    before = env.commits()
    deliveries = [delivery(kind, n) for n in range(1, REQUESTS + 1)] * 2

    environ = {"PROMOTER_TOKEN": "forge-token-for-the-burst"}
    with hook_process(env.config, env.remote, "--gc-interval", "0", environ=environ) as server:

        def send(item: tuple[bytes, dict[str, str]]) -> tuple[int, float]:
            started = time.monotonic()
            status, _ = server.post(*item, timeout=300)
            return status, time.monotonic() - started

        with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
            answers = list(pool.map(send, deliveries))
        wait_until(lambda: env.files() == [], 120, "every preview to be deleted")
        code, _ = server.stop()

    assert [status for status, _ in answers] == [202] * len(deliveries)
    slowest = max(seconds for _, seconds in answers)
    assert slowest < 1.0, f"a delivery waited {slowest:.2f} s for its answer"
    commits = len(env.commits()) - len(before)
    assert 1 <= commits <= 10, f"{commits} commits for {REQUESTS} deletions"
    assert code == 0

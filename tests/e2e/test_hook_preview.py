"""The webhook receiver with the real preview handler: close events delete preview files in a real repo."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from promoter.cli.context import Globals
from promoter.cli.hook import make_preview_handler
from promoter.hook import HookServer
from tests.e2e.test_hook import (
    OTHER_SECRET,
    SECRET,
    github_headers,
    github_pr_payload,
    gitlab_headers,
    gitlab_mr_payload,
)
from tests.e2e.test_preview import BRANCH, Env, rendered
from tests.support.gitrepos import git

GITLAB_PROJECT = "gitlabhq/gitlab-test"  # the project of the documented GitLab payload
GITHUB_PROJECT = "Codertocat/Hello-World"


class Receiver:
    def __init__(self, server: HookServer) -> None:
        self.server = server

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=60)
        try:
            conn.request("POST", "/", body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
        finally:
            conn.close()


@pytest.fixture
def env(tmp_path: Path) -> Env:
    env = Env(tmp_path, forge="none", url="https://unused.example.com")
    env.seed(
        dict(
            [
                rendered(1, "ms-viewport", project=GITLAB_PROJECT),
                rendered(2, "changes", project=GITHUB_PROJECT),
                rendered(1, "same-id-other-project", project="acme/api"),
            ]
        )
    )
    return env


@pytest.fixture
def receiver(env: Env) -> Iterator[Receiver]:
    handler = make_preview_handler(Globals(config_path=str(env.config), repo=str(env.remote)))
    server = HookServer("127.0.0.1:0", handler, gitlab_token=SECRET, github_secret=SECRET)
    server.poll_interval = 0.01
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Receiver(server)
    server.shutdown()
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_gitlab_merge_event_deletes_the_preview(env: Env, receiver: Receiver) -> None:
    before = env.commits()
    body = json.dumps(gitlab_mr_payload("merge", iid=1)).encode()
    status, reply = receiver.post(body, gitlab_headers())
    assert status == 200, reply
    assert reply["result"] == "deleted"
    assert env.files() == sorted([rendered(2, "changes")[0], rendered(1, "same-id-other-project")[0]])
    assert len(env.commits()) == len(before) + 1
    message = git("log", "-1", "--format=%B", BRANCH, cwd=env.remote)
    assert "Promoter-Preview: 1" in message and f"Promoter-Project: {GITLAB_PROJECT}" in message


def test_github_closed_event_deletes_the_preview(env: Env, receiver: Receiver) -> None:
    body = json.dumps(github_pr_payload(number=2, merged=False)).encode()
    status, reply = receiver.post(body, github_headers(body))
    assert status == 200, reply
    assert reply["result"] == "deleted"
    assert rendered(2, "changes")[0] not in env.files() and len(env.files()) == 2


def test_bad_token_or_signature_is_401_and_deletes_nothing(env: Env, receiver: Receiver) -> None:
    before = env.commits()
    gitlab_body = json.dumps(gitlab_mr_payload("close", iid=1)).encode()
    github_body = json.dumps(github_pr_payload(number=2)).encode()
    attempts = [
        (gitlab_body, gitlab_headers(token=OTHER_SECRET)),
        (gitlab_body, gitlab_headers(token=None)),
        (github_body, github_headers(github_body, secret=OTHER_SECRET)),
        (github_body, github_headers(github_body, secret=None)),
        (github_body.replace(b'"number": 2', b'"number": 1'), github_headers(github_body)),  # body swapped
    ]
    for body, headers in attempts:
        status, _ = receiver.post(body, headers)
        assert status == 401
    assert env.commits() == before and len(env.files()) == 3


def test_fifty_concurrent_duplicate_deliveries_make_one_deletion_commit(env: Env, receiver: Receiver) -> None:
    before = env.commits()
    body = json.dumps(gitlab_mr_payload("close", iid=1)).encode()
    headers = gitlab_headers()  # a redelivery repeats the same event UUID

    with ThreadPoolExecutor(max_workers=50) as pool:
        replies = list(pool.map(lambda _: receiver.post(body, headers), range(50)))

    assert [status for status, _ in replies] == [200] * 50
    results = sorted(reply["result"] for _, reply in replies)
    assert results == ["deleted"] + ["unchanged"] * 49
    after = env.commits()
    assert len(after) == len(before) + 1
    assert rendered(1, "ms-viewport", project=GITLAB_PROJECT)[0] not in env.files()

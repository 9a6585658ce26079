"""The webhook receiver with the real preview jobs: close events delete preview files in a real repo."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.test_hook import (
    OTHER_SECRET,
    github_headers,
    github_pr_payload,
    gitlab_headers,
    gitlab_mr_payload,
)
from tests.e2e.test_preview import BRANCH, Env, rendered
from tests.support.fakeforge import FakeForge, fake_forge
from tests.support.gitrepos import git
from tests.support.hookservice import Receiver, start_receiver, wait_until

GITLAB_PROJECT = "gitlabhq/gitlab-test"  # the project of the documented GitLab payload
GITHUB_PROJECT = "Codertocat/Hello-World"


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
    with start_receiver(env.config, env.remote) as running:
        yield running


def message(env: Env) -> str:
    return git("log", "-1", "--format=%B", BRANCH, cwd=env.remote)


def test_gitlab_merge_event_deletes_the_preview(env: Env, receiver: Receiver) -> None:
    before = env.commits()
    body = json.dumps(gitlab_mr_payload("merge", iid=1)).encode()
    status, reply = receiver.post(body, gitlab_headers())
    assert status == 202, reply
    assert reply["result"] == "queued"
    receiver.settle()
    assert env.files() == sorted([rendered(2, "changes")[0], rendered(1, "same-id-other-project")[0]])
    assert len(env.commits()) == len(before) + 1
    text = message(env)
    assert text.startswith("preview down: ms-viewport (request 1)")
    assert "Promoter-Preview: 1" in text and f"Promoter-Project: {GITLAB_PROJECT}" in text


def test_github_closed_event_deletes_the_preview(env: Env, receiver: Receiver) -> None:
    body = json.dumps(github_pr_payload(number=2, merged=False)).encode()
    status, _ = receiver.post(body, github_headers(body))
    assert status == 202
    receiver.settle()
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
    receiver.settle()
    assert env.commits() == before and len(env.files()) == 3


def test_fifty_concurrent_duplicate_deliveries_make_one_deletion_commit(env: Env, receiver: Receiver) -> None:
    before = env.commits()
    body = json.dumps(gitlab_mr_payload("close", iid=1)).encode()
    headers = gitlab_headers()  # a redelivery repeats the same event UUID

    with ThreadPoolExecutor(max_workers=50) as pool:
        replies = list(pool.map(lambda _: receiver.post(body, headers), range(50)))

    assert [status for status, _ in replies] == [202] * 50
    receiver.settle()
    assert len(env.commits()) == len(before) + 1
    assert rendered(1, "ms-viewport", project=GITLAB_PROJECT)[0] not in env.files()


def test_events_waiting_together_are_deleted_in_one_commit(env: Env, receiver: Receiver) -> None:
    receiver.worker.stop(timeout=10)  # hold the worker: both events wait in the queue
    gitlab_body = json.dumps(gitlab_mr_payload("close", iid=1)).encode()
    github_body = json.dumps(github_pr_payload(number=2)).encode()
    assert receiver.post(gitlab_body, gitlab_headers())[0] == 202
    assert receiver.post(github_body, github_headers(github_body))[0] == 202
    before = env.commits()
    summary = receiver.jobs.delete(receiver.queue.take(0))
    assert "2 preview(s) deleted" in summary
    assert len(env.commits()) == len(before) + 1
    assert env.files() == [rendered(1, "same-id-other-project")[0]]
    text = message(env)
    assert text.startswith("preview down: 2 preview environments of closed requests")
    assert "Promoter-Preview: 1, 2" in text and "Promoter-Project" not in text


def test_the_config_is_read_once_and_every_round_fetches_the_branch_afresh(
    env: Env, receiver: Receiver
) -> None:
    """The cached work clone never decides from a stale list: a preview pushed by someone else after the
    first round is found and deleted by the next one."""
    assert receiver.post(json.dumps(gitlab_mr_payload("close", iid=1)).encode(), gitlab_headers())[0] == 202
    receiver.settle()
    env.seed(dict([rendered(7, "pushed-meanwhile", project=GITLAB_PROJECT)]))
    assert "apps/pushed-meanwhile.yaml" in env.files()
    body = json.dumps(gitlab_mr_payload("merge", iid=7, branch="pushed-meanwhile")).encode()
    assert receiver.post(body, gitlab_headers())[0] == 202
    receiver.settle()
    assert "apps/pushed-meanwhile.yaml" not in env.files()
    assert len(receiver.sessions_opened) == 1  # not re-read per delivery


@pytest.fixture
def forge() -> Iterator[FakeForge]:
    with fake_forge() as running:
        yield running


def test_the_forge_is_asked_before_deleting(
    tmp_path: Path, forge: FakeForge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMOTER_TOKEN", "glpat-hook-test-token")
    env = Env(tmp_path, forge="gitlab", url=forge.url)
    env.seed(dict([rendered(1, "ms-viewport", project=GITLAB_PROJECT)]))
    forge.set(GITLAB_PROJECT, 1, "merged")
    with start_receiver(env.config, env.remote) as receiver:
        body = json.dumps(gitlab_mr_payload("merge", iid=1)).encode()
        assert receiver.post(body, gitlab_headers())[0] == 202
        receiver.settle()
    assert env.files() == []
    asked = [(call.path, call.query.get("state"), call.query.get("iids[]")) for call in forge.calls]
    project = "/api/v4/projects/gitlabhq%2Fgitlab-test/merge_requests"
    assert asked == [(project, ["opened"], None), (project, ["all"], ["1"])]
    assert {call.token for call in forge.calls} == {"glpat-hook-test-token"}


def test_the_periodic_gc_deletes_previews_whose_event_never_came(
    tmp_path: Path, forge: FakeForge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMOTER_TOKEN", "glpat-hook-test-token")
    env = Env(tmp_path, forge="gitlab", url=forge.url)
    env.seed(dict([rendered(3, "lost-event"), rendered(4, "still-open")]))
    forge.set("acme/api", 3, "closed")
    forge.set("acme/api", 4, "open")
    with start_receiver(env.config, env.remote, gc_interval=3600) as receiver:
        receiver.settle()  # the first sweep runs at start
        assert receiver.worker.sweeps == 1
    assert env.files() == ["apps/still-open.yaml"]
    assert "preview gc: delete 1 preview environment" in message(env)


def test_a_symbolic_link_among_the_previews_is_left_alone_and_blocks_no_deletion(
    env: Env, receiver: Receiver, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("kept: true\n")
    work = tmp_path / "seed-work"
    (work / "apps" / "planted.yaml").symlink_to(outside)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "a link", cwd=work)
    git("push", "-q", "origin", f"HEAD:refs/heads/{BRANCH}", cwd=work)
    body = json.dumps(gitlab_mr_payload("merge", iid=1)).encode()
    assert receiver.post(body, gitlab_headers())[0] == 202
    receiver.settle()
    assert "apps/ms-viewport.yaml" not in env.files() and "apps/planted.yaml" in env.files()
    assert outside.read_text() == "kept: true\n"


def test_a_project_the_forge_refuses_waits_while_the_others_go_ahead(
    tmp_path: Path, forge: FakeForge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMOTER_TOKEN", "glpat-hook-test-token")
    env = Env(tmp_path, forge="gitlab", url=forge.url)
    env.seed(
        dict([rendered(1, "api-change", project="acme/api"), rendered(2, "web-change", project="acme/web")])
    )
    forge.set("acme/api", 1, "merged")
    forge.set("acme/web", 2, "merged")
    forge.refusing.add("acme/web")  # the token cannot see this project (yet)
    with start_receiver(env.config, env.remote) as receiver:
        for iid, branch, project in [(1, "api-change", "acme/api"), (2, "web-change", "acme/web")]:
            body = json.dumps(gitlab_mr_payload("merge", iid=iid, branch=branch, project=project)).encode()
            assert receiver.post(body, gitlab_headers())[0] == 202
        wait_until(lambda: "apps/api-change.yaml" not in env.files(), 60, "acme/api's preview to go")
        assert "apps/web-change.yaml" in env.files()  # kept while the forge does not answer for it
        forge.refusing.clear()
        receiver.settle()
    assert env.files() == []

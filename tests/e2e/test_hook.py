"""The webhook receiver over real HTTP on 127.0.0.1: authentication, events, the queue, shutdown."""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from promoter import masking
from promoter.errors import ConfigError, OperationalError, UsageError
from promoter.hook import (
    CloseEvent,
    DeletionQueue,
    HookServer,
    Limits,
    Worker,
    github_signature,
    parse_listen,
)
from tests.support.gitrepos import make_remote

SECRET = "whsec-8f2b1c9d4e7a6350"
OTHER_SECRET = "whsec-0000000000000000"


# --- payloads shaped like the forges' documentation -------------------------------------------------
def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def gitlab_mr_payload(
    action: str = "close",
    iid: int = 1,
    branch: str = "ms-viewport",
    project: str = "gitlabhq/gitlab-test",
    updated_at: str | None = "now",
) -> dict:
    """A merge request event as GitLab documents it; ``updated_at`` "now" is the current time."""
    updated_at = _now() if updated_at == "now" else updated_at
    state = {"close": "closed", "merge": "merged"}.get(action, "opened")
    return {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": {"id": 1, "name": "Administrator", "username": "root", "avatar_url": None},
        "project": {
            "id": 1,
            "name": "Gitlab Test",
            "web_url": "http://example.com/gitlabhq/gitlab-test",
            "path_with_namespace": project,
            "default_branch": "master",
        },
        "object_attributes": {
            "id": 99,
            "iid": iid,
            "target_branch": "master",
            "source_branch": branch,
            "source_project_id": 14,
            "author_id": 51,
            "title": "MS-Viewport",
            "created_at": "2013-12-03T17:23:34Z",
            "updated_at": updated_at,
            "state": state,
            "action": action,
            "url": f"http://example.com/diaspora/merge_requests/{iid}",
            "last_commit": {"id": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"},
        },
        "labels": [],
        "changes": {"state_id": {"previous": 1, "current": 2}},
        "repository": {"name": "Gitlab Test", "url": "http://example.com/gitlabhq/gitlab-test.git"},
    }


def github_pr_payload(
    action: str = "closed",
    number: int = 2,
    merged: bool = False,
    branch: str = "changes",
    project: str = "Codertocat/Hello-World",
    updated_at: str | None = "now",
) -> dict:
    """A pull_request event as GitHub documents it; ``updated_at`` "now" is the current time."""
    updated_at = _now() if updated_at == "now" else updated_at
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "url": f"https://api.github.com/repos/{project}/pulls/{number}",
            "id": 279147437,
            "number": number,
            "state": "closed" if action == "closed" else "open",
            "title": "Update the README with new information.",
            "user": {"login": "Codertocat", "id": 21031067},
            "merged": merged,
            "created_at": "2019-05-15T15:20:33Z",
            "updated_at": updated_at,
            "closed_at": updated_at if action == "closed" else None,
            "merged_at": updated_at if merged else None,
            "head": {
                "label": f"Codertocat:{branch}",
                "ref": branch,
                "sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
            },
            "base": {
                "label": "Codertocat:master",
                "ref": "master",
                "sha": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
            },
        },
        "repository": {"id": 186853002, "name": project.rsplit("/", maxsplit=1)[-1], "full_name": project},
        "sender": {"login": "Codertocat", "id": 21031067},
    }


def gitlab_headers(event: str = "Merge Request Hook", token: str | None = SECRET) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitLab/17.0.0",
        "X-Gitlab-Event": event,
        "X-Gitlab-Event-UUID": str(uuid.uuid4()),
        "X-Gitlab-Instance": "https://gitlab.example.com",
    }
    if token is not None:
        headers["X-Gitlab-Token"] = token
    return headers


def github_headers(body: bytes, event: str = "pull_request", secret: str | None = SECRET) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/044aadd",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "292430182",
    }
    if secret is not None:
        headers["X-Hub-Signature-256"] = github_signature(secret, body)
    return headers


# --- server fixture ----------------------------------------------------------------------------------
@dataclass
class Running:
    server: HookServer
    queue: DeletionQueue
    thread: threading.Thread
    logs: list[str]

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()

    def post(self, body: bytes, headers: dict[str, str], path: str = "/") -> tuple[int, bytes]:
        status, raw, _ = self.exchange("POST", path, body, headers)
        return status, raw

    def exchange(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=15)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read(), dict(response.getheaders())
        finally:
            conn.close()

    def get(self, path: str) -> tuple[int, bytes]:
        status, raw, _ = self.exchange("GET", path)
        return status, raw

    def queued(self) -> list[CloseEvent]:
        """Take every waiting event out of the queue (what the worker's next round would get)."""
        events = self.queue.take(0)
        self.queue.finish(len(events))
        return events


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink
        self.addFilter(masking.MaskingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


@pytest.fixture
def hook_logs() -> Iterator[list[str]]:
    logger = logging.getLogger("promoter.hook")
    logs: list[str] = []
    handler = _ListHandler(logs)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    yield logs
    logger.removeHandler(handler)
    logger.setLevel(old_level)


@pytest.fixture
def hook_server(hook_logs: list[str]) -> Iterator[Callable[..., Running]]:
    """Start a HookServer on a free 127.0.0.1 port; every server started is stopped afterwards."""
    started: list[Running] = []

    def start(queue: DeletionQueue | None = None, **kwargs: object) -> Running:
        queue = DeletionQueue() if queue is None else queue
        options: dict = {"gitlab_token": SECRET, "github_secret": SECRET, **kwargs}
        server = HookServer("127.0.0.1:0", queue.offer, **options)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running = Running(server, queue, thread, hook_logs)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def _delivery_lines(logs: list[str]) -> list[str]:
    return [line for line in logs if line.startswith("hook: delivery ")]


# --- valid close and merge events ---------------------------------------------------------------------
@pytest.mark.parametrize(("action", "expected"), [("close", "closed"), ("merge", "merged")])
def test_gitlab_close_and_merge_are_queued_and_answered_202(hook_server, action: str, expected: str) -> None:
    running = hook_server()
    headers = gitlab_headers()
    payload = gitlab_mr_payload(action, iid=7, updated_at="2013-12-03T17:23:34Z")
    status, body = running.post(json.dumps(payload).encode(), headers)
    assert status == 202
    event = CloseEvent(
        forge="gitlab",
        project="gitlabhq/gitlab-test",
        request_id=7,
        action=expected,
        source_branch="ms-viewport",
        delivery_id=headers["X-Gitlab-Event-UUID"],
        updated_at="2013-12-03T17:23:34Z",
    )
    assert running.queued() == [event]
    reply = json.loads(body)
    assert reply["result"] == "queued"
    assert reply["event"]["request_id"] == 7


@pytest.mark.parametrize(("merged", "expected"), [(False, "closed"), (True, "merged")])
def test_github_closed_pull_request_is_queued(hook_server, merged: bool, expected: str) -> None:
    running = hook_server()
    payload = github_pr_payload(
        merged=merged, number=12, branch="feature/x: y", updated_at="2019-05-15T15:20:33Z"
    )
    body = json.dumps(payload).encode()
    headers = github_headers(body)
    status, reply = running.post(body, headers, path="/hooks/github")
    assert status == 202, reply
    assert running.queued() == [
        CloseEvent(
            forge="github",
            project="Codertocat/Hello-World",
            request_id=12,
            action=expected,
            source_branch="feature/x: y",
            delivery_id=headers["X-GitHub-Delivery"],
            updated_at="2019-05-15T15:20:33Z",
        )
    ]


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("2013-12-03 17:23:34 UTC", "2013-12-03T17:23:34Z"),  # what GitLab servers send
        ("2024-06-27T09:14:43.618Z", "2024-06-27T09:14:43.618000Z"),
        ("2024-06-27T11:14:43+02:00", "2024-06-27T09:14:43Z"),
        (None, None),
    ],
)
def test_event_times_are_read_in_every_format_the_forges_use(
    hook_server, written: str | None, normalised: str | None
) -> None:
    running = hook_server()
    status, _ = running.post(json.dumps(gitlab_mr_payload(updated_at=written)).encode(), gitlab_headers())
    assert status == 202
    assert [event.updated_at for event in running.queued()] == [normalised]


def test_content_type_with_charset_is_accepted(hook_server) -> None:
    running = hook_server()
    headers = gitlab_headers() | {"Content-Type": "application/json; charset=utf-8"}
    status, _ = running.post(json.dumps(gitlab_mr_payload()).encode(), headers)
    assert status == 202
    assert len(running.queued()) == 1


def test_healthz(hook_server) -> None:
    running = hook_server()
    assert running.get("/healthz") == (200, b'{"status": "ok"}')
    assert running.get("/other")[0] == 404
    assert running.exchange("PUT", "/", b"{}", {"Content-Type": "application/json"})[0] == 405


def test_answers_carry_the_standard_headers(hook_server) -> None:
    running = hook_server()
    status, body, headers = running.exchange(
        "POST", "/", json.dumps(gitlab_mr_payload()).encode(), gitlab_headers()
    )
    assert status == 202
    assert headers["Content-Type"] == "application/json"
    assert headers["Content-Length"] == str(len(body))
    assert headers["Connection"] == "close"
    assert headers["Server"] == "promoter-hook" and headers["Date"].endswith(" GMT")


# --- rejected deliveries --------------------------------------------------------------------------------
@pytest.mark.parametrize("token", [None, "", "wrong", SECRET + "x", SECRET[:-1], OTHER_SECRET])
def test_gitlab_bad_token_is_401(hook_server, token: str | None) -> None:
    running = hook_server()
    status, _ = running.post(json.dumps(gitlab_mr_payload()).encode(), gitlab_headers(token=token))
    assert status == 401
    assert running.queued() == []


def test_github_bad_signatures_are_401(hook_server) -> None:
    running = hook_server()
    body = json.dumps(github_pr_payload()).encode()
    tampered = body.replace(b'"number": 2', b'"number": 3')
    cases = [
        (body, github_headers(body, secret=None)),
        (body, github_headers(body, secret=OTHER_SECRET)),
        (tampered, github_headers(body)),
        (body, github_headers(body) | {"X-Hub-Signature-256": "sha1=" + "0" * 40}),
        (body, github_headers(body) | {"X-Hub-Signature-256": github_signature(SECRET, body).upper()}),
    ]
    for payload, headers in cases:
        assert running.post(payload, headers)[0] == 401
    assert running.queued() == []


def test_forge_without_a_configured_secret_is_401(hook_server) -> None:
    running = hook_server(gitlab_token=None)
    status, _ = running.post(json.dumps(gitlab_mr_payload()).encode(), gitlab_headers())
    assert status == 401
    body = json.dumps(github_pr_payload()).encode()
    assert running.post(body, github_headers(body))[0] == 202
    assert [event.forge for event in running.queued()] == ["github"]


def test_unauthenticated_other_events_are_401_not_204(hook_server) -> None:
    running = hook_server()
    body = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'
    assert running.post(body, github_headers(body, event="ping", secret=OTHER_SECRET))[0] == 401


def test_wrong_content_type_is_415(hook_server) -> None:
    running = hook_server()
    body = b"payload=" + json.dumps(github_pr_payload()).encode()
    headers = github_headers(body) | {"Content-Type": "application/x-www-form-urlencoded"}
    assert running.post(body, headers)[0] == 415
    assert running.post(b"{}", gitlab_headers() | {"Content-Type": "text/plain"})[0] == 415
    assert running.queued() == []


def test_oversize_body_is_413_without_reading_it(hook_server) -> None:
    running = hook_server(limits=Limits(max_body=1024))
    with socket.create_connection((running.server.host, running.server.port), timeout=10) as sock:
        request = (
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-Gitlab-Event: Merge Request Hook\r\nX-Gitlab-Token: {SECRET}\r\n"
            "Content-Length: 104857600\r\n\r\n"
        )
        sock.sendall(request.encode() + b"{" * 512)  # 100 MiB announced, 512 bytes sent
        response = sock.makefile("rb").read()
    assert response.startswith(b"HTTP/1.1 413 ")
    assert running.queued() == []


def test_body_just_under_the_limit_is_read(hook_server) -> None:
    running = hook_server(limits=Limits(max_body=4096))
    payload = gitlab_mr_payload()
    payload["padding"] = ""
    body = json.dumps(payload).encode()
    payload["padding"] = "x" * (4096 - len(body))
    body = json.dumps(payload).encode()
    assert len(body) == 4096
    assert running.post(body, gitlab_headers())[0] == 202
    assert running.post(body + b" ", gitlab_headers())[0] == 413


def test_a_request_head_larger_than_the_limit_is_431(hook_server) -> None:
    running = hook_server(limits=Limits(max_header_bytes=4096))
    headers = gitlab_headers() | {"X-Padding": "x" * 5000}
    assert running.post(json.dumps(gitlab_mr_payload()).encode(), headers)[0] == 431
    many = gitlab_headers() | {f"X-Extra-{n}": "1" for n in range(120)}
    assert running.post(json.dumps(gitlab_mr_payload()).encode(), many)[0] == 431
    assert running.queued() == []


def test_not_a_webhook_and_malformed_payloads_are_400(hook_server) -> None:
    running = hook_server()
    assert running.post(b"{}", {"Content-Type": "application/json"})[0] == 400
    for body in [
        b"not json",
        b'{"action": "closed"}',
        b'{"action": "closed", "pull_request": {"merged": 1}}',
    ]:
        assert running.post(body, github_headers(body))[0] == 400
    payload = gitlab_mr_payload()
    payload["object_attributes"]["iid"] = "7"
    assert running.post(json.dumps(payload).encode(), gitlab_headers())[0] == 400
    for bad_time in ["yesterday", 1701624214, "2013-12-03"]:
        payload = gitlab_mr_payload()
        payload["object_attributes"]["updated_at"] = bad_time
        assert running.post(json.dumps(payload).encode(), gitlab_headers())[0] == 400
    assert running.queued() == []


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("Push Hook", {"object_kind": "push", "ref": "refs/heads/main"}),
        ("Merge Request Hook", gitlab_mr_payload("open")),
        ("Merge Request Hook", gitlab_mr_payload("update")),
        ("Merge Request Hook", gitlab_mr_payload("reopen")),
    ],
)
def test_other_gitlab_events_and_actions_are_204(hook_server, event: str, payload: dict) -> None:
    running = hook_server()
    status, body = running.post(json.dumps(payload).encode(), gitlab_headers(event=event))
    assert (status, body) == (204, b"")
    assert running.queued() == []


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("ping", {"zen": "Design for failure.", "hook_id": 292430182}),
        ("push", {"ref": "refs/heads/main"}),
        ("pull_request", github_pr_payload("opened")),
        ("pull_request", github_pr_payload("synchronize")),
        ("pull_request", github_pr_payload("reopened")),
    ],
)
def test_other_github_events_and_actions_are_204(hook_server, event: str, payload: dict) -> None:
    running = hook_server()
    body = json.dumps(payload).encode()
    assert running.post(body, github_headers(body, event=event))[0] == 204
    assert running.queued() == []


# --- the queue ------------------------------------------------------------------------------------------
def test_duplicate_deliveries_coalesce_into_one_waiting_event(hook_server) -> None:
    running = hook_server()
    body = json.dumps(github_pr_payload(number=99, merged=True)).encode()
    headers = github_headers(body)  # the same delivery, redelivered 50 times at once

    def post(_: int) -> tuple[int, str]:
        status, raw = running.post(body, headers)
        return status, json.loads(raw)["result"]

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(post, range(50)))
    assert sorted(results) == [(202, "coalesced")] * 49 + [(202, "queued")]
    assert [event.request_id for event in running.queued()] == [99]


def test_a_full_queue_answers_503_with_retry_after(hook_server) -> None:
    running = hook_server(DeletionQueue(capacity=2, retry_after=17))
    bodies = [json.dumps(gitlab_mr_payload(iid=iid)).encode() for iid in (1, 2, 3)]
    assert [running.post(body, gitlab_headers())[0] for body in bodies[:2]] == [202, 202]
    status, raw, headers = running.exchange("POST", "/", bodies[2], gitlab_headers())
    assert (status, headers["Retry-After"], json.loads(raw)["result"]) == (503, "17", "busy")
    assert running.post(bodies[0], gitlab_headers())[0] == 202  # already waiting: coalesced, not refused
    assert [event.request_id for event in running.queued()] == [1, 2]
    assert running.post(bodies[2], gitlab_headers())[0] == 202  # room again


def test_the_answer_does_not_wait_for_the_worker(hook_server) -> None:
    """A round that takes long (git, the forge) delays no answer: deliveries are only queued."""
    running = hook_server()
    inside, release = threading.Event(), threading.Event()
    rounds: list[list[int]] = []

    def slow_round(events: list[CloseEvent]) -> str:
        rounds.append([event.request_id for event in events])
        inside.set()
        assert release.wait(30)
        return "done"

    worker = Worker(running.queue, slow_round, gc_interval=0)
    worker.start()
    try:
        assert running.post(json.dumps(gitlab_mr_payload(iid=1)).encode(), gitlab_headers())[0] == 202
        assert inside.wait(10)  # the first round is busy now
        later = [
            running.post(json.dumps(gitlab_mr_payload(iid=n)).encode(), gitlab_headers()) for n in (2, 3)
        ]
        assert [status for status, _ in later] == [202, 202]
        release.set()
        assert worker.wait_idle(10)
    finally:
        release.set()
        worker.stop(timeout=10)
    assert rounds == [[1], [2, 3]]  # what arrived during a round is handled together in the next one


# --- shutdown ---------------------------------------------------------------------------------------------
def test_shutdown_answers_a_request_already_coming_in(hook_server) -> None:
    running = hook_server()
    body = json.dumps(gitlab_mr_payload()).encode()
    head = "".join(f"{name}: {value}\r\n" for name, value in gitlab_headers().items())
    request = f"POST / HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
    with socket.create_connection((running.server.host, running.server.port), timeout=10) as sock:
        sock.sendall(request[:40])
        while running.server.open_connections == 0:  # the server has accepted the connection
            time.sleep(0.005)
        stopper = threading.Thread(target=running.server.shutdown)
        stopper.start()
        sock.sendall(request[40:])
        response = sock.makefile("rb").read()
    stopper.join(10)
    assert not stopper.is_alive()
    assert response.startswith(b"HTTP/1.1 202 ")
    running.thread.join(10)
    assert not running.thread.is_alive()
    with pytest.raises(OSError):
        socket.create_connection((running.server.host, running.server.port), timeout=2).close()
    assert [event.request_id for event in running.queued()] == [1]


def test_shutdown_before_serving_does_not_hang() -> None:
    server = HookServer("127.0.0.1:0", DeletionQueue().offer, gitlab_token=SECRET, github_secret=None)
    server.shutdown()
    server.serve_forever()  # returns at once: already stopped


def test_sigterm_stops_the_cli_cleanly(tmp_path) -> None:
    remote = make_remote(tmp_path, {"README.md": "env repo\n"})
    config = tmp_path / "promoter.yaml"
    config.write_text(CLI_CONFIG)
    env = {**os.environ, "PROMOTER_WEBHOOK_SECRET": SECRET}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "promoter",
            "--config",
            str(config),
            "--repo",
            str(remote),
            "--output",
            "json",
            "hook",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--gc-interval",
            "0",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stderr.readline()
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", first)
        assert match, first
        port = int(match.group(1))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/", body=b"{}", headers=gitlab_headers(token=SECRET + "-guess"))
        assert conn.getresponse().status == 401
        conn.close()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "SIGTERM received" in stderr and "hook: stopped" in stderr
    assert "status=401" in stderr
    assert SECRET not in first + stderr + stdout
    assert json.loads(stdout) == {
        "ok": True,
        "result": "stopped",
        "url": f"http://127.0.0.1:{port}",
        "rounds": 0,
        "sweeps": 0,
        "left": 0,
    }


CLI_CONFIG = """\
version: 1
forge: {type: none}
environments: {staging: {branch: staging}}
apps:
  api: {image: registry.example.com/acme/api, files: [{file: values.yaml}]}
previews: {template: manifests}
"""


# --- secrets and configuration -------------------------------------------------------------------------
def test_secrets_never_reach_the_logs(hook_server) -> None:
    running = hook_server()
    body = json.dumps(gitlab_mr_payload(branch=f"leak-{SECRET}")).encode()
    running.post(body, gitlab_headers())
    running.post(body, gitlab_headers(token=SECRET + "-almost"))
    gh_body = json.dumps(github_pr_payload()).encode()
    running.post(gh_body, github_headers(gh_body))
    running.stop()
    lines = _delivery_lines(running.logs)
    assert len(lines) == 3
    text = "\n".join(running.logs)
    assert SECRET not in text
    assert "leak-" not in text  # branch names and bodies are not logged
    assert github_signature(SECRET, gh_body) not in text


def test_one_log_line_per_delivery_with_its_fields(hook_server) -> None:
    running = hook_server()
    running.post(json.dumps(gitlab_mr_payload("merge", iid=5)).encode(), gitlab_headers())
    running.post(json.dumps(gitlab_mr_payload("open")).encode(), gitlab_headers())
    running.get("/healthz")
    running.stop()
    merged, ignored = sorted(_delivery_lines(running.logs), key=lambda line: "status=204" in line)
    assert (
        'event="gitlab:Merge Request Hook" project=gitlabhq/gitlab-test id=5 action=merged status=202'
        in merged
    )
    assert "result=queued ms=" in merged
    assert "action=open status=204" in ignored


def test_secret_from_environment_is_registered_for_masking() -> None:
    server = HookServer.from_environment(
        "127.0.0.1:0", DeletionQueue().offer, environ={"PROMOTER_WEBHOOK_SECRET": SECRET}
    )
    try:
        assert server.gitlab_token == server.github_secret == SECRET
        assert masking.mask(f"token {SECRET}") == "token ***"
    finally:
        server.shutdown()


def test_a_secret_is_required() -> None:
    with pytest.raises(ConfigError):
        HookServer.from_environment("127.0.0.1:0", DeletionQueue().offer, environ={})


def test_listen_address_parsing() -> None:
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen(":9000") == ("", 9000)
    assert parse_listen("[::1]:8080") == ("::1", 8080)
    for bad in ["8080", "host:", "host:http", "h:70000"]:
        with pytest.raises(UsageError):
            parse_listen(bad)


def test_port_in_use_is_an_operational_error(hook_server) -> None:
    running = hook_server()
    with pytest.raises(OperationalError, match="cannot listen"):
        HookServer(
            f"127.0.0.1:{running.server.port}", DeletionQueue().offer, gitlab_token=SECRET, github_secret=None
        )


def test_cli_refuses_to_start_without_a_secret(run_cli) -> None:
    result = run_cli("hook", "serve", "--listen", "127.0.0.1:0")
    assert result.exit_code == 2
    assert "PROMOTER_WEBHOOK_SECRET" in result.output


def test_cli_rejects_a_bad_listen_address(run_cli) -> None:
    result = run_cli(
        "--output", "json", "hook", "serve", "--listen", "nowhere", env={"PROMOTER_WEBHOOK_SECRET": SECRET}
    )
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["type"] == "UsageError"


def test_cli_rejects_a_bad_gc_interval(run_cli) -> None:
    result = run_cli(
        "--output",
        "json",
        "hook",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--gc-interval",
        "often",
        env={"PROMOTER_WEBHOOK_SECRET": SECRET},
    )
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "UsageError" and "--gc-interval" in error["message"]


def test_cli_fails_at_start_when_the_env_repo_is_not_given(run_cli, tmp_path) -> None:
    """A receiver that could never delete anything refuses to start instead of accepting deliveries."""
    config = tmp_path / "promoter.yaml"
    config.write_text(CLI_CONFIG)
    result = run_cli(
        "--config",
        str(config),
        "--output",
        "json",
        "hook",
        "serve",
        "--listen",
        "127.0.0.1:0",
        env={"PROMOTER_WEBHOOK_SECRET": SECRET, "PROMOTER_REPO": ""},
    )
    assert result.exit_code == 2
    assert "no environment repository" in json.loads(result.stdout)["error"]["message"]

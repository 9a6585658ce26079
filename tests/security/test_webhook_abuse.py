"""Webhook abuse: slow clients cannot pin threads or connections, a replayed close event deletes nothing.

The slow-client and replay tests drive the real ``promoter hook serve`` in a subprocess (its thread count
is read from /proc); the time and connection limits are checked in process with small limits.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from promoter.hook import Limits
from tests.e2e.test_hook import github_headers, github_pr_payload, gitlab_headers, gitlab_mr_payload
from tests.e2e.test_preview import Env, rendered
from tests.support.fakeforge import FakeForge, fake_forge
from tests.support.gitrepos import git
from tests.support.hookservice import hook_process, start_receiver, wait_until

PROJECT = "acme/api"
SLOW_CLIENTS = 200


@pytest.fixture
def forge() -> Iterator[FakeForge]:
    with fake_forge() as running:
        yield running


def slow_start(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` connections that have sent only the first line of their request."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection((host, port), timeout=10)
        sock.sendall(b"POST / HTTP/1.1\r\nX-Gitlab-Event: Merge Request Hook\r\n")
        sockets.append(sock)
    return sockets


def trickle(sockets: list[socket.socket], seconds: float) -> int:
    """Send one header byte per connection at a time, for ``seconds``; returns how many are still open."""
    deadline = time.monotonic() + seconds
    open_ = list(sockets)
    while open_ and time.monotonic() < deadline:
        for sock in list(open_):
            try:
                sock.sendall(b"X")
            except OSError:
                open_.remove(sock)
        time.sleep(0.02)
    return len(open_)


def closed_by_server(sock: socket.socket) -> bytes | None:
    """What the server answered before closing, or None when the connection is still open."""
    sock.settimeout(0)
    try:
        data = sock.recv(65536)
    except BlockingIOError:
        return None
    except OSError:
        return b""
    return data


def test_slow_clients_hold_no_threads_and_other_deliveries_still_get_through(tmp_path: Path) -> None:
    env = Env(tmp_path, forge="none", url="https://unused.example.com")
    env.seed(dict([rendered(5, "feature-5", project=PROJECT)]))
    with hook_process(env.config, env.remote) as server:
        idle_threads = server.threads()
        sockets = slow_start("127.0.0.1", server.port, SLOW_CLIENTS)
        try:
            trickle(sockets, 1.0)
            busy_threads = server.threads()
            body = json.dumps(gitlab_mr_payload("merge", iid=5, branch="feature-5", project=PROJECT)).encode()
            status, _ = server.post(body, gitlab_headers(), timeout=10)
        finally:
            for sock in sockets:
                sock.close()
    assert busy_threads <= idle_threads + 2, f"{busy_threads} threads for {SLOW_CLIENTS} slow clients"
    assert status == 202


def test_a_request_has_a_total_time_limit_however_slowly_it_trickles(tmp_path: Path) -> None:
    env = Env(tmp_path, forge="none", url="https://unused.example.com")
    with start_receiver(env.config, env.remote, limits=Limits(request_timeout=0.3)) as receiver:
        (sock,) = slow_start(receiver.server.host, receiver.server.port, 1)
        with sock:
            assert trickle([sock], 10.0) == 0  # the server ended the connection long before 10 s
            answer = closed_by_server(sock)
        assert answer is not None and (answer == b"" or answer.startswith(b"HTTP/1.1 408 "))
        assert receiver.server.open_connections == 0


def test_at_the_connection_limit_slow_clients_are_pushed_out_for_new_ones(tmp_path: Path) -> None:
    env = Env(tmp_path, forge="none", url="https://unused.example.com")
    env.seed(dict([rendered(5, "feature-5", project=PROJECT)]))
    limits = Limits(max_connections=20, request_timeout=30)
    with start_receiver(env.config, env.remote, limits=limits) as receiver:
        host, port = receiver.server.host, receiver.server.port
        sockets = slow_start(host, port, 60)
        try:
            wait_until(lambda: receiver.server.open_connections == 20, 10, "the limit to be reached")
            body = json.dumps(gitlab_mr_payload("merge", iid=5, branch="feature-5", project=PROJECT)).encode()
            status, _ = receiver.post(body, gitlab_headers())
            receiver.settle()
            answers = [closed_by_server(sock) for sock in sockets]
        finally:
            for sock in sockets:
                sock.close()
        assert status == 202
        assert env.files() == []
        pushed_out = [a for a in answers if a is not None and a.startswith(b"HTTP/1.1 408 ")]
        assert len(pushed_out) >= 40 and all(b"pushed out" in a for a in pushed_out)
        assert receiver.server.open_connections <= 20


# --- replayed close events --------------------------------------------------------------------------------
def _long_ago() -> str:
    """Before the preview was created (``rendered`` creates it 10 days ago)."""
    return (datetime.now(timezone.utc) - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("kind", ["gitlab", "github", "none"])
def test_a_replayed_close_event_keeps_the_preview_of_a_reopened_request(
    tmp_path: Path, forge: FakeForge, kind: str
) -> None:
    """The request was closed 20 days ago, reopened, and its preview created again 10 days ago; the old
    close event is replayed now (its signature is still valid). The preview must survive: the forge says
    the request is open (gitlab, github), and the event is older than the preview (all three)."""
    env = Env(tmp_path, forge=kind, url=forge.url)
    path, text = rendered(1, "feature-1", project=PROJECT)
    env.seed({path: text})
    forge.set(PROJECT, 1, "open")
    if kind == "github":
        body = json.dumps(
            github_pr_payload(number=1, branch="feature-1", project=PROJECT, updated_at=_long_ago())
        )
        replay = (body.encode(), github_headers(body.encode()))
    else:
        payload = gitlab_mr_payload(
            "close", iid=1, branch="feature-1", project=PROJECT, updated_at=_long_ago()
        )
        replay = (json.dumps(payload).encode(), gitlab_headers())

    with hook_process(env.config, env.remote, environ={"PROMOTER_TOKEN": "forge-token"}) as server:
        status, _ = server.post(*replay)
        assert status in (200, 202)

        def decided() -> bool:
            handled = any("closed request(s)" in line for line in server.lines)
            return handled or path not in env.files()

        wait_until(decided, 60, "the close event to be handled")
    assert env.files() == [path]
    assert git("show", f"dynamic-envs:{path}", cwd=env.remote) == text.rstrip("\n")
    (line,) = [line for line in server.lines if "closed request(s)" in line]
    reason = "the preview is newer than the close event" if kind == "none" else "the request is open again"
    assert f"1 kept ({PROJECT}!1: {reason})" in line
    if kind != "none":
        assert any(call.query.get("state") in (["opened"], ["open"]) for call in forge.calls)

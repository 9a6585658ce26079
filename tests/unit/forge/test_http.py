"""The shared retry policy over a real socket (urllib3's own retry loop, not a test double)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from promoter.forge._http import MAX_TRIES, make_session


class _Handler(BaseHTTPRequestHandler):
    answers: list[tuple[int, dict[str, str]]] = []
    seen: list[str] = []

    def _answer(self) -> None:
        self.seen.append(self.command)
        status, headers = self.answers.pop(0) if self.answers else (200, {})
        payload = b"{}"
        self.send_response(status)
        for key, value in {**headers, "Content-Type": "application/json"}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.answers, _Handler.seen = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/x"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_retry_after_then_success_sleeps_once_per_retry(server: str) -> None:
    _Handler.answers = [(429, {"Retry-After": "4"}), (503, {})]
    slept: list[float] = []
    response = make_session(slept.append).get(server, timeout=5)
    assert response.status_code == 200
    assert _Handler.seen == ["GET"] * 3
    assert slept == [4, 1.0]


def test_gives_up_after_max_tries_and_returns_the_last_answer(server: str) -> None:
    _Handler.answers = [(502, {})] * 10
    slept: list[float] = []
    response = make_session(slept.append).get(server, timeout=5)
    assert response.status_code == 502
    assert len(_Handler.seen) == MAX_TRIES and slept == [0.5, 1.0, 2.0]


def test_post_retried_on_429_but_not_on_502(server: str) -> None:
    _Handler.answers = [(429, {"Retry-After": "1"}), (502, {})]
    slept: list[float] = []
    response = make_session(slept.append).post(server, json={}, timeout=5)
    assert response.status_code == 502
    assert _Handler.seen == ["POST", "POST"] and slept == [1]


def test_retry_after_is_capped(server: str) -> None:
    _Handler.answers = [(429, {"Retry-After": "3600"})]
    slept: list[float] = []
    assert make_session(slept.append).get(server, timeout=5).status_code == 200
    assert slept == [60.0]

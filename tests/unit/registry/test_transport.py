"""Rate limits, the per-registry concurrency limit, call counts and a registry found down."""

from __future__ import annotations

import email.utils
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import responses

from promoter.errors import ConfigError, RegistryError
from promoter.imageref import ImageRef
from promoter.registry import RegistryClient
from promoter.registry import transport as transport_module
from promoter.registry.transport import retry_after

URL = "https://registry.example.com/v2/acme/api/tags/list"
REF = ImageRef.parse("registry.example.com/acme/api")


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    seen: list[float] = []
    monkeypatch.setattr(transport_module, "_sleep", seen.append)
    return seen


def test_429_waits_as_long_as_retry_after_says(waits: list[float]) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(responses.GET, URL, status=429, headers={"Retry-After": "3"})
        mock.add(responses.GET, URL, status=429, headers={"Retry-After": "1"})
        mock.add(responses.GET, URL, json={"tags": ["1"]})
        client = RegistryClient(environ={})
        assert client.list_tags(REF) == ["1"]
    assert waits == [3.0, 1.0]
    assert client.calls == {"registry.example.com": 3}


def test_retry_after_as_a_date_and_backoff_without_one(waits: list[float]) -> None:
    soon = email.utils.format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(responses.GET, URL, status=429, headers={"Retry-After": soon})
        mock.add(responses.GET, URL, status=429)
        mock.add(responses.GET, URL, status=503, headers={"Retry-After": "0"})
        mock.add(responses.GET, URL, json={"tags": []})
        assert RegistryClient(environ={}).list_tags(REF) == []
    assert 25 < waits[0] <= 30
    assert waits[1:] == [2.0, 0.0]  # no Retry-After: 1 s, 2 s, 4 s ... by attempt


def test_a_registry_that_keeps_limiting_is_an_error_naming_it(waits: list[float]) -> None:
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, URL, status=429, headers={"Retry-After": "1"})
        with pytest.raises(
            RegistryError, match=r"registry\.example\.com is rate limiting: HTTP 429 after 5"
        ) as caught:
            RegistryClient(environ={}).list_tags(REF)
    assert waits == [1.0] * 4
    assert "PROMOTER_REGISTRY_CONCURRENCY" in (caught.value.hint or "")


def test_a_wait_longer_than_a_minute_is_not_waited(waits: list[float]) -> None:
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, URL, status=429, headers={"Retry-After": "3600"})
        with pytest.raises(RegistryError, match="retry after 3600 s"):
            RegistryClient(environ={}).list_tags(REF)
    assert waits == []


@pytest.mark.parametrize(("value", "expected"), [("12", 12.0), ("", None), ("soon", None), (None, None)])
def test_retry_after_values(value: str | None, expected: float | None) -> None:
    assert retry_after(value) == expected


def test_a_registry_found_down_is_not_asked_again() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{sock.getsockname()[1]}"
        client = RegistryClient(environ={})
        for name in ("a/one", "a/two", "a/three"):
            with pytest.raises(RegistryError, match="unreachable"):
                client.list_tags(ImageRef.parse(f"{host}/{name}"))
    assert client.calls == {host: 1}


def test_a_registry_down_is_asked_once_by_threads_that_want_it_at_the_same_moment() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{sock.getsockname()[1]}"
        client = RegistryClient(environ={"PROMOTER_REGISTRY_CONCURRENCY": "8"})
        start = threading.Barrier(8)
        failures: list[str] = []

        def ask(n: int) -> None:
            start.wait()
            try:
                client.list_tags(ImageRef.parse(f"{host}/team/app{n}"))
            except RegistryError as error:
                failures.append(error.message)

        threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert len(failures) == 8 and all("unreachable" in message for message in failures)
    assert client.calls == {host: 1}


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_a_bad_concurrency_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match="PROMOTER_REGISTRY_CONCURRENCY"):
        RegistryClient(environ={"PROMOTER_REGISTRY_CONCURRENCY": value})


class _Slow(BaseHTTPRequestHandler):
    lock = threading.Lock()
    active = 0
    peak = 0

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        cls = type(self)
        with cls.lock:
            cls.active += 1
            cls.peak = max(cls.peak, cls.active)
        time.sleep(0.15)
        with cls.lock:
            cls.active -= 1
        body = b'{"tags": ["1"]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def slow_registry() -> Iterator[tuple[str, type[_Slow]]]:
    handler = type("Handler", (_Slow,), {"lock": threading.Lock(), "active": 0, "peak": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_at_most_the_configured_number_of_requests_per_registry_at_once(
    slow_registry: tuple[str, type[_Slow]],
) -> None:
    host, handler = slow_registry
    client = RegistryClient(environ={"PROMOTER_REGISTRY_CONCURRENCY": "2"})
    threads = [
        threading.Thread(target=client.list_tags, args=(ImageRef.parse(f"{host}/team/app{n}"),))
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert handler.peak <= 2
    assert client.calls == {host: 8}

"""The HTTP side of ``promoter hook serve``: check a delivery, hand its event over, answer at once.

One asyncio event loop (standard library only) serves every connection, so a slow or idle client costs a
socket and a small buffer, never a thread. A delivery is authenticated before its body is parsed, and the
answer does not wait for git: a close or merge event is handed to ``submit`` (the worker's bounded queue)
and answered 202.

Abuse limits (:class:`Limits`): a client has ``request_timeout`` seconds in total to send its request
(headers and body) and again to take the answer, however slowly it trickles bytes; at most
``max_connections`` connections are open at once, and when that many are, a new one takes the place of
the oldest one that is still sending its request (answered 408): quick deliveries get through while slow
ones are pushed out. Request heads are limited to ``max_header_bytes``, bodies to ``max_body``.

Answers: 202 queued (JSON: ``result`` "queued", or "coalesced" when the request was already waiting),
204 ignored event or action, 400 malformed request or payload, 401 bad or missing token or signature,
404 unknown path, 405 not POST, 408 request too slow, 411 no Content-Length, 413 body larger than
``max_body`` (not read), 415 not JSON, 431 request head too large, 503 queue full or no connection to
spare (with ``Retry-After``). ``GET /healthz`` answers 200. One log line per delivery, never a secret or a
body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from promoter import masking
from promoter.errors import ConfigError, OperationalError, UsageError
from promoter.hook.events import (
    CloseEvent,
    Forge,
    PayloadError,
    authentic,
    github_close_event,
    gitlab_close_event,
)
from promoter.hook.queue import QueueFull
from promoter.hook.wire import Answer, Answered, Headers, Reply, parse_head, rejected, render

LOG = logging.getLogger("promoter.hook")
SECRET_ENV = "PROMOTER_WEBHOOK_SECRET"  # noqa: S105 - a variable name, not a secret
DEFAULT_LISTEN = "127.0.0.1:8080"
DEFAULT_MAX_BODY = 1024 * 1024
_LOG_FIELD_LIMIT = 120
_BACKLOG = 1024

Submit = Callable[[CloseEvent], str]
"""Take an accepted event; returns a short word for the answer ("queued"). May raise :class:`QueueFull`."""


@dataclass(frozen=True)
class Limits:
    """How much one client may take from the receiver."""

    max_body: int = DEFAULT_MAX_BODY
    max_connections: int = 256
    request_timeout: float = 10.0
    """Seconds to send the whole request (and, separately, to take the answer)."""
    max_header_bytes: int = 32 * 1024


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT`` or ``:PORT`` (all interfaces) -> (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen expects HOST:PORT, got {listen!r}", hint=f"e.g. {DEFAULT_LISTEN}")
    return host.strip("[]"), int(port)


def _clean(value: object) -> str:
    """A log-safe rendering of an untrusted value: printable, one token, bounded."""
    text = str(value)
    if text and len(text) <= _LOG_FIELD_LIMIT and text.isprintable() and " " not in text and '"' not in text:
        return text
    text = "".join(ch if ch.isprintable() else "?" for ch in text)[:_LOG_FIELD_LIMIT]
    return json.dumps(text, ensure_ascii=False) if not text or " " in text or '"' in text else text


class _Connection(asyncio.Protocol):
    """One client connection, answered as soon as its request is complete (no task, no stream objects).

    The receiver may end it early: too slow (its deadline passed) or pushed out by a newer connection.
    """

    def __init__(self, server: HookServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.request: tuple[str, str, Headers] | None = None  # method, target, headers once the head is in
        self.length = 0
        self.reading = True  # still receiving the request
        self.started = 0.0
        self.deadline = 0.0  # when the receiver ends the connection (checked by HookServer._sweep)
        self.fields: dict[str, Any] = {"event": "-", "project": "-", "id": "-", "action": "-"}

    # -- asyncio callbacks ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.started = time.monotonic()
        self.deadline = self.started + self.server.limits.request_timeout
        if not self.server._admit(self):
            self.reading = False
            transport.write(render(rejected(HTTPStatus.SERVICE_UNAVAILABLE, "busy", ("Retry-After", "1"))))
            transport.close()

    def data_received(self, data: bytes) -> None:
        if not self.reading:
            return
        self.buffer += data
        try:
            if self.request is None and not self._read_head():
                return
            if len(self.buffer) < self.length:
                return
            assert self.request is not None
            answer = self.server._deliver(self.request[2], bytes(self.buffer[: self.length]), self.fields)
        except Reply as reply:
            answer = rejected(reply.status, reply.result)
        except Answered as done:
            answer = done.answer
        self.answer(answer)

    def eof_received(self) -> bool:
        return False  # the client stopped sending: close (an unfinished request gets no answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._forget(self)

    # -- the request ----------------------------------------------------------------------------------
    def _read_head(self) -> bool:
        """Parse the head once it is complete; False while more is needed. Raises :class:`Reply`."""
        limit = self.server.limits.max_header_bytes
        end = self.buffer.find(b"\r\n\r\n", 0, limit + 4)
        if end < 0:
            if len(self.buffer) > limit:
                raise Reply(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large")
            return False
        method, target, headers = parse_head(bytes(self.buffer[: end + 4]))
        del self.buffer[: end + 4]
        if method == "GET":
            self.fields["method"] = "GET"
            if target.split("?", 1)[0] == "/healthz":
                raise Answered(Answer(HTTPStatus.OK, {"status": "ok"}, "ok"))
            raise Answered(Answer(HTTPStatus.NOT_FOUND, {"error": "not found"}, "not found"))
        if method != "POST":
            raise Answered(rejected(HTTPStatus.METHOD_NOT_ALLOWED, "only POST", ("Allow", "GET, POST")))
        forge, event_name, _ = self.server._forge_of(headers)
        self.fields["event"] = f"{forge}:{event_name}"
        self.length = self.server._body_length(headers)
        self.request = (method, target, headers)
        if headers.get("expect", "").lower() == "100-continue" and len(self.buffer) < self.length:
            assert self.transport is not None
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    # -- answering ------------------------------------------------------------------------------------
    def answer(self, answer: Answer) -> None:
        """Send ``answer``, close once it is out (or after the time limit if the client does not read)."""
        if not self.reading or self.transport is None:
            return
        self.reading = False
        transport = self.transport
        transport.write(render(answer))
        self.deadline = time.monotonic() + self.server.limits.request_timeout  # to take the answer
        transport.close()  # once the answer is out
        if self.fields.get("method") != "GET":
            _log(answer, self.fields, self.started)

    def expire(self) -> None:
        """The deadline passed: answer 408 while the request is still coming in, else drop the connection."""
        if self.reading:
            timeout = self.server.limits.request_timeout
            self.answer(rejected(HTTPStatus.REQUEST_TIMEOUT, f"request not received within {timeout:g} s"))
        elif self.transport is not None:
            self.transport.abort()


def _log(answer: Answer, fields: dict[str, Any], started: float) -> None:
    LOG.info(
        "hook: delivery event=%s project=%s id=%s action=%s status=%d result=%s ms=%.1f",
        *(_clean(fields[key]) for key in ("event", "project", "id", "action")),
        answer.status.value,
        _clean(answer.result),
        (time.monotonic() - started) * 1000,
    )


class HookServer:
    """The webhook receiver, bound on construction (``port`` is known even when listening on port 0)."""

    def __init__(
        self,
        listen: str,
        submit: Submit,
        *,
        gitlab_token: str | None,
        github_secret: str | None,
        limits: Limits | None = None,
    ) -> None:
        if not gitlab_token and not github_secret:
            raise ConfigError(
                "the webhook receiver needs a secret", hint=f"set {SECRET_ENV} (the webhook's secret token)"
            )
        masking.register_secret(gitlab_token)
        masking.register_secret(github_secret)
        self.submit = submit
        self.gitlab_token = gitlab_token
        self.github_secret = github_secret
        self.limits = limits or Limits()
        host, port = parse_listen(listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            self._sock = socket.create_server((host, port), family=family, backlog=_BACKLOG)
        except OSError as exc:
            raise OperationalError(
                f"cannot listen on {listen}: {exc.strerror or exc}", where=listen
            ) from None
        self._address = self._sock.getsockname()
        self._state = threading.Lock()
        self._stop_requested = False
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopped = threading.Event()
        self._signals: tuple[signal.Signals, ...] = ()
        self._open: dict[_Connection, None] = {}  # insertion order = age
        self._all_closed: asyncio.Event | None = None
        self._sweep_every = 1.0
        self.served = 0

    @classmethod
    def from_environment(
        cls,
        listen: str,
        submit: Submit,
        *,
        environ: Mapping[str, str] | None = None,
        limits: Limits | None = None,
    ) -> HookServer:
        """A server whose one secret (``PROMOTER_WEBHOOK_SECRET``) serves both GitLab and GitHub."""
        secret = (os.environ if environ is None else environ).get(SECRET_ENV) or None
        return cls(listen, submit, gitlab_token=secret, github_secret=secret, limits=limits)

    @property
    def host(self) -> str:
        return str(self._address[0])

    @property
    def port(self) -> int:
        return int(self._address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def open_connections(self) -> int:
        return len(self._open)

    # --- lifecycle ----------------------------------------------------------------------------------
    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown`; then answer the requests already coming in and close."""
        with self._state:
            if self._stop_requested:
                return
            self._running = True
        try:
            asyncio.run(self._serve())
        finally:
            self._sock.close()
            self._stopped.set()
            LOG.info("hook: stopped")

    def shutdown(self) -> None:
        """Stop accepting, answer the requests already coming in (each within its time limit), close.
        Safe from any thread, also before :meth:`serve_forever` started."""
        with self._state:
            self._stop_requested = True
            running = self._running
            if self._loop is not None and self._wake is not None:
                with contextlib.suppress(RuntimeError):  # the loop has already finished
                    self._loop.call_soon_threadsafe(self._wake.set)
        if running:
            self._stopped.wait()
        else:
            self._sock.close()
            self._stopped.set()

    def request_shutdown(self) -> None:
        """Start :meth:`shutdown` without waiting for it."""
        threading.Thread(target=self.shutdown, name="hook-shutdown", daemon=True).start()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the server gracefully (serve_forever must run in the main thread)."""
        self._signals = (signal.SIGTERM, signal.SIGINT)

    def _signalled(self, signum: signal.Signals) -> None:
        LOG.info("hook: %s received, shutting down", signal.Signals(signum).name)
        with self._state:
            self._stop_requested = True
        if self._wake is not None:
            self._wake.set()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        with self._state:
            self._loop, self._wake = loop, wake
            if self._stop_requested:
                return
        for signum in self._signals:
            loop.add_signal_handler(signum, self._signalled, signum)
        server = await loop.create_server(lambda: _Connection(self), sock=self._sock, backlog=_BACKLOG)
        self._sweep_every = min(1.0, self.limits.request_timeout / 4)
        loop.call_later(self._sweep_every, self._sweep)
        LOG.info("hook: listening on %s", self.url)
        await wake.wait()
        server.close()  # no new connections; those open get their answers
        if self._open:
            self._all_closed = asyncio.Event()
            try:
                await asyncio.wait_for(self._all_closed.wait(), self.limits.request_timeout * 2 + 1)
            except asyncio.TimeoutError:
                for connection in list(self._open):
                    if connection.transport is not None:
                        connection.transport.abort()

    # --- one connection -----------------------------------------------------------------------------
    def _admit(self, connection: _Connection) -> bool:
        """Count a new connection; at the limit, push out the oldest one still sending its request."""
        if len(self._open) >= self.limits.max_connections:
            oldest = next((c for c in self._open if c.reading), None)
            if oldest is None:
                return False
            oldest.answer(rejected(HTTPStatus.REQUEST_TIMEOUT, "pushed out by newer connections"))
            self._open.pop(oldest, None)
        self._open[connection] = None
        return True

    def _sweep(self) -> None:
        """End the connections whose time is up; runs a few times per time limit (one timer for all)."""
        now = time.monotonic()
        for connection in [c for c in self._open if c.deadline <= now]:
            connection.expire()
        assert self._loop is not None
        self._loop.call_later(self._sweep_every, self._sweep)

    def _forget(self, connection: _Connection) -> None:
        self._open.pop(connection, None)
        self.served += 1
        if not self._open and self._all_closed is not None:
            self._all_closed.set()

    @staticmethod
    def _forge_of(headers: Headers) -> tuple[Forge, str, str | None]:
        if "x-gitlab-event" in headers:
            return "gitlab", headers["x-gitlab-event"], headers.get("x-gitlab-event-uuid")
        if "x-github-event" in headers:
            return "github", headers["x-github-event"], headers.get("x-github-delivery")
        raise Reply(HTTPStatus.BAD_REQUEST, "not a GitLab or GitHub webhook")

    def _body_length(self, headers: Headers) -> int:
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        length_header = headers.get("content-length")
        if headers.get("transfer-encoding") or length_header is None:
            raise Reply(HTTPStatus.LENGTH_REQUIRED, "no Content-Length")
        text = length_header.strip()
        length = int(text) if text.isascii() and text.isdigit() else -1
        if length < 0:
            raise Reply(HTTPStatus.BAD_REQUEST, "bad Content-Length")
        if length > self.limits.max_body:
            raise Reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body larger than {self.limits.max_body} bytes")
        if content_type != "application/json":
            raise Reply(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "content type is not application/json")
        return length

    def _deliver(self, headers: Headers, body: bytes, fields: dict[str, Any]) -> Answer:
        """Authenticate, read the event, hand it over; the answer. Raises :class:`Reply`."""
        forge, event_name, delivery = self._forge_of(headers)
        if not authentic(
            forge, headers, body, gitlab_token=self.gitlab_token, github_secret=self.github_secret
        ):
            raise Reply(HTTPStatus.UNAUTHORIZED, "bad token or signature")
        relevant = event_name == "Merge Request Hook" if forge == "gitlab" else event_name == "pull_request"
        if not relevant:
            return Answer(HTTPStatus.NO_CONTENT, None, "ignored event")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Reply(HTTPStatus.BAD_REQUEST, "body is not JSON") from None
        read_event = gitlab_close_event if forge == "gitlab" else github_close_event
        try:
            event = read_event(data, delivery)
        except PayloadError as exc:
            raise Reply(HTTPStatus.BAD_REQUEST, str(exc)) from None
        if event is None:
            if isinstance(data, dict):
                attributes = data.get("object_attributes")
                fields["action"] = (
                    attributes.get("action") if isinstance(attributes, dict) else data.get("action")
                )
            return Answer(HTTPStatus.NO_CONTENT, None, "ignored action")
        fields.update(project=event.project, id=event.request_id, action=event.action)
        try:
            result = self.submit(event)
        except QueueFull as full:
            return Answer(
                HTTPStatus.SERVICE_UNAVAILABLE,
                {"result": "busy", "reason": str(full)},
                "busy",
                (("Retry-After", str(full.retry_after)),),
            )
        return Answer(HTTPStatus.ACCEPTED, {"result": result, "event": event.as_dict()}, result)

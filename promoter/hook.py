"""Webhook receiver: a merge request (GitLab) or pull request (GitHub) closed or merged -> a handler call.

Standard library only. Each delivery is authenticated before anything else is looked at (GitLab: the
``X-Gitlab-Token`` shared secret; GitHub: ``X-Hub-Signature-256``, HMAC-SHA256 of the raw body), parsed into
a :class:`CloseEvent` and passed to the handler. Deliveries run concurrently, one thread each; deliveries for
the same request are serialised by a lock per request, so a handler sees duplicates one after another.

Responses: 200 handled (small JSON body), 204 ignored event or action, 400 malformed payload, 401 bad or
missing token or signature, 411 no Content-Length, 413 body larger than ``max_body`` (not read), 415 not
JSON, 500 the handler failed. ``GET /healthz`` answers 200. One log line per delivery, never a secret or a
body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from promoter import masking
from promoter.errors import ConfigError, OperationalError, PromoterError, UsageError

LOG = logging.getLogger("promoter.hook")
SECRET_ENV = "PROMOTER_WEBHOOK_SECRET"  # noqa: S105 - a variable name, not a secret
DEFAULT_LISTEN = "127.0.0.1:8080"
DEFAULT_MAX_BODY = 1024 * 1024
_LOG_FIELD_LIMIT = 120


@dataclass(frozen=True)
class CloseEvent:
    """A merge or pull request that was closed or merged."""

    forge: Literal["gitlab", "github"]
    project: str
    """``group/project`` (GitLab ``path_with_namespace``) or ``owner/repo`` (GitHub ``full_name``)."""
    request_id: int
    """GitLab merge request IID or GitHub pull request number."""
    action: Literal["closed", "merged"]
    source_branch: str
    delivery_id: str | None = None


Handler = Callable[[CloseEvent], str]


class _Reply(Exception):
    """Ends a delivery early with ``status`` (control flow inside the request handler)."""

    def __init__(self, status: HTTPStatus, result: str) -> None:
        super().__init__(result)
        self.status = status
        self.result = result


# --- payload parsing --------------------------------------------------------------------------------
def _field(payload: Any, *path: str) -> Any:
    value = payload
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise _Reply(HTTPStatus.BAD_REQUEST, f"payload lacks {'.'.join(path)}")
        value = value[key]
    return value


def _string(payload: Any, *path: str) -> str:
    value = _field(payload, *path)
    if not isinstance(value, str) or not value:
        raise _Reply(HTTPStatus.BAD_REQUEST, f"payload field {'.'.join(path)} is not a string")
    return value


def _number(payload: Any, *path: str) -> int:
    value = _field(payload, *path)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _Reply(HTTPStatus.BAD_REQUEST, f"payload field {'.'.join(path)} is not a positive integer")
    return value


def gitlab_close_event(payload: Any, delivery_id: str | None = None) -> CloseEvent | None:
    """A GitLab merge request event -> a CloseEvent, or None for other actions (open, update, ...)."""
    action = _field(payload, "object_attributes", "action") if isinstance(payload, dict) else None
    if action not in ("close", "merge"):
        return None
    return CloseEvent(
        forge="gitlab",
        project=_string(payload, "project", "path_with_namespace"),
        request_id=_number(payload, "object_attributes", "iid"),
        action="merged" if action == "merge" else "closed",
        source_branch=_string(payload, "object_attributes", "source_branch"),
        delivery_id=delivery_id,
    )


def github_close_event(payload: Any, delivery_id: str | None = None) -> CloseEvent | None:
    """A GitHub pull_request event -> a CloseEvent, or None for other actions (opened, synchronize, ...)."""
    if not isinstance(payload, dict) or payload.get("action") != "closed":
        return None
    merged = _field(payload, "pull_request", "merged")
    return CloseEvent(
        forge="github",
        project=_string(payload, "repository", "full_name"),
        request_id=_number(payload, "pull_request", "number"),
        action="merged" if merged is True else "closed",
        source_branch=_string(payload, "pull_request", "head", "ref"),
        delivery_id=delivery_id,
    )


def github_signature(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header value GitHub sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- per-request locks ------------------------------------------------------------------------------
class KeyedLocks:
    """One lock per key, created on demand and dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[object, list[Any]] = {}

    @contextmanager
    def hold(self, key: object) -> Iterator[None]:
        with self._guard:
            entry = self._locks.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[key]

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)


# --- server -----------------------------------------------------------------------------------------
def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT`` or ``:PORT`` (all interfaces) -> (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen expects HOST:PORT, got {listen!r}", hint=f"e.g. {DEFAULT_LISTEN}")
    return host.strip("[]"), int(port)


def _clean(value: object) -> str:
    """A log-safe rendering of an untrusted value: printable, one token, bounded."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))[:_LOG_FIELD_LIMIT]
    return json.dumps(text, ensure_ascii=False) if not text or " " in text or '"' in text else text


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for deliveries in flight
    block_on_close = True
    request_queue_size = 128  # listen backlog: bursts of deliveries queue instead of being reset

    hook: HookServer

    def __init__(self, address: tuple[str, int], hook: HookServer) -> None:
        import socket

        self.hook = hook
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _RequestHandler)


class HookServer:
    """The webhook receiver, bound on construction (``port`` is known even when listening on port 0)."""

    poll_interval = 0.2
    """Seconds between checks for a shutdown request while idle."""

    def __init__(
        self,
        listen: str,
        handler: Handler,
        *,
        gitlab_token: str | None,
        github_secret: str | None,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        if not gitlab_token and not github_secret:
            raise ConfigError(
                "the webhook receiver needs a secret", hint=f"set {SECRET_ENV} (the webhook's secret token)"
            )
        masking.register_secret(gitlab_token)
        masking.register_secret(github_secret)
        self.handler = handler
        self.gitlab_token = gitlab_token
        self.github_secret = github_secret
        self.max_body = max_body
        self.locks = KeyedLocks()
        host, port = parse_listen(listen)
        try:
            self._httpd = _Server((host, port), self)
        except OSError as exc:
            raise OperationalError(
                f"cannot listen on {listen}: {exc.strerror or exc}", where=listen
            ) from None
        self._serving = threading.Event()
        self._stopped = threading.Event()

    @classmethod
    def from_environment(
        cls,
        listen: str,
        handler: Handler,
        *,
        environ: dict[str, str] | None = None,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> HookServer:
        """A server whose one secret (``PROMOTER_WEBHOOK_SECRET``) serves both GitLab and GitHub."""
        secret = (os.environ if environ is None else environ).get(SECRET_ENV) or None
        return cls(listen, handler, gitlab_token=secret, github_secret=secret, max_body=max_body)

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown`; then wait for deliveries in flight and close the socket."""
        if self._stopped.is_set():
            return
        self._serving.set()
        LOG.info("hook: listening on %s", self.url)
        try:
            self._httpd.serve_forever(poll_interval=self.poll_interval)
        finally:
            self._httpd.server_close()
            self._stopped.set()
            LOG.info("hook: stopped")

    def shutdown(self) -> None:
        """Stop accepting deliveries, let those in flight finish, close. Safe from any thread but the
        one running :meth:`serve_forever` (use :meth:`request_shutdown` there, e.g. in a signal handler)."""
        if self._serving.is_set():
            self._httpd.shutdown()
            self._stopped.wait()
        elif not self._stopped.is_set():
            self._stopped.set()
            self._httpd.server_close()

    def request_shutdown(self) -> None:
        """Start :meth:`shutdown` without waiting for it (safe in a signal handler)."""
        threading.Thread(target=self.shutdown, name="hook-shutdown", daemon=True).start()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the server gracefully (call from the main thread)."""

        def on_signal(signum: int, _frame: object) -> None:
            LOG.info("hook: %s received, shutting down", signal.Signals(signum).name)
            self.request_shutdown()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    # --- one delivery -------------------------------------------------------------------------------
    def authenticate(self, forge: str, headers: Any, body: bytes) -> None:
        if forge == "gitlab":
            token = headers.get("X-Gitlab-Token")
            ok = bool(self.gitlab_token and token) and hmac.compare_digest(
                token.encode("utf-8", "surrogateescape"), self.gitlab_token.encode()
            )
        else:
            signature = headers.get("X-Hub-Signature-256")
            ok = bool(self.github_secret and signature) and hmac.compare_digest(
                signature.encode("utf-8", "surrogateescape"),
                github_signature(self.github_secret, body).encode(),
            )
        if not ok:
            raise _Reply(HTTPStatus.UNAUTHORIZED, "bad token or signature")

    def dispatch(self, event: CloseEvent) -> str:
        """Call the handler, one call at a time per request."""
        with self.locks.hold((event.forge, event.project, event.request_id)):
            return self.handler(event)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "promoter-hook"
    sys_version = ""
    timeout = 30  # seconds a client may take to send its request

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # the delivery line replaces access logs
        LOG.debug("hook: %s", masking.mask(format % args))

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/healthz":
            self._send(HTTPStatus.OK, {"status": "ok"})
        else:
            self._send(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def do_POST(self) -> None:
        started = time.monotonic()
        hook = self.server.hook
        fields: dict[str, Any] = {"event": "-", "project": "-", "id": "-", "action": "-"}
        try:
            status, payload, result = self._deliver(hook, fields)
        except _Reply as reply:
            status, payload, result = (
                reply.status,
                {"result": "rejected", "reason": reply.result},
                reply.result,
            )
        self._send(status, payload)
        elapsed_ms = (time.monotonic() - started) * 1000
        error = f" error={_clean(masking.mask(fields['error']))}" if "error" in fields else ""
        LOG.info(
            "hook: delivery event=%s project=%s id=%s action=%s status=%d result=%s ms=%.1f%s",
            *(_clean(fields[key]) for key in ("event", "project", "id", "action")),
            status.value,
            _clean(result),
            elapsed_ms,
            error,
        )

    def _deliver(
        self, hook: HookServer, fields: dict[str, Any]
    ) -> tuple[HTTPStatus, dict[str, Any] | None, str]:
        if "X-Gitlab-Event" in self.headers:
            forge, event_name = "gitlab", self.headers["X-Gitlab-Event"]
            delivery = self.headers.get("X-Gitlab-Event-UUID")
        elif "X-GitHub-Event" in self.headers:
            forge, event_name = "github", self.headers["X-GitHub-Event"]
            delivery = self.headers.get("X-GitHub-Delivery")
        else:
            self.close_connection = True
            raise _Reply(HTTPStatus.BAD_REQUEST, "not a GitLab or GitHub webhook")
        fields["event"] = f"{forge}:{event_name}"
        body = self._read_body(hook.max_body)
        hook.authenticate(forge, self.headers, body)
        relevant = event_name == "Merge Request Hook" if forge == "gitlab" else event_name == "pull_request"
        if not relevant:
            return HTTPStatus.NO_CONTENT, None, "ignored event"
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise _Reply(HTTPStatus.BAD_REQUEST, "body is not JSON") from None
        event = (
            gitlab_close_event(data, delivery) if forge == "gitlab" else github_close_event(data, delivery)
        )
        if event is None:
            if isinstance(data, dict):
                attributes = data.get("object_attributes")
                fields["action"] = (
                    attributes.get("action") if isinstance(attributes, dict) else data.get("action")
                )
            return HTTPStatus.NO_CONTENT, None, "ignored action"
        fields.update(project=event.project, id=event.request_id, action=event.action)
        try:
            result = hook.dispatch(event)
        except PromoterError as exc:
            fields["error"] = str(exc)
            return (
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"result": "error", "error": exc.kind},
                f"error:{exc.kind}",
            )
        except Exception as exc:
            LOG.debug("hook: handler failed", exc_info=True)
            fields["error"] = str(exc)
            return (
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"result": "error", "error": type(exc).__name__},
                f"error:{type(exc).__name__}",
            )
        return HTTPStatus.OK, {"result": result, "event": asdict(event)}, result

    def _read_body(self, max_body: int) -> bytes:
        content_type = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        length_header = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or length_header is None:
            self.close_connection = True
            raise _Reply(HTTPStatus.LENGTH_REQUIRED, "no Content-Length")
        try:
            length = int(length_header)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise _Reply(HTTPStatus.BAD_REQUEST, "bad Content-Length")
        if length > max_body:
            self.close_connection = True  # the body stays unread
            raise _Reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body larger than {max_body} bytes")
        if content_type != "application/json":
            self.close_connection = True
            raise _Reply(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "content type is not application/json")
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            raise _Reply(HTTPStatus.BAD_REQUEST, "body shorter than Content-Length")
        return body

    def _send(self, status: HTTPStatus, payload: dict[str, Any] | None) -> None:
        body = b"" if payload is None or status == HTTPStatus.NO_CONTENT else json.dumps(payload).encode()
        try:
            self.send_response(status)
            if body:
                self.send_header("Content-Type", "application/json")
            if status != HTTPStatus.NO_CONTENT:
                self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if body:
                self.wfile.write(body)
        except OSError:  # the client went away; nothing to tell it
            self.close_connection = True

"""Sending a forge request again when its answer was lost, cut short or late, if that is safe.

urllib3's retry policy (:mod:`promoter.forge._http`) handles answers that arrived (429, 5xx) and connections
that could not be opened. What it cannot handle is a request that reached the server and whose answer
never came back whole: the connection was reset, the answer was cut short (the body is read after urllib3
returns), or nothing came back in time. Such a request may have been applied, so only idempotent ones are
sent again: GET, HEAD, OPTIONS, and PUT (which replaces a resource with the same body), except PUT on an
action endpoint such as ``/merge``. The caller's error message then says exactly what happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

MAX_TRIES = 4
BACKOFF = 0.5
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT"})
_ACTION_ENDPOINTS = frozenset(
    {"merge", "rebase", "approve", "unapprove", "cancel_merge_when_pipeline_succeeds"}
)

# What happened to a request that got no whole answer.
CONNECT = "connect"  # no connection (refused, unreachable, connect timeout): the request was never sent
TIMEOUT = "timeout"  # sent, no answer in time
RESET = "reset"  # sent, the connection was reset or closed before an answer came
TRUNCATED = "truncated"  # an answer started but was cut short
RESENDABLE = frozenset({TIMEOUT, RESET, TRUNCATED})


def is_idempotent(method: str, url: str) -> bool:
    verb = method.upper()
    if verb not in _IDEMPOTENT:
        return False
    last = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    return not (verb == "PUT" and last in _ACTION_ENDPOINTS)


def failure_kind(exc: BaseException) -> str | None:
    """How a request failed at the transport level (see the constants above), or None for anything else."""
    import requests
    import urllib3.exceptions as u3

    if getattr(exc, "response_code", None) is not None or isinstance(getattr(exc, "status", None), int):
        return None  # the forge answered: an HTTP error, not a transport failure
    chain = _chain(exc)
    connect = (u3.ConnectTimeoutError, u3.NewConnectionError, ConnectionRefusedError, requests.ConnectTimeout)
    if any(isinstance(e, connect) for e in chain):
        return CONNECT
    timeout = (u3.ReadTimeoutError, requests.ReadTimeout, TimeoutError)
    if any(isinstance(e, timeout) for e in chain):
        return TIMEOUT
    text = " ".join(str(e) for e in chain).lower()
    truncated = ("incompleteread", "incomplete read", "invalid chunk", "connection broken")
    if any(isinstance(e, requests.exceptions.ChunkedEncodingError) for e in chain) or any(
        marker in text for marker in truncated
    ):
        return TRUNCATED
    reset = ("reset by peer", "connection aborted", "remote end closed", "remotedisconnected", "broken pipe")
    if any(isinstance(e, (ConnectionResetError, BrokenPipeError)) for e in chain) or any(
        marker in text for marker in reset
    ):
        return RESET
    if any(isinstance(e, (requests.ConnectionError, u3.HTTPError, OSError)) for e in chain):
        return CONNECT  # no sign that the request went out: treat it as never sent
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything it wraps (``__cause__``, ``__context__``, urllib3's ``reason``, args)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop()
        if any(current is known for known in seen) or len(seen) > 20:
            continue
        seen.append(current)
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked += [arg for arg in current.args if isinstance(arg, BaseException)]
        todo.extend(item for item in linked if isinstance(item, BaseException))
    return seen


@dataclass
class Exchange:
    """The most recent request through a :class:`Resender` and how it ended."""

    method: str
    url: str
    tries: int = 0
    kind: str | None = None  # a failure kind when it failed at the transport level

    @property
    def idempotent(self) -> bool:
        return is_idempotent(self.method, self.url)


class Resender:
    """Sends a request (a callable) and sends it again on a resendable failure when it is idempotent."""

    def __init__(self, *, timeout: float, sleep: Callable[[float], None] | None = None) -> None:
        self.timeout = timeout
        self._sleep = sleep or time.sleep
        self.last: Exchange | None = None

    def send(self, method: str, url: str, call: Callable[[], T]) -> T:
        exchange = Exchange(method.upper(), url)
        self.last = exchange
        while True:
            exchange.tries += 1
            try:
                return call()
            except Exception as exc:
                exchange.kind = failure_kind(exc)
                if exchange.kind not in RESENDABLE or not exchange.idempotent or exchange.tries >= MAX_TRIES:
                    raise
            self._sleep(BACKOFF * 2 ** (exchange.tries - 1))

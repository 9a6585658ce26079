"""HTTP/1.1 on the wire for the webhook receiver: request heads read strictly, answers written whole.

Standard library only. The receiver answers every request with ``Connection: close`` (the forges open a
new connection per delivery), so there is no keep-alive, no chunked encoding and no pipelining to handle.
"""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any


class Reply(Exception):
    """Ends a delivery early with an error ``status`` and a short reason (a JSON "rejected" answer)."""

    def __init__(self, status: HTTPStatus, result: str) -> None:
        super().__init__(result)
        self.status = status
        self.result = result


@dataclass
class Answer:
    """What the receiver answers: the status, a JSON body (None: empty), the word for the log line."""

    status: HTTPStatus
    payload: dict[str, Any] | None
    result: str
    headers: tuple[tuple[str, str], ...] = ()


Headers = dict[str, str]
"""Request headers by lower-cased name (the first of repeated ones): look them up in lower case."""


_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_MAX_HEADERS = 100


def parse_head(head: bytes) -> tuple[str, str, Headers]:
    """``METHOD TARGET HTTP/1.x`` and the header fields of a request head (ending in CRLF CRLF).

    Strict, as RFC 9112 asks of a server: field names are tokens, no whitespace before the colon, no
    obsolete line folding, at most 100 fields, one Content-Length. Raises :class:`Reply` (400 / 431).
    """
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha():
        raise Reply(HTTPStatus.BAD_REQUEST, "not an HTTP/1 request")
    fields = [line for line in lines[1:] if line]
    if len(fields) > _MAX_HEADERS:
        raise Reply(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "too many request headers")
    headers: Headers = {}
    for line in fields:
        name, colon, value = line.partition(":")
        if not colon or not name or not _TOKEN_CHARS.issuperset(name):
            raise Reply(HTTPStatus.BAD_REQUEST, "malformed request header")
        key = name.lower()
        value = value.strip(" \t")
        if key in headers:
            if key in ("content-length", "transfer-encoding") and headers[key] != value:
                raise Reply(HTTPStatus.BAD_REQUEST, f"conflicting {name} headers")
            continue
        headers[key] = value
    return parts[0], parts[1], headers


_date_cache: list[Any] = [0, ""]  # the Date header, formatted once per second


def http_date() -> str:
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[:] = [now, email.utils.formatdate(now, usegmt=True)]
    return str(_date_cache[1])


def render(answer: Answer) -> bytes:
    """The whole answer as bytes, written with one call."""
    status = answer.status
    body = b"" if answer.payload is None or status == HTTPStatus.NO_CONTENT else json.dumps(answer.payload)
    body = body.encode() if isinstance(body, str) else body
    lines = [
        f"HTTP/1.1 {status.value} {status.phrase}",
        "Server: promoter-hook",
        f"Date: {http_date()}",
        "Connection: close",
    ]
    if body:
        lines.append("Content-Type: application/json")
    if status != HTTPStatus.NO_CONTENT:
        lines.append(f"Content-Length: {len(body)}")
    lines.extend(f"{name}: {value}" for name, value in answer.headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def rejected(status: HTTPStatus, reason: str, *headers: tuple[str, str]) -> Answer:
    return Answer(status, {"result": "rejected", "reason": reason}, reason, headers)


class Answered(Exception):
    """The request head alone decides the answer (GET, a method we do not serve)."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.result)
        self.answer = answer

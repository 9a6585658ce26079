"""Request heads are read strictly (RFC 9112 for servers); answers carry what a client needs."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from promoter.hook.wire import Answer, Reply, parse_head, render


def head(*fields: str, line: str = "POST /hooks HTTP/1.1") -> bytes:
    return ("\r\n".join([line, *fields]) + "\r\n\r\n").encode("latin-1")


def test_a_head_is_read_with_names_in_lower_case() -> None:
    method, target, headers = parse_head(head("X-GitHub-Event: pull_request", "CONTENT-length:  12 "))
    assert (method, target) == ("POST", "/hooks")
    assert headers == {"x-github-event": "pull_request", "content-length": "12"}


def test_the_first_of_repeated_headers_counts() -> None:
    _, _, headers = parse_head(head("X-Gitlab-Token: first", "X-Gitlab-Token: second"))
    assert headers["x-gitlab-token"] == "first"


@pytest.mark.parametrize(
    ("fields", "line", "status"),
    [
        ((), "GET /", HTTPStatus.BAD_REQUEST),
        ((), "POST / HTTP/2", HTTPStatus.BAD_REQUEST),
        ((), "P0ST / HTTP/1.1", HTTPStatus.BAD_REQUEST),
        (("X-Folded: a", " continued"), "POST / HTTP/1.1", HTTPStatus.BAD_REQUEST),  # obsolete folding
        (("X-Space : a",), "POST / HTTP/1.1", HTTPStatus.BAD_REQUEST),
        (("no colon",), "POST / HTTP/1.1", HTTPStatus.BAD_REQUEST),
        (("Content-Length: 5", "Content-Length: 6"), "POST / HTTP/1.1", HTTPStatus.BAD_REQUEST),
        (
            tuple(f"X-{n}: 1" for n in range(101)),
            "POST / HTTP/1.1",
            HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
        ),
    ],
)
def test_malformed_heads_are_refused(fields: tuple[str, ...], line: str, status: HTTPStatus) -> None:
    with pytest.raises(Reply) as refused:
        parse_head(head(*fields, line=line))
    assert refused.value.status == status


def test_answers_are_complete_and_close_the_connection() -> None:
    raw = render(Answer(HTTPStatus.SERVICE_UNAVAILABLE, {"result": "busy"}, "busy", (("Retry-After", "30"),)))
    text, _, body = raw.partition(b"\r\n\r\n")
    lines = text.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 503 Service Unavailable"
    assert {"Connection: close", "Content-Type: application/json", "Retry-After: 30"} <= set(lines)
    assert f"Content-Length: {len(body)}" in lines and body == b'{"result": "busy"}'
    empty = render(Answer(HTTPStatus.NO_CONTENT, None, "ignored"))
    assert b"Content-Length" not in empty and empty.endswith(b"\r\n\r\n")

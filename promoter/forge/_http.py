"""Transport plumbing shared by the GitLab and GitHub forges: retries and error translation.

Both client libraries send their requests through a ``requests`` ``HTTPAdapter``; promoter gives that
adapter a :class:`ForgeRetry`, so both forges retry the same way:

* 429 and 503 (the server did not act on the request) and 403 carrying ``Retry-After`` (GitHub's
  secondary rate limit) are retried for every method;
* 500, 502 and 504 are retried except for POST, which may already have been applied;
* a connection that cannot be opened is retried (the request was never sent);
* at most :data:`MAX_TRIES` tries; the wait is ``Retry-After`` when present (capped at
  :data:`MAX_WAIT` seconds), else exponential backoff from :data:`BACKOFF` seconds.

A request whose answer was lost, cut short or late is sent again by :mod:`promoter.forge._resend` when it
is idempotent. Each forge request waits at most ``PROMOTER_FORGE_TIMEOUT`` seconds (default 30) for an
answer. Error messages say what happened: the status, "timed out after N s", "connection reset", "the
answer was cut short", how many tries were made, or that a POST was not retried.

The wait happens in :meth:`ForgeRetry.increment` through an injectable ``sleep`` function (tests pass a
recorder), not in urllib3's own ``sleep`` hook, so it behaves the same under any transport.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from promoter.errors import ForgeError
from promoter.forge import _resend
from promoter.forge._resend import MAX_TRIES, Exchange, Resender
from promoter.masking import mask
from promoter.settings import seconds_setting

if TYPE_CHECKING:
    import requests

Sleep = Callable[[float], None]

BACKOFF = 0.5
MAX_WAIT = 60.0
TIMEOUT = 30.0
TIMEOUT_VARIABLE = "PROMOTER_FORGE_TIMEOUT"


def forge_timeout(environ: Mapping[str, str] | None = None) -> float:
    """Seconds a forge request waits for an answer (``PROMOTER_FORGE_TIMEOUT``, default 30)."""
    return seconds_setting(TIMEOUT_VARIABLE, TIMEOUT, environ)


_ALWAYS_RETRY = frozenset({429, 503})
_RETRY_UNLESS_POST = frozenset({500, 502, 504})


def _retry_class() -> type:
    from urllib3.util.retry import Retry

    class ForgeRetry(Retry):
        """urllib3 ``Retry`` with promoter's policy (see module docstring) and an injectable sleep."""

        def __init__(self, *args: Any, sleep: Sleep | None = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.sleeper: Sleep = sleep or time.sleep

        def new(self, **kwargs: Any) -> ForgeRetry:
            fresh = super().new(**kwargs)
            fresh.sleeper = self.sleeper
            return fresh

        def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
            if status_code in _ALWAYS_RETRY or (status_code == 403 and has_retry_after):
                return True
            return status_code in _RETRY_UNLESS_POST and method.upper() != "POST"

        def increment(self, *args: Any, **kwargs: Any) -> ForgeRetry:
            fresh = super().increment(*args, **kwargs)  # raises MaxRetryError once exhausted
            response = (
                kwargs.get("response") if "response" in kwargs else (args[2] if len(args) > 2 else None)
            )
            delay = self.get_retry_after(response) if response is not None else None
            if delay is None:
                delay = BACKOFF * 2 ** max(len(fresh.history) - 1, 0)
            fresh.sleeper(min(max(delay, 0.0), MAX_WAIT))
            return fresh

        def sleep(self, response: Any = None) -> None:
            """No-op: :meth:`increment` already waited."""

    return ForgeRetry


def make_retry(sleep: Sleep | None = None) -> Any:
    """A fresh retry policy (an ``urllib3.Retry`` subclass) for an ``HTTPAdapter``."""
    return _retry_class()(
        total=MAX_TRIES - 1,
        connect=MAX_TRIES - 1,
        read=0,
        redirect=0,
        other=0,
        status=MAX_TRIES - 1,
        allowed_methods=None,
        raise_on_status=False,
        respect_retry_after_header=True,
        sleep=sleep,
    )


def make_session(sleep: Sleep | None = None) -> requests.Session:
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    adapter = HTTPAdapter(max_retries=make_retry(sleep))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class ForgeHTTPError(ForgeError):
    """A forge answered with an HTTP error; ``status`` is its code (None for GraphQL-level errors)."""

    def __init__(
        self, message: str, *, status: int | None, where: str | None = None, hint: str | None = None
    ):
        super().__init__(message, where=where, hint=hint)
        self.status = status


@dataclass(frozen=True)
class ErrorContext:
    """What an error message may say about where a forge call went (never the token)."""

    forge: str  # "GitLab" / "GitHub"
    where: str  # web URL of the project, e.g. https://gitlab.example.com/group/project
    api_url: str
    token_var: str | None  # the environment variable the token came from
    token_vars: tuple[str, ...]  # the variables promoter would read, in order
    scopes: str  # what the token needs, for hints
    resender: Resender | None = None  # knows the last request: its method and how many tries it took

    @property
    def host(self) -> str:
        return urlsplit(self.api_url).netloc or self.api_url

    def _no_token(self) -> str:
        return f"no token was found: set {' or '.join(self.token_vars)}"

    def http_error(self, action: str, status: int | None, detail: object) -> ForgeHTTPError:
        text = mask(_one_line(detail))
        if status == 401:
            hint = (
                f"{self.forge} rejected the token from {self.token_var}: check it is valid and not expired"
                if self.token_var
                else self._no_token()
            )
            return ForgeHTTPError(
                f"{self.forge}: {action}: 401 unauthorized", status=status, where=self.where, hint=hint
            )
        if status == 403:
            hint = (
                f"the token from {self.token_var} lacks permission ({self.scopes}) or hit a rate limit"
                if self.token_var
                else self._no_token()
            )
            return ForgeHTTPError(
                f"{self.forge}: {action}: 403 forbidden{': ' + text if text else ''}",
                status=status,
                where=self.where,
                hint=hint,
            )
        if status == 404:
            source = self.token_var or "the environment"
            hint = f"check the project path and that the token from {source} can see it"
            return ForgeHTTPError(
                f"{self.forge}: {action}: 404 not found", status=status, where=self.where, hint=hint
            )
        if status is not None and (status == 429 or status >= 500):
            last = self._last()
            method = last.method if last is not None else None
            if method == "POST" and status not in (429, 503):
                tries = "POST not retried because it is not idempotent"
            else:
                tries = f"gave up after {MAX_TRIES} tries"
            return ForgeHTTPError(
                f"{self.forge}: {action}: {status}{': ' + text if text else ''} ({tries})",
                status=status,
                where=self.where,
                hint=f"{self.forge} at {self.host} is overloaded or unavailable; retry the job later",
            )
        code = f"{status}: " if status is not None else ""
        return ForgeHTTPError(
            f"{self.forge}: {action}: {code}{text}".rstrip(": "), status=status, where=self.where
        )

    def _last(self) -> Exchange | None:
        return self.resender.last if self.resender is not None else None

    def network_error(self, action: str, exc: BaseException) -> ForgeError:
        """A request that got no whole answer: say what happened, how often it was tried, what to check."""
        kind = _resend.failure_kind(exc)
        exchange = self._last()
        timeout = self.resender.timeout if self.resender is not None else TIMEOUT
        what = {
            _resend.TIMEOUT: f"no answer from {self.host}: timed out after {timeout:g} s",
            _resend.RESET: f"connection reset by {self.host} before an answer came",
            _resend.TRUNCATED: f"the answer from {self.host} was cut short",
        }.get(kind or "", f"cannot reach {self.host} ({_describe(exc)})")
        method = exchange.method if exchange is not None else ""
        if exchange is not None and exchange.tries > 1:
            what += f" (gave up after {exchange.tries} tries)"
        elif exchange is not None and kind in _resend.RESENDABLE and not exchange.idempotent:
            what += f"; {method} not retried because it is not idempotent"
        hint = f"check the forge URL {self.api_url} and the network (proxy, DNS, TLS)"
        if kind in _resend.RESENDABLE:
            hint = f"{self.forge} at {self.host} is slow or the network drops connections; run the job again"
            if exchange is not None and not exchange.idempotent:
                hint += f" (the {method} may have been applied: check {self.where})"
        return ForgeError(f"{self.forge}: {action}: {what}", where=self.where, hint=hint)


def _one_line(detail: object, limit: int = 300) -> str:
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    if isinstance(detail, dict):
        detail = detail.get("message") or detail.get("error") or detail
    text = " ".join(str(detail or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(exc: BaseException) -> str:
    """The innermost reason of a connection failure, short ("Connection refused")."""
    reason = exc
    while True:
        inner = getattr(reason, "reason", None) or (reason.args[0] if reason.args else None)
        if not isinstance(inner, BaseException):
            break
        reason = inner
    text = str(getattr(reason, "strerror", None) or reason).split(": ")[-1].strip() or type(reason).__name__
    return _one_line(text, 120)


def is_network_error(exc: BaseException) -> bool:
    import requests
    import urllib3.exceptions

    return isinstance(exc, (requests.RequestException, urllib3.exceptions.HTTPError, OSError))

"""HTTP to registries: one ``requests`` session, time limits, rate limits, and every failure as a
:class:`RegistryError`.

A registry that cannot be reached, times out or breaks the connection is an operational failure (exit 1)
named by its host; the message and place are masked, so no credential in a URL reaches the user.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from promoter import masking
from promoter.errors import RegistryError
from promoter.imageref import ImageRef
from promoter.registry.addresses import registry_host

if TYPE_CHECKING:
    import requests

LOG = logging.getLogger("promoter.registry")

DEFAULT_TIMEOUT = 15.0
DEFAULT_CONCURRENCY = 4  # requests in flight per registry host
MAX_RETRIES = 4  # answers 429 (or 503 with Retry-After) retried
MAX_WAIT = 60.0  # longest single wait a registry may ask for
_CONNECT_TIMEOUT = 5.0


def registry_error(
    ref: ImageRef, problem: str, *, where: str | None = None, hint: str | None = None
) -> RegistryError:
    """``registry HOST <problem>`` at ``where`` (default: the reference), masked."""
    host = registry_host(ref)
    return RegistryError(
        masking.mask(f"registry {host} {problem}"),
        where=masking.mask(where) if where else str(ref),
        hint=hint or f"check that {host} is reachable from this job, then retry",
    )


def error_codes(response: requests.Response) -> set[str]:
    """The ``errors[].code`` values of an OCI error body (``MANIFEST_UNKNOWN``, ...)."""
    try:
        payload = response.json()
    except ValueError:
        return set()
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if not isinstance(errors, list):
        return set()
    return {str(item.get("code")) for item in errors if isinstance(item, dict)}


class Transport:
    """Sends requests for one process; ``requests`` is imported on the first one.

    Thread-safe: at most ``concurrency`` requests are in flight per registry host. A ``429 Too Many
    Requests`` (or a ``503`` with ``Retry-After``) is retried after the time the registry asks for (or a
    growing backoff), up to ``max_retries`` times and never waiting longer than ``max_wait`` at once. A
    registry that cannot be reached is remembered: later requests to it fail at once with the same error.
    The first request to a registry goes alone (the others wait for its answer), so a registry that is down
    is asked once, however many threads wanted it at the same moment.
    ``calls`` counts the HTTP requests sent per registry host (redirects and token requests included).
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_retries: int = MAX_RETRIES,
        max_wait: float = MAX_WAIT,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.timeout = (min(_CONNECT_TIMEOUT, timeout), timeout)
        self._session = session
        self._concurrency = max(1, concurrency)
        self._max_retries = max_retries
        self._max_wait = max_wait
        self._sleep = sleep or _sleep_now
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._down: dict[str, RegistryError] = {}
        self._reached: dict[str, threading.Event] = {}  # host -> set once its first request has ended
        self.calls: Counter[str] = Counter()

    def _http(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                import requests

                self._session = requests.Session()
            return self._session

    def _slot(self, host: str) -> threading.BoundedSemaphore:
        with self._lock:
            if host not in self._slots:
                self._slots[host] = threading.BoundedSemaphore(self._concurrency)
            return self._slots[host]

    def send(
        self, method: str, url: str, ref: ImageRef, headers: dict[str, str], **kwargs: Any
    ) -> requests.Response:
        """One request (redirects followed the ``requests`` way: credentials stay with their host)."""
        host = registry_host(ref)
        for attempt in range(self._max_retries + 1):
            with self._slot(host):
                response = self._once(method, url, ref, host, headers, **kwargs)
            limited = response.status_code == 429 or (
                response.status_code == 503 and "Retry-After" in response.headers
            )
            if not limited:
                return response
            wait = retry_after(response.headers.get("Retry-After"))
            if wait is None:
                wait = min(2.0**attempt, self._max_wait)
            if attempt == self._max_retries or wait > self._max_wait:
                raise registry_error(
                    ref,
                    f"is rate limiting: HTTP {response.status_code} after {attempt + 1} request(s)"
                    + (f", retry after {wait:g} s" if wait > self._max_wait else ""),
                    where=url,
                    hint="wait and run again, log in (Docker Hub allows more pulls to authenticated users), "
                    "or lower PROMOTER_REGISTRY_CONCURRENCY",
                )
            LOG.info(
                "registry %s answered HTTP %d: waiting %.1f s as asked", host, response.status_code, wait
            )
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(
        self, method: str, url: str, ref: ImageRef, host: str, headers: dict[str, str], **kwargs: Any
    ) -> requests.Response:
        import requests

        first = self._first_contact(host)
        down = self._down.get(host)
        if down is not None:
            if first is not None:
                first.set()
            raise down
        try:
            response = self._http().request(
                method, url, headers=headers, timeout=self.timeout, allow_redirects=True, **kwargs
            )
        except requests.Timeout:
            raise self._mark_down(host, ref, f"did not answer within {self.timeout[1]:g} s", url) from None
        except requests.ConnectionError as error:
            raise self._mark_down(host, ref, f"is unreachable ({_reason(error)})", url) from None
        except requests.RequestException as error:
            raise registry_error(ref, f"request failed ({type(error).__name__})", where=url) from None
        finally:
            with self._lock:
                self.calls[host] += 1
            if first is not None:
                first.set()
        if response.history:
            with self._lock:
                self.calls[host] += len(response.history)
        return response

    def _first_contact(self, host: str) -> threading.Event | None:
        """The event to set when this is the host's first request; else wait until that one ended."""
        with self._lock:
            reached = self._reached.get(host)
            if reached is None:
                reached = self._reached[host] = threading.Event()
                return reached
        reached.wait()  # bounded: the first request ends within its own time limit
        return None

    def _mark_down(self, host: str, ref: ImageRef, problem: str, url: str) -> RegistryError:
        error = registry_error(ref, problem, where=url)
        with self._lock:
            self._down.setdefault(host, error)
        return error


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _sleep_now(seconds: float) -> None:
    _sleep(seconds)  # looked up at each call: tests replace ``_sleep``


def retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: a number, or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _reason(error: Exception) -> str:
    text = str(error).lower()
    for needle, reason in (
        ("refused", "connection refused"),
        ("name or service not known", "unknown host"),
        ("nodename nor servname", "unknown host"),
        ("temporary failure in name resolution", "unknown host"),
        ("certificate", "TLS certificate error"),
        ("ssl", "TLS error"),
        ("reset", "connection reset"),
    ):
        if needle in text:
            return reason
    return type(error).__name__

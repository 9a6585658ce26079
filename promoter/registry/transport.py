"""HTTP to registries: one ``requests`` session, time limits, and every failure as a :class:`RegistryError`.

A registry that cannot be reached, times out or breaks the connection is an operational failure (exit 1)
named by its host; the message and place are masked, so no credential in a URL reaches the user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from promoter import masking
from promoter.errors import RegistryError
from promoter.imageref import ImageRef
from promoter.registry.addresses import registry_host

if TYPE_CHECKING:
    import requests

DEFAULT_TIMEOUT = 15.0
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
    """Sends requests for one process; ``requests`` is imported on the first one."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, session: requests.Session | None = None) -> None:
        self.timeout = (min(_CONNECT_TIMEOUT, timeout), timeout)
        self._session = session

    def _http(self) -> requests.Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def send(
        self, method: str, url: str, ref: ImageRef, headers: dict[str, str], **kwargs: Any
    ) -> requests.Response:
        """One request (redirects followed the ``requests`` way: credentials stay with their host)."""
        import requests

        try:
            return self._http().request(
                method, url, headers=headers, timeout=self.timeout, allow_redirects=True, **kwargs
            )
        except requests.Timeout:
            raise registry_error(ref, f"did not answer within {self.timeout[1]:g} s", where=url) from None
        except requests.ConnectionError as error:
            raise registry_error(ref, f"is unreachable ({_reason(error)})", where=url) from None
        except requests.RequestException as error:
            raise registry_error(ref, f"request failed ({type(error).__name__})", where=url) from None


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

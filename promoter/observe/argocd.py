"""Argo CD: one ``GET /api/v1/applications/<name>`` per poll, read into an :class:`Observation`.

The token comes from ``ARGOCD_AUTH_TOKEN`` and goes out as ``Authorization: Bearer``. The first poll after
a push adds ``refresh=normal``: Argo CD then compares the application with Git at once instead of after
its repository polling interval (about three minutes by default). Argo CD answers such a request only
once the refresh is done, so that one request may take a few seconds.

What the payload means (``pkg/apis/application/v1alpha1/types.go`` in Argo CD):

* ``status.sync.revision`` (``revisions`` for multi-source apps): the commit the app was last compared
  with; ``status.sync.status``: ``Synced``/``OutOfSync``/``Unknown``.
* ``status.operationState``: the last sync operation; ``phase`` ``Running``/``Terminating`` (busy),
  ``Failed``/``Error`` (failed for good: automated sync does not retry the same commit),
  ``Succeeded``; ``syncResult.revision(s)`` is the commit it synced.
* ``status.health.status`` and, per object, ``status.resources[].health`` (the API server fills the
  objects' health in also when Argo CD 3 keeps it out of the Application resource).
* ``status.sync.comparedTo.source(s)`` differing from ``spec.source(s)``: the status still describes the
  previous spec (an Application that was just changed), so it is not trusted yet.

Argo CD answers 403 both when the token lacks permission and when the application does not exist (it
does not reveal which); both stop the wait with a hint naming the two causes. Previews are the
exception (``missing_ok``): their application is created by the push being waited for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from promoter import masking
from promoter.errors import ConfigError, OperationalError
from promoter.observe.model import FailingResource, Health, Observation
from promoter.observe.source import SourceAccessDenied, SourceUnavailable

if TYPE_CHECKING:
    import requests

LOG = logging.getLogger("promoter.observe")

TOKEN_VAR = "ARGOCD_AUTH_TOKEN"  # noqa: S105 - the variable's name, not a token
REQUEST_TIMEOUT = 30.0
REFRESH_TIMEOUT = 60.0  # Argo CD answers a refresh request once the refresh is done
_BUSY = ("Running", "Terminating")
_FAILED = ("Failed", "Error")
_HEALTH: tuple[Health, ...] = ("Healthy", "Progressing", "Degraded", "Missing", "Suspended", "Unknown")
_BAD_HEALTH = ("Degraded", "Missing")
_ERROR_CONDITIONS = ("ComparisonError", "InvalidSpecError", "SyncError", "UnknownError")
_MAX_FAILING = 20


class ArgoCDSource:
    """One Argo CD application. ``url`` is the API server's root (with its ``--rootpath``, if any)."""

    kind = "argocd"

    def __init__(
        self,
        url: str,
        application: str,
        *,
        app_namespace: str | None = None,
        insecure: bool = False,
        token: str | None = None,
        token_var: str = TOKEN_VAR,
        expect_annotations: Mapping[str, str] | None = None,
        missing_ok: bool = False,
        session: requests.Session | None = None,
    ) -> None:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"Argo CD url must be an http(s) URL, not {url!r}", where="promoter.yaml: deploy.argocd.url"
            )
        if not application or "/" in application:
            raise ConfigError(
                f"invalid Argo CD application name {application!r}",
                where="promoter.yaml: deploy.argocd.application",
            )
        masking.register_secret(token)
        self.url = url.strip().rstrip("/")
        self.application = application
        self.app_namespace = app_namespace or None
        self.insecure = insecure
        self.token = token or None
        self.token_var = token_var
        self.expect_annotations = dict(expect_annotations or {})
        self.missing_ok = missing_ok
        self._session = session
        self.key = f"argocd:{self.url}:{self.app_namespace or ''}/{application}"
        self.description = f'Argo CD application "{application}"'
        self.requests_made = 0

    # -- transport -----------------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"{self.url}/api/v1/applications/{quote(self.application, safe='')}"

    def _http(self) -> requests.Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.headers["User-Agent"] = "promoter"
            if self.insecure:
                import urllib3

                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
                LOG.warning("Argo CD at %s: TLS certificate checks are off (insecure: true)", self.url)
        return self._session

    def fetch(self, *, refresh: bool = False, budget: float | None = None) -> dict[str, Any]:
        """The Application as JSON; raises :class:`SourceUnavailable` or :class:`SourceAccessDenied`."""
        import requests

        params: dict[str, str] = {}
        if self.app_namespace:
            params["appNamespace"] = self.app_namespace
        if refresh:
            params["refresh"] = "normal"
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        limit = REFRESH_TIMEOUT if refresh else REQUEST_TIMEOUT
        read_timeout = max(min(limit, budget), 1.0) if budget is not None else limit
        self.requests_made += 1
        try:
            response = self._http().get(
                self.endpoint,
                params=params,
                headers=headers,
                timeout=(min(10.0, read_timeout), read_timeout),
                verify=not self.insecure,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise SourceUnavailable(
                f"Argo CD did not answer within {read_timeout:.0f} s", where=self.endpoint
            ) from None
        except requests.RequestException as exc:
            raise SourceUnavailable(
                f"cannot reach Argo CD ({type(exc).__name__})",
                where=self.endpoint,
                hint=f"check deploy.argocd.url ({self.url}), DNS, proxy and TLS",
            ) from None
        return self._answer(response)

    def _answer(self, response: requests.Response) -> dict[str, Any]:
        status = response.status_code
        detail = _error_text(response)
        if status == 200:
            try:
                data = response.json()
            except ValueError:
                data = None
            if not isinstance(data, dict) or data.get("kind", "Application") != "Application":
                raise OperationalError(
                    "Argo CD answered 200 with something that is not an Application",
                    where=self.endpoint,
                    hint="deploy.argocd.url must be the Argo CD server (with its --rootpath), not a login "
                    "proxy in front of it",
                )
            return data
        if status == 401:
            hint = (
                f"Argo CD rejected the token from {self.token_var}: check it is valid and not expired"
                if self.token
                else f"set {self.token_var} to an Argo CD API token (argocd account generate-token)"
            )
            raise SourceAccessDenied(f"Argo CD: 401 unauthorized{detail}", where=self.endpoint, hint=hint)
        if status == 403:
            if self.missing_ok:
                return {"kind": "Missing", "status": {}}
            raise SourceAccessDenied(
                f"Argo CD: 403 permission denied{detail}",
                where=self.endpoint,
                hint=f"either the application {self.application!r} does not exist"
                + (f" in namespace {self.app_namespace!r}" if self.app_namespace else "")
                + f", or the account of {self.token_var} lacks the RBAC permission 'applications, get' on "
                "its project (Argo CD does not say which)",
            )
        if status == 404 and _is_argocd_error(response):
            return {"kind": "Missing", "status": {}}
        if status == 429 or status >= 500:
            raise SourceUnavailable(
                f"Argo CD: {status}{detail}", where=self.endpoint, retry_after=_retry_after(response)
            )
        raise OperationalError(
            f"Argo CD: {status}{detail}",
            where=self.endpoint,
            hint="check deploy.argocd.url" if status in (301, 302, 307, 308, 404) else None,
        )

    # -- Source --------------------------------------------------------------------------------------
    def observe(self, *, refresh: bool = False, budget: float | None = None) -> Observation:
        return read_application(self.fetch(refresh=refresh, budget=budget), self.expect_annotations)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def read_application(
    app: Mapping[str, Any], expect_annotations: Mapping[str, str] | None = None
) -> Observation:
    """An Argo CD Application (API JSON) as an :class:`Observation`."""
    if app.get("kind") == "Missing":
        return Observation(found=False, sync_label="NotFound", message="the application does not exist (yet)")
    spec = _dict(app.get("spec"))
    status = _dict(app.get("status"))
    sync = _dict(status.get("sync"))
    operation = _dict(status.get("operationState"))
    health_block = _dict(status.get("health"))
    annotations = _dict(_dict(app.get("metadata")).get("annotations"))
    for key, wanted in (expect_annotations or {}).items():
        if key in annotations and str(annotations[key]) != wanted:
            return Observation(
                found=True,
                sync_label="Pending",
                message=f"the application still has {key}={annotations[key]}, waiting for {wanted}",
            )
    expected = dict(expect_annotations or {})
    phase = str(operation.get("phase") or "")
    health = _health(health_block.get("status"))
    failing = _failing_resources(status, operation)
    message = _message(status, operation, health_block, phase)
    return Observation(
        found=True,
        revisions=_revisions(sync),
        attempted=_operation_revisions(operation),
        in_sync=sync.get("status") == "Synced",
        busy=phase in _BUSY,
        health=health,
        attempt_failed=phase in _FAILED,
        revision_blind=bool(expected) and all(key in annotations for key in expected),
        stale=_stale(spec, _dict(sync.get("comparedTo"))),
        sync_label=str(sync.get("status") or "Unknown"),
        message=message,
        failing=failing,
    )


def _health(value: Any) -> Health:
    for known in _HEALTH:
        if value == known:
            return known
    return "Unknown"


def _revisions(block: Mapping[str, Any]) -> tuple[str, ...]:
    many = [str(r) for r in block.get("revisions") or () if r]
    if many:
        return tuple(many)
    return (str(block["revision"]),) if block.get("revision") else ()


def _operation_revisions(operation: Mapping[str, Any]) -> tuple[str, ...]:
    found = _revisions(_dict(operation.get("syncResult")))
    if found:
        return found
    return _revisions(_dict(_dict(operation.get("operation")).get("sync")))


def _failing_resources(
    status: Mapping[str, Any], operation: Mapping[str, Any]
) -> tuple[FailingResource, ...]:
    found: dict[tuple[str, str, str], FailingResource] = {}
    for item in _dicts(_dict(operation.get("syncResult")).get("resources")):
        if item.get("status") in ("SyncFailed", "PruneSkipped") or item.get("hookPhase") in _FAILED:
            resource = _resource(item, str(item.get("message") or item.get("status") or ""), "SyncFailed")
            found.setdefault((resource.kind, resource.namespace or "", resource.name), resource)
    for item in _dicts(status.get("resources")):
        health = _dict(item.get("health"))
        if health.get("status") in _BAD_HEALTH:
            resource = _resource(item, str(health.get("message") or ""), str(health.get("status")))
            found.setdefault((resource.kind, resource.namespace or "", resource.name), resource)
    return tuple(list(found.values())[:_MAX_FAILING])


def _resource(item: Mapping[str, Any], message: str, state: str) -> FailingResource:
    return FailingResource(
        kind=str(item.get("kind") or ""),
        name=str(item.get("name") or ""),
        namespace=str(item.get("namespace")) if item.get("namespace") else None,
        status=state,
        message=" ".join(message.split()),
    )


def _message(
    status: Mapping[str, Any], operation: Mapping[str, Any], health: Mapping[str, Any], phase: str
) -> str:
    errors = [
        str(c.get("message") or "")
        for c in _dicts(status.get("conditions"))
        if str(c.get("type") or "") in _ERROR_CONDITIONS
    ]
    candidates = [
        str(operation.get("message") or "") if phase in (*_FAILED, *_BUSY) else "",
        *errors,
        str(health.get("message") or ""),
    ]
    for text in candidates:
        if text.strip():
            return " ".join(text.split())
    return ""


def _stale(spec: Mapping[str, Any], compared: Mapping[str, Any]) -> bool:
    """True when the last comparison used another source than the spec says (the spec just changed)."""
    for key in ("source", "sources"):
        if key in compared and key in spec and _normal(compared[key]) != _normal(spec[key]):
            return True
    return False


def _normal(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _normal(v) for k, v in value.items() if v not in (None, "", [], {}, False)}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _is_argocd_error(response: requests.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "code" in body and ("message" in body or "error" in body)


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    text = " ".join(str(body.get("message") or body.get("error") or "").split())[:300]
    return f": {masking.mask(text)}" if text else ""


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value and value.strip().isdigit():
        return float(value.strip())
    return None

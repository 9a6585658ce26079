"""GitHub App authentication: short-lived installation tokens instead of a personal token.

With ``forge.app_id`` set (and the app's private key in ``PROMOTER_GITHUB_APP_KEY``) promoter:

1. signs a JWT with the key (RS256; ``iss`` = the app ID, ``iat`` 60 s in the past against clock drift,
   ``exp`` 9 minutes ahead: GitHub accepts at most 10);
2. finds the app's installation on the repository (``forge.installation_id``, else
   ``GET /repos/{owner}/{repo}/installation`` with the JWT);
3. exchanges the JWT for an installation token limited to that one repository
   (``POST /app/installations/{id}/access_tokens`` with ``{"repositories": [repo]}``), valid for an hour;
4. uses the token for the API (``Authorization: token ...``) and for git over HTTPS (user
   ``x-access-token``), and mints a new one when the current one has less than five minutes left, so a
   long wait or a long-running webhook receiver never holds an expired token.

The private key stays in memory (never written to disk); the key, every JWT and every token are
registered with :mod:`promoter.masking`. A key that cannot be read, an app GitHub does not know (401), or
an app not installed on the repository is a configuration error (exit 2); GitHub unreachable is exit 1.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from promoter import masking
from promoter.errors import ConfigError, ForgeError
from promoter.gitauth import Credentials, CredentialSource
from promoter.identity.keys import APP_KEY, KeyText, read_key

LOG = logging.getLogger("promoter.identity")

JWT_BACKDATE = 60  # seconds: GitHub's advice against clock drift
JWT_LIFETIME = 540  # seconds after now (GitHub accepts at most 600)
REFRESH_BEFORE = 300  # seconds before its expiry an installation token is replaced
GIT_USER = "x-access-token"
SOURCE = "the GitHub App (forge.app_id and PROMOTER_GITHUB_APP_KEY)"
API_VERSION = "2022-11-28"
Clock = Callable[[], float]
_LOOKUP = "find the app's installation"


@dataclass(frozen=True)
class InstallationToken:
    token: str = field(repr=False)
    expires_at: float  # seconds since the epoch
    installation: int


class GitHubApp:
    """One GitHub App on one GitHub (``api_url``): JWTs, installations and per-repository tokens."""

    def __init__(
        self,
        api_url: str,
        app_id: int,
        key: KeyText,
        *,
        installation_id: int | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], None] | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.app_id = int(app_id)
        self.installation_id = installation_id
        self._key = load_private_key(key)
        self._timeout = timeout
        self._sleep = sleep
        self._clock = clock
        self._tokens: dict[str, InstallationToken] = {}
        self._installations: dict[str, int] = {}
        self._lock = threading.RLock()
        self._session: Any = None
        self.minted = 0  # installation tokens obtained so far (tests, logs)

    # -- JWT -------------------------------------------------------------------------------------------
    def jwt(self) -> str:
        """A fresh app JWT (RS256, ``iss`` = app ID, ``iat`` 60 s ago, ``exp`` 9 minutes ahead)."""
        import jwt

        now = int(self._clock())
        claims = {"iat": now - JWT_BACKDATE, "exp": now + JWT_LIFETIME, "iss": str(self.app_id)}
        token = jwt.encode(claims, self._key, algorithm="RS256")
        masking.register_secret(token)
        return token

    # -- installation tokens ----------------------------------------------------------------------------
    def token(self, project: str) -> str:
        """An installation token for ``project`` (``owner/repo``) with at least five minutes left."""
        with self._lock:
            cached = self._tokens.get(project.lower())
            if cached is not None and cached.expires_at - self._clock() > REFRESH_BEFORE:
                return cached.token
            fresh = self._mint(project)
            self._tokens[project.lower()] = fresh
            return fresh.token

    def credentials(self, project: str) -> CredentialSource:
        """git's credentials for ``project``: the current installation token as ``x-access-token``."""

        def current() -> Credentials:
            token = self.token(project)
            masking.register_basic_credentials(GIT_USER, token)
            return Credentials(GIT_USER, token, SOURCE)

        return current

    def installation(self, project: str) -> int:
        """``forge.installation_id``, else the app's installation on ``project`` (looked up once)."""
        if self.installation_id is not None:
            return self.installation_id
        with self._lock:
            key = project.lower()
            if key not in self._installations:
                data = self._request("GET", f"/repos/{project}/installation", project, _LOOKUP)
                self._installations[key] = int(data["id"])
            return self._installations[key]

    def _mint(self, project: str) -> InstallationToken:
        installation = self.installation(project)
        repository = project.split("/", 1)[1]
        data = self._request(
            "POST",
            f"/app/installations/{installation}/access_tokens",
            project,
            "get an installation token",
            body={"repositories": [repository]},
        )
        token = str(data["token"])
        masking.register_basic_credentials(GIT_USER, token)
        expires = _epoch(str(data.get("expires_at") or "")) or self._clock() + 3600
        self.minted += 1
        LOG.debug("GitHub App %s: a token for %s until %s", self.app_id, project, data.get("expires_at"))
        return InstallationToken(token, expires, installation)

    # -- HTTP ------------------------------------------------------------------------------------------
    def _request(
        self, method: str, path: str, project: str, action: str, *, body: Any = None
    ) -> dict[str, Any]:
        from promoter.forge._http import is_network_error, make_session

        if self._session is None:
            self._session = make_session(self._sleep)
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.jwt()}",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "promoter",
        }
        url = f"{self.api_url}{path}"
        try:
            answer = self._session.request(method, url, headers=headers, json=body, timeout=self._timeout)
        except Exception as exc:
            if is_network_error(exc):
                raise ForgeError(
                    f"GitHub App {self.app_id}: {action}: cannot reach {self.api_url} ({type(exc).__name__})",
                    where=self.api_url,
                    hint="check forge.url and the network (proxy, DNS, TLS)",
                ) from None
            raise
        if answer.status_code < 300:
            try:
                data = answer.json()
            except ValueError:
                data = None
            if not isinstance(data, dict):
                raise ForgeError(
                    f"GitHub App {self.app_id}: {action}: the answer is not the JSON object GitHub sends",
                    where=self.api_url,
                    hint="check forge.url: it must be the GitHub (Enterprise) server",
                )
            return data
        raise self._error(answer.status_code, _message(answer), project, action)

    def _error(self, status: int, detail: str, project: str, action: str) -> Exception:
        prefix = f"GitHub App {self.app_id}: {action} for {project}: {status}"
        shown = masking.mask(detail)
        if status == 401:
            return ConfigError(
                f"{prefix} (GitHub did not accept the app's JWT{': ' + shown if shown else ''})",
                where=APP_KEY,
                hint=f"check forge.app_id ({self.app_id}) and that {APP_KEY} holds that app's private key; "
                "a clock far off also invalidates the JWT",
            )
        if status == 404 and action == _LOOKUP:
            return ConfigError(
                f"{prefix}: the app is not installed on {project}",
                where="promoter.yaml: forge.app_id",
                hint=f"install the app on {project} (the app's settings: Install App), or set "
                "forge.installation_id",
            )
        if status in (403, 404, 422):
            return ConfigError(
                f"{prefix}{': ' + shown if shown else ''}",
                where="promoter.yaml: forge.installation_id"
                if self.installation_id
                else "promoter.yaml: forge.app_id",
                hint=f"check that installation {self.installation_id or '(looked up)'} of the app includes "
                f"{project} and that the app is not suspended",
            )
        return ForgeError(
            f"{prefix}{': ' + shown if shown else ''}",
            where=self.api_url,
            hint=f"GitHub at {self.api_url} did not answer as expected; retry the job later",
        )


def load_private_key(key: KeyText) -> Any:
    """The RSA private key of the app; :class:`ConfigError` (exit 2) when it cannot be read."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        loaded = load_pem_private_key(key.text.encode(), password=None)
    except (ValueError, TypeError) as exc:
        reason = "it is encrypted" if "password" in str(exc).lower() else "it is not a PEM private key"
        raise ConfigError(
            f"{key.variable} cannot be read: {reason}",
            where=key.variable,
            hint="give the private key GitHub generated for the app (its .pem file, unencrypted), or the "
            "base64 of it",
        ) from None
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ConfigError(
            f"{key.variable} holds a {type(loaded).__name__.removesuffix('PrivateKey')} key, not RSA",
            where=key.variable,
            hint="GitHub Apps sign their JWTs with RS256: give the app's RSA private key",
        )
    return loaded


# one app object per process and app: the forge and every work clone share its tokens
_apps: dict[tuple[str, int, int | None, str], GitHubApp] = {}
_apps_lock = threading.Lock()


def app_for(
    api_url: str,
    app_id: int,
    installation_id: int | None,
    environ: Mapping[str, str],
    *,
    sleep: Callable[[float], None] | None = None,
) -> GitHubApp:
    """The :class:`GitHubApp` for these settings, its key read from ``PROMOTER_GITHUB_APP_KEY``."""
    from promoter.forge._http import forge_timeout

    key = read_key(environ, APP_KEY, "app", needed_by="forge.app_id")
    digest = hashlib.sha256(key.text.encode()).hexdigest()
    ident = (api_url.rstrip("/"), int(app_id), installation_id, digest)
    with _apps_lock:
        if ident not in _apps:
            _apps[ident] = GitHubApp(
                api_url,
                app_id,
                key,
                installation_id=installation_id,
                timeout=forge_timeout(environ),
                sleep=sleep,
            )
        return _apps[ident]


def forget_apps() -> None:
    """Drop every cached app and its tokens (tests)."""
    with _apps_lock:
        _apps.clear()


def pygithub_auth(app: GitHubApp, project: str) -> Any:
    """A PyGithub ``Auth`` that sends the app's current installation token for ``project``."""
    import github

    class InstallationAuth(github.Auth.Auth):
        @property
        def token_type(self) -> str:
            return "token"

        @property
        def token(self) -> str:
            return app.token(project)

        @property
        def _masked_token(self) -> str:
            return "token (installation token removed)"

    return InstallationAuth()


def _epoch(text: str) -> float | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _message(answer: Any) -> str:
    try:
        data = answer.json()
    except ValueError:
        return " ".join(str(answer.text or "").split())[:200]
    if isinstance(data, dict):
        return str(data.get("message") or "")[:200]
    return ""

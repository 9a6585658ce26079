"""A small OCI distribution API client: does a tag exist, what is its digest, which tags are there.

Authentication covers anonymous access, HTTP Basic and the Bearer token challenge flow (the registry
answers 401 with ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``; we fetch a token from the
realm, with Basic credentials when we have them, and retry). Tokens are cached per registry and scope.
Every failure to get an answer is a :class:`RegistryError` (exit 1): an unreachable registry never
passes as "image exists". ``requests`` is imported lazily.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from promoter import masking
from promoter.errors import ConfigError, ImageMissingError, RegistryError
from promoter.imageref import DOCKER_HUB, ImageRef

if TYPE_CHECKING:
    import requests

__all__ = [
    "MANIFEST_ACCEPT",
    "RegistryClient",
    "registry_base_url",
    "registry_credentials",
    "verify_image",
]

MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_ACCEPT = ", ".join(
    (MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST_LIST, MEDIA_DOCKER_MANIFEST)
)

DEFAULT_TIMEOUT = 15.0
_CONNECT_TIMEOUT = 5.0
_MAX_TAG_PAGES = 1000
_DOCKER_HUB_API = "registry-1.docker.io"
_DOCKER_HUB_CONFIG_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", _DOCKER_HUB_API)
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
_CREDENTIAL_HINT = (
    "set PROMOTER_REGISTRY_USER and PROMOTER_REGISTRY_PASSWORD (in GitLab CI, CI_REGISTRY_USER and "
    "CI_REGISTRY_PASSWORD are used for $CI_REGISTRY), or add the registry to the auths of "
    "$DOCKER_CONFIG/config.json"
)
_CHALLENGE_PARAM = re.compile(r'([A-Za-z_]+)=(?:"([^"]*)"|([^",\s]*))')

Credentials = tuple[str, str]


# --- credentials and addresses ------------------------------------------------------------------------
def _host_key(value: str) -> str:
    """``https://Host:5000/v1/`` -> ``host:5000``: the form config.json keys and hosts are compared in."""
    text = value.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    return text.split("/", 1)[0]


def _registry_host(ref: ImageRef) -> str:
    """The host to look credentials up for: as written, ``docker.io`` for Docker Hub."""
    return ref.canonical_registry


def registry_credentials(host: str, environ: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials for ``host``, or ``None`` for anonymous access.

    Order: ``PROMOTER_REGISTRY_USER``/``PROMOTER_REGISTRY_PASSWORD``; ``CI_REGISTRY_USER``/
    ``CI_REGISTRY_PASSWORD`` when ``host`` is ``$CI_REGISTRY``; the ``auths`` of
    ``$DOCKER_CONFIG/config.json`` (default ``~/.docker/config.json``). Every password is registered
    for masking.
    """
    env = os.environ if environ is None else environ
    found = _env_pair(env, "PROMOTER_REGISTRY_USER", "PROMOTER_REGISTRY_PASSWORD")
    if found is None and env.get("CI_REGISTRY") and _host_key(env["CI_REGISTRY"]) == _host_key(host):
        found = _env_pair(env, "CI_REGISTRY_USER", "CI_REGISTRY_PASSWORD")
    if found is None:
        found = _docker_config_credentials(host, env)
    if found is not None:
        masking.register_basic_credentials(*found)
    return found


def _env_pair(env: Mapping[str, str], user_var: str, password_var: str) -> Credentials | None:
    user, password = env.get(user_var), env.get(password_var)
    if user and password:
        return user, password
    if user or password:
        missing = password_var if user else user_var
        raise ConfigError(
            f"{user_var if user else password_var} is set but {missing} is not",
            hint=f"set both {user_var} and {password_var}, or neither",
        )
    return None


def docker_config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"]) / "config.json"
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".docker" / "config.json"


def _docker_config_credentials(host: str, env: Mapping[str, str]) -> Credentials | None:
    path = docker_config_path(env)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(
            f"cannot read the Docker config: {type(error).__name__}",
            where=str(path),
            hint="fix or remove the file, or set PROMOTER_REGISTRY_USER/PROMOTER_REGISTRY_PASSWORD",
        ) from None
    auths = data.get("auths") if isinstance(data, dict) else None
    if not isinstance(auths, dict):
        return None
    wanted = {_host_key(host)}
    if _host_key(host) == DOCKER_HUB:
        wanted.update(_host_key(key) for key in _DOCKER_HUB_CONFIG_KEYS)
    for key, entry in auths.items():
        if _host_key(key) in wanted and isinstance(entry, dict):
            found = _entry_credentials(entry, key, path)
            if found is not None:
                return found
    return None


def _entry_credentials(entry: dict[str, Any], key: str, path: Path) -> Credentials | None:
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            sep = ""
        if not sep or not user:
            raise ConfigError(
                f"the auth entry for {key!r} is not base64 of user:password",
                where=str(path),
                hint="run docker login again or fix the entry",
            )
        return user, password
    user, password = entry.get("username"), entry.get("password")
    if isinstance(user, str) and isinstance(password, str) and user and password:
        return user, password
    return None


def registry_base_url(host: str, environ: Mapping[str, str] | None = None) -> str:
    """``http://`` for localhost, 127.0.0.1 and hosts in ``PROMOTER_REGISTRY_INSECURE``, else ``https://``."""
    env = os.environ if environ is None else environ
    key = _host_key(host)
    api_host = _DOCKER_HUB_API if key == DOCKER_HUB else key
    bare = api_host.rsplit(":", 1)[0] if not api_host.endswith("]") else api_host
    insecure = {
        _host_key(item) for item in env.get("PROMOTER_REGISTRY_INSECURE", "").split(",") if item.strip()
    }
    plain = bare in _LOCAL_HOSTS or api_host in insecure or bare in insecure
    return f"{'http' if plain else 'https'}://{api_host}"


# --- the client ------------------------------------------------------------------------------------------
@dataclass
class _Challenge:
    scheme: str
    params: dict[str, str] = field(default_factory=dict)


def _parse_challenges(header: str) -> list[_Challenge]:
    """Split ``WWW-Authenticate`` into challenges (``Bearer realm="a",scope="x,y", Basic realm="b"``)."""
    challenges: list[_Challenge] = []
    position = 0
    scheme_re = re.compile(r"\s*,?\s*([A-Za-z][A-Za-z0-9-]*)(?:\s+|$)")
    while position < len(header):
        scheme_match = scheme_re.match(header, position)
        if scheme_match is None:
            break
        challenge = _Challenge(scheme_match.group(1).lower())
        position = scheme_match.end()
        while True:
            param = _CHALLENGE_PARAM.match(header, position)
            if param is None:
                break
            challenge.params[param.group(1).lower()] = (
                param.group(2) if param.group(2) is not None else param.group(3)
            )
            position = param.end()
            comma = re.compile(r"\s*,\s*").match(header, position)
            if comma is None or _CHALLENGE_PARAM.match(header, comma.end()) is None:
                break
            position = comma.end()
        challenges.append(challenge)
    return challenges


def _error_codes(response: requests.Response) -> set[str]:
    try:
        payload = response.json()
    except ValueError:
        return set()
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if not isinstance(errors, list):
        return set()
    return {str(item.get("code")) for item in errors if isinstance(item, dict)}


class RegistryClient:
    """Talks to OCI registries on behalf of one process; safe to reuse across references."""

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self._environ = environ
        self._timeout = (min(_CONNECT_TIMEOUT, timeout), timeout)
        self._session = session
        self._tokens: dict[tuple[str, str], str] = {}
        self._basic_hosts: set[str] = set()
        self._credentials: dict[str, Credentials | None] = {}

    # public API ------------------------------------------------------------------------------------
    def manifest_digest(self, ref: ImageRef) -> str | None:
        """The digest of the manifest ``ref`` points at, or ``None`` when the tag does not exist."""
        url = self._manifest_url(ref)
        response = self._request("HEAD", url, ref)
        if response.status_code == 200 and response.headers.get("Docker-Content-Digest"):
            return response.headers["Docker-Content-Digest"]
        if response.status_code == 404:
            return None
        response = self._request("GET", url, ref)
        if response.status_code == 404 or _error_codes(response) & {"MANIFEST_UNKNOWN", "NAME_UNKNOWN"}:
            return None
        self._raise_for_status(response, ref)
        header = response.headers.get("Docker-Content-Digest")
        return header or f"sha256:{hashlib.sha256(response.content).hexdigest()}"

    def exists(self, ref: ImageRef) -> bool:
        return self.manifest_digest(ref) is not None

    def list_tags(self, ref: ImageRef) -> list[str]:
        """All tags of ``ref``'s repository, following ``Link`` pagination (empty for an unknown name)."""
        url: str | None = f"{self._base_url(ref)}/v2/{self._api_repository(ref)}/tags/list"
        tags: list[str] = []
        for _ in range(_MAX_TAG_PAGES):
            if url is None:
                return tags
            response = self._request("GET", url, ref)
            if response.status_code == 404:
                return tags
            self._raise_for_status(response, ref)
            try:
                payload = response.json()
            except ValueError:
                raise self._error(ref, "answered the tag list with something that is not JSON") from None
            page = payload.get("tags") if isinstance(payload, dict) else None
            tags.extend(str(tag) for tag in page or [])
            following = response.links.get("next", {}).get("url")
            url = urljoin(response.url or url, following) if following else None
        raise self._error(ref, f"returned more than {_MAX_TAG_PAGES} pages of tags")

    # addresses -------------------------------------------------------------------------------------
    def _base_url(self, ref: ImageRef) -> str:
        return registry_base_url(_registry_host(ref), self._environ)

    @staticmethod
    def _api_repository(ref: ImageRef) -> str:
        return ref.canonical_name.split("/", 1)[1]

    def _manifest_url(self, ref: ImageRef) -> str:
        reference = ref.tag or ref.digest or "latest"
        return f"{self._base_url(ref)}/v2/{self._api_repository(ref)}/manifests/{reference}"

    def _scope(self, ref: ImageRef) -> str:
        return f"repository:{self._api_repository(ref)}:pull"

    def _creds(self, host: str) -> Credentials | None:
        if host not in self._credentials:
            self._credentials[host] = registry_credentials(host, self._environ)
        return self._credentials[host]

    # HTTP ------------------------------------------------------------------------------------------
    def _http(self) -> requests.Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def _send(self, method: str, url: str, ref: ImageRef, headers: dict[str, str], **kwargs: Any) -> Any:
        import requests

        try:
            return self._http().request(
                method, url, headers=headers, timeout=self._timeout, allow_redirects=True, **kwargs
            )
        except requests.Timeout:
            raise self._error(ref, f"did not answer within {self._timeout[1]:g} s", where=url) from None
        except requests.ConnectionError as error:
            raise self._error(ref, f"is unreachable ({_reason(error)})", where=url) from None
        except requests.RequestException as error:
            raise self._error(ref, f"request failed ({type(error).__name__})", where=url) from None

    def _request(self, method: str, url: str, ref: ImageRef) -> requests.Response:
        host = _registry_host(ref)
        scope = self._scope(ref)
        headers = {"Accept": MANIFEST_ACCEPT}
        sent_auth = self._auth_header(host, scope)
        if sent_auth:
            headers["Authorization"] = sent_auth
        response = self._send(method, url, ref, headers)
        if response.status_code == 401:
            challenges = _parse_challenges(response.headers.get("WWW-Authenticate", ""))
            new_auth = self._authenticate(ref, host, scope, challenges)
            if new_auth is not None and new_auth != sent_auth:
                headers["Authorization"] = new_auth
                response = self._send(method, url, ref, headers)
            if response.status_code == 401:
                raise self._unauthorized(ref, host)
        if response.status_code == 403:
            raise self._error(
                ref, f"denied access to {self._api_repository(ref)}", where=url, hint=_CREDENTIAL_HINT
            )
        if response.status_code >= 500:
            raise self._error(ref, f"answered HTTP {response.status_code}", where=url)
        return response

    def _auth_header(self, host: str, scope: str) -> str | None:
        token = self._tokens.get((host, scope))
        if token:
            return f"Bearer {token}"
        if host in self._basic_hosts:
            creds = self._creds(host)
            if creds is not None:
                return _basic(creds)
        return None

    def _authenticate(self, ref: ImageRef, host: str, scope: str, challenges: list[_Challenge]) -> str | None:
        by_scheme = {challenge.scheme: challenge for challenge in challenges}
        if "bearer" in by_scheme:
            token = self._fetch_token(ref, host, scope, by_scheme["bearer"])
            self._tokens[(host, scope)] = token
            return f"Bearer {token}"
        creds = self._creds(host)
        if creds is None:
            raise self._unauthorized(ref, host)
        self._basic_hosts.add(host)
        return _basic(creds)

    def _fetch_token(self, ref: ImageRef, host: str, scope: str, challenge: _Challenge) -> str:
        realm = challenge.params.get("realm")
        if not realm or not realm.startswith(("https://", "http://")):
            raise self._error(ref, "sent a Bearer challenge without a usable realm")
        params = {"scope": challenge.params.get("scope") or scope}
        if challenge.params.get("service"):
            params["service"] = challenge.params["service"]
        headers = {"Accept": "application/json"}
        creds = self._creds(host)
        if creds is not None:
            headers["Authorization"] = _basic(creds)
        response = self._send("GET", realm, ref, headers, params=params)
        if response.status_code in {401, 403}:
            raise self._unauthorized(ref, host)
        if response.status_code != 200:
            raise self._error(ref, f"token service answered HTTP {response.status_code}", where=realm)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        token = (payload.get("token") or payload.get("access_token")) if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise self._error(ref, "token service answered without a token", where=realm)
        masking.register_secret(token)
        return token

    # errors ----------------------------------------------------------------------------------------
    def _raise_for_status(self, response: requests.Response, ref: ImageRef) -> None:
        if response.status_code >= 400:
            codes = ", ".join(sorted(_error_codes(response))) or f"HTTP {response.status_code}"
            raise self._error(ref, f"refused the request ({codes})", where=response.url)

    def _unauthorized(self, ref: ImageRef, host: str) -> RegistryError:
        has_creds = self._creds(host) is not None
        problem = "rejected the credentials" if has_creds else "requires credentials"
        hint = f"{_CREDENTIAL_HINT}; some registries also answer 401 for a repository that does not exist"
        return self._error(ref, f"{problem} for {self._api_repository(ref)}", hint=hint)

    def _error(
        self, ref: ImageRef, problem: str, *, where: str | None = None, hint: str | None = None
    ) -> RegistryError:
        host = _registry_host(ref)
        return RegistryError(
            masking.mask(f"registry {host} {problem}"),
            where=masking.mask(where) if where else str(ref),
            hint=hint or f"check that {host} is reachable from this job, then retry",
        )


def _basic(creds: Credentials) -> str:
    return "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()


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


def verify_image(
    ref: ImageRef | str, *, client: RegistryClient | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """Check that ``ref`` exists in its registry and return its manifest digest.

    Raises :class:`ImageMissingError` (exit 4) when the tag is missing, :class:`RegistryError` (exit 1)
    when the registry cannot say.
    """
    image = ImageRef.parse(ref) if isinstance(ref, str) else ref
    registry = client if client is not None else RegistryClient(environ=environ)
    digest = registry.manifest_digest(image)
    if digest is None:
        raise ImageMissingError(
            f"image {image} does not exist in registry {_registry_host(image)}",
            where=str(image),
            hint="wait for the image push to finish, check the tag, or skip the check with --no-verify-image",
        )
    return digest

"""Answering a registry's ``401``: HTTP Basic, or the Bearer token challenge flow.

A registry answers 401 with ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``; the token comes
from the realm and is cached per registry and scope: a GET with Basic credentials when there are any, or,
with an identity token (``identitytoken`` of a Docker login, a helper's ``<token>`` answer), a POST of the
OAuth2 refresh-token grant, as Docker does. Credentials never go to an ``http://`` realm of an ``https://``
registry. A Basic challenge is answered with the host's user and password, then sent up front to that host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from promoter import masking
from promoter.errors import RegistryError
from promoter.imageref import ImageRef
from promoter.registry.addresses import api_repository, registry_host
from promoter.registry.credentials import CREDENTIAL_HINT, CredentialStore
from promoter.registry.transport import Transport, registry_error

_CHALLENGE_PARAM = re.compile(r'([A-Za-z_]+)=(?:"([^"]*)"|([^",\s]*))')
_SCHEME = re.compile(r"\s*,?\s*([A-Za-z][A-Za-z0-9-]*)(?:\s+|$)")
_COMMA = re.compile(r"\s*,\s*")
CLIENT_ID = "promoter"


@dataclass
class Challenge:
    scheme: str
    params: dict[str, str] = field(default_factory=dict)


def parse_challenges(header: str) -> list[Challenge]:
    """Split ``WWW-Authenticate`` into challenges (``Bearer realm="a",scope="x,y", Basic realm="b"``)."""
    challenges: list[Challenge] = []
    position = 0
    while position < len(header):
        scheme_match = _SCHEME.match(header, position)
        if scheme_match is None:
            break
        challenge = Challenge(scheme_match.group(1).lower())
        position = scheme_match.end()
        while True:
            param = _CHALLENGE_PARAM.match(header, position)
            if param is None:
                break
            challenge.params[param.group(1).lower()] = (
                param.group(2) if param.group(2) is not None else param.group(3)
            )
            position = param.end()
            comma = _COMMA.match(header, position)
            if comma is None or _CHALLENGE_PARAM.match(header, comma.end()) is None:
                break
            position = comma.end()
        challenges.append(challenge)
    return challenges


class Authenticator:
    """The ``Authorization`` header for a host and scope, and the answer to its challenges."""

    def __init__(self, transport: Transport, credentials: CredentialStore) -> None:
        self._transport = transport
        self._credentials = credentials
        self._tokens: dict[tuple[str, str], str] = {}
        self._basic_hosts: set[str] = set()

    def header(self, host: str, scope: str) -> str | None:
        """What to send before any challenge: a cached token, or Basic for a host that asked for it."""
        token = self._tokens.get((host, scope))
        if token:
            return f"Bearer {token}"
        if host in self._basic_hosts:
            creds = self._credentials.get(host)
            if creds is not None:
                return creds.basic
        return None

    def answer(self, ref: ImageRef, url: str, scope: str, header: str) -> str | None:
        """The ``Authorization`` value that answers the 401 ``url`` gave with ``WWW-Authenticate: header``."""
        host = registry_host(ref)
        by_scheme = {challenge.scheme: challenge for challenge in parse_challenges(header)}
        if "bearer" in by_scheme:
            token = self._fetch_token(ref, url, scope, by_scheme["bearer"])
            self._tokens[(host, scope)] = token
            return f"Bearer {token}"
        creds = self._credentials.get(host)
        basic = creds.basic if creds is not None else None
        if basic is None:
            raise self.unauthorized(ref)
        self._basic_hosts.add(host)
        return basic

    def _fetch_token(self, ref: ImageRef, url: str, scope: str, challenge: Challenge) -> str:
        """A token from the challenge's realm: anonymous, with Basic credentials, or (identity token)
        the OAuth2 refresh-token grant."""
        realm = challenge.params.get("realm")
        if not realm or not realm.startswith(("https://", "http://")):
            raise registry_error(ref, "sent a Bearer challenge without a usable realm")
        params = {"scope": challenge.params.get("scope") or scope}
        if challenge.params.get("service"):
            params["service"] = challenge.params["service"]
        headers = {"Accept": "application/json"}
        creds = self._credentials.get(registry_host(ref))
        if creds is not None and realm.startswith("http://") and url.startswith("https://"):
            raise registry_error(
                ref,
                "asks for credentials at a token service without HTTPS; they were not sent",
                where=realm,
                hint="the registry's token realm must be an https:// URL",
            )
        if creds is not None and creds.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": creds.identity_token}
            form |= {"client_id": CLIENT_ID, **params}
            response = self._transport.send("POST", realm, ref, headers, data=form)
        else:
            basic = creds.basic if creds is not None else None
            if basic is not None:
                headers["Authorization"] = basic
            response = self._transport.send("GET", realm, ref, headers, params=params)
        refused = {400, 401, 403} if creds is not None and creds.identity_token else {401, 403}
        if response.status_code in refused:  # OAuth2 answers a bad refresh token with 400 invalid_grant
            raise self.unauthorized(ref)
        if response.status_code != 200:
            raise registry_error(ref, f"token service answered HTTP {response.status_code}", where=realm)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        token = (payload.get("token") or payload.get("access_token")) if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise registry_error(ref, "token service answered without a token", where=realm)
        masking.register_secret(token)
        return token

    def unauthorized(self, ref: ImageRef) -> RegistryError:
        creds = self._credentials.get(registry_host(ref))
        if creds is None:
            problem = "requires credentials"
        elif creds.basic is None and creds.identity_token:
            problem = f"did not accept the identity token from {creds.origin}"
        else:
            problem = f"rejected the credentials from {creds.origin}"
        hint = f"{CREDENTIAL_HINT}; some registries also answer 401 for a repository that does not exist"
        return registry_error(ref, f"{problem} for {api_repository(ref)}", hint=hint)

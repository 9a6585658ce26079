"""Answering a registry's ``401``: HTTP Basic, or the Bearer token challenge flow.

A registry answers 401 with ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``; the token comes
from the realm (with Basic credentials when there are any) and is cached per registry and scope. A Basic
challenge is answered with the host's credentials, which are then sent up front to that host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from promoter import masking
from promoter.errors import RegistryError
from promoter.imageref import ImageRef
from promoter.registry.addresses import api_repository
from promoter.registry.credentials import CREDENTIAL_HINT, CredentialStore, basic_header
from promoter.registry.transport import Transport, registry_error

_CHALLENGE_PARAM = re.compile(r'([A-Za-z_]+)=(?:"([^"]*)"|([^",\s]*))')
_SCHEME = re.compile(r"\s*,?\s*([A-Za-z][A-Za-z0-9-]*)(?:\s+|$)")
_COMMA = re.compile(r"\s*,\s*")


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
                return basic_header(creds)
        return None

    def answer(self, ref: ImageRef, host: str, scope: str, header: str) -> str | None:
        """The ``Authorization`` value that answers the 401's ``WWW-Authenticate`` ``header``."""
        by_scheme = {challenge.scheme: challenge for challenge in parse_challenges(header)}
        if "bearer" in by_scheme:
            token = self._fetch_token(ref, host, scope, by_scheme["bearer"])
            self._tokens[(host, scope)] = token
            return f"Bearer {token}"
        creds = self._credentials.get(host)
        if creds is None:
            raise self.unauthorized(ref, host)
        self._basic_hosts.add(host)
        return basic_header(creds)

    def _fetch_token(self, ref: ImageRef, host: str, scope: str, challenge: Challenge) -> str:
        realm = challenge.params.get("realm")
        if not realm or not realm.startswith(("https://", "http://")):
            raise registry_error(ref, "sent a Bearer challenge without a usable realm")
        params = {"scope": challenge.params.get("scope") or scope}
        if challenge.params.get("service"):
            params["service"] = challenge.params["service"]
        headers = {"Accept": "application/json"}
        creds = self._credentials.get(host)
        if creds is not None:
            headers["Authorization"] = basic_header(creds)
        response = self._transport.send("GET", realm, ref, headers, params=params)
        if response.status_code in {401, 403}:
            raise self.unauthorized(ref, host)
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

    def unauthorized(self, ref: ImageRef, host: str) -> RegistryError:
        has_creds = self._credentials.get(host) is not None
        problem = "rejected the credentials" if has_creds else "requires credentials"
        hint = f"{CREDENTIAL_HINT}; some registries also answer 401 for a repository that does not exist"
        return registry_error(ref, f"{problem} for {api_repository(ref)}", hint=hint)

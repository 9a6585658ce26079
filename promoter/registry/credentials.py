"""Registry credentials: where promoter finds what to authenticate to a registry host with.

Order: ``PROMOTER_REGISTRY_USER``/``PROMOTER_REGISTRY_PASSWORD`` (for every host, or only for the host in
``PROMOTER_REGISTRY_HOST`` when that is set); ``CI_REGISTRY_USER``/``CI_REGISTRY_PASSWORD`` when the host is
``$CI_REGISTRY``; then Docker's ``config.json`` (:mod:`~promoter.registry.dockerconfig`): a credential
helper from ``credHelpers`` or ``credsStore``, else the host's ``auths`` entry. Every secret found is
registered for masking before it is used.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from promoter import masking
from promoter.errors import ConfigError
from promoter.registry import credhelper
from promoter.registry.addresses import host_key
from promoter.registry.dockerconfig import docker_config_path, load_docker_config, server_url

__all__ = ["CREDENTIAL_HINT", "Credential", "CredentialStore", "docker_config_path", "registry_credentials"]

CREDENTIAL_HINT = (
    "set PROMOTER_REGISTRY_USER and PROMOTER_REGISTRY_PASSWORD (in GitLab CI, CI_REGISTRY_USER and "
    "CI_REGISTRY_PASSWORD are used for $CI_REGISTRY), or log in with docker login or a credential helper "
    "in $DOCKER_CONFIG/config.json"
)


@dataclass(frozen=True)
class Credential:
    """A user and password (HTTP Basic, and the token request), and/or an identity (refresh) token."""

    username: str | None
    password: str | None = None
    identity_token: str | None = None
    origin: str = ""  # where it came from, named in errors

    @property
    def basic(self) -> str | None:
        """The ``Authorization`` value for HTTP Basic, when there is a user and password."""
        if not self.username or self.password is None:
            return None
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def __repr__(self) -> str:  # never the secrets
        return f"Credential(username={self.username!r}, origin={self.origin!r})"


def registry_credentials(host: str, environ: Mapping[str, str] | None = None) -> Credential | None:
    """The credential for ``host``, or ``None`` for anonymous access (the order is in the docstring)."""
    env = os.environ if environ is None else environ
    found = None
    scope = env.get("PROMOTER_REGISTRY_HOST", "")
    if not scope or host_key(scope) == host_key(host):
        found = _env_pair(env, "PROMOTER_REGISTRY_USER", "PROMOTER_REGISTRY_PASSWORD")
    if found is None and env.get("CI_REGISTRY") and host_key(env["CI_REGISTRY"]) == host_key(host):
        found = _env_pair(env, "CI_REGISTRY_USER", "CI_REGISTRY_PASSWORD")
    if found is None:
        found = _from_docker_config(host, env)
    if found is not None:
        if found.username and found.password:
            masking.register_basic_credentials(found.username, found.password)
        masking.register_secret(found.identity_token)
    return found


class CredentialStore:
    """Credentials per registry host, looked up once per process (a helper runs once per host)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ
        self._found: dict[str, Credential | None] = {}
        self._lock = threading.Lock()  # threads listing one registry ask its helper once

    def get(self, host: str) -> Credential | None:
        with self._lock:
            if host not in self._found:
                self._found[host] = registry_credentials(host, self._environ)
            return self._found[host]


def _env_pair(env: Mapping[str, str], user_var: str, password_var: str) -> Credential | None:
    user, password = env.get(user_var), env.get(password_var)
    if user and password:
        return Credential(user, password, origin=user_var)
    if user or password:
        missing = password_var if user else user_var
        raise ConfigError(
            f"{user_var if user else password_var} is set but {missing} is not",
            hint=f"set both {user_var} and {password_var}, or neither",
        )
    return None


def _from_docker_config(host: str, env: Mapping[str, str]) -> Credential | None:
    config = load_docker_config(env)
    if config is None:
        return None
    helper = config.helper_for(host)
    if helper is not None:
        url = server_url(host)
        answer = credhelper.get_credentials(helper, url, environ=env, where=str(config.path))
        if answer is None:
            return None
        origin = f"{credhelper.PREFIX}{helper}"
        if answer.is_identity_token:
            return Credential(None, identity_token=answer.secret, origin=origin)
        return Credential(answer.username, answer.secret, origin=origin)
    entry = config.auth_for(host)
    if entry is None:
        return None
    return Credential(entry.username, entry.password, entry.identity_token, origin=str(config.path))

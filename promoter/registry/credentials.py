"""Registry credentials: where promoter finds a user and password for a registry host.

Order: ``PROMOTER_REGISTRY_USER``/``PROMOTER_REGISTRY_PASSWORD``; ``CI_REGISTRY_USER``/
``CI_REGISTRY_PASSWORD`` when the host is ``$CI_REGISTRY``; the ``auths`` of
``$DOCKER_CONFIG/config.json`` (default ``~/.docker/config.json``).
Every secret found is registered for masking before it is used.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promoter import masking
from promoter.errors import ConfigError
from promoter.imageref import DOCKER_HUB
from promoter.registry.addresses import DOCKER_HUB_CONFIG_KEYS, host_key

Credentials = tuple[str, str]

CREDENTIAL_HINT = (
    "set PROMOTER_REGISTRY_USER and PROMOTER_REGISTRY_PASSWORD (in GitLab CI, CI_REGISTRY_USER and "
    "CI_REGISTRY_PASSWORD are used for $CI_REGISTRY), or add the registry to the auths of "
    "$DOCKER_CONFIG/config.json"
)


def registry_credentials(host: str, environ: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials for ``host``, or ``None`` for anonymous access (the order is in the module's docstring)."""
    env = os.environ if environ is None else environ
    found = _env_pair(env, "PROMOTER_REGISTRY_USER", "PROMOTER_REGISTRY_PASSWORD")
    if found is None and env.get("CI_REGISTRY") and host_key(env["CI_REGISTRY"]) == host_key(host):
        found = _env_pair(env, "CI_REGISTRY_USER", "CI_REGISTRY_PASSWORD")
    if found is None:
        found = _docker_config_credentials(host, env)
    if found is not None:
        masking.register_basic_credentials(*found)
    return found


class CredentialStore:
    """Credentials per registry host, looked up once per process."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ
        self._found: dict[str, Credentials | None] = {}

    def get(self, host: str) -> Credentials | None:
        if host not in self._found:
            self._found[host] = registry_credentials(host, self._environ)
        return self._found[host]


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
    wanted = {host_key(host)}
    if host_key(host) == DOCKER_HUB:
        wanted.update(host_key(key) for key in DOCKER_HUB_CONFIG_KEYS)
    for key, entry in auths.items():
        if host_key(key) in wanted and isinstance(entry, dict):
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
    name, secret = entry.get("username"), entry.get("password")
    if isinstance(name, str) and isinstance(secret, str) and name and secret:
        return name, secret
    return None


def basic_header(creds: Credentials) -> str:
    return "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()

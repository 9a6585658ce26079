"""Docker's ``config.json``: ``credHelpers``, ``credsStore`` and ``auths``, read the way Docker reads them.

For a registry host, a helper named in ``credHelpers`` wins, then ``credsStore`` (the store for every
host), then the host's ``auths`` entry (``auth`` = base64 of ``user:password``, or ``username`` and
``password``, and an optional ``identitytoken``). With a helper in charge, ``auths`` is not read for that
host, as in Docker. Keys are compared as hosts (``https://Host:5000/v1/`` = ``host:5000``); Docker Hub is
known under all its names and asked for as ``https://index.docker.io/v1/``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promoter.errors import ConfigError
from promoter.imageref import DOCKER_HUB
from promoter.registry.addresses import DOCKER_HUB_CONFIG_KEYS, host_key

DOCKER_HUB_SERVER_URL = "https://index.docker.io/v1/"


@dataclass(frozen=True)
class AuthEntry:
    """What ``auths`` holds for a host."""

    username: str | None
    password: str | None
    identity_token: str | None


@dataclass(frozen=True)
class DockerConfig:
    path: Path
    helpers: dict[str, str]  # host key -> helper name
    store: str | None
    auths: dict[str, Any]

    def helper_for(self, host: str) -> str | None:
        """The credential helper in charge of ``host``: its ``credHelpers`` entry, else ``credsStore``."""
        for key in _keys_of(host):
            if key in self.helpers:
                return self.helpers[key]
        return self.store

    def auth_for(self, host: str) -> AuthEntry | None:
        wanted = set(_keys_of(host))
        for key, entry in self.auths.items():
            if host_key(key) in wanted and isinstance(entry, dict):
                found = _entry(entry, key, self.path)
                if found is not None:
                    return found
        return None


def server_url(host: str) -> str:
    """What a credential helper is asked for: the host, or Docker Hub's historical index URL."""
    return DOCKER_HUB_SERVER_URL if host_key(host) == DOCKER_HUB else host_key(host)


def docker_config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"]) / "config.json"
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".docker" / "config.json"


def load_docker_config(environ: Mapping[str, str]) -> DockerConfig | None:
    """The Docker config, or None when there is none; a broken one is a :class:`ConfigError`."""
    path = docker_config_path(environ)
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
    if not isinstance(data, dict):
        return None
    helpers = data.get("credHelpers")
    store = data.get("credsStore")
    auths = data.get("auths")
    return DockerConfig(
        path=path,
        helpers={host_key(k): v for k, v in helpers.items() if isinstance(v, str) and v}
        if isinstance(helpers, dict)
        else {},
        store=store if isinstance(store, str) and store else None,
        auths=auths if isinstance(auths, dict) else {},
    )


def _keys_of(host: str) -> list[str]:
    key = host_key(host)
    if key == DOCKER_HUB:
        return [key, *(host_key(alias) for alias in DOCKER_HUB_CONFIG_KEYS)]
    return [key]


def _entry(entry: dict[str, Any], key: str, path: Path) -> AuthEntry | None:
    token = entry.get("identitytoken")
    identity = token if isinstance(token, str) and token else None
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
        return AuthEntry(user, password or None, identity)
    name, secret = entry.get("username"), entry.get("password")
    name = name if isinstance(name, str) and name else None
    secret = secret if isinstance(secret, str) and secret else None
    if (name and secret) or identity:
        return AuthEntry(name, secret if name else None, identity)
    return None

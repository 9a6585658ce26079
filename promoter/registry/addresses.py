"""Where a registry is and how its names are compared: hosts, base URLs, repository paths of the API."""

from __future__ import annotations

import os
from collections.abc import Mapping

from promoter.imageref import DOCKER_HUB, ImageRef

DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_CONFIG_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", DOCKER_HUB_API)
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def host_key(value: str) -> str:
    """``https://Host:5000/v1/`` -> ``host:5000``: the form config.json keys and hosts are compared in."""
    text = value.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    return text.split("/", 1)[0]


def registry_host(ref: ImageRef) -> str:
    """The host to look credentials up for: as written, ``docker.io`` for Docker Hub."""
    return ref.canonical_registry


def api_repository(ref: ImageRef) -> str:
    """The repository path in API URLs: ``nginx`` -> ``library/nginx`` on Docker Hub."""
    return ref.canonical_name.split("/", 1)[1]


def registry_base_url(host: str, environ: Mapping[str, str] | None = None) -> str:
    """``http://`` for localhost, 127.0.0.1 and hosts in ``PROMOTER_REGISTRY_INSECURE``, else ``https://``."""
    env = os.environ if environ is None else environ
    key = host_key(host)
    api_host = DOCKER_HUB_API if key == DOCKER_HUB else key
    bare = api_host.rsplit(":", 1)[0] if not api_host.endswith("]") else api_host
    insecure = {
        host_key(item) for item in env.get("PROMOTER_REGISTRY_INSECURE", "").split(",") if item.strip()
    }
    plain = bare in _LOCAL_HOSTS or api_host in insecure or bare in insecure
    return f"{'http' if plain else 'https'}://{api_host}"

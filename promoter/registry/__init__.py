"""Container registries: credentials, and a small OCI distribution API client.

============== ===========================================================================================
``client``      :class:`RegistryClient`: manifest digests, existence, tag lists; :func:`verify_image`
``auth``        answering a 401: Basic, or the Bearer token challenge flow; tokens cached per scope
``credentials`` where a registry's credential comes from: variables, then Docker's ``config.json``
``dockerconfig`` ``config.json`` read the way Docker reads it: ``credHelpers``, ``credsStore``, ``auths``
``credhelper``  running ``docker-credential-<name> get`` (time limit, errors shown, secrets masked)
``transport``   the HTTP session, time limits, every failure as a :class:`~promoter.errors.RegistryError`
``addresses``   registry hosts, base URLs (``http`` only for local and listed hosts), API repository paths
============== ===========================================================================================

``requests`` is imported lazily, on the first request.
"""

from __future__ import annotations

from promoter.registry.addresses import registry_base_url
from promoter.registry.client import MANIFEST_ACCEPT, RegistryClient, verify_image
from promoter.registry.credentials import Credential, docker_config_path, registry_credentials

__all__ = [
    "MANIFEST_ACCEPT",
    "Credential",
    "RegistryClient",
    "docker_config_path",
    "registry_base_url",
    "registry_credentials",
    "verify_image",
]

"""The OCI distribution API: does a tag exist, what is its digest, which tags are there.

Every failure to get an answer is a :class:`RegistryError` (exit 1): an unreachable registry never passes
as "image exists".
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from promoter.errors import ImageMissingError
from promoter.imageref import ImageRef
from promoter.registry.addresses import api_repository, registry_base_url, registry_host
from promoter.registry.auth import Authenticator
from promoter.registry.credentials import CREDENTIAL_HINT, CredentialStore
from promoter.registry.transport import (
    DEFAULT_CONCURRENCY,
    DEFAULT_TIMEOUT,
    Transport,
    error_codes,
    registry_error,
)
from promoter.settings import count_setting

if TYPE_CHECKING:
    import requests

MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_ACCEPT = ", ".join(
    (MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST_LIST, MEDIA_DOCKER_MANIFEST)
)
_MAX_TAG_PAGES = 1000
CONCURRENCY_VARIABLE = "PROMOTER_REGISTRY_CONCURRENCY"


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
        self._transport = Transport(
            timeout=timeout, session=session, concurrency=registry_concurrency(environ)
        )
        self._auth = Authenticator(self._transport, CredentialStore(environ))

    @property
    def calls(self) -> dict[str, int]:
        """HTTP requests sent so far, per registry host."""
        return dict(self._transport.calls)

    def manifest_digest(self, ref: ImageRef) -> str | None:
        """The digest of the manifest ``ref`` points at, or ``None`` when the tag does not exist."""
        url = self._manifest_url(ref)
        response = self._request("HEAD", url, ref)
        if response.status_code == 200 and response.headers.get("Docker-Content-Digest"):
            return response.headers["Docker-Content-Digest"]
        if response.status_code == 404:
            return None
        response = self._request("GET", url, ref)
        if response.status_code == 404 or error_codes(response) & {"MANIFEST_UNKNOWN", "NAME_UNKNOWN"}:
            return None
        self._raise_for_status(response, ref)
        header = response.headers.get("Docker-Content-Digest")
        return header or f"sha256:{hashlib.sha256(response.content).hexdigest()}"

    def exists(self, ref: ImageRef) -> bool:
        return self.manifest_digest(ref) is not None

    def list_tags(
        self, ref: ImageRef, *, page_size: int | None = None, on_page: Callable[[int], None] | None = None
    ) -> list[str]:
        """All tags of ``ref``'s repository, following ``Link`` pagination (empty for an unknown name).

        ``page_size`` asks for that many tags per page (``n=``); ``on_page(count)`` hears of each page.
        """
        first = f"{self._base_url(ref)}/v2/{api_repository(ref)}/tags/list"
        url: str | None = first if page_size is None else f"{first}?n={page_size}"
        tags: list[str] = []
        for pages in range(_MAX_TAG_PAGES):
            if url is None:
                return tags
            if pages and on_page is not None:
                on_page(pages)
            response = self._request("GET", url, ref)
            if response.status_code == 404:
                return tags
            self._raise_for_status(response, ref)
            try:
                payload = response.json()
            except ValueError:
                raise registry_error(ref, "answered the tag list with something that is not JSON") from None
            page = payload.get("tags") if isinstance(payload, dict) else None
            tags.extend(str(tag) for tag in page or [])
            following = response.links.get("next", {}).get("url")
            url = urljoin(response.url or url, following) if following else None
        raise registry_error(ref, f"returned more than {_MAX_TAG_PAGES} pages of tags")

    def image_config(self, ref: ImageRef) -> dict[str, Any]:
        """The image configuration (the config blob) ``ref`` points at; for a multi-platform image the
        linux/amd64 one (else the first image). Empty when the tag does not exist."""
        base = f"{self._base_url(ref)}/v2/{api_repository(ref)}"
        manifest = self._json(self._request("GET", self._manifest_url(ref), ref), ref)
        if manifest is None:
            return {}
        if isinstance(manifest.get("manifests"), list):  # an index: pick one image
            chosen = _platform_manifest(manifest["manifests"])
            if chosen is None:
                return {}
            manifest = self._json(self._request("GET", f"{base}/manifests/{chosen}", ref), ref) or {}
        digest = (manifest.get("config") or {}).get("digest") if isinstance(manifest, dict) else None
        if not isinstance(digest, str) or not digest.startswith("sha256:"):
            return {}
        config = self._json(self._request("GET", f"{base}/blobs/{digest}", ref), ref)
        return config or {}

    def image_labels(self, ref: ImageRef) -> dict[str, str]:
        """The image's labels (``org.opencontainers.image.revision``, ...); empty when it has none."""
        labels = (self.image_config(ref).get("config") or {}).get("Labels") or {}
        return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}

    def _json(self, response: requests.Response, ref: ImageRef) -> dict[str, Any] | None:
        if response.status_code == 404:
            return None
        self._raise_for_status(response, ref)
        try:
            data = response.json()
        except ValueError:
            raise registry_error(
                ref, "answered with something that is not JSON", where=response.url
            ) from None
        return data if isinstance(data, dict) else None

    # addresses -------------------------------------------------------------------------------------
    def _base_url(self, ref: ImageRef) -> str:
        return registry_base_url(registry_host(ref), self._environ)

    def _manifest_url(self, ref: ImageRef) -> str:
        reference = ref.tag or ref.digest or "latest"
        return f"{self._base_url(ref)}/v2/{api_repository(ref)}/manifests/{reference}"

    # requests --------------------------------------------------------------------------------------
    def _request(self, method: str, url: str, ref: ImageRef) -> requests.Response:
        """One authenticated request: answers a 401 once, turns 403 and 5xx into errors."""
        host = registry_host(ref)
        scope = f"repository:{api_repository(ref)}:pull"
        headers = {"Accept": MANIFEST_ACCEPT}
        sent_auth = self._auth.header(host, scope)
        if sent_auth:
            headers["Authorization"] = sent_auth
        response = self._transport.send(method, url, ref, headers)
        if response.status_code == 401:
            challenge = response.headers.get("WWW-Authenticate", "")
            new_auth = self._auth.answer(ref, url, scope, challenge)
            if new_auth is not None and new_auth != sent_auth:
                headers["Authorization"] = new_auth
                response = self._transport.send(method, url, ref, headers)
            if response.status_code == 401:
                raise self._auth.unauthorized(ref)
        if response.status_code == 403:
            raise registry_error(
                ref, f"denied access to {api_repository(ref)}", where=url, hint=CREDENTIAL_HINT
            )
        if response.status_code >= 500:
            raise registry_error(ref, f"answered HTTP {response.status_code}", where=url)
        return response

    @staticmethod
    def _raise_for_status(response: requests.Response, ref: ImageRef) -> None:
        if response.status_code >= 400:
            codes = ", ".join(sorted(error_codes(response))) or f"HTTP {response.status_code}"
            raise registry_error(ref, f"refused the request ({codes})", where=response.url)


def _platform_manifest(manifests: list[Any]) -> str | None:
    """The digest of the linux/amd64 image of an index, else of its first image (attestations skipped)."""
    images = [
        item
        for item in manifests
        if isinstance(item, dict)
        and isinstance(item.get("digest"), str)
        and (item.get("platform") or {}).get("os") != "unknown"
    ]
    for item in images:
        platform = item.get("platform") or {}
        if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
            return str(item["digest"])
    return str(images[0]["digest"]) if images else None


def registry_concurrency(environ: Mapping[str, str] | None) -> int:
    """Requests in flight per registry: ``PROMOTER_REGISTRY_CONCURRENCY`` (a positive number), default 4."""
    return count_setting(CONCURRENCY_VARIABLE, DEFAULT_CONCURRENCY, environ) or DEFAULT_CONCURRENCY


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
            f"image {image} does not exist in registry {registry_host(image)}",
            where=str(image),
            hint="wait for the image push to finish, check the tag, or skip the check with --no-verify-image",
        )
    return digest

"""Parse and format OCI image references (``[registry/]repository[:tag][@digest]``).

The grammar follows the OCI distribution reference grammar. The first path component is a registry
host only when it contains ``.`` or ``:`` or is ``localhost`` (the rule Docker uses), so ``acme/api``
is a repository on Docker Hub while ``registry.example.com:5000/acme/api`` names a registry with a port.
Everything is kept exactly as written; :attr:`ImageRef.canonical_name` gives the normalised form used to
decide whether two references name the same image (``nginx`` == ``docker.io/library/nginx``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace

from promoter.errors import ImageReferenceError

__all__ = ["DOCKER_HUB", "ImageRef", "is_valid_digest", "is_valid_tag", "split_pinned_tag"]

DOCKER_HUB = "docker.io"
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_NAME_MAX = 255

_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_PATH_COMPONENT_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_COMPONENT = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_HOST_RE = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?")
_DIGEST_RE = re.compile(r"(?P<algorithm>[a-z0-9]+(?:[.+_-][a-z0-9]+)*):(?P<hex>[a-zA-Z0-9=_-]+)")
# Registered algorithms have a fixed, lowercase hex encoding; others need at least 128 bits of hex.
_KNOWN_DIGEST_HEX = {"sha256": re.compile(r"[a-f0-9]{64}"), "sha512": re.compile(r"[a-f0-9]{128}")}
_OTHER_DIGEST_HEX = re.compile(r"[a-fA-F0-9]{32,}")


def is_valid_tag(tag: str) -> bool:
    """True when ``tag`` matches the OCI tag grammar ``[A-Za-z0-9_][A-Za-z0-9._-]{0,127}``."""
    return isinstance(tag, str) and _TAG_RE.fullmatch(tag) is not None


def is_valid_digest(digest: str) -> bool:
    """True when ``digest`` is ``algorithm:hex`` (``sha256`` needs 64 lowercase hex characters)."""
    return _digest_problem(digest) is None


def split_pinned_tag(text: str | None) -> tuple[str, str] | None:
    """``(tag, digest)`` of a tag field that pins its digest too, ``VERSION@sha256:...``; None otherwise.

    Renovate and charts built on the bjw-s app-template write ``tag: 1.2.3@sha256:<digest>`` (the chart
    joins ``repository:tag``), so such a field holds a version and a digest, not an invalid tag.
    """
    if not text or "@" not in text:
        return None
    tag, _, digest = text.partition("@")
    if is_valid_tag(tag) and is_valid_digest(digest):
        return tag, digest
    return None


def _digest_problem(digest: str) -> str | None:
    match = _DIGEST_RE.fullmatch(digest) if isinstance(digest, str) else None
    if match is None:
        return "a digest must look like sha256:<64 hex characters>"
    algorithm, hexpart = match.group("algorithm"), match.group("hex")
    expected = _KNOWN_DIGEST_HEX.get(algorithm)
    if expected is not None:
        if expected.fullmatch(hexpart) is None:
            size = 64 if algorithm == "sha256" else 128
            return f"a {algorithm} digest needs exactly {size} lowercase hex characters, got {len(hexpart)}"
        return None
    if _OTHER_DIGEST_HEX.fullmatch(hexpart) is None:
        return "the digest value must be at least 32 hex characters"
    return None


def _looks_like_registry(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def _repository_problem(repository: str) -> str | None:
    if not repository:
        return "the repository name is empty"
    if len(repository) > _NAME_MAX:
        return f"the repository name is longer than {_NAME_MAX} characters"
    for component in repository.split("/"):
        if _PATH_COMPONENT_RE.fullmatch(component):
            continue
        if not component:
            return f"repository {repository!r} has an empty path component"
        if _PATH_COMPONENT_RE.fullmatch(component.lower()):
            return f"repository {repository!r} must be lowercase"
        return (
            f"repository component {component!r} is not valid: use lowercase letters and digits, "
            "separated by '.', '_', '__' or dashes"
        )
    return None


def _fail(text: str, problem: str) -> ImageReferenceError:
    return ImageReferenceError(
        f"invalid image reference {text!r}: {problem}",
        hint="write it as [registry[:port]/]repository[:tag][@sha256:<digest>], "
        "e.g. registry.example.com/acme/api:1.2.3",
    )


def _parts_problem(registry: object, repository: object, tag: object, digest: object) -> str | None:
    if registry is not None and (not isinstance(registry, str) or _HOST_RE.fullmatch(registry) is None):
        return f"registry {registry!r} is not a valid host[:port]"
    if not isinstance(repository, str):
        return "the repository must be a string"
    problem = _repository_problem(repository)
    if problem is not None:
        return problem
    if registry is None and "/" in repository:
        first = repository.split("/", 1)[0]
        if _looks_like_registry(first):
            return f"{first!r} would be read as a registry host; pass it as the registry"
    if tag is not None and not (isinstance(tag, str) and is_valid_tag(tag)):
        return (
            f"tag {tag!r} is not valid: up to 128 letters, digits, '_', '.' or '-', "
            "not starting with '.' or '-'"
        )
    if digest is not None:
        problem = _digest_problem(digest) if isinstance(digest, str) else "a digest must be a string"
        if problem is not None:
            return f"digest {digest!r} is not valid: {problem}"
    return None


@dataclass(frozen=True)
class ImageRef:
    """One image reference, with each part kept as written."""

    registry: str | None
    repository: str
    tag: str | None = None
    digest: str | None = None

    def __post_init__(self) -> None:
        problem = _parts_problem(self.registry, self.repository, self.tag, self.digest)
        if problem is not None:
            raise _fail(self._raw_text(), problem)

    def _raw_text(self) -> str:
        text = f"{self.registry}/{self.repository}" if self.registry is not None else str(self.repository)
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        """Parse ``[registry/]repository[:tag][@digest]``; raise :class:`ImageReferenceError` if invalid.

        Results are cached: finders parse the same strings many times over a large file.
        """
        if cls is ImageRef and isinstance(text, str):
            return _parse_cached(text)
        return cls._parse(text)

    @classmethod
    def _parse(cls, text: str) -> ImageRef:
        if not isinstance(text, str):
            raise _fail(repr(text), "an image reference must be a string")
        if not text:
            raise _fail(text, "the reference is empty")
        if text != text.strip() or any(ch.isspace() for ch in text):
            raise _fail(text, "it contains whitespace")
        if "://" in text:
            raise _fail(text, "leave out the URL scheme (write registry.example.com/repo, not https://...)")
        rest, digest = text, None
        if "@" in rest:
            rest, digest = rest.split("@", 1)
            if "@" in digest:
                raise _fail(text, "it contains more than one '@'")
            if not digest:
                raise _fail(text, "the digest after '@' is empty")
        tag = None
        colon = rest.rfind(":")
        if colon != -1 and "/" not in rest[colon + 1 :]:
            rest, tag = rest[:colon], rest[colon + 1 :]
            if not tag:
                raise _fail(text, "the tag after ':' is empty")
        registry = None
        first, slash, remainder = rest.partition("/")
        if slash and _looks_like_registry(first):
            registry, rest = first, remainder
        elif ":" in rest:
            raise _fail(text, f"{rest!r} is neither a repository nor registry-host:port/repository")
        problem = _parts_problem(registry, rest, tag, digest)
        if problem is not None:
            raise _fail(text, problem)
        return cls(registry=registry, repository=rest, tag=tag, digest=digest)

    @property
    def name(self) -> str:
        """``registry/repository`` as written, without tag or digest."""
        return f"{self.registry}/{self.repository}" if self.registry is not None else self.repository

    @property
    def canonical_registry(self) -> str:
        """The registry host in lowercase, ``docker.io`` for Docker Hub and its aliases."""
        if self.registry is None or self.registry.lower() in _DOCKER_HUB_ALIASES:
            return DOCKER_HUB
        return self.registry.lower()

    @property
    def canonical_name(self) -> str:
        """Normalised name for matching: ``nginx`` -> ``docker.io/library/nginx``."""
        registry = self.canonical_registry
        repository = self.repository
        if registry == DOCKER_HUB and "/" not in repository:
            repository = f"library/{repository}"
        return f"{registry}/{repository}"

    def same_repository(self, other: ImageRef | str) -> bool:
        """True when both name the same repository after normalisation (tags and digests ignored)."""
        if isinstance(other, str):
            other = ImageRef.parse(other)
        return self.canonical_name == other.canonical_name

    def with_version(self, tag: str | None, digest: str | None = None) -> ImageRef:
        """A copy with this tag and digest (``digest=None`` drops any digest: a stale one never survives)."""
        return replace(self, tag=tag, digest=digest)

    def __str__(self) -> str:
        return self._raw_text()


@functools.lru_cache(maxsize=8192)
def _parse_cached(text: str) -> ImageRef:
    return ImageRef._parse(text)

"""Tags read as versions, and how ``update`` orders them.

``semver``: a tag (or its ``version`` group) is ``[v]MAJOR[.MINOR[.PATCH]][-PRERELEASE][_BUILD]`` (missing
parts are 0, as Flux and Argo CD Image Updater read ``1.27``); ``+`` is not allowed in a tag, so build
metadata follows ``_`` (the Helm and Flux convention; ``+`` is read too). Order is semantic-version
precedence (``1.9`` < ``1.10``, ``1.10.0-rc.1`` < ``1.10.0``), then builds of one version by their metadata
(numeric parts as numbers), so a rebuild ``1.2.3_2`` is newer than ``1.2.3_1``. Ranges are npm's
(``^1.2``, ``~1.2.3``, ``>=1.2 <2 || 3.x``), read by ``semantic_version.NpmSpec``: a pre-release matches
only a range that names a pre-release of the same ``MAJOR.MINOR.PATCH``.

``alphabetical`` orders the ``version`` group as text, ``numerical`` as a decimal number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import semantic_version

_LENIENT = re.compile(
    r"v?(?P<major>0|[1-9]\d*)(?:\.(?P<minor>0|[1-9]\d*))?(?:\.(?P<patch>0|[1-9]\d*))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:[_+](?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


@dataclass(frozen=True)
class TagVersion:
    """A tag read as a semantic version: ``order`` sorts it, ``version`` matches ranges."""

    tag: str
    version: semantic_version.Version
    order: tuple[Any, ...]
    parts: int  # how many of MAJOR.MINOR.PATCH the tag spells out

    @property
    def is_prerelease(self) -> bool:
        return bool(self.version.prerelease)


def _identifiers(text: str | None) -> tuple[tuple[int, int, str], ...]:
    if not text:
        return ()
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in text.split("."))


@lru_cache(maxsize=65536)
def parse_semver(tag: str, text: str | None = None) -> TagVersion | None:
    """``tag`` (read from ``text``, its ``version`` group, when given) as a version; None if it is none."""
    import semantic_version

    match = _LENIENT.fullmatch(tag if text is None else text)
    if match is None:
        return None
    core = [match["major"], match["minor"] or "0", match["patch"] or "0"]
    written = ".".join(core) + (f"-{match['pre']}" if match["pre"] else "")
    try:
        version = semantic_version.Version(written)
    except ValueError:  # a numeric pre-release identifier with a leading zero
        return None
    parts = 1 + (match["minor"] is not None) + (match["patch"] is not None)
    order = (version.precedence_key, _identifiers(match["build"]))
    return TagVersion(tag, version, order, parts)


@lru_cache(maxsize=1024)
def npm_range(constraint: str) -> semantic_version.NpmSpec:
    """The npm range ``constraint``; :class:`ValueError` when it is not one."""
    import semantic_version

    return semantic_version.NpmSpec(constraint)


def range_problem(constraint: str) -> str | None:
    """Why ``constraint`` is not an npm range, or None."""
    try:
        npm_range(constraint)
    except ValueError as exc:
        return f"not an npm-style version range: {exc}"
    return None


def numerical_key(text: str) -> Decimal | None:
    """``text`` as a finite decimal number, or None."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None

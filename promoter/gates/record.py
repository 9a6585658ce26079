"""What promoter writes into its commits for gates and history to read back (``Promoter-*`` trailers).

=========================== ==========================================================================
``Promoter-Versions``        the apps whose version this commit changed: ``api=1.4.2, worker=2.1.0``
                             (a digest travels with its tag: ``api=1.4.2@sha256:...``)
``Promoter-Rollback``        the commit rolls an app back: ``api 1.4.2 -> 1.4.1``
``Promoter-Override``        gates were overridden, and why (``--override-gates REASON``)
``Promoter-Actor``           who asked (the CI user), when known
``Promoter-Run``             the pipeline that made a promotion, rollback or hold (informative only: unlike
                             ``Promoter-Pipeline`` it is never compared by the downgrade guard)
=========================== ==========================================================================

With ``Promoter-App``, ``Promoter-Env``, ``Promoter-Image``, ``Promoter-Promoted-From``,
``Promoter-Pipeline`` and ``Promoter-Source`` (bump and promote), these make the history of an app's
version readable without opening a single file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "ACTOR",
    "APP",
    "ENV",
    "IMAGE",
    "OVERRIDE",
    "PIPELINE",
    "PROMOTED_FROM",
    "ROLLBACK",
    "RUN",
    "VERSIONS",
    "format_versions",
    "get",
    "names",
    "parse_versions",
]

APP = "Promoter-App"
ENV = "Promoter-Env"
IMAGE = "Promoter-Image"
PROMOTED_FROM = "Promoter-Promoted-From"
PIPELINE = "Promoter-Pipeline"
VERSIONS = "Promoter-Versions"
ROLLBACK = "Promoter-Rollback"
OVERRIDE = "Promoter-Override"
ACTOR = "Promoter-Actor"
RUN = "Promoter-Run"

_PAIR = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)=(\S+)$")


def get(trailers: Mapping[str, str], key: str) -> str | None:
    """A trailer's value, its name compared case-insensitively (git does)."""
    wanted = key.lower()
    for name, value in trailers.items():
        if name.lower() == wanted:
            return value
    return None


def names(value: str | None) -> list[str]:
    """``api, worker`` -> ``["api", "worker"]``."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def format_versions(versions: Mapping[str, str]) -> str:
    return ", ".join(f"{app}={version}" for app, version in versions.items())


def parse_versions(value: str | None) -> dict[str, str]:
    """``api=1.4.2, worker=2.1.0`` -> ``{"api": "1.4.2", "worker": "2.1.0"}`` (malformed pairs skipped)."""
    out: dict[str, str] = {}
    for part in names(value):
        found = _PAIR.match(part)
        if found:
            out.setdefault(found.group(1), found.group(2))
    return out

"""Version ordering for the downgrade guard: semantic versions (with an optional ``v``) only."""

from __future__ import annotations

import re
from functools import total_ordering

# (core, release-after-pre-releases, per pre-release identifier (numeric?, number, text))
_SortKey = tuple[tuple[int, int, int], int, tuple[tuple[int, int, str], ...]]

_SEMVER = re.compile(
    r"^v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)


@total_ordering
class SemVer:
    """A parsed semantic version; ordering follows semver 2.0 precedence (build metadata ignored)."""

    def __init__(self, major: int, minor: int, patch: int, pre: tuple[str, ...] = ()) -> None:
        self.core = (major, minor, patch)
        self.pre = pre

    @classmethod
    def parse(cls, text: str | None) -> SemVer | None:
        match = _SEMVER.match(text or "")
        if not match:
            return None
        pre = tuple(match["pre"].split(".")) if match["pre"] else ()
        return cls(int(match["major"]), int(match["minor"]), int(match["patch"]), pre)

    def _key(self) -> _SortKey:
        # a release sorts after its pre-releases; numeric identifiers sort before alphanumeric ones
        pre_key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre)
        return (self.core, 0 if self.pre else 1, pre_key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SemVer) and self._key() == other._key()

    def __lt__(self, other: SemVer) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"SemVer({'.'.join(map(str, self.core))}{'-' + '.'.join(self.pre) if self.pre else ''})"


def is_semver_downgrade(current: str | None, new: str | None) -> bool:
    """True when both are semantic versions and ``new`` sorts below ``current``."""
    old_version, new_version = SemVer.parse(current), SemVer.parse(new)
    return old_version is not None and new_version is not None and new_version < old_version

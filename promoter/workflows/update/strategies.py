"""Which tag an app should run next, by its ``update:`` policy: pure decisions over registry facts.

Every strategy first narrows the repository's tags: ``ignore`` (tags or glob patterns) drops some, ``tags``
(a regular expression, searched) keeps those that match, and its ``version`` group, when it has one, is the
part that is compared. Then each strategy picks the newest, and the choice moves the app only when it is
newer than what the environment runs now: never backwards (a newer version deployed by hand stays).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, Protocol

from promoter.config import UpdatePolicy
from promoter.errors import InputError
from promoter.imageref import ImageRef
from promoter.workflows.deployed import Version
from promoter.workflows.update.versions import TagVersion, npm_range, numerical_key, parse_semver

# what a choice says about an app in an environment
UPDATE = "update"  # a newer tag (or digest) to move to
CURRENT = "current"  # already runs the newest
NEWER_DEPLOYED = "newer-deployed"  # runs something newer than the newest candidate: not moved back
NO_CANDIDATE = "no-candidate"  # no tag passes the policy


@dataclass(frozen=True)
class Current:
    """What the environment's files say now."""

    tag: str | None
    digest: str | None = None


@dataclass(frozen=True)
class Choice:
    status: str
    why: str
    tag: str | None = None
    digest: str | None = None

    @property
    def moves(self) -> bool:
        return self.status == UPDATE


class Facts(Protocol):
    """What the registry says about an image repository (listed once per run, shared by its apps)."""

    def tags(self, image: ImageRef) -> Sequence[str]: ...

    def digest(self, image: ImageRef, tag: str) -> str | None: ...

    def created(self, image: ImageRef, tag: str) -> datetime | None: ...


def current_of(versions: Sequence[Version], where: str, app: str, env: str) -> tuple[Current, bool]:
    """What ``versions`` (found in an app's files) say runs now, and whether the files pin digests.

    Files may differ in their digests (one not pinned yet); they must agree on the tag.
    """
    tags = list(dict.fromkeys(version.tag for version in versions if version.tag))
    if len(tags) > 1:
        raise InputError(
            f"{app} in {env} has different versions in its files: " + ", ".join(map(str, versions)),
            where=where,
            hint=f"make the files agree first (promoter bump {env} --app {app} --tag TAG)",
        )
    digests = list(dict.fromkeys(version.digest for version in versions))
    digest = digests[0] if len(digests) == 1 else None
    return Current(tags[0] if tags else None, digest), any(version.digest for version in versions)


def short(digest: str | None) -> str:
    return (digest[:19] + "...") if digest and len(digest) > 22 else str(digest)


class Narrowed:
    """The tags a policy may choose from, each with the text that is compared (its ``version`` group)."""

    def __init__(self, policy: UpdatePolicy, tags: Sequence[str]) -> None:
        self.pattern = re.compile(policy.tags) if policy.tags else None
        self.listed = len(tags)
        self.items: list[tuple[str, str]] = []
        for tag in tags:
            if any(fnmatchcase(tag, pattern) for pattern in policy.ignore):
                continue
            text = self.text_of(tag)
            if text is not None:
                self.items.append((tag, text))
        self._semver: list[TagVersion] | None = None

    def semver_descending(self) -> list[TagVersion]:
        """The tags that read as versions, newest first (computed once)."""
        if self._semver is None:
            found = (parse_semver(tag, None if text == tag else text) for tag, text in self.items)
            self._semver = sorted((v for v in found if v is not None), key=lambda v: v.order, reverse=True)
        return self._semver

    def text_of(self, tag: str) -> str | None:
        """The compared part of ``tag``; None when the ``tags`` filter does not let it through."""
        if self.pattern is None:
            return tag
        match = self.pattern.search(tag)
        if match is None:
            return None
        if "version" not in self.pattern.groupindex:
            return tag
        group = match.group("version")
        return group if isinstance(group, str) and group else None


def _best(keyed: Sequence[tuple[Any, str]], current: str | None) -> tuple[Any, str]:
    """The highest key; among equals the current tag, then the longest, then the last tag by text."""
    top = max(key for key, _ in keyed)
    tied = [tag for key, tag in keyed if key == top]
    return top, max(tied, key=lambda tag: (tag == current, len(tag), tag))


def _compare(best_key: Any, best_tag: str, current_key: Any, current: Current, shown: str) -> Choice:
    if current_key is None or best_key > current_key:
        return Choice(UPDATE, shown, best_tag)
    if best_key == current_key:
        return Choice(CURRENT, f"{current.tag} is the newest ({shown})", current.tag, current.digest)
    return Choice(
        NEWER_DEPLOYED,
        f"{current.tag} is newer than {best_tag}, the newest candidate: not moved back",
        current.tag,
        current.digest,
    )


def choose_semver(policy: UpdatePolicy, narrowed: Narrowed, current: Current) -> Choice:
    spec = npm_range(policy.constraint)
    best: TagVersion | None = None
    tied: list[tuple[Any, str]] = []
    for found in narrowed.semver_descending():  # the first match is the highest: no need to test the rest
        if best is not None and found.order != best.order:
            break
        if spec.match(found.version):
            best = best or found
            tied.append((found.order, found.tag))
    if best is None:
        return Choice(NO_CANDIDATE, f"no tag in {policy.constraint} ({narrowed.listed} tags listed)")
    best_key, best_tag = _best(tied, current.tag)
    text = narrowed.text_of(current.tag) if current.tag else None
    now = parse_semver(current.tag, None if text in (None, current.tag) else text) if current.tag else None
    shown = f"highest in {policy.constraint} of {narrowed.listed} tags"
    if now is None and current.tag:
        shown += f"; {current.tag} is not a version"
    return _compare(best_key, best_tag, now.order if now else None, current, shown)


def choose_ordered(policy: UpdatePolicy, narrowed: Narrowed, current: Current) -> Choice:
    """``alphabetical`` (the ``version`` group as text) or ``numerical`` (as a decimal number)."""
    key: Callable[[str], Any] = (lambda text: text) if policy.strategy == "alphabetical" else numerical_key
    keyed = [(k, tag) for tag, text in narrowed.items if (k := key(text)) is not None]
    if not keyed:
        return Choice(NO_CANDIDATE, f"no tag matches {policy.tags} ({narrowed.listed} tags listed)")
    best_key, best_tag = _best(keyed, current.tag)
    text = narrowed.text_of(current.tag) if current.tag else None
    now = key(text) if text is not None else None
    shown = f"highest {policy.strategy} version {best_key}, {len(keyed)} of {narrowed.listed} tags match"
    return _compare(best_key, best_tag, now, current, shown)


def choose_newest_build(
    policy: UpdatePolicy, narrowed: Narrowed, current: Current, facts: Facts, image: ImageRef
) -> Choice:
    keyed = [
        (created, tag) for tag, _ in narrowed.items if (created := facts.created(image, tag)) is not None
    ]
    if not keyed:
        return Choice(NO_CANDIDATE, f"no tag with a build time ({narrowed.listed} tags listed)")
    best_key, best_tag = _best(keyed, current.tag)
    now = facts.created(image, current.tag) if current.tag else None
    shown = f"newest build, created {best_key.isoformat()}"
    if best_tag == current.tag:
        return Choice(CURRENT, f"{current.tag} is the newest build", current.tag, current.digest)
    return _compare(best_key, best_tag, now, current, shown)


def choose_digest(policy: UpdatePolicy, current: Current, facts: Facts, image: ImageRef) -> Choice:
    tag = policy.tag or "latest"
    digest = facts.digest(image, tag)
    if digest is None:
        return Choice(NO_CANDIDATE, f"tag {tag} does not exist in the registry")
    if current.digest == digest:
        return Choice(CURRENT, f"{tag} still points at {short(digest)}", current.tag, current.digest)
    was = f" (was {short(current.digest)})" if current.digest else " (not pinned yet)"
    return Choice(UPDATE, f"{tag} points at {short(digest)}{was}", tag, digest)


class Chooser:
    """Choices for many apps and environments over one run's registry facts; the narrowed tag lists are
    computed once per repository and filter."""

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self._narrowed: dict[tuple[str, str | None, tuple[str, ...]], Narrowed] = {}

    def choose(self, policy: UpdatePolicy, current: Current, image: ImageRef, *, pin: bool = False) -> Choice:
        """The choice for one app in one environment; with ``pin`` (its files pin digests) a new tag
        comes with its digest, so the files keep pinning."""
        if policy.strategy == "digest":
            return choose_digest(policy, current, self.facts, image)
        key = (image.canonical_name, policy.tags, policy.ignore)
        narrowed = self._narrowed.get(key)
        if narrowed is None:
            narrowed = self._narrowed[key] = Narrowed(policy, self.facts.tags(image))
        choice = _by_strategy(policy, narrowed, current, self.facts, image)
        if pin and choice.moves and choice.tag and choice.digest is None:
            digest = self.facts.digest(image, choice.tag)
            if digest is None:
                return Choice(NO_CANDIDATE, f"{choice.tag} was listed but has no manifest")
            return Choice(choice.status, f"{choice.why}; pinned to {short(digest)}", choice.tag, digest)
        return choice


def _by_strategy(
    policy: UpdatePolicy, narrowed: Narrowed, current: Current, facts: Facts, image: ImageRef
) -> Choice:
    if policy.strategy == "semver":
        return choose_semver(policy, narrowed, current)
    if policy.strategy == "newest-build":
        return choose_newest_build(policy, narrowed, current, facts, image)
    return choose_ordered(policy, narrowed, current)

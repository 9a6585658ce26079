"""The choice of ``update``'s strategies over a fixed set of registry facts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import pytest

from promoter.config import UpdatePolicy
from promoter.imageref import ImageRef
from promoter.workflows.update.strategies import (
    CURRENT,
    NEWER_DEPLOYED,
    NO_CANDIDATE,
    UPDATE,
    Chooser,
    Current,
)
from promoter.workflows.update.versions import parse_semver, range_problem

IMAGE = ImageRef.parse("registry.example.com/acme/api")
T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


class FakeFacts:
    def __init__(
        self,
        tags: Sequence[str],
        digests: dict[str, str] | None = None,
        created: dict[str, datetime] | None = None,
    ) -> None:
        self._tags = list(tags)
        self._digests = digests or {}
        self._created = created or {}
        self.asked: list[str] = []

    def tags(self, image: ImageRef) -> Sequence[str]:
        self.asked.append("tags")
        return self._tags

    def digest(self, image: ImageRef, tag: str) -> str | None:
        return self._digests.get(tag)

    def created(self, image: ImageRef, tag: str) -> datetime | None:
        return self._created.get(tag)


TAGS = [
    "1.9", "1.10", "1.9.1", "1.10.0", "1.10.1-rc.1", "1.11.0-rc.1", "1.11.0-rc.2", "2.0.0", "2.0.0-beta.1",
    "1.10.0_build.2", "1.10.0_build.10", "latest", "main-3f2a1b", "v1.8.0", "2024-06-27", "1.10.01",
]  # fmt: skip


def pick(policy: UpdatePolicy, current: str | None, tags: Sequence[str] = TAGS, **facts: object):
    chooser = Chooser(FakeFacts(tags, **facts))  # type: ignore[arg-type]
    return chooser.choose(policy, Current(current), IMAGE)


@pytest.mark.parametrize(
    ("constraint", "current", "status", "tag"),
    [
        ("^1.2", "1.9", UPDATE, "1.10.0_build.10"),  # 1.10 > 1.9; the newest build of 1.10.0
        ("~1.9.0", "1.9", UPDATE, "1.9.1"),
        ("~1.9.0", "1.9.1", CURRENT, "1.9.1"),
        ("<1.10", "1.8.0", UPDATE, "1.9.1"),
        ("*", "1.9", UPDATE, "2.0.0"),
        (">=1.11.0-rc.0 <2", "1.10.0", UPDATE, "1.11.0-rc.2"),  # a range naming a pre-release
        ("^1.2", "1.11.0-rc.1", NEWER_DEPLOYED, "1.11.0-rc.1"),  # hand-deployed rc stays
        ("^1.10.1-rc.0", "1.10.0", UPDATE, "1.10.1-rc.1"),
        (">=3", "1.9", NO_CANDIDATE, None),
        ("^1.2", "latest", UPDATE, "1.10.0_build.10"),  # a current tag that is no version is replaced
        ("^1.2", None, UPDATE, "1.10.0_build.10"),
    ],
)
def test_semver(constraint: str, current: str | None, status: str, tag: str | None) -> None:
    choice = pick(UpdatePolicy(strategy="semver", constraint=constraint), current)
    assert (choice.status, choice.tag) == (status, tag)


def test_semver_prereleases_only_when_the_range_names_one() -> None:
    tags = ["1.2.0", "1.3.0-rc.1", "2.0.0-rc.1"]
    assert pick(UpdatePolicy(constraint="^1.2"), "1.2.0", tags).status == CURRENT
    assert pick(UpdatePolicy(constraint="*"), "1.2.0", tags).status == CURRENT
    assert pick(UpdatePolicy(constraint=">=1.3.0-rc.0"), "1.2.0", tags).tag == "1.3.0-rc.1"


def test_semver_equal_versions_keep_the_current_spelling() -> None:
    assert pick(UpdatePolicy(constraint="^1.27"), "1.27", ["1.27", "1.27.0"]).status == CURRENT
    assert pick(UpdatePolicy(constraint="^1.27"), None, ["1.27", "1.27.0"]).tag == "1.27.0"


def test_semver_ignore_and_tag_filter_with_a_version_group() -> None:
    tags = ["api-1.2.0", "api-1.3.0", "web-9.0.0", "api-1.4.0-rc.1", "api-1.3.1"]
    policy = UpdatePolicy(constraint="^1", tags=r"^api-(?P<version>.+)$", ignore=("api-1.3.1", "*-rc*"))
    choice = pick(policy, "api-1.2.0", tags)
    assert (choice.status, choice.tag) == (UPDATE, "api-1.3.0")
    assert "highest in ^1" in choice.why


def test_digest_pins_what_the_moving_tag_points_at() -> None:
    digests = {"latest": "sha256:" + "a" * 64}
    policy = UpdatePolicy(strategy="digest", tag="latest")
    chooser = Chooser(FakeFacts([], digests=digests))
    first = chooser.choose(policy, Current("latest"), IMAGE)
    assert (first.status, first.tag, first.digest) == (UPDATE, "latest", digests["latest"])
    assert "not pinned yet" in first.why
    again = chooser.choose(policy, Current("latest", digests["latest"]), IMAGE)
    assert again.status == CURRENT
    moved = chooser.choose(policy, Current("latest", "sha256:" + "b" * 64), IMAGE)
    assert moved.status == UPDATE and "was sha256:bbbbbbbbbbbb" in moved.why
    missing = chooser.choose(UpdatePolicy(strategy="digest", tag="stable"), Current("latest"), IMAGE)
    assert missing.status == NO_CANDIDATE


def test_newest_build_by_created_time() -> None:
    created = {"main-1": T0, "main-3": T0 + timedelta(hours=2), "main-2": T0 + timedelta(hours=1)}
    policy = UpdatePolicy(strategy="newest-build", tags="^main-")
    choice = pick(policy, "main-1", ["main-1", "main-2", "main-3", "latest"], created=created)
    assert (choice.status, choice.tag) == (UPDATE, "main-3")
    newer = dict(created, **{"hotfix": T0 + timedelta(days=1)})
    held = pick(policy, "hotfix", ["main-1", "main-3", "hotfix"], created=newer)
    assert held.status == NEWER_DEPLOYED


@pytest.mark.parametrize(
    ("strategy", "tags", "current", "expected"),
    [
        ("numerical", ["main-abc-9", "main-abc-10", "main-def-2"], "main-abc-9", "main-abc-10"),
        ("alphabetical", ["main-abc-9", "main-abc-10", "main-def-2"], "main-abc-10", "main-abc-9"),
        ("alphabetical", ["build-20240101", "build-20241231"], "build-20240101", "build-20241231"),
    ],
)
def test_ordered_by_the_version_group(strategy: str, tags: list[str], current: str, expected: str) -> None:
    pattern = (
        r"^main-[a-f0-9]+-(?P<version>\d+)$" if tags[0].startswith("main") else r"^build-(?P<version>\d+)$"
    )
    choice = pick(UpdatePolicy(strategy=strategy, tags=pattern), current, tags)  # type: ignore[arg-type]
    assert (choice.status, choice.tag) == (UPDATE, expected)


def test_numerical_never_moves_back_and_skips_non_numbers() -> None:
    policy = UpdatePolicy(strategy="numerical", tags=r"^b(?P<version>.+)$")
    assert pick(policy, "b12", ["b9", "b10", "bx"]).status == NEWER_DEPLOYED
    assert pick(policy, "b10", ["b9", "b10", "bNaN"]).status == CURRENT


def test_the_narrowed_list_is_shared_per_repository_and_filter() -> None:
    facts = FakeFacts(TAGS)
    chooser = Chooser(facts)  # type: ignore[arg-type]
    for current in ("1.9", "1.10", "2.0.0"):
        chooser.choose(UpdatePolicy(constraint="*"), Current(current), IMAGE)
    chooser.choose(UpdatePolicy(constraint="*", ignore=("latest",)), Current(None), IMAGE)
    assert facts.asked == ["tags", "tags"]


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("1.10", (1, 10, 0)),
        ("v2", (2, 0, 0)),
        ("1.2.3_build.5", (1, 2, 3)),
        ("1.2.3+build.5", (1, 2, 3)),
        ("1.2.3-rc.01", None),
        ("01.2.3", None),
        ("latest", None),
        ("1.2.3.4", None),
    ],
)
def test_tags_read_as_versions(tag: str, expected: tuple[int, int, int] | None) -> None:
    found = parse_semver(tag)
    assert (
        None if found is None else (found.version.major, found.version.minor, found.version.patch)
    ) == expected


def test_build_metadata_orders_rebuilds_and_precedence_comes_first() -> None:
    order = sorted(
        ["1.2.3_10", "1.2.3", "1.2.3_2", "1.2.4-rc.1", "1.2.3-rc.1"], key=lambda t: parse_semver(t).order
    )  # type: ignore[union-attr]
    assert order == ["1.2.3-rc.1", "1.2.3", "1.2.3_2", "1.2.3_10", "1.2.4-rc.1"]


@pytest.mark.parametrize("constraint", ["^1.2", "~1.2.3", ">=1.2 <2 || 3.x", "*", "1.x", ">=1.2.0-rc.0"])
def test_ranges_accepted(constraint: str) -> None:
    assert range_problem(constraint) is None


@pytest.mark.parametrize("constraint", ["^1.2.x.y", "not a range", ">=a"])
def test_ranges_refused(constraint: str) -> None:
    assert "not an npm-style version range" in (range_problem(constraint) or "")

"""Making the commit and landing it: the seam between a transaction and the identity that writes.

Two small protocols, each replaceable without touching the transaction around them:

* :class:`Committer` turns what is staged, a message and trailers into a commit in the work clone whose
  parent is ``staged.parent``. :class:`GitCommitter` (the default) runs ``git commit`` with the configured
  identity; a signing committer (:mod:`promoter.identity`) adds a signature.
* :class:`Publisher` makes that commit the head of the branch on the remote, or reports a lost race.
  :class:`GitPublisher` (the default) pushes it; an API publisher recreates it through a forge's API
  (GitHub ``createCommitOnBranch``, GitLab's Commits API), which then reports the forge's commit id.

Either may hold resources (a private key directory, a session): ``close()`` is called, when present, as
the repository is closed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from promoter.envrepo.trailers import with_trailers
from promoter.envrepo.transport import Transport
from promoter.envrepo.workclone import WorkClone
from promoter.errors import ConfigError

DEFAULT_AUTHOR = ("promoter", "promoter@localhost")
_AUTHOR = re.compile(r"^\s*([^<>]+?)\s*<([^<>\s]*)>\s*$")


@dataclass(frozen=True)
class StagedChange:
    """What is staged in the work clone's index, ready to become one commit on top of ``parent``."""

    worktree: Path  # the working tree; the staged files are there
    parent: str  # the commit the change was made on
    paths: tuple[str, ...]  # repo paths written or deleted
    diff: str  # the staged diff against ``parent``


class Committer(Protocol):
    def commit(self, staged: StagedChange, message: str, trailers: Mapping[str, str] | None = None) -> str:
        """Create the commit for ``staged``; return its id. ``trailers`` are appended to ``message``."""
        ...


@dataclass(frozen=True)
class Landing:
    """What a publisher is asked to land: ``commit`` (in the work clone) as the new head of ``branch``."""

    branch: str
    commit: str  # made by the committer on top of ``staged.parent``
    staged: StagedChange
    seen: str | None  # the branch's head when the attempt began (None: the branch does not exist)
    replace: bool  # an approval branch rebuilt from its base: replace it while it is still at ``seen``


class Publisher(Protocol):
    def publish(self, landing: Landing) -> str | None:
        """Land ``landing.commit`` on the remote; return the id of the branch's new head, or None when the
        branch moved meanwhile (a lost race: the transaction runs the edit again on the new head)."""
        ...


class GitPublisher:
    """``git push`` (with a lease when replacing an approval branch)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def publish(self, landing: Landing) -> str | None:
        lease = landing.seen if landing.replace else None
        pushed = self.transport.push(landing.branch, landing.commit, lease=lease, use_lease=landing.replace)
        return landing.commit if pushed else None


def close_part(part: object) -> None:
    """Call ``part.close()`` when the part has one (committers and publishers may hold resources)."""
    closer = getattr(part, "close", None)
    if callable(closer):
        closer()


class GitCommitter:
    """``git commit`` in the work clone, as ``author`` (else git's usual identity, else a fixed one)."""

    def __init__(self, clone: WorkClone, author: str | None = None) -> None:
        self.clone = clone
        self.author = parse_author(author)
        self._ident: dict[str, str] | None = None

    def commit(self, staged: StagedChange, message: str, trailers: Mapping[str, str] | None = None) -> str:
        text = with_trailers(message, trailers) if trailers else message
        path = self.clone.gitdir / "PROMOTER_COMMIT_MSG"
        path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        self.run_commit("--file", str(path))
        return self.clone.resolve("HEAD")

    def run_commit(self, *args: str) -> None:
        """``git commit ARGS`` as the configured identity (a signing committer adds its options here)."""
        self.clone.git("commit", "--quiet", "--no-verify", "--cleanup=whitespace", *args, env=self.identity())

    def identity(self) -> dict[str, str]:
        """Author and committer as ``GIT_AUTHOR_*`` / ``GIT_COMMITTER_*`` variables (found once)."""
        if self._ident is None:
            self._ident = self._find_identity()
        return self._ident

    def _find_identity(self) -> dict[str, str]:
        if self.author is not None:
            name, email = self.author
            return {
                "GIT_AUTHOR_NAME": name,
                "GIT_AUTHOR_EMAIL": email,
                "GIT_COMMITTER_NAME": name,
                "GIT_COMMITTER_EMAIL": email,
            }
        env = {**os.environ, **self.clone.env}
        name = env.get("GIT_AUTHOR_NAME") or self.clone.config("user.name") or DEFAULT_AUTHOR[0]
        email = env.get("GIT_AUTHOR_EMAIL") or self.clone.config("user.email") or DEFAULT_AUTHOR[1]
        return {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": env.get("GIT_COMMITTER_NAME") or name,
            "GIT_COMMITTER_EMAIL": env.get("GIT_COMMITTER_EMAIL") or email,
        }


def parse_author(author: str | None) -> tuple[str, str] | None:
    """``"Name <email>"`` -> (name, email); None stays None."""
    if author is None:
        return None
    found = _AUTHOR.match(author)
    if not found:
        raise ConfigError(f"invalid commit author {author!r}", hint='write it as "Name <email>"')
    return found.group(1), found.group(2)

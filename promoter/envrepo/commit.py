"""Making the commit: the one step that turns a staged change, a message and trailers into a commit.

:class:`Committer` is the seam. :class:`GitCommitter` (the default) runs ``git commit`` in the work clone
with the configured identity; another committer (signed commits, commits created through a forge's API)
replaces it without touching the transaction around it: it receives what is staged and returns the id of
a commit that exists in the work clone and whose parent is ``staged.parent``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from promoter.envrepo.trailers import with_trailers
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
        self.clone.git(
            "commit",
            "--quiet",
            "--no-verify",
            "--cleanup=whitespace",
            "--file",
            str(path),
            env=self.identity(),
        )
        return self.clone.resolve("HEAD")

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

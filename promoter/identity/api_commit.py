"""Commits created by the forge (``git.commit_via: api``): verified commits without a signing key.

The edit still runs in the partial clone and is committed there (unsigned, never pushed); the publisher
sends exactly that commit's changes to the forge, which creates (and signs) its own commit:

* GitHub: GraphQL ``createCommitOnBranch`` with ``expectedHeadOid`` = the head the edit started from.
  GitHub refuses it (``STALE_DATA``) when the branch moved: a lost race, so the transaction fetches the
  new head and runs the edit again, exactly as after a rejected push. A branch that does not exist yet is
  created at the start point first (``POST /git/refs``; "already exists" is a lost race too); an approval
  branch rebuilt from its base is pointed back at the base (``PATCH /git/refs``) and committed on.
* GitLab: ``POST /projects/:id/repository/commits`` with one action per file. Every updated or deleted
  file carries ``last_commit_id``, the commit that last changed it as of the start point (GitLab's
  ``X-Gitlab-Last-Commit-Id``), and a created file must not exist: GitLab refuses the commit when any of
  them changed meanwhile, which is again a lost race. A new branch starts at ``start_sha``; an approval
  branch is replaced (``force``) with a commit on its base.

The commit message, trailers included, is the one the git path writes. The forge chooses author and
committer (the token's owner), so ``git.author`` applies to the git path only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from promoter.envrepo import Landing, WorkClone
from promoter.errors import InputError

LOG = logging.getLogger("promoter.identity")

_REGULAR = ("100644", "100755")


@dataclass(frozen=True)
class FileChange:
    path: str
    status: str  # "A" added, "M" modified, "D" deleted
    content: bytes | None  # None when deleted


def changed_files(clone: WorkClone, parent: str, commit: str) -> list[FileChange]:
    """What ``commit`` changes against ``parent``: each file with its new content (blobs are local)."""
    out = clone.git("diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", parent, commit)
    fields = out.split("\0")
    entries: list[tuple[str, str, str]] = []
    for meta, path in zip(fields[0::2], fields[1::2]):
        if not meta.startswith(":"):
            continue
        _old_mode, new_mode, _old, new, status = meta[1:].split()
        if status != "D" and new_mode not in _REGULAR:
            raise InputError(
                f"{path} would become a {'symbolic link' if new_mode == '120000' else 'special entry'}, "
                "which a forge's commit API cannot write",
                where=path,
                hint="use git.commit_via: git for this repository",
            )
        entries.append((path, status[0], new))
    blobs = clone.blobs([oid for _path, status, oid in entries if status != "D"])
    return [FileChange(path, status, None if status == "D" else blobs[oid]) for path, status, oid in entries]


def message_of(clone: WorkClone, commit: str) -> str:
    """The full message of a local commit, exactly as the git path would publish it."""
    raw = clone.git("cat-file", "commit", commit)
    return raw.split("\n\n", 1)[1] if "\n\n" in raw else ""


class GitHubCommits(Protocol):
    def create_branch(self, branch: str, sha: str) -> bool: ...

    def move_branch(self, branch: str, sha: str) -> None: ...

    def create_commit_on_branch(
        self, branch: str, expected_head: str, message: str, additions: Any, deletions: Any
    ) -> str | None: ...


class GitLabCommits(Protocol):
    def last_commit_of(self, path: str, ref: str) -> str | None: ...

    def create_commit(self, payload: dict[str, Any]) -> str | None: ...


class GitHubPublisher:
    """Lands a commit through ``createCommitOnBranch`` (see the module docstring)."""

    def __init__(self, forge: Callable[[], GitHubCommits], clone: WorkClone) -> None:
        self._forge = forge
        self.clone = clone

    def publish(self, landing: Landing) -> str | None:
        forge = self._forge()
        base = landing.staged.parent
        files = changed_files(self.clone, base, landing.commit)
        message = message_of(self.clone, landing.commit)
        if landing.seen is None:
            if not forge.create_branch(landing.branch, base):
                return None
        elif landing.replace and landing.seen != base:
            forge.move_branch(landing.branch, base)  # the approval branch, rebuilt from its base
        additions = [(change.path, change.content) for change in files if change.content is not None]
        deletions = [change.path for change in files if change.content is None]
        landed = forge.create_commit_on_branch(landing.branch, base, message, additions, deletions)
        if landed is None:
            LOG.debug("%s moved while GitHub created the commit", landing.branch)
        return landed


class GitLabPublisher:
    """Lands a commit through the Commits API (see the module docstring)."""

    def __init__(self, forge: Callable[[], GitLabCommits], clone: WorkClone) -> None:
        self._forge = forge
        self.clone = clone

    def publish(self, landing: Landing) -> str | None:
        forge = self._forge()
        base = landing.staged.parent
        files = changed_files(self.clone, base, landing.commit)
        payload: dict[str, Any] = {
            "branch": landing.branch,
            "commit_message": message_of(self.clone, landing.commit),
        }
        check = not landing.replace  # a replaced branch starts at ``base`` itself: nothing can move under it
        if landing.replace:
            payload.update(start_sha=base, force=True)
        elif landing.seen is None:
            payload["start_sha"] = base
        actions: list[dict[str, Any]] = []
        for change in files:
            action: dict[str, Any] = {"file_path": change.path}
            if change.content is None:
                action["action"] = "delete"
            else:
                action["action"] = "create" if change.status == "A" else "update"
                action.update(encoding="base64", content=_base64(change.content))
            if check and action["action"] != "create":
                last = forge.last_commit_of(change.path, base)
                if last is not None:
                    action["last_commit_id"] = last
            actions.append(action)
        payload["actions"] = actions
        landed = forge.create_commit(payload)
        if landed is None:
            LOG.debug("%s or one of its files changed while GitLab created the commit", landing.branch)
        return landed


def _base64(content: bytes) -> str:
    from base64 import b64encode

    return b64encode(content).decode("ascii")

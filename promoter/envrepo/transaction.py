"""Optimistic concurrency on one branch: fetch the newest head, edit, commit, publish; on a lost race, again.

Publishing is a push by default, or a forge API call (:class:`promoter.envrepo.commit.Publisher`).

A push rejected because the branch moved meanwhile is answered by fetching the new head, checking it out
and running ``edit`` again: never a rebase, never a force push on an environment branch. Only
``promoter/*`` approval branches may be replaced, and only with a lease on the head we saw.

An edit gets the working tree checked out at the start point (a :class:`~pathlib.Path`), or, with
``in_memory``, a :class:`~promoter.envrepo.blobtree.BlobTree` of it: the same files read from git's object
store, its writes staged as blobs without a checkout (cheaper for edits of many files).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from promoter import masking
from promoter.envrepo.blobtree import BlobTree
from promoter.envrepo.commit import Committer, GitPublisher, Landing, Publisher, StagedChange
from promoter.envrepo.names import APPROVAL_PREFIX, require_approval_branch, validate_branch_name
from promoter.envrepo.retry import BUDGET_VARIABLE, DEFAULT_BUDGET, backoff
from promoter.envrepo.transport import Transport
from promoter.envrepo.workclone import WorkClone
from promoter.errors import ConcurrencyError, GitError

LOG = logging.getLogger("promoter.envrepo")


@dataclass
class ChangeSet:
    """What an edit did. ``paths`` are repo-relative files written or deleted; empty means no commit."""

    changes: list[Any] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.paths)


@dataclass
class TransactionResult:
    status: str  # "changed" | "unchanged" | "dry-run" ("lost-race" only inside a transaction)
    branch: str
    commit: str | None
    base_commit: str | None
    attempts: int
    diff: str
    message: str
    changes: list[Any]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["changes"] = [str(change) for change in self.changes]
        return data


Edit = Callable[[Any], ChangeSet]  # called with a working tree (Path), or a BlobTree when ``in_memory``
MessageSource = str | Callable[[ChangeSet], str]


@dataclass(frozen=True)
class _Request:
    branch: str
    edit: Edit
    message: MessageSource
    base: str | None
    force_with_lease: bool
    create: bool
    dry_run: bool
    in_memory: bool


class Transaction:
    """Runs edits as transactions on the remote through one work clone.

    Lost races are retried for ``budget`` seconds (:mod:`promoter.envrepo.retry`), or ``max_attempts``
    attempts when a caller gives that bound.
    """

    def __init__(
        self,
        clone: WorkClone,
        transport: Transport,
        committer: Committer,
        *,
        publisher: Publisher | None = None,
        budget: float = DEFAULT_BUDGET,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.clone = clone
        self.transport = transport
        self.committer = committer
        self.publisher: Publisher = publisher if publisher is not None else GitPublisher(transport)
        self.budget = budget
        self._sleep = sleep

    def run(
        self,
        branch: str,
        edit: Edit,
        message: MessageSource,
        *,
        base: str | None = None,
        force_with_lease: bool = False,
        create: bool = False,
        dry_run: bool = False,
        max_attempts: int | None = None,
        in_memory: bool = False,
    ) -> TransactionResult:
        """See :meth:`promoter.envrepo.EnvRepo.transaction`."""
        validate_branch_name(branch)
        if base is not None:
            validate_branch_name(base)
        if force_with_lease:
            require_approval_branch(
                branch, "force-push", f"only {APPROVAL_PREFIX}* approval branches may be rewritten"
            )
        if max_attempts is not None and max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        request = _Request(branch, edit, message, base, force_with_lease, create, dry_run, in_memory)
        started = time.monotonic()
        previous: TransactionResult | None = None  # the last attempt's commit, pushed but reported lost
        attempt = 0
        while True:
            attempt += 1
            began = time.monotonic()
            outcome, final = self._attempt(request, previous)
            if final:
                outcome.attempts = attempt
                LOG.debug("%s on %s after %d attempt(s)", outcome.status, branch, attempt)
                return outcome
            previous = outcome
            remaining = self.budget - (time.monotonic() - started)
            if (max_attempts is not None and attempt >= max_attempts) or remaining <= 0:
                break
            delay = min(backoff(attempt, time.monotonic() - began), remaining)
            LOG.info(
                "%s moved while we pushed (attempt %d); retrying on its new head in %.2f s",
                branch,
                attempt,
                delay,
            )
            self._sleep(delay)
        elapsed = time.monotonic() - started
        raise ConcurrencyError(
            f"gave up pushing to {branch} after {attempt} attempt{'s' if attempt > 1 else ''} in "
            f"{elapsed:.0f} s: it kept moving",
            where=masking.mask(self.clone.remote.url),
            hint=(
                f"other pipelines are updating the same branch; run the job again, or give it more time "
                f"with {BUDGET_VARIABLE} (seconds, now {self.budget:g})"
            ),
            attempts=attempt,
        )

    def _attempt(
        self, request: _Request, previous: TransactionResult | None
    ) -> tuple[TransactionResult, bool]:
        """One fetch -> edit -> commit -> push: (result, final); not final when the push lost a race."""
        branch, lease = request.branch, request.force_with_lease
        target = self.transport.fetch(branch)
        if previous is not None and target is not None and target == previous.commit:
            # the push was reported rejected (its answer lost, a retry of it refused), yet it landed
            LOG.warning("%s holds %s, whose push was reported as failed: it landed", branch, target[:12])
            previous.status = "changed"
            return previous, True
        start = self._start_point(branch, target, request.base, lease, request.create)
        if request.in_memory:
            wanted = self.clone.sparse or ()
            tree = BlobTree(self.clone, start, fetch=self.transport.fetch_blobs, label=branch, preload=wanted)
            changes = _checked(request.edit(tree))
            diff = tree.stage(changes.paths) if changes else ""
        else:
            self.clone.checkout(start)
            self._refuse_hidden_links(start, branch)
            changes = _checked(request.edit(self.clone.root))
            diff = self.clone.stage(changes.paths) if changes else ""
        text = request.message(changes) if callable(request.message) else request.message

        def result(status: str, commit: str | None, shown: str) -> TransactionResult:
            return TransactionResult(status, branch, commit, start, 0, shown, text, changes.changes)

        if not diff:
            return result("unchanged", None, ""), True
        if request.dry_run:
            return result("dry-run", None, diff), True
        staged = StagedChange(self.clone.root, start, tuple(changes.paths), diff)
        commit = self.committer.commit(staged, text)
        if lease and target is not None and self._same_change(target, commit, start):
            # the approval branch already holds this very change on this very base: no churn
            return result("unchanged", target, diff), True
        landed = self.publisher.publish(Landing(branch, commit, staged, target, lease))
        return result("changed" if landed else "lost-race", landed or commit, diff), landed is not None

    def _refuse_hidden_links(self, start: str, branch: str) -> None:
        """A sparse checkout leaves a linked directory above a wanted path out of the working tree, where the
        edit cannot see it: the wanted path is then absent. Ask git about absent paths only (a path present on
        disk has no link above it; a link at the path itself is checked out and refused by the edit)."""
        if not self.clone.sparse:
            return
        root = self.clone.root
        absent = [path for path in self.clone.sparse if path and not os.path.lexists(root / path)]
        if absent:
            self.clone.refuse_links(start, absent, label=branch)

    def _start_point(
        self, branch: str, target: str | None, base: str | None, lease: bool, create: bool
    ) -> str:
        if lease and base is not None:
            return self._fetch_base(base)
        if target is not None:
            return target
        if not create:
            raise GitError(
                f"branch {branch} does not exist in the environment repository",
                where=self.transport.where,
                hint="check the branch name, or create the branch first",
            )
        return self._fetch_base(base or self.transport.default_branch())

    def _fetch_base(self, base: str) -> str:
        sha = self.transport.fetch(base)
        if sha is None:
            raise GitError(
                f"base branch {base} does not exist in the environment repository",
                where=self.transport.where,
            )
        return sha

    def _same_change(self, current: str, commit: str, start: str) -> bool:
        """True when the approval branch already holds this exact change on this exact base."""
        raw = self.clone.git("cat-file", "commit", current)
        parents = [line[7:].strip() for line in raw.splitlines() if line.startswith("parent ")]
        if parents != [start]:
            return False
        trees = self.clone.git("rev-parse", f"{current}^{{tree}}", f"{commit}^{{tree}}").split()
        return len(trees) == 2 and trees[0] == trees[1]


def _checked(changes: object) -> ChangeSet:
    if not isinstance(changes, ChangeSet):
        raise TypeError("edit must return a ChangeSet")
    return changes

"""Is the revision an operator reports the pushed commit, or a later one that contains it?

Another pipeline may push to the environment right after this one; the operator then deploys that newer
commit, which carries this change too, and the wait counts it as done. The answer comes from the env
repo's history, read-only (:meth:`promoter.envrepo.EnvRepo.contains`: a commits-only fetch of the branch,
deepened until both commits are found). Each reported revision is looked up once and remembered, so
polling stays one operator call per poll; the git fetch happens only when a new revision shows up.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from promoter import masking
from promoter.errors import GitError
from promoter.observe.model import Match

if TYPE_CHECKING:
    from promoter.envrepo import EnvRepo

LOG = logging.getLogger("promoter.observe")
_HEX = re.compile(r"[0-9a-f]{7,64}")


class Ancestry:
    """Answers :meth:`match` for one pushed ``revision`` on ``branch`` of the env repo."""

    def __init__(
        self, revision: str | None, *, branch: str | None = None, repo: EnvRepo | None = None
    ) -> None:
        self.revision = revision.lower() if revision else None
        self.branch = branch
        self.repo = repo
        self._known: dict[str, Match] = {}
        self._warned = False
        self.lookups = 0

    def match(self, observed: str) -> Match:
        if self.revision is None:
            return "current"
        seen = observed.strip().lower()
        if seen == self.revision or (len(seen) >= 7 and self.revision.startswith(seen)):
            return "current"
        if not _HEX.fullmatch(seen):
            return "other"  # a chart version or tag in a multi-source app, not a commit
        if seen in self._known:
            return self._known[seen]
        if self.repo is None or self.branch is None:
            return "other"
        self.lookups += 1
        try:
            found: Match = "current" if self.repo.contains(self.branch, self.revision, seen) else "other"
        except GitError as exc:
            if not self._warned:
                self._warned = True
                LOG.warning(
                    "cannot tell whether %s contains %s: %s",
                    seen[:12],
                    self.revision[:12],
                    masking.mask(str(exc)),
                )
            return "unknown"
        self._known[seen] = found
        return found

    def any_current(self, revisions: tuple[str, ...]) -> bool:
        return any(self.match(revision) == "current" for revision in revisions)

"""The forge contract: what promoter asks of GitLab, GitHub (or plain git), named by intent.

Workflows talk to a :class:`Forge` only; they never import python-gitlab or PyGithub. A "request" is a
GitLab merge request or a GitHub pull request; its ``number`` is the per-project number users see
(GitLab ``iid``, GitHub ``number``).

Every implementation guarantees:

* failures surface as :class:`promoter.errors.ForgeError` (exit 1) with ``where`` (server and project) and
  a ``hint``; no library exception escapes, and the token never appears in any message;
* 429 and 5xx answers are retried a few times with exponential backoff honouring ``Retry-After``;
* list operations follow every page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

ForgeType = Literal["gitlab", "github", "none"]
RequestState = Literal["open", "closed", "merged"]
#: ``get_request_state`` adds ``"gone"``: the request does not exist (HTTP 404).
LookupState = Literal["open", "closed", "merged", "gone"]
#: What :meth:`Forge.open_or_update_request` did.
Outcome = Literal["created", "updated", "unchanged"]
#: Commit status states accepted by :meth:`Forge.commit_status` (mapped to each forge's vocabulary).
CommitState = Literal["pending", "running", "success", "failed", "canceled"]

FORGE_TYPES: tuple[str, ...] = ("gitlab", "github", "none")
COMMIT_STATES: tuple[str, ...] = ("pending", "running", "success", "failed", "canceled")


@dataclass(frozen=True)
class ForgeSettings:
    """The ``forge:`` block of promoter.yaml. ``url`` and ``project`` default from the CI context."""

    type: str = "none"
    url: str | None = None
    project: str | None = None
    #: GitHub App authentication (GitHub only): the app, and its installation (else looked up)
    app_id: int | None = None
    installation_id: int | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, object] | None) -> ForgeSettings:
        data = data or {}
        url, project = data.get("url"), data.get("project")
        app_id, installation_id = data.get("app_id"), data.get("installation_id")
        return cls(
            type=str(data.get("type") or "none"),
            url=str(url) if url else None,
            project=str(project) if project else None,
            app_id=int(str(app_id)) if app_id else None,
            installation_id=int(str(installation_id)) if installation_id else None,
        )


@dataclass(frozen=True)
class Request:
    """A merge request (GitLab) or pull request (GitHub), as promoter needs to see it."""

    number: int
    url: str
    title: str
    body: str
    source_branch: str
    target_branch: str
    state: RequestState
    labels: tuple[str, ...] = ()
    author: str | None = None
    updated_at: str | None = None
    #: head commit of the source branch, when the forge reported it
    sha: str | None = None
    draft: bool = False
    #: forge-specific extras kept for callers that need them (never credentials)
    extra: Mapping[str, object] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class CommitStatus:
    """One status on a commit, latest per context, in :data:`CommitState` words (GitHub ``failure`` and
    ``error`` read as "failed"; GitLab ``created``/``manual`` as "pending", ``skipped`` as "canceled")."""

    context: str
    state: str
    description: str = ""
    target_url: str | None = None
    #: when the forge last changed it (ISO 8601 as the forge wrote it), when it says so
    updated_at: str | None = None


@runtime_checkable
class Forge(Protocol):
    """Operations promoter needs from a code forge. See the module docstring for shared guarantees."""

    #: "gitlab", "github" or "none"
    kind: str
    #: the project ("group/sub/project", "owner/repo"); "" for the none forge
    project: str

    def find_open_request(self, source: str, target: str) -> Request | None:
        """The open request from ``source`` into ``target`` (same project), or None."""
        ...

    def open_or_update_request(
        self,
        source: str,
        target: str,
        title: str,
        body: str,
        *,
        labels: Iterable[str] = (),
        reviewers: Iterable[str] = (),
        assignees: Iterable[str] = (),
        draft: bool = False,
    ) -> tuple[Request, Outcome]:
        """Keep exactly one open request for ``source`` -> ``target``.

        Creates it (with labels, reviewers, assignees, draft) when none is open; otherwise updates its
        title and body in place and adds missing ``labels`` (labels humans added stay; reviewers, assignees
        and the draft flag are left as people set them). Returns the request and "created", "updated" or
        "unchanged".
        """
        ...

    def close_request(self, number: int, comment: str | None = None) -> None:
        """Close the request, first posting ``comment`` when given. Closing a closed request is a no-op."""
        ...

    def comment(self, number: int, body: str) -> None:
        """Post a comment (GitLab note, GitHub issue comment)."""
        ...

    def set_labels(self, number: int, labels: Iterable[str]) -> None:
        """Replace the request's labels with exactly ``labels``."""
        ...

    def request_reviewers(self, number: int, reviewers: Iterable[str]) -> None:
        """Ask these users (GitHub also "org/team") to review; existing reviewers are kept."""
        ...

    def enable_auto_merge(self, number: int) -> None:
        """Merge automatically once the pipeline/checks succeed (see each implementation for details)."""
        ...

    def list_open_requests(
        self, *, source_prefix: str | None = None, target: str | None = None
    ) -> list[Request]:
        """Every open request (all pages), optionally only those whose source branch starts with
        ``source_prefix`` (same-project branches only) and/or that target ``target``."""
        ...

    def get_request_state(self, number: int) -> LookupState:
        """ "open", "closed", "merged", or "gone" when the request does not exist."""
        ...

    def list_request_states(self, numbers: Iterable[int]) -> dict[int, LookupState]:
        """States of many requests with few calls: one paginated listing of the open ones, then batched
        look-ups for the rest only. Numbers that do not exist map to "gone"."""
        ...

    def commit_status(
        self,
        sha: str,
        state: CommitState,
        *,
        context: str,
        description: str,
        target_url: str | None = None,
    ) -> None:
        """Set a commit status (GitLab pipeline-external status, GitHub commit status)."""
        ...

    def commit_statuses(self, sha: str) -> list[CommitStatus]:
        """The newest status of every context on ``sha`` (one call for up to 100 contexts)."""
        ...

    def compare_url(self, base: str, head: str) -> str | None:
        """Web URL comparing two refs of the project; None when there is no forge (type none)."""
        ...

    def request_url(self, number: int) -> str | None:
        """Web URL of a request; None when there is no forge (type none)."""
        ...


def check_commit_state(state: str) -> str:
    if state not in COMMIT_STATES:
        raise ValueError(f"commit status state must be one of {', '.join(COMMIT_STATES)}, not {state!r}")
    return state


def unique(items: Iterable[str]) -> list[str]:
    """Order-preserving de-duplication that drops empty strings."""
    seen: dict[str, None] = {}
    for item in items:
        if item:
            seen.setdefault(item, None)
    return list(seen)

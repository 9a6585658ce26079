"""The ``none`` forge: plain git, no merge requests.

Without a forge nothing can be reviewed, so every operation that would create or change a request is
refused with :class:`~promoter.errors.ApprovalRequiredError` (exit 4). Workflows should check
``forge.kind == "none"`` before pushing an approval branch and raise :func:`approval_required` with the
environment's name. Questions whose honest answer is "there are none" (``find_open_request``,
``list_open_requests``) answer that, so ``status`` and the promote gate work unchanged. State look-ups
cannot be answered and raise :class:`~promoter.errors.ConfigError`: guessing "gone" would let preview GC
delete environments of requests that may still be open. Commit statuses are skipped; URLs are None.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from promoter.errors import ApprovalRequiredError, ConfigError
from promoter.forge.base import CommitState, CommitStatus, LookupState, Outcome, Request

log = logging.getLogger(__name__)

_HINT = "set forge.type to gitlab or github in promoter.yaml, or remove approval: true from the environment"


def approval_required(environment: str, *, where: str | None = None) -> ApprovalRequiredError:
    """The refusal for an ``approval: true`` environment when the forge type is none."""
    return ApprovalRequiredError(
        f"environment {environment} requires approval but forge type is none", where=where, hint=_HINT
    )


class NoneForge:
    """:class:`promoter.forge.base.Forge` for plain git remotes."""

    kind = "none"
    project = ""

    def _refuse(self, what: str) -> ApprovalRequiredError:
        return ApprovalRequiredError(
            f"{what} requires approval but forge type is none", where="promoter.yaml: forge.type", hint=_HINT
        )

    def find_open_request(self, source: str, target: str) -> Request | None:
        return None

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
        raise self._refuse(f"the environment on branch {target}")

    def close_request(self, number: int, comment: str | None = None) -> None:
        raise self._refuse(f"closing request #{number}")

    def comment(self, number: int, body: str) -> None:
        raise self._refuse(f"commenting on request #{number}")

    def set_labels(self, number: int, labels: Iterable[str]) -> None:
        raise self._refuse(f"labelling request #{number}")

    def request_reviewers(self, number: int, reviewers: Iterable[str]) -> None:
        raise self._refuse(f"requesting review on #{number}")

    def enable_auto_merge(self, number: int) -> None:
        raise self._refuse(f"auto-merge of request #{number}")

    def list_open_requests(
        self, *, source_prefix: str | None = None, target: str | None = None
    ) -> list[Request]:
        return []

    def get_request_state(self, number: int) -> LookupState:
        raise self._unknown_state()

    def list_request_states(self, numbers: Iterable[int]) -> dict[int, LookupState]:
        if not list(numbers):
            return {}
        raise self._unknown_state()

    def _unknown_state(self) -> ConfigError:
        return ConfigError(
            "request states are unknown because forge type is none",
            where="promoter.yaml: forge.type",
            hint="set forge.type to gitlab or github to clean up previews by merge request state",
        )

    def commit_status(
        self,
        sha: str,
        state: CommitState,
        *,
        context: str,
        description: str,
        target_url: str | None = None,
    ) -> None:
        log.debug("forge type is none: commit status %s=%s for %s skipped", context, state, sha)

    def commit_statuses(self, sha: str) -> list[CommitStatus]:
        raise ConfigError(
            "commit statuses cannot be read because forge type is none",
            where="promoter.yaml: forge.type",
            hint="set forge.type to gitlab or github, or observe the deployment another way (deploy.argocd, "
            "deploy.flux, deploy.promoter)",
        )

    def compare_url(self, base: str, head: str) -> str | None:
        return None

    def request_url(self, number: int) -> str | None:
        return None

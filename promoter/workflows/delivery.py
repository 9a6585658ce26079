"""How a change reaches an environment: a direct push, or an approval merge request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promoter.config import Environment
from promoter.envrepo import ChangeSet, EnvRepo, TransactionResult
from promoter.workflows.session import Session

Edit = Callable[[Path], ChangeSet]
Message = Callable[[ChangeSet], str]


@dataclass
class Delivery:
    result: str  # "changed" | "unchanged" | "dry-run" | "mr"
    branch: str
    commit: str | None = None
    attempts: int = 0
    diff: str = ""
    message: str = ""
    request_url: str | None = None
    request_action: str | None = None  # "created" | "updated" | "unchanged" | "closed"

    @classmethod
    def from_transaction(cls, outcome: TransactionResult) -> Delivery:
        return cls(
            result=outcome.status,
            branch=outcome.branch,
            commit=outcome.commit,
            attempts=outcome.attempts,
            diff=outcome.diff,
            message=outcome.message,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "branch": self.branch,
            "commit": self.commit,
            "attempts": self.attempts,
            "diff": self.diff,
            "message": self.message,
            "request_url": self.request_url,
            "request_action": self.request_action,
        }


def deliver(
    session: Session,
    repo: EnvRepo,
    env: Environment,
    edit: Edit,
    message: Message,
    *,
    dry_run: bool,
    review_branch: str,
    review_title: Callable[[], str],
    review_rows: Callable[[], list[dict[str, Any]]],
) -> Delivery:
    """Push ``edit`` to the environment's branch, or (``approval: true``) open or update its request."""
    if env.approval:
        from promoter.workflows.approval import deliver_for_review

        return deliver_for_review(
            session,
            repo,
            env,
            edit,
            message,
            dry_run=dry_run,
            branch=review_branch,
            title=review_title,
            rows=review_rows,
        )
    return Delivery.from_transaction(repo.transaction(env.branch, edit, message, dry_run=dry_run))

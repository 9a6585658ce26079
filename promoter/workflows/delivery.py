"""How a change reaches an environment: a direct push, or an approval merge request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from promoter.config import Environment
from promoter.envrepo import EnvRepo
from promoter.workflows.approval import ReviewContext, deliver_for_review
from promoter.workflows.delivery_result import Delivery, Edit, Message
from promoter.workflows.session import Session


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
    review: ReviewContext | None = None,
    in_memory: bool = False,
) -> Delivery:
    """Push ``edit`` to the environment's branch, or (``approval: true``) open or update its request.

    ``in_memory``: the edit runs on a :class:`~promoter.envrepo.BlobTree` instead of a checkout.
    """
    if env.approval:
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
            review=review,
            in_memory=in_memory,
        )
    return Delivery.from_transaction(
        repo.transaction(env.branch, edit, message, dry_run=dry_run, in_memory=in_memory)
    )

"""``preview down``: delete a request's environment, from the CLI or a webhook delivery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from promoter.envrepo import ChangeSet, with_trailers
from promoter.errors import (
    UsageError,
)
from promoter.safepath import SafeTree
from promoter.workflows.delivery_result import Delivery
from promoter.workflows.preview.common import (
    PreviewOutcome,
    preview_trailers,
    unchanged_delivery,
)
from promoter.workflows.preview.files import (
    PreviewEnv,
    mentions_id,
    scan_worktree,
)
from promoter.workflows.session import Session


def preview_down(
    session: Session, request_id: int | None = None, *, project: str | None = None, dry_run: bool = False
) -> PreviewOutcome:
    """Delete the request's preview file; absent (or no previews branch) is "unchanged"."""
    request_id = request_id if request_id is not None else session.ci.request_id
    if request_id is None:
        raise UsageError("no merge/pull request id", hint="pass --id N")
    project = project if project is not None else session.ci.project
    settings = session.config.previews
    directory = settings.dir.strip("/")
    deleted: list[PreviewEnv] = []
    with session.env_repo([settings.dir]) as repo:
        if repo.head(settings.branch) is None:
            return PreviewOutcome("down", unchanged_delivery(settings.branch), request_id, project or "")

        def edit(worktree: Path) -> ChangeSet:
            deleted.clear()
            tree = SafeTree(worktree, label=settings.branch)
            found = [
                env
                for env in scan_worktree(
                    worktree, directory, keep=mentions_id(request_id), label=settings.branch
                )
                if env.matches(request_id, project)
            ]
            if project is None and len({env.project.casefold() for env in found}) > 1:
                projects = ", ".join(sorted({env.project for env in found}))
                raise UsageError(
                    f"request {request_id} has previews in several projects: {projects}",
                    hint="pass --project to choose one",
                )
            for env in found:
                tree.check(env.path)
            for env in found:
                tree.unlink(env.path)
                deleted.append(env)
            return ChangeSet(changes=[env.path for env in found], paths=[env.path for env in found])

        def message(_changes: ChangeSet) -> str:
            names = ", ".join(env.slug for env in deleted)
            subject = f"preview down: {names} (request {request_id})"
            owner = project or (deleted[0].project if deleted else "")
            return with_trailers(subject, preview_trailers(session, request_id, owner, "down"))

        outcome = repo.transaction(settings.branch, edit, message, dry_run=dry_run)
    first = deleted[0] if deleted else None
    return PreviewOutcome(
        action="down",
        delivery=Delivery.from_transaction(outcome),
        id=request_id,
        project=project or (first.project if first else ""),
        path=first.path if first else None,
        slug=first.slug if first else None,
        namespace=preview_namespace(settings, first) if first else None,
        mode="deleted" if outcome.status != "unchanged" else None,
    )


def preview_namespace(settings: Any, env: PreviewEnv) -> str | None:
    """The namespace ``previews.namespace`` gives a preview file (None when it cannot be rendered)."""
    from promoter.errors import PromoterError
    from promoter.templating import DEFAULT_NAMESPACE_TEMPLATE, render_namespace

    template = getattr(settings, "namespace", DEFAULT_NAMESPACE_TEMPLATE)
    try:
        return render_namespace(template, slug=env.slug, id=env.id or 0, extra=settings.values)
    except PromoterError:
        return None

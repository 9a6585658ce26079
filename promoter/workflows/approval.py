"""Approval environments: push the change to a review branch and keep exactly one open request for it.

The review branch (``promoter/<env>/<app>`` for a bump, ``promoter/promote-<src>-to-<dst>`` for a promotion,
named by the caller) is rebuilt from the environment branch's newest head on every run and replaced with a
lease on the head we saw, so a re-run follows the environment branch instead of piling commits up. Then:

* a change: the request is created, or its title and body are updated in place (never a second one);
  labels, reviewers and assignees from the environment; auto-merge when ``auto_merge: true``;
* the branch already holds exactly this change: the request is refreshed (usually "unchanged");
* nothing to change (the environment already runs it): no request, and a stale open one for this branch
  is closed with a comment and the branch deleted.

Without a forge (type none) nothing can be reviewed: :class:`ApprovalRequiredError` (exit 4).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from promoter.config import Config, Environment
from promoter.envrepo import ChangeSet, EnvRepo
from promoter.workflows.delivery_result import Delivery, Edit, Message
from promoter.workflows.request_body import BodyInput, render_body
from promoter.workflows.session import Session

if TYPE_CHECKING:  # pragma: no cover
    from promoter.forge.base import Forge, Request

LOG = logging.getLogger("promoter.approval")

CLOSE_COMMENT = (
    "promoter closed this request: {env} already runs what it proposed, so there is nothing left to "
    "approve. The branch {branch} is deleted."
)


def forge_for(session: Session) -> Forge:
    """The session's forge, built once from ``forge:`` in promoter.yaml and the CI environment."""
    if session.cached_forge is None:
        from promoter.forge import make_forge

        session.cached_forge = make_forge(session.config.forge, session.environ)
    return session.cached_forge


@dataclass
class ReviewContext:
    """Extra facts for the request body that the caller knows best (bump vs promote, notes).

    ``notes`` is called after the edit ran (it may report what the edit found): one paragraph each.
    """

    kind: str = "bump"
    source_env: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    notes: Callable[[], list[str]] | None = None


def deliver_for_review(
    session: Session,
    repo: EnvRepo,
    env: Environment,
    edit: Edit,
    message: Message,
    *,
    dry_run: bool,
    branch: str,
    title: Callable[[], str],
    rows: Callable[[], list[dict[str, Any]]],
    review: ReviewContext | None = None,
    in_memory: bool = False,
) -> Delivery:
    """Deliver ``edit`` to an ``approval: true`` environment through its review branch and request."""
    from promoter.forge.none import approval_required

    review = review or _review_from_branch(session, branch)
    forge = forge_for(session)
    if forge.kind == "none":
        raise approval_required(env.name, where=f"{session.config.source}: environments.{env.name}")
    last: dict[str, ChangeSet] = {}

    def recorded(worktree: Any) -> ChangeSet:
        changes = edit(worktree)
        last["changes"] = changes
        return changes

    def attempt(dry: bool) -> Any:
        return repo.transaction(
            branch,
            recorded,
            message,
            base=env.branch,
            force_with_lease=True,
            create=True,
            dry_run=dry,
            in_memory=in_memory,
        )

    outcome = attempt(dry_run)
    if outcome.status == "dry-run":
        return Delivery("dry-run", branch, None, outcome.attempts, outcome.diff, outcome.message)
    if outcome.status == "unchanged" and not last.get("changes"):
        return _nothing_to_change(forge, repo, env, branch, outcome.attempts, dry_run=dry_run)
    diff, commit = outcome.diff, outcome.commit
    if outcome.status == "unchanged":  # the branch already holds this very change: refresh the request
        diff = attempt(True).diff
        commit = repo.head(branch)
    table = rows()
    body = render_body(
        BodyInput(
            kind=review.kind,
            env=env.name,
            target_branch=env.branch,
            branch=branch,
            rows=table,
            diff=diff,
            ci=session.ci,
            source_env=review.source_env,
            source_repos=_source_repos(session, table),
            forge_kind=forge.kind,
            compare_url=forge.compare_url(env.branch, branch),
            commit=commit,
            notes=review.notes() if review.notes else (),
            shipments=_shipments(session, table),
        )
    )
    request, action = forge.open_or_update_request(
        branch,
        env.branch,
        title(),
        body,
        labels=env.labels,
        reviewers=env.reviewers,
        assignees=env.assignees,
    )
    if env.auto_merge and outcome.status == "changed":
        forge.enable_auto_merge(request.number)
    return Delivery(
        result="mr",
        branch=branch,
        commit=commit,
        attempts=outcome.attempts,
        diff=diff,
        message=outcome.message,
        request_url=request.url,
        request_action=action,
    )


def _nothing_to_change(
    forge: Forge, repo: EnvRepo, env: Environment, branch: str, attempts: int, *, dry_run: bool
) -> Delivery:
    stale = forge.find_open_request(branch, env.branch)
    if stale is None or dry_run:
        return Delivery("unchanged", env.branch, None, attempts, request_url=stale.url if stale else None)
    forge.close_request(stale.number, CLOSE_COMMENT.format(env=env.name, branch=branch))
    repo.delete_branch(branch)
    LOG.info("closed stale request %s: %s already runs it", stale.url, env.name)
    return Delivery("unchanged", env.branch, None, attempts, request_url=stale.url, request_action="closed")


@dataclass(frozen=True)
class Pending:
    """An open approval request promoter opened: its environment and the apps it changes (None: unknown)."""

    env: str
    apps: frozenset[str] | None
    request: Request
    versions: dict[str, str | None] = field(default_factory=dict, compare=False)


def pending_requests(forge: Forge, config: Config, *, target_branch: str | None = None) -> list[Pending]:
    """Open requests from ``promoter/*`` branches (one paginated listing), mapped to environments and apps.

    The hidden metadata says which environment and apps a request changes; without it (edited away) the
    branch name does: ``promoter/<env>/<app>`` or ``promoter/promote-<src>-to-<dst>`` (apps unknown).
    """
    from promoter.workflows.request_body import parse_metadata

    out: list[Pending] = []
    for request in forge.list_open_requests(source_prefix="promoter/", target=target_branch):
        meta = parse_metadata(request.body)
        if meta is not None and meta.get("env") in config.environments:
            apps = {str(name): value for name, value in meta["apps"].items()}
            versions = {
                name: (value.get("new") if isinstance(value, dict) else None) for name, value in apps.items()
            }
            out.append(Pending(str(meta["env"]), frozenset(apps), request, versions))
            continue
        found = _env_of_branch(config, request.source_branch)
        if found is not None:
            env, app = found
            out.append(Pending(env, frozenset({app}) if app else None, request))
    return out


def _env_of_branch(config: Config, branch: str) -> tuple[str, str | None] | None:
    for source in config.environments:
        for target in config.environments:
            if source != target and branch == promote_branch(source, target):
                return target, None
    env, _, app = branch.removeprefix("promoter/").partition("/")
    if env in config.environments and app and "/" not in app:
        return env, (app if app in config.apps else None)
    return None


def promote_branch(source: str, target: str) -> str:
    return f"promoter/promote-{source}-to-{target}"


def _review_from_branch(session: Session, branch: str) -> ReviewContext:
    """Bump or promotion, told by the branch name (exact match against the configured environments)."""
    for source in session.config.environments:
        for target in session.config.environments:
            if source != target and branch == promote_branch(source, target):
                return ReviewContext(kind="promote", source_env=source)
    return ReviewContext(kind="bump")


def _shipments(session: Session, rows: list[dict[str, Any]]) -> list[Any]:
    """What ships, for the apps with ``source_repo`` (no call at all when none has one)."""
    if not _source_repos(session, rows):
        return []
    from promoter.workflows.shipping import what_ships

    return what_ships(session.config, rows, session.environ)


def _source_repos(session: Session, rows: list[dict[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for row in rows:
        app = session.config.apps.get(str(row.get("app")))
        if app is not None and app.source_repo:
            out[app.name] = app.source_repo
    return out

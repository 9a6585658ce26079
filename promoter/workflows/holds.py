"""``promoter hold ENV --app APP --reason TEXT`` and ``promoter release ENV --app APP``.

A hold pins an app in an environment: bump refuses to change it and promote skips it (exit 4 when named)
until it is released. The hold is a commit on the environment's branch (its ``.promoter/holds.yaml``),
or, in an ``approval: true`` environment, a request like any other change there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promoter.config import Environment
from promoter.envrepo import ChangeSet, EnvRepo, with_trailers
from promoter.gates import record
from promoter.gates.clock import as_utc
from promoter.gates.holds import Hold, holds_path, one_line, parse_holds, render_holds
from promoter.safepath import SafeTree
from promoter.workflows.approval import ReviewContext
from promoter.workflows.delivery import deliver
from promoter.workflows.delivery_result import Delivery
from promoter.workflows.requester import requested_by, run_trailers
from promoter.workflows.session import Session

HOLD_TRAILER = "Promoter-Hold"
RELEASE_TRAILER = "Promoter-Release"


@dataclass
class HoldResult:
    env: str
    app: str
    action: str  # "hold" | "release"
    hold: Hold | None  # the hold placed, or the one released (None: there was none)
    delivery: Delivery

    @property
    def result(self) -> str:
        return self.delivery.result

    def as_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "app": self.app,
            "action": self.action,
            "hold": self.hold.as_dict() if self.hold else None,
            **self.delivery.as_dict(),
        }


class HoldEdit:
    """The edit: the environment's holds file with ``app`` held (``hold``) or released (None)."""

    def __init__(self, env: Environment, app: str, hold: Hold | None) -> None:
        self.env, self.app, self.hold = env, app, hold
        self.previous: Hold | None = None

    def __call__(self, worktree: Path) -> ChangeSet:
        tree = SafeTree(worktree, label=self.env.branch)
        return self.apply(tree)

    def apply(self, tree: SafeTree) -> ChangeSet:
        """Write the change into ``tree`` (a rollback makes its hold part of its own edit)."""
        path = holds_path(self.env)
        current = parse_holds(tree.read_text_or_none(path), f"{self.env.branch}:{path}")
        self.previous = current.get(self.app)
        wanted = dict(current)
        if self.hold is None:
            wanted.pop(self.app, None)
        elif self.previous is None or self.previous.reason != one_line(self.hold.reason):
            wanted[self.app] = self.hold  # the same reason again: the hold stands as it is
        if wanted == current:
            return ChangeSet()
        if wanted:
            tree.write_text(path, render_holds(wanted))
        else:
            tree.unlink(path)
        return ChangeSet(changes=[f"{path}: {self.app} {'held' if self.hold else 'released'}"], paths=[path])


def place_hold(
    session: Session, env_name: str, app_name: str, reason: str, *, dry_run: bool = False
) -> HoldResult:
    config = session.config
    env = config.environment(env_name)
    app = config.app(app_name)
    text = one_line(reason)
    if not text:
        from promoter.errors import UsageError

        raise UsageError("a hold needs a reason", hint='e.g. --reason "1.4.2 breaks checkout, see INC-1234"')
    hold = Hold(app.name, text, requested_by(session.ci, session.environ), as_utc(session.clock()))
    edit = HoldEdit(env, app.name, hold)
    trailers = {record.ENV: env.name, HOLD_TRAILER: app.name, **run_trailers(session.ci, session.environ)}
    message = with_trailers(f"hold {app.name} in {env.name}: {text}\n\nHeld by {hold.by}.", trailers)
    delivery = _deliver(
        session, env, edit, message, dry_run, f"hold-{app.name}", f"hold {app.name} in {env.name}"
    )
    return HoldResult(
        env.name, app.name, "hold", hold if delivery.result != "unchanged" else edit.previous, delivery
    )


def release_hold(session: Session, env_name: str, app_name: str, *, dry_run: bool = False) -> HoldResult:
    config = session.config
    env = config.environment(env_name)
    app = config.app(app_name)
    edit = HoldEdit(env, app.name, None)
    trailers = {record.ENV: env.name, RELEASE_TRAILER: app.name, **run_trailers(session.ci, session.environ)}
    by = requested_by(session.ci, session.environ)

    def message(_changes: ChangeSet) -> str:
        held = (
            f"\n\nHeld since {as_utc(edit.previous.at):%Y-%m-%d %H:%M UTC} by {edit.previous.by}: "
            if edit.previous
            else ""
        )
        reason = edit.previous.reason if edit.previous else ""
        return with_trailers(f"release {app.name} in {env.name}{held}{reason}\nReleased by {by}.", trailers)

    delivery = _deliver(
        session, env, edit, message, dry_run, f"release-{app.name}", f"release {app.name} in {env.name}"
    )
    return HoldResult(env.name, app.name, "release", edit.previous, delivery)


def _deliver(
    session: Session, env: Environment, edit: HoldEdit, message: Any, dry_run: bool, branch: str, title: str
) -> Delivery:
    with session.env_repo([holds_path(env)]) as repo:
        return _deliver_in(session, repo, env, edit, message, dry_run, branch, title)


def _deliver_in(
    session: Session,
    repo: EnvRepo,
    env: Environment,
    edit: HoldEdit,
    message: Any,
    dry_run: bool,
    branch: str,
    title: str,
) -> Delivery:
    def note() -> list[str]:
        if edit.hold is not None:
            return [f"Holds {edit.app} in {env.name}: {edit.hold.reason}. Held by {edit.hold.by}."]
        return [f"Releases the hold on {edit.app} in {env.name}."]

    return deliver(
        session,
        repo,
        env,
        edit,
        message if callable(message) else (lambda _changes: message),
        dry_run=dry_run,
        review_branch=f"promoter/{env.name}/{branch}",
        review_title=lambda: title,
        review_rows=lambda: [],
        review=ReviewContext(kind="hold", notes=note),
    )

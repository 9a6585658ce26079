"""``promoter rollback ENV --app APP [--to TAG]``: back to the version that ran before, and hold it there.

The previous version comes from the environment's history (:mod:`promoter.gates.history`): the newest
change to a version other than the one running now, digest included when it had one. ``--to TAG`` must
have run in ENV before (``--force`` skips that check and asks the registry instead). A rollback is not a
downgrade by accident, so the downgrade guard does not apply; freeze windows do (``--override-gates``).
In the same commit (or the same approval request) the app is held, so the next bump does not bring the
bad version straight back; ``promoter release`` ends the hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promoter.config import App, Environment
from promoter.envrepo import ChangeSet, with_trailers
from promoter.errors import GateRefusedError, InputError
from promoter.gates import record
from promoter.gates.clock import as_utc
from promoter.gates.history import AppHistory, VersionChange
from promoter.gates.holds import Hold, holds_path
from promoter.gates.verdict import Gatekeeper, freeze_block
from promoter.imageref import ImageRef
from promoter.safepath import SafeTree
from promoter.workflows.approval import ReviewContext
from promoter.workflows.delivery import deliver
from promoter.workflows.delivery_result import Delivery
from promoter.workflows.deployed import app_paths, plan_file, read_versions
from promoter.workflows.holds import HOLD_TRAILER, HoldEdit
from promoter.workflows.messages import AppChange, versions_trailer
from promoter.workflows.requester import requested_by, run_trailers
from promoter.workflows.session import Session
from promoter.yamledit import Change, ScalarEdit, YamlDocument, apply_edits


@dataclass(frozen=True)
class RollbackOptions:
    env: str
    app: str
    to: str | None = None  # a tag (or tag@digest); default: the previous version
    force: bool = False  # --to a tag ENV never ran
    reason: str | None = None
    dry_run: bool = False
    override: str | None = None
    verify_image: bool = True  # with --force: ask the registry whether the tag exists


@dataclass
class RollbackResult:
    env: str
    app: str
    current: str | None
    target: str
    target_change: VersionChange | None  # when the target ran in ENV before: that change
    hold: Hold
    delivery: Delivery
    changes: list[Change]
    gates: Gatekeeper

    @property
    def result(self) -> str:
        return self.delivery.result

    def as_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "app": self.app,
            "from": self.current,
            "to": self.target,
            "ran_before": self.target_change.as_dict() if self.target_change else None,
            "hold": self.hold.as_dict(),
            **self.delivery.as_dict(),
            "changes": [change.as_dict() for change in self.changes],
            "gates": self.gates.as_dict(),
        }


def rollback(session: Session, options: RollbackOptions) -> RollbackResult:
    config = session.config
    env = config.environment(options.env)
    app = config.app(options.app)
    if not app.files_for(env.name):
        from promoter.errors import ConfigError

        raise ConfigError(f"app {app.name} lists no files for {env.name}", where=config.source)
    gates = Gatekeeper(options.override)
    now = as_utc(session.clock())
    gates.enforce([freeze_block(env, now)], where=f"{config.source}: environments.{env.name}.freeze")
    with session.env_repo([*app_paths(env, [app]), holds_path(env)]) as repo:
        texts = repo.read_files(env.branch, app_paths(env, [app]))
        current = read_versions(env, [app], texts)[app.name]
        running = str(current.single()) if current.found else None
        history = AppHistory(repo, env, [app])
        target_change = _choose(history, app, running, options)
        target = target_change.version if target_change is not None else options.to
        assert target is not None
        ref = _reference(app, target)
        if target_change is None and options.verify_image:
            from promoter.registry import verify_image

            verify_image(ref, environ=session.environ)  # --force to a tag ENV never ran: it must exist
        why = f"rolled back from {running or '(none)'} to {target}"
        if options.reason and options.reason.strip():
            why += f": {' '.join(options.reason.split())}"
        hold = Hold(app.name, why, requested_by(session.ci, session.environ), now)
        edit = _RollbackEdit(env, app, ref, HoldEdit(env, app.name, hold))

        def message(_changes: ChangeSet) -> str:
            change = AppChange(app.name, str(ref), ref.tag or "", ref.digest, changes=edit.changes)
            trailers = {
                record.APP: app.name,
                record.ENV: env.name,
                record.IMAGE: str(ref),
                **versions_trailer([change]),
                record.ROLLBACK: f"{app.name} {running or '(none)'} -> {target}",
                HOLD_TRAILER: app.name,
                **gates.trailers(),
                **run_trailers(session.ci, session.environ),
            }
            body = [f"- {app.name}: {running or '(none)'} -> {target}", "", f"{app.name} held: {why}"]
            body += [line for note in gates.notes() for line in ("", note)]
            subject = f"rollback {app.name} in {env.name}: {running or '(none)'} -> {target}"
            return with_trailers(subject + "\n\n" + "\n".join(body), trailers)

        def notes() -> list[str]:
            return [f"Rolls {app.name} back and holds it in {env.name}: {why}.", *gates.notes()]

        delivery = deliver(
            session,
            repo,
            env,
            edit,
            message,
            dry_run=options.dry_run,
            review_branch=f"promoter/{env.name}/rollback-{app.name}",
            review_title=lambda: f"rollback {app.name} in {env.name}: {running or '(none)'} -> {target}",
            review_rows=lambda: [{"app": app.name, "old": running, "new": target, "image": str(ref)}],
            review=ReviewContext(kind="rollback", notes=notes),
        )
    return RollbackResult(
        env.name, app.name, running, target, target_change, hold, delivery, edit.changes, gates
    )


def _choose(
    history: AppHistory, app: App, running: str | None, options: RollbackOptions
) -> VersionChange | None:
    """The change whose version to go back to (None: ``--to`` a tag ENV never ran, ``--force``d).

    Without ``--to``: the newest earlier version that was not itself rolled back from (a second rollback
    goes further back, never forward to the version the first one left).
    """
    wanted = options.to

    def candidate(changes: list[VersionChange]) -> VersionChange | None:
        bad: set[str] = set()
        for change in changes:
            if wanted is not None:
                version = change.version or ""
                if version == wanted or version.split("@", 1)[0] == wanted:
                    return change
                continue
            if change.version is not None and change.version != running and change.version not in bad:
                return change
            if change.rollback:
                bad.add(_rolled_back_from(change.rollback))
        return None

    history.walk(lambda walk: candidate(walk.changes(app.name)) is not None)
    found = candidate(history.changes(app.name))
    if found is not None:
        return found
    if wanted is None:
        raise GateRefusedError(
            f"no earlier version of {app.name} in {history.env.name} to roll back to",
            where=history.env.branch,
            hint=f"name one with --to TAG; promoter history {history.env.name} --app {app.name} lists them",
        )
    if not options.force:
        raise GateRefusedError(
            f"{app.name} {wanted} never ran in {history.env.name}",
            where=history.env.branch,
            hint=f"promoter history {history.env.name} --app {app.name} lists what ran; --force goes anyway",
        )
    return None


def _rolled_back_from(trailer: str) -> str:
    """``api 1.4.2 -> 1.4.1`` -> ``1.4.2``."""
    before = trailer.split("->", 1)[0].split()
    return before[-1] if before else ""


def _reference(app: App, version: str) -> ImageRef:
    tag, _, digest = version.partition("@")
    if "," in version or not tag:
        raise InputError(f"cannot roll {app.name} back to {version!r}: not one tag", hint="give --to TAG")
    return ImageRef.parse(app.image).with_version(tag, digest or None)


class _RollbackEdit:
    """Write ``ref`` into the app's files (no downgrade guard) and hold the app, in one change."""

    def __init__(self, env: Environment, app: App, ref: ImageRef, hold: HoldEdit) -> None:
        self.env, self.app, self.ref, self.hold = env, app, ref, hold
        self.changes: list[Change] = []

    def __call__(self, worktree: Path) -> ChangeSet:
        tree = SafeTree(worktree, label=self.env.branch)
        edits: dict[str, list[ScalarEdit]] = {}
        documents: dict[str, YamlDocument] = {}
        for target in self.app.files_for(self.env.name):
            path = self.env.file_path(target.file)
            if path not in documents:
                name = f"{self.env.branch}:{path}"
                documents[path] = YamlDocument.parse(tree.read_text(path, name), name)
            planned, _ = plan_file(documents[path], target.key, target.doc, self.app, self.ref)
            edits.setdefault(path, []).extend(planned)
        results = {path: apply_edits(documents[path], planned) for path, planned in edits.items()}
        self.changes = [change for result in results.values() for change in result.changes]
        paths = []
        for path, result in results.items():  # every file verified before the first one is written
            if result.changed:
                tree.write_text(path, result.new_text)
                paths.append(path)
        held = self.hold.apply(tree)
        return ChangeSet(changes=[*self.changes, *held.changes], paths=[*paths, *held.paths])

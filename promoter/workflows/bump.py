"""``promoter bump ENV``: point one environment at a new image tag, safely under concurrency.

The edit runs inside an env-repo transaction, so it is re-run on the newest head after a lost push race;
the downgrade guard runs inside it too, against what the newest head says.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promoter.config import App, Config, Environment
from promoter.envrepo import ChangeSet, EnvRepo
from promoter.errors import (
    ConfigError,
    DowngradeRefusedError,
    GitError,
    ImageReferenceError,
    PromoterError,
    UsageError,
)
from promoter.gates.holds import holds_path, parse_holds
from promoter.gates.verdict import Gatekeeper, freeze_block, hold_blocks
from promoter.imageref import ImageRef, is_valid_tag
from promoter.progress import progress
from promoter.safepath import SafeTree
from promoter.versions import is_semver_downgrade
from promoter.workflows.approval import ReviewContext
from promoter.workflows.delivery import deliver
from promoter.workflows.delivery_result import Delivery
from promoter.workflows.deployed import app_paths, plan_file
from promoter.workflows.messages import AppChange, commit_message
from promoter.workflows.requester import actor_trailer
from promoter.workflows.session import Session
from promoter.yamledit import Change, ScalarEdit, YamlDocument, apply_edits

LOG = logging.getLogger("promoter.bump")


@dataclass(frozen=True)
class BumpOptions:
    env: str
    app: str | None = None
    tag: str | None = None
    image: str | None = None
    dry_run: bool = False
    allow_downgrade: bool = False
    verify_image: bool = True
    pin_digest: bool = False
    override: str | None = None  # --override-gates REASON


AppBump = AppChange  # one app's part of a bump


@dataclass
class BumpResult:
    env: str
    delivery: Delivery
    apps: list[AppBump]
    gates: Gatekeeper | None = None

    @property
    def result(self) -> str:
        return self.delivery.result

    def as_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            **self.delivery.as_dict(),
            "apps": [app.as_dict() for app in self.apps],
            "gates": self.gates.as_dict() if self.gates else None,
        }


def resolve_targets(config: Config, options: BumpOptions) -> list[tuple[App, ImageRef]]:
    """The apps to change and the exact reference each must point at."""
    if bool(options.app) == bool(options.image):
        raise UsageError("give either --app APP --tag TAG or --image REPO:TAG", hint="promoter bump --help")
    if options.app:
        if not options.tag:
            raise UsageError("--app needs --tag", hint="promoter bump ENV --app APP --tag TAG")
        if not is_valid_tag(options.tag):
            raise ImageReferenceError(
                f"invalid tag {options.tag!r}",
                hint="a tag is up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'",
            )
        app = config.app(options.app)
        return [(app, ImageRef.parse(app.image).with_version(options.tag))]
    if options.tag:
        raise UsageError("--tag goes with --app; with --image put the tag in the reference")
    new = ImageRef.parse(options.image or "")
    if new.tag is None:
        raise ImageReferenceError(f"{options.image!r} names no tag", hint=f"e.g. --image {new.name}:1.2.3")
    apps = config.apps_for_image(new.name)
    if not apps:
        known = ", ".join(f"{app.name} ({app.image})" for app in config.apps.values()) or "none"
        raise ConfigError(
            f"no app in {config.source} uses the image {new.name}",
            where=config.source,
            hint=f"configured apps: {known}",
        )
    return [(app, ImageRef.parse(app.image).with_version(new.tag, new.digest)) for app in apps]


def verify_in_registry(targets: list[tuple[App, ImageRef]], *, pin: bool) -> list[tuple[App, ImageRef]]:
    """Refuse (exit 4) tags that are not in the registry; with ``pin`` add the manifest digest."""
    from promoter.registry import verify_image

    checked: dict[str, str] = {}
    out = []
    for app, ref in targets:
        key = str(ref)
        if key not in checked:
            checked[key] = verify_image(ref)
        out.append((app, ref.with_version(ref.tag, checked[key] if pin else ref.digest)))
    return out


class _Plan:
    """The edit run inside the transaction: every app's files, grouped per file, guarded, then written."""

    def __init__(
        self,
        session: Session,
        env: Environment,
        targets: list[tuple[App, ImageRef]],
        options: BumpOptions,
        repo: EnvRepo,
        verify: Callable[[list[tuple[App, ImageRef]]], object] | None = None,
        gates: Gatekeeper | None = None,
    ) -> None:
        self.session = session
        self.gates = gates or Gatekeeper(None)
        self.verify = verify  # the registry check, run once and only when something is to be written
        self.env = env
        self.targets = targets
        self.options = options
        self.repo = repo
        self.apps: list[AppBump] = []

    def __call__(self, worktree: Path) -> ChangeSet:
        tree = SafeTree(worktree, label=self.env.branch)
        held = holds_path(self.env)  # read on the newest head: a hold placed meanwhile counts
        holds = parse_holds(tree.read_text_or_none(held), f"{self.env.branch}:{held}")
        self.gates.enforce(hold_blocks(self.env, holds, [app.name for app, _ in self.targets]), where=held)
        documents: dict[str, YamlDocument] = {}
        edits: dict[str, list[ScalarEdit]] = {}
        owners: dict[tuple[str, int, int], AppBump] = {}
        self.apps = []
        total = sum(len(app.files_for(self.env.name)) for app, _ in self.targets)
        with progress("bump: planning", total=total, unit="files") as planning:
            for app, ref in self.targets:
                bump = AppBump(app.name, str(ref), ref.tag or "")
                files = app.files_for(self.env.name)
                if not files:
                    raise ConfigError(
                        f"app {app.name} lists no files for {self.env.name}", where=self.session.config.source
                    )
                for target in files:
                    path = self.env.file_path(target.file)
                    if path not in documents:
                        name = f"{self.env.branch}:{path}"
                        documents[path] = YamlDocument.parse(tree.read_text(path, name), name)
                    document = documents[path]
                    planned, old = plan_file(document, target.key, target.doc, app, ref)
                    edits.setdefault(path, []).extend(planned)
                    for edit in planned:
                        line, column = document.line_col(edit.target.start)
                        owners[document.name, line, column] = bump
                    bump.old_tags.extend(tag for tag in old if tag not in bump.old_tags)
                    planning.advance(detail=path)
                self._guard(bump)
                self.apps.append(bump)
            results = {path: apply_edits(documents[path], planned) for path, planned in edits.items()}
        changes: list[Change] = []
        paths: list[str] = []
        if self.verify is not None and any(result.changed for result in results.values()):
            self.verify(self.targets)  # exit 4 when a tag is missing; nothing was written yet
            self.verify = None
        for path, result in results.items():  # every file verified before the first one is written
            if result.changed:
                tree.write_text(path, result.new_text)
                paths.append(path)
                changes.extend(result.changes)
        for change in changes:
            owners[(change.file, change.line, change.column)].changes.append(change)
        return ChangeSet(changes=changes, paths=paths)

    def _guard(self, bump: AppBump) -> None:
        env = self.env.name
        lower = [old for old in bump.old_tags if is_semver_downgrade(old, bump.tag)]
        if lower:
            if not self.options.allow_downgrade:
                raise DowngradeRefusedError(
                    f"refusing to downgrade {bump.app} in {env} from {lower[0]} to {bump.tag}",
                    where=f"{self.env.branch}",
                    hint="pass --allow-downgrade to roll back on purpose",
                )
            bump.downgrade_allowed = f"{lower[0]} -> {bump.tag}"
        pipeline = self.session.ci.pipeline_id
        if pipeline is None:
            return
        record = self.repo.find_trailers(self.env.branch, {"Promoter-Env": env}, accept=_names_app(bump.app))
        recorded = _pipeline_of(record)
        if recorded is not None and pipeline < recorded:
            if not self.options.allow_downgrade:
                raise DowngradeRefusedError(
                    f"refusing to let pipeline {pipeline} overwrite {bump.app} in {env}: pipeline {recorded} "
                    "already deployed a newer build",
                    where=self.env.branch,
                    hint="pipelines finished out of order; --allow-downgrade deploys this older build anyway",
                )
            bump.downgrade_allowed = bump.downgrade_allowed or f"pipeline {pipeline} after {recorded}"


def _names_app(app: str) -> Any:
    def accept(trailers: Mapping[str, str]) -> bool:
        value = {k.lower(): v for k, v in trailers.items()}.get("promoter-app", "")
        return app in [name.strip() for name in value.split(",")]

    return accept


def _pipeline_of(trailers: Mapping[str, str] | None) -> int | None:
    if not trailers:
        return None
    value = {k.lower(): v for k, v in trailers.items()}.get("promoter-pipeline", "")
    first = value.split(" ", 1)[0]
    return int(first) if first.isdigit() else None


def bump(session: Session, options: BumpOptions) -> BumpResult:
    config = session.config
    env = config.environment(options.env)
    targets = resolve_targets(config, options)
    if options.pin_digest and not options.verify_image:
        raise UsageError("--pin-digest needs the registry: drop --no-verify-image")
    gates = Gatekeeper(options.override)
    gates.enforce(
        [freeze_block(env, session.clock())], where=f"{config.source}: environments.{env.name}.freeze"
    )
    review_branch = (
        f"promoter/{env.name}/{targets[0][0].name}" if len(targets) == 1 else f"promoter/{env.name}/bump"
    )
    with session.env_repo([*app_paths(env, [app for app, _ in targets]), holds_path(env)]) as repo:
        verify = None
        if options.pin_digest:  # the digest is part of the edit: ask first
            targets = verify_in_registry(targets, pin=True)
        elif options.verify_image and not (env.approval and review_says(repo, env, targets, review_branch)):
            verify = functools.partial(verify_in_registry, pin=False)
        plan = _Plan(session, env, targets, options, repo, verify, gates)

        def message(_changes: ChangeSet) -> str:
            extra = {**gates.trailers(), **actor_trailer(session.ci, session.environ)}
            return commit_message(
                config, env, plan.apps, session.ci, notes=gates.notes(), extra_trailers=extra
            )

        delivery = deliver(
            session,
            repo,
            env,
            plan,
            message,
            dry_run=options.dry_run,
            review_branch=review_branch,
            review_title=lambda: _title(plan, env),
            review_rows=lambda: _rows(plan),
            review=ReviewContext(kind="bump", notes=gates.notes),
        )
    return BumpResult(env=env.name, delivery=delivery, apps=plan.apps, gates=gates)


def review_says(
    repo: EnvRepo, env: Environment, targets: list[tuple[App, ImageRef]], review_branch: str
) -> bool:
    """True when the open review branch already says every target: it was verified when it was written,
    so a repeated bump of an approval environment needs no registry either."""
    if repo.head(review_branch) is None:
        return False
    try:
        texts = repo.read_files(review_branch, app_paths(env, [app for app, _ in targets]))
    except GitError:
        return False
    if _says(env, targets, texts):
        LOG.info("%s already says %s: the registry was not asked", review_branch, targets[0][1])
        return True
    return False


def _says(env: Environment, targets: list[tuple[App, ImageRef]], texts: Mapping[str, str | None]) -> bool:
    for app, ref in targets:
        for target in app.files_for(env.name):
            path = env.file_path(target.file)
            text = texts.get(path)
            if text is None:
                return False
            try:
                document = YamlDocument.parse(text, f"{env.branch}:{path}")
                planned, _ = plan_file(document, target.key, target.doc, app, ref)
                if not planned or apply_edits(document, planned).changed:
                    return False
            except PromoterError:
                return False  # the transaction reports it properly
    return True


def _title(plan: _Plan, env: Environment) -> str:
    names = ", ".join(app.app for app in plan.apps)
    tags = ", ".join(sorted({app.tag for app in plan.apps}))
    return f"{names}: {env.name} -> {tags}"


def _rows(plan: _Plan) -> list[dict[str, Any]]:
    return [
        {"app": app.app, "old": ", ".join(app.old_tags) or None, "new": app.tag, "image": app.image}
        for app in plan.apps
    ]

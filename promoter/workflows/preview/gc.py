"""``preview gc``: delete the environments of closed, merged or vanished requests, failing closed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promoter.envrepo import ChangeSet, EnvRepo, with_trailers
from promoter.errors import (
    ConfigError,
    ForgeError,
    GuardRefusedError,
    UsageError,
)
from promoter.progress import progress
from promoter.safepath import SafeTree
from promoter.workflows.delivery_result import Delivery
from promoter.workflows.session import Session

if TYPE_CHECKING:  # pragma: no cover
    from promoter.forge.base import Forge
from promoter.workflows.preview.common import (
    one_line,
    unchanged_delivery,
)
from promoter.workflows.preview.files import (
    LOG,
    TRAILER_PREVIEW,
    ForgeFactory,
    PreviewEnv,
    scan_worktree,
    utc_now,
)


@dataclass
class GcEntry:
    path: str
    id: int | None
    project: str
    reason: str  # deleted: "closed" | "merged" | "gone" | "expired"; skipped: why it was kept

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "id": self.id, "project": self.project, "reason": self.reason}


@dataclass
class GcResult:
    delivery: Delivery
    deleted: list[GcEntry] = field(default_factory=list)
    skipped: list[GcEntry] = field(default_factory=list)
    kept: int = 0
    errors: list[str] = field(default_factory=list)
    api_lookups: int = 0

    @property
    def result(self) -> str:
        return self.delivery.result

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.delivery.as_dict(),
            "deleted": [entry.as_dict() for entry in self.deleted],
            "skipped": [entry.as_dict() for entry in self.skipped],
            "kept": self.kept,
            "errors": self.errors,
        }


# --- gc ----------------------------------------------------------------------------------------------
def default_forge_factory(session: Session) -> ForgeFactory:
    from promoter.forge import ForgeSettings, make_forge

    forge = session.config.forge

    def factory(project: str) -> Forge:
        return make_forge(ForgeSettings(forge.type, forge.url, project), session.environ)

    return factory


class _Gc:
    """Decides inside the transaction; request states are asked once per project and reused on a retry."""

    def __init__(self, session: Session, factory: ForgeFactory, now: datetime, max_delete: int) -> None:
        self.session = session
        self.factory = factory
        self.now = now
        self.max_delete = max_delete
        self.directory = session.config.previews.dir.strip("/")
        self.states: dict[str, dict[int, str]] = {}
        self.failed: dict[str, str] = {}
        self.deleted: list[GcEntry] = []
        self.skipped: list[GcEntry] = []
        self.kept = 0
        self.lookups = 0

    def _project_of(self, env: PreviewEnv) -> str:
        return env.project or (self.session.config.forge.project or "")

    def _lookup(self, envs: list[PreviewEnv]) -> None:
        if self.session.config.forge.type == "none":
            return
        wanted: dict[str, set[int]] = {}
        for env in envs:
            project = self._project_of(env)
            if env.id is not None and project and project not in self.failed:
                known = self.states.get(project, {})
                if env.id not in known:
                    wanted.setdefault(project, set()).add(env.id)
        asked = sum(len(numbers) for numbers in wanted.values())
        with progress("preview gc: asking the forge", total=asked, unit="requests") as asking:
            for project, numbers in sorted(wanted.items()):
                try:
                    forge = self.factory(project)
                    self.lookups += 1
                    states = forge.list_request_states(sorted(numbers))
                except (ForgeError, ConfigError) as exc:
                    LOG.warning("preview gc: keeping every preview of %s: %s", one_line(project), exc)
                    self.failed[project] = str(exc)
                    continue
                finally:
                    asking.advance(len(numbers), detail=one_line(project))
                self.states.setdefault(project, {}).update(states)

    def __call__(self, worktree: Path) -> ChangeSet:
        self.deleted, self.skipped, self.kept = [], [], 0
        branch = self.session.config.previews.branch
        tree = SafeTree(worktree, label=branch)
        envs = scan_worktree(worktree, self.directory, label=branch, refuse_links=False)
        self._lookup(envs)
        forge_none = self.session.config.forge.type == "none"
        for env in envs:
            project = self._project_of(env)
            if env.error is not None or env.id is None:
                self.skipped.append(GcEntry(env.path, env.id, env.project, f"unreadable: {env.error}"))
                continue
            if project in self.failed:
                self.skipped.append(GcEntry(env.path, env.id, env.project, "forge error"))
                continue
            state = self.states.get(project, {}).get(env.id)
            if state in ("closed", "merged", "gone"):
                self.deleted.append(GcEntry(env.path, env.id, env.project, state))
            elif env.expired(self.now):
                self.deleted.append(GcEntry(env.path, env.id, env.project, "expired"))
            elif state is None and not forge_none:
                self.skipped.append(GcEntry(env.path, env.id, env.project, "no project to ask"))
            else:
                self.kept += 1
        if len(self.deleted) > self.max_delete:
            raise GuardRefusedError(
                f"preview gc would delete {len(self.deleted)} preview environments, more than the limit of "
                f"{self.max_delete}; deleted nothing",
                where=self.session.config.previews.branch,
                hint="check the forge answers, then raise the limit: --max-delete N or previews.max_delete",
            )
        self.deleted.sort(key=lambda entry: (entry.id or 0, entry.path))
        for entry in self.deleted:
            tree.check(entry.path)
        for entry in self.deleted:
            tree.unlink(entry.path)
        paths = [entry.path for entry in self.deleted]
        return ChangeSet(changes=paths, paths=paths)

    def message(self, _changes: ChangeSet) -> str:
        lines = [
            f"- {Path(e.path).stem}: request {e.id} of {one_line(e.project) or '?'} {e.reason}"
            for e in self.deleted
        ]
        count = len(self.deleted)
        subject = f"preview gc: delete {count} preview environment{'s' if count != 1 else ''}"
        ids = ", ".join(str(entry.id) for entry in self.deleted)
        trailers = {TRAILER_PREVIEW: ids, "Promoter-Preview-Action": "gc", **self.session.ci.trailers()}
        return with_trailers(subject + "\n\n" + "\n".join(lines), trailers)


def preview_gc(
    session: Session,
    *,
    max_delete: int | None = None,
    dry_run: bool = False,
    forge_factory: ForgeFactory | None = None,
    now: datetime | None = None,
    repo: EnvRepo | None = None,
) -> GcResult:
    """Delete the previews of closed, merged or vanished requests and expired ones, in one commit.

    ``repo`` reuses an open work clone (the webhook receiver keeps one); otherwise one is made and closed.
    """
    settings = session.config.previews
    limit = settings.max_delete if max_delete is None else max_delete
    if limit < 0:
        raise UsageError("--max-delete must be 0 or more")
    plan = _Gc(session, forge_factory or default_forge_factory(session), now or utc_now(), limit)
    env_repo = repo if repo is not None else session.env_repo([settings.dir])
    try:
        if env_repo.head(settings.branch) is None:
            return GcResult(unchanged_delivery(settings.branch))
        outcome = env_repo.transaction(settings.branch, plan, plan.message, dry_run=dry_run)
    finally:
        if repo is None:
            env_repo.close()
    errors = [f"{project}: {error}" for project, error in sorted(plan.failed.items())]
    return GcResult(
        delivery=Delivery.from_transaction(outcome),
        deleted=plan.deleted,
        skipped=plan.skipped,
        kept=plan.kept,
        errors=errors,
        api_lookups=plan.lookups,
    )

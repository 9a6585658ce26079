"""Preview environments: one file per merge/pull request on the previews branch (``dynamic-envs``).

``up`` renders the template once and afterwards only splices the new tag into the existing file (image
finders and the ``promoter.dev/`` annotations), so manual changes survive pushes unless ``--rerender``.
``down`` deletes the request's file, found by its ``promoter.dev/preview-id`` (and project) annotation, not
by its name, so a renamed branch still finds it. ``gc`` deletes the files whose request is closed, merged
or gone, or whose expiry passed, in one commit; a forge error keeps every file of that project (fail
closed) and ``max_delete`` caps how many files one run may delete. Every change is an env-repo transaction
(re-run on the newest head after a lost race, never a force push); a second, identical request finds
nothing to do and reports "unchanged".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promoter.envrepo import ChangeSet, EnvRepo, with_trailers
from promoter.errors import (
    ConfigError,
    ForgeError,
    GuardRefusedError,
    ImageReferenceError,
    InputError,
    PromoterError,
    UnsafeTargetError,
    UsageError,
)
from promoter.templating import (
    ANNOTATION_BRANCH,
    ANNOTATION_EXPIRES,
    ANNOTATION_ID,
    ANNOTATION_PROJECT,
    BUNDLED_TEMPLATES,
    PreviewContext,
    PreviewTemplate,
    format_timestamp,
    load_template,
    preview_annotations,
    preview_path,
    render_preview,
    render_template,
    slugify,
)
from promoter.workflows.delivery import Delivery
from promoter.workflows.session import Session

if TYPE_CHECKING:  # pragma: no cover
    from promoter.forge.base import Forge
    from promoter.hook import CloseEvent

LOG = logging.getLogger("promoter.preview")

TRAILER_PREVIEW = "Promoter-Preview"
ANNOTATION_TAG = "promoter.dev/tag"
ANNOTATION_IMAGE = "promoter.dev/image"
ANNOTATION_COMMIT = "promoter.dev/commit"
ANNOTATION_CREATED = "promoter.dev/created-at"
_SUFFIXES = (".yaml", ".yml")
ForgeFactory = Callable[[str], "Forge"]


# --- reading preview files ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PreviewEnv:
    """One preview file as read back from the previews branch."""

    path: str
    id: int | None
    project: str = ""
    branch: str = ""
    tag: str = ""
    image: str = ""
    created_at: str = ""
    expires_at: str = ""
    error: str | None = None

    @property
    def slug(self) -> str:
        return Path(self.path).stem

    def expired(self, now: datetime) -> bool:
        moment = _parse_time(self.expires_at)
        return moment is not None and moment <= now

    def age_seconds(self, now: datetime) -> int | None:
        moment = _parse_time(self.created_at)
        return None if moment is None else max(0, int((now - moment).total_seconds()))

    def matches(self, request_id: int, project: str | None) -> bool:
        if self.id != request_id:
            return False
        return project is None or self.project.casefold() == project.casefold()

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        now = now or _now()
        return {
            "id": self.id,
            "project": self.project,
            "branch": self.branch,
            "slug": self.slug,
            "path": self.path,
            "tag": self.tag,
            "image": self.image,
            "created_at": self.created_at or None,
            "expires_at": self.expires_at or None,
            "age_seconds": self.age_seconds(now),
            "expired": self.expired(now),
            "error": self.error,
        }


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _parse_time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_preview(path: str, text: str) -> PreviewEnv:
    """A preview file's annotations; a file promoter cannot read back carries ``error`` (never deleted)."""
    try:
        found = preview_annotations(text, origin=path)
    except PromoterError as exc:
        return PreviewEnv(path=path, id=None, error=exc.message)
    raw_id = found.get(ANNOTATION_ID, "")
    if not (raw_id.isascii() and raw_id.isdigit()):
        return PreviewEnv(path=path, id=None, error=f"{ANNOTATION_ID} is not a number: {raw_id!r}")
    return PreviewEnv(
        path=path,
        id=int(raw_id),
        project=found.get(ANNOTATION_PROJECT, ""),
        branch=found.get(ANNOTATION_BRANCH, ""),
        tag=found.get(ANNOTATION_TAG, ""),
        image=found.get(ANNOTATION_IMAGE, ""),
        created_at=found.get(ANNOTATION_CREATED, ""),
        expires_at=found.get(ANNOTATION_EXPIRES, ""),
    )


def _is_preview_file(rel: str, directory: str) -> bool:
    parent, _, name = rel.rpartition("/")
    return parent == directory.strip("/") and name.endswith(_SUFFIXES) and not name.startswith(".")


def mentions_id(request_id: int) -> Callable[[str], bool]:
    """A cheap pre-filter: does a file's text carry ``promoter.dev/preview-id: <id>`` (any quoting)?"""
    pattern = re.compile(rf"""preview-id["']?\s*:\s*["']?{int(request_id)}["']?\s*(#.*)?$""", re.MULTILINE)
    return lambda text: pattern.search(text) is not None


def scan_worktree(
    worktree: Path, directory: str, *, keep: Callable[[str], bool] | None = None
) -> list[PreviewEnv]:
    """Every preview file directly under ``directory``; ``keep`` skips files whose text it rejects."""
    folder = worktree / directory
    if not folder.is_dir():
        return []
    found = []
    for entry in sorted(folder.iterdir()):
        if not entry.is_file() or entry.is_symlink() or not entry.name.endswith(_SUFFIXES):
            continue
        rel = f"{directory.strip('/')}/{entry.name}"
        try:
            text = entry.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            found.append(PreviewEnv(path=rel, id=None, error=f"unreadable: {exc}"))
            continue
        if keep is not None and not keep(text):
            continue
        found.append(parse_preview(rel, text))
    return found


# --- options and results -----------------------------------------------------------------------------
@dataclass(frozen=True)
class UpOptions:
    id: int | None = None
    branch: str | None = None
    tag: str | None = None
    image: str | None = None
    project: str | None = None
    values: Mapping[str, str] = field(default_factory=dict)
    rerender: bool = False
    dry_run: bool = False


@dataclass
class PreviewOutcome:
    """What ``up`` or ``down`` did to one preview."""

    action: str  # "up" | "down"
    delivery: Delivery
    id: int
    project: str
    path: str | None = None
    slug: str | None = None
    namespace: str | None = None
    url: str | None = None
    tag: str | None = None
    mode: str | None = None  # up: "created" | "updated" | "rerendered"; down: "deleted"

    @property
    def result(self) -> str:
        return self.delivery.result

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "id": self.id,
            "project": self.project,
            "path": self.path,
            "slug": self.slug,
            "namespace": self.namespace,
            "url": self.url,
            "tag": self.tag,
            "mode": self.mode,
            **self.delivery.as_dict(),
        }


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


def _unchanged(branch: str) -> Delivery:
    return Delivery(result="unchanged", branch=branch)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:200]


# --- up ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _UpValues:
    id: int
    branch: str
    tag: str
    image: str
    project: str
    sha: str
    author: str
    title: str
    values: Mapping[str, str]


def resolve_up(session: Session, options: UpOptions) -> _UpValues:
    """Fill what the options leave out from the CI context (MR variables / the pull_request event)."""
    ci = session.ci
    request_id = options.id if options.id is not None else ci.request_id
    if request_id is None or request_id <= 0:
        raise UsageError(
            "no merge/pull request id",
            hint="pass --id N, or run in a merge request pipeline / pull_request job",
        )
    branch = options.branch or ci.request_source_branch or ci.ref
    if not branch:
        raise UsageError("no source branch", hint="pass --branch BRANCH")
    image, tag = _image_and_tag(session, options)
    values = {**session.config.previews.values, **options.values}
    return _UpValues(
        id=request_id,
        branch=branch,
        tag=tag,
        image=image,
        project=options.project or ci.project or "",
        sha=ci.commit or "",
        author=ci.request_author or "",
        title=ci.request_title or "",
        values=values,
    )


def _image_and_tag(session: Session, options: UpOptions) -> tuple[str, str]:
    from promoter.imageref import ImageRef, is_valid_digest, is_valid_tag

    config = session.config
    image_text = options.image or config.previews.values.get("image")
    if not image_text:
        if len(config.apps) != 1:
            names = ", ".join(config.apps) or "none"
            raise UsageError(
                "which image does the preview run?",
                hint=f"pass --image REPO (configured apps: {names})",
            )
        image_text = next(iter(config.apps.values())).image
    ref = ImageRef.parse(image_text)
    tag = options.tag or ref.tag or ref.digest or session.ci.commit
    if not tag:
        raise UsageError("no image tag", hint="pass --tag TAG (in CI it defaults to the commit SHA)")
    if not (is_valid_tag(tag) or is_valid_digest(tag)):
        raise ImageReferenceError(
            f"invalid tag {tag!r}",
            hint="a tag is up to 128 letters, digits, '_', '.' and '-', or sha256:<hex>",
        )
    return ref.name, tag


def _ttl(session: Session) -> timedelta | None:
    seconds = session.config.previews.ttl_seconds
    return timedelta(seconds=seconds) if seconds > 0 else None


def _load_template(session: Session, repo: EnvRepo) -> PreviewTemplate:
    """A bundled template, a file next to a local promoter.yaml, or a file in the env repo."""
    ref = session.config.previews.template
    if ref in BUNDLED_TEMPLATES:
        return load_template(ref)
    source = Path(session.config.source)
    if source.is_file():
        return load_template(ref, base_dir=source.parent)
    branch = repo.default_branch()
    try:
        text = repo.read_files(branch, [ref])[ref]
    except InputError:
        text = None
    if text is None:
        raise ConfigError(
            f"preview template {ref!r} not found in the env repo",
            where=f"{branch}:{ref}",
            hint="give previews.template as a path relative to promoter.yaml, or a bundled template name",
        )
    return PreviewTemplate(text, f"{branch}:{ref}")


def preview_url(values: Mapping[str, str], ctx: PreviewContext) -> str | None:
    """The environment URL: the ``url`` value rendered with the template variables, else
    ``https://<slug>.<domain>`` when a ``domain`` value is set, else None."""
    if values.get("url"):
        text = render_template(PreviewTemplate(values["url"], "previews.values.url"), ctx.variables())
        return text.strip() or None
    if values.get("domain"):
        return f"https://{ctx.slug}.{values['domain'].strip('.')}"
    return None


class UpEdit:
    """The edit run inside the transaction (re-run on the newest head after a lost race)."""

    def __init__(
        self, session: Session, values: _UpValues, template: PreviewTemplate, rerender: bool
    ) -> None:
        self.session = session
        self.v = values
        self.template = template
        self.rerender = rerender
        self.directory = session.config.previews.dir.strip("/")
        self.ctx: PreviewContext | None = None
        self.path: str | None = None
        self.mode: str | None = None

    def context(self, slug: str, created_at: str | None = None) -> PreviewContext:
        now = _now()
        ttl = _ttl(self.session)
        ctx = PreviewContext.create(
            id=self.v.id,
            branch=self.v.branch,
            tag=self.v.tag,
            image=self.v.image,
            project=self.v.project,
            sha=self.v.sha,
            author=self.v.author,
            title=self.v.title,
            ttl=ttl,
            now=now,
            slug=slug,
            extra=self.v.values,
        )
        if created_at:
            ctx = replace(ctx, created_at=created_at)
        return ctx

    def __call__(self, worktree: Path) -> ChangeSet:
        existing = self._find(worktree)
        if existing is not None:
            self.path = existing.path
            slug = existing.slug
            if self.rerender:
                self.mode = "rerendered"
                self.ctx = self.context(slug, existing.created_at or None)
                return self._write(worktree, render_preview(self.template, self.ctx))
            self.mode = "updated"
            self.ctx = self.context(slug, existing.created_at or None)
            return self._update(worktree, existing)
        slug = slugify(self.v.branch)
        path = preview_path(self.directory, slug)
        if (worktree / path).exists():  # another request (another project) owns that name
            slug = slugify(f"{self.v.project}/{self.v.branch}#{self.v.id}")
            path = preview_path(self.directory, slug)
        self.path = path
        self.mode = "created"
        self.ctx = self.context(slug)
        return self._write(worktree, render_preview(self.template, self.ctx))

    def _find(self, worktree: Path) -> PreviewEnv | None:
        """The request's file: the slug's file first (the usual case), else a scan of the annotations."""
        expected = preview_path(self.directory, slugify(self.v.branch))
        candidates: list[PreviewEnv] = []
        if (worktree / expected).is_file():
            first = parse_preview(expected, (worktree / expected).read_text(encoding="utf-8"))
            if first.matches(self.v.id, self.v.project):
                return first
        candidates = [
            env
            for env in scan_worktree(worktree, self.directory, keep=mentions_id(self.v.id))
            if env.matches(self.v.id, self.v.project)
        ]
        if len(candidates) > 1:
            paths = ", ".join(env.path for env in candidates)
            raise InputError(
                f"several preview files belong to request {self.v.id}: {paths}",
                where=self.session.config.previews.branch,
                hint="delete all but one (promoter preview down, then up)",
            )
        return candidates[0] if candidates else None

    def _write(self, worktree: Path, text: str) -> ChangeSet:
        from promoter.yamledit import write_atomic

        assert self.path is not None
        target = worktree / self.path
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            return ChangeSet()
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, text)
        return ChangeSet(changes=[f"{self.path}: {self.mode}"], paths=[self.path])

    def _update(self, worktree: Path, existing: PreviewEnv) -> ChangeSet:
        """Byte-minimal: the image sites of our repository and the tag/image/commit annotations; the expiry
        moves on only with a real change, so repeating ``up`` is "unchanged"."""
        from ruamel.yaml.nodes import ScalarNode

        from promoter.yamledit import ScalarEdit, YamlDocument, apply_edits, write_atomic

        assert self.ctx is not None
        document = YamlDocument.read(
            worktree / existing.path, f"{self.session.config.previews.branch}:{existing.path}"
        )
        edits = self._image_edits(document)
        found_image = bool(edits)
        annotations = {ANNOTATION_TAG: self.v.tag, ANNOTATION_IMAGE: self.v.image}
        if self.v.sha:
            annotations[ANNOTATION_COMMIT] = self.v.sha
        expiry: list[ScalarEdit] = []
        for doc, path, node in document.walk():
            if len(path) < 2 or path[-2] != "annotations" or not isinstance(node, ScalarNode):
                continue
            if path[-1] in annotations:
                edits.append(ScalarEdit(document.locate(path, doc), annotations[str(path[-1])]))
                found_image = found_image or path[-1] == ANNOTATION_TAG
            elif path[-1] == ANNOTATION_EXPIRES and self.ctx.expires_at:
                expiry.append(ScalarEdit(document.locate(path, doc), self.ctx.expires_at))
        if not found_image:
            raise InputError(
                f"cannot find where {existing.path} sets the image {self.v.image}",
                where=document.name,
                hint="pass --rerender to render the file afresh (manual changes are lost)",
            )
        if not apply_edits(document, edits).changed:
            return ChangeSet()
        result = apply_edits(document, edits + expiry)
        write_atomic(worktree / existing.path, result.new_text)
        return ChangeSet(changes=result.changes, paths=[existing.path])

    def _image_edits(self, document: Any) -> list[Any]:
        from promoter.imageref import ImageRef, is_valid_digest
        from promoter.yamledit import ScalarEdit
        from promoter.yamledit.finders import plan_image_update

        base = ImageRef.parse(self.v.image)
        digest = is_valid_digest(self.v.tag)
        new = base.with_version(None, self.v.tag) if digest else base.with_version(self.v.tag)
        try:
            edits, _ = plan_image_update(document, new)
            return edits
        except UnsafeTargetError:
            if not digest:
                raise
        # A digest where the template wrote the tag verbatim (Helm parameter image.tag): write it there too.
        _, sites = plan_image_update(document, base.with_version("x"))
        return [
            ScalarEdit(document.locate(site.key, site.doc), self.v.tag)
            for site in sites
            if site.editable and site.image.same_repository(base)
        ]


def _trailers(session: Session, request_id: int | str, project: str, action: str) -> dict[str, str]:
    trailers = {TRAILER_PREVIEW: str(request_id), "Promoter-Preview-Action": action}
    if project:
        trailers["Promoter-Project"] = _one_line(project)
    trailers.update(session.ci.trailers())
    return trailers


def preview_up(session: Session, options: UpOptions) -> PreviewOutcome:
    """Create the request's preview file, or update its tag in place (``rerender``: render afresh)."""
    values = resolve_up(session, options)
    settings = session.config.previews
    with session.env_repo([settings.dir]) as repo:
        template = _load_template(session, repo)
        plan = UpEdit(session, values, template, options.rerender)

        def message(_changes: ChangeSet) -> str:
            slug = plan.ctx.slug if plan.ctx else "?"
            subject = f"preview {plan.mode or 'up'}: {slug} (request {values.id}) -> {values.tag}"
            body = f"Source branch: {_one_line(values.branch)!r}"
            return with_trailers(f"{subject}\n\n{body}", _trailers(session, values.id, values.project, "up"))

        outcome = repo.transaction(settings.branch, plan, message, create=True, dry_run=options.dry_run)
    ctx = plan.ctx
    return PreviewOutcome(
        action="up",
        delivery=Delivery.from_transaction(outcome),
        id=values.id,
        project=values.project,
        path=plan.path,
        slug=ctx.slug if ctx else None,
        namespace=ctx.namespace if ctx else None,
        url=preview_url(values.values, ctx) if ctx else None,
        tag=values.tag,
        mode=plan.mode if outcome.status != "unchanged" else None,
    )


# --- down --------------------------------------------------------------------------------------------
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
            return PreviewOutcome("down", _unchanged(settings.branch), request_id, project or "")

        def edit(worktree: Path) -> ChangeSet:
            deleted.clear()
            found = [
                env
                for env in scan_worktree(worktree, directory, keep=mentions_id(request_id))
                if env.matches(request_id, project)
            ]
            if project is None and len({env.project.casefold() for env in found}) > 1:
                projects = ", ".join(sorted({env.project for env in found}))
                raise UsageError(
                    f"request {request_id} has previews in several projects: {projects}",
                    hint="pass --project to choose one",
                )
            for env in found:
                (worktree / env.path).unlink()
                deleted.append(env)
            return ChangeSet(changes=[env.path for env in found], paths=[env.path for env in found])

        def message(_changes: ChangeSet) -> str:
            names = ", ".join(env.slug for env in deleted)
            subject = f"preview down: {names} (request {request_id})"
            owner = project or (deleted[0].project if deleted else "")
            return with_trailers(subject, _trailers(session, request_id, owner, "down"))

        outcome = repo.transaction(settings.branch, edit, message, dry_run=dry_run)
    first = deleted[0] if deleted else None
    return PreviewOutcome(
        action="down",
        delivery=Delivery.from_transaction(outcome),
        id=request_id,
        project=project or (first.project if first else ""),
        path=first.path if first else None,
        slug=first.slug if first else None,
        namespace=first.slug if first else None,
        mode="deleted" if outcome.status != "unchanged" else None,
    )


def preview_down_for_event(event: CloseEvent, globals_: Any) -> str:
    """The webhook handler's work: ``preview down`` for a closed or merged request.

    Returns ``deleted``, ``unchanged`` (nothing there: a duplicate delivery or no preview).
    """
    from promoter.workflows.session import open_session

    session = open_session(config_path=globals_.config_path, repo=globals_.repo)
    outcome = preview_down(session, event.request_id, project=event.project)
    LOG.info(
        "preview down for %s %s!%d: %s",
        event.forge,
        _one_line(event.project),
        event.request_id,
        outcome.result,
    )
    return "deleted" if outcome.result == "changed" else "unchanged"


# --- list --------------------------------------------------------------------------------------------
@dataclass
class PreviewList:
    branch: str
    environments: list[PreviewEnv]
    now: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"branch": self.branch, "environments": [env.as_dict(self.now) for env in self.environments]}


def read_previews(repo: EnvRepo, branch: str, directory: str) -> list[PreviewEnv]:
    """Every preview file on ``branch`` (one blob fetch for all of them); [] when the branch is absent."""
    if repo.head(branch) is None:
        return []
    directory = directory.strip("/")
    paths = [path for path in repo.list_files(branch, directory) if _is_preview_file(path, directory)]
    texts = repo.read_files(branch, paths)
    return [parse_preview(path, text or "") for path, text in texts.items()]


def preview_list(session: Session) -> PreviewList:
    settings = session.config.previews
    with session.env_repo([settings.dir]) as repo:
        found = read_previews(repo, settings.branch, settings.dir)
    found.sort(key=lambda env: (env.id is None, env.id or 0, env.project, env.path))
    return PreviewList(settings.branch, found, _now())


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
        for project, numbers in sorted(wanted.items()):
            try:
                forge = self.factory(project)
                self.lookups += 1
                states = forge.list_request_states(sorted(numbers))
            except (ForgeError, ConfigError) as exc:
                LOG.warning("preview gc: keeping every preview of %s: %s", _one_line(project), exc)
                self.failed[project] = str(exc)
                continue
            self.states.setdefault(project, {}).update(states)

    def __call__(self, worktree: Path) -> ChangeSet:
        self.deleted, self.skipped, self.kept = [], [], 0
        envs = scan_worktree(worktree, self.directory)
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
            (worktree / entry.path).unlink()
        paths = [entry.path for entry in self.deleted]
        return ChangeSet(changes=paths, paths=paths)

    def message(self, _changes: ChangeSet) -> str:
        lines = [
            f"- {Path(e.path).stem}: request {e.id} of {_one_line(e.project) or '?'} {e.reason}"
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
) -> GcResult:
    """Delete the previews of closed, merged or vanished requests and expired ones, in one commit."""
    settings = session.config.previews
    limit = settings.max_delete if max_delete is None else max_delete
    if limit < 0:
        raise UsageError("--max-delete must be 0 or more")
    plan = _Gc(session, forge_factory or default_forge_factory(session), now or _now(), limit)
    with session.env_repo([settings.dir]) as repo:
        if repo.head(settings.branch) is None:
            return GcResult(_unchanged(settings.branch))
        outcome = repo.transaction(settings.branch, plan, plan.message, dry_run=dry_run)
    errors = [f"{project}: {error}" for project, error in sorted(plan.failed.items())]
    return GcResult(
        delivery=Delivery.from_transaction(outcome),
        deleted=plan.deleted,
        skipped=plan.skipped,
        kept=plan.kept,
        errors=errors,
        api_lookups=plan.lookups,
    )


def format_age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


__all__ = [
    "GcEntry",
    "GcResult",
    "PreviewEnv",
    "PreviewList",
    "PreviewOutcome",
    "UpOptions",
    "format_age",
    "format_timestamp",
    "parse_preview",
    "preview_down",
    "preview_down_for_event",
    "preview_gc",
    "preview_list",
    "preview_up",
    "preview_url",
    "read_previews",
    "scan_worktree",
]

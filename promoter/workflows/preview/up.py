"""``preview up``: render a request's environment once, then only splice new tags into it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promoter.envrepo import ChangeSet, EnvRepo, with_trailers
from promoter.errors import (
    ConfigError,
    ImageReferenceError,
    InputError,
    PromoterError,
    UnsafeTargetError,
    UsageError,
)
from promoter.safepath import SafeTree
from promoter.templating import (
    ANNOTATION_EXPIRES,
    ANNOTATION_IMAGE,
    ANNOTATION_TAG,
    BUNDLED_TEMPLATES,
    DEFAULT_NAMESPACE_TEMPLATE,
    PreviewContext,
    PreviewTemplate,
    load_template,
    preview_path,
    render_preview,
    render_template,
    slugify,
)
from promoter.workflows.delivery_result import Delivery
from promoter.workflows.preview.common import (
    PreviewOutcome,
    one_line,
    preview_trailers,
)
from promoter.workflows.preview.files import (
    ANNOTATION_COMMIT,
    LOG,
    PreviewEnv,
    mentions_id,
    parse_preview,
    scan_worktree,
    utc_now,
)
from promoter.workflows.session import Session

if TYPE_CHECKING:  # pragma: no cover
    from promoter.yamledit.scalar import ValueType


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
        self.url: str | None = None
        self.path: str | None = None
        self.mode: str | None = None

    def context(self, slug: str, created_at: str | None = None) -> PreviewContext:
        now = utc_now()
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
            namespace_template=getattr(self.session.config.previews, "namespace", DEFAULT_NAMESPACE_TEMPLATE),
            extra=self.v.values,
        )
        if created_at:
            ctx = replace(ctx, created_at=created_at)
        return ctx

    def __call__(self, worktree: Path) -> ChangeSet:
        """Everything is rendered (file, URL, namespace, annotations) and every path checked before the
        file is written, so a template error leaves nothing behind to push."""
        tree = SafeTree(worktree, label=self.session.config.previews.branch)
        self.url = None
        existing = self._find(tree)
        if existing is not None:
            self.path = existing.path
            slug = existing.slug
            self.ctx = self.context(slug, existing.created_at or None)
            self.url = preview_url(self.v.values, self.ctx)
            if self.rerender:
                self.mode = "rerendered"
                return self._write(tree, render_preview(self.template, self.ctx))
            self.mode = "updated"
            return self._update(tree, existing)
        slug = slugify(self.v.branch)
        path = preview_path(self.directory, slug)
        if tree.exists(path):  # another request (another project) owns that name
            slug = slugify(f"{self.v.project}/{self.v.branch}#{self.v.id}")
            path = preview_path(self.directory, slug)
        self.path = path
        self.mode = "created"
        self.ctx = self.context(slug)
        text = render_preview(self.template, self.ctx)
        self.url = preview_url(self.v.values, self.ctx)
        return self._write(tree, text)

    def _find(self, tree: SafeTree) -> PreviewEnv | None:
        """The request's file: the slug's file first (the usual case), else a scan of the annotations."""
        branch = self.session.config.previews.branch
        expected = preview_path(self.directory, slugify(self.v.branch))
        candidates: list[PreviewEnv] = []
        if tree.is_file(expected):
            first = parse_preview(expected, tree.read_text(expected))
            if first.matches(self.v.id, self.v.project):
                return first
        candidates = [
            env
            for env in scan_worktree(tree.root, self.directory, keep=mentions_id(self.v.id), label=branch)
            if env.matches(self.v.id, self.v.project)
        ]
        if len(candidates) > 1:
            paths = ", ".join(env.path for env in candidates)
            raise InputError(
                f"several preview files belong to request {self.v.id}: {paths}",
                where=branch,
                hint="delete all but one (promoter preview down, then up)",
            )
        return candidates[0] if candidates else None

    def _write(self, tree: SafeTree, text: str) -> ChangeSet:
        assert self.path is not None
        if tree.is_file(self.path) and tree.read_text(self.path) == text:
            return ChangeSet()
        tree.write_text(self.path, text)
        return ChangeSet(changes=[f"{self.path}: {self.mode}"], paths=[self.path])

    def _update(self, tree: SafeTree, existing: PreviewEnv) -> ChangeSet:
        """Byte-minimal: only the scalars that carry the tag, image or commit change, and manual edits stay.

        Where the template puts them is found by rendering it twice, with the values the preview records (its
        tag, image and commit annotations) and with the new ones: a scalar that differs between the two
        renderings, and still holds what the old one put there, gets the new rendering's value (a Helm
        ``image.tag`` parameter, a label, an environment variable). The image finders and the annotations
        cover what the renderings cannot (a file from an older template). The expiry moves on only with a
        real change, so repeating ``up`` is "unchanged".
        """
        from ruamel.yaml.nodes import ScalarNode

        from promoter.yamledit import ScalarEdit, YamlDocument, apply_edits

        assert self.ctx is not None
        name = f"{self.session.config.previews.branch}:{existing.path}"
        document = YamlDocument.parse(tree.read_text(existing.path, name), name)
        rendered = self._rendered_edits(document, existing)
        try:
            found = self._image_edits(document)
        except UnsafeTargetError:
            if not rendered:
                raise
            found = []  # the renderings located the tag where the finders could not edit it
        found_image = bool(rendered) or bool(found) or (rendered is not None and self._same_version(existing))
        annotations = {ANNOTATION_TAG: self.v.tag, ANNOTATION_IMAGE: self.v.image}
        if self.v.sha:
            annotations[ANNOTATION_COMMIT] = self.v.sha
        noted: list[ScalarEdit] = []
        expiry: list[ScalarEdit] = []
        for doc, path, node in document.walk():
            if len(path) < 2 or path[-2] != "annotations" or not isinstance(node, ScalarNode):
                continue
            if path[-1] in annotations:
                noted.append(ScalarEdit(document.locate(path, doc), annotations[str(path[-1])]))
                found_image = found_image or path[-1] == ANNOTATION_TAG
            elif path[-1] == ANNOTATION_EXPIRES and self.ctx.expires_at:
                expiry.append(ScalarEdit(document.locate(path, doc), self.ctx.expires_at))
        if not found_image:
            raise InputError(
                f"cannot find where {existing.path} sets the image {self.v.image}",
                where=document.name,
                hint="pass --rerender to render the file afresh (manual changes are lost)",
            )
        edits = _one_per_scalar([*(rendered or []), *found, *noted])
        if not apply_edits(document, edits).changed:
            return ChangeSet()
        result = apply_edits(document, _one_per_scalar(edits + expiry))
        tree.write_text(existing.path, result.new_text)
        return ChangeSet(changes=result.changes, paths=[existing.path])

    def _same_version(self, existing: PreviewEnv) -> bool:
        return existing.tag == self.v.tag and (existing.image or self.v.image) == self.v.image

    def _rendered_edits(self, document: Any, existing: PreviewEnv) -> list[Any] | None:
        """Edits found by rendering the template with the recorded and the new values (see ``_update``);
        None when that cannot be done (no recorded tag, or the template no longer renders)."""
        from promoter.templating import preview_annotations
        from promoter.yamledit import ScalarEdit, YamlDocument

        assert self.ctx is not None
        if not existing.tag:
            return None
        recorded = preview_annotations(document.text, origin=document.name)
        before_ctx = replace(
            self.ctx,
            tag=existing.tag,
            image=existing.image or self.v.image,
            sha=recorded.get(ANNOTATION_COMMIT, self.ctx.sha),
        )
        try:
            before = YamlDocument.parse(render_preview(self.template, before_ctx), "<before>")
            after = YamlDocument.parse(render_preview(self.template, self.ctx), "<after>")
        except PromoterError as exc:
            LOG.debug("cannot render %s to locate its tag: %s", existing.path, exc)
            return None
        new_scalars = _scalars(after)
        edits = []
        for place, old in _scalars(before).items():
            new = new_scalars.get(place)
            if new is None or new.value == old.value:
                continue
            doc, path = place
            try:
                target = document.locate(path, doc)
            except PromoterError:
                continue  # not there any more, or not editable in place: left alone
            if target.node.value != old.value:
                continue  # changed by hand: kept
            edits.append(ScalarEdit(target, new.value, _VALUE_TYPES.get(new.tag, "str")))
        return edits

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


_VALUE_TYPES: dict[str, ValueType] = {
    "tag:yaml.org,2002:int": "int",
    "tag:yaml.org,2002:float": "float",
    "tag:yaml.org,2002:bool": "bool",
}


def _scalars(document: Any) -> dict[tuple[int, tuple[Any, ...]], Any]:
    from ruamel.yaml.nodes import ScalarNode

    return {(doc, path): node for doc, path, node in document.walk() if isinstance(node, ScalarNode)}


def _one_per_scalar(edits: list[Any]) -> list[Any]:
    """The first edit of each scalar (the renderings' before the finders' before the annotations')."""
    seen: set[tuple[int, int]] = set()
    out = []
    for edit in edits:
        span = (edit.target.start, edit.target.end)
        if span not in seen:
            seen.add(span)
            out.append(edit)
    return out


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
            body = f"Source branch: {one_line(values.branch)!r}"
            return with_trailers(
                f"{subject}\n\n{body}", preview_trailers(session, values.id, values.project, "up")
            )

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
        url=plan.url,
        tag=values.tag,
        mode=plan.mode if outcome.status != "unchanged" else None,
    )


# --- down --------------------------------------------------------------------------------------------

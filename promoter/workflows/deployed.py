"""What an environment runs: read an app's tag (and digest) from its files, and plan writing a new one.

``bump``, ``promote`` and ``status`` all answer "which version of app X is configured in environment E" the
same way: each of the app's files for E (``App.files_for``) is read at ``E.path/file`` on ``E.branch``; an
explicit ``key`` holds either a bare ``tag[@digest]`` or a whole reference to the app's image, and a file
without a key is searched by the image finders for references to the app's repository. Writing goes the
same way backwards (:func:`plan_file`), so a value read in one environment can be written into another
whose keys and layout differ.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promoter.config import App, Environment, FileTarget
from promoter.errors import ConfigError, ImageNotFoundInFileError, ImageReferenceError, InputError
from promoter.imageref import ImageRef
from promoter.yamledit import ScalarEdit, YamlDocument


@dataclass(frozen=True)
class Version:
    """One place's version: a tag, a digest, or both."""

    tag: str | None
    digest: str | None = None

    def __str__(self) -> str:
        text = self.tag or ""
        return f"{text}@{self.digest}" if self.digest else text


@dataclass
class AppVersion:
    """What ``env`` says about ``app``: the versions found in its files, in file order, without repeats."""

    app: str
    env: str
    versions: list[Version] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # configured files absent from the branch
    where: list[str] = field(default_factory=list)  # branch:path of every file read

    @property
    def tags(self) -> list[str]:
        return list(dict.fromkeys(v.tag for v in self.versions if v.tag))

    @property
    def tag(self) -> str | None:
        """The tag when the files agree on one; None when there is none (or they disagree)."""
        tags = self.tags
        return tags[0] if len(tags) == 1 else None

    @property
    def digest(self) -> str | None:
        digests = list(dict.fromkeys(v.digest for v in self.versions if v.digest))
        return digests[0] if len(digests) == 1 else None

    @property
    def found(self) -> bool:
        return bool(self.versions)

    def single(self) -> Version:
        """The one version every file agrees on; :class:`InputError` (exit 3) otherwise."""
        distinct = list(dict.fromkeys(self.versions))
        if len(distinct) == 1 and distinct[0].tag:
            return distinct[0]
        where = ", ".join(self.where) or self.env
        if not distinct:
            raise InputError(
                f"no version of {self.app} found in {self.env}",
                where=where,
                hint="check the app's files and keys in promoter.yaml",
            )
        if not any(v.tag for v in distinct):
            raise InputError(
                f"{self.app} in {self.env} is pinned by digest only; no tag to copy", where=where
            )
        raise InputError(
            f"{self.app} in {self.env} has different versions in its files: "
            + ", ".join(str(v) for v in distinct),
            where=where,
            hint=f"make the files agree first (promoter bump {self.env} --app {self.app} --tag TAG)",
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "digest": self.digest,
            "tags": self.tags,
            "missing": self.missing,
        }


def app_paths(env: Environment, apps: Iterable[App]) -> list[str]:
    """Repo-relative paths of every file of ``apps`` in ``env`` (sorted, without repeats)."""
    return sorted({env.file_path(target.file) for app in apps for target in app.files_for(env.name)})


def read_versions(
    env: Environment,
    apps: Iterable[App],
    texts: Mapping[str, str | None],
    *,
    advance: Callable[[], object] | None = None,
) -> dict[str, AppVersion]:
    """Versions of ``apps`` in ``env`` from ``texts`` (path -> text or None, as ``EnvRepo.read_files`` gives).

    Each file is parsed once however many apps it holds; ``advance`` is called after each app (progress).
    """
    documents: dict[str, YamlDocument | None] = {}
    out: dict[str, AppVersion] = {}
    for app in apps:
        found = AppVersion(app.name, env.name)
        for target in app.files_for(env.name):
            path = env.file_path(target.file)
            found.where.append(f"{env.branch}:{path}")
            if path not in documents:
                text = texts.get(path)
                documents[path] = None if text is None else YamlDocument.parse(text, f"{env.branch}:{path}")
            document = documents[path]
            if document is None:
                found.missing.append(path)
                continue
            for version in versions_in(document, target, app):
                if version not in found.versions:
                    found.versions.append(version)
        out[app.name] = found
        if advance is not None:
            advance()
    return out


def versions_in(document: YamlDocument, target: FileTarget, app: App) -> list[Version]:
    """The versions of ``app``'s image that ``target`` (a key, or the finders) names in ``document``."""
    image = ImageRef.parse(app.image)
    if target.key is not None:
        located = document.locate(target.key, target.doc)
        if (located.node.tag or "").endswith(":null"):
            return []
        current = located.value
        whole = _parse_reference(current, image)
        if whole is not None:
            return [Version(whole.tag, whole.digest)] if whole.tag or whole.digest else []
        tag, _, digest = current.partition("@")
        return [Version(tag or None, digest or None)] if current else []
    from promoter.yamledit.finders import find_sites

    out: list[Version] = []
    for site in find_sites(document, near=image):
        if site.image.same_repository(image) and (site.image.tag or site.image.digest):
            version = Version(site.image.tag, site.image.digest)
            if version not in out:
                out.append(version)
    return out


def plan_file(
    document: YamlDocument, key: str | None, doc: int | None, app: App, ref: ImageRef
) -> tuple[list[ScalarEdit], list[str]]:
    """Edits that make one configured file of ``app`` say ``ref``, and the tags found there before."""
    if key is not None:
        target = document.locate(key, doc)
        current = None if (target.node.tag or "").endswith(":null") else target.value
        written = as_reference(current, ref)
        if written is not None:
            old = ImageRef.parse(current or "").tag
            return [ScalarEdit(target, written)], [old] if old else []
        value = ref.tag or ""
        if ref.digest:
            value += f"@{ref.digest}"
        old_tag = (current or "").split("@", 1)[0]
        return [ScalarEdit(target, value)], [old_tag] if old_tag else []
    from promoter.yamledit.finders import plan_image_update

    edits, sites = plan_image_update(document, ref)
    if not edits:
        from promoter.yamledit.finders import find_sites

        found = sorted({str(site.image) for site in find_sites(document)})
        raise ImageNotFoundInFileError(
            f"{document.name} has no editable reference to {ref.name} (app {app.name})",
            where=document.name,
            hint="images found there: "
            + (", ".join(found[:10]) or "none")
            + "; or give the key explicitly in promoter.yaml (files: [{file: ..., key: ...}])",
        )
    old_tags = [site.image.tag for site in sites if site.image.same_repository(ref) and site.image.tag]
    return edits, old_tags


def as_reference(current: str | None, ref: ImageRef) -> str | None:
    """When the key holds a whole reference to the app's image, the new whole reference; else None."""
    parsed = _parse_reference(current, ref)
    return None if parsed is None else str(parsed.with_version(ref.tag, ref.digest))


def _parse_reference(current: str | None, image: ImageRef) -> ImageRef | None:
    if not current or ("/" not in current and ":" not in current):
        return None
    try:
        parsed = ImageRef.parse(current)
    except ImageReferenceError:
        return None
    return parsed if parsed.same_repository(image) else None


def require_files(app: App, env: Environment, source: str) -> Sequence[FileTarget]:
    files = app.files_for(env.name)
    if not files:
        raise ConfigError(f"app {app.name} lists no files for {env.name}", where=source)
    return files

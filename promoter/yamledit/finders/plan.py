"""Find every image reference in a file, plan the edits for one image, and apply them to many files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from promoter.errors import ImageNotFoundInFileError, ImageReferenceError, UnsafeTargetError
from promoter.imageref import ImageRef
from promoter.yamledit.document import YamlDocument
from promoter.yamledit.finders import argocd, flux, helm, kustomize, strings
from promoter.yamledit.finders.base import ImageSite, iter_mappings
from promoter.yamledit.splice import Change, EditResult, ScalarEdit, apply_edits

# Flux markers first: they are the most specific statement about a place.
STRATEGIES = (flux.find, helm.find, strings.find, kustomize.find, argocd.find)
_LISTED = 25


def find_sites(document: YamlDocument, near: ImageRef | None = None) -> list[ImageSite]:
    """Every image reference in ``document``, found by every strategy (one walk over the mappings).

    With ``near``, every reference to ``near``'s repository and others that happen to sit in the same
    pieces of the file: only pieces whose text can name that repository are composed and walked.
    """
    visits = list(iter_mappings(document, near_token(near) if near is not None else None))
    sites: list[ImageSite] = []
    for strategy in STRATEGIES:
        sites.extend(strategy(visits))
    return sites


def plan_image_update(document: YamlDocument, new: ImageRef) -> tuple[list[ScalarEdit], list[ImageSite]]:
    """Edits that make every editable site of ``new``'s repository say ``new``, plus all sites found.

    Sites are matched by repository only (never by the old tag). Two strategies may name the same scalar
    (a Flux-marked Kustomize entry); equal edits of one place are merged by :func:`apply_edits`.
    """
    sites = find_sites(document, near=new)
    edits: list[ScalarEdit] = []
    for site in sites:
        if site.editable and site.image.same_repository(new):
            edits.extend(site.edits_for(new))
    _refuse_shared(edits, sites, new)
    return edits, sites


def near_token(image: ImageRef) -> str:
    """Text every reference to ``image``'s repository holds: the last path component of the repository
    (registries, ``library/`` and ``docker.io`` are spelled in several ways; the last component never)."""
    return image.repository.rsplit("/", 1)[-1]


def _refuse_shared(edits: list[ScalarEdit], sites: list[ImageSite], new: ImageRef) -> None:
    """Refuse an edit of a value another image reads too (a tag both take from one ``<<`` merge)."""
    edited = {id(edit.target.node): edit for edit in edits}
    if not edited:
        return
    for site in sites:
        if site.image.same_repository(new):
            continue
        shared = next((edited[node] for node in site.reads if node in edited), None)
        if shared is not None:
            raise UnsafeTargetError(
                f"{shared.target.key} is also the version of {site.image.name} at {site.key} "
                "(both take it from one `<<` merge): editing it would change that image too",
                where=shared.target.where,
                hint=f"give {site.key} its own value first, or edit the file by hand",
            )


@dataclass
class SetImageResult:
    """What ``set_image`` did: every changed value, places it could not edit, and the files written."""

    changes: list[Change] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    results: list[EditResult] = field(default_factory=list, repr=False)

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    @property
    def diffs(self) -> dict[str, str]:
        """Unified diff per changed file (computed on demand: a large file's diff is not free)."""
        return {r.document.name: r.diff() for r in self.results if r.changed}


def parse_new_image(image: str) -> ImageRef:
    new = ImageRef.parse(image)
    if new.tag is None and new.digest is None:
        raise ImageReferenceError(
            f"{image!r} names no version",
            hint=f"pass a tag or a digest, e.g. {image}:1.2.3 or {image}@sha256:<digest>",
        )
    return new


def set_image(
    paths: Sequence[Path | str], image: str, *, write: bool = True, names: Sequence[str] | None = None
) -> SetImageResult:
    """Point every reference to ``image``'s repository in ``paths`` at ``image``.

    All files are read, planned and verified before anything is written; then each changed file is
    replaced atomically. Raises :class:`ImageNotFoundInFileError` (listing what was found) when no file
    refers to the repository, and :class:`UnsafeTargetError` when it is referred to only in places that
    cannot be edited in place.
    """
    new = parse_new_image(image)
    labels = list(names) if names is not None else [str(p) for p in paths]
    results: list[tuple[Path, EditResult]] = []
    documents: list[YamlDocument] = []
    unsupported: list[str] = []
    matched = 0
    for path, label in zip(paths, labels):
        document = YamlDocument.read(path, label)
        documents.append(document)
        edits, sites = plan_image_update(document, new)
        for site in sites:
            if site.image.same_repository(new):
                matched += 1
                if not site.editable:
                    unsupported.append(site.describe())
        if edits:
            results.append((Path(path), apply_edits(document, edits)))
    if not matched:
        raise _not_found(new, labels, [site for document in documents for site in find_sites(document)])
    if not results:
        raise UnsafeTargetError(
            f"{new.name} is referred to only in places promoter cannot edit in place",
            where=unsupported[0].split(" ", 1)[0] if unsupported else None,
            hint="; ".join(unsupported),
        )
    outcome = SetImageResult(unsupported=unsupported)
    for _, result in results:
        outcome.changes.extend(result.changes)
        outcome.results.append(result)
    if write:
        for path, result in results:
            if result.changed:
                result.write(path)
                outcome.written.append(result.document.name)
    return outcome


def _not_found(new: ImageRef, labels: list[str], found: list[ImageSite]) -> ImageNotFoundInFileError:
    files = ", ".join(labels)
    listed: dict[str, str] = {}
    for site in found:
        listed.setdefault(str(site.image), site.where)
    if listed:
        lines = [f"{image} ({where})" for image, where in list(listed.items())[:_LISTED]]
        more = len(listed) - _LISTED
        hint = "images found: " + "; ".join(lines) + (f"; and {more} more" if more > 0 else "")
    else:
        hint = "no image references were found in these files"
    return ImageNotFoundInFileError(f"no reference to {new.name} in {files}", where=labels[0], hint=hint)

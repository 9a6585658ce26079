"""Plain ``image: repo:tag`` strings: containers, initContainers, operator CRs, anywhere.

A mapping whose ``image`` is a string and that also holds ``tag``/``digest``/``repository`` is a Helm block
(``image`` names the repository there), so it is left to the helm-block finder. A tagless ``image: repo``
gets ``:tag`` appended; a digest in the string is replaced, or removed when the new reference has none.
"""

from __future__ import annotations

from collections.abc import Iterable

from promoter.imageref import ImageRef
from promoter.yamledit.finders.base import ImageSite, MappingVisit, parse_ref, version_reads
from promoter.yamledit.splice import ScalarEdit

FINDER = "image-string"
BLOCK_KEYS = ("tag", "digest", "sha", "repository", "registry")


def find(visits: Iterable[MappingVisit]) -> list[ImageSite]:
    sites = []
    for visit in visits:
        if "image" in visit.fields:
            site = site_of(visit)
            if site is not None:
                sites.append(site)
    return sites


def site_of(visit: MappingVisit, key: str = "image", finder: str = FINDER) -> ImageSite | None:
    if any(other in visit.fields for other in BLOCK_KEYS):
        return None
    image = parse_ref(visit.text(key))
    if image is None:
        return None

    def edits_for(new: ImageRef) -> list[ScalarEdit]:
        return [visit.edit(key, str(retarget(image, new)))]

    return ImageSite(
        finder,
        image,
        visit.key_of(key),
        visit.where_of(key),
        visit.doc,
        edits_for,
        reads=version_reads(visit, key),
    )


def retarget(current: ImageRef, new: ImageRef) -> ImageRef:
    """``current`` as written (registry spelling kept) with ``new``'s tag and digest.

    A new reference without a tag keeps the current tag; one without a digest drops the current digest.
    """
    return current.with_version(new.tag if new.tag is not None else current.tag, new.digest)

"""Flux image-automation setter comments: ``# {"$imagepolicy": "ns:policy[:tag|:name|:digest]"}``.

The composer drops comments, so the marker is read from the text right after each scalar value on its
line. A marker without a suffix marks a full reference (``image: repo:tag # {...}``); ``:tag``, ``:name``
and ``:digest`` mark the parts of a split reference in one mapping. Matching is still by repository: the
``:name`` value, else the mapping's own ``newName``/``name`` or ``registry`` + ``repository``/``image``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from promoter.imageref import ImageRef
from promoter.yamledit.finders import strings
from promoter.yamledit.finders.base import (
    ImageSite,
    MappingVisit,
    is_empty,
    join_name,
    parse_ref,
    with_version,
)
from promoter.yamledit.splice import ScalarEdit

FINDER = "flux-setter"
MARKER = "$imagepolicy"
_AFTER_VALUE = re.compile(r'[ \t]*#[ \t]*\{[ \t]*"\$imagepolicy"[ \t]*:[ \t]*"(?P<policy>[^"]*)"[ \t]*\}')
_SUFFIXES = ("tag", "name", "digest")


def find(visits: Iterable[MappingVisit]) -> list[ImageSite]:
    sites: list[ImageSite] = []
    for visit in visits:
        body = visit.document.body
        if MARKER not in body:
            return []
        marked = markers(visit)
        if marked:
            sites.extend(_sites(visit, marked))
    return sites


def markers(visit: MappingVisit) -> dict[str, str | None]:
    """Keys of ``visit`` whose scalar value carries a setter marker -> the marker's suffix (None = full)."""
    from ruamel.yaml.nodes import ScalarNode

    body = visit.document.body
    found: dict[str, str | None] = {}
    for key, (_, value) in visit.fields.items():
        if not isinstance(value, ScalarNode):
            continue
        match = _AFTER_VALUE.match(body, value.end_mark.index)
        if match is None:
            continue
        parts = match.group("policy").split(":")
        suffix = parts[2] if len(parts) == 3 and parts[2] in _SUFFIXES else None
        found[key] = suffix
    return found


def _sites(visit: MappingVisit, marked: dict[str, str | None]) -> list[ImageSite]:
    sites: list[ImageSite] = []
    for key, suffix in marked.items():
        if suffix is None:
            image = parse_ref(visit.text(key))
            if image is not None:
                sites.append(_full_site(visit, key, image))
    parts = {suffix: key for key, suffix in marked.items() if suffix is not None}
    if "tag" in parts or "digest" in parts:
        site = _split_site(visit, parts)
        if site is not None:
            sites.append(site)
    return sites


def _full_site(visit: MappingVisit, key: str, image: ImageRef) -> ImageSite:
    def edits_for(new: ImageRef) -> list[ScalarEdit]:
        return [visit.edit(key, str(strings.retarget(image, new)))]

    return ImageSite(FINDER, image, visit.key_of(key), visit.where_of(key), visit.doc, edits_for)


def _split_site(visit: MappingVisit, parts: dict[str, str]) -> ImageSite | None:
    name = None
    if "name" in parts:
        name = join_name(None, visit.text(parts["name"]) or "")
    if name is None:
        repository = next(
            (visit.text(k) for k in ("newName", "name", "repository", "image") if visit.text(k)), ""
        )
        name = join_name(visit.text("registry"), repository) if repository else None
    if name is None:
        return None
    tag_key, digest_key = parts.get("tag"), parts.get("digest")
    image = with_version(
        name, visit.text(tag_key) if tag_key else None, visit.text(digest_key) if digest_key else None
    )
    report_key = tag_key or digest_key or ""

    def edits_for(new: ImageRef) -> list[ScalarEdit]:
        edits = []
        if tag_key is not None and new.tag is not None:
            edits.append(visit.edit(tag_key, new.tag))
        if digest_key is not None:
            if new.digest is not None:
                edits.append(visit.edit(digest_key, new.digest))
            elif not is_empty(visit.scalar(digest_key)):
                edits.append(visit.edit(digest_key, ""))
        return edits

    return ImageSite(
        FINDER, image, visit.key_of(report_key), visit.where_of(report_key), visit.doc, edits_for
    )

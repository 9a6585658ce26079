"""Kustomize ``images:`` entries: ``name`` / ``newName`` / ``newTag`` / ``digest``.

The image an entry deploys is ``newName`` when present, else ``name``; that is what is matched. The new
tag goes into ``newTag``. Kustomize prefers ``digest`` over ``newTag``, so a stale digest is emptied when
the new reference has none, and written when it has one.
"""

from __future__ import annotations

from collections.abc import Iterable

from promoter.imageref import ImageRef
from promoter.yamledit.finders.base import (
    ImageSite,
    MappingVisit,
    is_empty,
    join_name,
    missing_field,
    version_reads,
    with_version,
)
from promoter.yamledit.splice import ScalarEdit

FINDER = "kustomize"
ENTRY_KEYS = ("newName", "newTag", "digest")


def find(visits: Iterable[MappingVisit]) -> list[ImageSite]:
    sites = []
    for visit in visits:
        path = visit.path
        if len(path) >= 2 and path[-2] == "images" and isinstance(path[-1], int):
            site = site_of(visit)
            if site is not None:
                sites.append(site)
    return sites


def site_of(visit: MappingVisit) -> ImageSite | None:
    if not any(key in visit.fields for key in ENTRY_KEYS):
        return None
    name_key = "newName" if visit.text("newName") else "name"
    name = join_name(None, visit.text(name_key) or "")
    if name is None:
        return None
    image = with_version(name, visit.text("newTag"), visit.text("digest"))
    report_key = "newTag" if "newTag" in visit.fields else name_key

    def edits_for(new: ImageRef) -> list[ScalarEdit]:
        edits = []
        if new.tag is not None:
            if "newTag" not in visit.fields:
                raise missing_field(visit, "newTag", f"tag {new.tag} cannot be written")
            edits.append(visit.edit("newTag", new.tag))
        if new.digest is not None:
            if "digest" not in visit.fields:
                raise missing_field(visit, "digest", f"digest {new.digest} cannot be written")
            edits.append(visit.edit("digest", new.digest))
        elif "digest" in visit.fields and not is_empty(visit.scalar("digest")):
            edits.append(visit.edit("digest", ""))
        return edits

    return ImageSite(
        FINDER,
        image,
        visit.key_of(report_key),
        visit.where_of(report_key),
        visit.doc,
        edits_for,
        reads=version_reads(visit, "newTag", "digest"),
    )

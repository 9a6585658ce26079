"""Helm-style image blocks: a mapping with ``repository`` (or ``image`` or ``name``) and ``tag``.

Optional ``registry`` is joined in front of the repository for matching; ``digest`` (``sha256:...``) and
``sha`` (bare hex, as kube-prometheus-stack and grafana write it) are pinned or emptied with the tag, so a
stale digest never survives a new tag. ``digestChroot`` (ingress-nginx) names a sibling image's digest: it
is emptied whenever the block changes. The block may sit under any key (``image``, ``thanosImage``,
``solrImage``, ``redis``) and anywhere, also inside an Argo CD ``helm.valuesObject``, and may take its
fields from ``<<: *anchor`` merges.

Without a digest field, a tag written ``VERSION@sha256:...`` (Renovate, the bjw-s app-template) holds both:
it reads as that version and digest, and a new reference is written back the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from promoter.imageref import ImageRef, split_pinned_tag
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

FINDER = "helm-block"
NAME_KEYS = ("repository", "image", "name")
DIGEST_KEYS = ("digest", "sha")
STALE_KEYS = ("digestChroot",)


def find(visits: Iterable[MappingVisit]) -> list[ImageSite]:
    sites = []
    for visit in visits:
        if "tag" in visit.fields:
            site = site_of(visit)
            if site is not None:
                sites.append(site)
    return sites


def site_of(visit: MappingVisit) -> ImageSite | None:
    fields = visit.fields
    if "tag" not in fields or visit.scalar("tag") is None:
        return None
    name_key = next((key for key in NAME_KEYS if visit.text(key)), None)
    if name_key is None:
        return None
    name = join_name(visit.text("registry"), visit.text(name_key) or "")
    if name is None:
        return None
    tag = visit.text("tag")
    digest_key = next((key for key in DIGEST_KEYS if key in fields), None)
    digest = _read_digest(visit, digest_key)
    pinned = split_pinned_tag(tag) if digest_key is None else None
    if pinned is not None:
        tag, digest = pinned
    image = with_version(name, tag, digest)

    def edits_for(new: ImageRef) -> list[ScalarEdit]:
        edits = []
        if pinned is not None:
            version = new.tag if new.tag is not None else pinned[0]
            edits.append(visit.edit("tag", f"{version}@{new.digest}" if new.digest else version))
        elif new.tag is not None:
            edits.append(visit.edit("tag", new.tag))
        if digest_key is None:
            if new.digest is not None and pinned is None:
                raise missing_field(
                    visit,
                    "digest",
                    f"digest {new.digest} cannot be written",
                    also="or write the tag as VERSION@DIGEST once if the chart joins repository:tag",
                )
        elif new.digest is not None:
            edits.append(visit.edit(digest_key, _digest_text(visit, digest_key, new.digest)))
        elif not is_empty(visit.scalar(digest_key)):
            edits.append(visit.edit(digest_key, ""))
        for key in STALE_KEYS:
            if key in fields and not is_empty(visit.scalar(key)):
                edits.append(visit.edit(key, ""))
        return edits

    return ImageSite(
        FINDER,
        image,
        visit.key_of("tag"),
        visit.where_of("tag"),
        visit.doc,
        edits_for,
        reads=version_reads(visit, "tag", digest_key, *STALE_KEYS),
    )


def _read_digest(visit: MappingVisit, key: str | None) -> str | None:
    value = visit.text(key) if key else None
    if value and key == "sha" and ":" not in value:
        return f"sha256:{value}"
    return value


def _digest_text(visit: MappingVisit, key: str, digest: str) -> str:
    """``sha`` fields hold the bare hex (the chart adds ``@sha256:``) unless the file already writes it."""
    current = visit.text(key) or ""
    if key == "sha" and not current.startswith("sha256:") and digest.startswith("sha256:"):
        return digest.split(":", 1)[1]
    return digest

"""Small helpers shared by the finder tests: parse text, find sites, apply one image update."""

from __future__ import annotations

from promoter.imageref import ImageRef
from promoter.yamledit import YamlDocument, apply_edits
from promoter.yamledit.finders import ImageSite, find_sites, plan_image_update

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


def sites(text: str, finder: str | None = None) -> list[ImageSite]:
    found = find_sites(YamlDocument.parse(text, "t.yaml"))
    return [site for site in found if finder is None or site.finder == finder]


def update(text: str, image: str) -> str:
    document = YamlDocument.parse(text, "t.yaml")
    edits, _ = plan_image_update(document, ImageRef.parse(image))
    return apply_edits(document, edits).new_text

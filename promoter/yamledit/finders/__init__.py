"""Image finders for ``set-image``: each strategy is a small module that reports :class:`ImageSite` records.

=====================  =================================================================================
``helm-block``         ``{registry, repository|image|name, tag, digest|sha}`` mappings under any key
``image-string``       ``image: repo:tag`` strings (containers, initContainers, CRs, anywhere)
``kustomize``          ``images:`` entries (``name`` / ``newName`` / ``newTag`` / ``digest``)
``argocd-parameters``  Argo CD ``helm.parameters`` (``image.repository`` + ``image.tag`` ...)
``argocd-kustomize``   Argo CD ``kustomize.images`` strings (``name=ref:tag``)
``flux-setter``        Flux ``# {"$imagepolicy": "ns:policy[:tag|:name|:digest]"}`` markers
=====================  =================================================================================

Library API::

    result = set_image([Path("values.yaml")], "registry.example.com/acme/api:1.2.3", write=False)
    edits, sites = plan_image_update(YamlDocument.read("values.yaml"), ImageRef.parse("acme/api:2"))
"""

from __future__ import annotations

from promoter.yamledit.finders.base import ImageSite
from promoter.yamledit.finders.plan import (
    SetImageResult,
    find_sites,
    parse_new_image,
    plan_image_update,
    set_image,
)

__all__ = ["ImageSite", "SetImageResult", "find_sites", "parse_new_image", "plan_image_update", "set_image"]

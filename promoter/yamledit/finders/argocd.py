"""Argo CD Application / ApplicationSet sources (and the ``.argocd-source.yaml`` write-back file).

A source is a mapping at ``...source``, ``...sources[N]`` or the top of a document, holding ``helm`` or
``kustomize``. Found there:

- ``helm.parameters``: ``<prefix>.tag`` with ``<prefix>.repository`` (or ``.image`` / ``.name``), optional
  ``<prefix>.registry`` and ``<prefix>.digest``. Argo CD passes parameters with ``--set`` unless
  ``forceString: true``, so a tag that would read as a number (``1.10``) needs it: it is switched on when the
  key exists, and the edit is refused when it does not.
- ``kustomize.images``: ``ref:tag``, ``ref@digest`` and ``name=ref:tag`` strings (matched on ``ref``).
- ``helm.values`` as a block string: the image references inside it are reported, never rewritten.

``helm.valuesObject`` is plain YAML; the helm-block and image-string finders walk it like any values file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from promoter.errors import InputError, UnsafeTargetError
from promoter.imageref import ImageRef, split_pinned_tag
from promoter.yamledit.document import STR_TAG, Target, YamlDocument, check_editable
from promoter.yamledit.finders import helm, strings
from promoter.yamledit.finders.base import (
    EditsFor,
    ImageSite,
    MappingVisit,
    is_empty,
    iter_mappings,
    join_name,
    parse_ref,
    where,
    with_version,
)
from promoter.yamledit.keypath import KeyPath, Selector, format_key
from promoter.yamledit.scalar import reads_as_non_string
from promoter.yamledit.splice import ScalarEdit

if TYPE_CHECKING:
    from ruamel.yaml.nodes import SequenceNode

PARAMETERS = "argocd-parameters"
KUSTOMIZE = "argocd-kustomize"
VALUES_REFUSAL = "in a Helm `values: |` string of an Argo CD source: not editable in place"
_TAG_PARAM = re.compile(r"^(?:(?P<prefix>.*)(?<!\\)\.)?tag$")
NAME_SUFFIXES = ("repository", "image", "name")


def find(visits: Iterable[MappingVisit]) -> list[ImageSite]:
    sites: list[ImageSite] = []
    for visit in visits:
        path = visit.path
        is_source = not path or path[-1] == "source" or (len(path) >= 2 and path[-2] == "sources")
        if is_source and ("helm" in visit.fields or "kustomize" in visit.fields):
            sites.extend(_source_sites(visit))
    return sites


def _source_sites(source: MappingVisit) -> list[ImageSite]:
    sites: list[ImageSite] = []
    helm_visit = _child(source, "helm")
    if helm_visit is not None:
        sites.extend(_parameter_sites(helm_visit))
        sites.extend(_values_string_sites(helm_visit))
    kustomize_visit = _child(source, "kustomize")
    if kustomize_visit is not None:
        sites.extend(_kustomize_sites(kustomize_visit))
    return sites


def _child(visit: MappingVisit, key: str) -> MappingVisit | None:
    from ruamel.yaml.nodes import MappingNode

    pair = visit.fields.get(key)
    if pair is None or not isinstance(pair[1], MappingNode):
        return None
    return visit.child(key, pair[1])


def _sequence(visit: MappingVisit, key: str) -> SequenceNode | None:
    from ruamel.yaml.nodes import SequenceNode

    pair = visit.fields.get(key)
    return pair[1] if pair is not None and isinstance(pair[1], SequenceNode) else None


# helm.parameters ---------------------------------------------------------------------------------
def _parameter_sites(helm_visit: MappingVisit) -> list[ImageSite]:
    from ruamel.yaml.nodes import MappingNode

    sequence = _sequence(helm_visit, "parameters")
    if sequence is None:
        return []
    base: KeyPath = (*helm_visit.path, "parameters")
    in_flow = helm_visit.in_flow or bool(sequence.flow_style)
    items: list[tuple[int, MappingNode, str]] = []
    for index, item in enumerate(sequence.value):
        if isinstance(item, MappingNode):
            name = helm_visit.child("", item, (), in_flow).text("name")
            if name:
                items.append((index, item, name))
    counts: dict[str, int] = {}
    for _, _, name in items:
        counts[name] = counts.get(name, 0) + 1
    by_name: dict[str, MappingVisit] = {}
    for index, item, name in items:
        segment: Selector | int = Selector("name", name) if counts[name] == 1 else index
        by_name.setdefault(name, helm_visit.child("", item, (*base, segment), in_flow))
    sites = []
    for name, tag_param in by_name.items():
        match = _TAG_PARAM.match(name)
        if match is None or "value" not in tag_param.fields:
            continue
        site = _parameter_site(by_name, match.group("prefix"), tag_param)
        if site is not None:
            sites.append(site)
    return sites


def _parameter_site(
    by_name: dict[str, MappingVisit], prefix: str | None, tag_param: MappingVisit
) -> ImageSite | None:
    def param(suffix: str) -> MappingVisit | None:
        return by_name.get(f"{prefix}.{suffix}" if prefix else suffix)

    repository = next(
        (p.text("value") for p in map(param, NAME_SUFFIXES) if p is not None and p.text("value")), None
    )
    if repository is None:
        return None  # only a tag: the file does not say which image it belongs to
    registry_param = param("registry")
    name = join_name(registry_param.text("value") if registry_param else None, repository)
    if name is None:
        return None
    digest_param = param("digest")
    digest = digest_param.text("value") if digest_param else None
    tag = tag_param.text("value")
    pinned = split_pinned_tag(tag) if digest_param is None else None  # ``1.2.3@sha256:...``
    if pinned is not None:
        tag, digest = pinned
    image = with_version(name, tag, digest)
    digest_name = f"{prefix}.digest" if prefix else "digest"

    def edits_for(new: ImageRef) -> list[ScalarEdit]:
        edits = []
        if pinned is not None:
            version = new.tag if new.tag is not None else pinned[0]
            value = f"{version}@{new.digest}" if new.digest else version
            return [tag_param.edit("value", value), *_force_string(tag_param, value)]
        if new.tag is not None:
            edits.append(tag_param.edit("value", new.tag))
            edits.extend(_force_string(tag_param, new.tag))
        if new.digest is not None:
            if digest_param is None or "value" not in digest_param.fields:
                raise UnsafeTargetError(
                    f"no {digest_name} parameter, so digest {new.digest} cannot be written",
                    where=where(tag_param.document, tag_param.node),
                    hint=f"add a parameter named {digest_name}, or pass the image without @digest",
                )
            edits.append(digest_param.edit("value", new.digest))
        elif digest_param is not None and not is_empty(digest_param.scalar("value")):
            edits.append(digest_param.edit("value", ""))
        return edits

    return ImageSite(
        PARAMETERS, image, tag_param.key_of("value"), tag_param.where_of("value"), tag_param.doc, edits_for
    )


def _force_string(param: MappingVisit, tag: str) -> list[ScalarEdit]:
    if not reads_as_non_string(tag):
        return []
    current = param.scalar("forceString")
    if current is not None and str(current.value).lower() == "true":
        return []
    if current is None:
        raise UnsafeTargetError(
            f"tag {tag!r} would reach Helm as a number: {param.key_of('value')} needs forceString: true",
            where=where(param.document, param.node),
            hint="add `forceString: true` to this parameter, then run again",
        )
    return [ScalarEdit(param.target("forceString"), "true", "bool")]


# kustomize.images --------------------------------------------------------------------------------
def _kustomize_sites(visit: MappingVisit) -> list[ImageSite]:
    from ruamel.yaml.nodes import ScalarNode

    sequence = _sequence(visit, "images")
    if sequence is None:
        return []
    in_flow = visit.in_flow or bool(sequence.flow_style)
    sites = []
    for index, node in enumerate(sequence.value):
        if not isinstance(node, ScalarNode) or node.tag != STR_TAG:
            continue
        alias, _, ref_text = str(node.value).rpartition("=")
        image = parse_ref(ref_text)
        if image is None:
            continue
        path = (*visit.path, "images", index)
        target = Target(visit.document, visit.doc, path, node, in_flow)
        sites.append(
            ImageSite(
                KUSTOMIZE,
                image,
                format_key(path),
                where(visit.document, node),
                visit.doc,
                _kustomize_edits(target, alias, image),
            )
        )
    return sites


def _kustomize_edits(target: Target, alias: str, image: ImageRef) -> EditsFor:
    def edits_for(new: ImageRef) -> list[ScalarEdit]:
        check_editable(target)
        text = str(strings.retarget(image, new))
        return [ScalarEdit(target, f"{alias}={text}" if alias else text)]

    return edits_for


# helm.values block string ------------------------------------------------------------------------
def _values_string_sites(helm_visit: MappingVisit) -> list[ImageSite]:
    node = helm_visit.scalar("values")
    if node is None or node.tag != STR_TAG or not node.value:
        return []
    try:
        inner = YamlDocument.parse(
            str(node.value), f"{helm_visit.document.name}:{helm_visit.key_of('values')}"
        )
    except InputError:
        return []  # templated or not YAML: nothing can be said about it
    visits = list(iter_mappings(inner))
    outer_key = helm_visit.key_of("values")
    outer_where = helm_visit.where_of("values")
    return [
        ImageSite(
            site.finder,
            site.image,
            f"{outer_key} > {site.key}",
            outer_where,
            helm_visit.doc,
            refusal=VALUES_REFUSAL,
        )
        for site in [*helm.find(visits), *strings.find(visits)]
    ]

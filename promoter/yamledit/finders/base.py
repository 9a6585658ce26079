"""What every finder shares: the :class:`ImageSite` record and one linear walk over the mappings of a file.

A finder never writes text itself. It reports where an image reference sits and, for a new reference, the
:class:`~promoter.yamledit.splice.ScalarEdit` list that makes that place say it; the engine splices and
verifies. Targets go through :func:`~promoter.yamledit.document.check_editable`, so anchors, aliases and
block scalars are refused with ``file:line:col`` instead of being skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from promoter.errors import ImageReferenceError, UnsafeTargetError
from promoter.imageref import ImageRef
from promoter.yamledit.document import NULL_TAG, STR_TAG, Target, YamlDocument, check_editable
from promoter.yamledit.keypath import KeyPath, format_key
from promoter.yamledit.splice import ScalarEdit

if TYPE_CHECKING:
    from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

EditsFor = Callable[[ImageRef], list[ScalarEdit]]
_NO_DUPLICATES: frozenset[str] = frozenset()


def _no_edits(_new: ImageRef) -> list[ScalarEdit]:
    return []


@dataclass(frozen=True)
class ImageSite:
    """One place that holds (part of) a reference to some image.

    ``image`` is the reference as written there; ``edits_for(new)`` returns the edits that make the place
    say ``new`` (and raises :class:`UnsafeTargetError` when that cannot be done in place). A site with a
    ``refusal`` is reported but never edited (e.g. a Helm ``values: |`` string inside an Application).
    """

    finder: str
    image: ImageRef
    key: str
    where: str
    doc: int = 0
    edits_for: EditsFor = field(default=_no_edits, compare=False, repr=False)
    refusal: str | None = None

    @property
    def editable(self) -> bool:
        return self.refusal is None

    def describe(self) -> str:
        text = f"{self.where} {self.key}: {self.image}"
        return f"{text} ({self.refusal})" if self.refusal else text


class MappingVisit:
    """A mapping node with its key path, its document and whether it sits inside a flow collection."""

    __slots__ = ("doc", "document", "duplicates", "fields", "in_flow", "node", "path")

    def __init__(
        self, document: YamlDocument, doc: int, path: KeyPath, node: MappingNode, in_flow: bool
    ) -> None:
        self.document = document
        self.doc = doc
        self.path = path
        self.node = node
        self.in_flow = in_flow or bool(node.flow_style)
        pairs = node.value
        # A key that is not a string (``1: x``, ``? [a]``) cannot be an image field; it maps to "".
        # A repeated key is kept once here and refused by :meth:`target`.
        fields = {k.value if isinstance(k.value, str) else "": (k, v) for k, v in pairs}
        self.fields: dict[str, tuple[ScalarNode, Node]] = fields
        self.duplicates: frozenset[str] = _NO_DUPLICATES
        if len(fields) != len(pairs):
            seen: set[str] = set()
            duplicates = set()
            for key, _ in pairs:
                text = key.value if isinstance(key.value, str) else ""
                (duplicates if text in seen else seen).add(text)
            self.duplicates = frozenset(duplicates)

    @classmethod
    def of(
        cls, document: YamlDocument, doc: int, path: KeyPath, node: MappingNode, in_flow: bool
    ) -> MappingVisit:
        return cls(document, doc, path, node, in_flow)

    def scalar(self, key: str) -> ScalarNode | None:
        """The scalar value under ``key`` (None when absent or not a scalar)."""
        from ruamel.yaml.nodes import ScalarNode

        pair = self.fields.get(key)
        return pair[1] if pair is not None and isinstance(pair[1], ScalarNode) else None

    def text(self, key: str) -> str | None:
        """The non-empty string under ``key`` (None when absent, empty, null or not a string)."""
        node = self.scalar(key)
        if node is None or not node.value or node.tag != STR_TAG:
            return None
        return str(node.value)

    def target(self, key: str) -> Target:
        """An editable target for the value under ``key``; refuses aliases, anchors and duplicate keys."""
        key_node, value = self.fields[key]
        path = (*self.path, key)
        if key in self.duplicates:
            raise UnsafeTargetError(
                f"duplicate key {key!r} at {format_key(path)}",
                where=where(self.document, key_node),
                hint="a YAML mapping must not repeat a key; fix the file first",
            )
        target = Target(self.document, self.doc, path, value, self.in_flow, key_node)  # type: ignore[arg-type]
        check_editable(target)
        return target

    def edit(self, key: str, value: str) -> ScalarEdit:
        return ScalarEdit(self.target(key), value)

    def key_of(self, key: str) -> str:
        return format_key((*self.path, key))

    def where_of(self, key: str) -> str:
        return where(self.document, self.fields[key][1])


def where(document: YamlDocument, node: Node) -> str:
    mark = node.start_mark
    return f"{document.name}:{mark.line + 1}:{mark.column + 1}"


def is_empty(node: ScalarNode | None) -> bool:
    return node is None or node.tag == NULL_TAG or node.value == ""


def iter_mappings(document: YamlDocument) -> Iterator[MappingVisit]:
    """Every mapping of every document in document order, each once (an aliased mapping where defined)."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    seen: set[int] = set()
    for doc, root in enumerate(document.roots):
        stack: list[tuple[Node, KeyPath, bool]] = [(root, (), False)]
        while stack:
            node, path, in_flow = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, MappingNode):
                visit = MappingVisit.of(document, doc, path, node, in_flow)
                yield visit
                for key, value in reversed(node.value):
                    if isinstance(value, (MappingNode, SequenceNode)):
                        text = key.value if isinstance(key.value, str) else ""
                        stack.append((value, (*path, text), visit.in_flow))
            elif isinstance(node, SequenceNode):
                flow = in_flow or bool(node.flow_style)
                for index in range(len(node.value) - 1, -1, -1):
                    item = node.value[index]
                    if isinstance(item, (MappingNode, SequenceNode)):
                        stack.append((item, (*path, index), flow))


def parse_ref(text: str | None) -> ImageRef | None:
    """The reference in ``text``, or None when it is not one (templated, empty, a number)."""
    if not text:
        return None
    try:
        return ImageRef.parse(text)
    except ImageReferenceError:
        return None


def join_name(registry: str | None, repository: str) -> ImageRef | None:
    """``registry`` + ``repository`` as a reference without tag, or None when that is no image name."""
    name = f"{registry.strip('/')}/{repository}" if registry else repository
    ref = parse_ref(name)
    if ref is None or ref.tag is not None or ref.digest is not None:
        return None
    return ref


def with_version(ref: ImageRef, tag: str | None, digest: str | None) -> ImageRef:
    """``ref`` with a tag and digest read from a file; parts that are not valid are left out."""
    for candidate in ((tag, digest), (tag, None), (None, digest)):
        try:
            return ref.with_version(*candidate)
        except ImageReferenceError:
            continue
    return ref


def missing_field(visit: MappingVisit, field_name: str, why: str) -> UnsafeTargetError:
    return UnsafeTargetError(
        f"{format_key(visit.path) or 'the document'} has no {field_name} field, so {why}",
        where=where(visit.document, visit.node),
        hint=f"add an empty `{field_name}:` to it, or pass the image without that part",
    )

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
from promoter.yamledit.document import (
    MERGE_TAG,
    NULL_TAG,
    STR_TAG,
    Piece,
    Target,
    YamlDocument,
    check_editable,
)
from promoter.yamledit.keypath import KeyPath, format_key
from promoter.yamledit.splice import ScalarEdit

if TYPE_CHECKING:
    from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

EditsFor = Callable[[ImageRef], list[ScalarEdit]]
# Keys that make a root mapping itself a place an image is named (a helm block, an ``image:`` string); a
# document with such a root, or with Flux setter markers (which combine keys of one mapping), is searched
# whole rather than entry by entry.
IMAGE_ROOT_KEYS = frozenset(
    {"image", "repository", "registry", "name", "tag", "digest", "sha", "digestChroot", "newName", "newTag"}
)
WHOLE_DOCUMENT_MARKERS = ("$imagepolicy",)
_NO_DUPLICATES: frozenset[str] = frozenset()
_NO_OWNERS: dict[str, MappingNode] = {}
MERGE_KEY = "<<"


def _no_edits(_new: ImageRef) -> list[ScalarEdit]:
    return []


@dataclass(frozen=True)
class ImageSite:
    """One place that holds (part of) a reference to some image.

    ``image`` is the reference as written there; ``edits_for(new)`` returns the edits that make the place
    say ``new`` (and raises :class:`UnsafeTargetError` when that cannot be done in place). A site with a
    ``refusal`` is reported but never edited (e.g. a Helm ``values: |`` string inside an Application).
    ``reads`` holds the ``id`` of every scalar node the site takes its version from, so an edit made for
    another image can tell when it would change this one too (a value shared through a ``<<`` merge).
    """

    finder: str
    image: ImageRef
    key: str
    where: str
    doc: int = 0
    edits_for: EditsFor = field(default=_no_edits, compare=False, repr=False)
    refusal: str | None = None
    reads: frozenset[int] = field(default=frozenset(), compare=False, repr=False)

    @property
    def editable(self) -> bool:
        return self.refusal is None

    def describe(self) -> str:
        text = f"{self.where} {self.key}: {self.image}"
        return f"{text} ({self.refusal})" if self.refusal else text


class MappingVisit:
    """A mapping node with its key path, its document and whether it sits inside a flow collection.

    ``fields`` are the mapping's effective keys: its own, then those it takes from ``<<: *anchor`` merges
    (own keys win; of several merged mappings the first wins, as YAML's merge key says). A merged key's
    value lives in the anchored mapping, so an edit of it goes there (``owners`` says where) and changes
    every mapping that merges it.
    """

    __slots__ = ("doc", "document", "duplicates", "fields", "in_flow", "node", "owners", "path", "piece")

    def __init__(
        self,
        document: YamlDocument,
        doc: int,
        path: KeyPath,
        node: MappingNode,
        in_flow: bool,
        piece: Piece | None = None,
    ) -> None:
        self.document = document
        self.doc = doc
        self.path = path
        self.node = node
        self.piece = piece
        self.in_flow = in_flow or bool(node.flow_style)
        pairs = node.value
        # A key that is not a string (``1: x``, ``? [a]``) cannot be an image field; it maps to "".
        # A repeated key is kept once here and refused by :meth:`target`.
        fields = {k.value if isinstance(k.value, str) else "": (k, v) for k, v in pairs}
        self.fields: dict[str, tuple[ScalarNode, Node]] = fields
        self.owners: dict[str, MappingNode] = _NO_OWNERS
        self.duplicates: frozenset[str] = _NO_DUPLICATES
        if len(fields) != len(pairs):
            self.duplicates = _duplicate_keys(pairs)
        if MERGE_KEY in fields:
            self._merge(pairs)

    def _merge(self, pairs: list[tuple[ScalarNode, Node]]) -> None:
        """Add the keys of ``<<`` merges; a ``<<`` that is not exactly one merge key is left as a key."""
        merges = [(k, v) for k, v in pairs if k.value == MERGE_KEY]
        if len(merges) != 1 or merges[0][0].tag != MERGE_TAG:
            return
        fields = self.fields
        del fields[MERGE_KEY]
        owners: dict[str, MappingNode] = {}
        duplicates = set(self.duplicates)
        for key, (key_node, value, owner, repeated) in _merged_fields(merges[0][1]).items():
            if key not in fields:
                fields[key] = (key_node, value)
                owners[key] = owner
                if repeated:
                    duplicates.add(key)
        self.owners = owners
        self.duplicates = frozenset(duplicates)

    @classmethod
    def of(
        cls,
        document: YamlDocument,
        doc: int,
        path: KeyPath,
        node: MappingNode,
        in_flow: bool,
        piece: Piece | None = None,
    ) -> MappingVisit:
        return cls(document, doc, path, node, in_flow, piece)

    def child(
        self, key: str, node: MappingNode, path: KeyPath | None = None, in_flow: bool | None = None
    ) -> MappingVisit:
        """The visit of a mapping below this one (``path`` defaults to this path plus ``key``)."""
        return MappingVisit(
            self.document,
            self.doc,
            (*self.path, key) if path is None else path,
            node,
            self.in_flow if in_flow is None else in_flow,
            self.piece,
        )

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
        from ruamel.yaml.nodes import ScalarNode

        key_node, value = self.fields[key]
        path, in_flow = (*self.path, key), self.in_flow
        owner = self.owners.get(key)
        if owner is not None:
            place, in_flow = _place_of(self.document, self.doc, self.piece, owner)
            path = (*place, key)
        if key in self.duplicates:
            raise UnsafeTargetError(
                f"duplicate key {key!r} at {format_key(path)}",
                where=where(self.document, key_node),
                hint="a YAML mapping must not repeat a key; fix the file first",
            )
        if not isinstance(value, ScalarNode):  # the finders ask only for keys they saw holding a scalar
            raise UnsafeTargetError(
                f"{format_key(path)} is not a single value", where=where(self.document, value)
            )
        chunk = self.piece.chunk if self.piece is not None else None
        target = Target(self.document, self.doc, path, value, in_flow, key_node, chunk)
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


def iter_mappings(document: YamlDocument, near: str | None = None) -> Iterator[MappingVisit]:
    """Every mapping in document order, each once (an aliased mapping where defined).

    With ``near``, only the pieces of the file whose text can refer to an image whose repository ends in
    ``near`` (see :meth:`YamlDocument.pieces`).
    """
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    seen: set[int] = set()
    current_doc = -1
    for piece in document.pieces(near, root_keys=IMAGE_ROOT_KEYS, markers=WHOLE_DOCUMENT_MARKERS):
        if piece.doc != current_doc:
            seen, current_doc = set(), piece.doc
        stack: list[tuple[Node, KeyPath, bool]] = [(piece.root, (), False)]
        top = True
        while stack:
            node, path, in_flow = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            descend = piece.descend if top else None
            top = False
            if isinstance(node, MappingNode):
                visit = MappingVisit(document, piece.doc, path, node, in_flow, piece)
                yield visit
                pairs = node.value
                for index in range(len(pairs) - 1, -1, -1):
                    key, value = pairs[index]
                    if isinstance(value, (MappingNode, SequenceNode)) and (
                        descend is None or index in descend
                    ):
                        text = key.value if isinstance(key.value, str) else ""
                        stack.append((value, (*path, text), visit.in_flow))
            elif isinstance(node, SequenceNode):
                flow = in_flow or bool(node.flow_style)
                for index in range(len(node.value) - 1, -1, -1):
                    item = node.value[index]
                    if isinstance(item, (MappingNode, SequenceNode)):
                        stack.append((item, (*path, index), flow))


def _duplicate_keys(pairs: list[tuple[ScalarNode, Node]]) -> frozenset[str]:
    seen: set[str] = set()
    duplicates: set[str] = set()
    for key, _ in pairs:
        text = key.value if isinstance(key.value, str) else ""
        (duplicates if text in seen else seen).add(text)
    return frozenset(duplicates)


MergedField = tuple["ScalarNode", "Node", "MappingNode", bool]


def _merged_fields(value: Node, seen: frozenset[int] = frozenset()) -> dict[str, MergedField]:
    """The keys a ``<<`` value brings in: key -> (key node, value node, owning mapping, repeated there).

    ``value`` is one mapping or a sequence of mappings (earlier ones win); merges inside them count too.
    Anything else (a scalar, a cycle) brings nothing.
    """
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    sources = value.value if isinstance(value, SequenceNode) else [value]
    out: dict[str, MergedField] = {}
    for source in sources:
        if not isinstance(source, MappingNode) or id(source) in seen:
            continue
        pairs = source.value
        own: dict[str, MergedField] = {}
        nested: Node | None = None
        for key_node, item in pairs:
            text = key_node.value if isinstance(key_node.value, str) else ""
            if text == MERGE_KEY and key_node.tag == MERGE_TAG:
                nested = item
                continue
            repeated = text in own
            own[text] = (key_node, item, source, repeated)
        if nested is not None:
            for text, found in _merged_fields(nested, seen | {id(source)}).items():
                own.setdefault(text, found)
        for text, found in own.items():
            out.setdefault(text, found)
    return out


def _place_of(
    document: YamlDocument, doc: int, piece: Piece | None, owner: MappingNode
) -> tuple[KeyPath, bool]:
    """Key path and flow context of ``owner`` (a mapping other mappings merge), where it is defined."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    roots = [piece.root] if piece is not None else [document.roots[doc]]
    for start in roots:
        stack: list[tuple[Node, KeyPath, bool]] = [(start, (), False)]
        seen: set[int] = set()
        while stack:
            node, path, in_flow = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            in_flow = in_flow or bool(getattr(node, "flow_style", False))
            if node is owner:
                return path, in_flow
            if isinstance(node, MappingNode):
                for key, value in reversed(node.value):
                    if isinstance(value, (MappingNode, SequenceNode)):
                        text = key.value if isinstance(key.value, str) else ""
                        stack.append((value, (*path, text), in_flow))
            elif isinstance(node, SequenceNode):
                for index in range(len(node.value) - 1, -1, -1):
                    item = node.value[index]
                    if isinstance(item, (MappingNode, SequenceNode)):
                        stack.append((item, (*path, index), in_flow))
    raise UnsafeTargetError(  # pragma: no cover - a merged mapping is always in its own document
        "a merged value is defined outside the document", where=document.name
    )


def version_reads(visit: MappingVisit, *keys: str | None) -> frozenset[int]:
    """``ImageSite.reads`` for the scalars under ``keys`` of ``visit`` (absent keys are skipped)."""
    out = set()
    for key in keys:
        node = visit.scalar(key) if key else None
        if node is not None:
            out.add(id(node))
    return frozenset(out)


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


def missing_field(visit: MappingVisit, field_name: str, why: str, also: str = "") -> UnsafeTargetError:
    hint = f"add an empty `{field_name}:` to it, or pass the image without that part"
    return UnsafeTargetError(
        f"{format_key(visit.path) or 'the document'} has no {field_name} field, so {why}",
        where=where(visit.document, visit.node),
        hint=f"{hint}; {also}" if also else hint,
    )

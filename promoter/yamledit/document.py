"""A YAML file as text plus its composed node trees, with exact character positions.

The text is kept exactly as read (``newline=''``: CR, CRLF, a missing final newline all survive). A leading
BOM is held apart because the C parser does not count it in its marks; every node index is an index into
:attr:`YamlDocument.body`.

Reading a file checks it completely (libyaml's parser over all of it, the composer where anchors or aliases
need it) but composes only what a question needs: :meth:`YamlDocument.locate` and
:meth:`YamlDocument.pieces` compose the documents, or the top-level entries of a document, whose text can
hold the answer (see :mod:`promoter.yamledit.layout`). :attr:`YamlDocument.roots` composes everything.
"""

from __future__ import annotations

import bisect
import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from promoter import progress
from promoter.errors import InputError, KeyNotFoundError, UnsafeTargetError
from promoter.yamledit.compose import compose_all, parses
from promoter.yamledit.keypath import KeyPath, format_key, parse_key
from promoter.yamledit.layout import Chunk, DocSpan, Layout, hits
from promoter.yamledit.resolve import PathResolver, key_text

if TYPE_CHECKING:
    from ruamel.yaml.nodes import Node, ScalarNode

BOM = "\ufeff"
STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"
MERGE_TAG = "tag:yaml.org,2002:merge"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
LARGE_FILE = 2_000_000  # characters; reading and checking a larger file shows progress


@contextlib.contextmanager
def reporting(label: str, size: int) -> Iterator[None]:
    """Progress for work on a large file (a bar in a terminal, lines in CI logs; silent when quick)."""
    if size < LARGE_FILE:
        yield
        return
    with progress.heartbeat(label) as bar:
        bar.total, bar.unit = size, "B"
        yield
        bar.update(size)


@dataclass(frozen=True)
class Piece:
    """A composed root to search: a document, or one top-level entry of one.

    ``descend`` names the root mapping's entries (by position) worth walking into; None means all.
    ``chunk`` is None when the piece comes from composing the whole file at once.
    """

    doc: int
    root: Node
    chunk: Chunk | None
    descend: frozenset[int] | None = None


@dataclass
class Target:
    """A located scalar: the node, where it sits, and how it may be edited."""

    document: YamlDocument
    doc_index: int
    path: KeyPath
    node: ScalarNode
    in_flow: bool = False
    key_node: ScalarNode | None = None
    chunk: Chunk | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> str:
        return format_key(self.path)

    @property
    def start(self) -> int:
        return int(self.node.start_mark.index)

    @property
    def end(self) -> int:
        return int(self.node.end_mark.index)

    @property
    def where(self) -> str:
        return self.document.where(self.start)

    @property
    def line(self) -> int:
        return self.document.line_col(self.start)[0]

    @property
    def value(self) -> str:
        return str(self.node.value)


@dataclass(eq=False)
class YamlDocument:
    name: str
    body: str
    bom: str = ""
    path: Path | None = None
    layout: Layout | None = field(default=None, repr=False)
    _roots: list[Node] | None = field(default=None, repr=False)
    _line_starts: list[int] | None = field(default=None, repr=False)

    # construction ------------------------------------------------------------------------------
    @classmethod
    def parse(
        cls, text: str, name: str = "<text>", path: Path | None = None, *, encoded: bytes | None = None
    ) -> YamlDocument:
        """Check ``text`` completely; raises :class:`YamlSyntaxError` (file:line:col) when it is not YAML.

        ``encoded`` is ``text`` in UTF-8 when the caller has it (a file's bytes): the parser reads it as is.
        """
        bom = BOM if text.startswith(BOM) else ""
        body = text[len(bom) :]
        document = cls(name=name, body=body, bom=bom, path=path)
        with reporting(f"reading {name}", len(body)):
            document._check(encoded)
        return document

    def _check(self, encoded: bytes | None) -> None:
        """Raise what composing the whole text would raise, composing only what the parser cannot check."""
        from ruamel.yaml.error import YAMLError

        layout = Layout.of(self.body)
        if layout is not None and parses(encoded if encoded is not None else self.text):
            try:
                for span in layout.docs:
                    if layout.needs_composer(span):
                        layout.whole(span)  # an undefined alias or a repeated anchor fails here
            except (YAMLError, ValueError):
                pass
            else:
                self.layout = layout
                return
        self._roots = compose_all(self.body, self.name)  # the error, at file:line:col

    @classmethod
    def read(cls, path: str | Path, name: str | None = None) -> YamlDocument:
        path = Path(path)
        display = name or str(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise InputError(f"file not found: {display}", where=display) from None
        except IsADirectoryError:
            raise InputError(f"expected a file, found a directory: {display}", where=display) from None
        except OSError as exc:
            raise InputError(f"cannot read {display}: {exc.strerror}", where=display) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise InputError("file is not UTF-8 text", where=f"{display}:{line}") from None
        return cls.parse(text, display, path, encoded=raw)

    @property
    def roots(self) -> list[Node]:
        """Every document composed (the whole file, once)."""
        if self._roots is None:
            with reporting(f"composing {self.name}", len(self.body)):
                self._roots = compose_all(self.body, self.name)
        return self._roots

    @property
    def documents(self) -> int:
        """How many documents the file holds."""
        return len(self.layout.docs) if self.layout is not None else len(self.roots)

    @property
    def text(self) -> str:
        return self.bom + self.body

    # positions ---------------------------------------------------------------------------------
    def line_col(self, index: int) -> tuple[int, int]:
        """1-based line and column of a body index (CR, LF and CRLF each end a line)."""
        if self.layout is not None:  # only LF and CRLF break lines here: count instead of indexing them all
            return self.layout.line_of(index) + 1, index - self.body.rfind("\n", 0, index)
        if self._line_starts is None:
            self._line_starts = [0, *(match.end() for match in _LINE_BREAK.finditer(self.body))]
        line = bisect.bisect_right(self._line_starts, index) - 1
        return line + 1, index - self._line_starts[line] + 1

    def where(self, index: int) -> str:
        line, col = self.line_col(index)
        return f"{self.name}:{line}:{col}"

    # lookup ------------------------------------------------------------------------------------
    def select_documents(self, doc: int | None) -> list[tuple[int, Node]]:
        if doc is None:
            return list(enumerate(self.roots))
        if not 0 <= doc < len(self.roots):
            raise KeyNotFoundError(
                f"document {doc} does not exist (the file has {len(self.roots)})",
                where=self.name,
                hint="--doc counts from 0",
            )
        return [(doc, self.roots[doc])]

    def locate(self, key: str | KeyPath, doc: int | None = None) -> Target:
        """Find the scalar at ``key``; in a multi-document file it must resolve in exactly one document."""
        path = parse_key(key) if isinstance(key, str) else key
        target = self._locate_near(path, doc) if self.layout is not None else None
        if target is None:
            target = self._locate_everywhere(path, doc)
        check_editable(target)
        return target

    def _locate_near(self, path: KeyPath, doc: int | None) -> Target | None:
        """The target found by composing only the pieces whose text holds the first key; None when that
        cannot settle it (not found, found twice, refused): then every document is searched as before,
        which also gives the exact error."""
        from ruamel.yaml.error import YAMLError

        layout = self.layout
        assert layout is not None
        first = path[0] if path else None
        if not isinstance(first, str) or not first or "'" in first:
            return None
        if doc is not None and not 0 <= doc < len(layout.docs):
            return None
        found: list[Target] = []
        try:
            for span in [layout.docs[doc]] if doc is not None else layout.docs:
                if (
                    self.body.find(first, span.start, span.end) < 0
                    and self.body.find("\\", span.start, span.end) < 0
                ):
                    continue
                chunk = self._piece_with_key(layout, span, first)
                if chunk is None:
                    continue
                try:
                    found.append(self._resolve(span.index, chunk.root, path, chunk))
                except KeyNotFoundError:
                    continue
        except (InputError, YAMLError, ValueError, _Unsettled):
            return None
        return found[0] if len(found) == 1 else None

    def _piece_with_key(self, layout: Layout, span: DocSpan, key: str) -> Chunk | None:
        """The entry of ``span`` whose top-level key is ``key`` (None: it has none), or the whole document."""
        entries = layout.entries(span)
        if entries is None:
            return layout.whole(span)
        chosen = entries.with_key(key)
        if len(chosen) > 1:
            raise _Unsettled  # a repeated key: the full search refuses it
        if not chosen:
            return None
        regions = layout.regions(span, chosen)
        return layout.whole(span) if regions is None else regions[0]

    def _locate_everywhere(self, path: KeyPath, doc: int | None) -> Target:
        found: list[Target] = []
        misses: list[KeyNotFoundError] = []
        for index, root in self.select_documents(doc):
            try:
                found.append(self._resolve(index, root, path))
            except KeyNotFoundError as exc:
                misses.append(exc)
        if not found:
            if len(misses) == 1:
                raise misses[0]
            best = max(misses, key=lambda exc: getattr(exc, "depth", 0), default=None)
            if best is None:
                raise KeyNotFoundError(f"{format_key(path)} not found: the file is empty", where=self.name)
            raise best
        if len(found) > 1:
            docs = ", ".join(str(t.doc_index) for t in found)
            raise KeyNotFoundError(
                f"{format_key(path)} resolves in documents {docs}",
                where=found[1].where,
                hint="choose one with --doc N",
            )
        return found[0]

    def pieces(
        self,
        near: str | None = None,
        *,
        root_keys: frozenset[str] = frozenset(),
        markers: tuple[str, ...] = (),
    ) -> Iterator[Piece]:
        """Composed roots that can hold text saying ``near`` (None: every document, composed at once).

        Text that means ``near`` holds it literally, unless escapes (``\\``) spell it or an alias brings it
        from elsewhere: only pieces whose text has one of those are composed. A document whose root mapping
        has one of ``root_keys`` (the root itself may be what is searched for), or whose text holds one
        of ``markers`` or an alias, is composed whole, ``descend`` naming the entries worth walking.
        """
        from ruamel.yaml.nodes import MappingNode

        layout = self.layout
        if near is None or layout is None:
            for index, root in enumerate(self.roots):
                yield Piece(index, root, None)
            return
        body = self.body
        for span in layout.docs:
            marks = [*hits(body, near, span.start, span.end), *hits(body, "\\", span.start, span.end)]
            aliases = layout.alias_positions(span.start, span.end)
            if not marks and not aliases:
                continue
            entries = None
            if not aliases and all(body.find(marker, span.start, span.end) < 0 for marker in markers):
                entries = layout.entries(span)
            if entries is not None and not (root_keys and entries.any_key(root_keys)):
                regions = layout.regions(span, entries.containing(marks))
                if regions is not None:
                    for chunk in regions:
                        yield Piece(span.index, chunk.root, chunk)
                    continue
            chunk = layout.whole(span)
            descend = None
            if isinstance(chunk.root, MappingNode):
                starts = [key.start_mark.index for key, _ in chunk.root.value]
                descend = frozenset(
                    i for i in {bisect.bisect_right(starts, m) - 1 for m in [*marks, *aliases]} if i >= 0
                )
            yield Piece(span.index, chunk.root, chunk, descend)

    def _resolve(self, doc_index: int, root: Node, path: KeyPath, chunk: Chunk | None = None) -> Target:
        node, in_flow, key_node = PathResolver(self.where).resolve(root, path)
        return Target(self, doc_index, path, node, in_flow, key_node, chunk)

    # traversal ---------------------------------------------------------------------------------
    def walk(self) -> Iterator[tuple[int, KeyPath, Node]]:
        """Every node of every document with its key path (aliases are visited once, where defined)."""
        for index, root in enumerate(self.roots):
            yield from _walk(root, (), index, set())


class _Unsettled(Exception):
    """The quick search cannot decide; search everything."""


def _walk(node: Node, path: KeyPath, doc: int, seen: set[int]) -> Iterator[tuple[int, KeyPath, Node]]:
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    if id(node) in seen:
        return
    seen.add(id(node))
    yield doc, path, node
    if isinstance(node, MappingNode):
        for key, value in node.value:
            yield from _walk(value, (*path, key_text(key)), doc, seen)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            yield from _walk(item, (*path, i), doc, seen)


def check_editable(target: Target) -> None:
    """Refuse targets that cannot be changed without touching other bytes or other values."""
    node = target.node
    document = target.document
    body = document.body
    span = body[target.start : target.end]
    where = target.where
    key = target.key
    if target.key_node is not None and node.start_mark.index < target.key_node.end_mark.index:
        raise UnsafeTargetError(
            f"{key} is an alias (*name): editing it would change the anchored value too",
            where=document.where(target.key_node.end_mark.index),
            hint="edit the anchor's value instead, or replace the alias by hand",
        )
    if span.startswith("&"):
        raise UnsafeTargetError(
            f"{key} carries an anchor (&name): editing it would change every alias too",
            where=where,
            hint="edit by hand, or remove the anchor first",
        )
    if span.startswith("!"):
        raise UnsafeTargetError(f"{key} has an explicit tag", where=where, hint="edit tagged values by hand")
    if node.style in {"|", ">"}:
        raise UnsafeTargetError(
            f"{key} is a block scalar ({node.style}); promoter edits single-line values only", where=where
        )
    if "\n" in span or "\r" in span:
        raise UnsafeTargetError(
            f"{key} is a multi-line scalar; promoter edits single-line values only", where=where
        )
    if node.tag == MERGE_TAG:
        raise UnsafeTargetError(f"{key} is a merge key", where=where)

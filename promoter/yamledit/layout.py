"""Where the documents and top-level entries of a YAML stream begin: found in the text, proven by libyaml.

Composing a multi-megabyte file builds a Python node for every scalar, yet an edit needs one value. This
module lets the engine compose only the pieces that can hold it:

- **Documents.** In text libyaml accepts, a line that starts with ``---`` or ``...`` followed by a blank
  is always a document marker (a quoted scalar or flow collection cannot run over one, and block scalar
  content is never at column 0). So the documents are the text before the first marker when it holds
  content, then one per ``---``: exactly what ``compose_all`` yields.
- **Top-level entries.** In a document whose first content line is a plain or simply quoted key at column
  0, the root is a block mapping at indentation 0, and every later line at column 0 outside a quoted scalar
  or flow collection starts its next key (or continues an indentless sequence with ``- ``). Whether such a
  line really is outside every quote and bracket is proven, not guessed: the text from a proven boundary up
  to it parses on its own (an open quote or bracket would fail at the end), and an entry composed on its own
  proves its end the same way.

Only when the text is plain enough is any of this used: no ``%`` directives, no line breaks other than LF
and CRLF, no BOM inside, and for entries no aliases and no anchor name used twice (those need the whole
document composed). Everything else is composed whole, as before.
"""

from __future__ import annotations

import array
import bisect
import functools
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from promoter.yamledit.compose import c_parser, compose_span, parses

if TYPE_CHECKING:
    from ruamel.yaml.nodes import Node

_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|\Z)", re.M)
# A line at column 0 that is not blank or a comment: a top-level key (plain, or quoted without escapes),
# an item of an indentless sequence, or anything else (then the document is not taken apart).
_COLUMN0_LINE = (
    r"""(?:(?:(?P<plain>[A-Za-z0-9_$][A-Za-z0-9_.$/-]*)|"(?P<double>[^"\\\r\n]*)"|'(?P<single>[^'\r\n]*)')"""
    r"""[ \t]*:(?=[ \t\r\n]|\Z)|(?P<item>-(?=[ \t\r\n]|\Z))|(?P<other>[^ \t\r\n#]))"""
)
_AFTER_BREAK = re.compile("\n" + _COLUMN0_LINE)  # a literal first character makes the scan fast
_AT_START = re.compile(_COLUMN0_LINE)
_CONTENT = re.compile(r"^[ \t]*[^ \t\r\n#]", re.M)
_LONE_CR = re.compile(r"\r(?!\n)")
_DIRECTIVE = re.compile(r"^%", re.M)
_OTHER_BREAKS = ("\x85", "\u2028", "\u2029", "\ufeff")
_BARE_MARKER_LINE = re.compile(r"---[ \t]*(?:#[^\r\n]*)?(?:\r\n|\n|\Z)")
# Where a node may start, an alias ``*name`` or anchor ``&name`` may stand: at the start, after a blank or
# a flow indicator (or a ``:`` right after a quoted key). Scanning for these over-approximates, which is
# the safe direction: a false hit only means composing more.
_NODE_START = frozenset(" \t\r\n[{,:")
MANY_ENTRIES = 64  # composing more entries than this (and a quarter of all) one by one: compose the document
_NAME_END = frozenset(" \t\r\n[]{},")


@dataclass(frozen=True)
class DocSpan:
    """One document: ``body[start:end]`` composes alone to exactly what ``compose_all`` yields for it."""

    index: int
    start: int  # 0 for the implicit first document, else the start of its ``---`` line
    end: int  # the start of the next marker line, or the end of the text
    content: int  # where its content starts (after the ``---`` line)


@dataclass(frozen=True)
class Entry:
    """One top-level ``key: ...`` of a block mapping document, up to the next one."""

    start: int
    end: int
    key: str


@dataclass(frozen=True)
class Entries:
    """The top-level entries of a document: where each starts (compactly: a file may hold many thousands).

    Keys are read from the text when asked for.
    """

    body: str = field(repr=False)
    starts: array.array[int]
    end: int

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> Entry:
        end = self.starts[index + 1] if index + 1 < len(self.starts) else self.end
        return Entry(self.starts[index], end, self.key(index))

    def __iter__(self) -> Iterator[Entry]:
        return (self[index] for index in range(len(self.starts)))

    def key(self, index: int) -> str:
        line = _AT_START.match(self.body, self.starts[index])
        assert line is not None and line.lastgroup is not None
        return line.group(line.lastgroup)

    @property
    def keys(self) -> list[str]:
        return [self.key(index) for index in range(len(self.starts))]

    def with_key(self, key: str) -> list[Entry]:
        """The entries whose key is ``key``."""
        body = self.body
        return [
            self[index]
            for index, start in enumerate(self.starts)
            if (body.startswith(key, start) or body[start] in "\"'") and self.key(index) == key
        ]

    def any_key(self, keys: frozenset[str]) -> bool:
        """True when some entry's key is one of ``keys``."""
        finder = _key_finder(keys)  # from the line break before each entry but the first
        return self.key(0) in keys or finder.search(self.body, self.starts[0], self.end) is not None

    def containing(self, positions: Iterable[int]) -> list[Entry]:
        """The entries that hold any of ``positions``, in order."""
        found = {bisect.bisect_right(self.starts, position) - 1 for position in positions}
        return [self[index] for index in sorted(found) if index >= 0]


@functools.lru_cache(maxsize=4)
def _key_finder(keys: frozenset[str]) -> re.Pattern[str]:
    names = "|".join(re.escape(key) for key in sorted(keys))
    return re.compile(rf"""\n(?:(?:{names})|"(?:{names})"|'(?:{names})')[ \t]*:(?=[ \t\r\n]|\Z)""")


@dataclass(eq=False)
class Chunk:
    """A composed piece of the text: a whole document, or one top-level entry of one.

    ``root``'s marks are positions in the whole text. A whole document's root is what ``compose_all``
    gives for it; an entry's root is a mapping holding that one entry.
    """

    doc: int
    start: int
    end: int
    line: int
    root: Node
    whole: bool


@dataclass(eq=False)
class Layout:
    body: str
    docs: list[DocSpan]
    _whole: dict[int, Chunk] = field(default_factory=dict)
    _entries: dict[int, Entries | None] = field(default_factory=dict)
    _regions: dict[int, Chunk | None] = field(default_factory=dict)
    _proven: dict[int, list[int]] = field(default_factory=dict)  # per document: boundaries shown clean
    _lines: list[tuple[int, int]] = field(default_factory=lambda: [(0, 0)])  # (index, its line), sorted

    @classmethod
    def of(cls, body: str) -> Layout | None:
        """The layout of ``body``, or None when the text must be composed whole (see the module doc)."""
        if c_parser() is None or any(ch in body for ch in _OTHER_BREAKS):
            return None
        if "\r" in body and _LONE_CR.search(body):
            return None
        if "%" in body and _DIRECTIVE.search(body):
            return None
        markers = sorted(
            (position, needle[0])
            for needle in ("---", "...")
            for position in hits(body, needle, 0, len(body))
            if _MARKER.match(body, position)
        )
        docs: list[DocSpan] = []
        first = markers[0][0] if markers else len(body)
        if _CONTENT.search(body, 0, first):
            docs.append(DocSpan(0, 0, first, 0))
        for number, (position, kind) in enumerate(markers):
            if kind == "-":
                end = markers[number + 1][0] if number + 1 < len(markers) else len(body)
                eol = body.find("\n", position, end)
                docs.append(DocSpan(len(docs), position, end, end if eol < 0 else eol + 1))
        return cls(body, docs)

    # -- questions about the text -------------------------------------------------------------------
    def line_of(self, index: int) -> int:
        """0-based line of ``index`` (only LF and CRLF break lines in a text that has a layout).

        Counted from the nearest index asked before, so many pieces of a large file cost one pass.
        """
        known = self._lines
        at = bisect.bisect_right(known, (index, 1 << 62)) - 1
        start, line = known[at]
        line += self.body.count("\n", start, index)
        bisect.insort(known, (index, line))
        return line

    def alias_positions(self, start: int, end: int) -> list[int]:
        """Where ``body[start:end]`` may use an alias (``*name``)."""
        return [position for position, _ in _names(self.body, "*", start, end)]

    def needs_composer(self, doc: DocSpan) -> bool:
        """True when only composing can check the document: it may use aliases or repeat an anchor."""
        anchors = [name for _, name in _names(self.body, "&", doc.start, doc.end)]
        return len(set(anchors)) != len(anchors) or bool(self.alias_positions(doc.start, doc.end))

    # -- composed pieces ----------------------------------------------------------------------------
    def whole(self, doc: DocSpan) -> Chunk:
        """The whole document composed (cached); raises ruamel's errors."""
        chunk = self._whole.get(doc.index)
        if chunk is None:
            line = self.line_of(doc.start)
            root = compose_span(self.body, doc.start, doc.end, line)
            chunk = self._whole[doc.index] = Chunk(doc.index, doc.start, doc.end, line, root, True)
        return chunk

    def entries(self, doc: DocSpan) -> Entries | None:
        """The top-level entries of ``doc``, or None when it cannot be taken apart safely."""
        if doc.index not in self._entries:
            self._entries[doc.index] = self._find_entries(doc)
        return self._entries[doc.index]

    def _find_entries(self, doc: DocSpan) -> Entries | None:
        body = self.body
        if doc.content != doc.start and not _BARE_MARKER_LINE.match(body, doc.start):
            return None  # ``--- |``, ``--- !tag``, ``--- {`` ...: the root is not a plain block mapping
        first = _CONTENT.search(body, doc.content, doc.end)
        if first is None or body[first.start()] in " \t" or self.needs_composer(doc):
            return None
        starts: array.array[int] = array.array("q")
        lines = _AFTER_BREAK.finditer(body, doc.content - 1, doc.end) if doc.content else None
        if not doc.content:
            at_start = _AT_START.match(body, 0, doc.end)
            lines = itertools.chain([at_start] if at_start else [], _AFTER_BREAK.finditer(body, 0, doc.end))
        assert lines is not None
        for line in lines:
            kind = line.lastgroup
            if kind == "item":
                continue  # an item of an indentless sequence under the previous key
            if kind == "other":
                return None
            position = line.start()
            starts.append(position + 1 if body[position] == "\n" else position)
        if not starts or starts[0] != first.start():
            return None
        return Entries(body, starts, doc.end)

    def regions(self, doc: DocSpan, chosen: list[Entry]) -> list[Chunk] | None:
        """Each chosen entry composed alone, its boundaries proven; None when any proof fails, or when so
        many are chosen that composing the whole document is cheaper."""
        entries = self.entries(doc)
        if entries is not None and len(chosen) > max(MANY_ENTRIES, len(entries) // 4):
            return None
        out = []
        for entry in sorted(chosen, key=lambda e: e.start):
            chunk = self._region(doc, entry)
            if chunk is None:
                return None
            out.append(chunk)
        return out

    def _region(self, doc: DocSpan, entry: Entry) -> Chunk | None:
        if entry.start in self._regions:
            return self._regions[entry.start]
        self._regions[entry.start] = None
        if not self._prove(doc, entry.start):
            return None
        from ruamel.yaml.error import YAMLError
        from ruamel.yaml.nodes import MappingNode

        line = self.line_of(entry.start)
        try:
            root = compose_span(self.body, entry.start, entry.end, line)
        except (YAMLError, ValueError):
            return None
        if not (
            isinstance(root, MappingNode)
            and not root.flow_style
            and len(root.value) == 1
            and root.value[0][0].start_mark.index == entry.start
            and root.value[0][0].value == entry.key
        ):
            return None
        bisect.insort(self._proven.setdefault(doc.index, [doc.start]), entry.end)
        chunk = self._regions[entry.start] = Chunk(doc.index, entry.start, entry.end, line, root, False)
        return chunk

    def _prove(self, doc: DocSpan, position: int) -> bool:
        """True when no quote or flow collection is open at ``position`` (a column-0 line start)."""
        proven = self._proven.setdefault(doc.index, [doc.start])
        before = proven[bisect.bisect_right(proven, position) - 1]
        if before != position:
            if not parses(self.body[before:position].encode("utf-8")):
                return False
            bisect.insort(proven, position)
        return True


def hits(body: str, needle: str, start: int, end: int) -> list[int]:
    """Every index of ``needle`` in ``body[start:end]``."""
    out = []
    position = body.find(needle, start, end)
    while position >= 0:
        out.append(position)
        position = body.find(needle, position + 1, end)
    return out


def _names(body: str, sigil: str, start: int, end: int) -> list[tuple[int, str]]:
    """Positions and names after ``sigil`` (``*`` alias, ``&`` anchor) wherever a node may start
    (over-approximated)."""
    names = []
    for position in hits(body, sigil, start, end):
        if position > 0 and body[position - 1] not in _NODE_START:
            continue
        line = body.rfind("\n", 0, position) + 1
        if body[line:position].lstrip(" \t").startswith("#"):
            continue  # a line that starts with ``#`` is a comment, or text inside a scalar: never a node
        stop = position + 1
        while stop < end and body[stop] not in _NAME_END:
            stop += 1
        if stop > position + 1:
            names.append((position, body[position + 1 : stop]))
    return names

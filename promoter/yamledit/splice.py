"""Splice new scalar text into the original file, then prove that nothing else changed.

The proof: every piece that holds an edit (a document, or a top-level entry of one, see
:mod:`promoter.yamledit.layout`) composes on its own to the same tree as before except exactly the edited
values. That also proves the piece still ends outside every quote and bracket, so the pieces without an
edit, the same text between the same proven boundaries, read as before: they need no second parse. Where
the file was composed whole, the whole new text is composed again.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promoter.errors import InputError, UnsafeTargetError
from promoter.yamledit.compose import compose_all, compose_text
from promoter.yamledit.diff import edit_diff
from promoter.yamledit.document import STR_TAG, Target, YamlDocument, reporting
from promoter.yamledit.layout import Chunk
from promoter.yamledit.scalar import Style, ValueType, plain_is_safe, render_scalar, style_of

if TYPE_CHECKING:
    from ruamel.yaml.nodes import Node

_TAGS: dict[str, str] = {
    "str": STR_TAG,
    "int": "tag:yaml.org,2002:int",
    "float": "tag:yaml.org,2002:float",
    "bool": "tag:yaml.org,2002:bool",
    "null": "tag:yaml.org,2002:null",
}


@dataclass(frozen=True)
class ScalarEdit:
    """Replace the scalar at ``target`` by ``value`` (a string unless ``value_type`` says otherwise)."""

    target: Target
    value: str
    value_type: ValueType = "str"


@dataclass(frozen=True)
class Change:
    """One changed value, as reported to users (text, JSON) and recorded in commits."""

    file: str
    key: str
    line: int
    column: int
    old: str | None
    new: str | None
    doc: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "key": self.key,
            "line": self.line,
            "column": self.column,
            "old": self.old,
            "new": self.new,
            "doc": self.doc,
        }


Splice = tuple[int, int, str]  # body[start:end] becomes text
_BLOCK = 1 << 20  # characters copied at a time when the new text is written or assembled


@dataclass(frozen=True)
class EditResult:
    """The verified edits of one document. The new text is assembled only when asked for:
    :meth:`write` streams it to a file without holding a second copy of a large file in memory."""

    document: YamlDocument
    changes: list[Change]
    splices: list[Splice] = field(default_factory=list, repr=False)  # sorted, not overlapping

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    @functools.cached_property
    def new_text(self) -> str:
        return "".join(self.pieces())

    def pieces(self) -> Iterator[str]:
        """The new text in order, in pieces of at most about a megabyte."""
        body = self.document.body
        yield self.document.bom
        cursor = 0
        for start, end, text in self.splices:
            yield from _blocks(body, cursor, start)
            yield text
            cursor = end
        yield from _blocks(body, cursor, len(body))

    def write(self, path: Path) -> None:
        """Replace the file at ``path`` with the new text, atomically (see :func:`write_atomic`)."""
        write_atomic(path, self.pieces())

    def diff(self, label: str | None = None) -> str:
        bom = len(self.document.bom)
        splices = [(start + bom, end + bom, text) for start, end, text in self.splices]
        return edit_diff(label or self.document.name, self.document.text, splices)


def _blocks(text: str, start: int, end: int) -> Iterator[str]:
    for at in range(start, end, _BLOCK):
        yield text[at : min(at + _BLOCK, end)]


def preferred_quote(document: YamlDocument) -> Style:
    """The quote style the file already uses most (double when it quotes nothing)."""
    from ruamel.yaml.nodes import ScalarNode

    counts = Counter(
        node.style
        for _, _, node in document.walk()
        if isinstance(node, ScalarNode) and node.style in {"'", '"'}
    )
    return "single" if counts["'"] > counts['"'] else "double"


def _old_value(target: Target) -> str | None:
    return None if target.node.tag == "tag:yaml.org,2002:null" else str(target.node.value)


def apply_edits(document: YamlDocument, edits: list[ScalarEdit]) -> EditResult:
    """Splice every edit into ``document``'s text and verify the result; the document is not modified."""
    by_node: dict[int, ScalarEdit] = {}
    for edit in edits:
        previous = by_node.get(id(edit.target.node))
        if previous and (previous.value, previous.value_type) != (edit.value, edit.value_type):
            raise UnsafeTargetError(
                f"two different values for the same place: {previous.value!r} and {edit.value!r}",
                where=edit.target.where,
            )
        by_node[id(edit.target.node)] = edit

    fallback: Style | None = None
    body = document.body
    changes: list[Change] = []
    splices: list[Splice] = []
    edited: list[ScalarEdit] = []
    for edit in sorted(by_node.values(), key=lambda e: e.target.start):
        target = edit.target
        node = target.node
        if _unchanged(edit):
            continue  # already there: not a change
        style = style_of(node.style)
        plain_str = style == "plain" and edit.value_type == "str"
        if fallback is None and plain_str and not plain_is_safe(edit.value, in_flow=target.in_flow):
            fallback = preferred_quote(document)  # the file's habit: counted over all of it
        text = render_scalar(
            edit.value,
            style,
            in_flow=target.in_flow,
            value_type=edit.value_type,
            fallback=fallback or "double",
        )
        start, end = target.start, target.end
        if start == end and start > 0 and body[start - 1] not in " \t":
            text = " " + text  # an empty value (`tag:`) composes to a zero-width node right after the colon
        splices.append((start, end, text))
        edited.append(edit)
        line, column = document.line_col(start)
        changes.append(
            Change(document.name, target.key, line, column, _old_value(target), edit.value, target.doc_index)
        )
    result = EditResult(document, changes, splices)
    if changes:
        with reporting(f"checking the edit of {document.name}", len(body)):
            _verify(result, edited)
    return result


def _canonical(edit: ScalarEdit) -> str:
    if edit.value_type == "str":
        return edit.value
    from promoter.yamledit.scalar import render_typed

    return render_typed(edit.value, edit.value_type)


def _unchanged(edit: ScalarEdit) -> bool:
    node = edit.target.node
    return bool(node.tag == _TAGS[edit.value_type] and str(node.value) == _canonical(edit))


def _verify(result: EditResult, edits: list[ScalarEdit]) -> None:
    """Re-parse the new text: same structure, same values, except exactly the edited scalars."""
    document = result.document
    chunks = _edited_chunks(document, edits)
    if chunks is not None and _compare_chunks(document.body, chunks, edits, result.splices) is None:
        return
    problem = _compare_everything(document, result.new_text[len(document.bom) :], edits)  # the exact refusal
    if problem is not None:
        raise UnsafeTargetError(
            f"refusing the edit: it would change more than the value ({problem})",
            where=document.name,
            hint="please report this file to the promoter maintainers",
        )


def _edited_chunks(document: YamlDocument, edits: list[ScalarEdit]) -> list[Chunk] | None:
    """The pieces to compose again, or None when the file was composed whole (compose it whole again)."""
    layout = document.layout
    if layout is None:
        return None
    by_doc: dict[int, list[Chunk]] = {}
    for edit in edits:
        chunk = edit.target.chunk
        if chunk is None:
            return None
        found = by_doc.setdefault(chunk.doc, [])
        if chunk not in found:
            found.append(chunk)
    out = []
    for doc, found in by_doc.items():
        if len(found) > 1 and any(chunk.whole for chunk in found):  # entries and the whole: check the whole
            out.append(layout.whole(layout.docs[doc]))
        else:
            out.extend(found)
    return out


def _compare_chunks(
    body: str, chunks: list[Chunk], edits: list[ScalarEdit], splices: list[Splice]
) -> str | None:
    """Compose each edited piece's new text on its own and compare it with the piece's old tree.

    The text outside the pieces is copied unchanged by construction (:meth:`EditResult.pieces`).
    """
    from ruamel.yaml.error import YAMLError

    for chunk in chunks:
        parts, cursor = [], chunk.start
        for start, end, text in splices:
            if chunk.start <= start < chunk.end:
                parts += [body[cursor:start], text]
                cursor = end
        parts.append(body[cursor : chunk.end])
        try:
            new_root = compose_text("".join(parts), chunk.start, chunk.line)
        except (YAMLError, ValueError):
            return "the piece does not parse"
        problem = _compare_trees([chunk.root], [new_root], edits)
        if problem:
            return problem
    return None


def _compare_everything(document: YamlDocument, new_body: str, edits: list[ScalarEdit]) -> str | None:
    try:
        new_roots = compose_all(new_body, document.name)
    except InputError as exc:  # pragma: no cover - would be a bug in rendering
        raise UnsafeTargetError(f"refusing the edit: the result would not parse ({exc.message})") from None
    return _compare_trees(document.roots, new_roots, edits)


def _compare_trees(old_roots: list[Node], new_roots: list[Node], edits: list[ScalarEdit]) -> str | None:
    """The first difference between two node trees that the edits do not explain, or None.

    An edited scalar is known by its span in the old text (the same place in a whole document and in one
    of its entries). Hot on large files: tags are compared through their raw (handle, suffix) parts
    instead of the ``tag`` property, which builds a new string per node.
    """
    from ruamel.yaml.nodes import MappingNode, ScalarNode

    if len(old_roots) != len(new_roots):
        return "number of documents"
    expected_for = {
        (e.target.start, e.target.end): ((None, _TAGS[e.value_type]), _canonical(e)) for e in edits
    }
    seen: set[tuple[int, int]] = set()
    stack = list(zip(old_roots, new_roots))
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        old, new = pop()
        kind = type(old)
        if kind is not type(new):
            return f"node kind at line {new.start_mark.line + 1}"
        if kind is ScalarNode:
            new_tag = new.ctag
            expected = expected_for.get((old.start_mark.index, old.end_mark.index))
            if expected is None:
                old_tag = old.ctag
                same = old.value == new.value and (old_tag.handle, old_tag.suffix) == (
                    new_tag.handle,
                    new_tag.suffix,
                )
            else:
                same = ((new_tag.handle, new_tag.suffix), new.value) == expected
            if not same:
                return f"value at line {new.start_mark.line + 1}"
            continue
        pair = (id(old), id(new))  # collections only: an alias revisits the anchored node
        if pair in seen:
            continue
        seen.add(pair)
        if len(old.value) != len(new.value):
            what = "mapping size" if kind is MappingNode else "sequence length"
            return f"{what} at line {new.start_mark.line + 1}"
        if kind is MappingNode:
            for (old_key, old_value), (new_key, new_value) in zip(old.value, new.value):
                push((old_key, new_key))
                push((old_value, new_value))
        else:
            extend(zip(old.value, new.value))
    return None


def write_atomic(path: Path, text: str | Iterable[str]) -> None:
    """Replace ``path`` with ``text`` (UTF-8, line endings untouched) in one rename; keeps the file mode.

    ``text`` may come in pieces (written one after the other).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".promoter-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            for piece in [text] if isinstance(text, str) else text:
                handle.write(piece)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

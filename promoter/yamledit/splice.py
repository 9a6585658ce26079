"""Splice new scalar text into the original file, then prove that nothing else changed."""

from __future__ import annotations

import contextlib
import difflib
import os
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promoter.errors import InputError, UnsafeTargetError
from promoter.yamledit.document import STR_TAG, Target, YamlDocument, compose_all
from promoter.yamledit.scalar import Style, ValueType, render_scalar, style_of

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


@dataclass(frozen=True)
class EditResult:
    document: YamlDocument
    new_text: str
    changes: list[Change]

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def diff(self, label: str | None = None) -> str:
        return unified_diff(label or self.document.name, self.document.text, self.new_text)


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
    pieces: list[str] = []
    changes: list[Change] = []
    cursor = 0
    for edit in sorted(by_node.values(), key=lambda e: e.target.start):
        target = edit.target
        node = target.node
        if node.tag == _TAGS[edit.value_type] and str(node.value) == _canonical(edit):
            continue  # already there: not a change
        style = style_of(node.style)
        if style == "plain" and fallback is None:
            fallback = preferred_quote(document)
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
        pieces.append(body[cursor:start])
        pieces.append(text)
        cursor = end
        line, column = document.line_col(start)
        changes.append(
            Change(document.name, target.key, line, column, _old_value(target), edit.value, target.doc_index)
        )
    if not changes:
        return EditResult(document, document.text, [])
    pieces.append(body[cursor:])
    new_body = "".join(pieces)
    _verify(document, new_body, by_node)
    return EditResult(document, document.bom + new_body, changes)


def _canonical(edit: ScalarEdit) -> str:
    if edit.value_type == "str":
        return edit.value
    from promoter.yamledit.scalar import render_typed

    return render_typed(edit.value, edit.value_type)


def _verify(document: YamlDocument, new_body: str, edits: dict[int, ScalarEdit]) -> None:
    """Re-parse the new text: same structure, same values, except exactly the edited scalars."""
    try:
        new_roots = compose_all(new_body, document.name)
    except InputError as exc:  # pragma: no cover - would be a bug in rendering
        raise UnsafeTargetError(f"refusing the edit: the result would not parse ({exc.message})") from None
    problem = _compare_trees(document.roots, new_roots, edits)
    if problem:
        raise UnsafeTargetError(
            f"refusing the edit: it would change more than the value ({problem})",
            where=document.name,
            hint="please report this file to the promoter maintainers",
        )


def _compare_trees(old_roots: list[Node], new_roots: list[Node], edits: dict[int, ScalarEdit]) -> str | None:
    """The first difference between two node trees that the edits do not explain, or None.

    Hot on large files: tags are compared through their raw (handle, suffix) parts instead of the ``tag``
    property, which builds a new string per node.
    """
    from ruamel.yaml.nodes import MappingNode, ScalarNode

    if len(old_roots) != len(new_roots):
        return "number of documents"
    expected_for = {key: ((None, _TAGS[e.value_type]), _canonical(e)) for key, e in edits.items()}
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
            expected = expected_for.get(id(old))
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


def unified_diff(name: str, old: str, new: str) -> str:
    name = name.lstrip("/")
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile=f"a/{name}", tofile=f"b/{name}"
    )
    out = []
    for line in lines:
        out.append(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8, line endings untouched) in one rename; keeps the file mode."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".promoter-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

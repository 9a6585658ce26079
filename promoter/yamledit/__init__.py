"""Byte-minimal YAML edits: locate a scalar, splice a new value in its quote style, verify, write atomically.

Library API::

    result = set_value("values.yaml", "image.tag", "1.2.3")        # EditResult (not written)
    result = set_value(..., write=True)                            # written atomically when changed
    target = get_value("values.yaml", "image.tag")                 # Target: .value, .where, .node
"""

from __future__ import annotations

from pathlib import Path

from promoter.yamledit.diff import unified_diff
from promoter.yamledit.document import Target, YamlDocument, check_editable
from promoter.yamledit.keypath import KeyPath, Selector, format_key, parse_key
from promoter.yamledit.scalar import ValueType, render_scalar
from promoter.yamledit.splice import (
    Change,
    EditResult,
    ScalarEdit,
    apply_edits,
    write_atomic,
)

__all__ = [
    "Change",
    "EditResult",
    "KeyPath",
    "ScalarEdit",
    "Selector",
    "Target",
    "YamlDocument",
    "apply_edits",
    "check_editable",
    "edit_text",
    "format_key",
    "get_value",
    "parse_key",
    "render_scalar",
    "set_value",
    "unified_diff",
    "write_atomic",
]


def get_value(path: str | Path, key: str | KeyPath, *, doc: int | None = None) -> Target:
    return YamlDocument.read(path).locate(key, doc)


def edit_text(
    text: str,
    key: str | KeyPath,
    value: str,
    *,
    value_type: ValueType = "str",
    doc: int | None = None,
    name: str = "<text>",
) -> EditResult:
    """Set one value in YAML ``text``; returns the result without touching any file."""
    document = YamlDocument.parse(text, name)
    return apply_edits(document, [ScalarEdit(document.locate(key, doc), value, value_type)])


def set_value(
    path: str | Path,
    key: str | KeyPath,
    value: str,
    *,
    value_type: ValueType = "str",
    doc: int | None = None,
    write: bool = False,
    name: str | None = None,
) -> EditResult:
    """Set one value in the file at ``path``; ``write`` replaces the file atomically when it changed."""
    document = YamlDocument.read(path, name)
    result = apply_edits(document, [ScalarEdit(document.locate(key, doc), value, value_type)])
    if write and result.changed:
        result.write(Path(path))
    return result

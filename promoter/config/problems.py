"""A model validation error -> one :class:`~promoter.errors.ConfigError` at the key it concerns.

msgspec reports the first error with a path (``$.forge.type``); promoter's own rules raise
:class:`~promoter.config.section.Problem` with a path relative to the value they check, and values that decode
themselves wrap inner errors in :class:`~promoter.config.section.Nested`. This module follows that chain to
the full path, finds the YAML node there (for ``file:line:col`` and "got a string") and words the message the
same way for every kind of error, with a hint: the valid keys closest first, "did you mean", an example.
"""

from __future__ import annotations

import re
from typing import Any, Literal, get_args, get_origin

import msgspec
import msgspec.inspect as mi

from promoter.config.section import FieldDoc, Mismatch, Nested, Path, Problem, is_internal, label_of
from promoter.config.values import closest_first, did_you_mean
from promoter.config.yamlread import YamlDocument
from promoter.errors import ConfigError

__all__ = ["explain"]

_AT = re.compile(r"^(?P<text>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_MISSING = re.compile(r"Object missing required field `(?P<name>.+)`")
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<name>.+)`")
_TYPE = re.compile(r"Expected `.+`, got `.+`")
_ENUM = re.compile(r"Invalid enum value (?P<value>.+)")
_BOUND = re.compile(r"Expected `(?:int|float)` (?P<op>>=|>|<=|<) (?P<bound>\S+)")
_LENGTH = re.compile(r"Expected `(?:array|object|str)` of length (?P<op>>=|<=) (?P<bound>\d+)")


def explain(error: msgspec.ValidationError, document: YamlDocument, type_: Any) -> ConfigError:
    """The :class:`ConfigError` for ``error``, raised while decoding ``document`` as ``type_``."""
    path, message, hint = _explain(error, (), type_, document)
    return ConfigError(message, where=document.where(path), hint=hint)


def _split(message: str) -> tuple[str, Path]:
    match = _AT.match(message)
    assert match is not None
    raw = match.group("path") or ""
    parts: list[str | int] = [name if name else int(index) for name, index in _PART.findall(raw)]
    return match.group("text"), tuple(parts)


def _explain(
    error: msgspec.ValidationError, base: Path, type_: Any, document: YamlDocument
) -> tuple[Path, str, str | None]:
    text, relative = _split(str(error))
    here = base + relative
    cause = error.__cause__
    if isinstance(cause, Nested):
        return _explain(cause.error, here + cause.at, cause.type, document)
    if isinstance(cause, Problem):
        at = here + cause.at
        label = label_of(here + cause.label_at)
        if isinstance(cause, Mismatch):
            got = document.kind(at) or "nothing"
            return at, cause.render(label, got=got), cause.hint or _mismatch_hint(None, None, document, at)
        return at, cause.render(label), cause.hint
    info, fdoc = _type_at(type_, relative)
    return _native(text, here, info, fdoc, type_, relative, document)


def _native(
    text: str,
    here: Path,
    info: Any,
    fdoc: FieldDoc | None,
    type_: Any,
    relative: Path,
    document: YamlDocument,
) -> tuple[Path, str, str | None]:
    """A msgspec error message, reworded the way promoter words every error."""
    label = label_of(here)
    missing = _MISSING.match(text)
    if missing:
        return _missing(missing.group("name"), here, info, type_, relative, document)
    unknown = _UNKNOWN.match(text)
    if unknown:
        name = unknown.group("name")
        keys = _keys(_struct(info))
        hint = f"valid keys here: {', '.join(closest_first(name, keys))}"
        guess = did_you_mean(name, keys)
        if guess is not None:
            hint = f"did you mean {guess!r}? {hint}"
        return (*here, name), f"unknown key {name!r} in {label}", hint
    if _TYPE.match(text):
        return _mismatch(here, info, fdoc, document)
    enum = _ENUM.match(text)
    if enum:
        choices = _literal_choices(type_, relative) or [str(v) for v in getattr(_plain(info), "values", ())]
        got = enum.group("value")
        if len(choices) == 1:
            return here, f"{label} must be {choices[0]}, got {got}", fdoc.hint if fdoc else None
        closest = closest_first(got.strip("'\""), choices)[0]
        return here, f"{label} must be one of {', '.join(choices)}, got {got}", f"did you mean {closest!r}?"
    bound = _BOUND.match(text)
    if bound:
        words = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than"}[bound.group("op")]
        return here, f"{label} must be {words} {bound.group('bound')}, got {document.text(here)}", None
    length = _LENGTH.match(text)
    if length:
        if length.group("op") == ">=" and length.group("bound") == "1":
            return here, f"{label} must not be empty", _mismatch_hint(info, fdoc, document, here)
        words = "at least" if length.group("op") == ">=" else "at most"
        return here, f"{label} must have {words} {length.group('bound')} items", None
    return here, f"{label}: {text}", None


def _missing(
    name: str, here: Path, info: Any, type_: Any, relative: Path, document: YamlDocument
) -> tuple[Path, str, str | None]:
    if document.kind((*here, name)) == "nothing (null)":  # written without a value
        field_info, field_fdoc = _type_at(type_, (*relative, name))
        return _mismatch((*here, name), field_info, field_fdoc, document)
    struct = _struct(info)
    example = _example(struct)
    parts = [f"for example: {example}" if example else "", f"valid keys here: {', '.join(_keys(struct))}"]
    return here, f"{label_of(here)} is missing required key {name!r}", "; ".join(p for p in parts if p)


def _example(info: Any) -> str:
    cls = getattr(info, "cls", None)
    example = getattr(cls, "example", "")
    return example if isinstance(example, str) else ""


# -------------------------------------------------------------------------------------------------
# the model's types along a path
# -------------------------------------------------------------------------------------------------
def _type_at(type_: Any, path: Path) -> tuple[Any, FieldDoc | None]:
    """The msgspec type info at ``path`` inside ``type_`` and the field documentation of its last key."""
    info: Any = mi.type_info(type_)
    fdoc: FieldDoc | None = None
    for part in path:
        info = _plain(info, prefer=str if isinstance(part, str) else int)
        if isinstance(info, mi.StructType) and isinstance(part, str):
            field = next((f for f in info.fields if f.encode_name == part), None)
            if field is None:
                return None, None
            info, fdoc = field.type, _doc_of(field.type)
        elif isinstance(info, mi.DictType) and isinstance(part, str):
            info, fdoc = info.value_type, None
        elif isinstance(info, mi.ListType | mi.VarTupleType | mi.SetType | mi.FrozenSetType) and isinstance(
            part, int
        ):
            info, fdoc = info.item_type, None
        else:
            return None, None
    return info, fdoc


def _literal_choices(type_: Any, path: Path) -> list[str]:
    """The values of the ``Literal`` field at ``path``, in the order they are declared."""
    parent = _struct(_type_at(type_, path[:-1])[0]) if path else None
    if parent is None:
        return []
    field = next((f for f in msgspec.structs.fields(parent.cls) if f.encode_name == path[-1]), None)
    pending = [field.type] if field is not None else []
    while pending:
        current = pending.pop()
        if get_origin(current) is Literal:
            return [str(v) for v in get_args(current)]
        pending.extend(get_args(current)[:1] if hasattr(current, "__metadata__") else get_args(current))
    return []


def _doc_of(info: Any) -> FieldDoc | None:
    while isinstance(info, mi.Metadata):
        if info.extra and "promoter" in info.extra:
            found: FieldDoc = info.extra["promoter"]
            return found
        info = info.type
    return None


def _plain(info: Any, prefer: type | None = None) -> Any:
    """``info`` without metadata and ``None``; of a union, the member a key (str) or index (int) goes into."""
    while isinstance(info, mi.Metadata):
        info = info.type
    if isinstance(info, mi.UnionType):
        members = [_plain(t) for t in info.types if not isinstance(t, mi.NoneType)]
        if prefer is str:
            members = [m for m in members if isinstance(m, mi.StructType | mi.DictType)] or members
        elif prefer is int:
            members = [m for m in members if isinstance(m, mi.ListType | mi.VarTupleType)] or members
        if len(members) == 1:
            return members[0]
    return info


def _struct(info: Any) -> mi.StructType | None:
    plain = _plain(info, prefer=str)
    return plain if isinstance(plain, mi.StructType) else None


def _keys(struct: mi.StructType | None) -> list[str]:
    return [f.encode_name for f in struct.fields if not is_internal(f.encode_name)] if struct else []


def _expected(info: Any, fdoc: FieldDoc | None) -> str:
    if fdoc is not None and fdoc.expected:
        return fdoc.expected
    doc = _doc_of(info)
    if doc is not None and doc.expected:
        return doc.expected
    info = _plain(info)
    if isinstance(info, mi.UnionType):
        words = [_expected(t, None) for t in info.types if not isinstance(t, mi.NoneType)]
        return " or ".join(dict.fromkeys(words))
    if isinstance(info, mi.LiteralType):
        return "an integer" if all(isinstance(v, int) for v in info.values) else "a string"
    if isinstance(info, mi.CustomType):
        return str(getattr(info.cls, "expected", "a mapping"))
    simple: dict[type, str] = {
        mi.BoolType: "true or false",
        mi.IntType: "an integer",
        mi.FloatType: "a number",
        mi.StrType: "a string",
        mi.DateTimeType: "a timestamp",
        mi.StructType: "a mapping",
        mi.DictType: "a mapping",
        mi.ListType: "a list",
        mi.VarTupleType: "a list",
    }
    return simple.get(type(info), "another kind of value")


def _mismatch(
    at: Path, info: Any, fdoc: FieldDoc | None, document: YamlDocument
) -> tuple[Path, str, str | None]:
    got = document.kind(at) or "nothing"
    message = f"{label_of(at)} must be {_expected(info, fdoc)}, got {got}"
    return at, message, _mismatch_hint(info, fdoc, document, at)


def _mismatch_hint(info: Any, fdoc: FieldDoc | None, document: YamlDocument, at: Path) -> str | None:
    plain = _plain(info)
    members = plain.types if isinstance(plain, mi.UnionType) else (plain,)
    members = tuple(_plain(m) for m in members)
    got = document.kind(at)
    if any(isinstance(m, mi.StrType) for m in members) and got in ("an integer", "a float", "a boolean"):
        return f'quote it: "{document.text(at)}"'
    if fdoc is not None and fdoc.hint:
        return fdoc.hint
    example = next((_example(m) for m in members if _example(m)), "")
    if example:
        return f"for example: {example}"
    if any(isinstance(m, mi.ListType | mi.VarTupleType) for m in members):
        return "write [a, b] or '- a' lines"
    return None

"""The building blocks of the config model: sections, field documentation and rules, problems.

Every section of ``promoter.yaml`` is a frozen :class:`msgspec.Struct` (a :class:`Section`). msgspec checks
types strictly, refuses unknown keys and fills defaults; what a type cannot say is attached to the field as
a :class:`FieldDoc` inside ``Annotated[..., describe(...)]``: its description (for the JSON Schema and
docs/config.md), a ``check`` (why a value is not valid), a ``convert`` (the YAML form -> the attribute, e.g.
``7d`` -> seconds). Rules across the fields of one section go in :meth:`Section.check`.

A broken rule raises :class:`Problem` with the place it concerns (a path relative to the section). The loader
turns it, like every msgspec error, into one :class:`~promoter.errors.ConfigError` at ``file:line:col``.

Some values have a YAML shape no plain type describes (a mapping of user-chosen names; a list item that is
either a path or a mapping): they are :class:`CustomValue` classes that decode themselves.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Generic, TypeVar, get_args, get_origin

import msgspec
from msgspec.structs import force_setattr

from promoter.config.values import closest_first, did_you_mean, name_problem

__all__ = [
    "INTERNAL",
    "CustomValue",
    "FieldDoc",
    "Mismatch",
    "NamedMap",
    "Nested",
    "Path",
    "Problem",
    "Section",
    "decode",
    "decode_nested",
    "describe",
    "field_doc",
    "internal_name",
    "is_internal",
]

Path = tuple[str | int, ...]
V = TypeVar("V")

# Attributes filled by promoter, not read from the file (an environment's name is its key): their encoded
# names start with "$", which the YAML reader never lets through as a key.
INTERNAL = "$"


def internal_name(name: str) -> str:
    return INTERNAL + name


def is_internal(encoded: str) -> bool:
    return encoded.startswith(INTERNAL)


# -------------------------------------------------------------------------------------------------
# problems
# -------------------------------------------------------------------------------------------------
class Problem(ValueError):
    """A rule of the model is broken at ``at`` (a path relative to the value being decoded).

    ``template`` is formatted with ``label`` (the quoted key path of ``label_at``, by default ``at``, e.g.
    ``'environments.production.branch'``) and ``values``; user text goes only into ``values``.
    """

    def __init__(
        self,
        template: str,
        *,
        at: Path = (),
        hint: str | None = None,
        label_at: Path | None = None,
        **values: object,
    ) -> None:
        self.template = template
        self.at = at
        self.hint = hint
        self.label_at = at if label_at is None else label_at
        self.values = values
        super().__init__(self.render(label_of(self.label_at)))

    def render(self, label: str, **more: object) -> str:
        return self.template.format(label=label, **self.values, **more)

    def within(self, *prefix: str | int) -> Problem:
        """The same problem seen from ``prefix`` levels above."""
        self.at = (*prefix, *self.at)
        self.label_at = (*prefix, *self.label_at)
        return self


class Mismatch(Problem):
    """A value of the wrong kind; the loader fills in what was written (``got``)."""

    def __init__(self, expected: str, *, at: Path = (), hint: str | None = None) -> None:
        self.expected = expected
        super().__init__("{label} must be {expected}, got {got}", at=at, hint=hint, expected=expected)

    def render(self, label: str, **more: object) -> str:
        return super().render(label, **{"got": "another kind of value", **more})


class Nested(ValueError):
    """An error while decoding a value inside a :class:`CustomValue` (``at`` relative to it)."""

    def __init__(self, error: msgspec.ValidationError, type_: Any, at: Path) -> None:
        super().__init__(str(error))
        self.error = error
        self.type = type_
        self.at = at


def label_of(path: Path) -> str:
    """``'apps.api.files[0]'`` for ``("apps", "api", "files", 0)``; the root is "the top level"."""
    if not path:
        return "the top level"
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return f"'{text}'"


# -------------------------------------------------------------------------------------------------
# field documentation and rules
# -------------------------------------------------------------------------------------------------
class FieldDoc(msgspec.Struct, frozen=True, kw_only=True):
    """What the JSON Schema, the docs and the error messages say about one field, and its rules."""

    description: str = ""
    check: Callable[[Any], str | None] | None = None  # why a (non-None) value is not valid, or None
    convert: Callable[[Any], Any] | None = None  # the YAML form -> the attribute (may raise ValueError)
    expected: str | None = None  # "a branch name": the kind of value, in error messages
    hint: str | None = None  # added to errors about this field
    type_text: str | None = None  # the type column of docs/config.md
    to_yaml: Callable[[Any], Any] | None = None  # the attribute -> its YAML form (defaults, as_dict)
    default_text: str | None = None  # the default column of docs/config.md, when a value cannot say it
    schema: Mapping[str, Any] | None = None  # added to the field's JSON Schema (pattern, examples, ...)


def describe(description: str, **details: Any) -> msgspec.Meta:
    """Field metadata: ``Annotated[str, describe("The branch holding this environment.", check=...)]``.

    msgspec constraints (``ge``, ``min_length``, ...) are passed through to :class:`msgspec.Meta`.
    """
    constraints = {k: details.pop(k) for k in list(details) if k in _CONSTRAINTS}
    return msgspec.Meta(
        description=description,
        extra={"promoter": FieldDoc(description=description, **details)},
        **constraints,
    )


_CONSTRAINTS = {"ge", "gt", "le", "lt", "min_length", "max_length", "pattern", "multiple_of"}


def field_doc(annotation: Any) -> FieldDoc | None:
    """The :class:`FieldDoc` of an ``Annotated`` field type, if it has one."""
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, msgspec.Meta) and meta.extra and "promoter" in meta.extra:
            found: FieldDoc = meta.extra["promoter"]
            return found
    return None


class _FieldRule(msgspec.Struct, frozen=True):
    attr: str
    key: str
    doc: FieldDoc | None
    coerce: Callable[[Any], Any] | None


_RULES: dict[type, list[_FieldRule]] = {}


def _field_rules(cls: type[msgspec.Struct]) -> list[_FieldRule]:
    """The fields of ``cls`` that have a check, a convert or a custom type (computed once per class).

    Reads the annotation objects directly (the section modules do not postpone annotations), which costs
    nothing compared to resolving them again.
    """
    rules = _RULES.get(cls)
    if rules is None:
        annotations: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            annotations.update(inspect.get_annotations(klass))
        rules = []
        for attr, key in zip(cls.__struct_fields__, cls.__struct_encode_fields__):
            annotation = annotations[attr]
            found = field_doc(annotation)
            coerce = _custom_class(annotation)
            if (found and (found.check or found.convert)) or coerce:
                rules.append(_FieldRule(attr, key, found, coerce.coerce if coerce else None))
        _RULES[cls] = rules
    return rules


def _custom_class(annotation: Any) -> type[CustomValue] | None:
    if get_origin(annotation) is not None and hasattr(annotation, "__metadata__"):
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, CustomValue):
        return annotation
    return None


class Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One mapping of ``promoter.yaml``; subclasses declare its keys as annotated fields."""

    example: ClassVar[str] = ""  # a short flow-style example, shown in hints
    schema_rules: ClassVar[Mapping[str, Any]] = {}  # JSON Schema for rules across fields (if/then, oneOf)

    def __post_init__(self) -> None:
        for rule in _field_rules(type(self)):
            value = getattr(self, rule.attr)
            if value is None:
                continue
            try:
                converted = self._converted(rule, value)
            except Problem as problem:
                raise problem.within(rule.key) from None
            except ValueError as exc:
                raise _invalid(rule, str(exc)) from None
            if converted is not value:
                force_setattr(self, rule.attr, converted)
            reason = rule.doc.check(converted) if rule.doc and rule.doc.check else None
            if reason is not None:
                raise _invalid(rule, reason)
        self.check()

    @staticmethod
    def _converted(rule: _FieldRule, value: Any) -> Any:
        if rule.coerce is not None:
            value = rule.coerce(value)
        if rule.doc is not None and rule.doc.convert is not None:
            value = rule.doc.convert(value)
        return value

    def check(self) -> None:
        """Rules across this section's fields; raise :class:`Problem` (``at`` relative to the section)."""


def _invalid(rule: _FieldRule, reason: str) -> Problem:
    return Problem(
        "{label} is not valid: {reason}",
        at=(rule.key,),
        reason=reason,
        hint=rule.doc.hint if rule.doc else None,
    )


# -------------------------------------------------------------------------------------------------
# values that decode themselves
# -------------------------------------------------------------------------------------------------
class CustomValue:
    """A value type whose YAML form promoter decodes itself (msgspec hands it over through ``decode``)."""

    __slots__ = ()
    expected: ClassVar[str] = "a mapping"

    @classmethod
    def decode(cls, value: Any) -> Any:
        """The value from its YAML form (builtins); raise :class:`Problem` for a broken rule."""
        raise NotImplementedError

    @classmethod
    def coerce(cls, value: Any) -> Any:
        """The value from what Python code passed to a section's constructor."""
        return value

    @classmethod
    def json_schema(cls, schema_of: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def type_text(cls, text_of: Callable[[Any], str]) -> str:
        raise NotImplementedError


def _decode_hook(type_: Any, value: Any) -> Any:
    if isinstance(type_, type) and issubclass(type_, CustomValue):
        return type_.decode(value)
    raise NotImplementedError(f"no decoder for {type_!r}")


def decode(data: Any, type_: type[V]) -> V:
    """``data`` (builtins read from YAML or JSON) as ``type_``: strict types, custom values decoded."""
    return msgspec.convert(data, type_, strict=True, dec_hook=_decode_hook)


def decode_nested(data: Any, type_: Any, at: Path = ()) -> Any:
    """:func:`decode` inside a :meth:`CustomValue.decode`: errors keep their place."""
    try:
        return msgspec.convert(data, type_, strict=True, dec_hook=_decode_hook)
    except msgspec.ValidationError as exc:
        raise Nested(exc, type_, at) from None


class NamedMap(CustomValue, Mapping[str, V], Generic[V]):
    """An immutable mapping of user-chosen names to items, in the order written.

    Subclasses say what an item is (``item``), which names are allowed, and whether it may be empty.
    """

    __slots__ = ("_items",)
    item: ClassVar[Any]
    item_noun: ClassVar[str] = "item"  # "mapping of name -> environment"
    key_noun: ClassVar[str] = "name"
    example: ClassVar[str] = ""
    non_empty: ClassVar[bool] = False
    name_pattern: ClassVar[str | None] = None

    def __init__(self, items: Mapping[str, V] | None = None) -> None:
        self._items: dict[str, V] = dict(items or {})

    def __getitem__(self, key: str) -> V:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(self._items.items()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"

    @classmethod
    def coerce(cls, value: Any) -> Any:
        return value if isinstance(value, cls) else cls(value)

    @classmethod
    def decode(cls, value: Any) -> NamedMap[V]:
        hint = f"for example: {cls.example}" if cls.example else None
        if not isinstance(value, dict):
            raise Mismatch("a mapping", hint=hint)
        empty = getattr(value, "empty_keys", ())
        if empty:  # `name:` without a value
            raise Mismatch(cls.item_expected(), at=(empty[0],))
        if cls.non_empty and not value:
            raise Problem("{label} must not be empty", hint=hint)
        items: dict[str, V] = {}
        for name, raw in value.items():
            rule = cls.name_problem(name)
            if rule is not None:
                raise Problem(
                    "{name!r} is not a valid name in {label}", at=(name,), label_at=(), hint=rule, name=name
                )
            items[name] = cls.decode_item(name, raw, value)
        return cls(items)

    @classmethod
    def name_problem(cls, name: str) -> str | None:
        """Why ``name`` may not be a key here, or None."""
        return name_problem(name)

    @classmethod
    def item_expected(cls) -> str:
        return "a mapping"

    @classmethod
    def decode_item(cls, name: str, raw: Any, mapping: Mapping[str, Any]) -> V:
        item: V = decode_nested(raw, cls.item, (name,))
        return item

    @classmethod
    def json_schema(cls, schema_of: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object", "additionalProperties": schema_of(cls.item)}
        if cls.name_pattern:
            schema["propertyNames"] = {"pattern": cls.name_pattern}
        if cls.non_empty:
            schema["minProperties"] = 1
        return schema

    @classmethod
    def type_text(cls, text_of: Callable[[Any], str]) -> str:
        return f"mapping of {cls.key_noun} -> {cls.item_noun}"


class NamedSections(NamedMap[V]):
    """A :class:`NamedMap` of sections that carry their own name (environments, apps)."""

    @classmethod
    def decode_item(cls, name: str, raw: Any, mapping: Mapping[str, Any]) -> V:
        if isinstance(raw, dict):
            raw = {internal_name("name"): name, **raw}
        item: V = decode_nested(raw, cls.item, (name,))
        return item


def known_names_hint(kind: str, name: str, known: Mapping[str, Any] | list[str]) -> str:
    """``did you mean 'production'? known environments: production, staging, qa`` (closest first)."""
    names = closest_first(name, known)
    if not names:
        return f"no {kind}s are defined"
    hint = f"known {kind}s: {', '.join(names)}"
    guess = did_you_mean(name, names)
    return f"did you mean {guess!r}? {hint}" if guess is not None else hint

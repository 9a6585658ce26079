"""The JSON Schema (2020-12) of ``promoter.yaml``, generated from the config model.

Editors use it for completion and checks (``# yaml-language-server: $schema=<SCHEMA_URL>``); CI can check a
file with any JSON Schema validator. It says what one schema can: keys, types, patterns, defaults,
descriptions and the rules within a section. Rules that compare sections (a promotion naming an unknown
environment) only the model checks: ``promoter validate``.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec

from promoter.config.section import CustomValue, FieldDoc, Section, field_doc, is_internal
from promoter.config.yamlread import SCHEMA_URL

__all__ = ["SCHEMA_URL", "json_schema", "schema_text"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    """The schema as a dict: the top level inline, every other section under ``$defs``."""
    from promoter.config.root import Config

    generator = _Generator()
    top = generator.struct_schema(Config)
    return {
        "$schema": DIALECT,
        "$id": SCHEMA_URL,
        "title": "promoter.yaml",
        **top,
        "$defs": dict(sorted(generator.defs.items())),
    }


def schema_text() -> str:
    """The schema as JSON text (what ``promoter config schema`` prints and ``schema/`` holds)."""
    import json

    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def describe_class(cls: type) -> tuple[str, str]:
    """``(summary, notes)`` from a class docstring: its first paragraph, and the rest."""
    text = (cls.__doc__ or "").strip()
    lines = [line.strip() for line in text.splitlines()]
    paragraphs = [" ".join(part.split()) for part in "\n".join(lines).split("\n\n") if part.strip()]
    return (paragraphs[0] if paragraphs else ""), "\n\n".join(paragraphs[1:])


def unwrap(annotation: Any) -> tuple[Any, list[msgspec.Meta]]:
    """The type inside ``Annotated[...]`` layers, and their msgspec metadata."""
    metas: list[msgspec.Meta] = []
    while get_origin(annotation) is Annotated:
        args = get_args(annotation)
        metas.extend(m for m in args[1:] if isinstance(m, msgspec.Meta))
        annotation = args[0]
    return annotation, metas


def members(annotation: Any) -> list[Any]:
    """The members of a union (``X | None`` -> ``[X, None]``), or ``[annotation]``."""
    if get_origin(annotation) in (Union, types.UnionType):
        return list(get_args(annotation))
    return [annotation]


def to_json(value: Any, fdoc: FieldDoc | None = None) -> Any:
    """A default in its ``promoter.yaml`` form."""
    from promoter.config.dump import dump_value

    return dump_value(value, fdoc)


class _Generator:
    def __init__(self) -> None:
        self.defs: dict[str, dict[str, Any]] = {}

    def schema_of(self, annotation: Any) -> dict[str, Any]:
        inner, metas = unwrap(annotation)
        schema = self._plain(inner)
        for meta in metas:
            schema.update(_constraints(meta, schema))
        return schema

    def _plain(self, annotation: Any) -> dict[str, Any]:
        if annotation is type(None) or annotation is None:
            return {"type": "null"}
        options = members(annotation)
        if len(options) > 1:
            return {"anyOf": [self.schema_of(option) for option in options]}
        if get_origin(annotation) is Literal:
            values = list(get_args(annotation))
            return {"const": values[0]} if len(values) == 1 else {"enum": values}
        if get_origin(annotation) is tuple:
            return {"type": "array", "items": self.schema_of(get_args(annotation)[0])}
        if isinstance(annotation, type):
            if issubclass(annotation, Section):
                return self.struct_ref(annotation)
            if issubclass(annotation, CustomValue):
                return annotation.json_schema(self.schema_of)
            simple = {bool: "boolean", int: "integer", float: "number", str: "string"}
            if annotation in simple:
                return {"type": simple[annotation]}
            if annotation is datetime:
                return {"type": "string", "format": "date-time"}
        raise TypeError(f"no JSON Schema for {annotation!r}")

    def struct_ref(self, cls: type[Section]) -> dict[str, Any]:
        name = cls.__name__
        if name not in self.defs:
            self.defs[name] = {}  # reserve: sections may refer to each other
            self.defs[name] = self.struct_schema(cls)
        return {"$ref": f"#/$defs/{name}"}

    def struct_schema(self, cls: type[Section]) -> dict[str, Any]:
        summary, _notes = describe_class(cls)
        properties: dict[str, Any] = {}
        required: list[str] = []
        for info in msgspec.structs.fields(cls):
            if is_internal(info.encode_name):
                continue
            properties[info.encode_name] = self.field_schema(info)
            if info.required:
                required.append(info.encode_name)
        schema: dict[str, Any] = {"type": "object", "description": summary, "properties": properties}
        if required:
            schema["required"] = required
        schema["additionalProperties"] = False
        extra: Mapping[str, Any] = getattr(cls, "schema_rules", {})
        schema.update(extra)
        return schema

    def field_schema(self, info: msgspec.structs.FieldInfo) -> dict[str, Any]:
        fdoc = field_doc(info.type)
        schema = self.schema_of(info.type)
        if fdoc is not None and fdoc.schema:
            schema.update(fdoc.schema)
        if not info.required and not _allows_null(schema):
            schema = _nullable(schema)  # `key:` without a value keeps the default
        out: dict[str, Any] = {}
        if fdoc is not None:
            out["description"] = fdoc.description
        out.update(schema)
        default = _default(info, fdoc)
        if default is not msgspec.NODEFAULT:
            out["default"] = default
        return out


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if isinstance(schema.get("type"), str) and "$ref" not in schema and "anyOf" not in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _allows_null(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    return (
        kind == "null"
        or (isinstance(kind, list) and "null" in kind)
        or any(_allows_null(option) for option in schema.get("anyOf", ()))
    )


def _default(info: msgspec.structs.FieldInfo, fdoc: FieldDoc | None) -> Any:
    if info.required:
        return msgspec.NODEFAULT
    value = info.default if info.default_factory is msgspec.NODEFAULT else info.default_factory()
    if value is None or isinstance(value, Section):
        return msgspec.NODEFAULT
    return to_json(value, fdoc)


def _constraints(meta: msgspec.Meta, schema: Mapping[str, Any]) -> dict[str, Any]:
    names = {
        "ge": "minimum",
        "gt": "exclusiveMinimum",
        "le": "maximum",
        "lt": "exclusiveMaximum",
        "pattern": "pattern",
    }
    out = {key: getattr(meta, attr) for attr, key in names.items() if getattr(meta, attr) is not None}
    out.update(meta.extra_json_schema or {})
    kind = schema.get("type")
    for attr, (text, array) in {
        "min_length": ("minLength", "minItems"),
        "max_length": ("maxLength", "maxItems"),
    }.items():
        value = getattr(meta, attr)
        if value is not None:
            out[array if kind == "array" else text] = value
    return out

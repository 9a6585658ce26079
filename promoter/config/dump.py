"""A loaded config back in ``promoter.yaml`` shape (for ``--output json``, ``init`` and round trips)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from promoter.config.apps import EnvironmentFiles
from promoter.config.section import FieldDoc, Section, field_doc, is_internal

__all__ = ["dump_section", "dump_value"]


def dump_section(section: Section) -> dict[str, Any]:
    """The keys of ``section`` whose value differs from the default (required keys always)."""
    out: dict[str, Any] = {}
    for info in msgspec.structs.fields(type(section)):
        if is_internal(info.encode_name):
            continue
        value = getattr(section, info.name)
        if not info.required:
            default = info.default if info.default_factory is msgspec.NODEFAULT else info.default_factory()
            if value is None or value == default:
                continue
        dumped = dump_value(value, field_doc(info.type))
        if not info.required and dumped in ({}, []):
            continue
        out[info.encode_name] = dumped
    return out


def dump_value(value: Any, fdoc: FieldDoc | None = None) -> Any:
    if fdoc is not None and fdoc.to_yaml is not None:
        return fdoc.to_yaml(value)
    if isinstance(value, Section):
        return dump_section(value)
    if isinstance(value, EnvironmentFiles):
        return {name: {"files": dump_value(files)} for name, files in value.items()}
    if isinstance(value, Mapping):
        return {key: dump_value(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [dump_value(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value

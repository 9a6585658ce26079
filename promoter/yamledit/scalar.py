"""Render one scalar value as YAML text in a chosen quote style, never changing its type.

A plain scalar is only written when every YAML 1.1 and 1.2 reader (Helm, kubectl, Argo CD, Flux, PyYAML,
ruamel) would read it back as the same string: ``1.10``, ``2024-06-27``, ``yes``, ``null``, ``0x1F``, ``1e3``,
``0755`` and ``~`` are quoted.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from promoter.errors import InputError

ValueType = Literal["str", "int", "float", "bool", "null"]
Style = Literal["plain", "single", "double"]

_NON_STRING = re.compile(
    r"""^(?:
      ~|null|Null|NULL                                                          # null
    | y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF   # bool 1.1/1.2
    | [-+]?0b[01_]+ | [-+]?0o?[0-7_]+ | [-+]?0x[0-9a-fA-F_]+                     # binary / octal / hex
    | [-+]?(?:0|[1-9][0-9_]*)                                                    # decimal int
    | [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?                          # base 60 (1.1)
    | [-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?                        # float with a dot
    | [-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+                              # 1e3
    | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)                                 # inf / nan
    | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?
        (?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?                          # timestamp
    | = | <<                                                                     # value / merge keys (1.1)
    )$""",
    re.VERBOSE,
)
_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")
_FLOW_INDICATORS = set(",[]{}?")  # libyaml also rejects "?" inside flow plain scalars
_PRINTABLE = re.compile(r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f\ufeff\ufffe\uffff]*$")


def reads_as_non_string(text: str) -> bool:
    """True when a plain scalar ``text`` would be read as null, bool, number or timestamp by some reader."""
    return text == "" or _NON_STRING.match(text) is not None


def plain_is_safe(text: str, *, in_flow: bool) -> bool:
    """True when ``text`` can be written plain and read back as the same string."""
    if reads_as_non_string(text) or text != text.strip() or not _PRINTABLE.match(text):
        return False
    if "\n" in text or "\r" in text or "\t" in text:
        return False
    first = text[0]
    if first in _INDICATORS and not (
        first in "-?:" and len(text) > 1 and text[1] not in " ," and not in_flow
    ):
        return False
    if ": " in text or " #" in text or text.endswith(":"):
        return False
    return not (in_flow and (set(text) & _FLOW_INDICATORS or ":" in text))


def single_quoted(text: str) -> str | None:
    if "\n" in text or "\r" in text or not _PRINTABLE.match(text):
        return None
    return "'" + text.replace("'", "''") + "'"


def double_quoted(text: str) -> str:
    # JSON string escapes are a subset of YAML double-quoted escapes; keep non-ASCII characters as they are.
    return json.dumps(text, ensure_ascii=False)


def render_typed(value: str, value_type: ValueType) -> str:
    """Plain text for a non-string value, validated so the file cannot end up with a different type."""
    checks = {
        "int": r"[-+]?(?:0|[1-9][0-9]*)",
        "float": r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?\.inf|\.nan",
        "bool": r"true|false",
        "null": r"null|~|",
    }
    normalised = value.lower() if value_type in {"bool", "null"} else value
    if not re.fullmatch(checks[value_type], normalised):
        example = {"int": "42", "float": "1.5", "bool": "true", "null": "null"}[value_type]
        raise InputError(
            f"{value!r} is not a valid {value_type}", hint=f"--type {value_type} expects e.g. {example}"
        )
    if value_type == "float" and re.fullmatch(r"[-+]?[0-9]+", normalised):
        normalised += ".0"
    return normalised or "null"


def render_scalar(
    value: str,
    style: Style,
    *,
    in_flow: bool = False,
    value_type: ValueType = "str",
    fallback: Style = "double",
) -> str:
    """YAML text for ``value``, keeping ``style`` when that keeps the value a string of the same text.

    A plain value that would read as another type is quoted in the ``fallback`` style (the file's own habit).
    """
    if value_type != "str":
        return render_typed(value, value_type)
    if style == "plain":
        if plain_is_safe(value, in_flow=in_flow):
            return value
        style = fallback if fallback != "plain" else "double"
    if style == "single":
        rendered = single_quoted(value)
        if rendered is not None:
            return rendered
    return double_quoted(value)


_STYLES: dict[str, Style] = {"'": "single", '"': "double"}


def style_of(node_style: str | None) -> Style:
    return _STYLES.get(node_style or "", "plain")

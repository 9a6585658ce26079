"""Key paths: ``a.b[0].c``, ``list[name=image.tag].value``, ``metadata.annotations."example.com/tag"``.

A path is a tuple of segments: a mapping key (``str``), a sequence index (``int``), or a
:class:`Selector` that picks the sequence item whose ``field`` equals ``value``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from promoter.errors import KeySyntaxError

_SPECIAL = set('.[]="\\')
_FIELD_SPECIAL = set('[]="\\')
_VALUE_SPECIAL = set(']"\\')


@dataclass(frozen=True)
class Selector:
    field: str
    value: str

    def __str__(self) -> str:
        field = _quote_if_needed(self.field, _FIELD_SPECIAL)
        value = _quote_if_needed(self.value, _VALUE_SPECIAL)
        return f"[{field}={value}]"


Segment = str | int | Selector
KeyPath = tuple[Segment, ...]


def _quote_if_needed(text: str, special: set[str]) -> str:
    if text and not (set(text) & special) and text.strip() == text:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_key(path: KeyPath) -> str:
    """Inverse of :func:`parse_key`: ``format_key(parse_key(k))`` is a canonical spelling of ``k``."""
    out: list[str] = []
    for segment in path:
        if isinstance(segment, int):
            out.append(f"[{segment}]")
        elif isinstance(segment, Selector):
            out.append(str(segment))
        else:
            text = _quote_if_needed(segment, _SPECIAL)
            out.append(f".{text}" if out else text)
    return "".join(out)


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, what: str) -> KeySyntaxError:
        marked = f"{self.text[: self.pos]}>>>{self.text[self.pos :]}"  # the hint is one line
        return KeySyntaxError(
            f"invalid key path: {what} at character {self.pos + 1}",
            where=repr(self.text),
            hint=f'at {marked!r}; syntax: a.b[0].c, list[name=image.tag].value, a."dotted.key"',
        )

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def quoted(self) -> str:
        assert self.peek() == '"'
        self.pos += 1
        chars: list[str] = []
        while True:
            char = self.peek()
            if not char:
                raise self.error("unterminated quoted key")
            self.pos += 1
            if char == '"':
                return "".join(chars)
            if char == "\\":
                escaped = self.peek()
                if escaped not in {'"', "\\"}:
                    raise self.error('only \\" and \\\\ escapes are allowed in a quoted key')
                self.pos += 1
                chars.append(escaped)
            else:
                chars.append(char)

    def bare(self, stops: str) -> str:
        start = self.pos
        while self.peek() and self.peek() not in stops:
            if self.peek() in '"\\':
                raise self.error(f"unexpected {self.peek()!r} (quote the whole key)")
            self.pos += 1
        return self.text[start : self.pos]

    def word(self, stops: str) -> str:
        return self.quoted() if self.peek() == '"' else self.bare(stops)


@functools.lru_cache(maxsize=1024)
def parse_key(text: str) -> KeyPath:
    """Parse a key path; raises :class:`KeySyntaxError` (exit 3) pointing at the bad character.

    Cached: the same few key paths are parsed for every app of a large promotion (a path is immutable).
    """
    reader = _Reader(text)
    segments: list[Segment] = []
    if not text:
        raise reader.error("empty key path")
    expect_key = True
    while reader.peek():
        char = reader.peek()
        if char == "[":
            reader.pos += 1
            segments.append(_bracket(reader))
            expect_key = False
        elif char == "." and not expect_key:
            reader.pos += 1
            expect_key = True
            if not reader.peek():
                raise reader.error("key path ends with '.'")
        elif expect_key:
            start = reader.pos
            key = reader.word(".[")
            if key == "" and reader.text[start] != '"':
                raise reader.error("empty key")
            segments.append(key)
            expect_key = False
        else:
            raise reader.error(f"unexpected {char!r}")
    if expect_key and segments:
        raise reader.error("key path ends with '.'")
    return tuple(segments)


def _bracket(reader: _Reader) -> Segment:
    if reader.peek() == '"':
        field = reader.quoted()
    else:
        start = reader.pos
        field = reader.bare("=]")
        if reader.peek() == "]":
            reader.pos += 1
            try:
                return int(field.strip())
            except ValueError:
                reader.pos = start
                raise reader.error("expected an index [N] or a selector [field=value]") from None
    if reader.peek() != "=":
        raise reader.error("expected '=' in selector [field=value]")
    reader.pos += 1
    value = reader.word("]")
    if reader.peek() != "]":
        raise reader.error("expected ']'")
    reader.pos += 1
    if not field:
        raise reader.error("empty field name in selector")
    return Selector(field, value)

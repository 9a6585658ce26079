"""Unified diffs of an edit, in the format of :func:`difflib.unified_diff` (three lines of context).

An edit changes values inside lines and never the number of lines, so the changed lines are known from the
edited spans: the diff is built from those lines and their context alone instead of matching every line of
a multi-megabyte file. Texts with line breaks other than LF and CRLF go through :mod:`difflib`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence

CONTEXT = 3
_OTHER_BREAKS = "\v\f\x1c\x1d\x1e\x85\u2028\u2029"  # str.splitlines() breaks lines there too
_LONE_CR = re.compile(r"\r(?!\n)")

Opcode = tuple[str, int, int]  # ("equal" | "replace", first line, end line): both texts share line numbers


Splice = tuple[int, int, str]  # text[start:end] becomes the string


def unified_diff(name: str, old: str, new: str) -> str:
    """Diff of ``old`` -> ``new`` with ``a/`` and ``b/`` prefixes (:mod:`difflib` compares every line)."""
    name = name.lstrip("/")
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile=f"a/{name}", tofile=f"b/{name}"
    )
    return "".join(_marked(line) for line in lines)


def edit_diff(name: str, old: str, splices: Sequence[Splice]) -> str:
    """The diff of applying ``splices`` (sorted, each within one line of ``old``) to ``old``.

    Only the edited lines and their context are read; the new text is never assembled.
    """
    if _unusual_breaks(old) or any(_unusual_breaks(text) or "\n" in text for _, _, text in splices):
        return unified_diff(name, old, _applied(old, splices, 0, len(old)))
    lines = _Lines(old)
    edited: dict[int, list[Splice]] = {}
    for splice in splices:
        edited.setdefault(lines.number(splice[0]), []).append(splice)
    new_text: dict[int, str] = {}
    for number, found in edited.items():
        start = lines.start(number)
        new_text[number] = _applied(old, found, start, start + len(lines.text(number)))
    changed = sorted(number for number in edited if new_text[number] != lines.text(number))
    if not changed:
        return ""
    name = name.lstrip("/")
    out = [f"--- a/{name}\n", f"+++ b/{name}\n"]
    for group in _groups(_opcodes(changed, lines.count()), CONTEXT):
        span = _range(group[0][1], group[-1][2])
        out.append(f"@@ -{span} +{span} @@\n")
        for tag, first, end in group:
            if tag == "equal":
                out.extend(_marked(" " + lines.text(n)) for n in range(first, end))
            else:
                out.extend(_marked("-" + lines.text(n)) for n in range(first, end))
                out.extend(_marked("+" + new_text[n]) for n in range(first, end))
    return "".join(out)


def _applied(text: str, splices: Sequence[Splice], start: int, end: int) -> str:
    parts, cursor = [], start
    for at, stop, replacement in splices:
        parts += [text[cursor:at], replacement]
        cursor = stop
    parts.append(text[cursor:end])
    return "".join(parts)


def _unusual_breaks(text: str) -> bool:
    return any(ch in text for ch in _OTHER_BREAKS) or ("\r" in text and _LONE_CR.search(text) is not None)


def _marked(line: str) -> str:
    return line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n"


def _opcodes(changed: list[int], total: int) -> list[Opcode]:
    """``equal`` and ``replace`` runs over ``total`` lines (a replace: consecutive changed lines)."""
    codes: list[Opcode] = []
    cursor = 0
    run_start = None
    for index, line in enumerate(changed):
        if run_start is None:
            run_start = line
        if index + 1 < len(changed) and changed[index + 1] == line + 1:
            continue
        if run_start > cursor:
            codes.append(("equal", cursor, run_start))
        codes.append(("replace", run_start, line + 1))
        cursor, run_start = line + 1, None
    if cursor < total:
        codes.append(("equal", cursor, total))
    return codes


def _groups(codes: list[Opcode], n: int) -> Iterator[list[Opcode]]:
    """:meth:`difflib.SequenceMatcher.get_grouped_opcodes` for opcodes that share line numbers."""
    if codes[0][0] == "equal":
        codes[0] = ("equal", max(codes[0][1], codes[0][2] - n), codes[0][2])
    if codes[-1][0] == "equal":
        codes[-1] = ("equal", codes[-1][1], min(codes[-1][2], codes[-1][1] + n))
    group: list[Opcode] = []
    for tag, first, end in codes:
        start = first
        if tag == "equal" and end - start > n + n:
            group.append((tag, start, min(end, start + n)))
            yield group
            group = []
            start = max(start, end - n)
        group.append((tag, start, end))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        yield group


def _range(start: int, stop: int) -> str:
    """difflib's ``_format_range_unified``."""
    beginning = start + 1
    length = stop - start
    if length == 1:
        return str(beginning)
    if not length:
        beginning -= 1
    return f"{beginning},{length}"


class _Lines:
    """Lines of a text found on demand (LF and CRLF breaks), without splitting the whole text."""

    def __init__(self, text: str) -> None:
        self.source = text
        self._starts: dict[int, int] = {}

    def count(self) -> int:
        text = self.source
        return text.count("\n") + (0 if not text or text.endswith("\n") else 1)

    def number(self, index: int) -> int:
        line = self.source.count("\n", 0, index)
        self._starts[line] = self.source.rfind("\n", 0, index) + 1
        return line

    def start(self, line: int) -> int:
        found = self._starts.get(line)
        if found is None:
            known = min(self._starts, key=lambda n: abs(n - line))
            found = self._starts[known]
            for _ in range(known, line):
                found = self.source.find("\n", found) + 1
            for _ in range(line, known):
                found = self.source.rfind("\n", 0, found - 1) + 1
            self._starts[line] = found
        return found

    def text(self, line: int) -> str:
        start = self.start(line)
        end = self.source.find("\n", start)
        return self.source[start : len(self.source) if end < 0 else end + 1]

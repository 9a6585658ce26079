"""The diff of an edit, built from the edited lines alone: difflib's format and grouping, and a patch that
turns the old text into the new one.

On files of 200 lines and more difflib treats frequent lines (blank ones, say) as junk and may fold the
lines between two nearby edits into one hunk body; the diff here keeps them as context, so there only the
patch itself is compared."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promoter.yamledit.diff import edit_diff, unified_diff

CORPUS = Path(__file__).parent.parent / "fixtures" / "real-world"


def applied(text: str, splices: list[tuple[int, int, str]]) -> str:
    out, cursor = [], 0
    for start, end, new in splices:
        out += [text[cursor:start], new]
        cursor = end
    return "".join([*out, text[cursor:]])


def line_splices(text: str, lines: list[int], replacement: str) -> list[tuple[int, int, str]]:
    """Replace the last character before the line break of each given line (0-based)."""
    starts = [0, *(match.end() for match in re.finditer("\n", text))]
    splices = []
    for line in sorted(set(lines)):
        if line >= len(starts):
            continue
        end = text.find("\n", starts[line])
        end = len(text) if end < 0 else end
        end -= 1 if text[starts[line] : end].endswith("\r") else 0
        if end > starts[line]:
            splices.append((end - 1, end, replacement))
    return splices


TEXT = "".join(f"line {n}: value\n" for n in range(40))


@pytest.mark.parametrize(
    "lines",
    [[0], [39], [0, 39], [10, 11], [10, 12], [10, 16], [10, 17], [10, 18], [3, 4, 5, 30], [2, 9, 16, 23, 30]],
)
def test_groups_and_context_as_difflib_makes_them(lines: list[int]) -> None:
    splices = line_splices(TEXT, lines, "X")
    assert edit_diff("v.yaml", TEXT, splices) == unified_diff("v.yaml", TEXT, applied(TEXT, splices))


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: 2",  # no final newline, edit on the last line
        "a: 1\r\nb: 2\r\nc: 3\r\n",
        "\ufeffa: 1\nb: 2\n",
        "a: 1\rb: 2\r",  # CR line breaks: difflib compares everything
        "a: 1\x85b: 2\n",
    ],
)
def test_line_endings(text: str) -> None:
    for line in range(3):
        splices = line_splices(text, [line], "Z")
        assert edit_diff("f", text, splices) == unified_diff("f", text, applied(text, splices))


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.iterdir() if p.suffix in {".yaml", ".yml"}))
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_random_edits_of_the_corpus(name: str, data: st.DataObject) -> None:
    text = (CORPUS / name).read_bytes().decode("utf-8")
    count = text.count("\n") + 1
    lines = data.draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=6))
    replacement = data.draw(st.sampled_from(["X", "", "longer value", "x"]))
    splices = line_splices(text, lines, replacement)
    new = applied(text, splices)
    diff = edit_diff(name, text, splices)
    assert patched(text, diff) == new
    if count < 200:
        assert diff == unified_diff(name, text, new)


def patched(old: str, diff: str) -> str:
    """Apply a unified diff (as written by promoter: no file creation, no renames) to ``old``."""
    lines = old.splitlines(keepends=True)
    out: list[str] = []
    cursor = 0
    rows = diff.splitlines(keepends=True)[2:]
    index = 0
    while index < len(rows):
        header = rows[index]
        assert header.startswith("@@ -"), header
        start = int(header[4:].split(",")[0].split(" ")[0]) - 1
        out += lines[cursor:start]
        cursor = start
        index += 1
        while index < len(rows) and not rows[index].startswith("@@"):
            row = rows[index]
            if index + 1 < len(rows) and rows[index + 1].startswith("\\ No newline"):
                row = row[:-1]
                index += 1
            if row[0] in " -":
                assert lines[cursor] == row[1:], (lines[cursor], row)
                cursor += 1
            if row[0] in " +":
                out.append(row[1:])
            index += 1
    return "".join(out + lines[cursor:])

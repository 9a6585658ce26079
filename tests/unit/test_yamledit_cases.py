"""Hand-made tricky cases: the bytes after an edit equal the bytes before except the value."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from promoter.yamledit import edit_text
from promoter.yamledit.keypath import Selector, parse_key

# (id, text, key, new value, expected text); expected outputs are written out by hand.
CASES: list[tuple[str, str, str, str, str]] = [
    ("plain", "image:\n  tag: v1\n", "image.tag", "v2", "image:\n  tag: v2\n"),
    ("double", 'image:\n  tag: "v1"\n', "image.tag", "v2", 'image:\n  tag: "v2"\n'),
    ("single", "image:\n  tag: 'v1'\n", "image.tag", "v2", "image:\n  tag: 'v2'\n"),
    ("single-apostrophe", "a: 'x'\n", "a", "it's", "a: 'it''s'\n"),
    ("double-escapes", 'a: "x"\n', "a", 'say "hi" \\ ok', 'a: "say \\"hi\\" \\\\ ok"\n'),
    ("eol-comment", "tag: v1 # keep me\n", "tag", "v2", "tag: v2 # keep me\n"),
    ("eol-comment-tab", "tag: v1\t# tab before comment\n", "tag", "v2", "tag: v2\t# tab before comment\n"),
    (
        "comment-wide",
        "tag: v1        # aligned\nx: 1   # aligned\n",
        "tag",
        "v10",
        "tag: v10        # aligned\nx: 1   # aligned\n",
    ),
    ("crlf", "a:\r\n  tag: v1\r\n  b: 2\r\n", "a.tag", "v2", "a:\r\n  tag: v2\r\n  b: 2\r\n"),
    ("bom", "\ufeffa: 1\ntag: v1\n", "tag", "v2", "\ufeffa: 1\ntag: v2\n"),
    ("bom-crlf", "\ufeffa: 1\r\ntag: v1\r\n", "tag", "v2", "\ufeffa: 1\r\ntag: v2\r\n"),
    ("no-final-newline", "a: 1\ntag: v1", "tag", "v2", "a: 1\ntag: v2"),
    ("no-final-newline-comment", "tag: v1 # c", "tag", "v2", "tag: v2 # c"),
    ("blank-lines", "a: 1\n\n\ntag: v1\n\n\n", "tag", "v2", "a: 1\n\n\ntag: v2\n\n\n"),
    ("doc-markers", "---\ntag: v1\n...\n", "tag", "v2", "---\ntag: v2\n...\n"),
    ("yaml-directive", "%YAML 1.2\n---\ntag: v1\n", "tag", "v2", "%YAML 1.2\n---\ntag: v2\n"),
    (
        "flow-map",
        'image: {repository: x, tag: "1"}\n',
        "image.tag",
        "2",
        'image: {repository: x, tag: "2"}\n',
    ),
    (
        "flow-map-plain",
        "image: {repository: x, tag: v1}\n",
        "image.tag",
        "v2",
        "image: {repository: x, tag: v2}\n",
    ),
    (
        "flow-map-comma",
        "image: {repository: x, tag: v1}\n",
        "image.tag",
        "a,b",
        'image: {repository: x, tag: "a,b"}\n',
    ),
    ("flow-seq", "tags: [a, b, c]\n", "tags[1]", "z", "tags: [a, z, c]\n"),
    ("flow-seq-brace", "tags: [a, b]\n", "tags[0]", "x]y", 'tags: ["x]y", b]\n'),
    (
        "seq-indented",
        "c:\n  - name: a\n    image: r:1\n",
        "c[0].image",
        "r:2",
        "c:\n  - name: a\n    image: r:2\n",
    ),
    (
        "seq-not-indented",
        "c:\n- name: a\n  image: r:1\n",
        "c[0].image",
        "r:2",
        "c:\n- name: a\n  image: r:2\n",
    ),
    ("indent-4", "a:\n    b:\n        tag: v1\n", "a.b.tag", "v2", "a:\n    b:\n        tag: v2\n"),
    (
        "selector",
        "p:\n- name: image.tag\n  value: v1\n- name: x\n  value: v1\n",
        "p[name=image.tag].value",
        "v2",
        "p:\n- name: image.tag\n  value: v2\n- name: x\n  value: v1\n",
    ),
    (
        "quoted-key",
        'm:\n  "example.com/tag": v1\n',
        'm."example.com/tag"',
        "v2",
        'm:\n  "example.com/tag": v2\n',
    ),
    ("unicode", "note: héllo wörld ✓\ntag: v1\n", "tag", "v2", "note: héllo wörld ✓\ntag: v2\n"),
    ("unicode-value", "tag: v1\n", "tag", "ünï-✓", "tag: ünï-✓\n"),
    ("long-line", "desc: " + "x" * 250 + "\ntag: v1\n", "tag", "v2", "desc: " + "x" * 250 + "\ntag: v2\n"),
    ("long-value", "tag: v1\n", "tag", "v" + "9" * 220, "tag: v" + "9" * 220 + "\n"),
    ("float-like", "tag: v1\n", "tag", "1.10", 'tag: "1.10"\n'),
    ("float-was-float", "tag: 1.0\n", "tag", "1.10", 'tag: "1.10"\n'),
    ("exp-like", "tag: v1\n", "tag", "1e3", 'tag: "1e3"\n'),
    ("octal-like", "tag: v1\n", "tag", "0755", 'tag: "0755"\n'),
    ("int-like", "tag: v1\n", "tag", "1234567", 'tag: "1234567"\n'),
    ("hex-like", "tag: v1\n", "tag", "0x1F", 'tag: "0x1F"\n'),
    ("date-like", "tag: v1\n", "tag", "2024-06-27", 'tag: "2024-06-27"\n'),
    ("bool-like", "tag: v1\n", "tag", "yes", 'tag: "yes"\n'),
    ("null-like", "tag: v1\n", "tag", "null", 'tag: "null"\n'),
    ("tilde", "tag: v1\n", "tag", "~", 'tag: "~"\n'),
    ("semver-plain", "tag: v1\n", "tag", "1.2.3", "tag: 1.2.3\n"),
    ("quote-habit-single", "a: 'x'\nb: 'y'\ntag: v1\n", "tag", "1.10", "a: 'x'\nb: 'y'\ntag: '1.10'\n"),
    ("empty-value", "tag:\nz: 1\n", "tag", "v2", "tag: v2\nz: 1\n"),
    ("empty-value-comment", "tag: # none yet\n", "tag", "v2", "tag: v2 # none yet\n"),
    ("empty-string", 'tag: ""\n', "tag", "v2", 'tag: "v2"\n'),
    ("to-empty-string", "tag: v1\n", "tag", "", 'tag: ""\n'),
    ("null-word", "tag: null\n", "tag", "v2", "tag: v2\n"),
    ("colon-space", "tag: v1\n", "tag", "a: b", 'tag: "a: b"\n'),
    ("hash", "tag: v1\n", "tag", "a #b", 'tag: "a #b"\n'),
    ("leading-star", "tag: v1\n", "tag", "*x", 'tag: "*x"\n'),
    (
        "anchor-elsewhere",
        "base: &b {x: 1}\nother: *b\ntag: v1\n",
        "tag",
        "v2",
        "base: &b {x: 1}\nother: *b\ntag: v2\n",
    ),
    ("multi-doc", "a: 1\n---\ntag: v1\n---\nb: 2\n", "tag", "v2", "a: 1\n---\ntag: v2\n---\nb: 2\n"),
    (
        "block-scalar-elsewhere",
        "s: |\n  keep\n   me\ntag: v1\n",
        "tag",
        "v2",
        "s: |\n  keep\n   me\ntag: v2\n",
    ),
    ("str-over-int", "replicas: 1\n", "replicas", "3", 'replicas: "3"\n'),
    (
        "same-tag-two-images",
        "a:\n  tag: v1\nb:\n  tag: v1\n",
        "b.tag",
        "v2",
        "a:\n  tag: v1\nb:\n  tag: v2\n",
    ),
    ("cr-only", "a: 1\rtag: v1\r", "tag", "v2", "a: 1\rtag: v2\r"),
    ("trailing-spaces", "tag: v1   \nz: 1\n", "tag", "v2", "tag: v2   \nz: 1\n"),
]


@pytest.mark.parametrize(
    ("text", "key", "value", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_edit_changes_only_the_value(text: str, key: str, value: str, expected: str) -> None:
    result = edit_text(text, key, value)
    assert result.new_text == expected
    # and an independent reader loads the new value, as a string, at the key
    docs = list(YAML(typ="safe").load_all(result.new_text.lstrip("\ufeff")))
    assert value in [lookup(doc, parse_key(key)) for doc in docs]


def lookup(data: object, path: tuple) -> object:
    for segment in path:
        if isinstance(segment, Selector):
            data = next(item for item in data if item.get(segment.field) == segment.value)  # type: ignore[union-attr]
        else:
            try:
                data = data[segment]  # type: ignore[index]
            except (KeyError, IndexError, TypeError):
                return None
    return data


def test_typed_values() -> None:
    assert edit_text("r: 1\n", "r", "3", value_type="int").new_text == "r: 3\n"
    assert edit_text("r: '1'\n", "r", "3", value_type="int").new_text == "r: 3\n"
    assert edit_text("f: false\n", "f", "True", value_type="bool").new_text == "f: true\n"
    assert edit_text("f: 1\n", "f", "2", value_type="float").new_text == "f: 2.0\n"
    assert edit_text("f: x\n", "f", "", value_type="null").new_text == "f: null\n"


def test_same_value_is_unchanged() -> None:
    result = edit_text('tag: "v1"\n', "tag", "v1")
    assert not result.changed
    assert result.new_text == 'tag: "v1"\n'


def test_change_record() -> None:
    result = edit_text("a:\n  tag: v1\n", "a.tag", "v2", name="values.yaml")
    (change,) = result.changes
    assert change.as_dict() == {
        "file": "values.yaml",
        "key": "a.tag",
        "line": 2,
        "column": 8,
        "old": "v1",
        "new": "v2",
        "doc": 0,
    }


def test_doc_selects_document() -> None:
    text = "tag: a\n---\ntag: b\n"
    assert edit_text(text, "tag", "z", doc=1).new_text == "tag: a\n---\ntag: z\n"

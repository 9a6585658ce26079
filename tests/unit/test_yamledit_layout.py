"""Composing only the pieces of a file that matter must give exactly what composing everything gives.

Every check compares the engine with its layout (documents and top-level entries found in the text, see
promoter/yamledit/layout.py) against the same engine with the layout switched off, which composes the whole
file as the first release did: same trees and marks, same located targets, same planned edits, same bytes,
same refusals.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from promoter import progress
from promoter.errors import InputError, UnsafeTargetError, YamlSyntaxError
from promoter.imageref import ImageRef
from promoter.yamledit import YamlDocument, apply_edits, edit_text
from promoter.yamledit.compose import compose_all
from promoter.yamledit.finders import find_sites, plan_image_update
from promoter.yamledit.splice import ScalarEdit

CORPUS = Path(__file__).parent.parent / "fixtures" / "real-world"
CORPUS_FILES = sorted(
    p.name for p in CORPUS.iterdir() if p.suffix in {".yaml", ".yml"} and "gotemplate" not in p.name
)

# Texts built to fool a text-only reading: column-0 lines inside quotes and brackets, markers, anchors.
TRICKY = {
    "quoted-over-a-key-line": 'a: "x\nb: y"\nc:\n  image: {repository: acme/api, tag: v1}\n',
    "single-quoted-over-lines": "a: 'x\nb: y'\nc:\n  repository: acme/api\n  tag: v1\n",
    "flow-over-lines": "a: [1,\n2]\nc:\n  repository: acme/api\n  tag: v1\n",
    "flow-map-over-lines": "a: {x: 1,\ny: 2}\nc:\n  repository: acme/api\n  tag: v1\n",
    "indentless-sequence": "items:\n- name: a\n  image: acme/api:v1\n- name: b\n  image: acme/web:v1\nz: 1\n",
    "comments-at-column-0": "a: 1\n# c:\n#   repository: x\nc:\n# inside\n  repository: acme/api\n  tag: v1\n",
    "multi-document": "a: 1\n---\nc:\n  repository: acme/api\n  tag: v1\n...\n---\n- image: acme/api:v2\n",
    "root-block-scalar-doc": "--- |\n  c:\n    repository: acme/api\n---\nc:\n  repository: acme/api\n  tag: v1\n",
    "marker-with-comment": "--- # first\nc:\n  repository: acme/api\n  tag: v1\n--- # second\nd: {image: 'acme/api:v3'}\n",
    "anchor-alias-across-entries": "x: &v v1\nc:\n  repository: acme/api\n  tag: *v\nd:\n  repository: acme/api\n  tag: v2\n",
    "merge-across-entries": "base: &b\n  repository: acme/api\nc:\n  <<: *b\n  tag: v1\n",
    "repeated-root-key": "c:\n  repository: acme/api\n  tag: v1\nc:\n  repository: acme/api\n  tag: v2\n",
    "root-is-an-image-block": "repository: acme/api\ntag: v1\nother:\n  x: acme/api\n",
    "escaped-repository": 'c:\n  repository: "acme/\\x61pi"\n  tag: v1\nd:\n  repository: acme/api\n  tag: v1\n',
    "crlf-no-final-newline": "a: 1\r\nc:\r\n  repository: acme/api\r\n  tag: v1\r\nd: 2",
    "tab-and-quoted-keys": "'c':\n  repository: acme/api\n  tag: v1\t# note\n\"d e\": 1\n",
    "indented-root": "  c:\n    repository: acme/api\n    tag: v1\n  d: 1\n",
    "plain-continuation": "a: one\n  two three\nc:\n  repository: acme/api\n  tag: v1\n",
    "document-end-then-directive-free": "c:\n  repository: acme/api\n  tag: v1\n...\n# trailing\n",
    "explicit-key": "? a\n: 1\nc:\n  repository: acme/api\n  tag: v1\n",
    "empty-values": "c:\n  repository: acme/api\n  tag:\nd:\n",
}
IMAGE = "acme/api:v9"


def without_layout(document: YamlDocument) -> YamlDocument:
    """The same file read the first release's way: every document composed at once, no layout."""
    copy = YamlDocument(name=document.name, body=document.body, bom=document.bom, path=document.path)
    copy._roots = compose_all(document.body, document.name)
    return copy


def texts() -> Iterator[tuple[str, str]]:
    for name in CORPUS_FILES:
        yield name, (CORPUS / name).read_bytes().decode("utf-8")
    yield from TRICKY.items()


ALL = list(texts())
IDS = [name for name, _ in ALL]


def same_tree(a: Node, b: Node) -> None:
    stack = [(a, b)]
    seen: set[int] = set()
    while stack:
        x, y = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        assert type(x) is type(y)
        assert (x.tag, x.start_mark.index, x.end_mark.index) == (y.tag, y.start_mark.index, y.end_mark.index)
        assert (x.start_mark.line, x.start_mark.column) == (y.start_mark.line, y.start_mark.column)
        assert (x.end_mark.line, x.end_mark.column) == (y.end_mark.line, y.end_mark.column)
        if isinstance(x, ScalarNode):
            assert (x.value, x.style) == (y.value, y.style)
        elif isinstance(x, MappingNode):
            assert len(x.value) == len(y.value) and x.flow_style == y.flow_style
            for (kx, vx), (ky, vy) in zip(x.value, y.value):
                stack += [(kx, ky), (vx, vy)]
        else:
            assert isinstance(x, SequenceNode) and len(x.value) == len(y.value)
            stack += list(zip(x.value, y.value))


def scalar_paths(root: Node, path: tuple = ()) -> Iterator[tuple]:
    if isinstance(root, ScalarNode):
        yield path
    elif isinstance(root, MappingNode):
        for key, value in root.value:
            if isinstance(key.value, str) and key.value and "'" not in key.value:
                yield from scalar_paths(value, (*path, key.value))
    elif isinstance(root, SequenceNode):
        for index, item in enumerate(root.value):
            yield from scalar_paths(item, (*path, index))


def outcome(call: Any) -> Any:
    try:
        return ("ok", call())
    except InputError as exc:
        return (type(exc).__name__, exc.message, exc.where)


@pytest.mark.parametrize(("name", "text"), ALL, ids=IDS)
def test_documents_and_entries_compose_to_what_composing_everything_gives(name: str, text: str) -> None:
    document = YamlDocument.parse(text, name)
    everything = compose_all(document.body, name)
    layout = document.layout
    if layout is None:
        return
    assert len(layout.docs) == len(everything)
    for span, root in zip(layout.docs, everything):
        same_tree(layout.whole(span).root, root)
        entries = layout.entries(span)
        if entries is None:
            continue
        regions = layout.regions(span, list(entries))
        if regions is None:  # a boundary could not be proven (a key-like line in a quote): composed whole
            continue
        assert isinstance(root, MappingNode)
        assert entries.keys == [key.value for key, _ in root.value]
        for region, (key, value) in zip(regions, root.value):
            [(region_key, region_value)] = region.root.value
            same_tree(region_key, key)
            same_tree(region_value, value)


@pytest.mark.parametrize(("name", "text"), ALL, ids=IDS)
def test_every_value_is_located_as_composing_everything_locates_it(name: str, text: str) -> None:
    document = YamlDocument.parse(text, name)
    old = without_layout(document)
    paths = sorted({path for root in old.roots for path in scalar_paths(root) if path}, key=repr)
    random.Random(name).shuffle(paths)
    for path in paths[:80]:
        for doc in (None, 0):
            fast = outcome(lambda: document.locate(path, doc))  # noqa: B023
            slow = outcome(lambda: old.locate(path, doc))  # noqa: B023
            if fast[0] == "ok":
                assert slow[0] == "ok", (path, slow)
                assert (fast[1].start, fast[1].end, fast[1].doc_index, fast[1].key) == (
                    slow[1].start,
                    slow[1].end,
                    slow[1].doc_index,
                    slow[1].key,
                )
            else:
                assert fast == slow


@pytest.mark.parametrize(("name", "text"), ALL, ids=IDS)
def test_every_image_is_found_planned_and_written_as_before(name: str, text: str) -> None:
    document = YamlDocument.parse(text, name)
    old = without_layout(document)
    images = {site.image.name for site in find_sites(old)} | {"acme/api"}
    for image in sorted(images):
        new = ImageRef.parse(image).with_version("v9.9.9")

        def run(doc: YamlDocument, new: ImageRef = new) -> Any:
            edits, sites = plan_image_update(doc, new)
            result = apply_edits(doc, edits)
            found = [(s.finder, str(s.image), s.key, s.where) for s in sites if s.image.same_repository(new)]
            return result.new_text, result.changes, found, result.diff()

        assert outcome(lambda: run(document)) == outcome(lambda: run(old))


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: [unclosed\nc:\n  repository: acme/api\n  tag: v1\n",
        "c:\n  repository: acme/api\n  tag: v1\n---\nd: *nowhere\n",
        "c:\n  repository: acme/api\n  tag: v1\n---\nd: &x 1\ne: &x 2\n",
        "c:\n  repository: acme/api\n  tag: v1\n---\n\tbad: indentation\n",
        "c:\n  repository: acme/api\n  tag: v1\nd: 'open\n",
    ],
    ids=[
        "flow",
        "undefined-alias-elsewhere",
        "repeated-anchor-elsewhere",
        "tab-elsewhere",
        "open-quote-at-end",
    ],
)
def test_an_error_anywhere_is_the_same_error(text: str) -> None:
    with pytest.raises(YamlSyntaxError) as fast:
        YamlDocument.parse(text, "t.yaml")
    with pytest.raises(YamlSyntaxError) as slow:
        compose_all(text, "t.yaml")
    assert (fast.value.message, fast.value.where) == (slow.value.message, slow.value.where)


def big_values(blocks: int) -> str:
    return "".join(
        f"svc-{i:04d}:\n  image:\n    repository: acme/svc-{i:04d}\n    tag: '1.{i}'  # CI\n  port: {i}\n\n"
        for i in range(blocks)
    )


def test_a_large_file_is_edited_without_composing_it_whole() -> None:
    document = YamlDocument.parse(big_values(3000), "values.yaml")
    edits, sites = plan_image_update(document, ImageRef.parse("acme/svc-2999:2.0"))
    result = apply_edits(document, edits)
    assert [change.key for change in result.changes] == ["svc-2999.image.tag"]
    assert document._roots is None  # nothing but the entry was composed
    target = document.locate("svc-1500.port")
    assert (target.value, document._roots) == ("1500", None)
    assert [s.key for s in sites] == ["svc-2999.image.tag"]


def test_an_edit_that_changes_more_than_its_value_is_refused() -> None:
    from promoter.yamledit import splice

    text = big_values(50)
    document = YamlDocument.parse(text, "values.yaml")
    target = document.locate("svc-0040.image.tag")
    edit = ScalarEdit(target, "2.0")
    port = text.index("port: 40") + len("port: ")

    def check(*splices: tuple[int, int, str]) -> None:
        splice._verify(splice.EditResult(document, [], list(splices)), [edit])

    check((target.start, target.end, "'2.0'"))  # the right splice passes
    bad = [
        [(target.start, target.end, "'2.0'"), (port, port + 2, "41")],  # another value of the same entry
        [(target.start, target.end, "'2.0'\n  extra: 1")],  # a new key
        [(target.start, target.end, "'2.0")],  # an open quote
        [(target.start, target.end, "2.0")],  # a float, not the string
    ]
    for splices in bad:
        with pytest.raises(UnsafeTargetError, match=r"more than the value|would not parse"):
            check(*splices)


def test_duplicate_top_level_keys_are_still_refused() -> None:
    text = "c:\n  tag: v1\nd: 1\nc:\n  tag: v2\n"
    with pytest.raises(UnsafeTargetError, match="duplicate key 'c'"):
        edit_text(text, "c.tag", "v3")


def test_large_files_show_progress(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import io

    from promoter.yamledit import document as document_module

    stream = io.StringIO()
    progress.configure(stream=stream, tty=False, interval=0.0, delay=0.0)
    monkeypatch.setattr(document_module, "LARGE_FILE", 1000)
    try:
        document = YamlDocument.parse(big_values(100), "values.yaml")
        edits, _ = plan_image_update(document, ImageRef.parse("acme/svc-0050:2.0"))
        apply_edits(document, edits)
    finally:
        progress.configure()
    lines = stream.getvalue().splitlines()
    assert any(line.startswith("reading values.yaml") for line in lines), lines
    assert any(line.startswith("checking the edit of values.yaml") for line in lines), lines


def test_a_name_found_in_most_entries_composes_the_document_once() -> None:
    text = "".join(
        f"app-{i}:\n  image: {{repository: acme/api, tag: v{i}}}\n  api: true\n" for i in range(200)
    )
    document = YamlDocument.parse(text, "values.yaml")
    edits, _ = plan_image_update(document, ImageRef.parse("acme/api:v9"))
    assert document.layout is not None and list(document.layout._whole) == [0]
    expected = "".join(
        f"app-{i}:\n  image: {{repository: acme/api, tag: v9}}\n  api: true\n" for i in range(200)
    )
    assert apply_edits(document, edits).new_text == expected
    assert document._roots is None


# Random streams made of the constructs a text-only reading could misjudge -----------------------------
VALUES = st.sampled_from(
    [
        "plain",
        "'single'",
        '"double"',
        '"multi\nline: looks-like-a-key"',
        "'multi\nline: too'",
        "[a,\nb]",
        "{x: 1,\ny: 2}",
        "|\n  block\n  lines: not keys",
        ">-\n  folded",
        "\n- item\n- other: x",
        "\n  repository: acme/api\n  tag: v1",
        "\n  image: acme/api:v1",
        "&anchor anchored",
        "*anchor",
        "\n  <<: *anchor",
        "\n# comment: at column 0\n  nested: 1",
        "",
    ]
)
KEYS = st.sampled_from(["a", "b", "api", "image", '"quoted key"', "'single key'", "x.y", "c-d"])


@st.composite
def streams(draw: st.DrawFn) -> str:
    documents = []
    for number in range(draw(st.integers(1, 3))):
        lines = []
        if number or draw(st.booleans()):
            lines.append(draw(st.sampled_from(["---", "--- # doc", "---"])))
        for _ in range(draw(st.integers(1, 4))):
            lines.append(f"{draw(KEYS)}: {draw(VALUES)}".rstrip(" "))
            if draw(st.booleans()):
                lines.append(draw(st.sampled_from(["# c", "", "  # indented comment"])))
        if draw(st.booleans()):
            lines.append("...")
        documents.append("\n".join(lines))
    return "\n".join(documents) + draw(st.sampled_from(["\n", ""]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=streams())
def test_random_streams_read_as_composing_everything_reads_them(text: str) -> None:
    try:
        everything = compose_all(text, "t.yaml")
    except YamlSyntaxError as exc:
        with pytest.raises(YamlSyntaxError) as caught:
            YamlDocument.parse(text, "t.yaml")
        assert (caught.value.message, caught.value.where) == (exc.message, exc.where)
        return
    document = YamlDocument.parse(text, "t.yaml")
    if document.layout is not None:
        assert len(document.layout.docs) == len(everything)
        for span, root in zip(document.layout.docs, everything):
            same_tree(document.layout.whole(span).root, root)
    old = without_layout(document)
    for path in sorted({p for root in everything for p in scalar_paths(root) if p}, key=repr)[:20]:
        fast, slow = outcome(lambda: document.locate(path)), outcome(lambda: old.locate(path))  # noqa: B023
        if fast[0] == "ok":
            assert slow[0] == "ok" and (fast[1].start, fast[1].key) == (slow[1].start, slow[1].key)
        else:
            assert fast == slow

    def run(doc: YamlDocument) -> Any:
        edits, _ = plan_image_update(doc, ImageRef.parse(IMAGE))
        result = apply_edits(doc, edits)
        return result.new_text, result.changes

    assert outcome(lambda: run(YamlDocument.parse(text, "t.yaml"))) == outcome(lambda: run(old))

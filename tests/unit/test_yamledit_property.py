"""Property test: random documents in random styles; an edit changes exactly the value's bytes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from promoter.yamledit import edit_text, format_key
from promoter.yamledit.scalar import plain_is_safe

KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-", min_size=1, max_size=8).filter(
    lambda k: plain_is_safe(k, in_flow=True)
)
# YAML's printable characters only: no controls, surrogates or the noncharacters U+FFFE and U+FFFF
SCALAR_TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff\u2028\u2029\x85\ufffe\uffff"
    ),
    max_size=20,
)
STYLES = st.sampled_from(["plain", "single", "double"])


def scalars() -> st.SearchStrategy[tuple[str, str]]:
    return st.tuples(SCALAR_TEXT, STYLES)


trees = st.recursive(
    scalars(),
    lambda children: st.one_of(
        st.dictionaries(KEYS, children, min_size=1, max_size=4),
        st.lists(children, min_size=1, max_size=4),
    ),
    max_leaves=12,
)


class Renderer:
    def __init__(self, draw: Any) -> None:
        self.indent = draw(st.sampled_from([2, 4]))
        self.indent_seq = draw(st.booleans())
        self.flow = draw(st.booleans())
        self.comments = draw(st.booleans())
        self.blank = draw(st.booleans())

    def scalar(self, value: str, style: str, in_flow: bool) -> str:
        if style == "plain" and plain_is_safe(value, in_flow=in_flow):
            return value
        if style == "single" and "\n" not in value:
            return "'" + value.replace("'", "''") + "'"
        return json.dumps(value, ensure_ascii=False)

    def flow_node(self, node: Any) -> str:
        if isinstance(node, tuple):
            return self.scalar(*node, in_flow=True)
        if isinstance(node, dict):
            return "{" + ", ".join(f"{k}: {self.flow_node(v)}" for k, v in node.items()) + "}"
        return "[" + ", ".join(self.flow_node(v) for v in node) + "]"

    def block(self, node: Any, depth: int) -> list[str]:
        pad = " " * depth
        lines: list[str] = []
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            head = f"{pad}{key}:" if isinstance(node, dict) else f"{pad}-"
            comment = "  # note: x" if self.comments else ""
            if isinstance(value, tuple) or (self.flow and isinstance(value, dict | list)):
                text = (
                    self.scalar(*value, in_flow=False) if isinstance(value, tuple) else self.flow_node(value)
                )
                lines.append(f"{head} {text}{comment}")
            else:
                lines.append(head + comment)
                inner = depth + (
                    self.indent if isinstance(node, dict) or isinstance(value, dict | list) else 2
                )
                if isinstance(value, list) and isinstance(node, dict) and not self.indent_seq:
                    inner = depth
                if isinstance(node, list):
                    inner = depth + 2
                lines.extend(self.block(value, inner))
            if self.blank:
                lines.append("")
        return lines


def leaves(node: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(node, tuple):
        return [path]
    items = node.items() if isinstance(node, dict) else enumerate(node)
    return [leaf for key, value in items for leaf in leaves(value, (*path, key))]


def plain_data(node: Any) -> Any:
    if isinstance(node, tuple):
        return node[0]
    if isinstance(node, dict):
        return {k: plain_data(v) for k, v in node.items()}
    return [plain_data(v) for v in node]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_documents(data: st.DataObject) -> None:
    tree = data.draw(st.dictionaries(KEYS, trees, min_size=1, max_size=5))
    renderer = Renderer(data.draw)
    newline = data.draw(st.sampled_from(["\n", "\r\n"]))
    bom = data.draw(st.sampled_from(["", "\ufeff"]))
    lines = renderer.block(tree, 0)
    if data.draw(st.booleans()):
        lines = ["# header comment", "---", *lines]
    text = bom + newline.join(lines) + data.draw(st.sampled_from([newline, ""]))

    path = data.draw(st.sampled_from(leaves(tree)))
    new_value = data.draw(SCALAR_TEXT)
    result = edit_text(text, format_key(path), new_value)

    old_value = plain_data(tree)
    for segment in path[:-1]:
        old_value = old_value[segment]
    before = old_value[path[-1]]
    loaded = YAML(typ="safe").load(text.lstrip("\ufeff"))
    # the generated document means what we think it means, values as strings
    assert loaded == plain_data(tree)

    new_text = result.new_text
    if before == new_value and not result.changes:
        assert new_text == text
        return
    # only the value's bytes differ: common prefix and suffix cover everything else
    assert len(result.changes) == 1
    prefix = 0
    while prefix < min(len(text), len(new_text)) and text[prefix] == new_text[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(text), len(new_text)) - prefix and text[-1 - suffix] == new_text[-1 - suffix]:
        suffix += 1
    changed_new = new_text[prefix : len(new_text) - suffix]
    # one line changed; a stray comment would cut the value short, which the load below catches (a `#`
    # inside the quoted new value, escaped or not, is fine)
    assert "\n" not in changed_new
    expected = plain_data(tree)
    cursor = expected
    for segment in path[:-1]:
        cursor = cursor[segment]
    cursor[path[-1]] = new_value
    assert YAML(typ="safe").load(new_text.lstrip("\ufeff")) == expected

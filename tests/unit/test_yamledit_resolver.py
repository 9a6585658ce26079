"""promoter's faster resolver must give every scalar exactly the tag ruamel's own resolver gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.nodes import Node, ScalarNode

from promoter.yamledit.compose import _yaml, compose_all

CORPUS = Path(__file__).parent.parent / "fixtures" / "real-world"
VALUES = [
    "yes",
    "no",
    "On",
    "~",
    "''",
    "",
    "null",
    "NULL",
    "Null",
    "true",
    "False",
    "0",
    "-1",
    "+1.5",
    "1.0",
    "1.10",
    "0x1F",
    "0o17",
    "0755",
    "1_000",
    "1e3",
    "-1E-3",
    ".inf",
    "-.Inf",
    ".nan",
    "2024-06-27",
    "2001-12-14t21:59:43.10-05:00",
    "12:30",
    "=",
    "<<",
    "1.2.3",
    '"1"',
    "'x'",
    "v1",
    "latest",
    "a b",
]


def tags(text: str, yaml: YAML) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    stack = list(yaml.compose_all(text))
    while stack:
        node = stack.pop()
        if isinstance(node, ScalarNode):
            found.append((node.tag, node.value))
        else:
            for item in node.value:
                stack.extend(item if isinstance(item, tuple) else (item,))
    return found


TEXTS = {p.name: p.read_text() for p in sorted(CORPUS.glob("*.y*ml")) if "gotemplate" not in p.name}
TEXTS["scalars"] = (
    "".join(f"k{i}: {v}\n" for i, v in enumerate(VALUES)) + "l:\n" + "".join(f"- {v}\n" for v in VALUES)
)
TEXTS["yaml-1.1"] = "%YAML 1.1\n---\n" + "".join(f"k{i}: {v}\n" for i, v in enumerate(VALUES))


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_same_tags_as_ruamel(name: str) -> None:
    expected = tags(TEXTS[name], YAML(typ="safe"))
    assert expected
    assert tags(TEXTS[name], _yaml()) == expected


def shape(roots: list[Node]) -> list[tuple[object, ...]]:
    """Every node of ``roots`` in document order: kind, tag, scalar value and style, anchor, marks."""
    out: list[tuple[object, ...]] = []
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        value = node.value if isinstance(node, ScalarNode) else None
        style = getattr(node, "style", None) if isinstance(node, ScalarNode) else node.flow_style
        out.append(
            (
                type(node).__name__,
                str(node.tag),
                value,
                style,
                node.anchor,
                node.start_mark.index,
                node.end_mark.index,
            )
        )
        if not isinstance(node, ScalarNode):
            children = [
                part for item in node.value for part in (item if isinstance(item, tuple) else (item,))
            ]
            stack.extend(reversed(children))
    return out


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_the_loader_made_once_composes_what_ruamel_composes(name: str) -> None:
    """promoter builds ruamel's loader class once per process and reuses it: the trees must not differ from
    a fresh ``YAML(typ="safe")``, also when texts of other YAML versions were composed in between."""
    expected = shape([node for node in YAML(typ="safe").compose_all(TEXTS[name]) if node is not None])
    assert expected
    for other in ("yaml-1.1", "scalars", name):
        compose_all(TEXTS[other], other)
        assert shape(compose_all(TEXTS[name], name)) == expected

"""promoter's faster resolver must give every scalar exactly the tag ruamel's own resolver gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.nodes import ScalarNode

from promoter.yamledit.compose import _yaml

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

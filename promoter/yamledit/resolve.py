"""Following a key path through a composed YAML document to the scalar it names.

Mapping keys, sequence indexes and ``[field=value]`` selectors, refusing on the way what an edit must not
touch (a path through an alias, a duplicate key, several matching items, a collection as the target), and
answering "not found" with the nearest keys or the valid indexes.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING

from promoter.errors import KeyNotFoundError, UnsafeTargetError
from promoter.yamledit.keypath import KeyPath, Selector, format_key

if TYPE_CHECKING:
    from ruamel.yaml.nodes import MappingNode, Node, ScalarNode


class PathResolver:
    """Resolves key paths in one document; ``where`` names a character offset as ``file:line:col``."""

    def __init__(self, where: Callable[[int], str]) -> None:
        self.where = where

    def resolve(self, root: Node, path: KeyPath) -> tuple[ScalarNode, bool, ScalarNode | None]:
        """The scalar at ``path`` below ``root``, whether it sits in a flow collection, and its key."""
        from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

        node: Node = root
        in_flow = False
        key_node: ScalarNode | None = None
        for depth, segment in enumerate(path):
            in_flow = in_flow or bool(getattr(node, "flow_style", False))
            done = path[:depth]
            parent = node
            if isinstance(segment, str):
                if not isinstance(node, MappingNode):
                    raise self._miss(
                        path, depth, node, f"{format_key(done) or 'the document'} is not a mapping"
                    )
                key_node, node = self._mapping_get(node, segment, path, depth)
            elif isinstance(segment, int):
                if not isinstance(node, SequenceNode):
                    raise self._miss(
                        path, depth, node, f"{format_key(done) or 'the document'} is not a sequence"
                    )
                if not -len(node.value) <= segment < len(node.value):
                    raise self._miss(
                        path, depth, node, f"index {segment} is out of range ({len(node.value)} items)"
                    )
                key_node, node = None, node.value[segment]
            else:
                key_node, node = None, self._select(node, segment, path, depth)
            if depth < len(path) - 1 and is_alias(parent, key_node, node):
                raise UnsafeTargetError(
                    f"{format_key(path)} is reached through the alias at {format_key(path[: depth + 1])}: "
                    "editing it would change the anchored original too",
                    where=self.where(key_node.end_mark.index if key_node else parent.start_mark.index),
                    hint="edit the anchored original instead",
                )
        if not isinstance(node, ScalarNode):
            kind = "mapping" if isinstance(node, MappingNode) else "sequence"
            raise UnsafeTargetError(
                f"{format_key(path)} is a {kind}, not a scalar value",
                where=self.where(node.start_mark.index),
                hint="name a scalar below it, e.g. " + format_key((*path, "tag")),
            )
        return node, in_flow, key_node

    def _mapping_get(self, node: MappingNode, key: str, path: KeyPath, depth: int) -> tuple[ScalarNode, Node]:
        matches = [(k, v) for k, v in node.value if key_text(k) == key]
        if not matches:
            raise self._miss(path, depth, node, f"key {key!r} not found")
        if len(matches) > 1:
            second = matches[1][0]
            raise UnsafeTargetError(
                f"duplicate key {key!r} on the way to {format_key(path)}",
                where=self.where(second.start_mark.index),
                hint="a YAML mapping must not repeat a key; fix the file first",
            )
        return matches[0]

    def _select(self, node: Node, selector: Selector, path: KeyPath, depth: int) -> Node:
        from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

        if not isinstance(node, SequenceNode):
            raise self._miss(path, depth, node, f"{format_key(path[:depth])} is not a sequence")
        hits = []
        for item in node.value:
            if isinstance(item, MappingNode):
                for k, v in item.value:
                    if (
                        key_text(k) == selector.field
                        and isinstance(v, ScalarNode)
                        and v.value == selector.value
                    ):
                        hits.append(item)
        if not hits:
            raise self._miss(path, depth, node, f"no item with {selector.field} = {selector.value!r}")
        if len(hits) > 1:
            raise UnsafeTargetError(
                f"{len(hits)} items match {selector} on the way to {format_key(path)}",
                where=self.where(hits[1].start_mark.index),
                hint="use an index [N] instead",
            )
        return hits[0]

    def _miss(self, path: KeyPath, depth: int, node: Node, what: str) -> KeyNotFoundError:
        from ruamel.yaml.nodes import MappingNode, SequenceNode

        hint = None
        if isinstance(node, MappingNode):
            keys = [key_text(k) for k, _ in node.value]
            wanted = path[depth] if isinstance(path[depth], str) else ""
            close = difflib.get_close_matches(str(wanted), keys, n=5, cutoff=0.0)
            near = close + [k for k in keys if k not in close]
            if near:
                prefix = format_key(path[:depth])
                shown = [format_key((*path[:depth], k)) for k in near[:8]]
                hint = f"keys under {prefix or 'the top level'}: " + ", ".join(shown)
        elif isinstance(node, SequenceNode):
            hint = (
                f"{format_key(path[:depth])} has {len(node.value)} items (indexes 0..{len(node.value) - 1})"
            )
        error = KeyNotFoundError(
            f"{format_key(path)} not found: {what}", where=self.where(node.start_mark.index), hint=hint
        )
        error.depth = depth
        return error


def is_alias(parent: Node, key_node: Node | None, child: Node) -> bool:
    """An alias composes to the anchored node, whose text lies before the place that refers to it."""
    if key_node is not None:
        return bool(child.start_mark.index < key_node.end_mark.index)
    return bool(child.start_mark.index < parent.start_mark.index)


def key_text(node: Node) -> str:
    value = node.value
    return value if isinstance(value, str) else format_key(())

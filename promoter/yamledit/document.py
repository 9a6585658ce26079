"""A YAML file as text plus its composed node trees, with exact character positions.

The text is kept exactly as read (``newline=''``: CR, CRLF, a missing final newline all survive). A leading
BOM is held apart because the C parser does not count it in its marks; every node index is an index into
:attr:`YamlDocument.body`.
"""

from __future__ import annotations

import bisect
import difflib
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promoter.errors import InputError, KeyNotFoundError, UnsafeTargetError, YamlSyntaxError
from promoter.yamledit.keypath import KeyPath, Selector, format_key, parse_key

if TYPE_CHECKING:
    from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

BOM = "\ufeff"
STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"
MERGE_TAG = "tag:yaml.org,2002:merge"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe")
    yaml.Resolver = _cached_resolver()
    return yaml


@functools.lru_cache(maxsize=1)
def _cached_resolver() -> type:
    """ruamel's resolver, minus per-scalar overhead that dominates a C-parser compose.

    For every plain scalar ruamel recomputes the YAML version (through attribute fallbacks) twice and
    concatenates two rule lists; here the version's rules are merged per first character once per compose.
    Same rules, same order, same tags (checked against ruamel's own resolver over the whole test corpus):
    a C compose of a 0.5 MB values file drops from about 0.50 s to 0.2 s. Each compose uses a fresh YAML
    object, so the table never outlives one parse.
    """
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver

    class FastResolver(VersionedResolver):
        _merged: dict[Any, list[Any]] | None = None

        def _rules(self) -> dict[Any, list[Any]]:
            table = VersionedResolver.versioned_resolver.fget(self)  # type: ignore[attr-defined]
            tail = list(table.get(None, []))
            merged = {key: [*rules, *tail] for key, rules in table.items() if key is not None}
            merged[None] = tail
            self._merged = merged
            return merged

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is ScalarNode and implicit[0] and not self.yaml_path_resolvers:
                merged = self._merged or self._rules()
                for tag, regexp in merged.get(value[:1], merged[None]):
                    if regexp.match(value):
                        return Tag(suffix=tag)
                return self.DEFAULT_SCALAR_TAG
            return super().resolve(kind, value, implicit)

    from ruamel.yaml.tag import Tag

    return FastResolver


def compose_all(body: str, name: str, line_offset: int = 0) -> list[Node]:
    """Compose every document of ``body``; syntax errors become :class:`YamlSyntaxError` at file:line:col."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return [node for node in _yaml().compose_all(body) if node is not None]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}:{mark.line + 1 + line_offset}:{mark.column + 1}" if mark else name
        problem = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise YamlSyntaxError(f"YAML does not parse: {problem or exc}", where=where) from None
    except YAMLError as exc:
        raise YamlSyntaxError(f"YAML does not parse: {exc}", where=name) from None


@dataclass
class Target:
    """A located scalar: the node, where it sits, and how it may be edited."""

    document: YamlDocument
    doc_index: int
    path: KeyPath
    node: ScalarNode
    in_flow: bool = False
    key_node: ScalarNode | None = None

    @property
    def key(self) -> str:
        return format_key(self.path)

    @property
    def start(self) -> int:
        return int(self.node.start_mark.index)

    @property
    def end(self) -> int:
        return int(self.node.end_mark.index)

    @property
    def where(self) -> str:
        return self.document.where(self.start)

    @property
    def line(self) -> int:
        return self.document.line_col(self.start)[0]

    @property
    def value(self) -> str:
        return str(self.node.value)


@dataclass
class YamlDocument:
    name: str
    body: str
    bom: str = ""
    path: Path | None = None
    roots: list[Node] = field(default_factory=list)
    _line_starts: list[int] | None = None

    # construction ------------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, name: str = "<text>", path: Path | None = None) -> YamlDocument:
        bom = BOM if text.startswith(BOM) else ""
        body = text[len(bom) :]
        document = cls(name=name, body=body, bom=bom, path=path)
        document.roots = compose_all(body, name)
        return document

    @classmethod
    def read(cls, path: str | Path, name: str | None = None) -> YamlDocument:
        path = Path(path)
        display = name or str(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise InputError(f"file not found: {display}", where=display) from None
        except IsADirectoryError:
            raise InputError(f"expected a file, found a directory: {display}", where=display) from None
        except OSError as exc:
            raise InputError(f"cannot read {display}: {exc.strerror}", where=display) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise InputError("file is not UTF-8 text", where=f"{display}:{line}") from None
        return cls.parse(text, display, path)

    @property
    def text(self) -> str:
        return self.bom + self.body

    # positions ---------------------------------------------------------------------------------
    def line_col(self, index: int) -> tuple[int, int]:
        """1-based line and column of a body index (CR, LF and CRLF each end a line)."""
        if self._line_starts is None:
            self._line_starts = [0, *(match.end() for match in _LINE_BREAK.finditer(self.body))]
        line = bisect.bisect_right(self._line_starts, index) - 1
        return line + 1, index - self._line_starts[line] + 1

    def where(self, index: int) -> str:
        line, col = self.line_col(index)
        return f"{self.name}:{line}:{col}"

    # lookup ------------------------------------------------------------------------------------
    def select_documents(self, doc: int | None) -> list[tuple[int, Node]]:
        if doc is None:
            return list(enumerate(self.roots))
        if not 0 <= doc < len(self.roots):
            raise KeyNotFoundError(
                f"document {doc} does not exist (the file has {len(self.roots)})",
                where=self.name,
                hint="--doc counts from 0",
            )
        return [(doc, self.roots[doc])]

    def locate(self, key: str | KeyPath, doc: int | None = None) -> Target:
        """Find the scalar at ``key``; in a multi-document file it must resolve in exactly one document."""
        path = parse_key(key) if isinstance(key, str) else key
        found: list[Target] = []
        misses: list[KeyNotFoundError] = []
        for index, root in self.select_documents(doc):
            try:
                found.append(self._resolve(index, root, path))
            except KeyNotFoundError as exc:
                misses.append(exc)
        if not found:
            if len(misses) == 1:
                raise misses[0]
            best = max(misses, key=lambda exc: getattr(exc, "depth", 0), default=None)
            if best is None:
                raise KeyNotFoundError(f"{format_key(path)} not found: the file is empty", where=self.name)
            raise best
        if len(found) > 1:
            docs = ", ".join(str(t.doc_index) for t in found)
            raise KeyNotFoundError(
                f"{format_key(path)} resolves in documents {docs}",
                where=found[1].where,
                hint="choose one with --doc N",
            )
        target = found[0]
        check_editable(target)
        return target

    def _resolve(self, doc_index: int, root: Node, path: KeyPath) -> Target:
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
            if depth < len(path) - 1 and _is_alias(parent, key_node, node):
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
        return Target(self, doc_index, path, node, in_flow, key_node)

    def _mapping_get(self, node: MappingNode, key: str, path: KeyPath, depth: int) -> tuple[ScalarNode, Node]:
        matches = [(k, v) for k, v in node.value if _key_text(k) == key]
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
                        _key_text(k) == selector.field
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
            keys = [_key_text(k) for k, _ in node.value]
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
        error.depth = depth  # type: ignore[attr-defined]
        return error

    # traversal ---------------------------------------------------------------------------------
    def walk(self) -> Iterator[tuple[int, KeyPath, Node]]:
        """Every node of every document with its key path (aliases are visited once, where defined)."""
        for index, root in enumerate(self.roots):
            yield from _walk(root, (), index, set())


def _walk(node: Node, path: KeyPath, doc: int, seen: set[int]) -> Iterator[tuple[int, KeyPath, Node]]:
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    if id(node) in seen:
        return
    seen.add(id(node))
    yield doc, path, node
    if isinstance(node, MappingNode):
        for key, value in node.value:
            yield from _walk(value, (*path, _key_text(key)), doc, seen)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            yield from _walk(item, (*path, i), doc, seen)


def _is_alias(parent: Node, key_node: Node | None, child: Node) -> bool:
    """An alias composes to the anchored node, whose text lies before the place that refers to it."""
    if key_node is not None:
        return bool(child.start_mark.index < key_node.end_mark.index)
    return bool(child.start_mark.index < parent.start_mark.index)


def _key_text(node: Node) -> str:
    value = node.value
    return value if isinstance(value, str) else format_key(())


def check_editable(target: Target) -> None:
    """Refuse targets that cannot be changed without touching other bytes or other values."""
    node = target.node
    document = target.document
    body = document.body
    span = body[target.start : target.end]
    where = target.where
    key = target.key
    if target.key_node is not None and node.start_mark.index < target.key_node.end_mark.index:
        raise UnsafeTargetError(
            f"{key} is an alias (*name): editing it would change the anchored value too",
            where=document.where(target.key_node.end_mark.index),
            hint="edit the anchor's value instead, or replace the alias by hand",
        )
    if span.startswith("&"):
        raise UnsafeTargetError(
            f"{key} carries an anchor (&name): editing it would change every alias too",
            where=where,
            hint="edit by hand, or remove the anchor first",
        )
    if span.startswith("!"):
        raise UnsafeTargetError(f"{key} has an explicit tag", where=where, hint="edit tagged values by hand")
    if node.style in {"|", ">"}:
        raise UnsafeTargetError(
            f"{key} is a block scalar ({node.style}); promoter edits single-line values only", where=where
        )
    if "\n" in span or "\r" in span:
        raise UnsafeTargetError(
            f"{key} is a multi-line scalar; promoter edits single-line values only", where=where
        )
    if node.tag == MERGE_TAG:
        raise UnsafeTargetError(f"{key} is a merge key", where=where)

"""The YAML parser underneath: ruamel.yaml's C parser (libyaml), composed with a faster resolver.

Three ways in, from cheapest to dearest:

- :func:`parses`: libyaml's parser runs over the text in C and builds nothing (``raw_parse``); about 40x
  cheaper than composing, it says whether the text is well-formed YAML.
- :func:`compose_span`: compose one piece of a larger text (a document, or one top-level entry of one),
  with every mark moved to the piece's place in the whole text.
- :func:`compose_all`: compose a whole stream.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from promoter.errors import YamlSyntaxError

if TYPE_CHECKING:
    from ruamel.yaml.nodes import Node


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe")
    yaml.Resolver = _cached_resolver()
    return yaml


@functools.lru_cache(maxsize=1)
def _loader() -> type | None:
    """What ``YAML(typ="safe").compose`` builds around libyaml for every call, built once.

    ruamel's ``YAML`` object looks for plug-ins on disk (a ``glob``) when it is created and defines a new
    loader class on every ``compose``: about 0.3 ms per call, more than composing a small file. This is the
    same class (libyaml's parser, the safe constructor, :func:`_cached_resolver`), initialised the same way,
    made once per process; each compose still gets a fresh instance. None without libyaml.
    """
    from ruamel.yaml.constructor import SafeConstructor

    parser = c_parser()
    if parser is None:  # pragma: no cover - ruamel.yaml.clib is a dependency on CPython
        return None
    resolver: Any = _cached_resolver()

    # the bases are classes known only at run time: libyaml's parser (an untyped C extension), the resolver
    class Loader(parser, SafeConstructor, resolver):  # type: ignore[misc, valid-type]
        def __init__(self, stream: str) -> None:
            parser.__init__(self, stream)
            self._parser = self._composer = self
            SafeConstructor.__init__(self, loader=self)
            self.allow_duplicate_keys = False
            resolver.__init__(self, version=None, loadumper=self)

    return Loader


def _compose_one(text: str) -> Any:
    loader = _loader()
    if loader is None:  # pragma: no cover
        return _yaml().compose(text)
    instance = loader(text)
    try:
        return instance.get_single_node()
    finally:
        instance.dispose()


def _compose_each(text: str) -> list[Any]:
    loader = _loader()
    if loader is None:  # pragma: no cover
        return list(_yaml().compose_all(text))
    instance = loader(text)
    try:
        nodes = []
        while instance.check_node():
            nodes.append(instance.get_node())
        return nodes
    finally:
        instance.dispose()


@functools.lru_cache(maxsize=1)
def _cached_resolver() -> type:
    """ruamel's resolver, minus per-scalar overhead that dominates a C-parser compose.

    For every plain scalar ruamel recomputes the YAML version (through attribute fallbacks) twice and
    concatenates two rule lists; here the version's rules are merged per first character, once per YAML
    version and process (the table depends on nothing else), and each compose picks its version's table
    on its first scalar, as ruamel would. Same rules, same order, same tags (checked against ruamel's own
    resolver over the whole test corpus): a C compose of a 0.5 MB values file drops from about 0.50 s to
    0.2 s, and a small file no longer pays for building the table.
    """
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver
    from ruamel.yaml.tag import Tag

    tables: dict[Any, dict[Any, list[Any]]] = {}  # YAML version -> merged rules

    class FastResolver(VersionedResolver):
        _merged: dict[Any, list[Any]] | None = None

        def _rules(self) -> dict[Any, list[Any]]:
            version = self.processing_version
            merged = tables.get(version)
            if merged is None:
                table = self.versioned_resolver
                # each rule as (tag, the compiled pattern's match): ruamel wraps its patterns in a lazy
                # proxy whose every attribute access is a Python call
                rules = {key: [(tag, regexp.match) for tag, regexp in found] for key, found in table.items()}
                tail = rules.get(None, [])
                merged = {key: [*found, *tail] for key, found in rules.items() if key is not None}
                merged[None] = tail
                tables[version] = merged
            self._merged = merged
            return merged

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is ScalarNode and implicit[0] and not self.yaml_path_resolvers:
                merged = self._merged or self._rules()
                for tag, match in merged.get(value[:1], merged[None]):
                    if match(value):
                        return Tag(suffix=tag)
                return self.DEFAULT_SCALAR_TAG
            return super().resolve(kind, value, implicit)

    return FastResolver


@functools.lru_cache(maxsize=1)
def c_parser() -> Any:
    """ruamel.yaml.clib's ``CParser`` (libyaml), or None where only the pure-Python parser is installed."""
    try:
        # ruamel.yaml.cyaml takes CParser from the C extension (no type hints) and leaves it out of __all__
        from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - ruamel.yaml.clib is a dependency on CPython
        return None
    return CParser


def parses(text: str | bytes) -> bool:
    """True when libyaml parses ``text`` without an error (nothing is built; composer checks not included).

    UTF-8 bytes are read in place; a ``str`` is encoded first (the parser would copy it anyway).
    """
    from ruamel.yaml.error import YAMLError

    parser = c_parser()
    try:
        parser(text.encode("utf-8") if isinstance(text, str) else text).raw_parse()
    except YAMLError:
        return False
    return True


def compose_all(body: str, name: str, line_offset: int = 0) -> list[Node]:
    """Compose every document of ``body``; syntax errors become :class:`YamlSyntaxError` at file:line:col."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return [node for node in _compose_each(body) if node is not None]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}:{mark.line + 1 + line_offset}:{mark.column + 1}" if mark else name
        problem = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise YamlSyntaxError(f"YAML does not parse: {problem or exc}", where=where) from None
    except YAMLError as exc:
        raise YamlSyntaxError(f"YAML does not parse: {exc}", where=name) from None


def compose_span(body: str, start: int, end: int, line: int) -> Node:
    """Compose ``body[start:end]`` (one document, starting at a line start) as it sits in ``body``.

    ``line`` is the 0-based line of ``start``. Every node's marks are moved by ``start`` characters and
    ``line`` lines (columns stay: the piece starts at column 0). Raises ruamel's errors, with marks relative
    to the piece: callers fall back to composing the whole text for the message.
    """
    return compose_text(body[start:end], start, line)


def compose_text(text: str, start: int, line: int) -> Node:
    """Compose ``text``, a piece that sits at index ``start`` and 0-based line ``line`` of a larger text."""
    node: Node | None = _compose_one(text)
    if node is None:
        raise ValueError("the piece holds no document")
    if start:
        _shift(node, start, line)
    return node


def _shift(root: Node, index: int, line: int) -> None:
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    mark_type = type(root.start_mark)
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for attribute in ("start_mark", "end_mark"):
            mark = getattr(node, attribute)
            setattr(
                node,
                attribute,
                mark_type(mark.name, mark.index + index, mark.line + line, mark.column, None, None),
            )
        if isinstance(node, MappingNode):
            for key, value in node.value:
                stack.append(key)
                stack.append(value)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)

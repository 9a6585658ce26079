"""``promoter.yaml`` text -> plain data (dicts, lists, scalars) that remembers where each value was written.

The text is *composed* (not loaded) with ruamel.yaml's safe C parser, so every node keeps its line and column.
Reading refuses what YAML would silently accept (a duplicate key; a ``<<`` merge of something that is not
a mapping) and applies merge keys, keys written explicitly winning. Scalars keep their YAML 1.2 type
(``yes`` is a string); timestamps stay the text written. A key written without a value is left out of its
mapping (the model's default applies) and listed in the mapping's ``empty_keys``.

:meth:`YamlDocument.where` maps a path such as ``("environments", "production", "branch")`` back to
``file:line:col`` of the key (or list item) it names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from promoter.errors import ConfigError

__all__ = ["SCHEMA_URL", "Unsupported", "YamlDocument", "YamlMapping", "read_yaml"]

SCHEMA_URL = "https://raw.githubusercontent.com/promoter-dev/promoter/main/schema/promoter.schema.json"

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_FLOAT = "tag:yaml.org,2002:float"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"

Path = tuple[str | int, ...]


class YamlMapping(dict[str, Any]):
    """A mapping as written: also its keys without a value, and the text of its non-string scalars."""

    __slots__ = ("empty_keys", "written")

    def __init__(self) -> None:
        super().__init__()
        self.empty_keys: list[str] = []
        self.written: dict[str, str] = {}


class Unsupported:
    """A scalar of a type promoter never reads (``!!binary``, a custom tag): always the wrong type."""

    __slots__ = ("tag",)

    def __init__(self, tag: str) -> None:
        self.tag = tag


def kind_of(node: Any) -> str:
    """What a node is, for messages: "a mapping", "a string", "nothing (null)", ..."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return {_STR: "a string", _INT: "an integer", _BOOL: "a boolean", _NULL: "nothing (null)"}.get(
        node.tag, f"a {node.tag.rsplit(':', 1)[-1]}"
    )


def _int_value(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        return int(text.replace("_", ""), 10)  # YAML allows leading zeros: 010 is ten


def _float_value(text: str) -> float:
    lowered = text.lower().replace("_", "")
    if lowered.endswith(".inf"):
        return float("-inf") if lowered.startswith("-") else float("inf")
    if lowered == ".nan":
        return float("nan")
    return float(lowered)


class YamlDocument:
    """One composed YAML document and its source name."""

    def __init__(self, root: Any, source: str) -> None:
        self.root = root
        self.source = source
        self._pairs: dict[int, list[tuple[Any, Any]] | None] = {}  # per mapping node; None while merging
        self._values: dict[int, Any] = {}
        self._reading: set[int] = set()

    # --- places ----------------------------------------------------------------------------------
    def position(self, node: Any) -> str:
        if node is None:
            return f"{self.source}:1:1"
        mark = node.start_mark
        return f"{self.source}:{mark.line + 1}:{mark.column + 1}"

    def fail(self, node: Any, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(message, where=self.position(node), hint=hint)

    def locate(self, path: Path) -> tuple[Any, Any, int]:
        """``(blame, value, depth)``: the key (or list item) naming the deepest part of ``path`` found, the
        value node there, and how many parts of ``path`` were found."""
        from ruamel.yaml.nodes import MappingNode, SequenceNode

        blame, node = None, self.root
        for depth, part in enumerate(path):
            if isinstance(node, MappingNode) and isinstance(part, str):
                pair = next((p for p in self.pairs(node) if str(p[0].value) == part), None)
                if pair is None:
                    return blame, node, depth
                blame, node = pair
            elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                blame = node = node.value[part]
            else:
                return blame, node, depth
        return blame, node, len(path)

    def where(self, path: Path) -> str:
        """``file:line:col`` of the key or list item ``path`` names (or its nearest written parent)."""
        return self.position(self.locate(path)[0])

    def kind(self, path: Path) -> str | None:
        """What is written at ``path``, or None when it is not written there."""
        _blame, node, depth = self.locate(path)
        return kind_of(node) if depth == len(path) else None

    def text(self, path: Path) -> str | None:
        """The text of the scalar at ``path``, or None."""
        from ruamel.yaml.nodes import ScalarNode

        _blame, node, depth = self.locate(path)
        return str(node.value) if depth == len(path) and isinstance(node, ScalarNode) else None

    # --- data ------------------------------------------------------------------------------------
    def data(self, skip_top_level: Callable[[str], bool] | None = None) -> Any:
        """The document as plain data; top-level keys for which ``skip_top_level`` is true are left out."""
        from ruamel.yaml.nodes import MappingNode

        if skip_top_level is not None and isinstance(self.root, MappingNode):
            return self._mapping(self.root, skip_top_level)
        return self._value(self.root)

    def _value(self, node: Any) -> Any:
        from ruamel.yaml.nodes import MappingNode, SequenceNode

        key = id(node)
        if key in self._values:
            return self._values[key]
        if key in self._reading:
            raise self.fail(node, "a value includes itself (through an alias)")
        self._reading.add(key)
        if isinstance(node, MappingNode):
            value: Any = self._mapping(node, None)
        elif isinstance(node, SequenceNode):
            value = [self._value(child) for child in node.value]
        else:
            value = self._scalar(node)
        self._reading.discard(key)
        self._values[key] = value
        return value

    @staticmethod
    def _scalar(node: Any) -> Any:
        tag, text = node.tag, node.value
        if tag in (_STR, _TIMESTAMP):
            return text
        if tag == _INT:
            return _int_value(text)
        if tag == _BOOL:
            return text.lower() == "true"
        if tag == _NULL:
            return None
        if tag == _FLOAT:
            return _float_value(text)
        return Unsupported(tag)

    def _mapping(self, node: Any, skip: Callable[[str], bool] | None) -> YamlMapping:
        out = YamlMapping()
        for key, value in self.pairs(node):
            name = str(key.value)
            if skip is not None and skip(name):
                continue
            if value.tag == _NULL:
                out.empty_keys.append(name)
                continue
            out[name] = self._value(value)
            if value.tag in (_INT, _FLOAT, _BOOL):
                out.written[name] = str(value.value)
        return out

    def pairs(self, node: Any) -> list[tuple[Any, Any]]:
        """Key/value node pairs of a mapping, with ``<<`` merges applied; duplicate keys are errors.

        Memoised per node, so aliases cost nothing extra and a mapping that merges itself is an error.
        """
        from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

        if id(node) in self._pairs:
            cached = self._pairs[id(node)]
            if cached is None:
                raise self.fail(node, "a '<<' merge includes the mapping it belongs to")
            return cached
        self._pairs[id(node)] = None
        own: dict[str, tuple[Any, Any]] = {}
        merged: dict[str, tuple[Any, Any]] = {}
        for key, value in node.value:
            if key.tag == _MERGE:
                sources = value.value if isinstance(value, SequenceNode) else [value]
                for source in sources:
                    if not isinstance(source, MappingNode):
                        raise self.fail(key, "'<<' must merge a mapping or a list of mappings")
                    for pair in self.pairs(source):
                        merged.setdefault(str(pair[0].value), pair)
                continue
            if not (isinstance(key, ScalarNode) and key.tag in (_STR, _INT)):
                raise self.fail(key, f"keys must be plain names, got {kind_of(key)}")
            name = str(key.value)
            if name.startswith("$"):
                raise self.fail(
                    key,
                    f"unknown key {name!r}: keys starting with '$' are not read",
                    "for completion in editors, start the file with: "
                    f"# yaml-language-server: $schema={SCHEMA_URL}",
                )
            if name in own:
                raise self.fail(
                    key, f"duplicate key {name!r}", f"first written at {self.position(own[name][0])}"
                )
            own[name] = (key, value)
        result = list({**merged, **own}.values())
        self._pairs[id(node)] = result
        return result


def read_yaml(text: str, source: str, *, empty_hint: str | None = None) -> YamlDocument:
    """Compose ``text`` (one YAML document); syntax errors and an empty text are :class:`ConfigError`."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        root = YAML(typ="safe").compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        if exc.context_mark is not None and exc.context_mark is not mark:
            context = exc.context_mark
            what += f" (the construct started at line {context.line + 1}, column {context.column + 1})"
        raise ConfigError(
            f"{source} is not valid YAML: {what}",
            where=where,
            hint="fix the YAML syntax (indentation with spaces, matching quotes and brackets)",
        ) from None
    except YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}", where=source) from None
    if root is None:
        raise ConfigError(f"{source} is empty", where=f"{source}:1:1", hint=empty_hint)
    return YamlDocument(root, source)

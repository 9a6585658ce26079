"""``promoter.yaml`` -> a typed, validated, immutable :class:`Config`.

The file is *composed* (not loaded) with ruamel.yaml's safe C parser so every key keeps its line and column:
each error names ``file:line:col`` of the offending key. The schema is declarative: one table of fields per
section (``_ROOT``, ``_FORGE``, ``_GIT``, ``_ENVIRONMENT``, ``_APP``, ...), read by one small walker. Rules
that span sections (a promotion naming an unknown environment, two environments sharing a directory) run
afterwards against the recorded key locations. The full schema is documented in ``docs/config.md``.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from promoter.errors import ConfigError, ImageReferenceError

__all__ = [
    "CONFIG_FILE",
    "App",
    "Config",
    "CopyRule",
    "Environment",
    "FileTarget",
    "ForgeConfig",
    "GitSettings",
    "PreviewSettings",
    "Promotion",
    "branch_name_problem",
    "load_config",
    "locate_config",
    "parse_config",
    "parse_duration",
    "resolve_config",
    "safe_join",
]

CONFIG_FILE = "promoter.yaml"
SUPPORTED_VERSION = 1
FORGE_TYPES = ("gitlab", "github", "none")

_EMPTY: Mapping[str, Any] = MappingProxyType({})


# -------------------------------------------------------------------------------------------------
# the model
# -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileTarget:
    """One file of an app; ``key`` None means: find the references to the app's image in the file."""

    file: str
    key: str | None = None
    doc: int | None = None


@dataclass(frozen=True)
class App:
    name: str
    image: str
    files: tuple[FileTarget, ...] = ()
    env_files: Mapping[str, tuple[FileTarget, ...]] = field(default_factory=lambda: _EMPTY, hash=False)
    source_repo: str | None = None

    def files_for(self, env: str) -> tuple[FileTarget, ...]:
        """The files to edit in ``env``: its override when there is one, else the app's ``files``."""
        return self.env_files.get(env, self.files)


@dataclass(frozen=True)
class Environment:
    name: str
    branch: str
    path: str = ""
    approval: bool = False
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    auto_merge: bool = False
    url: str | None = None

    def file_path(self, file: str) -> str:
        """Repo-relative path of ``file`` in this environment (``path/file``, normalised, never outside)."""
        if not file or posixpath.normpath(file) == ".":
            raise ConfigError(f"unsafe path {file!r}: it does not name a file")
        return safe_join(self.path, file)


@dataclass(frozen=True)
class ForgeConfig:
    type: str = "none"
    url: str | None = None
    project: str | None = None


@dataclass(frozen=True)
class GitSettings:
    author: str = "promoter <promoter@localhost>"
    message: str = "{{ app }}: {{ env }} -> {{ tag }}"


@dataclass(frozen=True)
class CopyRule:
    """A file (or one key of it) copied verbatim from source to target on promotion."""

    file: str
    key: str | None = None


@dataclass(frozen=True)
class Promotion:
    source: str
    target: str
    copy: tuple[CopyRule, ...] = ()


@dataclass(frozen=True)
class PreviewSettings:
    branch: str = "dynamic-envs"
    dir: str = "apps"
    template: str = "argocd-application"
    namespace: str = "preview-{{ slug }}"
    ttl_seconds: int = 7 * 86400
    max_delete: int = 10
    values: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)


@dataclass(frozen=True)
class Config:
    version: int
    repo: str | None
    forge: ForgeConfig
    git: GitSettings
    environments: Mapping[str, Environment] = field(hash=False)
    apps: Mapping[str, App] = field(hash=False)
    promotion: tuple[Promotion, ...]
    previews: PreviewSettings
    source: str = field(default="<config>", compare=False)

    def environment(self, name: str) -> Environment:
        try:
            return self.environments[name]
        except KeyError:
            raise _unknown_name("environment", name, self.environments, self.source) from None

    def app(self, name: str) -> App:
        try:
            return self.apps[name]
        except KeyError:
            raise _unknown_name("app", name, self.apps, self.source) from None

    def apps_for_image(self, image: str) -> list[App]:
        """Every app whose image names the same repository as ``image`` (tag and digest ignored).

        Raises :class:`~promoter.errors.ImageReferenceError` (exit 3) when ``image`` is not a reference.
        """
        from promoter.imageref import ImageRef

        wanted = ImageRef.parse(image)
        return [app for app in self.apps.values() if wanted.same_repository(app.image)]

    def promotion_rule(self, source: str, target: str) -> Promotion | None:
        for rule in self.promotion:
            if rule.source == source and rule.target == target:
                return rule
        return None

    def with_repo(self, repo: str | None) -> Config:
        """A copy whose env repo is ``repo`` (``--repo`` and ``PROMOTER_REPO`` override the file)."""
        return self if repo is None else replace(self, repo=repo)

    def as_dict(self) -> dict[str, Any]:
        """The config in ``promoter.yaml`` shape (parsing this dict's JSON gives an equal Config)."""
        return _dump_section(_ROOT, self)


def _unknown_name(kind: str, name: str, known: Mapping[str, Any], source: str) -> ConfigError:
    names = _closest_first(name, known)
    hint = f"known {kind}s: {', '.join(names)}" if names else f"{source} defines no {kind}s"
    guess = did_you_mean(name, names)
    if guess is not None:
        hint = f"did you mean {guess!r}? {hint}"
    return ConfigError(f"unknown {kind} {name!r}", where=source, hint=hint)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The choice ``word`` was probably meant to be: same letters in another case, a unique name it starts
    (or an abbreviation like ``prod``), else the closest spelling; None when nothing is close."""
    options = list(choices)
    lowered = word.lower()
    for option in options:
        if option.lower() == lowered:
            return option
    starts = [option for option in options if lowered and option.lower().startswith(lowered)]
    if len(starts) == 1:
        return starts[0]
    close = difflib.get_close_matches(lowered, [option.lower() for option in options], n=1, cutoff=0.6)
    if close:
        return next(option for option in options if option.lower() == close[0])
    return None


# -------------------------------------------------------------------------------------------------
# value rules shared with other modules
# -------------------------------------------------------------------------------------------------
_BRANCH_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*")
_NAME_MAX = 63
_IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DURATION_RE = re.compile(r"(?:[0-9]+[wdhms])+")
_DURATION_PART = re.compile(r"([0-9]+)([wdhms])")
_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_AUTHOR_RE = re.compile(r"[^<>\n]*[^<>\s] <[^<>\s]+>")
_URL_RE = re.compile(r"https?://[^\s/]+(?:/\S*)?")


def branch_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid git branch name (``git check-ref-format --branch`` rules), or None."""
    if not name:
        return "it is empty"
    if name.startswith("-"):
        return "it starts with '-'"
    if name == "@" or "@{" in name:
        return "it is '@' or contains '@{'"
    match = _BRANCH_FORBIDDEN.search(name)
    if match:
        return f"it contains {match.group()!r} (no spaces, control characters, ~ ^ : ? * [ or \\)"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "it has an empty path component ('/' at either end or '//')"
    if ".." in name:
        return "it contains '..'"
    if name.endswith("."):
        return "it ends with '.'"
    for component in name.split("/"):
        if component.startswith("."):
            return f"component {component!r} starts with '.'"
        if component.endswith(".lock"):
            return f"component {component!r} ends with '.lock'"
    return None


def parse_duration(value: str | int) -> int:
    """``7d``, ``12h``, ``30m``, ``45s``, ``2w``, ``1d12h`` or a number of seconds -> seconds (> 0)."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like 7d, 12h, 30m")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and _DURATION_RE.fullmatch(value):
        seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(value))
    else:
        raise ValueError(f"{value!r} is not a duration like 7d, 12h, 30m, 45s, 2w or 1d12h")
    if seconds <= 0:
        raise ValueError("a duration must be longer than zero")
    return seconds


def _relative_path_problem(path: str) -> str | None:
    if "\x00" in path:
        return "it contains a NUL character"
    if "\\" in path:
        return "use '/' as the separator"
    if path.startswith("/"):
        return "it is absolute; paths are relative to the env repo's root"
    if ".." in path.split("/"):
        return "it contains '..'"
    return None


def safe_join(*parts: str) -> str:
    """Join repo-relative parts into one normalised path; refuse anything that leaves the repo.

    Raises :class:`ConfigError` for absolute paths, ``..`` escapes, NUL and backslashes, and for a result
    that names the repository root itself.
    """
    for part in parts:
        problem = _relative_path_problem(part) if part else None
        if problem is not None:
            raise ConfigError(f"unsafe path {part!r}: {problem}", hint="paths stay inside the env repo")
    joined = posixpath.normpath(posixpath.join(".", *parts))
    if joined == ".":
        raise ConfigError(f"unsafe path {'/'.join(parts)!r}: it names the repository root, not a file")
    return joined


# -------------------------------------------------------------------------------------------------
# the schema walker
# -------------------------------------------------------------------------------------------------
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"


class _Reader:
    """Walks composed nodes for one source; records where each path's key was written."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.locations: dict[str, Any] = {}
        self.pairs: dict[int, list[tuple[Any, Any]] | None] = {}  # per mapping node; None while merging

    def where(self, node: Any) -> str:
        if node is None:
            return f"{self.source}:1:1"
        mark = node.start_mark
        return f"{self.source}:{mark.line + 1}:{mark.column + 1}"

    def fail(self, node: Any, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(message, where=self.where(node), hint=hint)


# A check turns one node into a Python value or raises ConfigError; ``at`` is the node to blame.
Check = Callable[[_Reader, Any, Any, str], Any]


def _kind(node: Any) -> str:
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return {_STR: "a string", _INT: "an integer", _BOOL: "a boolean", _NULL: "nothing (null)"}.get(
        node.tag, f"a {node.tag.rsplit(':', 1)[-1]}"
    )


def _is_scalar(node: Any, *tags: str) -> bool:
    from ruamel.yaml.nodes import ScalarNode

    return isinstance(node, ScalarNode) and node.tag in tags


def _label(path: str) -> str:
    return f"'{path}'" if path else "the top level"


def string(
    problem: Callable[[str], str | None] | None = None,
    expected: str = "a string",
    hint: str | None = None,
    *,
    allow_empty: bool = False,
) -> Check:
    """A string scalar (numbers are refused: quote them), optionally checked by ``problem``."""

    def check(r: _Reader, node: Any, at: Any, path: str) -> str:
        if not _is_scalar(node, _STR):
            quote = f'quote it: "{node.value}"' if _is_scalar(node, _INT, _FLOAT, _BOOL) else None
            raise r.fail(at, f"{_label(path)} must be {expected}, got {_kind(node)}", quote or hint)
        value: str = node.value
        if not value and not allow_empty:
            raise r.fail(at, f"{_label(path)} must not be empty", hint)
        reason = problem(value) if problem else None
        if reason is not None:
            raise r.fail(at, f"{_label(path)} is not valid: {reason}", hint)
        return value

    return check


def boolean() -> Check:
    def check(r: _Reader, node: Any, at: Any, path: str) -> bool:
        if not _is_scalar(node, _BOOL):
            raise r.fail(at, f"{_label(path)} must be true or false, got {_kind(node)}")
        return node.value.lower() == "true"

    return check


def integer(minimum: int | None = None, exactly: int | None = None) -> Check:
    def check(r: _Reader, node: Any, at: Any, path: str) -> int:
        if not _is_scalar(node, _INT):
            raise r.fail(at, f"{_label(path)} must be an integer, got {_kind(node)}")
        value = _int_value(node.value)
        if exactly is not None and value != exactly:
            raise r.fail(
                at, f"{_label(path)} must be {exactly}, got {value}", "this promoter reads version 1"
            )
        if minimum is not None and value < minimum:
            raise r.fail(at, f"{_label(path)} must be at least {minimum}, got {value}")
        return value

    return check


def _int_value(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        return int(text.replace("_", ""), 10)  # YAML allows leading zeros: 010 is ten


def one_of(*choices: str) -> Check:
    def check(r: _Reader, node: Any, at: Any, path: str) -> str:
        value = string()(r, node, at, path)
        if value not in choices:
            close = _closest_first(value, choices)
            raise r.fail(
                at,
                f"{_label(path)} must be one of {', '.join(choices)}, got {value!r}",
                f"did you mean {close[0]!r}?",
            )
        return value

    return check


def duration() -> Check:
    def check(r: _Reader, node: Any, at: Any, path: str) -> int:
        if not _is_scalar(node, _STR, _INT):
            raise r.fail(at, f"{_label(path)} must be a duration, got {_kind(node)}", _DURATION_HINT)
        try:
            return parse_duration(int(node.value) if node.tag == _INT else node.value)
        except ValueError as exc:
            raise r.fail(at, f"{_label(path)} is not valid: {exc}", _DURATION_HINT) from None

    return check


_DURATION_HINT = "write a number of seconds or a string like 7d, 12h, 30m, 45s, 2w, 1d12h"


def scalar_text() -> Check:
    """Any scalar, kept as the text written (for template values)."""

    def check(r: _Reader, node: Any, at: Any, path: str) -> str:
        if not _is_scalar(node, _STR, _INT, _BOOL, _FLOAT):
            raise r.fail(at, f"{_label(path)} must be a string, number or boolean, got {_kind(node)}")
        return str(node.value)

    return check


def list_of(item: Check, *, allow_empty: bool = True) -> Check:
    from ruamel.yaml.nodes import SequenceNode

    def check(r: _Reader, node: Any, at: Any, path: str) -> tuple[Any, ...]:
        if not isinstance(node, SequenceNode):
            raise r.fail(
                at, f"{_label(path)} must be a list, got {_kind(node)}", "write [a, b] or '- a' lines"
            )
        if not node.value and not allow_empty:
            raise r.fail(at, f"{_label(path)} must not be empty")
        values = []
        for index, child in enumerate(node.value):
            child_path = f"{path}[{index}]"
            r.locations[child_path] = child
            values.append(item(r, child, child, child_path))
        return tuple(values)

    return check


def _pairs(r: _Reader, node: Any) -> list[tuple[Any, Any]]:
    """Key/value node pairs of a mapping, with ``<<`` merges applied; duplicate keys are errors.

    Memoised per node, so aliases cost nothing extra and a mapping that merges itself is an error.
    """
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    if id(node) in r.pairs:
        cached = r.pairs[id(node)]
        if cached is None:
            raise r.fail(node, "a '<<' merge includes the mapping it belongs to")
        return cached
    r.pairs[id(node)] = None
    own: dict[str, tuple[Any, Any]] = {}
    merged: dict[str, tuple[Any, Any]] = {}
    for key, value in node.value:
        if key.tag == _MERGE:
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:
                if not isinstance(source, MappingNode):
                    raise r.fail(key, "'<<' must merge a mapping or a list of mappings")
                for pair in _pairs(r, source):
                    merged.setdefault(str(pair[0].value), pair)
            continue
        if not _is_scalar(key, _STR, _INT):
            raise r.fail(key, f"keys must be plain names, got {_kind(key)}")
        name = str(key.value)
        if name in own:
            raise r.fail(key, f"duplicate key {name!r}", f"first written at {r.where(own[name][0])}")
        own[name] = (key, value)
    result = list({**merged, **own}.values())
    r.pairs[id(node)] = result
    return result


def _expect_mapping(r: _Reader, node: Any, at: Any, path: str, example: str) -> None:
    from ruamel.yaml.nodes import MappingNode

    if not isinstance(node, MappingNode):
        raise r.fail(at, f"{_label(path)} must be a mapping, got {_kind(node)}", f"for example: {example}")


def map_of(
    item: Check,
    *,
    build: Callable[[str, Any], Any],
    example: str,
    allow_empty: bool = True,
    identifiers: bool = False,
) -> Check:
    """A mapping of user-chosen names (environments, apps) to items; names are validated.

    Names become branch components (``promoter/<env>/<app>``), so they are restricted; ``identifiers``
    restricts them further to template variable names.
    """
    pattern, rule = (
        (_IDENTIFIER_RE, "names are letters, digits and '_', not starting with a digit")
        if identifiers
        else (_NAME_RE, "names are letters, digits, '-', '_' and inner '.', at most 63 characters")
    )

    def check(r: _Reader, node: Any, at: Any, path: str) -> Mapping[str, Any]:
        _expect_mapping(r, node, at, path, example)
        pairs = _pairs(r, node)
        if not pairs and not allow_empty:
            raise r.fail(at, f"{_label(path)} must not be empty", f"for example: {example}")
        out: dict[str, Any] = {}
        for key, value in pairs:
            name = str(key.value)
            if len(name) > _NAME_MAX or not pattern.fullmatch(name) or name.endswith(".lock"):
                raise r.fail(key, f"{name!r} is not a valid name in {_label(path)}", rule)
            child_path = f"{path}.{name}"
            r.locations[child_path] = key
            out[name] = build(name, item(r, value, key, child_path))
        return MappingProxyType(out)

    return check


@dataclass(frozen=True)
class Field:
    """One key of a section: how to read it, whether it is required, and the model attribute it fills."""

    check: Check
    required: bool = False
    attr: str | None = None


@dataclass(frozen=True)
class Section:
    fields: Mapping[str, Field]
    example: str
    factory: Callable[..., Any] | None = None
    shorthand: str | None = None  # a plain string stands for {shorthand: string}
    extensions: bool = False  # keys starting with "x-" are ignored (a place for YAML anchors)

    def __call__(self, r: _Reader, node: Any, at: Any, path: str) -> Any:
        if self.shorthand is not None and _is_scalar(node, _STR):
            node_value = self.fields[self.shorthand].check(r, node, at, f"{path}.{self.shorthand}")
            values = {self.shorthand: node_value}
        else:
            _expect_mapping(r, node, at, path, self.example)
            values = self.read(r, node, at, path)
        return self.factory(**values) if self.factory else values

    def read(self, r: _Reader, node: Any, at: Any, path: str) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, value in _pairs(r, node):
            name = str(key.value)
            spec = self.fields.get(name)
            if spec is None and self.extensions and name.startswith("x-"):
                continue
            if spec is None:
                close = _closest_first(name, self.fields)
                hint = f"valid keys here: {', '.join(close)}"
                if difflib.get_close_matches(name, self.fields, n=1):
                    hint = f"did you mean {close[0]!r}? {hint}"
                raise r.fail(key, f"unknown key {name!r} in {_label(path)}", hint)
            child_path = f"{path}.{name}" if path else name
            r.locations[child_path] = key
            if _is_scalar(value, _NULL) and not spec.required:
                continue  # `key:` with no value keeps the default
            values[spec.attr or name] = spec.check(r, value, key, child_path)
        missing = [
            name for name, spec in self.fields.items() if spec.required and (spec.attr or name) not in values
        ]
        if missing:
            raise r.fail(
                at,
                f"{_label(path)} is missing required key {missing[0]!r}",
                f"for example: {self.example}; valid keys here: {', '.join(self.fields)}",
            )
        return values


def _closest_first(word: str, choices: Iterable[str]) -> list[str]:
    """``choices`` ordered by similarity to ``word`` (difflib ratio), ties in their original order."""
    options = list(choices)
    ratio = {c: difflib.SequenceMatcher(None, word.lower(), c.lower()).ratio() for c in options}
    return sorted(options, key=lambda c: -ratio[c])


# -------------------------------------------------------------------------------------------------
# the schema: one table per section
# -------------------------------------------------------------------------------------------------
def _image_problem(text: str) -> str | None:
    from promoter.imageref import ImageRef

    try:
        ref = ImageRef.parse(text)
    except ImageReferenceError as exc:
        return exc.message
    if ref.tag is not None or ref.digest is not None:
        return "name the repository only (registry/repository), without a tag or digest"
    return None


def _url_problem(text: str) -> str | None:
    return None if _URL_RE.fullmatch(text) else "it must be an http:// or https:// URL"


def _dir_problem(text: str) -> str | None:
    problem = _relative_path_problem(text)
    if problem is None and posixpath.normpath(text) in (".", ""):
        return None
    return problem


def _file_problem(text: str) -> str | None:
    problem = _relative_path_problem(text)
    if problem is None and (text.endswith("/") or posixpath.normpath(text) == "."):
        return "it must name a file"
    return problem


_NAMES = list_of(string())
_BRANCH = string(branch_name_problem, "a branch name")
_DIR = string(_dir_problem, "a relative directory", allow_empty=True)
_FILE = string(_file_problem, "a relative file path")

_FILE_TARGET = Section(
    {"file": Field(_FILE, required=True), "key": Field(string()), "doc": Field(integer(minimum=0))},
    example="{file: values.yaml, key: image.tag}",
    factory=FileTarget,
    shorthand="file",
)
_COPY_RULE = Section(
    {"file": Field(_FILE, required=True), "key": Field(string())},
    example="{file: version.yaml}",
    factory=CopyRule,
    shorthand="file",
)
_FORGE = Section(
    {
        "type": Field(one_of(*FORGE_TYPES)),
        "url": Field(string(_url_problem, "a URL")),
        "project": Field(string()),
    },
    example="{type: gitlab, url: https://gitlab.example.com, project: acme/environments}",
    factory=ForgeConfig,
)
_GIT = Section(
    {
        "author": Field(string(lambda t: None if _AUTHOR_RE.fullmatch(t) else "write 'Name <email>'")),
        "message": Field(string()),
    },
    example='{author: "promoter <promoter@example.com>", message: "{{ app }}: {{ env }} -> {{ tag }}"}',
    factory=GitSettings,
)
_ENVIRONMENT = Section(
    {
        "branch": Field(_BRANCH, required=True),
        "path": Field(_DIR),
        "approval": Field(boolean()),
        "labels": Field(_NAMES),
        "reviewers": Field(_NAMES),
        "assignees": Field(_NAMES),
        "auto_merge": Field(boolean()),
        "url": Field(string(_url_problem, "a URL")),
    },
    example="{branch: production, approval: true}",
)
_APP_ENVIRONMENT = Section(
    {"files": Field(list_of(_FILE_TARGET, allow_empty=False), required=True)},
    example="{files: [{file: values.yaml, key: api.image.tag}]}",
)
_APP = Section(
    {
        "image": Field(string(_image_problem, "an image repository"), required=True),
        "files": Field(list_of(_FILE_TARGET)),
        "environments": Field(
            map_of(
                _APP_ENVIRONMENT, build=lambda _name, v: v["files"], example="{production: {files: [...]}}"
            ),
            attr="env_files",
        ),
        "source_repo": Field(string(_url_problem, "a URL")),
    },
    example="{image: registry.example.com/acme/api, files: [values.yaml]}",
)
_PROMOTION = Section(
    {
        "from": Field(string(), required=True, attr="source"),
        "to": Field(string(), required=True, attr="target"),
        "copy": Field(list_of(_COPY_RULE)),
    },
    example="{from: staging, to: production}",
    factory=Promotion,
)


def _namespace_template_problem(text: str) -> str | None:
    from promoter.templating import namespace_template_problem

    return namespace_template_problem(text)


_PREVIEWS = Section(
    {
        "branch": Field(_BRANCH),
        "dir": Field(
            string(lambda t: _dir_problem(t) or ("use a sub-directory" if t.strip("/.") == "" else None))
        ),
        "template": Field(string()),
        "namespace": Field(string(_namespace_template_problem)),
        "ttl": Field(duration(), attr="ttl_seconds"),
        "max_delete": Field(integer(minimum=0)),
        "values": Field(
            map_of(
                scalar_text(),
                build=lambda _name, v: v,
                example="{domain: preview.example.com}",
                identifiers=True,
            )
        ),
    },
    example="{branch: dynamic-envs, dir: apps, template: argocd-application, ttl: 7d}",
    factory=PreviewSettings,
)
_ROOT = Section(
    {
        "version": Field(integer(exactly=SUPPORTED_VERSION), required=True),
        "repo": Field(string()),
        "forge": Field(_FORGE),
        "git": Field(_GIT),
        "environments": Field(
            map_of(
                _ENVIRONMENT,
                build=lambda name, v: Environment(name=name, **v),
                example="{staging: {branch: staging}}",
                allow_empty=False,
            ),
            required=True,
        ),
        "apps": Field(
            map_of(
                _APP, build=lambda name, v: App(name=name, **v), example="{api: {image: ..., files: [...]}}"
            )
        ),
        "promotion": Field(list_of(_PROMOTION)),
        "previews": Field(_PREVIEWS),
    },
    example="version: 1\nenvironments: {staging: {branch: staging}}",
    extensions=True,
)


# -------------------------------------------------------------------------------------------------
# rules across sections
# -------------------------------------------------------------------------------------------------
def _cross_check(r: _Reader, values: dict[str, Any]) -> None:
    environments: Mapping[str, Environment] = values["environments"]
    known = list(environments)

    def require_env(name: str, path: str, what: str) -> None:
        if name not in environments:
            raise r.fail(
                r.locations.get(path),
                f"{what} names unknown environment {name!r}",
                f"known environments: {', '.join(_closest_first(name, known))}",
            )

    seen_dirs: dict[tuple[str, str], str] = {}
    for name, env in environments.items():
        spot = (env.branch, posixpath.normpath(env.path or "."))
        if spot in seen_dirs:
            raise r.fail(
                r.locations.get(f"environments.{name}"),
                f"environments {seen_dirs[spot]!r} and {name!r} share branch {env.branch!r} "
                f"and path "
                f"{env.path or '/'!r}",
                "give each environment its own branch or its own path",
            )
        seen_dirs[spot] = name

    for app in values.get("apps", _EMPTY).values():
        base = f"apps.{app.name}"
        for env_name in app.env_files:
            require_env(env_name, f"{base}.environments.{env_name}", f"app {app.name!r}")
        if not app.files and not app.env_files:
            raise r.fail(
                r.locations.get(base),
                f"app {app.name!r} has no files",
                "add files: [...] or environments: {ENV: {files: [...]}}",
            )

    pairs: dict[tuple[str, str], int] = {}
    for index, rule in enumerate(values.get("promotion", ())):
        base = f"promotion[{index}]"
        require_env(rule.source, f"{base}.from", "promotion")
        require_env(rule.target, f"{base}.to", "promotion")
        if rule.source == rule.target:
            raise r.fail(r.locations.get(f"{base}.to"), f"promotion from {rule.source!r} to itself")
        if (rule.source, rule.target) in pairs:
            raise r.fail(
                r.locations.get(base),
                f"promotion {rule.source} -> {rule.target} is listed twice",
                f"first as promotion[{pairs[rule.source, rule.target]}]",
            )
        pairs[rule.source, rule.target] = index


# -------------------------------------------------------------------------------------------------
# entry points
# -------------------------------------------------------------------------------------------------
def parse_config(text: str, source: str) -> Config:
    """Validate ``text`` (the content of ``promoter.yaml``) into a :class:`Config`; ``source`` names it."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    r = _Reader(source)
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
        raise ConfigError(f"{source} is empty", where=f"{source}:1:1", hint=f"start with: {_ROOT.example}")
    values = _ROOT(r, root, None, "")
    _cross_check(r, values)
    return Config(
        version=values["version"],
        repo=values.get("repo"),
        forge=values.get("forge", ForgeConfig()),
        git=values.get("git", GitSettings()),
        environments=values["environments"],
        apps=values.get("apps", _EMPTY),
        promotion=values.get("promotion", ()),
        previews=values.get("previews", PreviewSettings()),
        source=source,
    )


def load_config(path: Path) -> Config:
    """Read and validate the config file at ``path`` (exit 2 when unreadable or invalid)."""
    return parse_config(_read(path), str(path))


def _read(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        raise ConfigError(
            f"config file {str(path)!r} does not exist",
            where=str(path),
            hint="pass --config FILE or create promoter.yaml (promoter init)",
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start})", where=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", where=str(path)) from None


def locate_config(
    explicit: str | None,
    cwd: Path,
    read_from_repo: Callable[[str], str | None] | None,
    *,
    repo_label: str = "env-repo",
) -> tuple[str, str] | None:
    """Find the config: ``--config`` FILE, else ``./promoter.yaml``, else the env repo's default branch.

    Returns ``(text, source)`` or None when there is none. ``read_from_repo(name)`` returns the text of
    ``name`` at the root of the env repo's default branch, or None; that source is called
    ``<repo_label>:promoter.yaml``.
    An explicit file that does not exist is an error (exit 2), never a silent fallback.
    """
    if explicit:
        path = Path(explicit)
        if not path.is_absolute():
            path = cwd / path
        return _read(path), explicit
    local = cwd / CONFIG_FILE
    if local.is_file():
        return _read(local), str(local)
    if read_from_repo is not None:
        text = read_from_repo(CONFIG_FILE)
        if text is not None:
            return text, f"{repo_label}:{CONFIG_FILE}"
    return None


def resolve_config(
    explicit: str | None,
    cwd: Path,
    read_from_repo: Callable[[str], str | None] | None,
    *,
    repo: str | None = None,
    repo_label: str = "env-repo",
) -> Config:
    """:func:`locate_config` + :func:`parse_config`, with ``repo`` (``--repo``/``PROMOTER_REPO``) on top.

    No config anywhere is a :class:`ConfigError` (exit 2).
    """
    found = locate_config(explicit, cwd, read_from_repo, repo_label=repo_label)
    if found is None:
        raise ConfigError(
            f"no {CONFIG_FILE} found",
            where=str(cwd / CONFIG_FILE),
            hint=f"pass --config FILE, create {CONFIG_FILE} (promoter init), or commit it to the env repo",
        )
    text, source = found
    return parse_config(text, source).with_repo(repo)


# -------------------------------------------------------------------------------------------------
# back to promoter.yaml shape (for --output json, init, and the round-trip test)
# -------------------------------------------------------------------------------------------------
def _dump_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_dump_value(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _dump_value(v) for k, v in value.items()}
    section = _SECTION_OF.get(type(value))
    return _dump_section(section, value) if section is not None else value


def _dump_section(section: Section, obj: Any) -> dict[str, Any]:
    """The keys of ``obj`` whose value differs from the default (required keys always)."""
    defaults = {f.name: f.default for f in fields(obj) if f.default is not MISSING}
    out: dict[str, Any] = {}
    for key, spec in section.fields.items():
        attr = spec.attr or key
        value = getattr(obj, attr)
        if not spec.required and (value is None or value == defaults.get(attr)):
            continue
        dumped = _dump_value(value)
        if not spec.required and dumped in ({}, []):
            continue
        if section is _APP and key == "environments":
            dumped = {name: {"files": files} for name, files in dumped.items()}
        out[key] = dumped
    return out


_SECTION_OF: dict[type, Section] = {
    FileTarget: _FILE_TARGET,
    CopyRule: _COPY_RULE,
    ForgeConfig: _FORGE,
    GitSettings: _GIT,
    Environment: _ENVIRONMENT,
    App: _APP,
    Promotion: _PROMOTION,
    PreviewSettings: _PREVIEWS,
}

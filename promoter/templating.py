"""Preview templates: sandboxed Jinja2, DNS-1123 slugs and a YAML-safe ``yaml`` filter.

Branch names, MR titles and authors are untrusted. Templates pass every such value through ``| yaml``,
which renders it as one double-quoted YAML scalar, so no value can change a document's structure. After
rendering, the output is parsed and checked (every document a Kubernetes-style mapping, the
``promoter.dev/...`` annotations present on the first document and equal to the inputs), so a template
that forgot ``| yaml`` is caught before anything is committed.

Jinja2 is imported lazily: importing this module costs nothing.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import posixpath
import re
import traceback
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promoter.errors import (
    ConfigError,
    InputError,
    PromoterError,
    TemplateError,
    UnsafeTargetError,
    UsageError,
)

if TYPE_CHECKING:
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

ANNOTATION_ID = "promoter.dev/preview-id"
ANNOTATION_PROJECT = "promoter.dev/project"
ANNOTATION_BRANCH = "promoter.dev/source-branch"
ANNOTATION_EXPIRES = "promoter.dev/expires-at"
REQUIRED_ANNOTATIONS = (ANNOTATION_ID, ANNOTATION_PROJECT, ANNOTATION_BRANCH, ANNOTATION_EXPIRES)
ANNOTATION_TAG = "promoter.dev/tag"
ANNOTATION_IMAGE = "promoter.dev/image"
PRUNE_LABEL = "promoter.dev/prune"

BUNDLED_TEMPLATES = ("argocd-application", "manifests")
DEFAULT_NAMESPACE_TEMPLATE = "preview-{{ slug }}"
WELL_KNOWN_NAMESPACES = frozenset(
    {
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "argocd",
        "flux-system",
        "cert-manager",
        "ingress-nginx",
        "istio-system",
        "monitoring",
        "promoter-system",
    }
)
"""Namespaces a preview never renders to (plus any ``kube-`` or ``openshift-`` name)."""
_RESERVED_NAMESPACE_PREFIXES = ("kube-", "openshift-")
_TEMPLATE_MARKUP = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_NAMESPACE_VARIABLES = re.compile(r"\{\{[^}]*\b(slug|id)\b[^}]*\}\}")
_BUNDLED_SUFFIX = ".yaml.j2"

DNS1123_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
HASH_LENGTH = 8
"""Hex digits of the slug suffix: 32 bits keep 20,000 names sharing one truncated prefix collision-free
(24 bits would expect about a dozen collisions among them)."""
_MIN_SLUG_LENGTH = HASH_LENGTH + 2
_HASH_TAIL = re.compile(rf"-[0-9a-f]{{{HASH_LENGTH}}}$")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SET_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Characters kept verbatim inside a double-quoted scalar; everything else is escaped.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


# --- slugs ------------------------------------------------------------------------------------------
def slugify(name: str, *, max_length: int = 63) -> str:
    """A DNS-1123 label for ``name``: lower-case ``[a-z0-9-]``, starts with a letter, no trailing ``-``.

    The result is ``name`` itself when that is already such a label of at most ``max_length`` characters
    (and does not end like a hash suffix); otherwise the sanitised (ASCII-folded, lower-cased, truncated)
    name plus ``-`` and 8 hex digits of sha256(name), so ``feature/foo`` and ``feature-foo`` differ and
    the same name always gives the same slug.
    """
    if max_length < _MIN_SLUG_LENGTH:
        raise UsageError(f"slug length must be at least {_MIN_SLUG_LENGTH}, got {max_length}")
    if len(name) <= max_length and DNS1123_LABEL.match(name) and not _HASH_TAIL.search(name):
        return name
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    base = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    if not base[:1].isalpha():
        base = f"x-{base}" if base else "x"
    base = base[: max_length - HASH_LENGTH - 1].rstrip("-")
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_LENGTH]
    return f"{base}-{digest}"


def is_dns1123_label(value: str, *, max_length: int = 63) -> bool:
    return len(value) <= max_length and DNS1123_LABEL.match(value) is not None


# --- preview namespaces ----------------------------------------------------------------------------
def namespace_template_problem(text: str) -> str | None:
    """Why ``previews.namespace`` is unsafe, or None: it must name ``slug`` (or ``id``) and add literal
    text of its own, so no branch name alone can render to an existing namespace. Checked without Jinja2
    (config loading stays light); :func:`check_preview_namespace` checks every rendered name."""
    if not _NAMESPACE_VARIABLES.search(text):
        return "must use {{ slug }} (or {{ id }}) so every preview gets its own namespace"
    literal = _TEMPLATE_MARKUP.sub("", text)
    if not re.search(r"[a-z0-9]", literal):
        return (
            "must add a prefix or suffix of its own (like 'preview-{{ slug }}'), "
            "or a branch name alone could name an existing namespace"
        )
    return None


def render_namespace(template: str, *, slug: str, id: int, extra: Mapping[str, str] | None = None) -> str:
    """The preview's namespace from ``previews.namespace``; a slug too long for the prefix is shortened
    (with a hash suffix) so the name stays a DNS-1123 label."""
    problem = namespace_template_problem(template)
    if problem:
        raise ConfigError(f"previews.namespace {problem}", where="previews.namespace")
    origin = PreviewTemplate(template, "previews.namespace")
    values = {**(extra or {}), "id": id}
    namespace = render_template(origin, {**values, "slug": slug}).strip()
    overflow = len(namespace) - 63
    if overflow > 0 and len(slug) - overflow >= _MIN_SLUG_LENGTH:
        short = slugify(slug, max_length=len(slug) - overflow)
        namespace = render_template(origin, {**values, "slug": short}).strip()
    return namespace


def preview_namespace_problem(namespace: str, branch: str) -> str | None:
    """Why a rendered preview namespace is refused, or None."""
    if not is_dns1123_label(namespace):
        return f"preview namespace {namespace!r} is not a DNS-1123 label"
    if namespace == branch:
        return f"preview namespace {namespace!r} is the branch name itself"
    if namespace in WELL_KNOWN_NAMESPACES or namespace.startswith(_RESERVED_NAMESPACE_PREFIXES):
        return f"preview namespace {namespace!r} is a well-known namespace"
    return None


# --- the yaml filter --------------------------------------------------------------------------------
def yaml_scalar(value: object) -> str:
    """``value`` as one double-quoted YAML scalar that loads back as exactly ``str(value)``.

    Booleans render as ``"true"``/``"false"`` and ``None`` as ``""``; everything else through ``str``.
    Quotes, backslashes, line breaks, control, format and unassigned characters are escaped, so the
    result is one line that no value can break out of.
    """
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = ""
    else:
        text = str(value)
    out: list[str] = ['"']
    for char in text:
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif " " <= char <= "~":
            out.append(char)
        elif "\ud800" <= char <= "\udfff":
            raise ValueError("value is not valid Unicode (it holds a lone surrogate)")
        elif char.isascii() or unicodedata.category(char) in _UNSAFE_CATEGORIES or char == "\ufeff":
            code = ord(char)
            out.append(
                f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
            )
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


# --- context ----------------------------------------------------------------------------------------
def format_timestamp(moment: datetime) -> str:
    """UTC, second precision, ISO 8601 with ``Z``: the format of ``created_at`` and ``expires_at``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_set_values(items: Iterable[str]) -> dict[str, str]:
    """``--set key=value`` options -> a mapping; keys are identifiers, not built-in variable names."""
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            raise UsageError(f"--set expects key=value, got {item!r}", hint="e.g. --set repo_url=https://...")
        _check_extra_key(key)
        values[key] = value
    return values


def _check_extra_key(key: str) -> None:
    if not _SET_KEY.match(key):
        raise UsageError(f"template value name {key!r} is not an identifier", hint="use letters, digits, _")
    if key in PreviewContext.BUILTIN_NAMES:
        raise UsageError(f"template value {key!r} is set by promoter and cannot be overridden with --set")


@dataclass(frozen=True)
class PreviewContext:
    """The variables a preview template sees (see docs/previews.md for each one)."""

    id: int
    slug: str
    namespace: str
    branch: str
    tag: str
    image: str
    sha: str
    project: str
    author: str
    title: str
    created_at: str
    expires_at: str
    extra: Mapping[str, str] = field(default_factory=dict)

    BUILTIN_NAMES = (
        "id",
        "slug",
        "namespace",
        "branch",
        "tag",
        "image",
        "sha",
        "project",
        "author",
        "title",
        "created_at",
        "expires_at",
    )

    def __post_init__(self) -> None:
        for key in self.extra:
            _check_extra_key(key)
        for name, value in [*((n, getattr(self, n)) for n in self.BUILTIN_NAMES), *self.extra.items()]:
            if isinstance(value, str) and _SURROGATE.search(value):
                raise InputError(f"preview value {name} is not valid Unicode (it holds a lone surrogate)")
        if not is_dns1123_label(self.slug):
            raise UsageError(f"preview slug {self.slug!r} is not a DNS-1123 label")
        if not is_dns1123_label(self.namespace):
            raise UsageError(f"preview namespace {self.namespace!r} is not a DNS-1123 label")
        problem = preview_namespace_problem(self.namespace, self.branch)
        if problem:
            raise UnsafeTargetError(
                problem,
                where="previews.namespace",
                hint="a preview gets a namespace of its own, like the default 'preview-{{ slug }}'",
            )

    @classmethod
    def create(
        cls,
        *,
        id: int,
        branch: str,
        tag: str,
        image: str,
        project: str,
        sha: str = "",
        author: str = "",
        title: str = "",
        ttl: timedelta | None = None,
        now: datetime | None = None,
        slug: str | None = None,
        namespace: str | None = None,
        namespace_template: str = DEFAULT_NAMESPACE_TEMPLATE,
        slug_max_length: int = 63,
        extra: Mapping[str, str] | None = None,
    ) -> PreviewContext:
        """Fill the derived values: ``slug`` from the branch, ``namespace`` from ``namespace_template``
        (``preview-{{ slug }}``), timestamps from ``ttl``.

        Without ``ttl`` the preview never expires and ``expires_at`` is ``""``.
        """
        now = now or datetime.now(timezone.utc)
        slug = slug or slugify(branch, max_length=slug_max_length)
        if namespace is None:
            namespace = render_namespace(namespace_template, slug=slug, id=id, extra=extra)
        return cls(
            id=id,
            slug=slug,
            namespace=namespace,
            branch=branch,
            tag=tag,
            image=image,
            sha=sha,
            project=project,
            author=author,
            title=title,
            created_at=format_timestamp(now),
            expires_at=format_timestamp(now + ttl) if ttl is not None else "",
            extra=dict(extra or {}),
        )

    def variables(self) -> dict[str, Any]:
        values: dict[str, Any] = dict(self.extra)
        values.update({name: getattr(self, name) for name in self.BUILTIN_NAMES})
        return values

    def expected_annotations(self) -> dict[str, str]:
        return {
            ANNOTATION_ID: str(self.id),
            ANNOTATION_PROJECT: self.project,
            ANNOTATION_BRANCH: self.branch,
            ANNOTATION_EXPIRES: self.expires_at,
        }

    def promoter_annotations(self) -> dict[str, str]:
        """What promoter adds to a template's first document when the template leaves them out: the required
        annotations, and the tag and image that let a later ``up`` update the file in place."""
        return {**self.expected_annotations(), ANNOTATION_TAG: self.tag, ANNOTATION_IMAGE: self.image}


# --- templates ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PreviewTemplate:
    """Template text and where it came from (``bundled:NAME`` or a file path), for error messages."""

    text: str
    origin: str


def bundled_template_text(name: str) -> str:
    if name not in BUNDLED_TEMPLATES:
        raise ConfigError(
            f"no bundled template named {name!r}", hint=f"bundled templates: {', '.join(BUNDLED_TEMPLATES)}"
        )
    resource = importlib.resources.files("promoter") / "bundled" / "templates" / f"{name}{_BUNDLED_SUFFIX}"
    return resource.read_text(encoding="utf-8")


def load_template(ref: str, *, base_dir: str | Path | None = None) -> PreviewTemplate:
    """A bundled template by name (``argocd-application``, ``manifests``) or a file, relative to ``base_dir``
    (the directory of promoter.yaml) unless absolute."""
    if ref in BUNDLED_TEMPLATES:
        return PreviewTemplate(bundled_template_text(ref), f"bundled:{ref}")
    path = Path(ref)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"preview template {ref!r} not found",
            where=str(path),
            hint=f"give a path relative to promoter.yaml or one of: {', '.join(BUNDLED_TEMPLATES)}",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read preview template: {exc}", where=str(path)) from None
    return PreviewTemplate(text, str(path))


@functools.lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["yaml"] = yaml_scalar
    env.filters["slugify"] = slugify
    return env


def _template_line(exc: BaseException, origin: str) -> int | None:
    """The template line of a render-time error, from the frames Jinja2 maps back to the template."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == origin:
            line = frame.lineno
    return line


@functools.lru_cache(maxsize=16)
def _compile(text: str, origin: str) -> jinja2.Template:
    import jinja2

    env = _environment()
    try:
        code = env.compile(text, name=origin, filename=origin)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}", where=f"{origin}:{exc.lineno}") from None
    return env.template_class.from_code(env, code, env.make_globals(None), None)


def render_template(template: PreviewTemplate, variables: Mapping[str, Any]) -> str:
    """Render ``template`` in the sandbox; every Jinja2 failure becomes a :class:`TemplateError` (exit 3)."""
    import jinja2

    compiled = _compile(template.text, template.origin)
    try:
        return compiled.render(**variables)
    except Exception as exc:
        line = _template_line(exc, template.origin)
        where = f"{template.origin}:{line}" if line else template.origin
        if isinstance(exc, jinja2.UndefinedError):
            message, hint = f"template uses an undefined value: {exc}", "set it with --set NAME=VALUE"
        elif isinstance(exc, jinja2.exceptions.SecurityError):
            message, hint = f"template not allowed by the sandbox: {exc}", None
        else:
            message, hint = f"template failed: {type(exc).__name__}: {exc}", None
        raise TemplateError(message, where=where, hint=hint) from None


def render_preview(
    template: str | PreviewTemplate, ctx: PreviewContext, *, base_dir: str | Path | None = None
) -> str:
    """Render a preview template with ``ctx`` and check the result (see :func:`check_rendered`).

    ``template`` is a :class:`PreviewTemplate`, a bundled template's name, template text (anything with a
    line break), or a path (relative to ``base_dir``).
    """
    if isinstance(template, str):
        if template in BUNDLED_TEMPLATES or "\n" not in template:
            template = load_template(template, base_dir=base_dir)
        else:
            template = PreviewTemplate(template, "<template>")
    text = render_template(template, ctx.variables())
    text = add_missing_annotations(text, ctx.promoter_annotations(), origin=template.origin)
    check_rendered(text, ctx, origin=template.origin)
    return text


def add_missing_annotations(text: str, wanted: Mapping[str, str], *, origin: str = "<rendered>") -> str:
    """``text`` with those of ``wanted`` that its first document's ``metadata.annotations`` lacks inserted.

    Only lines are added (in the document's own indentation and line ending; into a flow mapping when it
    is one); nothing else changes. Text that does not parse, or whose first document has no ``metadata``
    mapping, is returned unchanged for :func:`check_rendered` to explain.
    """
    from ruamel.yaml.nodes import MappingNode, ScalarNode

    from promoter.yamledit.compose import compose_all

    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom) :]
    try:
        roots = compose_all(body, origin)
    except PromoterError:
        return text
    metadata = _mapping_value(roots[0], "metadata") if roots else None
    if not isinstance(metadata, MappingNode):
        return text
    annotations = _mapping_value(metadata, "annotations")
    present = (
        {str(key.value) for key, _ in annotations.value if isinstance(key, ScalarNode)}
        if isinstance(annotations, MappingNode)
        else set()
    )
    entries = [f"{key}: {yaml_scalar(value)}" for key, value in wanted.items() if key not in present]
    if not entries:
        return text
    newline = "\r\n" if "\r\n" in body else "\n"
    if isinstance(annotations, MappingNode):
        inserted = _insert_entries(body, annotations, entries, newline)
    elif annotations is None and not metadata.flow_style:
        indent = " " * 2
        block = [f"annotations:{newline}" + newline.join(indent + entry for entry in entries)]
        inserted = _insert_entries(body, metadata, block, newline)
    elif annotations is None:
        inserted = _insert_entries(body, metadata, ["annotations: {" + ", ".join(entries) + "}"], newline)
    elif (
        isinstance(annotations, ScalarNode)
        and str(annotations.tag).endswith(":null")
        and not annotations.value
    ):
        at = annotations.start_mark.index  # `annotations:` with nothing after it
        inserted = body[:at] + " {" + ", ".join(entries) + "}" + body[at:]
    else:
        return text
    return text if inserted is None else bom + inserted


def _mapping_value(node: Any, key: str) -> Any:
    from ruamel.yaml.nodes import MappingNode, ScalarNode

    if not isinstance(node, MappingNode):
        return None
    for key_node, value in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return value
    return None


def _insert_entries(body: str, mapping: Any, entries: list[str], newline: str) -> str | None:
    """``entries`` (``key: value`` texts) added at the top of ``mapping``, block or flow; None when its
    layout is not one promoter can add a line to without touching anything else."""
    if mapping.flow_style or not mapping.value:
        start = mapping.start_mark.index
        if body[start : start + 1] != "{":
            return None
        separator = ", " if mapping.value else ""
        return body[: start + 1] + ", ".join(entries) + separator + body[start + 1 :]
    first = mapping.value[0][0]
    column = first.start_mark.column
    line_start = first.start_mark.index - column
    if line_start < 0 or body[line_start : first.start_mark.index].strip(" "):
        return None  # the first key shares its line with something else (`- name: x`)
    lines = "".join(
        " " * column + entry.replace(newline, newline + " " * column) + newline for entry in entries
    )
    return body[:line_start] + lines + body[line_start:]


# --- checking rendered output ---------------------------------------------------------------------
def load_documents(text: str, *, origin: str = "<rendered>") -> list[Any]:
    """All YAML documents of ``text`` (safe loader); a parse error is a :class:`TemplateError`."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return list(YAML(typ="safe").load_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = (
            f"{origin} (rendered output line {mark.line + 1}, column {mark.column + 1})" if mark else origin
        )
        raise TemplateError(
            f"rendered preview is not valid YAML: {exc.problem or exc.context}",
            where=where,
            hint="pass every value through '| yaml' in the template",
        ) from None
    except YAMLError as exc:
        raise TemplateError(f"rendered preview is not valid YAML: {exc}", where=origin) from None


def check_rendered(
    text: str, ctx: PreviewContext | None = None, *, origin: str = "<rendered>"
) -> list[dict[Any, Any]]:
    """Parse rendered output and check its shape; return the non-empty documents.

    Every document is a mapping with string ``apiVersion``, ``kind`` and ``metadata.name``; the first one
    carries the ``promoter.dev/...`` annotations, equal to ``ctx``'s values when ``ctx`` is given.
    """
    documents = [doc for doc in load_documents(text, origin=origin) if doc is not None]
    if not documents:
        raise TemplateError("rendered preview is empty", where=origin)
    for number, doc in enumerate(documents, 1):
        if not isinstance(doc, dict):
            raise TemplateError(
                f"rendered document {number} is a {type(doc).__name__}, not a mapping", where=origin
            )
        metadata = doc.get("metadata")
        if not all(isinstance(doc.get(key), str) for key in ("apiVersion", "kind")) or not (
            isinstance(metadata, dict) and isinstance(metadata.get("name"), str)
        ):
            raise TemplateError(
                f"rendered document {number} needs string apiVersion, kind and metadata.name", where=origin
            )
    annotations = documents[0]["metadata"].get("annotations")
    annotations = annotations if isinstance(annotations, dict) else {}
    missing = [key for key in REQUIRED_ANNOTATIONS if key not in annotations]
    if missing:
        raise TemplateError(
            f"rendered preview lacks annotations on its first document: {', '.join(missing)}",
            where=origin,
            hint="see docs/previews.md for the required promoter.dev/ annotations",
        )
    if ctx is not None:
        for key, expected in ctx.expected_annotations().items():
            if annotations[key] != expected:
                raise TemplateError(
                    f"annotation {key} renders as {annotations[key]!r}, expected {expected!r}",
                    where=origin,
                    hint="pass the value through '| yaml'",
                )
    return documents


def preview_annotations(text: str, *, origin: str = "<preview>") -> dict[str, str]:
    """The ``promoter.dev/`` annotations of a preview file's first document (for list and gc)."""
    documents = check_rendered(text, origin=origin)
    annotations = documents[0]["metadata"]["annotations"]
    return {str(k): str(v) for k, v in annotations.items() if str(k).startswith("promoter.dev/")}


# --- file paths -----------------------------------------------------------------------------------
def preview_path(directory: str, slug: str) -> str:
    """``directory/<slug>.yaml`` (POSIX, repository-relative); refuses any path leaving ``directory``."""
    if not is_dns1123_label(slug):
        raise UnsafeTargetError(f"preview slug {slug!r} is not a DNS-1123 label", where=directory)
    base = posixpath.normpath(directory or ".")
    path = posixpath.normpath(posixpath.join(base, f"{slug}.yaml"))
    if posixpath.dirname(path) != (base if base != "." else "") or posixpath.isabs(slug):
        raise UnsafeTargetError(f"preview file {path!r} would leave {directory!r}", where=directory)
    return path
